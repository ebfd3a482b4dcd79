"""The backward engine: accumulation, graph lifetime, modes, tg.grad, higher derivatives,
custom Functions, anomaly detection, invariants (no mutation, no aliasing, no cycles),
deep graphs, error messages and numerical stability at extreme inputs."""
from __future__ import annotations

import gc
import inspect
import warnings
import weakref
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from tinygrad_mlp import testing as tgt

RNG = np.random.default_rng(1234)


def leaf(*shape: int) -> Tensor:
    return Tensor(RNG.standard_normal(shape), requires_grad=True)


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Only reference counting may free things: a graph kept alive by a cycle would leak."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# ------------------------------------------------------------------ accumulation and DAGs
def test_gradients_accumulate_across_backward_calls() -> None:
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 4 * x.data)
    x.grad = None
    (3.0 * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0, 3.0])


def test_reused_node_gradients_add_up() -> None:
    x = Tensor([0.3, -1.2], requires_grad=True)
    h = x.tanh()
    (h + h * h).sum().backward()   # h used three times
    t = np.tanh(x.data)
    np.testing.assert_allclose(x.grad.data, (1 + 2 * t) * (1 - t * t))
    y = Tensor(2.0, requires_grad=True)
    (y * y * y).backward()
    assert y.grad.item() == pytest.approx(12.0)


def test_diamond_graph() -> None:
    """x -> a -> (b, c) -> d: both paths into `a` must be summed, not overwritten."""
    x = Tensor([0.5, -0.25, 1.0], requires_grad=True)
    a = x * 2.0
    b, c = a.tanh(), a * a
    (b * c).sum().backward()
    av = 2 * x.data
    want = 2 * ((1 - np.tanh(av) ** 2) * av ** 2 + np.tanh(av) * 2 * av)
    np.testing.assert_allclose(x.grad.data, want)
    assert tg.gradcheck(lambda x: (lambda a: a.tanh() * (a * a))(x * 2.0), [x])


def test_chain_of_diamonds_is_linear_not_exponential() -> None:
    """200 stacked diamonds have 2^200 paths; each node must be processed once."""
    x = Tensor(0.3, requires_grad=True)
    h, val, d = x, 0.3, 1.0
    for _ in range(200):
        h = h.tanh() + h * 0.5
        d = (1 - np.tanh(val) ** 2) * d + 0.5 * d
        val = np.tanh(val) + 0.5 * val
    h.backward()
    assert x.grad.item() == pytest.approx(d, rel=1e-9)


# ------------------------------------------------------------------ graph lifetime
def test_second_backward_without_retain_graph_raises() -> None:
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = leaf(3)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)


def test_backward_frees_saved_buffers(no_gc: None) -> None:
    x = leaf(4)
    h = x.abs()                               # saves sign(x): an array only the graph holds
    ref = weakref.ref(h.grad_fn.sign)
    (h * 2.0).sum().backward()
    assert ref() is None


def test_retained_graph_keeps_saved_buffers(no_gc: None) -> None:
    x = leaf(4)
    h = x.abs()
    ref = weakref.ref(h.grad_fn.sign)
    (h * 2.0).sum().backward(retain_graph=True)
    assert ref() is not None


@pytest.mark.parametrize("backward", [False, True])
def test_graph_is_freed_when_the_output_is_dropped(no_gc: None, backward: bool) -> None:
    """No reference cycles: the intermediate dies by reference counting alone."""
    x = leaf(3)
    h = x.tanh()
    ref = weakref.ref(h)
    out = (h * h + h.exp()).sum()
    if backward:
        out.backward(retain_graph=True)
    del h
    assert ref() is not None       # still part of out's graph
    del out
    assert ref() is None


def test_million_op_chain_backpropagates() -> None:
    """No recursion anywhere: topological sort and backward handle a 1,000,000-node chain."""
    x = Tensor(1.5, requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = -y
    y.backward()
    assert x.grad.item() == 1.0


# ------------------------------------------------------------------ modes
def test_no_grad_context_manager() -> None:
    x = leaf(2)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2.0
        with tg.enable_grad():
            z = x * 2.0
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and not z.is_leaf


def test_no_grad_decorator_and_exception_safety() -> None:
    @tg.no_grad()
    def double(t: Tensor) -> Tensor:
        return t * 2.0

    x = leaf(2)
    y = double(x)
    assert not y.requires_grad and y.is_leaf and tg.is_grad_enabled()
    with pytest.raises(KeyError):
        with tg.no_grad():
            raise KeyError
    assert tg.is_grad_enabled()


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = leaf(3)
    h = x * 3.0
    d = h.detach()
    assert np.shares_memory(d.data, h.data) and not d.requires_grad and d.is_leaf
    (d * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, d.data)      # no gradient through d


def test_requires_grad_() -> None:
    t = Tensor([1.0, 2.0])
    assert t.requires_grad_() is t and t.requires_grad and t.is_leaf
    (t * t).sum().backward()
    np.testing.assert_allclose(t.grad.data, [2.0, 4.0])
    with pytest.raises(TypeError):
        Tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="detach"):
        (t * 2.0).requires_grad_(False)


def test_retain_grad_keeps_and_accumulates_a_non_leaf_gradient() -> None:
    x = leaf(3)
    h = x.tanh()
    h.retain_grad()
    k = h * 3.0
    y = k.sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(h.grad.data, [3.0, 3.0, 3.0])
    assert k.grad is None                  # not retained: like PyTorch
    y.backward()
    np.testing.assert_allclose(h.grad.data, [6.0, 6.0, 6.0])


# ------------------------------------------------------------------ tg.grad
def test_grad_returns_tuple_and_leaves_dot_grad_alone() -> None:
    x, y, unused = leaf(3), leaf(3), leaf(2)
    x.grad = Tensor(np.full(3, 7.0))
    out = (x * y).sum()
    gx, gy, gu = tg.grad(out, [x, y, unused])
    np.testing.assert_allclose(gx.data, y.data)
    np.testing.assert_allclose(gy.data, x.data)
    np.testing.assert_array_equal(gu.data, np.zeros(2))
    np.testing.assert_array_equal(x.grad.data, np.full(3, 7.0))
    assert y.grad is None and unused.grad is None
    (g,) = tg.grad((x * x).sum(), x)
    np.testing.assert_allclose(g.data, 2 * x.data)


def test_grad_with_respect_to_an_intermediate_and_grad_outputs() -> None:
    x = leaf(3)
    h = x.exp()
    y = h * 2.0
    v = np.array([1.0, -1.0, 0.5])
    (gh,) = tg.grad(y, h, grad_outputs=v)
    np.testing.assert_allclose(gh.data, 2 * v)
    assert x.grad is None


# ------------------------------------------------------------------ higher derivatives
def _derivatives(f: Callable[[Tensor], Tensor], x: Tensor, n: int) -> list[np.ndarray]:
    """d^k f / dx^k for k = 1..n of an elementwise f, by repeated create_graph=True."""
    out, ds = f(x), []
    for k in range(n):
        (out,) = tg.grad(out.sum(), x, create_graph=k < n - 1)
        ds.append(out.data)
    return ds


def test_sigmoid_second_and_third_derivatives() -> None:
    x = Tensor(np.linspace(-4, 4, 9), requires_grad=True)
    s = 1 / (1 + np.exp(-x.data))
    d1, d2, d3 = _derivatives(lambda t: t.sigmoid(), x, 3)
    np.testing.assert_allclose(d1, s * (1 - s), atol=1e-14)
    np.testing.assert_allclose(d2, s * (1 - s) * (1 - 2 * s), atol=1e-14)
    np.testing.assert_allclose(d3, s * (1 - s) * (1 - 6 * s + 6 * s * s), atol=1e-14)


def test_tanh_second_and_third_derivatives() -> None:
    x = Tensor(np.linspace(-3, 3, 9), requires_grad=True)
    t = np.tanh(x.data)
    d1, d2, d3 = _derivatives(lambda u: u.tanh(), x, 3)
    np.testing.assert_allclose(d1, 1 - t * t, atol=1e-14)
    np.testing.assert_allclose(d2, -2 * t * (1 - t * t), atol=1e-14)
    np.testing.assert_allclose(d3, -2 * (1 - t * t) * (1 - 3 * t * t), atol=1e-14)


W = np.array([[0.5, -1.0, 0.3], [0.2, 0.4, -0.7], [1.1, 0.0, 0.6]])


def _f(x: Tensor) -> Tensor:
    return (Tensor(W) @ x).tanh().sum() + 0.1 * (x ** 3).sum() + x[0] * x[1] * x[2].exp()


def test_hessian_by_double_backward_matches_finite_differences() -> None:
    x0 = np.array([0.3, -0.8, 0.5])
    x = Tensor(x0, requires_grad=True)
    (g,) = tg.grad(_f(x), x, create_graph=True)
    hess = np.stack([tg.grad(g[i], x, retain_graph=True)[0].data for i in range(3)])

    def f(v: np.ndarray) -> float:
        with tg.no_grad():
            return _f(Tensor(v)).item()
    h, e = 1e-4, np.eye(3)
    fd = np.array([[(f(x0 + h * e[i] + h * e[j]) - f(x0 + h * e[i] - h * e[j])
                     - f(x0 - h * e[i] + h * e[j]) + f(x0 - h * e[i] - h * e[j])) / (4 * h * h)
                    for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(hess, fd, atol=1e-6)
    np.testing.assert_allclose(hess, hess.T, atol=1e-12)


def test_hessian_vector_product_via_backward_create_graph() -> None:
    x = Tensor(np.array([0.3, -0.8, 0.5]), requires_grad=True)
    _f(x).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad                     # the gradient is itself part of a graph
    x.grad = None
    v = np.array([1.0, 2.0, -1.0])
    (g * v).sum().backward()
    hess = np.stack([tg.grad(tg.grad(_f(x), x, create_graph=True)[0][i], x)[0].data
                     for i in range(3)])
    np.testing.assert_allclose(x.grad.data, hess @ v, rtol=1e-12)


# ------------------------------------------------------------------ custom Functions
class ScaledSquare(tg.Function):
    """c * x²; the gradient's return type is chosen by `ctx.kind` to test every accepted form."""
    @staticmethod
    def forward(ctx, x, c, kind="tensor"):
        ctx.save_for_backward(x, c)
        ctx.kind = kind
        return c * x * x

    @staticmethod
    def backward(ctx, grad):
        assert isinstance(grad, Tensor)
        x, c = ctx.saved_tensors
        gx = grad * 2 * c * x
        if ctx.kind == "ndarray":
            gx = gx.data
        elif ctx.kind == "none":
            gx = None
        return gx, None


@pytest.mark.parametrize("kind", ["tensor", "ndarray", "none"])
def test_custom_function_gradient_forms(kind: str) -> None:
    x, c = leaf(3), Tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = ScaledSquare.apply(x, c, kind=kind)
    np.testing.assert_allclose(y.data, c.data * x.data ** 2)
    assert y.op == "ScaledSquare"
    y.sum().backward()
    assert c.grad is None                   # backward returned None for c
    if kind == "none":
        assert x.grad is None
    else:
        np.testing.assert_allclose(x.grad.data, 2 * c.data * x.data)
        assert isinstance(x.grad, Tensor)


def test_custom_function_is_differentiable_twice_and_unbroadcasts() -> None:
    x = Tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    assert tg.gradgradcheck(lambda x: ScaledSquare.apply(x, Tensor([2.0])), [x])

    class BroadcastGrad(tg.Function):
        @staticmethod
        def forward(ctx, a):
            return np.broadcast_to(a, (4,) + a.shape).copy()

        @staticmethod
        def backward(ctx, grad):
            return grad                         # shape (4, 1, 3): the engine sums it back

    BroadcastGrad.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.full((1, 3), 4.0))


def test_custom_function_with_wrong_gradient_shape_raises() -> None:
    class Bad(tg.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, grad):
            return np.ones(5)

    with pytest.raises(RuntimeError, match=r"Bad.*\(5,\).*\(3,\)"):
        Bad.apply(leaf(3)).sum().backward()


# ------------------------------------------------------------------ detect_anomaly
def test_detect_anomaly_forward_names_op_and_user_line() -> None:
    x = Tensor([1.0, -1.0], requires_grad=True)
    with np.errstate(all="ignore"), tg.detect_anomaly():
        line = inspect.currentframe().f_lineno + 2
        with pytest.raises(FloatingPointError) as err:
            x.log()
    msg = str(err.value)
    assert "Log" in msg and "forward" in msg and f"{__file__}:{line}" in msg


def test_detect_anomaly_backward_names_op_and_user_line() -> None:
    x = Tensor([0.0, 4.0], requires_grad=True)

    @tg.detect_anomaly()
    def run() -> tuple[int, Any]:
        line = inspect.currentframe().f_lineno + 1
        y = x.sqrt()                               # finite forward, infinite slope at 0
        with pytest.raises(FloatingPointError) as err:
            y.sum().backward()
        return line, err

    with np.errstate(all="ignore"):
        line, err = run()
    msg = str(err.value)
    assert "Sqrt" in msg and "backward" in msg and f"{__file__}:{line}" in msg


def test_without_detect_anomaly_nan_passes_silently() -> None:
    x = Tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(all="ignore"):
        x.sqrt().sum().backward()
    assert np.isinf(x.grad.data[0])


# ------------------------------------------------------------------ invariants (MyGrad-style)
BINARY_OPS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "pow": lambda a, b: a ** b, "maximum": tg.maximum,
    "where": lambda a, b: tg.where(a.data > 1.0, a, b),
    "a_reshaped": lambda a, b: a.reshape(a.shape) + b * 0.0,
    "a_transposed": lambda a, b: a.T.T + b,
    "a_sliced": lambda a, b: a[...] - b,
    "a_expanded": lambda a, b: a.sum(keepdims=True) + b,
    "same_twice": lambda a, b: a + a,
    "a_itself": lambda a, b: +a,
}


@st.composite
def binary_inputs(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sa, sb = draw(tgt.broadcastable_shapes())
    a, b = draw(tgt.positive_arrays(sa, lo=0.5)), draw(tgt.positive_arrays(sb, lo=0.5))
    return a, b, draw(tgt.arrays(np.broadcast_shapes(sa, sb)))


# Found by Hypothesis: accumulating 0-d gradients (a + a) left a NumPy scalar, not an ndarray,
# in .grad.data (read-only, not "the live ndarray").
@example(case=(np.array(1.0), np.array(2.0), np.array(0.5)))
@pytest.mark.parametrize("name", sorted(BINARY_OPS))
@given(case=binary_inputs())
def test_no_mutation_and_no_aliasing(name: str, case: tuple) -> None:
    """Forward and backward leave inputs and the upstream gradient untouched; every returned
    gradient is its own writable ndarray, sharing memory with nothing else."""
    a0, b0, v0 = case
    fn = BINARY_OPS[name]
    a, b = Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
    out = fn(a, b)
    v = np.resize(v0, out.shape)      # some ops here change the shape: reuse the drawn values
    v_copy = v.copy()
    out.backward(v)
    np.testing.assert_array_equal(a.data, a0)
    np.testing.assert_array_equal(b.data, b0)
    np.testing.assert_array_equal(v, v_copy)
    grads = [t.grad.data for t in (a, b) if t.grad is not None]
    for i, g in enumerate(grads):
        assert type(g) is np.ndarray and g.flags.writeable
        for other in [v, a.data, b.data, out.data, *grads[i + 1:]]:
            assert not np.shares_memory(g, other)
    gs = tg.grad(fn(a, b), [a, b], grad_outputs=v)
    assert not np.shares_memory(gs[0].data, gs[1].data)
    assert not any(np.shares_memory(g.data, v) for g in gs)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("op, name, sa, sb", [
    (lambda a, b: a + b, "Add", (2, 3), (4,)),
    (lambda a, b: a * b, "Mul", (2, 3), (3, 2)),
    (tg.maximum, "Maximum", (5,), (4,)),
    (lambda a, b: a @ b, "MatMul", (2, 3), (4, 5)),
    (lambda a, b: a @ b, "MatMul", (3,), (2,)),
])
def test_shape_mismatch_names_op_and_both_shapes(op: Callable, name: str, sa: tuple, sb: tuple) -> None:
    with pytest.raises(ValueError) as err:
        op(Tensor(np.ones(sa)), Tensor(np.ones(sb)))
    msg = str(err.value)
    assert msg.lower().startswith(name.lower() + ":") and str(sa) in msg and str(sb) in msg
    assert msg.lower().count(name.lower() + ":") == 1     # named once ("matmul:" is NumPy's)


def test_backward_on_non_scalar_needs_gradient() -> None:
    y = leaf(3) * 2.0
    with pytest.raises(RuntimeError, match="gradient"):
        y.backward()
    y.backward(np.ones(3))                       # fine with one
    leaf(1, 1).sum(keepdims=True).backward()     # a single element needs none


def test_gradient_of_wrong_shape_raises() -> None:
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        (leaf(3) * 2.0).backward(np.ones(4))


@pytest.mark.parametrize("data", [[1, 2], True, np.arange(3), np.array([True, False])])
def test_integer_and_bool_data_cannot_require_grad(data: Any) -> None:
    with pytest.raises(TypeError):
        Tensor(data, requires_grad=True)


def test_backward_on_tensor_without_grad_raises() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()


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


def test_no_grad_decorator_is_reentrant() -> None:
    """Regression: one decorator instance kept a single `prev`, so a recursive decorated call
    left grad mode disabled after it returned."""
    @tg.no_grad()
    def depth(n: int) -> bool:
        return depth(n - 1) if n else tg.is_grad_enabled()

    assert depth(3) is False
    assert tg.is_grad_enabled() is True
    x = tg.Tensor([1.0], requires_grad=True)
    assert (x * 2).requires_grad


def test_no_grad_works_as_a_bare_decorator() -> None:
    @tg.no_grad
    def double(t: tg.Tensor) -> tg.Tensor:
        return t * 2

    x = tg.Tensor([1.0], requires_grad=True)
    assert not double(x).requires_grad and double.__name__ == "double"
    assert tg.is_grad_enabled()


def test_grad_outputs_must_match_outputs() -> None:
    """Regression: zip() silently dropped outputs without a grad_output."""
    a = tg.Tensor([1.0, 2.0], requires_grad=True)
    outs = [(a * 2).sum(), (a * 3).sum()]
    with pytest.raises(ValueError, match="1 grad_outputs for 2 outputs"):
        tg.grad(outs, [a], grad_outputs=[np.array(1.0)])
    np.testing.assert_array_equal(tg.grad(outs, [a])[0].data, [5.0, 5.0])


def test_shape_errors_name_the_op_once() -> None:
    from tinygrad_mlp import functional as F
    with pytest.raises(ValueError) as err:
        F.linear(tg.Tensor(np.ones((4, 5))), tg.Tensor(np.ones((3, 4))))
    assert str(err.value).startswith("linear: input of shape (4, 5)") and "Linear:" not in str(err.value)
