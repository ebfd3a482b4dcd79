"""The shared kernels' fast reductions against NumPy's own: `row_max` (a transposed copy for
few columns) is exact, `row_sum` (a product with ones) equals np.sum to rounding, for any
shape, layout and dtype, including the fallbacks."""
import warnings

import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from tinygrad_mlp import kernels


@st.composite
def matrices(draw: st.DrawFn) -> np.ndarray:
    dtype = draw(st.sampled_from([np.float32, np.float64, np.float16]))
    shape = draw(st.tuples(st.integers(0, 40), st.integers(0, 40)))
    x = draw(arrays(dtype, shape, elements=st.floats(-1e3, 1e3, width=16)))
    return x.T if draw(st.booleans()) else x          # a transposed (non-contiguous) view too


@given(matrices(), st.sampled_from([1, -1, 0]))
def test_row_sum_is_the_sum_kept(x, axis):
    expected = np.sum(x, axis=axis, keepdims=True)
    got = kernels.row_sum(x, axis)
    assert got.shape == expected.shape and got.dtype == x.dtype
    tol = {"e": 1e-2, "f": 1e-5, "d": 1e-12}[x.dtype.char]
    scale = 1 + np.abs(x, dtype=np.float64).sum()
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


@given(matrices().filter(lambda x: x.size), st.sampled_from([1, -1, 0]))
def test_row_max_is_exact(x, axis):
    expected = np.max(x, axis=axis, keepdims=True)
    got = kernels.row_max(x, axis)
    assert got.shape == expected.shape and got.dtype == x.dtype
    np.testing.assert_array_equal(got, expected)


def test_row_sum_other_ranks_fall_back_to_numpy():
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(kernels.row_sum(x, -1), x.sum(axis=-1, keepdims=True))
    v = np.arange(5.0)
    np.testing.assert_array_equal(kernels.row_sum(v, -1), v.sum(keepdims=True))


def test_row_sum_of_infinities_is_numpys():
    """inf and -inf in a row sum to nan, one inf to inf, as in NumPy's sum."""
    x = np.array([[np.inf, -np.inf, 1.0], [np.inf, 1.0, 2.0], [-np.inf, 0.0, 0.0]])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(kernels.row_sum(x, -1), x.sum(axis=-1, keepdims=True))


def test_row_sum_of_finite_rows_is_quiet():
    x = np.random.default_rng(0).standard_normal((50, 10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kernels.row_sum(x, -1)


def test_the_shared_ones_are_cached_and_not_writable():
    """The vector of ones the sums multiply by is shared by every call: nobody can change it."""
    ones = kernels.ones(7, np.dtype(np.float64))
    assert kernels.ones(7, np.dtype(np.float64)) is ones
    assert not ones.flags.writeable and ones.tolist() == [1.0] * 7
