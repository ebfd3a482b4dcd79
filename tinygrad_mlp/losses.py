"""Losses, one fused Function each: the forward is the stable closed form and the backward
its closed-form derivative (sigmoid(z) - y, softmax(z) - onehot, ...), faster and stabler
than differentiating through log and exp. Backward rules use operations Tensors and ndarrays
share, so `create_graph=True` differentiates them again.

`reduction` is "mean" (over elements; over rows for cross-entropy), "sum" or "none".
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy import ndarray

from . import kernels, ops
from .function import OpError
from .mode import every_step
from .tensor import Tensor, as_tensor, wrap

__all__ = ["mse_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")
_BCE_EPS = 1e-12   # PyTorch's floor on p(1-p) in the BCE gradient: finite at p = 0 or 1


def _reduce(per: ndarray, reduction: str) -> ndarray:
    """The per-element (or per-row) losses reduced. np.add.reduce, not .mean()/.sum(): the
    same pairwise sum without NumPy's Python-level wrapper; the mean of nothing is nan."""
    if reduction == "none":
        return per
    total = np.add.reduce(per, axis=None)
    if reduction == "sum":
        return total
    return total / per.size if per.size else np.full((), np.nan, per.dtype)


def _scale(g: Any, reduction: str, count: int) -> Any:
    """The upstream gradient of the reduced loss as a factor on each element's gradient."""
    if reduction != "mean":
        return g
    return g * (1.0 / count if count else float("nan"))


def _loss_input(x: Any, reduction: str, op: str) -> Tensor:
    """The loss's input as a floating Tensor, once `reduction` is known to be valid."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    x = as_tensor(x)
    if x._data.dtype.kind != "f":                 # (fields, not properties: every step)
        raise TypeError(f"{op}: input must be floating point, got dtype {x.dtype}")
    return x


def _loss_target(target: Any, like: Tensor, op: str) -> Tensor:
    """The target as a Tensor of the input's shape. A constant target takes the input's dtype
    (int 0/1 labels or float64 data never upcast a float32 loss)."""
    dtype = like._data.dtype
    if isinstance(target, Tensor) and (target.requires_grad or target._data.dtype == dtype):
        t = target                                 # as it is (keeping its label for viz)
    else:
        arr = target._data if isinstance(target, Tensor) else np.asanyarray(target)
        t = wrap(arr if arr.dtype == dtype else arr.astype(dtype))
    if t._data.shape != like._data.shape:
        raise ValueError(f"{op}: target shape {t.shape} differs from input shape {like.shape}; "
                         "reshape one of them (broadcasting here is almost always a bug)")
    return t


# ------------------------------------------------------------------ mean squared error
class MseLoss(ops.Op):
    """(pred - target)^2, reduced. Backward: 2 (pred - target) · scale (the difference kept
    from forward on arrays, recomputed from the inputs on Tensors)."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, pred, target, reduction="mean"):
        ctx.save_for_backward(pred, target)
        ctx.diff, ctx.reduction = pred - target, reduction
        return _reduce(np.square(ctx.diff), reduction)

    @staticmethod
    def backward(ctx, g):
        pred, target = ctx.saved_tensors
        diff = pred - target if isinstance(pred, Tensor) else ctx.diff
        gp = diff * _scale(g * 2, ctx.reduction, pred.size)
        return gp, (-gp if ctx.parents[1].requires_grad else None)


def mse_loss(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error; `reduction` "mean" (over all elements), "sum" or "none"."""
    pred = _loss_input(pred, reduction, "mse_loss")
    return MseLoss.apply(pred, _loss_target(target, pred, "mse_loss"), reduction=reduction)


# ------------------------------------------------------------------ binary cross-entropy
def _check_probabilities(values: ndarray) -> None:
    if values.size and not (values.min() >= 0 and values.max() <= 1):
        raise OpError(f"binary_cross_entropy: input probabilities must lie in [0, 1], got "
                      f"values in [{values.min()}, {values.max()}] (use "
                      "binary_cross_entropy_with_logits for raw scores)")


class BinaryCrossEntropy(ops.Op):
    """-(y log p + (1-y) log(1-p)) with both logs clamped at -100 (as PyTorch), so p = 0 or 1
    gives a finite loss. Backward: (p - y) / max(p(1-p), 1e-12), finite everywhere."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, p, y, reduction="mean"):
        every_step(_check_probabilities, np.asarray(p))   # (compiled: at every replay)
        ctx.save_for_backward(p, y)
        ctx.reduction = reduction
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_q = np.maximum(np.log1p(-p), -100)
        return _reduce(-(y * (log_p - log_q) + log_q), reduction)

    @staticmethod
    def backward(ctx, g):
        p, y = ctx.saved_tensors
        return (p - y) / (p * (1 - p)).clip(_BCE_EPS) * _scale(g, ctx.reduction, p.size), None


def binary_cross_entropy(prob: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities `prob` in [0, 1] against targets in [0, 1]."""
    prob = _loss_input(prob, reduction, "binary_cross_entropy")
    if isinstance(target, Tensor) and target.requires_grad:
        raise RuntimeError("binary_cross_entropy: the derivative for the target is not "
                           "implemented (as in PyTorch); use binary_cross_entropy_with_logits")
    target = _loss_target(target, prob, "binary_cross_entropy")
    return BinaryCrossEntropy.apply(prob, target, reduction=reduction)


class BinaryCrossEntropyWithLogits(ops.Op):
    """max(z, 0) - z y + log(1 + e^-|z|): never exponentiates a positive number, so logits of
    ±1e4 are fine. Backward: (sigmoid(z) - y) · scale for z, -z · scale for y."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, z, y, reduction="mean"):
        ctx.save_for_backward(z, y)
        ctx.reduction = reduction
        per = kernels.softplus(z)
        per -= z * y
        return _reduce(per, reduction)

    @staticmethod
    def backward(ctx, g):
        z, y = ctx.saved_tensors
        s = _scale(g, ctx.reduction, z.size)
        return (ops.sigmoid(z) - y) * s, (-z * s if ctx.parents[1].requires_grad else None)


def binary_cross_entropy_with_logits(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(logits), computed stably from the logits."""
    z = _loss_input(logits, reduction, "binary_cross_entropy_with_logits")
    target = _loss_target(target, z, "binary_cross_entropy_with_logits")
    return BinaryCrossEntropyWithLogits.apply(z, target, reduction=reduction)


# ------------------------------------------------------------------ softmax cross-entropy
def _row_scale(g: Any, reduction: str, rows: int) -> Any:
    """The upstream gradient as a factor on each row of the logits' gradient."""
    s = _scale(g, reduction, rows)
    return s.reshape(s.shape + (1,)) if reduction == "none" else s


def _softmax(z: Any, logp: ndarray) -> Any:
    """softmax(z): from the forward's log-probabilities on arrays, recorded from the logits
    on Tensors (create_graph)."""
    return z.softmax(-1) if isinstance(z, Tensor) else np.exp(logp)


class CrossEntropy(ops.Op):
    """-log_softmax(z)[label] per row, from integer class `labels` (a constant).
    Backward: (softmax(z) - onehot(labels)) · scale."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, z, labels=None, reduction="mean"):
        logp = kernels.log_softmax(z)
        ctx.save_for_backward(z)
        ctx.at = _flat_index(labels, z.shape[-1])      # each row's label, in z.ravel()
        ctx.logp, ctx.reduction = logp, reduction
        return _reduce(-np.take(logp.reshape(-1), ctx.at).reshape(labels.shape), reduction)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        onehot = np.zeros(z.shape, dtype=z.dtype)
        np.put(onehot.reshape(-1), ctx.at, 1)
        rows = int(np.prod(z.shape[:-1]))
        return (_softmax(z, ctx.logp) - onehot) * _row_scale(g, ctx.reduction, rows)


def _flat_index(labels: ndarray, c: int) -> ndarray:
    """Where row i's label sits in the flattened (rows, c) logits: labels + c·i. A flat
    np.take / np.put with it costs a fifth of take_along_axis / put_along_axis."""
    return labels.reshape(-1) + np.arange(0, labels.size * c, c, dtype=np.intp)


class SoftCrossEntropy(ops.Op):
    """-Σ_c t_c log_softmax(z)_c per row, against class probabilities `t` (an input, which
    may require grad). Backward: (softmax(z) Σt - t) · scale for z, -log_softmax(z) · scale
    for t."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, z, t, reduction="mean"):
        logp = kernels.log_softmax(z)
        ctx.save_for_backward(z, t)
        ctx.logp, ctx.reduction = logp, reduction
        return _reduce(-kernels.row_sum(t * logp, -1)[..., 0], reduction)

    @staticmethod
    def backward(ctx, g):
        z, t = ctx.saved_tensors
        s = _row_scale(g, ctx.reduction, int(np.prod(z.shape[:-1])))
        gz = (_softmax(z, ctx.logp) * ops.row_sum(t, -1) - t) * s
        if not ctx.parents[1].requires_grad:
            return gz, None
        logp = z.log_softmax(-1) if isinstance(z, Tensor) else ctx.logp
        return gz, -logp * s


def _class_labels(target: Any, z: Tensor) -> ndarray | None:
    """Integer class indices checked against the logits, or None for a probability target."""
    arr = target._data if isinstance(target, Tensor) else np.asanyarray(target)
    if arr.shape == z.shape:                      # probabilities or one-hot rows (any dtype)
        return None
    if arr.shape != z.shape[:-1]:
        raise ValueError(f"cross_entropy: class indices of shape {arr.shape} do not match logits "
                         f"of shape {z.shape} (expected {z.shape[:-1]}; or probabilities of shape "
                         f"{z.shape})")
    if arr.dtype.kind not in "iub":
        raise TypeError(f"cross_entropy: class indices must be integers, got dtype {arr.dtype} "
                        f"(for targets of shape {arr.shape}; cast with .astype(int), or pass "
                        f"probabilities of shape {z.shape})")
    every_step(_check_labels, np.asarray(arr), z.shape[-1])   # (compiled: at every replay)
    return arr.astype(np.intp, copy=False)


def _check_labels(values: ndarray, c: int) -> None:
    if values.size and (np.minimum.reduce(values, axis=None) < 0
                        or np.maximum.reduce(values, axis=None) >= c):
        bad = values[(values < 0) | (values >= c)].flat[0]
        raise ValueError(f"cross_entropy: class index {bad} is out of range for {c} classes")


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of `logits` (N, C) or (C,) against integer class indices (N,) / ()
    or class probabilities / one-hot rows of the logits' shape; "mean" averages over N."""
    z = _loss_input(logits, reduction, "cross_entropy")
    if z.ndim not in (1, 2):
        raise ValueError(f"cross_entropy: logits must have shape (N, C) or (C,), got {z.shape}")
    if z.shape[-1] == 0:
        raise ValueError(f"cross_entropy: logits of shape {z.shape} have no classes")
    labels = _class_labels(target, z)
    if labels is not None:
        return CrossEntropy.apply(z, labels=labels, reduction=reduction)
    return SoftCrossEntropy.apply(z, _loss_target(target, z, "cross_entropy"), reduction=reduction)
