"""Primitive ops: one small `Function` each, forward on ndarrays and backward side by side.

Backward rules use only what Tensors and ndarrays share (`+ - * / ** @`, `.sum`, `.reshape`,
`.transpose`, `.mT`, indexing) plus the dual helpers below, so the same rule runs on raw arrays
in an ordinary backward and is recorded on Tensors under `create_graph=True`. Broadcasting is
undone by the engine (`autograd.unbroadcast`), never here. Masks and other values that are
piecewise constant are saved as plain arrays: their derivative is zero where it exists.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .autograd import Function
from .tensor import Tensor, _raw


class Op(Function):
    """A built-in primitive: its backward also runs on plain ndarrays."""
    __slots__ = ()
    raw_backward = True


# ------------------------------------------------------------------ dual helpers
def _dual(np_fn: Callable, method: str) -> Callable:
    """A function that is `np_fn` on arrays and the recorded Tensor op `method` on Tensors."""
    def f(x: Any, *args: Any) -> Any:
        return getattr(x, method)(*args) if isinstance(x, Tensor) else np_fn(x, *args)
    f.__name__ = method
    return f


def sigmoid_np(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), in place in one buffer. For very negative x, e^-x overflows to inf and
    1 / inf = 0 is the right answer (relative accuracy holds everywhere), so the overflow
    warning is silenced instead of paying for a branch-free "stable" form (3x slower)."""
    out = np.negative(x, out=np.empty(x.shape, np.result_type(x, 1.0)))
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def softplus_np(x: np.ndarray) -> np.ndarray:
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): only e^-|x| is computed, finite for any x."""
    out = np.log1p(np.exp(-np.abs(x)))
    out += np.maximum(x, 0)
    return out


def log_softmax_np(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """x - logsumexp(x) along `axis`, shifted by the max so nothing overflows."""
    out = x - np.max(x, axis=axis, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=axis, keepdims=True))
    return out


exp = _dual(np.exp, "exp")
log = _dual(np.log, "log")
sigmoid = _dual(sigmoid_np, "sigmoid")
expand = _dual(np.broadcast_to, "expand")


def norm_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """`axis` (None, int, negative int or tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of dimension {ndim}")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def _keep_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# ------------------------------------------------------------------ arithmetic
class Add(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b): return a + b
    @staticmethod
    def backward(ctx, g): return g, g


class Sub(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b): return a - b
    @staticmethod
    def backward(ctx, g): return g, -g


class Mul(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b
    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * a


class Div(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b
    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gb = g / b
        return gb, -gb * a / b


class Neg(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a): return -a
    @staticmethod
    def backward(ctx, g): return -g


class Pow(Op):
    """a ** b. The exponent's gradient a^b log a is only formed when the exponent needs it,
    so `x ** 2` with negative x stays finite."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out
    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        a0 = _raw(a) == 0     # at a == 0 the textbook rules give 0 * inf; PyTorch's values: 0
        ga = gb = None
        if need_a:   # b a^(b-1), but 0 (not 0 * 0^-1) where a == b == 0: x ** 0 has slope 0
            ga = g * b * a ** (b - 1 + (a0 & (_raw(b) == 0)))
        if need_b:   # a^b log a, but 0 (not 0 * log 0) where a == 0 and b >= 0
            gb = g * out * log(a + (a0 & (_raw(b) >= 0)))
        return ga, gb


class MatMul(Op):
    """a @ b with NumPy's rules for 1-D operands and batch broadcasting."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs at least 1-D operands")
        ctx.save_for_backward(a, b)
        return a @ b
    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a2 = a if a.ndim > 1 else a.reshape(1, -1)
        b2 = b if b.ndim > 1 else b.reshape(-1, 1)
        gshape = g.shape + (1,) * (b.ndim == 1)
        if a.ndim == 1:
            gshape = gshape[:-1] + (1,) + gshape[-1:]
        g2 = g.reshape(gshape)
        ga = g2 @ b2.mT
        gb = a2.mT @ g2
        if a.ndim == 1:
            ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
        if b.ndim == 1:
            gb = gb.reshape(gb.shape[:-1])
        return ga, gb


# ------------------------------------------------------------------ elementwise
class Exp(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out
    @staticmethod
    def backward(ctx, g): return g * ctx.saved_tensors[0]


class Log(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a)
    @staticmethod
    def backward(ctx, g): return g / ctx.saved_tensors[0]


class Sqrt(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out
    @staticmethod
    def backward(ctx, g): return g / (2 * ctx.saved_tensors[0])


class Tanh(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        out = np.tanh(a)
        ctx.save_for_backward(out)
        return out
    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_tensors[0]
        return g * (1 - y * y)


class Sigmoid(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        out = sigmoid_np(a)
        ctx.save_for_backward(out)
        return out
    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_tensors[0]
        return g * (y * (1 - y))


class Softplus(Op):
    """log(1 + e^x), stable (softplus_np); its derivative is sigmoid."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return softplus_np(a)
    @staticmethod
    def backward(ctx, g): return g * sigmoid(ctx.saved_tensors[0])


class _Scale(Op):
    """Ops whose derivative is piecewise constant: backward multiplies by a saved array."""
    __slots__ = ()
    @staticmethod
    def backward(ctx, g): return g * ctx.saved_tensors[0]


class Abs(_Scale):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(np.sign(a))
        return np.abs(a)


class Relu(_Scale):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        mask = a > 0
        ctx.save_for_backward(mask)
        return a * mask


class LeakyRelu(_Scale):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, slope=0.01):
        scale = np.where(a > 0, 1, slope).astype(a.dtype)
        ctx.save_for_backward(scale)
        return a * scale


class Clip(_Scale):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a >= lo
        if hi is not None:
            inside &= a <= hi
        ctx.save_for_backward(inside)
        return np.clip(a, lo, hi)


class Maximum(Op):
    """Elementwise max; a tie sends half the gradient to each side (as PyTorch does)."""
    __slots__ = ()
    pick: Callable = np.greater
    @classmethod
    def _mask(cls, a, b):
        return cls.pick(a, b) + 0.5 * (a == b)
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(type(ctx)._mask(a, b).astype(np.result_type(a, b)))
        return np.maximum(a, b) if type(ctx).pick is np.greater else np.minimum(a, b)
    @staticmethod
    def backward(ctx, g):
        m = ctx.saved_tensors[0]
        return g * m, g * (1 - m)


class Minimum(Maximum):
    __slots__ = ()
    pick = np.less


class Where(Op):
    """where(cond, a, b); `cond` is a constant bool array."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b, cond=None):
        ctx.save_for_backward(cond, ~cond)
        return np.where(cond, a, b)
    @staticmethod
    def backward(ctx, g):
        cond, not_cond = ctx.saved_tensors
        return g * cond, g * not_cond


# ------------------------------------------------------------------ reductions
class Sum(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = norm_axes(axis, a.ndim)
        ctx.shape, ctx.kshape = a.shape, _keep_shape(a.shape, axes)
        return np.sum(a, axis=axes, keepdims=keepdims)
    @staticmethod
    def backward(ctx, g): return expand(g.reshape(ctx.kshape), ctx.shape)


class Max(Op):
    """Reduction max; ties share the gradient equally."""
    __slots__ = ()
    reduce: Callable = np.max
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = norm_axes(axis, a.ndim)
        out = type(ctx).reduce(a, axis=axes, keepdims=True)
        mask = (a == out).astype(a.dtype)
        mask /= mask.sum(axis=axes, keepdims=True)
        ctx.save_for_backward(mask)
        ctx.kshape = out.shape
        return out if keepdims else out.reshape([n for i, n in enumerate(out.shape) if i not in axes])
    @staticmethod
    def backward(ctx, g): return g.reshape(ctx.kshape) * ctx.saved_tensors[0]


class Min(Max):
    __slots__ = ()
    reduce = np.min


class LogSumExp(Op):
    """log Σ e^x, shifted by the max so nothing overflows; rows of -inf give -inf."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = norm_axes(axis, a.ndim)
        m = np.max(a, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m
        kshape = out.shape
        if not keepdims:
            out = out.reshape([n for i, n in enumerate(kshape) if i not in axes])
        ctx.save_for_backward(a, out)
        ctx.kshape = kshape
        return out
    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        return g.reshape(ctx.kshape) * exp(a - out.reshape(ctx.kshape))


class Softmax(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=-1):
        e = np.exp(a - np.max(a, axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out
    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_tensors[0]
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=-1):
        out = log_softmax_np(a, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out
    @staticmethod
    def backward(ctx, g): return g - exp(ctx.saved_tensors[0]) * g.sum(axis=ctx.axis, keepdims=True)


# ------------------------------------------------------------------ shape
class Reshape(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        return a.reshape(shape)
    @staticmethod
    def backward(ctx, g): return g.reshape(ctx.shape)


class Transpose(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axes=None):
        axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(a_ % max(a.ndim, 1) for a_ in axes)
        ctx.inverse = tuple(int(i) for i in np.argsort(axes))
        return a.transpose(axes)
    @staticmethod
    def backward(ctx, g): return g.transpose(ctx.inverse)


class Expand(Op):
    """Broadcast to a shape without copying (the backward of Sum, recorded under create_graph)."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, shape=()):
        return np.broadcast_to(a, shape)
    @staticmethod
    def backward(ctx, g): return g    # the engine sums it back to the input's shape


def _is_basic(idx: Any) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items)


class GetItem(Op):
    """t[idx]: basic slicing and integer-array indexing; repeated indices accumulate."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, idx=None):
        ctx.shape, ctx.idx = a.shape, idx
        return a[idx]
    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            return ScatterAdd.apply(g, shape=ctx.shape, idx=ctx.idx)
        return ScatterAdd.forward(None, g, shape=ctx.shape, idx=ctx.idx)


class ScatterAdd(Op):
    """zeros(shape) with g added at idx (the backward of GetItem)."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, g, shape=(), idx=None):
        if ctx is not None:
            ctx.idx = idx
        out = np.zeros(shape, dtype=g.dtype)
        if _is_basic(idx):
            out[idx] = g
        else:
            np.add.at(out, idx, g)
        return out
    @staticmethod
    def backward(ctx, g): return g[ctx.idx]


class Concatenate(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        out = np.concatenate(arrays, axis=axis)
        axis = axis % out.ndim
        ctx.axis, ctx.bounds = axis, np.cumsum([0] + [a.shape[axis] for a in arrays]).tolist()
        return out
    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        b = ctx.bounds
        return tuple(g[lead + (slice(s, e),)] for s, e in zip(b[:-1], b[1:]))
