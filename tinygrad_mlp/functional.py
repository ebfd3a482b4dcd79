"""Functions on Tensors: the elementwise/structural functions exported as `tg.<name>`, and
(composite or fused) neural-network functions as `F.<name>`."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import ops
from .tensor import Tensor, _lift


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x: Any) -> Tensor: return _t(x).exp()
def log(x: Any) -> Tensor: return _t(x).log()
def sqrt(x: Any) -> Tensor: return _t(x).sqrt()
def abs(x: Any) -> Tensor: return _t(x).abs()  # noqa: A001 - the public name is tg.abs
def tanh(x: Any) -> Tensor: return _t(x).tanh()
def sigmoid(x: Any) -> Tensor: return _t(x).sigmoid()
def relu(x: Any) -> Tensor: return _t(x).relu()
def softplus(x: Any) -> Tensor: return _t(x).softplus()
def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor: return _t(x).leaky_relu(negative_slope)
def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Tensor: return _t(x).clip(lo, hi)
def softmax(x: Any, axis: int = -1) -> Tensor: return _t(x).softmax(axis)
def log_softmax(x: Any, axis: int = -1) -> Tensor: return _t(x).log_softmax(axis)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return _t(x).logsumexp(axis, keepdims)


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    if isinstance(a, Tensor):
        return a, _lift(b, a)
    if isinstance(b, Tensor):
        return _lift(a, b), b
    return Tensor(a), Tensor(b)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum, broadcasting; ties split the gradient equally."""
    return ops.Maximum.apply(*_pair(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum, broadcasting; ties split the gradient equally."""
    return ops.Minimum.apply(*_pair(a, b))


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """`a` where `cond` is true, else `b` (differentiable in `a` and `b`)."""
    cond = np.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=bool)
    return ops.Where.apply(*_pair(a, b), cond=cond)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    return ops.Concatenate.apply(*[_t(t) for t in tensors], axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    ax = axis % (ts[0].ndim + 1)
    return concatenate([t.reshape(t.shape[:ax] + (1,) + t.shape[ax:]) for t in ts], axis=ax)
