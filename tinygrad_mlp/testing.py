"""Hypothesis strategies for property-testing your own ops against `tg.gradcheck`.

Finite differences only agree with a derivative where the function is smooth, so these
strategies *construct* values that are valid for the op under test (positive, off a kink,
free of near-ties) instead of filtering random ones. Requires `hypothesis` (the `test` extra).

    from hypothesis import given
    import tinygrad_mlp as tg
    from tinygrad_mlp import testing as tgt

    @given(tgt.tensors(avoid=(0.0,)))
    def test_relu_grad(x):
        assert tg.gradcheck(lambda x: x.relu(), [x])
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .tensor import Tensor

Shape = tuple[int, ...]
__all__ = ["shapes", "broadcastable_shapes", "axes", "arrays", "tensors", "positive_arrays",
           "nonzero_arrays", "distinct_arrays", "elements"]


def _shape_or_draw(shape: Shape | st.SearchStrategy | None) -> st.SearchStrategy:
    if shape is None:
        return shapes()
    return shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
           max_side: int = 3) -> st.SearchStrategy[Shape]:
    """Array shapes, 0-d (a scalar) to 4-d with small sides by default, so that a
    finite-difference check (two forward passes per element) stays cheap.

        >>> shapes(min_dims=1, max_dims=2).example()   # e.g. (3, 1)
    """
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, *, signature: str | None = None,
                         min_dims: int = 0, max_dims: int = 4, min_side: int = 1,
                         max_side: int = 3) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of `num_shapes` shapes that broadcast together (0-d included), or that fit a
    gufunc `signature` such as `np.matmul.signature` (1-D, 2-D and batched operands).

        >>> a_shape, b_shape = broadcastable_shapes().example()   # e.g. ((2, 1), (3,))
    """
    kw: dict[str, Any] = dict(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                              max_side=max_side)
    if signature is None:
        kw["num_shapes"] = num_shapes
    else:
        kw["signature"] = signature
    return hnp.mutually_broadcastable_shapes(**kw).map(lambda b: b.input_shapes)


def axes(ndim: int) -> st.SearchStrategy[Any]:
    """An `axis` argument for a reduction over an `ndim`-d array: None, an int (negative
    too) or a tuple of distinct axes (possibly empty).

        >>> axes(3).example()   # e.g. -1, (0, 2), None
    """
    ints = st.integers(-ndim, ndim - 1) if ndim else st.nothing()
    return st.none() | ints | hnp.valid_tuple_axes(ndim)


def _pieces(lo: float, hi: float, avoid: Iterable[float], margin: float) -> list[tuple[float, float]]:
    """[lo, hi] minus the open intervals (p - margin, p + margin) around each avoided point."""
    if lo > hi:
        raise ValueError(f"elements: lo={lo} is above hi={hi}")
    pieces, start = [], lo
    for p in sorted(avoid):
        end = min(p - margin, hi)
        if end > start:
            pieces.append((start, end))
        start = max(start, p + margin)
    if hi > start:
        pieces.append((start, hi))
    if not pieces:
        raise ValueError(f"no values left in [{lo}, {hi}] after avoiding {tuple(avoid)} "
                         f"with margin {margin}")
    return pieces


def elements(lo: float = -3.0, hi: float = 3.0, avoid: Iterable[float] = (),
             margin: float = 0.1) -> st.SearchStrategy[float]:
    """Floats in [lo, hi] at least `margin` away from every point in `avoid` (e.g. a kink).
    Drawn from the allowed intervals directly, so nothing is filtered out."""
    return st.one_of([st.floats(a, b, allow_nan=False, allow_infinity=False,
                                allow_subnormal=False)
                      for a, b in _pieces(lo, hi, avoid, margin)])


def arrays(shape: Shape | st.SearchStrategy | None = None, *, lo: float = -3.0, hi: float = 3.0,
           avoid: Iterable[float] = (), margin: float = 0.1,
           dtype: Any = np.float64) -> st.SearchStrategy[np.ndarray]:
    """Float arrays of `shape` (a tuple, a shape strategy, or None to draw one with `shapes()`)
    with values in [lo, hi], kept `margin` away from the points in `avoid`.

        >>> arrays((2, 3), avoid=(0.0,)).example()   # no |value| < 0.1: safe for relu/abs
    """
    avoid = tuple(avoid)
    elems = elements(lo, hi, avoid, margin)
    return _shape_or_draw(shape).flatmap(
        lambda s: hnp.arrays(np.float64, s, elements=elems)).map(lambda a: a.astype(dtype))


def tensors(shape: Shape | st.SearchStrategy | None = None, *, requires_grad: bool = True,
            **kwargs: Any) -> st.SearchStrategy[Tensor]:
    """Tensors around `arrays(shape, **kwargs)`, requiring grad by default.

        >>> tensors((3,), lo=0.1).example()   # positive: fine for log and sqrt
    """
    return arrays(shape, **kwargs).map(lambda a: Tensor(a, requires_grad=requires_grad))


def positive_arrays(shape: Shape | st.SearchStrategy | None = None, *, lo: float = 0.1,
                    hi: float = 3.0, **kwargs: Any) -> st.SearchStrategy[np.ndarray]:
    """Arrays in [lo, hi] with lo > 0: the domain of log, sqrt and non-integer powers."""
    if lo <= 0:
        raise ValueError(f"positive_arrays: lo must be > 0, got {lo}")
    return arrays(shape, lo=lo, hi=hi, **kwargs)


def nonzero_arrays(shape: Shape | st.SearchStrategy | None = None, *, margin: float = 0.5,
                   bound: float = 3.0, **kwargs: Any) -> st.SearchStrategy[np.ndarray]:
    """Arrays with margin <= |value| <= bound: safe divisors (1/b stays moderate)."""
    return arrays(shape, lo=-bound, hi=bound, avoid=(0.0,), margin=margin, **kwargs)


def distinct_arrays(*shapes_: Shape, spacing: float = 0.25,
                    dtype: Any = np.float64) -> st.SearchStrategy[tuple[np.ndarray, ...]]:
    """Arrays of the given shapes whose values, taken all together, differ pairwise by at least
    `spacing`: distinct integers times `spacing` plus one drawn offset. For max/min/maximum/
    minimum, whose gradient jumps at ties; keep `spacing` >> the finite-difference eps.

        >>> a, b = distinct_arrays((2, 1), (3,)).example()   # no a[i] == b[j], nor close
    """
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes_]
    n = sum(sizes)
    span = 2 * n + 4
    ints = st.lists(st.integers(-span, span), min_size=n, max_size=n, unique=True)
    offset = st.floats(0.0, spacing / 2, allow_subnormal=False)

    def build(vals: Sequence[int], off: float) -> tuple[np.ndarray, ...]:
        flat = np.asarray(vals, dtype=np.float64) * spacing + off
        cuts = np.cumsum(sizes)[:-1]
        return tuple(part.reshape(s).astype(dtype) for part, s in zip(np.split(flat, cuts), shapes_))

    return st.builds(build, ints, offset)
