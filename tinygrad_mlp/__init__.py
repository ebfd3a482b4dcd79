"""tinygrad_mlp: a small, fast, correct reverse-mode autograd engine on NumPy."""
from .tensor import Tensor, tensor, get_default_dtype, set_default_dtype
from .autograd import Function, no_grad, enable_grad, is_grad_enabled, grad, detect_anomaly
from .functional import (exp, log, sqrt, abs, tanh, sigmoid, relu, leaky_relu, softplus, clip,
                        maximum, minimum, where, concatenate, stack, softmax, log_softmax, logsumexp)
from .gradcheck import gradcheck, gradgradcheck, GradcheckError
from . import nn, optim, datasets, functional, training
from .serialization import save, load
from . import viz

__version__ = "0.1.0"
