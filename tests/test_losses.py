"""Losses and F.linear: values against the textbook formulas, gradients against finite
differences (Hypothesis), closed-form gradients at saturation, dtype preservation, errors."""
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor, functional as F
from tinygrad_mlp.testing import arrays

REDUCTIONS = ("mean", "sum", "none")
small = st.tuples(st.integers(1, 4), st.integers(1, 4))


def reduce_ref(per, reduction):
    return per.mean() if reduction == "mean" else per.sum() if reduction == "sum" else per


def grad_of(fn, *xs):
    ts = [Tensor(x, requires_grad=True) for x in xs]
    fn(*ts).backward()
    return [t.grad.data for t in ts]


@pytest.fixture(autouse=True)
def no_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_value(reduction):
    p, t = np.array([[1.0, 2.0], [3.0, -1.0]]), np.array([[0.5, 2.0], [1.0, 1.0]])
    out = F.mse_loss(Tensor(p), t, reduction=reduction)
    np.testing.assert_allclose(out.data, reduce_ref((p - t) ** 2, reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_values(reduction):
    p, y = np.array([0.1, 0.7, 0.5, 0.99]), np.array([0.0, 1.0, 1.0, 0.3])
    ref = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy(Tensor(p), y, reduction).data,
                               reduce_ref(ref, reduction))
    z = np.log(p / (1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(Tensor(z), y, reduction).data,
                               reduce_ref(ref, reduction), rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_labels_and_probabilities_agree(reduction):
    z = np.array([[1.0, 2.0, -1.0], [0.5, 0.5, 3.0]])
    labels = np.array([1, 2])
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    ref = reduce_ref(-logp[np.arange(2), labels], reduction)
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), labels, reduction).data, ref)
    onehot = np.eye(3)[labels]
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), onehot, reduction).data, ref)
    soft = np.array([[0.2, 0.5, 0.3], [0.0, 0.1, 0.9]])
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), soft, reduction).data,
                               reduce_ref(-(soft * logp).sum(1), reduction))


def test_cross_entropy_single_sample():
    z = np.array([0.0, 1.0, 2.0])
    out = F.cross_entropy(Tensor(z, requires_grad=True), 2)
    assert out.shape == ()
    np.testing.assert_allclose(out.data, np.log(np.exp(z).sum()) - 2.0)


# ------------------------------------------------------------------ Hypothesis gradient checks
@given(small.flatmap(lambda s: st.tuples(arrays(s), arrays(s))), st.sampled_from(REDUCTIONS))
def test_mse_gradcheck(pt, reduction):
    p, t = pt
    f = lambda a, b: F.mse_loss(a, b, reduction)
    assert tg.gradcheck(f, (Tensor(p, requires_grad=True), Tensor(t, requires_grad=True)))
    assert tg.gradgradcheck(f, (Tensor(p, requires_grad=True), Tensor(t, requires_grad=True)))


@given(small.flatmap(lambda s: st.tuples(arrays(s, lo=0.05, hi=0.95), arrays(s, lo=0.0, hi=1.0))),
       st.sampled_from(REDUCTIONS))
def test_bce_gradcheck(py, reduction):
    p, y = py
    f = lambda a: F.binary_cross_entropy(a, y, reduction)
    assert tg.gradcheck(f, (Tensor(p, requires_grad=True),))
    assert tg.gradgradcheck(f, (Tensor(p, requires_grad=True),))


@given(small.flatmap(lambda s: st.tuples(arrays(s, lo=-6, hi=6), arrays(s, lo=0.0, hi=1.0))),
       st.sampled_from(REDUCTIONS))
def test_bce_with_logits_gradcheck(zy, reduction):
    z, y = zy
    f = lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction)
    args = (Tensor(z, requires_grad=True), Tensor(y, requires_grad=True))
    assert tg.gradcheck(f, args)
    assert tg.gradgradcheck(f, args)


@given(small.flatmap(lambda s: st.tuples(arrays(s), st.lists(st.integers(0, s[1] - 1),
                                                            min_size=s[0], max_size=s[0]))),
       st.sampled_from(REDUCTIONS))
def test_cross_entropy_labels_gradcheck(zl, reduction):
    z, labels = zl
    f = lambda a: F.cross_entropy(a, np.array(labels), reduction)
    assert tg.gradcheck(f, (Tensor(z, requires_grad=True),))
    assert tg.gradgradcheck(f, (Tensor(z, requires_grad=True),))


@given(small.flatmap(lambda s: st.tuples(arrays(s), arrays(s, lo=0.0, hi=1.0))),
       st.sampled_from(REDUCTIONS))
def test_cross_entropy_probabilities_gradcheck(zt, reduction):
    z, t = zt   # rows need not sum to 1: the gradient is softmax(z)·Σt - t in general
    f = lambda a, b: F.cross_entropy(a, b, reduction)
    args = (Tensor(z, requires_grad=True), Tensor(t, requires_grad=True))
    assert tg.gradcheck(f, args)
    assert tg.gradgradcheck(f, args)


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.booleans(), st.booleans(),
       st.data())
def test_linear_gradcheck(n, i, o, bias, batched, data):
    x_shape = (2, n, i) if batched else (n, i)
    x = data.draw(arrays(x_shape))
    w = data.draw(arrays((o, i)))
    args = [Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)]
    if bias:
        args.append(Tensor(data.draw(arrays((o,))), requires_grad=True))
    out = F.linear(*args)
    ref = x @ w.T + (args[2].data if bias else 0)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12)
    assert tg.gradcheck(F.linear, args)
    assert tg.gradgradcheck(F.linear, args)


def test_linear_1d_input_and_closed_forms():
    x, w, b = np.array([1.0, 2.0]), np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 3.0]]), np.ones(3)
    xt, wt, bt = (Tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.linear(xt, wt, bt)
    g = np.array([1.0, 2.0, -1.0])
    out.backward(g)
    np.testing.assert_allclose(out.data, w @ x + b)
    np.testing.assert_allclose(xt.grad.data, g @ w)
    np.testing.assert_allclose(wt.grad.data, np.outer(g, x))
    np.testing.assert_allclose(bt.grad.data, g)


def test_linear_shape_errors_name_the_op():
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    with pytest.raises(ValueError, match=r"linear.*\(4, 5\).*\(3, 2\)"):
        F.linear(np.ones((4, 5)), w)
    with pytest.raises(ValueError, match=r"bias of shape \(2,\)"):
        F.linear(np.ones((4, 2)), w, Tensor(np.ones(2)))
    # the product checks x against w: a 0-d, 1-D, or batched (N-D) input that does not fit
    for x in (np.ones(()), np.ones(5), np.ones((2, 4, 5))):
        with pytest.raises(ValueError, match=re.escape(f"linear: input of shape {x.shape} ")):
            F.linear(x, w)
    with pytest.raises(ValueError, match=r"linear: input of shape \(4, 2\) does not match weight of shape \(2,\)"):
        F.linear(np.ones((4, 2)), Tensor(np.ones(2)))


# ------------------------------------------------------------------ saturation and closed forms
def test_bce_with_logits_saturated_closed_form():
    z = np.array([1e4, -1e4, 1e4, -1e4, 0.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    zt = Tensor(z, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(zt, y)
    loss.backward()
    np.testing.assert_allclose(loss.data, (0 + 0 + 1e4 + 1e4 + np.log(2)) / 5)
    sig = np.array([1.0, 0.0, 1.0, 0.0, 0.5])
    np.testing.assert_allclose(zt.grad.data, (sig - y) / 5)


def test_cross_entropy_saturated_closed_form():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]])
    labels = np.array([1, 2])
    zt = Tensor(z, requires_grad=True)
    loss = F.cross_entropy(zt, labels)
    loss.backward()
    np.testing.assert_allclose(loss.data, (2e4 + 0.0) / 2)
    softmax = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(zt.grad.data, (softmax - np.eye(3)[labels]) / 2)


@given(arrays((3, 4), lo=-50, hi=50), st.lists(st.integers(0, 3), min_size=3, max_size=3))
def test_cross_entropy_gradient_is_softmax_minus_onehot(z, labels):
    labels = np.array(labels)
    (g,) = grad_of(lambda a: F.cross_entropy(a, labels), z)
    e = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(g, (e / e.sum(1, keepdims=True) - np.eye(4)[labels]) / 3, atol=1e-15)


@given(arrays((5,), lo=-40, hi=40), arrays((5,), lo=0, hi=1))
def test_bce_with_logits_gradient_is_sigmoid_minus_target(z, y):
    (g,) = grad_of(lambda a: F.binary_cross_entropy_with_logits(a, y, "sum"), z)
    np.testing.assert_allclose(g, 1 / (1 + np.exp(-z)) - y, atol=1e-15)


def test_bce_at_exact_zero_and_one_is_finite_and_clamped():
    p = np.array([0.0, 1.0, 0.0, 1.0])
    y = np.array([0.0, 1.0, 1.0, 0.0])
    pt = Tensor(p, requires_grad=True)
    loss = F.binary_cross_entropy(pt, y, reduction="none")
    np.testing.assert_array_equal(loss.data, [0.0, 0.0, 100.0, 100.0])
    loss.sum().backward()
    np.testing.assert_array_equal(pt.grad.data, [0.0, 0.0, -1e12, 1e12])


def test_bce_rejects_values_outside_unit_interval_and_target_grad():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.binary_cross_entropy(Tensor([0.5, 1.5]), [0.0, 1.0])
    with pytest.raises(RuntimeError, match="target"):
        F.binary_cross_entropy(Tensor([0.5]), Tensor([1.0], requires_grad=True))


# ------------------------------------------------------------------ dtypes and errors
@pytest.mark.parametrize("loss", [
    lambda p: F.mse_loss(p, np.ones(p.shape)),
    lambda p: F.binary_cross_entropy(p.sigmoid(), np.ones(p.shape, dtype=np.int64)),
    lambda p: F.binary_cross_entropy_with_logits(p, np.ones(p.shape)),
    lambda p: F.cross_entropy(p, np.array([0, 1, 1])),
    lambda p: F.cross_entropy(p, np.full(p.shape, 0.5)),
])
def test_float32_losses_stay_float32(loss, raw_grad_dtypes):
    p = Tensor(np.array([[0.1, -0.2], [0.3, 0.4], [-1.0, 2.0]], dtype=np.float32), requires_grad=True)
    out = loss(p)
    assert out.dtype == np.float32
    out.backward()
    assert raw_grad_dtypes == [np.dtype(np.float32)]


@pytest.mark.parametrize("fn", [F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_target_shape_mismatch_is_an_error(fn):
    with pytest.raises(ValueError, match=r"target shape \(4,\) differs from input shape \(4, 1\)"):
        fn(Tensor(np.full((4, 1), 0.5), requires_grad=True), np.zeros(4))


def test_cross_entropy_errors():
    z = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match="class index 3 is out of range for 3 classes"):
        F.cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"class indices of shape \(3,\)"):
        F.cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(z, np.array([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        F.cross_entropy(Tensor(np.zeros((1, 2, 3))), np.zeros((1, 2), dtype=int))


def test_integer_one_hot_target_is_a_probability_target():
    z = Tensor(np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]]), requires_grad=True)
    one_hot = np.array([[0, 1, 0], [1, 0, 0]])
    assert F.cross_entropy(z, one_hot).item() == pytest.approx(F.cross_entropy(z, np.array([1, 0])).item())


@pytest.mark.parametrize("loss", [lambda x: F.mse_loss(x, np.zeros(x.shape)),
                                  lambda x: F.cross_entropy(x, np.zeros(len(x), dtype=int))])
def test_mean_of_an_empty_batch_is_nan_without_warnings(loss):
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = loss(x)
        out.backward()
    assert np.isnan(out.item()) and x.grad.shape == (0, 3)


# ------------------------------------------------------------------ edge cases found by probing
@pytest.mark.parametrize("loss", [F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_of_0d_inputs(loss, reduction):
    p = Tensor(0.25, requires_grad=True)
    out = loss(p, 1.0, reduction=reduction)
    assert out.shape == () and np.isfinite(out.item())
    out.backward()
    assert p.grad.shape == () and np.isfinite(p.grad.item())
    assert tg.gradcheck(lambda p: loss(p, Tensor(1.0), reduction=reduction), [p])


def test_cross_entropy_refuses_float_class_labels_and_no_classes():
    z = Tensor(np.zeros((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match=r"class indices must be integers, got dtype float64"):
        F.cross_entropy(z, np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(2, 0\) have no classes"):
        F.cross_entropy(Tensor(np.zeros((2, 0))), np.array([0, 0]))
