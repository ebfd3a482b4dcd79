"""Functions on Tensors: the elementwise and structural functions exported as `tg.<name>`,
and the neural-network functions of `F` (activations, `linear`, and the losses of `losses`).
Each accepts Tensors, ndarrays or Python numbers and delegates to one op."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import ops
from .losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                     mse_loss)
from .tensor import Tensor, _pair, as_tensor

__all__ = ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "softplus", "clip",
           "softmax", "log_softmax", "logsumexp", "maximum", "minimum", "where", "concatenate",
           "stack", "linear", "mse_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy"]


def exp(x: Any) -> Tensor:
    """e^x, elementwise."""
    return as_tensor(x).exp()


def log(x: Any) -> Tensor:
    """Natural logarithm, elementwise."""
    return as_tensor(x).log()


def sqrt(x: Any) -> Tensor:
    """Square root, elementwise."""
    return as_tensor(x).sqrt()


def abs(x: Any) -> Tensor:  # noqa: A001 - the public name is tg.abs
    """|x|, elementwise."""
    return as_tensor(x).abs()


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, elementwise."""
    return as_tensor(x).tanh()


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x), elementwise, stable."""
    return as_tensor(x).sigmoid()


def relu(x: Any) -> Tensor:
    """max(x, 0), elementwise."""
    return as_tensor(x).relu()


def softplus(x: Any) -> Tensor:
    """log(1 + e^x), elementwise, stable."""
    return as_tensor(x).softplus()


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope · x otherwise."""
    return as_tensor(x).leaky_relu(negative_slope)


def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Tensor:
    """Clamp into [lo, hi] (either bound may be None)."""
    return as_tensor(x).clip(lo, hi)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """e^x / Σ e^x along `axis`, stable."""
    return as_tensor(x).softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along `axis`, stable."""
    return as_tensor(x).log_softmax(axis)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log Σ e^x over `axis`, stable for any finite input."""
    return as_tensor(x).logsumexp(axis, keepdims)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum, broadcasting; ties split the gradient equally."""
    return ops.Maximum.apply(*_pair(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum, broadcasting; ties split the gradient equally."""
    return ops.Minimum.apply(*_pair(a, b))


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """`a` where `cond` is true, else `b` (differentiable in `a` and `b`)."""
    cond = np.asanyarray(cond._data if isinstance(cond, Tensor) else cond).astype(bool, copy=False)
    return ops.Where.apply(*_pair(a, b), cond=cond)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (`np.concatenate`); the gradient is split back."""
    return ops.Concatenate.apply(*[as_tensor(t) for t in tensors], axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis (`np.stack`)."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    n = ts[0].ndim + 1
    if not -n <= axis < n:
        raise ValueError(f"stack: axis {axis} is out of bounds for the result of dimension {n}")
    ax = axis % n
    return concatenate([t.reshape(t.shape[:ax] + (1,) + t.shape[ax:]) for t in ts], axis=ax)


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias as one fused node (`nn.Linear`'s forward). ndarray inputs are used
    as they are, without a copy."""
    return ops.Linear.apply(x, weight) if bias is None else ops.Linear.apply(x, weight, bias)
