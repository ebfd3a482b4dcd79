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


class _Dispatching(np.ndarray):
    """An ndarray subclass that overrides NumPy's __array_function__ protocol, as tg.compile's
    traced arrays do: the engine's raw (undispatched) dot and copyto must not bypass it."""
    seen: list[str] = []

    def __array_function__(self, func, types, args, kwargs):
        _Dispatching.seen.append(func.__name__)
        return super().__array_function__(func, types, args, kwargs)


def test_raw_kernels_are_numpys_own_c_functions():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(kernels.raw_dot(a, b), np.dot(a, b))
    out = np.zeros(3)
    kernels.raw_copyto(out, a[1])
    np.testing.assert_array_equal(out, a[1])


def test_products_of_a_subclass_keep_numpys_dispatch():
    import tinygrad_mlp as tg
    from tinygrad_mlp import functional as F, ops
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    for call in (lambda a: ops.dot(a, w.T), lambda a: ops.column_sum(a),
                 lambda a: kernels.row_sum(a, 1)):
        _Dispatching.seen.clear()
        got = call(x.view(_Dispatching))
        assert _Dispatching.seen == ["dot"]
        np.testing.assert_array_equal(np.asarray(got), call(x))      # same result, plain
    _Dispatching.seen.clear()                     # Linear's backward: x saved as the subclass
    xs = tg.Tensor(x.view(_Dispatching), requires_grad=True)
    W = tg.Tensor(w, requires_grad=True)
    F.linear(xs, W, tg.Tensor(b)).sum().backward()
    assert _Dispatching.seen.count("dot") >= 2      # forward's product and gW = g.T @ x
    np.testing.assert_allclose(np.asarray(W.grad.data), np.ones((5, 2)).T @ x)
