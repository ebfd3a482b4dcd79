"""The backward engine: accumulation over DAGs, graph lifetime and release, tg.grad,
higher derivatives, invariants (no mutation, no aliasing, no cycles), deep graphs, errors."""
from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from tinygrad_mlp import testing as tgt
from helpers import leaf


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
def test_backward_on_non_scalar_needs_gradient() -> None:
    y = leaf(3) * 2.0
    with pytest.raises(RuntimeError, match="gradient"):
        y.backward()
    y.backward(np.ones(3))                       # fine with one
    leaf(1, 1).sum(keepdims=True).backward()     # a single element needs none


def test_gradient_of_wrong_shape_raises() -> None:
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        (leaf(3) * 2.0).backward(np.ones(4))



def test_backward_on_tensor_without_grad_raises() -> None:
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()



def test_grad_outputs_must_match_outputs() -> None:
    """Regression: zip() silently dropped outputs without a grad_output."""
    a = tg.Tensor([1.0, 2.0], requires_grad=True)
    outs = [(a * 2).sum(), (a * 3).sum()]
    with pytest.raises(ValueError, match="1 grad_outputs for 2 outputs"):
        tg.grad(outs, [a], grad_outputs=[np.array(1.0)])
    np.testing.assert_array_equal(tg.grad(outs, [a])[0].data, [5.0, 5.0])




# ------------------------------------------------------------------ version counters
def test_changing_a_saved_input_in_place_refuses_backward_naming_op_and_versions() -> None:
    """retain_graph, opt.step(), backward again: the step changed the weight Mul saved."""
    w = tg.nn.Parameter(np.array([1.0, 2.0]))
    x = Tensor([3.0, 4.0])
    loss = (w * x).sum() * (w * w).sum()
    loss.backward(retain_graph=True)
    tg.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"Mul saved its input \d .*version 0.*now at version 1"):
        loss.backward()


def test_changing_a_saved_output_in_place_refuses_backward() -> None:
    x = leaf(3)
    y = x.exp()                          # Exp saves its output
    z = (y + 2.0).sum()                  # Add saves nothing
    with tg.no_grad():
        y += 1.0
    with pytest.raises(RuntimeError, match="Exp saved its output"):
        z.backward()


def test_changing_an_input_an_op_did_not_save_is_fine() -> None:
    """Add saves nothing: an in-place change of its input (under no_grad) does not matter."""
    x = leaf(3)
    h = x * 2.0
    y = (h + 1.0).sum()
    with tg.no_grad():
        h += 5.0
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2.0)


def test_a_view_shares_the_version_counter() -> None:
    x = leaf(2, 3)
    a = Tensor(np.ones((2, 3)))
    y = (x * a).sum()                    # Mul saves a
    with tg.no_grad():
        v = a[0]
        v += 1.0                         # changes a through the view
    assert a._version == 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


# ------------------------------------------------------------------ recorded in-place ops
def test_inplace_add_on_a_graph_tensor_is_recorded_and_in_place() -> None:
    w = leaf(3)
    h = w * 2.0
    data = h.data
    h += w                                # h = 2w + w, same array
    assert h.data is data and h.op == "Add" and h._version == 1
    h.sum().backward()
    np.testing.assert_allclose(w.grad.data, 3.0)


def test_users_recorded_before_an_inplace_op_keep_the_old_history() -> None:
    """y used h before `h += w`; its gradient must flow through h's old history only
    (PyTorch's semantics), and z, recorded after, through the new one."""
    w = leaf(3)
    h = w * 2.0
    y = (h + 0.0).sum()                   # Add saves nothing, so the change is allowed
    h += w
    z = (h + 0.0).sum()
    tg.grad(y, w, retain_graph=True)
    (gy,) = tg.grad(y, w, retain_graph=True)
    (gz,) = tg.grad(z, w)
    np.testing.assert_allclose(gy.data, 2.0)
    np.testing.assert_allclose(gz.data, 3.0)


def test_inplace_mul_with_an_operand_that_requires_grad() -> None:
    w = leaf(2)
    x = Tensor([1.0, 2.0])
    x *= w
    assert x.requires_grad and x.op == "Mul"
    x.sum().backward()
    np.testing.assert_allclose(w.grad.data, [1.0, 2.0])


# ------------------------------------------------------------------ tg.grad and create_graph
def test_grad_of_an_intermediate_leaves_the_rest_of_the_graph_alone() -> None:
    x = leaf(3)
    h = x.tanh()
    y = (h * h).sum()
    (gh,) = tg.grad(y, h, retain_graph=True)
    np.testing.assert_allclose(gh.data, 2 * h.data)
    y.backward()                          # the part below h was neither run nor freed
    np.testing.assert_allclose(x.grad.data, 2 * np.tanh(x.data) * (1 - np.tanh(x.data) ** 2))


def test_grad_without_retain_frees_only_the_part_it_ran() -> None:
    x = leaf(3)
    h = x.tanh()
    y = (h * 3.0).sum()
    tg.grad(y, h)                                   # frees the nodes between y and h
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    (gx,) = tg.grad(h.sum(), x)                     # h's own node was never run: still there
    np.testing.assert_allclose(gx.data, 1 - np.tanh(x.data) ** 2)


def test_create_graph_gives_each_leaf_its_own_writable_grad() -> None:
    a, b = leaf(3), leaf(3)
    (a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad and not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data[...] = 7.0                        # writable, and b's is unaffected
    np.testing.assert_array_equal(b.grad.data, 1.0)
    x = leaf(2, 3)
    x.sum().backward(create_graph=True)           # the gradient is a broadcast: copied
    x.grad.data[0, 0] = 5.0


def test_create_graph_with_a_float32_parameter_and_float64_data() -> None:
    w = tg.nn.Parameter(np.array([0.5, -1.0], dtype=np.float32))
    x = Tensor(np.array([2.0, 3.0]))               # float64
    loss = ((w * x) ** 2).sum()
    loss.backward(create_graph=True)
    assert w.grad.dtype == np.float32 and w.grad.requires_grad
    (hv,) = tg.grad(w.grad.sum(), w)
    np.testing.assert_allclose(hv.data, 2 * x.data ** 2, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_anomaly_under_create_graph_names_the_users_op() -> None:
    x = Tensor([0.0, 1.0], requires_grad=True)
    with tg.detect_anomaly():
        y = x.sqrt()                              # backward 1 / (2 sqrt x) is inf at 0
        with pytest.raises(FloatingPointError, match=r"^Sqrt .*test_engine.py"):
            tg.grad(y.sum(), x, create_graph=True)


# ------------------------------------------------------------------ memory after backward
def test_a_kept_loss_holds_its_value_and_nothing_else(no_gc: None) -> None:
    model = tg.nn.MLP([4, 8, 3], activation="relu", rng=0)
    x = np.ones((5, 4))
    loss = tg.functional.cross_entropy(model(x), np.array([0, 1, 2, 0, 1]))
    hidden = loss.grad_fn.parents[0]
    ref = weakref.ref(hidden)
    del hidden
    loss.backward()
    assert ref() is None                          # activations died with the graph
    assert loss.grad_fn.parents == () and not loss.grad_fn.__dict__
    assert loss.item() > 0


def test_memory_of_kept_losses_is_flat() -> None:
    """20 losses of a 784-512-512-10 float32 model kept after backward (tracemalloc)."""
    import tracemalloc
    model = tg.nn.MLP([784, 512, 512, 10], activation="relu", rng=0, dtype=np.float32)
    rng = np.random.default_rng(0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = []
        for _ in range(20):
            X = rng.standard_normal((256, 784), dtype=np.float32)
            loss = tg.functional.cross_entropy(model(X), rng.integers(0, 10, 256))
            loss.backward()
            kept.append(loss)
        grads = sum(p.grad.data.nbytes for p in model.parameters())
        held = tracemalloc.get_traced_memory()[0] - before - grads
    finally:
        tracemalloc.stop()
    assert held < 8 * 2 ** 20, f"{held / 2 ** 20:.1f} MB held by 20 kept losses"
