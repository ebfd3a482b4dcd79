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
    """log Σ e^x over `axis`, stable for any finite input."""
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
    """Join tensors along an existing axis (`np.concatenate`); the gradient is split back."""
    return ops.Concatenate.apply(*[_t(t) for t in tensors], axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis (`np.stack`)."""
    ts = [_t(t) for t in tensors]
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


# ---- neural-network functions (F.*)
# Fused primitives live here (not in ops.py) because they are whole layers or losses, not
# single array operations: `Linear` does x @ W.T + b in one node, and each loss is one node
# whose backward is the closed form (sigmoid(z) - y, softmax(z) - onehot, ...), which is both
# faster and stabler than differentiating through log/exp. Every backward is written with
# operations Tensors and ndarrays share, so create_graph=True can differentiate it again.
_REDUCTIONS = ("mean", "sum", "none")
_BCE_EPS = 1e-12   # PyTorch's floor on p(1-p) in the BCE gradient: finite at p = 0 or 1


class Linear(ops.Op):
    """y = x @ W.T + b for x of shape (..., in), W (out, in), b (out,): one matmul, the bias
    added in place into its fresh output. Backward: gx = g @ W, gW = g2.T @ x2, gb = g2.sum(0)
    with the batch dims of g and x flattened into one."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b=None):
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape "
                             f"{w.shape} (expected (..., {w.shape[-1] if w.ndim else '?'}) inputs)")
        out = x @ w.T
        if b is not None:
            if b.shape != (w.shape[0],):
                raise ValueError(f"linear: bias of shape {b.shape} does not match weight of "
                                 f"shape {w.shape} (expected ({w.shape[0]},))")
            if b.dtype == out.dtype or np.result_type(out, b) == out.dtype:
                out += b
            else:
                out = out + b
        ctx.save_for_backward(x, w)
        return out

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = g @ w if need[0] else None
        g2 = g.reshape(-1, w.shape[0])
        gw = g2.T @ x.reshape(-1, w.shape[1]) if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (g2.sum(0) if need[2] else None)


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias as one fused node (`nn.Linear`'s forward). ndarray inputs are used
    as they are, without a copy."""
    x = _lift(x, weight)
    return Linear.apply(x, weight) if bias is None else Linear.apply(x, weight, bias)


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(per: np.ndarray, reduction: str) -> np.ndarray:
    # np.add.reduce, not .mean()/.sum(): same pairwise sum without NumPy's Python-level wrapper
    if reduction == "none":
        return per
    total = np.add.reduce(per, axis=None)
    if reduction == "sum":
        return total
    return total / per.size if per.size else np.full((), np.nan, per.dtype)   # mean of nothing


def _scale(g: Any, reduction: str, count: int) -> Any:
    """The upstream gradient of the reduced loss as a factor on each element's gradient
    (the mean of nothing is nan, as in the forward, without a division warning)."""
    return g * (1.0 / count if count else float("nan")) if reduction == "mean" else g


def _loss_target(target: Any, like: Tensor, op: str) -> Tensor:
    """The target as a Tensor of the input's shape. A constant target takes the input's dtype
    (int 0/1 labels or float64 data never upcast a float32 loss)."""
    if isinstance(target, Tensor) and target.requires_grad:
        t = target
    else:
        arr = target.data if isinstance(target, Tensor) else np.asarray(target)
        t = Tensor._wrap(arr if arr.dtype == like.dtype else arr.astype(like.dtype))
    if t.shape != like.shape:
        raise ValueError(f"{op}: target shape {t.shape} differs from input shape {like.shape}; "
                         "reshape one of them (broadcasting here is almost always a bug)")
    return t


def _loss_input(x: Any, op: str) -> Tensor:
    x = _t(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {x.dtype}")
    return x


class MseLoss(ops.Op):
    """(pred - target)^2, reduced. Backward: 2 (pred - target) · scale."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, pred, target, reduction="mean"):
        ctx.save_for_backward(pred, target)
        ctx.reduction = reduction
        d = pred - target
        return _reduce(np.square(d, out=d), reduction)

    @staticmethod
    def backward(ctx, g):
        pred, target = ctx.saved_tensors
        gp = (pred - target) * (_scale(g, ctx.reduction, pred.size) * 2)
        return gp, (-gp if ctx.needs_input_grad[1] else None)


def mse_loss(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error; `reduction` "mean" (over all elements), "sum" or "none"."""
    _check_reduction(reduction, "mse_loss")
    pred = _loss_input(pred, "mse_loss")
    return MseLoss.apply(pred, _loss_target(target, pred, "mse_loss"), reduction=reduction)


class BinaryCrossEntropy(ops.Op):
    """-(y log p + (1-y) log(1-p)) with both logs clamped at -100 (as PyTorch), so p = 0 or 1
    gives a finite loss. Backward: (p - y) / max(p(1-p), 1e-12), finite everywhere."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, p, y, reduction="mean"):
        if p.size and not (p.min() >= 0 and p.max() <= 1):
            raise ValueError(f"binary_cross_entropy: input probabilities must lie in [0, 1], got "
                             f"values in [{p.min()}, {p.max()}] (use binary_cross_entropy_with_logits "
                             "for raw scores)")
        ctx.save_for_backward(p, y)
        ctx.reduction = reduction
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100)
            log_q = np.maximum(np.log1p(-p), -100)
        log_p -= log_q
        log_p *= y
        log_p += log_q
        return _reduce(np.negative(log_p, out=log_p), reduction)

    @staticmethod
    def backward(ctx, g):
        p, y = ctx.saved_tensors
        return (p - y) / (p * (1 - p)).clip(_BCE_EPS) * _scale(g, ctx.reduction, p.size), None


def binary_cross_entropy(prob: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities `prob` in [0, 1] against targets in [0, 1]."""
    _check_reduction(reduction, "binary_cross_entropy")
    prob = _loss_input(prob, "binary_cross_entropy")
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
        per = ops.softplus_np(z)
        per -= z * y
        return _reduce(per, reduction)

    @staticmethod
    def backward(ctx, g):
        z, y = ctx.saved_tensors
        s = _scale(g, ctx.reduction, z.size)
        return (ops.sigmoid(z) - y) * s, (-z * s if ctx.needs_input_grad[1] else None)


def binary_cross_entropy_with_logits(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(logits), computed stably from the logits."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    z = _loss_input(logits, "binary_cross_entropy_with_logits")
    target = _loss_target(target, z, "binary_cross_entropy_with_logits")
    return BinaryCrossEntropyWithLogits.apply(z, target, reduction=reduction)


class CrossEntropy(ops.Op):
    """-Σ_c t_c log_softmax(z)_c over the last axis, from integer `labels` (a parameter) or a
    probability target (an input). Backward: (softmax(z) Σt - t) · scale (softmax(z) - t for
    rows that sum to 1), and -log_softmax(z) · scale for a target that requires grad."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, z, t=None, labels=None, reduction="mean"):
        logp = ops.log_softmax_np(z)
        if labels is None:
            per = -(t * logp).sum(axis=-1)
            ctx.save_for_backward(z, t, logp)
        else:
            per = -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
            ctx.save_for_backward(z, logp)
        ctx.labels, ctx.reduction = labels, reduction
        return _reduce(per, reduction)

    @staticmethod
    def backward(ctx, g):
        z, *rest = ctx.saved_tensors
        t, logp = rest if len(rest) == 2 else (None, rest[0])
        n = int(np.prod(z.shape[:-1]))
        s = _scale(g, ctx.reduction, n)
        s = s if ctx.reduction != "none" else s.reshape(s.shape + (1,))
        if isinstance(g, Tensor):   # create_graph: rebuild from the recorded input, differentiably
            logp = z.log_softmax(-1)
        p = ops.exp(logp)
        if t is None:
            gz = (p - _onehot(ctx.labels, z.shape, z.dtype)) * s
        else:
            gz = (p * t.sum(axis=-1, keepdims=True) - t) * s
        if t is None:
            return gz
        return gz, (-logp * s if ctx.needs_input_grad[1] else None)


def _onehot(labels: np.ndarray, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    out = np.zeros(shape, dtype=dtype)
    np.put_along_axis(out, labels[..., None], 1, axis=-1)
    return out


def _class_labels(target: Any, z: Tensor) -> np.ndarray | None:
    """Integer class indices checked against the logits, or None for a probability target."""
    arr = target.data if isinstance(target, Tensor) else np.asarray(target)
    if arr.dtype.kind not in "iub" or arr.shape == z.shape:   # an integer one-hot is a target too
        return None
    if arr.shape != z.shape[:-1]:
        raise ValueError(f"cross_entropy: class indices of shape {arr.shape} do not match logits "
                         f"of shape {z.shape} (expected {z.shape[:-1]})")
    c = z.shape[-1]
    if arr.size and (arr.min() < 0 or arr.max() >= c):
        bad = arr[(arr < 0) | (arr >= c)].flat[0]
        raise ValueError(f"cross_entropy: class index {bad} is out of range for {c} classes")
    return arr.astype(np.intp, copy=False)


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of `logits` (N, C) or (C,) against integer class indices (N,) / ()
    or class probabilities / one-hot rows of the logits' shape; "mean" averages over N."""
    _check_reduction(reduction, "cross_entropy")
    z = _loss_input(logits, "cross_entropy")
    if z.ndim not in (1, 2):
        raise ValueError(f"cross_entropy: logits must have shape (N, C) or (C,), got {z.shape}")
    labels = _class_labels(target, z)
    if labels is not None:
        return CrossEntropy.apply(z, labels=labels, reduction=reduction)
    t = _loss_target(target, z, "cross_entropy")
    return CrossEntropy.apply(z, t, reduction=reduction)
