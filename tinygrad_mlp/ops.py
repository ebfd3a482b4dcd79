"""Primitive ops: one small `Function` each, forward on ndarrays and backward side by side.

Backward rules use only what Tensors and ndarrays share (`+ - * / @`, `.sum`, `.reshape`,
`.transpose`, indexing) plus the few helpers below that pick the NumPy kernel for arrays and
the recorded op for Tensors, so one rule runs on raw arrays in an ordinary backward and is
recorded under `create_graph=True`. Broadcasting is undone by the engine (`unbroadcast`),
never here. Masks and other piecewise-constant factors are ctx attributes, not saved values:
their derivative is zero where it exists.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy import ndarray

from . import kernels
from .kernels import raw_dot
from .function import Function, OpError
from .tensor import Tensor, _raw


class Op(Function):
    """A built-in primitive: its backward also runs on plain ndarrays."""
    __slots__ = ()
    raw_backward = True


# ------------------------------------------------------------------ array-or-Tensor helpers
def exp(x: Any) -> Any:
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def log(x: Any) -> Any:
    return x.log() if isinstance(x, Tensor) else np.log(x)


def sigmoid(x: Any) -> Any:
    return x.sigmoid() if isinstance(x, Tensor) else kernels.sigmoid(x)


def expand(x: Any, shape: tuple[int, ...]) -> Any:
    return x.expand(shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


SMALL_PRODUCT = 65536    # multiply-adds below which np.dot beats np.matmul (`dot`)


def dot(a: Any, b: Any) -> Any:
    """a @ b, by the kernel NumPy runs fastest (measured on 2-D float32 products): `np.dot`
    for an inner dimension of 1, where `np.matmul` skips BLAS (a (1024, 1) by (1, 64) product:
    19 µs against 97 µs), and for small products, where matmul's overhead shows (100x16 by
    16x16: 1.7 µs against 2.1 µs); `np.matmul` otherwise (W2's (1024, 2) by (2, 64): 15 µs
    against 21 µs; the backward's (256, 10) by (10, 512): 41 µs against 52 µs). Tensors
    (create_graph) go through `@`, recorded."""
    if isinstance(a, ndarray) and isinstance(b, ndarray) and a.ndim == 2 == b.ndim:
        if a.shape[1] == 1 or a.size * b.shape[1] < SMALL_PRODUCT:
            return (raw_dot if type(a) is type(b) is ndarray else np.dot)(a, b)
    return a @ b


def column_sum(g: Any) -> Any:
    """g.sum(axis=0) of a 2-D gradient; for arrays a product with (cached, read-only) ones:
    BLAS, 5x faster than NumPy's strided reduction of a (1024, 64) float32 array."""
    if isinstance(g, Tensor):
        return g.sum(axis=0)
    return (raw_dot if type(g) is ndarray else np.dot)(kernels.ones(g.shape[0], g.dtype), g)


def row_sum(x: Any, axis: int) -> Any:
    """x.sum(axis=axis, keepdims=True); for arrays `kernels.row_sum` (a product with ones along
    a 2-D array's rows, several times faster than NumPy's reduction of a short last axis)."""
    return x.sum(axis=axis, keepdims=True) if isinstance(x, Tensor) else kernels.row_sum(x, axis)


def norm_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """`axis` (None, int, negative int or tuple) as a sorted tuple of non-negative axes. A 0-d
    tensor accepts axis 0 and -1 and reduces over nothing (PyTorch's rule)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -max(ndim, 1) <= a < max(ndim, 1):
            raise np.exceptions.AxisError(
                f"{op}: axis {a!r} is out of range for a tensor of dimension {ndim}")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out)) if ndim else ()


def norm_axis(axis: Any, ndim: int, op: str) -> int | None:
    """One axis for softmax-like ops, non-negative; None for a 0-d tensor (its one element)."""
    axes = norm_axes(axis, ndim, op)
    if len(axes) > 1 or (axes == () and ndim):
        raise ValueError(f"{op}: expected a single axis, got {axis!r}")
    return axes[0] if axes else None


def _kept(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """`shape` with the reduced `axes` kept as size 1."""
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
        ga = g / b
        return ga, -ga * a / b


class Neg(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a): return -a
    @staticmethod
    def backward(ctx, g): return -g


class Pow(Op):
    """a ** b. Where the textbook rules give 0 · inf, PyTorch's values are used instead: the
    slope of x ** 0 is 0 (b a^(b-1) would be 0 · inf where a^-1 overflows: a zero or
    subnormal), and the exponent's gradient a^b log a is 0 at a == 0. The exponent's gradient
    is only formed when asked for, so `x ** 2` of negative x is finite."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b):
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out
    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        ra, rb = _raw(a), _raw(b)
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            overflow = (rb == 0) & (np.abs(ra) < np.finfo(ra.dtype).tiny)
            ga = g * b * a ** (b - 1 + overflow)
        if need_b:
            gb = g * out * log(a + ((ra == 0) & (rb >= 0)))
        return ga, gb


class MatMul(Op):
    """a @ b with NumPy's rules for 1-D operands and batch broadcasting."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise OpError(f"matmul: needs at least 1-D operands, got shapes {a.shape} and {b.shape}")
        ctx.save_for_backward(a, b)
        return dot(a, b)
    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a2 = a if a.ndim > 1 else a.reshape(1, -1)        # NumPy's rule: a 1-D a is a row,
        b2 = b if b.ndim > 1 else b.reshape(-1, 1)        # a 1-D b a column
        gshape = g.shape + (1,) * (b.ndim == 1)
        if a.ndim == 1:
            gshape = gshape[:-1] + (1,) + gshape[-1:]
        g2 = g.reshape(gshape)
        ga, gb = dot(g2, b2.mT), dot(a2.mT, g2)
        if a.ndim == 1:
            ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
        if b.ndim == 1:
            gb = gb.reshape(gb.shape[:-1])
        return ga, gb


class Linear(Op):
    """y = x @ W.T + b for x (..., in), W (out, in), b (out,): one product, the bias added in
    place into its fresh output. Backward: gx = g @ W, gW = g2.T @ x2, gb = column sums of g2,
    with the batch axes of g and x flattened into one (g2, x2)."""
    __slots__ = ()

    @staticmethod
    def forward(ctx, x, w, b=None):
        if w.ndim != 2 or b is not None and (b.ndim != 1 or len(b) != len(w)):
            raise OpError(_linear_mismatch(x, w, b))
        try:                                      # (the product checks x against w)
            out = dot(x, w.T)
        except ValueError:
            if x.ndim and x.shape[-1] == w.shape[1]:
                raise                             # not a mismatch: NumPy's words, named by apply
            raise OpError(_linear_mismatch(x, w, b)) from None
        ctx.save_for_backward(x, w)
        if b is None:
            return out
        if b.dtype == out.dtype or np.result_type(out, b) == out.dtype:
            out += b
            return out
        return out + b

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        inputs = ctx.parents                 # (their requires_grad: needs_input_grad, untupled)
        g2 = g if g.ndim == 2 else g.reshape(-1, w.shape[0])
        # both products take m·out·in steps, as forward's did: `dot`'s rule, decided once
        mm = dot
        if isinstance(g, ndarray) and g.size * w.shape[1] < SMALL_PRODUCT:
            mm = raw_dot if type(g) is type(w) is type(x) is ndarray else np.dot
        gx = mm(g, w) if inputs[0].requires_grad else None
        gw = None
        if inputs[1].requires_grad:
            gw = mm(g2.T, x if x.ndim == 2 else x.reshape(-1, w.shape[1]))
        if len(inputs) == 2:
            return gx, gw
        return gx, gw, (column_sum(g2) if inputs[2].requires_grad else None)


def _linear_mismatch(x: ndarray, w: ndarray, b: ndarray | None) -> str:
    if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1]:
        return (f"linear: input of shape {x.shape} does not match weight of shape {w.shape} "
                f"(expected (..., {w.shape[-1] if w.ndim else '?'}) inputs)")
    return (f"linear: bias of shape {b.shape} does not match weight of shape {w.shape} "
            f"(expected ({w.shape[0]},))")


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
        out = kernels.sigmoid(a)
        ctx.save_for_backward(out)
        return out
    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_tensors[0]
        return g * (y * (1 - y))


class Softplus(Op):
    """log(1 + e^x), stable; its derivative is sigmoid(x)."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return kernels.softplus(a)
    @staticmethod
    def backward(ctx, g): return g * sigmoid(ctx.saved_tensors[0])


class Abs(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        ctx.sign = np.sign(a)
        return np.abs(a)
    @staticmethod
    def backward(ctx, g): return g * ctx.sign


class Relu(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a):
        ctx.mask = a > 0
        return np.maximum(a, 0)          # not a * mask: -inf * 0 would be nan
    @staticmethod
    def backward(ctx, g): return g * ctx.mask


class LeakyRelu(Op):
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, slope=0.01):
        ctx.slope = slope
        ctx.scale = np.where(a > 0, 1, slope).astype(a.dtype)
        return a * ctx.scale
    @staticmethod
    def backward(ctx, g): return g * ctx.scale


class Clip(Op):
    """Clamp to [lo, hi]; the gradient passes where the input is inside (bounds included)."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        ctx.lo, ctx.hi = lo, hi
        inside = np.ones(a.shape, dtype=bool)
        if lo is not None:
            inside &= a >= lo
        if hi is not None:
            inside &= a <= hi
        ctx.inside = inside
        return np.clip(a, lo, hi)
    @staticmethod
    def backward(ctx, g): return g * ctx.inside


class Maximum(Op):
    """Elementwise max(a, b); a tie sends half the gradient to each side (as PyTorch)."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b):
        out = np.maximum(a, b)
        ctx.share_a = np.where(a == b, 0.5, a > b).astype(out.dtype)
        return out
    @staticmethod
    def backward(ctx, g): return g * ctx.share_a, g * (1 - ctx.share_a)


class Minimum(Op):
    """Elementwise min(a, b); a tie sends half the gradient to each side (as PyTorch)."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b):
        out = np.minimum(a, b)
        ctx.share_a = np.where(a == b, 0.5, a < b).astype(out.dtype)
        return out
    @staticmethod
    def backward(ctx, g): return g * ctx.share_a, g * (1 - ctx.share_a)


class Where(Op):
    """where(cond, a, b); `cond` is a constant bool array."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, b, cond=None):
        ctx.cond = cond
        return np.where(cond, a, b)
    @staticmethod
    def backward(ctx, g): return g * ctx.cond, g * ~ctx.cond


class Cast(Op):
    """The input in another dtype; the gradient goes back in the input's dtype."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.dtype = a.dtype
        return a.astype(dtype)
    @staticmethod
    def backward(ctx, g): return g.astype(ctx.dtype)


class Clone(Op):
    """A copy with its own storage; the gradient passes through."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a): return a.copy()
    @staticmethod
    def backward(ctx, g): return g


# ------------------------------------------------------------------ reductions
class Sum(Op):
    """Sum over `axis` (normalised by Tensor.sum); backward spreads g over the summed axes."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=(), keepdims=False):
        ctx.axis, ctx.keepdims = axis, keepdims
        ctx.shape, ctx.kept = a.shape, _kept(a.shape, axis)
        return np.sum(a, axis=axis, keepdims=keepdims)
    @staticmethod
    def backward(ctx, g): return expand(g.reshape(ctx.kept), ctx.shape)


def _extremes(ctx: Function, a: ndarray, out: ndarray, axis: tuple[int, ...],
              keepdims: bool) -> ndarray:
    """Shared by Max and Min: `out` (the reduction with axes kept) as the op's result, and the
    share of the gradient each element gets (tied extremes split it equally)."""
    ctx.axis, ctx.keepdims, ctx.kept = axis, keepdims, out.shape
    if a.dtype.kind == "f":                      # only floats can carry a gradient
        hit = (a == out).astype(a.dtype)
        ctx.share = hit / hit.sum(axis=axis, keepdims=True)
    return out if keepdims else out.reshape([n for i, n in enumerate(a.shape) if i not in axis])


class Max(Op):
    """Reduction max; tied maxima share the gradient equally."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=(), keepdims=False):
        return _extremes(ctx, a, np.max(a, axis=axis, keepdims=True), axis, keepdims)
    @staticmethod
    def backward(ctx, g): return g.reshape(ctx.kept) * ctx.share


class Min(Op):
    """Reduction min; tied minima share the gradient equally."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=(), keepdims=False):
        return _extremes(ctx, a, np.min(a, axis=axis, keepdims=True), axis, keepdims)
    @staticmethod
    def backward(ctx, g): return g.reshape(ctx.kept) * ctx.share


class LogSumExp(Op):
    """log Σ e^x over `axis`, stable (kernels.logsumexp); an empty reduction gives -inf.
    Backward: g · e^(x - out) = g · softmax(x)."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=(), keepdims=False):
        out = kernels.logsumexp(a, axis)
        ctx.axis, ctx.keepdims, ctx.kept = axis, keepdims, out.shape
        if not keepdims:
            out = out.reshape([n for i, n in enumerate(a.shape) if i not in axis])
        ctx.save_for_backward(a, out)
        return out
    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        return g.reshape(ctx.kept) * exp(a - out.reshape(ctx.kept))


class Softmax(Op):
    """e^x / Σ e^x along `axis`. Backward: y (g - Σ g y)."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=-1):
        out = kernels.softmax(a, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out
    @staticmethod
    def backward(ctx, g):
        y = ctx.saved_tensors[0]
        return y * (g - row_sum(g * y, ctx.axis))


class LogSoftmax(Op):
    """x - logsumexp(x) along `axis`. Backward: g - e^out Σ g."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, a, axis=-1):
        out = kernels.log_softmax(a, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out
    @staticmethod
    def backward(ctx, g): return g - exp(ctx.saved_tensors[0]) * row_sum(g, ctx.axis)


# ------------------------------------------------------------------ shape
class Reshape(Op):
    __slots__ = ()
    view = True
    @staticmethod
    def forward(ctx, a, shape=()):
        ctx.shape = a.shape
        return a.reshape(shape)
    @staticmethod
    def backward(ctx, g): return g.reshape(ctx.shape)


class Transpose(Op):
    """Permute axes (a permutation checked by Tensor.transpose); backward applies the inverse."""
    __slots__ = ()
    view = True
    @staticmethod
    def forward(ctx, a, axes=()):
        ctx.inverse = tuple(int(i) for i in np.argsort(axes))
        return a.transpose(axes)
    @staticmethod
    def backward(ctx, g): return g.transpose(ctx.inverse)


class Expand(Op):
    """Broadcast to a shape without copying (the backward of Sum, recorded under create_graph);
    the engine sums the gradient back to the input's shape."""
    __slots__ = ()
    view = True
    @staticmethod
    def forward(ctx, a, shape=()): return np.broadcast_to(a, shape)
    @staticmethod
    def backward(ctx, g): return g


class GetItem(Op):
    """t[idx]: basic slicing and integer-array indexing. Backward scatters g into zeros of the
    input's shape; repeated indices add up."""
    __slots__ = ()
    view = True
    @staticmethod
    def forward(ctx, a, idx=None):
        ctx.shape, ctx.idx = a.shape, idx
        return a[idx]
    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            return ScatterAdd.apply(g, shape=ctx.shape, idx=ctx.idx)
        return scatter_add(g, ctx.shape, ctx.idx)


def scatter_add(g: ndarray, shape: tuple[int, ...], idx: Any) -> ndarray:
    """zeros(shape) with g added at idx; repeated indices add up (np.add.at). The zeros are
    made from g (`zeros_like`), so tg.compile records them as part of the step."""
    out = np.zeros_like(g, shape=shape)
    np.add.at(out, idx, g)
    return out


class ScatterAdd(Op):
    """zeros(shape) with g added at idx: GetItem's backward, recorded under create_graph.
    Its own backward reads g back at idx."""
    __slots__ = ()
    @staticmethod
    def forward(ctx, g, shape=(), idx=None):
        ctx.idx = idx
        return scatter_add(g, shape, idx)
    @staticmethod
    def backward(ctx, g): return g[ctx.idx]


class Concatenate(Op):
    """Join along an existing axis; backward slices g back into the pieces."""
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
