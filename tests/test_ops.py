"""Every differentiable op of the public API, property-tested with Hypothesis.

Each test draws shapes (broadcast pairs for binary ops, 0-d included), values valid for the
op (positive for log, off kinks for relu/abs/clip, no ties for max/min), parameters (axis,
keepdims, slope, ...) and an upstream gradient `v`, then checks
  * the forward value against NumPy,
  * the vector-Jacobian product v·J against central finite differences (`tg.gradcheck` of
    sum(f(x) * v)), and
  * the second derivatives (`tg.gradgradcheck` with the same `v`), which also exercises every
    backward rule under create_graph=True.
Kinks and ties are kept out by the strategies, never by loosening tolerances.
"""
from __future__ import annotations

import operator
import warnings
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from tinygrad_mlp import testing as tgt

Case = tuple[tuple[np.ndarray, ...], dict]


def check(f: Callable, f_np: Callable, arrays: tuple[np.ndarray, ...], kw: dict,
          v: np.ndarray, second: bool = True) -> None:
    """Forward vs NumPy, first derivatives vs finite differences, then second derivatives."""
    xs = [Tensor(a, requires_grad=True) for a in arrays]
    out = f(*xs, **kw)
    want = np.asarray(f_np(*arrays, **kw))
    assert isinstance(out, Tensor) and out.requires_grad
    assert out.shape == want.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, want, rtol=1e-10, atol=1e-12)
    assert tg.gradcheck(lambda *t: (f(*t, **kw) * v).sum(), xs)
    if second:
        assert tg.gradgradcheck(lambda *t: f(*t, **kw), xs, grad_outputs=v)


@st.composite
def with_v(draw: Any, cases: st.SearchStrategy, f_np: Callable) -> tuple[Case, np.ndarray]:
    """A case (inputs, params) and an upstream gradient shaped like the op's output."""
    arrays, kw = draw(cases)
    out_shape = np.shape(f_np(*arrays, **kw))
    return (arrays, kw), draw(tgt.arrays(out_shape, lo=-2.0, hi=2.0), label="v")


def op_test(f: Callable, f_np: Callable, cases: st.SearchStrategy, second: bool = True) -> Callable:
    """A Hypothesis test of op `f` (Tensors in) against `f_np` (ndarrays in) on `cases`."""
    @given(case=with_v(cases, f_np))
    def test(case: tuple[Case, np.ndarray]) -> None:
        (arrays, kw), v = case
        check(f, f_np, arrays, kw, v, second)
    return test


def pinned(test: Callable, *cases: tuple[Case, np.ndarray]) -> Callable:
    """Attach explicit @example cases (regressions Hypothesis found) to an op test."""
    for c in cases:
        test = example(case=c)(test)
    return test


# ------------------------------------------------------------------ case strategies
def one(arrays: st.SearchStrategy, **params: st.SearchStrategy) -> st.SearchStrategy[Case]:
    """A single input array plus drawn keyword parameters."""
    return st.tuples(arrays.map(lambda a: (a,)), st.fixed_dictionaries(params))


@st.composite
def pair(draw: Any, a_kw: dict | None = None, b_kw: dict | None = None, signature: str | None = None,
         distinct: bool = False) -> Case:
    """Two arrays of mutually broadcastable shapes (or shapes fitting a gufunc signature)."""
    if signature is not None:
        sa, sb = draw(tgt.broadcastable_shapes(signature=signature, max_dims=2))
    else:
        sa, sb = draw(tgt.broadcastable_shapes(2))
    if distinct:
        return draw(tgt.distinct_arrays(sa, sb)), {}
    return (draw(tgt.arrays(sa, **(a_kw or {}))), draw(tgt.arrays(sb, **(b_kw or {})))), {}


@st.composite
def reduction(draw: Any, distinct: bool = False) -> Case:
    shape = draw(tgt.shapes())
    x = draw(tgt.distinct_arrays(shape))[0] if distinct else draw(tgt.arrays(shape))
    return (x,), {"axis": draw(tgt.axes(len(shape))), "keepdims": draw(st.booleans())}


@st.composite
def along_axis(draw: Any) -> Case:
    """An array of at least one dimension and one of its axes (possibly negative)."""
    shape = draw(tgt.shapes(min_dims=1))
    return (draw(tgt.arrays(shape, lo=-5.0, hi=5.0)),), {"axis": draw(st.integers(-len(shape), len(shape) - 1))}


@st.composite
def clip_case(draw: Any) -> Case:
    """Bounds (either may be None) and values kept off both bounds, where clip has kinks."""
    lo = draw(st.none() | st.floats(-2.0, 0.5))
    hi = (0.0 if lo is None else lo) + draw(st.floats(0.2, 2.0))
    if lo is not None and draw(st.booleans()):
        hi = None
    bounds = [b for b in (lo, hi) if b is not None]
    x = draw(tgt.arrays(avoid=bounds, margin=0.05))
    return (x,), {"lo": lo, "hi": hi}


@st.composite
def pow_scalar_case(draw: Any) -> Case:
    """x ** p: integer p on any x, real p on positive x."""
    p = draw(st.sampled_from([2, 3, 1, 0]) | st.floats(-2.5, 2.5))
    # |x| >= 1e-3 for integer p: the second derivative of x**0 is formed as 0 * x**-2, which
    # overflows for |x| < 1e-154 (x == 0 itself is pinned by the examples below)
    x = draw(tgt.arrays(lo=-2.0, hi=2.0, avoid=(0.0,), margin=1e-3) if isinstance(p, int)
             else tgt.positive_arrays(lo=0.2, hi=2.5))
    return (x,), {"p": p}


@st.composite
def where_case(draw: Any) -> Case:
    sc, sa, sb = draw(tgt.broadcastable_shapes(3))
    cond = draw(hnp.arrays(np.bool_, sc))
    return (draw(tgt.arrays(sa)), draw(tgt.arrays(sb))), {"cond": cond}


@st.composite
def reshape_case(draw: Any) -> Case:
    """A new shape with the same size: the sides permuted, some merged, ones inserted,
    and maybe one side given as -1."""
    shape = draw(tgt.shapes())
    sides = draw(st.permutations(list(shape)))
    new: list[int] = []
    for s in sides:
        if new and draw(st.booleans()):
            new[-1] *= s
        else:
            new.append(s)
    for _ in range(draw(st.integers(0, 2))):
        new.insert(draw(st.integers(0, len(new))), 1)
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return (draw(tgt.arrays(shape)),), {"shape": tuple(new)}


@st.composite
def transpose_case(draw: Any) -> Case:
    """A permutation of the axes (some written negative), or None for `.T`."""
    shape = draw(tgt.shapes())
    n = len(shape)
    axes = None
    if draw(st.booleans()):
        axes = tuple(a - n if draw(st.booleans()) else a for a in draw(st.permutations(range(n))))
    return (draw(tgt.arrays(shape)),), {"axes": axes}


@st.composite
def basic_index_case(draw: Any) -> Case:
    shape = draw(tgt.shapes())
    return (draw(tgt.arrays(shape)),), {"idx": draw(hnp.basic_indices(shape, allow_newaxis=True))}


@st.composite
def int_array_index_case(draw: Any) -> Case:
    """Integer-array indices with repeats: along axis 0, along axis 1 after a slice, or one
    index array per axis."""
    shape = draw(tgt.shapes(min_dims=1))
    n = shape[0]
    kind = draw(st.sampled_from(["axis0", "list", "after_slice", "per_axis"]))
    rep = st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)
    if kind == "axis0":
        idx: Any = np.array(draw(rep))
    elif kind == "list":
        idx = draw(rep)
    elif kind == "after_slice" and len(shape) >= 2:
        m = shape[1]
        idx = (slice(None), np.array(draw(st.lists(st.integers(-m, m - 1), min_size=1, max_size=6))))
    else:
        idx = draw(hnp.integer_array_indices(shape, result_shape=tgt.shapes(max_dims=2)))
    return (draw(tgt.arrays(shape)),), {"idx": idx}


@st.composite
def concat_case(draw: Any) -> Case:
    shape = list(draw(tgt.shapes(min_dims=1)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    arrays = []
    for _ in range(draw(st.integers(1, 3))):
        shape[axis] = draw(st.integers(1, 3))
        arrays.append(draw(tgt.arrays(tuple(shape))))
    return tuple(arrays), {"axis": axis}


@st.composite
def stack_case(draw: Any) -> Case:
    shape = draw(tgt.shapes())
    k = draw(st.integers(1, 3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return tuple(draw(tgt.arrays(shape)) for _ in range(k)), {"axis": axis}


ANY = tgt.arrays()
OFF_ZERO = tgt.arrays(avoid=(0.0,))


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _transpose(x, axes):
    return x.T if axes is None else x.transpose(*axes)


# ------------------------------------------------------------------ arithmetic
test_add = op_test(lambda a, b: a + b, np.add, pair())
test_sub = op_test(lambda a, b: a - b, np.subtract, pair())
test_mul = op_test(lambda a, b: a * b, np.multiply, pair())
test_div = op_test(lambda a, b: a / b, np.divide, pair(b_kw=dict(lo=-3.0, hi=3.0, avoid=(0.0,), margin=0.5)))
# Found by Hypothesis: at a == 0 the pow rules formed 0 * inf = nan (d/dx x**0, d/dx of the
# derivative of x**1, d/dw 0**w); PyTorch's values there are 0.
test_pow_tensor_exponent = op_test(lambda a, b: a ** b, np.power,
                                   pair(a_kw=dict(lo=0.2, hi=2.5), b_kw=dict(lo=-2.0, hi=2.0)))
test_pow_scalar_exponent = pinned(
    op_test(lambda x, p: x ** p, lambda x, p: x ** p, pow_scalar_case()),
    (((np.array(0.0),), {"p": 1}), np.array(1.0)),
    (((np.array([0.0, 1.5]),), {"p": 0}), np.array([1.0, 2.0])))
test_rpow = op_test(lambda x, base: base ** x, lambda x, base: base ** x,
                    one(tgt.arrays(lo=-2.0, hi=2.0), base=st.floats(0.2, 3.0)))
test_matmul = op_test(lambda a, b: a @ b, np.matmul, pair(signature=np.matmul.signature))
test_neg = op_test(lambda x: -x, np.negative, one(ANY))

# ------------------------------------------------------------------ elementwise
test_exp = op_test(lambda x: x.exp(), np.exp, one(ANY))
test_log = op_test(lambda x: x.log(), np.log, one(tgt.positive_arrays()))
test_sqrt = op_test(lambda x: x.sqrt(), np.sqrt, one(tgt.positive_arrays()))
test_abs = op_test(lambda x: x.abs(), np.abs, one(OFF_ZERO))
test_tanh = op_test(lambda x: x.tanh(), np.tanh, one(tgt.arrays(lo=-4.0, hi=4.0)))
test_sigmoid = op_test(lambda x: x.sigmoid(), _sigmoid, one(tgt.arrays(lo=-6.0, hi=6.0)))
test_relu = op_test(lambda x: x.relu(), lambda x: np.maximum(x, 0), one(OFF_ZERO))
test_leaky_relu = op_test(lambda x, s: tg.leaky_relu(x, s), lambda x, s: np.where(x > 0, x, s * x),
                          one(OFF_ZERO, s=st.floats(0.0, 0.5)))
test_softplus = op_test(lambda x: x.softplus(), lambda x: np.log1p(np.exp(x)),
                        one(tgt.arrays(lo=-6.0, hi=6.0)))
test_clip = op_test(lambda x, lo, hi: x.clip(lo, hi), lambda x, lo, hi: np.clip(x, lo, hi), clip_case())
test_maximum = op_test(tg.maximum, np.maximum, pair(distinct=True))
test_minimum = op_test(tg.minimum, np.minimum, pair(distinct=True))
test_where = op_test(lambda a, b, cond: tg.where(cond, a, b), lambda a, b, cond: np.where(cond, a, b),
                     where_case())

# ------------------------------------------------------------------ reductions
test_sum = op_test(lambda x, **k: x.sum(**k), lambda x, **k: np.sum(x, **k), reduction())
test_mean = op_test(lambda x, **k: x.mean(**k), lambda x, **k: np.mean(x, **k), reduction())
test_max = op_test(lambda x, **k: x.max(**k), lambda x, **k: np.max(x, **k), reduction(distinct=True))
test_min = op_test(lambda x, **k: x.min(**k), lambda x, **k: np.min(x, **k), reduction(distinct=True))
test_logsumexp = op_test(lambda x, **k: x.logsumexp(**k),
                         lambda x, **k: np.log(np.sum(np.exp(x), **k)), reduction())
test_softmax = op_test(lambda x, axis: x.softmax(axis), _softmax, along_axis())
test_log_softmax = op_test(lambda x, axis: tg.log_softmax(x, axis),
                           lambda x, axis: np.log(_softmax(x, axis)), along_axis())

# ------------------------------------------------------------------ shape
test_reshape = op_test(lambda x, shape: x.reshape(*shape), lambda x, shape: x.reshape(shape), reshape_case())
test_transpose = op_test(_transpose, _transpose, transpose_case())
test_flatten = op_test(lambda x: x.flatten(), lambda x: x.reshape(-1), one(ANY))
test_getitem_basic = op_test(lambda x, idx: x[idx], lambda x, idx: x[idx], basic_index_case())
test_getitem_int_arrays = op_test(lambda x, idx: x[idx], lambda x, idx: x[idx], int_array_index_case())
test_concatenate = op_test(lambda *xs, axis: tg.concatenate(xs, axis=axis),
                           lambda *xs, axis: np.concatenate(xs, axis=axis), concat_case())
test_stack = op_test(lambda *xs, axis: tg.stack(xs, axis=axis),
                     lambda *xs, axis: np.stack(xs, axis=axis), stack_case())


# ------------------------------------------------------------------ beyond the properties
@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**", "@"])
@given(x=tgt.positive_arrays((3,), lo=0.5), c=tgt.positive_arrays((3,), lo=0.5))
def test_reflected_operators_with_ndarray_constant(op: str, x: np.ndarray, c: np.ndarray) -> None:
    """`ndarray <op> Tensor` is a Tensor whose gradient matches finite differences."""
    f = {"+": lambda t: c + t, "-": lambda t: c - t, "*": lambda t: c * t, "/": lambda t: c / t,
         "**": lambda t: c ** t, "@": lambda t: c @ t}[op]
    t = Tensor(x, requires_grad=True)
    out = f(t)
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, f(x))
    assert tg.gradcheck(f, [t])
    assert tg.gradgradcheck(f, [t])


@pytest.mark.parametrize("fn", [tg.maximum, tg.minimum])
def test_maximum_tie_splits_gradient(fn: Callable) -> None:
    """At a tie the gradient is shared equally (PyTorch's choice), not sent twice."""
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([1.0, 5.0, 0.0], requires_grad=True)
    fn(a, b).sum().backward()
    big = fn is tg.maximum
    np.testing.assert_array_equal(a.grad.data, [0.5, 0.0 if big else 1.0, 1.0 if big else 0.0])
    np.testing.assert_array_equal(a.grad.data + b.grad.data, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("method", ["max", "min"])
def test_reduction_tie_shares_gradient(method: str) -> None:
    x = Tensor([[2.0, 2.0, -1.0], [0.0, 3.0, 3.0]], requires_grad=True)
    getattr(x, method)(axis=1).sum().backward()
    want = [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]] if method == "max" else [[0, 0, 1.0], [1.0, 0, 0]]
    np.testing.assert_array_equal(x.grad.data, want)


def test_pow_at_zero_base_has_finite_gradients() -> None:
    """Regression: 0 * inf = nan in the pow rules at a == 0. PyTorch's values: d/dx x**0 = 0,
    d/dw 0**w = 0 for w >= 0 (0**w is 0 for w > 0), d/dx x**w = w * 0**(w-1)."""
    x = Tensor([0.0, 0.0, 0.0], requires_grad=True)
    w = Tensor([0.0, 1.0, 2.5], requires_grad=True)
    with np.errstate(all="raise"):
        (x ** w).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(w.grad.data, [0.0, 0.0, 0.0])
    assert tg.gradcheck(lambda a, b: a ** b, [Tensor(0.0, requires_grad=True),
                                              Tensor([2.0, 3.0], requires_grad=True)])


def test_stack_and_concatenate_reject_bad_axes() -> None:
    """Regression: stack silently wrapped an out-of-range axis (axis=5 of 2 became 1)."""
    a = Tensor([1.0, 2.0])
    for axis in (2, -3, 5):
        with pytest.raises(ValueError, match="axis"):
            tg.stack([a, a], axis=axis)
    with pytest.raises(ValueError, match="Concatenate"):
        tg.concatenate([a, a], axis=1)
    with pytest.raises(ValueError, match="same shape"):
        tg.stack([a, Tensor([1.0])])


def test_getitem_repeated_indices_accumulate() -> None:
    x = Tensor(np.arange(4.0), requires_grad=True)
    x[np.array([0, 2, 0, 0, -1])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu",
                                  "softplus", "leaky_relu", "softmax", "log_softmax", "logsumexp"])
def test_functional_forms_match_methods(name: str) -> None:
    """`tg.<name>(x)` is `x.<name>()`, and accepts an ndarray."""
    x = np.array([[0.5, 1.5, 2.0], [0.25, 3.0, 1.0]])
    np.testing.assert_array_equal(getattr(tg, name)(x).data, getattr(Tensor(x), name)().data)


def test_clip_functional_form() -> None:
    x = np.array([-2.0, 0.5, 2.0])
    np.testing.assert_array_equal(tg.clip(x, -1.0, 1.0).data, [-1.0, 0.5, 1.0])


# ------------------------------------------------------------------ numerical stability
STABLE: dict[str, tuple[Callable[[Tensor], Tensor], list, list]] = {
    # name: (op, value at [-1e4, 0, 1e4], d sum(op) / dx there)
    "sigmoid": (lambda x: x.sigmoid(), [0.0, 0.5, 1.0], [0.0, 0.25, 0.0]),
    "softplus": (lambda x: x.softplus(), [0.0, np.log(2.0), 1e4], [0.0, 0.5, 1.0]),
    "logsumexp": (lambda x: x.logsumexp(), 1e4, [0.0, 0.0, 1.0]),
    "log_softmax": (lambda x: x.log_softmax(), [-2e4, -1e4, 0.0], [1.0, 1.0, -2.0]),
    "softmax": (lambda x: x.softmax(), [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(STABLE))
def test_extreme_inputs_are_finite_correct_and_warning_free(name: str, dtype: Any) -> None:
    """At ±1e4 nothing overflows and no NumPy warning is emitted. Underflow (e^-1e4 -> 0) is
    the correct result and ignored, as NumPy does by default."""
    op, value, grad = STABLE[name]
    x = Tensor(np.array([-1e4, 0.0, 1e4], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        y = op(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(y.data, value, rtol=1e-6)
    np.testing.assert_allclose(x.grad.data, grad, atol=1e-6)




# ------------------------------------------------------------------ edge cases found by probing
def test_transpose_with_an_out_of_range_axis_is_an_error() -> None:
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"transpose: axis 2 is out of range"):
        x.transpose(0, 2)
    with pytest.raises(ValueError, match="not a permutation"):
        x.transpose(0, 0)
    with pytest.raises(ValueError, match="not a permutation"):
        x.transpose(0, 1, 2)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "logsumexp"])
def test_reduction_axis_errors_name_the_op_and_axis(op: str) -> None:
    with pytest.raises(ValueError, match=rf"{op}: axis 5 is out of range for a tensor of dimension 2"):
        getattr(Tensor(np.ones((2, 3))), op)(axis=5)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "logsumexp"])
@pytest.mark.parametrize("axis", [0, -1, (0,)])
def test_reductions_over_axis_0_or_minus_1_of_a_0d_tensor(op: str, axis: Any) -> None:
    """PyTorch's rule: a 0-d tensor has one "axis" 0 (or -1); reducing over it is the identity
    (logsumexp of one value is the value)."""
    x = Tensor(1.5, requires_grad=True)
    y = getattr(x, op)(axis=axis)
    assert y.shape == () and y.item() == pytest.approx(1.5)
    y.backward()
    assert x.grad.item() == pytest.approx(1.0)


def test_softmax_like_ops_on_a_0d_tensor() -> None:
    x = Tensor(0.3, requires_grad=True)
    assert x.softmax().item() == 1.0 and x.log_softmax().item() == 0.0
    with pytest.raises(ValueError, match="softmax: axis 1"):
        x.softmax(axis=1)


def test_empty_axis_softmax_logsumexp_without_warnings() -> None:
    x = Tensor(np.zeros((2, 0)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.softmax().shape == (2, 0) and x.log_softmax().shape == (2, 0)
        lse = x.logsumexp(axis=1)
        np.testing.assert_array_equal(lse.data, [-np.inf, -np.inf])   # PyTorch: log(0) = -inf
        (x.softmax().sum() + x.log_softmax().sum()).backward()
        assert x.grad.shape == (2, 0)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool])
def test_max_and_min_of_integer_and_bool_tensors(dtype: Any) -> None:
    a = np.array([[3, 1], [2, 5]]).astype(dtype)
    t = Tensor(a)
    np.testing.assert_array_equal(t.max().data, a.max())
    np.testing.assert_array_equal(t.min(axis=0).data, a.min(axis=0))
    assert t.max(axis=1).dtype == a.dtype


@pytest.mark.parametrize("x", [1e-310, -1e-310, 0.0, 5e-324, 1e-300, 2.0])
def test_x_to_the_zero_has_slope_zero_even_for_tiny_x(x: float) -> None:
    t = Tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (t ** 0.0).backward()
    assert t.grad.item() == 0.0


def test_relu_of_minus_infinity_is_zero() -> None:
    x = Tensor([-np.inf, -1.0, 2.0, np.inf], requires_grad=True)
    y = x.relu()
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 2.0, np.inf])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0, 1.0])


@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv,
                                operator.pow, tg.maximum, tg.minimum])
def test_a_0d_float64_tensor_does_not_upcast_a_float32_tensor(op: Callable) -> None:
    """PyTorch's rule (NumPy would upcast): a 0-d tensor of the same kind does not change the
    dtype of a tensor with dimensions, either way round; the gradient keeps each dtype."""
    s = Tensor(np.array(2.0), requires_grad=True)                       # 0-d float64
    v = Tensor(np.array([1.5, 3.0], dtype=np.float32), requires_grad=True)
    for out in (op(v, s), op(s, v)):
        assert out.dtype == np.float32
        out.sum().backward()
    assert s.grad.dtype == np.float64 and v.grad.dtype == np.float32
