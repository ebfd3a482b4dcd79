"""The few numerically stable kernels that several ops share, on plain ndarrays, and the
way the engine's hot path calls NumPy (below the imports).

Each is finite and warning-free for any finite input (and ±inf where the math allows), so
sigmoid of -1e4, softplus of 1e4 and log-softmax of rows like [1e4, -1e4] are exact.
"""
from __future__ import annotations

import numpy as np
from numpy import ndarray

# Two costs of calling NumPy from Python that the hot path avoids (CPython 3.11):
# - `np.ndarray` costs 370 instructions a read against 50 for a name imported from numpy:
#   numpy's module defines __getattr__, and CPython then does not specialise reads of its
#   attributes. The engine's modules import `ndarray` by name.
# - np.dot and np.copyto run NumPy's __array_function__ dispatch before their C function
#   (1.4k instructions a call, as much as the rest of a small product's Python part).
#   The raw C functions below are called, inline, only when every argument is a plain
#   ndarray: a subclass may override the protocol (tg.compile's traced arrays record
#   calls through it).
raw_dot = getattr(np.dot, "_implementation", np.dot)
raw_copyto = getattr(np.copyto, "_implementation", np.copyto)


def sigmoid(x: ndarray) -> ndarray:
    """1 / (1 + e^-x), in place in one buffer. For very negative x, e^-x overflows to inf and
    1 / inf = 0 is the right answer (relative accuracy holds everywhere), so the overflow
    warning is silenced instead of paying for a branch-free "stable" form (3x slower)."""
    out = np.negative(x, out=np.empty(x.shape, np.result_type(x, 1.0)))
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def softplus(x: ndarray) -> ndarray:
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): only e^-|x| is computed, finite for any x."""
    out = np.log1p(np.exp(-np.abs(x)))
    out += np.maximum(x, 0)
    return out


def logsumexp(x: ndarray, axes: tuple[int, ...]) -> ndarray:
    """log Σ e^x over `axes` with the axes kept (size 1), shifted by the max so nothing
    overflows. Rows of -inf (and empty rows) give -inf."""
    if x.size == 0:
        return np.full(tuple(1 if i in axes else n for i, n in enumerate(x.shape)), -np.inf, x.dtype)
    m = np.max(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True))
    out += m
    return out


def log_softmax(x: ndarray, axis: int = -1) -> ndarray:
    """x - logsumexp(x) along `axis`, shifted by the max so nothing overflows."""
    if x.size == 0:
        return x.copy()
    out = x - row_max(x, axis)
    out -= np.log(row_sum(np.exp(out), axis))
    return out


def softmax(x: ndarray, axis: int = -1) -> ndarray:
    """e^x / Σ e^x along `axis`, shifted by the max so nothing overflows."""
    if x.size == 0:
        return x.copy()
    e = np.exp(x - row_max(x, axis))
    e /= row_sum(e, axis)
    return e


def row_max(x: ndarray, axis: int) -> ndarray:
    """The max along `axis`, kept as a size-1 axis. NumPy reduces a short last axis one row at
    a time; for a 2-D array of up to 32 columns (a few classes), reducing the transposed copy
    along its rows is 3-6x faster ((200, 10): 15 vs 3 us). The max is exact either way."""
    if x.ndim == 2 and axis in (1, -1) and x.shape[1] <= 32:
        return np.maximum.reduce(x.T.copy(), axis=0)[:, None]
    return np.maximum.reduce(x, axis=axis, keepdims=True)


def row_sum(x: ndarray, axis: int) -> ndarray:
    """The sum along `axis`, kept as a size-1 axis. For the rows of a 2-D float32/float64
    array it is a product with a vector of ones (BLAS), 3-10x faster than NumPy's reduction
    along a short last axis ((200, 10): 2 vs 7 us); the order of the additions differs, so
    the last bit may too."""
    if x.ndim == 2 and axis in (1, -1) and x.dtype.char in "fd" and x.shape[1]:
        product = raw_dot if type(x) is ndarray else np.dot
        return product(x, ones(x.shape[1], x.dtype))[:, None]
    return np.add.reduce(x, axis=axis, keepdims=True)


_ONES: dict[tuple[int, np.dtype], ndarray] = {}


def ones(n: int, dtype: np.dtype) -> ndarray:
    """A cached read-only vector of n ones: sums as products with it (BLAS) are several times
    faster than NumPy's reductions along a short or strided axis."""
    key = (n, dtype)
    v = _ONES.get(key)
    if v is None:
        v = _ONES[key] = np.ones(n, dtype)
        v.flags.writeable = False
    return v
