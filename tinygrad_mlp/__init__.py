"""tinygrad_mlp: a small, fast, correct reverse-mode autograd engine on NumPy.

The public surface: re-exports only. `viz` (Graphviz) is imported when first used, so
`import tinygrad_mlp` needs only NumPy.
"""
from .tensor import Tensor, tensor, get_default_dtype, set_default_dtype
from .mode import (no_grad, enable_grad, set_grad_enabled, is_grad_enabled, detect_anomaly,
                   TraceError)
from .function import Function
from .engine import grad
from .compile import compile
from .functional import (exp, log, sqrt, abs, tanh, sigmoid, relu, leaky_relu, softplus, clip,
                         maximum, minimum, where, concatenate, stack, softmax, log_softmax,
                         logsumexp)
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from . import nn, optim, datasets, functional, training
from .serialization import save, load

__version__ = "0.1.0"
_LAZY = ("viz", "plot", "onnx")


def __getattr__(name: str) -> object:
    """`tg.viz`, `tg.plot` and `tg.onnx` import their module (and graphviz, matplotlib or onnx)
    on first use."""
    if name in _LAZY:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'tinygrad_mlp' has no attribute {name!r}")
