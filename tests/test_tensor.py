"""Tensor as a value: construction and dtypes, operators with scalars and ndarrays,
comparisons, conversions and the attributes a user reads."""
from __future__ import annotations

import operator
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from helpers import leaf


@pytest.fixture
def float32_default() -> Iterator[None]:
    prev = tg.get_default_dtype()
    tg.set_default_dtype(np.float32)
    try:
        yield
    finally:
        tg.set_default_dtype(prev)


# ------------------------------------------------------------------ construction and dtypes
@pytest.mark.parametrize("data", [1.5, [1.0, 2.0], [[1.0], [2.0]], [1, 2.5]])
def test_python_floats_become_the_default_dtype(data: Any, float32_default: None) -> None:
    assert Tensor(data).dtype == np.float32
    assert tg.tensor(data).dtype == np.float32


def test_default_dtype_is_float64() -> None:
    assert tg.get_default_dtype() == np.float64
    assert Tensor(1.5).dtype == np.float64 and Tensor([1.0, 2.0]).dtype == np.float64


def test_floating_ndarray_keeps_its_dtype() -> None:
    arr = np.array([1.0, 2.0], dtype=np.float32)
    assert Tensor(arr).dtype == np.float32
    assert Tensor(np.float32(2.0)).dtype == np.float32
    assert Tensor(arr.astype(np.float16)).dtype == np.float16


def test_explicit_dtype_wins(float32_default: None) -> None:
    assert Tensor(np.array([1.0], dtype=np.float32), dtype=np.float64).dtype == np.float64
    assert Tensor(1.5, dtype=np.float64).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float32, requires_grad=True).dtype == np.float32


@pytest.mark.parametrize("data, kind", [(3, "i"), ([1, 2], "i"), (np.arange(3, dtype=np.int32), "i"),
                                        (True, "b"), ([True, False], "b")])
def test_integer_and_bool_data_stay_integer(data: Any, kind: str, float32_default: None) -> None:
    t = Tensor(data)
    assert t.dtype.kind == kind
    if isinstance(data, np.ndarray):
        assert t.dtype == data.dtype


def test_construction_copies_and_rejects_non_numeric() -> None:
    arr = np.array([1.0, 2.0])
    t = Tensor(arr)
    arr[0] = 9.0
    assert t.data[0] == 1.0                  # like torch.tensor: the data is copied
    u = Tensor(t)
    assert u.dtype == t.dtype and not np.shares_memory(u.data, t.data)
    with pytest.raises(TypeError):
        Tensor("abc")
    with pytest.raises(TypeError):
        tg.set_default_dtype(np.int64)


# ------------------------------------------------------------------ scalars never upcast
BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "**": operator.pow}


@pytest.mark.parametrize("scalar", [2, 0.5, True, np.float64(0.5)])
@pytest.mark.parametrize("op", sorted(BINARY))
def test_python_scalars_never_upcast_float32(op: str, scalar: Any) -> None:
    t = Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    f = BINARY[op]
    for out, want in [(f(t, scalar), f(t.data, np.float32(scalar))),
                      (f(scalar, t), f(np.float32(scalar), t.data))]:
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.data, want, rtol=1e-6)
    f(scalar, t).sum().backward()
    assert t.grad.dtype == np.float32


def test_ops_with_float_parameters_stay_float32() -> None:
    t = Tensor(np.array([[-0.5, 1.5], [2.0, -3.0]], dtype=np.float32), requires_grad=True)
    outs = [t.leaky_relu(0.2), t.clip(-1.0, 1.0), t.mean(), t.mean(axis=0), -t, t.sigmoid(),
            t.softplus(), t.softmax(), t.log_softmax(), t.logsumexp(axis=1), t.abs().sqrt(),
            t @ t, t.T, t[0], tg.maximum(t, 0.0), tg.where(t.data > 0, t, 0.0)]
    for out in outs:
        assert out.dtype == np.float32
    sum(o.sum() for o in outs).backward()
    assert t.grad.dtype == np.float32


def test_integer_tensor_with_scalars() -> None:
    t = Tensor([1, 2])
    assert (t + 1).dtype.kind == "i"
    assert (t * 0.5).dtype == tg.get_default_dtype()
    np.testing.assert_array_equal((t * 0.5).data, [0.5, 1.0])


# ------------------------------------------------------------------ ndarray and Tensor mix
MIXED = {**BINARY, "@": operator.matmul, "<": operator.lt, "<=": operator.le, ">": operator.gt,
         ">=": operator.ge, "==": operator.eq, "!=": operator.ne}


@pytest.mark.parametrize("op", sorted(MIXED))
def test_ndarray_and_tensor_mix_in_either_order(op: str) -> None:
    f = MIXED[op]
    arr = np.array([[1.0, 2.0], [3.0, 0.5]])
    t = Tensor(np.array([[0.5, 2.0], [1.0, 1.5]]), requires_grad=True)
    for out, want in [(f(arr, t), f(arr, t.data)), (f(t, arr), f(t.data, arr))]:
        assert isinstance(out, Tensor)
        np.testing.assert_allclose(out.data, want)
    if op in BINARY or op == "@":
        f(arr, t).sum().backward()
        assert t.grad is not None


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_comparisons_return_bool_tensors_without_grad(op: str) -> None:
    f = MIXED[op]
    t = Tensor([[-1.0, 0.0, 2.0]], requires_grad=True)
    for other in [0.0, Tensor([0.0, 0.0, 2.0]), np.array([[1.0], [0.0]])]:
        out = f(t, other)
        assert isinstance(out, Tensor) and out.dtype == np.bool_
        assert not out.requires_grad and out.is_leaf
        np.testing.assert_array_equal(out.data, f(t.data, getattr(other, "data", other)))
    scalar = f(Tensor(1.0), 2.0)
    assert type(scalar.data) is np.ndarray and scalar.shape == ()


# ------------------------------------------------------------------ conversions and attributes
def test_transpose_attribute() -> None:
    m = Tensor(np.arange(6.0).reshape(2, 3))
    assert m.T.shape == (3, 2)
    np.testing.assert_array_equal(m.T.data, m.data.T)
    v = Tensor([1.0, 2.0])
    np.testing.assert_array_equal(v.T.data, v.data)
    assert Tensor(np.zeros((2, 3, 4))).T.shape == (4, 3, 2)


def test_len_item_tolist_and_shape_attributes() -> None:
    t = Tensor(np.arange(6.0).reshape(3, 2), label="w")
    assert len(t) == 3
    assert (t.shape, t.ndim, t.size, t.dtype, t.label) == ((3, 2), 2, 6, np.float64, "w")
    assert t.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    assert Tensor(2.5).item() == 2.5 and isinstance(Tensor(2.5).item(), float)
    assert Tensor([[7]]).item() == 7
    with pytest.raises(TypeError):
        len(Tensor(1.0))
    with pytest.raises(ValueError):
        t.item()


def test_numpy_conversion_shares_data() -> None:
    t = Tensor([1.0, 2.0])
    a = np.asarray(t)
    assert isinstance(a, np.ndarray) and np.shares_memory(a, t.data)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert not np.shares_memory(np.array(t), t.data)
    assert t.numpy() is t.data
    np.testing.assert_array_equal(np.exp(np.asarray(t)), np.exp([1.0, 2.0]))


def test_repr() -> None:
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    leaf = Tensor(np.array([1.0], dtype=np.float32), requires_grad=True, label="w")
    assert repr(leaf) == "Tensor([1.], dtype=float32, requires_grad=True, label='w')"
    assert "grad_fn=Mul" in repr(leaf * 2.0)
    assert repr(Tensor([1, 2])) == "Tensor([1, 2])"


def test_data_is_live() -> None:
    """`.data` is the array itself: writing into it changes what later ops and backward see."""
    w = Tensor([1.0, 2.0], requires_grad=True)
    w.data[...] = [3.0, 4.0]
    np.testing.assert_array_equal((w * 1.0).data, [3.0, 4.0])
    x = Tensor([5.0, 6.0], requires_grad=True)
    (w * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])
    w.data[0] = -1.0
    assert w.tolist() == [-1.0, 4.0] and np.asarray(w)[0] == -1.0


def test_grad_is_a_tensor_and_resettable() -> None:
    t = Tensor([1.0, 2.0], requires_grad=True)
    assert t.grad is None and t.is_leaf
    (t * t).sum().backward()
    assert isinstance(t.grad, Tensor) and t.grad.shape == t.shape and not t.grad.requires_grad
    t.grad = None
    assert t.grad is None


def test_iteration_and_truth_value() -> None:
    t = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(t)
    assert len(rows) == 2 and all(isinstance(r, Tensor) for r in rows)
    np.testing.assert_array_equal(rows[1].data, [3.0, 4.0])
    assert bool(Tensor(1.0)) and not bool(Tensor([0.0]))
    with pytest.raises(ValueError):
        bool(t)


def test_inplace_ops_update_data_under_no_grad() -> None:
    """Regression: `p -= lr * p.grad` used to rebind `p` and leave the parameter unchanged."""
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    params = [w]
    with tg.no_grad():
        for p in params:
            p -= 0.5 * p.grad
    np.testing.assert_array_equal(w.data, [0.0, 0.0])
    c = tg.Tensor(np.ones(2, np.float32))
    before = c
    c += 1.0
    c *= tg.Tensor([2.0, 3.0])
    c /= 2
    c -= np.array([1.0, 1.0])
    assert c is before and c.dtype == np.float32
    np.testing.assert_allclose(c.data, [1.0, 2.0])


def test_inplace_op_on_a_leaf_requiring_grad_raises_while_recording() -> None:
    w = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w += 1.0
    np.testing.assert_array_equal(w.data, [1.0])


def test_inplace_op_that_must_be_recorded_records_it() -> None:
    """`total += loss` accumulates a graph, as in PyTorch."""
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    total = tg.Tensor(0.0)
    for k in (1.0, 2.0):
        total += (w * k).sum()
    total.backward()
    np.testing.assert_array_equal(w.grad.data, [3.0, 3.0])
    x = tg.Tensor([1.0, 1.0])
    x *= w
    assert x.requires_grad and x.op == "Mul"


def test_array_protocol_copy_false_refuses_a_converting_copy() -> None:
    t = tg.Tensor([1.0, 2.0])
    assert np.asarray(t) is t.data
    with pytest.raises(ValueError, match="copy=False"):
        np.array(t, dtype=np.float32, copy=False)
    assert np.array(t, copy=True) is not t.data


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



@pytest.mark.parametrize("data", [[1, 2], True, np.arange(3), np.array([True, False])])
def test_integer_and_bool_data_cannot_require_grad(data: Any) -> None:
    with pytest.raises(TypeError):
        Tensor(data, requires_grad=True)




# ------------------------------------------------------------------ values into Python
def test_float_int_bool_and_format_of_one_element_tensors() -> None:
    t = Tensor([[2.75]])
    assert float(t) == 2.75 and int(t) == 2 and bool(t) and f"{t:.3f}" == "2.750"
    assert f"{Tensor(1.0, requires_grad=True):+.1f}" == "+1.0"
    assert str(Tensor([1.0, 2.0])) == f"{Tensor([1.0, 2.0])}"
    for conv in (float, int):
        with pytest.raises(ValueError, match=r"one-element.*shape \(2,\)"):
            conv(Tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="one-element"):
        f"{Tensor([1.0, 2.0]):.2f}"


# ------------------------------------------------------------------ .data and .grad
def test_hand_written_update_through_data_works_in_place() -> None:
    """`p.data -= lr * p.grad` computes a Tensor; the live array is updated in place and
    `.data` never holds a Tensor, however the update is written."""
    p = tg.nn.Parameter(np.array([1.0, 2.0]))
    (p * p).sum().backward()
    arr = p.data
    p.data -= 0.1 * p.grad
    assert p.data is arr and type(p.data) is np.ndarray
    np.testing.assert_allclose(p.data, [0.8, 1.6])
    p.data = p.data - 0.1 * p.grad
    assert type(p.data) is np.ndarray
    np.testing.assert_allclose(p.data, [0.6, 1.2])
    p.data = np.zeros(3)                       # an array is taken as it is, any shape
    assert p.shape == (3,)


def test_grad_assignment_checks_shape_and_kind() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.grad = Tensor([0.5, 0.5])
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*shape \(2,\)"):
        x.grad = Tensor([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="dtype int"):
        x.grad = Tensor([1, 2])
    with pytest.raises(TypeError, match="Tensor or None"):
        x.grad = np.zeros(2)
    x.grad = None
    assert x.grad is None


def test_setitem_changes_the_array_and_bumps_the_version() -> None:
    t = Tensor(np.zeros(3))
    t[1] = 5.0
    t[Tensor(np.array([0, 2]))] = Tensor([1.0, 2.0])
    np.testing.assert_array_equal(t.data, [1.0, 5.0, 2.0])
    assert t._version == 2
    w = Tensor(np.zeros(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad"):
        w[0] = 1.0
    with tg.no_grad():
        w[0] = 1.0
    h = w * 2.0
    with pytest.raises(RuntimeError, match="part of a graph"):
        h[0] = 3.0
    with pytest.raises(IndexError, match=r"t\[\.\.\.\] = v"):
        t[7] = 1.0
