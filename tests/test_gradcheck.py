"""The checker itself: random expression DAGs must pass, deliberately wrong derivatives must fail.

A checker that never fails proves nothing, so the negative controls matter as much as the
positive property: a custom Function with a wrong backward must make `gradcheck` fail and name
the input and element, and one whose backward is right in value but not differentiable (computed
on raw arrays, so the graph loses the dependence on the input) must make `gradgradcheck` fail.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from tinygrad_mlp import testing as tgt

# ops that are smooth everywhere and keep values moderate, so random compositions stay
# well inside the range where central differences are accurate
UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "softplus": lambda x: x.softplus(),
    "neg": lambda x: -x,
    "log1p_sq": lambda x: (x * x + 1.0).log(),
    "sqrt1p_sq": lambda x: (1.0 + x ** 2).sqrt(),
    "exp_tanh": lambda x: x.tanh().exp(),
    "half": lambda x: 0.5 * x,
    "softmax": lambda x: x.softmax(axis=-1),
    "lse_keep": lambda x: x.logsumexp(axis=-1, keepdims=True),
    "mean0_keep": lambda x: x.mean(axis=0, keepdims=True),
    "sum_keep": lambda x: x.sum(keepdims=True),
}
BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul_tanh": lambda a, b: a * b.tanh(),
    "div_1p_sq": lambda a, b: a / (1.0 + b * b),
    "checkerboard": lambda a, b: _checkerboard(a, b),
}


def _checkerboard(a: Tensor, b: Tensor) -> Tensor:
    """`where` with a fixed checkerboard condition over the broadcast shape."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    return tg.where(np.indices(shape).sum(axis=0) % 2 == 0, a, b)


@st.composite
def dag_plans(draw: Any) -> tuple[list[np.ndarray], list[tuple[str, tuple[int, ...]]]]:
    """Inputs and a plan: each step applies an op to earlier nodes (inputs included), picked
    at random, so nodes get reused (fan-out) and paths reconverge (diamonds)."""
    shape = draw(tgt.shapes(min_dims=1, max_dims=2))
    inputs = [draw(tgt.arrays(shape, lo=-2.0, hi=2.0)) for _ in range(draw(st.integers(1, 3)))]
    plan: list[tuple[str, tuple[int, ...]]] = []
    for step in range(draw(st.integers(1, 8))):
        n = len(inputs) + step
        node = st.integers(0, n - 1)
        if draw(st.booleans()):
            plan.append((draw(st.sampled_from(sorted(UNARY))), (draw(node),)))
        else:
            plan.append((draw(st.sampled_from(sorted(BINARY))), (draw(node), draw(node))))
    return inputs, plan


def run_plan(plan: Sequence[tuple[str, tuple[int, ...]]], xs: Sequence[Tensor]) -> Tensor:
    nodes = list(xs)
    for name, args in plan:
        fn = UNARY.get(name) or BINARY[name]
        nodes.append(fn(*(nodes[i] for i in args)))
    return nodes[-1]


@given(dag_plans())
def test_random_dags_pass_gradcheck(case: tuple[list[np.ndarray], list]) -> None:
    """Full Jacobian (every output element) of a random DAG, against finite differences."""
    inputs, plan = case
    xs = [Tensor(a, requires_grad=True) for a in inputs]
    assert tg.gradcheck(lambda *t: run_plan(plan, t), xs)


@given(dag_plans())
def test_random_dags_pass_gradgradcheck(case: tuple[list[np.ndarray], list]) -> None:
    inputs, plan = case
    xs = [Tensor(a, requires_grad=True) for a in inputs]
    assert tg.gradgradcheck(lambda *t: run_plan(plan, t), xs)


# ------------------------------------------------------------------ negative controls
class OffByOneAt12(tg.Function):
    """x² with a backward that is right everywhere except element (1, 2)."""
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        bump = np.zeros(x.shape)
        bump[1, 2] = 1.0
        return g * 2 * x + bump


def _wrong_fn(a: Tensor, b: Tensor) -> Tensor:
    return a * 3.0 + OffByOneAt12.apply(b)


def _inputs() -> list[Tensor]:
    rng = np.random.default_rng(0)
    return [Tensor(rng.standard_normal((2, 3)), requires_grad=True) for _ in range(2)]


def test_gradcheck_fails_on_wrong_backward_and_names_input_and_element() -> None:
    with pytest.raises(tg.GradcheckError) as err:
        tg.gradcheck(_wrong_fn, _inputs())
    msg = str(err.value)
    assert "input 1" in msg and "(1, 2)" in msg and "analytical" in msg and "numerical" in msg


def test_gradcheck_returns_false_without_raising() -> None:
    assert tg.gradcheck(_wrong_fn, _inputs(), raise_exception=False) is False


def test_gradcheck_passes_the_same_function_when_the_bug_is_not_reached() -> None:
    """Control for the control: with b constant only the (correct) a-path is checked."""
    a, b = _inputs()
    assert tg.gradcheck(_wrong_fn, [a, b.detach()])


class SquareRawBackward(OffByOneAt12):
    """x² (OffByOneAt12's forward) whose backward computes 2x·g on the raw array: the right
    first derivative, but under create_graph the result no longer depends on x, so d²/dx²
    comes out as 0 instead of 2."""
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (2 * x.data)


class SquareTensorBackward(SquareRawBackward):
    """The same op written with Tensor operations: differentiable again."""
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x


def test_gradgradcheck_catches_backward_that_is_not_differentiable() -> None:
    x = Tensor([0.5, -1.5, 2.0], requires_grad=True)
    assert tg.gradcheck(SquareRawBackward.apply, [x])          # first order is right
    with pytest.raises(tg.GradcheckError, match="input 0"):
        tg.gradgradcheck(SquareRawBackward.apply, [x])
    assert tg.gradgradcheck(SquareRawBackward.apply, [x], raise_exception=False) is False
    assert tg.gradgradcheck(SquareTensorBackward.apply, [x])


def test_gradcheck_handles_tuple_outputs_constants_and_float32() -> None:
    """Several outputs, a constant input and float32 data (checked in float64)."""
    a = Tensor(np.array([0.3, -0.7], dtype=np.float32), requires_grad=True)
    c = Tensor(np.array([2.0, 3.0]))
    assert tg.gradcheck(lambda a, c: (a.tanh() * c, (a * a).sum()), [a, c])
    assert a.dtype == np.float32 and a.grad is None


def test_gradcheck_detects_missing_gradient_of_an_unused_looking_input() -> None:
    """An op that forgets an input (returns None) is caught: the input does affect the output."""
    class ForgetsB(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(b)
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g * ctx.saved_tensors[0], None

    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    assert tg.gradcheck(ForgetsB.apply, [a, b.detach()])
    with pytest.raises(tg.GradcheckError, match="input 1"):
        tg.gradcheck(ForgetsB.apply, [a, b])


def test_gradcheck_refuses_to_check_nothing() -> None:
    """Regression: with no input requiring grad it returned True having compared nothing."""
    with pytest.raises(ValueError, match="no input has requires_grad"):
        tg.gradcheck(_wrong_fn, [t.detach() for t in _inputs()])


def test_gradcheck_on_a_non_contiguous_input() -> None:
    """Regression: the input was perturbed through a reshaped copy, so a transposed Tensor gave
    a numerical gradient of zero and a false mismatch."""
    x = Tensor(np.arange(6.0).reshape(2, 3).T, requires_grad=True)     # Fortran-ordered view
    assert not x.data.flags.c_contiguous
    assert tg.gradcheck(lambda x: (x * x).sum(), [x])
    assert tg.gradgradcheck(lambda x: (x * x * x).sum(), [x])
