"""Function and apply: custom Functions (gradient forms, twice differentiable, shape checks),
anomaly detection naming the op and the user's line, error messages that name the op."""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from helpers import leaf


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



def test_shape_errors_name_the_op_once() -> None:
    from tinygrad_mlp import functional as F
    with pytest.raises(ValueError) as err:
        F.linear(tg.Tensor(np.ones((4, 5))), tg.Tensor(np.ones((3, 4))))
    assert str(err.value).startswith("linear: input of shape (4, 5)") and "Linear:" not in str(err.value)



# ------------------------------------------------------------------ saved values
class ExpSavingIntermediate(tg.Function):
    """Saves exp(x), an intermediate (neither input nor output): fine once, wrong twice."""
    @staticmethod
    def forward(ctx, x):
        e = np.exp(x)
        ctx.save_for_backward(e)
        return e * 2.0

    @staticmethod
    def backward(ctx, g):
        (e,) = ctx.saved_tensors
        return g * e * 2.0


def test_a_function_that_saved_an_intermediate_refuses_create_graph() -> None:
    x = Tensor([0.5, -1.0], requires_grad=True)
    y = ExpSavingIntermediate.apply(x).sum()
    (g,) = tg.grad(y, x, retain_graph=True)                        # first order: right
    np.testing.assert_allclose(g.data, 2 * np.exp(x.data))
    with pytest.raises(RuntimeError, match="ExpSavingIntermediate can only be differentiated once"):
        tg.grad(y, x, create_graph=True)


def test_built_in_ops_never_save_intermediates() -> None:
    """Every op's saved values are inputs or its output, so create_graph is exact for all."""
    x = Tensor(np.array([[0.3, -0.2], [1.1, 0.4]]), requires_grad=True)
    for f in (lambda x: x.abs(), lambda x: x.relu(), lambda x: x.leaky_relu(0.1),
              lambda x: x.clip(-0.1, 0.5), lambda x: x.max(axis=1), lambda x: tg.maximum(x, 0.35),
              lambda x: tg.functional.cross_entropy(x, np.array([0, 1])),
              lambda x: tg.functional.mse_loss(x, np.zeros((2, 2)))):
        tg.grad(f(x).sum(), x, create_graph=True)


def test_apply_takes_ndarrays_and_scalars_as_constants() -> None:
    """Regression: a raw ndarray input failed with a confusing error (ndarray.data is a
    memoryview); ndarrays and Python scalars are constants."""
    x = Tensor([1.0, 2.0], requires_grad=True)
    out = ScaledSquare.apply(x, np.array([3.0, 4.0]))
    assert out.requires_grad and out.grad_fn.parents[1].requires_grad is False
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, [6.0, 16.0])
    from tinygrad_mlp import ops
    y = ops.Mul.apply(np.array([2.0]), 3.0)
    np.testing.assert_array_equal(y.data, [6.0])
    assert not y.requires_grad
