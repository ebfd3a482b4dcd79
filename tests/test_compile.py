"""tg.compile: compiled training and evaluation steps against eager execution, bit for bit.

Every comparison runs two identical setups side by side, one eager and one compiled, and
compares the raw bytes (`.tobytes()`) of the loss, every parameter, every `.grad` and the
optimizer's state after every step. The `traces` fixture counts how often `fn` was traced,
so a test also fails when the compiled step silently traces every call instead of replaying.
"""
from __future__ import annotations

import functools
import gc
import importlib
import re
import threading
import tracemalloc
import warnings
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp.compile import Compiled
from tinygrad_mlp import functional as F
from tinygrad_mlp import nn, optim
from tinygrad_mlp.mode import mode

compile_module = importlib.import_module("tinygrad_mlp.compile")   # (tg.compile is the function)

DTYPES = [np.float32, np.float64]
ACTIVATIONS = ["relu", "sigmoid", "tanh", "softplus", "leaky_relu"]
LOSSES = {"mse": F.mse_loss, "bce": F.binary_cross_entropy_with_logits,
          "ce_int": F.cross_entropy, "ce_prob": F.cross_entropy}


# ------------------------------------------------------------------ helpers
@pytest.fixture
def traces(monkeypatch):
    """The number of traces made so far (every Compiled, this test)."""
    count = [0]
    original = Compiled._trace

    def counting(self, *args, **kwargs):
        count[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Compiled, "_trace", counting)
    return count


def batch(n: int, n_in: int, n_out: int, loss: str, dt: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_in)).astype(dt)
    if loss == "mse":
        y = np.sin(X.sum(1, keepdims=True) + np.arange(n_out)).astype(dt)
    elif loss == "bce":
        y = (rng.random((n, n_out)) < 0.5).astype(dt)
    elif loss == "ce_int":
        y = rng.integers(0, n_out, n)
    else:
        y = rng.random((n, n_out)).astype(dt)
        y /= y.sum(1, keepdims=True)
    return X, y


def make_optimizer(kind: str, params: Any) -> optim.Optimizer:
    params = list(params)
    return {"sgd": lambda: optim.SGD(params, lr=0.05),
            "momentum": lambda: optim.SGD(params, lr=0.05, momentum=0.9),
            "nesterov": lambda: optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True),
            "weight_decay": lambda: optim.SGD(params, lr=0.05, weight_decay=0.01),
            "momentum_wd": lambda: optim.SGD(params, lr=0.05, momentum=0.5, weight_decay=0.01),
            "adam": lambda: optim.Adam(params, lr=0.01),
            "adam_wd": lambda: optim.Adam(params, lr=0.01, weight_decay=0.01)}[kind]()


def snapshot(params: list[tg.Tensor], opt: optim.Optimizer | None = None) -> list[Any]:
    """Everything a step changes, as bytes: parameters, gradients, optimizer state."""
    out: list[Any] = []
    for p in params:
        out.append((p.data.dtype.str, p.data.shape, p.data.tobytes()))
        out.append(None if p.grad is None else (p.grad.data.dtype.str, p.grad.data.tobytes()))
    if opt is not None:
        for name, attr in opt.state_names.items():
            for v in getattr(opt, attr):
                out.append((name, v.tobytes() if isinstance(v, np.ndarray) else v))
    return out


class Setup:
    """A model (any callable), its parameters, an optimizer, a loss and a training step."""

    def __init__(self, model: Callable, params: list[tg.Tensor], opt: optim.Optimizer,
                 loss_fn: Callable, zero_grad: bool = True) -> None:
        self.model, self.params, self.opt, self.loss_fn = model, list(params), opt, loss_fn

        def step(X, y):
            if zero_grad:
                self.opt.zero_grad()
            loss = self.loss_fn(self.model(X), y)
            loss.backward()
            self.opt.step()
            return loss
        self.step = step

    def state(self) -> list[Any]:
        return snapshot(self.params, self.opt)


def mlp_setup(sizes: list[int], act: str = "tanh", dt: Any = np.float32, opt: str = "sgd",
              loss: str = "mse", seed: int = 0, zero_grad: bool = True) -> Setup:
    model = nn.MLP(sizes, activation=act, rng=seed, dtype=dt)
    return Setup(model, list(model.parameters()), make_optimizer(opt, model.parameters()),
                 LOSSES[loss], zero_grad)


def assert_same_loss(a: tg.Tensor, b: tg.Tensor, where: str = "") -> None:
    assert isinstance(b, tg.Tensor), where
    assert a.data.dtype == b.data.dtype and a.shape == b.shape, where
    assert a.data.tobytes() == b.data.tobytes(), f"{where}: loss {a.data!r} vs {b.data!r}"


def run_twins(make: Callable[[], Setup], batches: list[tuple[np.ndarray, np.ndarray]],
              between: Callable[[int, Setup, Setup], None] | None = None,
              check: bool = False) -> tuple[Setup, Setup, Any]:
    """Train an eager and a compiled copy on the same batches; after every step the losses
    and the full states must be byte-identical."""
    eager, comp = make(), make()
    assert eager.state() == comp.state()
    compiled = tg.compile(comp.step, check=check)
    for i, (X, y) in enumerate(batches):
        le = eager.step(X, y)
        lc = compiled(X, y)
        assert_same_loss(le, lc, f"step {i}")
        assert eager.state() == comp.state(), f"state differs after step {i}"
        if between is not None:
            between(i, eager, comp)
    return eager, comp, compiled


def same_batches(n_steps: int, n: int, n_in: int, n_out: int, loss: str, dt: Any) -> list:
    """Different data every step (so a replay that used stale inputs would show)."""
    return [batch(n, n_in, n_out, loss, dt, seed) for seed in range(n_steps)]


# ------------------------------------------------------------------ optimizers
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("opt", ["sgd", "momentum", "nesterov", "weight_decay", "momentum_wd",
                                 "adam", "adam_wd"])
def test_optimizers_bit_for_bit(opt, dt, traces):
    run_twins(lambda: mlp_setup([3, 8, 8, 2], "tanh", dt, opt), same_batches(25, 16, 3, 2, "mse", dt))
    # one trace per signature; SGD with momentum traces once more when its buffers appear
    assert traces[0] == (2 if opt in ("momentum", "nesterov", "momentum_wd") else 1)


@pytest.mark.parametrize("dt", DTYPES)
def test_adam_hyperparameters_changed_mid_run(dt, traces):
    def between(i, e, c):
        for s in (e, c):
            if i == 4:
                s.opt.lr = 0.003
            if i == 8:
                s.opt.betas = (0.8, 0.99)
            if i == 11:
                s.opt.eps = 1e-3
            if i == 14:
                s.opt.weight_decay = 0.05           # a new kernel: traced again
            if i == 17:
                s.opt.lr = 0.02
                s.opt.weight_decay = 0.0

    eager, comp, _ = run_twins(lambda: mlp_setup([3, 8, 1], "sigmoid", dt, "adam"),
                               same_batches(22, 12, 3, 1, "mse", dt), between)
    assert comp.opt.steps == [22] * 4
    assert traces[0] == 3


@pytest.mark.parametrize("dt", DTYPES)
def test_sgd_hyperparameters_changed_mid_run(dt, traces):
    def between(i, e, c):
        for s in (e, c):
            if i == 3:
                s.opt.lr = 0.01
            if i == 6:
                s.opt.momentum = 0.9               # momentum on: new kernels
            if i == 9:
                s.opt.momentum = 0.5               # a value: read at replay
            if i == 12:
                s.opt.nesterov = True
            if i == 15:
                s.opt.weight_decay = 0.1

    run_twins(lambda: mlp_setup([3, 8, 1], "relu", dt, "sgd"), same_batches(20, 12, 3, 1, "mse", dt),
              between)
    assert traces[0] <= 6


def test_long_run_crosses_to_straight_line_code():
    """The first replays loop over the recorded steps; later ones run them as one generated
    function: both bit for bit."""
    n = compile_module.STRAIGHT_AFTER + 20
    _, _, step = run_twins(lambda: mlp_setup([2, 6, 1], "tanh", np.float32, "adam"),
                           same_batches(5, 8, 2, 1, "mse", np.float32) * (n // 5))
    (trace, _, _), = step._traces.values()
    assert trace.replays == n - 1 and not isinstance(trace.run, functools.partial)


def test_lr_is_read_at_replay_not_frozen():
    """Changing lr between replays changes the update (a frozen lr would not)."""
    s = mlp_setup([2, 4, 1], opt="sgd")
    step = tg.compile(s.step)
    X, y = batch(8, 2, 1, "mse", np.float32, 0)
    step(X, y)
    step(X, y)
    before = s.params[0].data.copy()
    s.opt.lr = 0.0
    step(X, y)
    assert np.array_equal(s.params[0].data, before)


# ------------------------------------------------------------------ losses, dtypes, models
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("loss", ["mse", "bce", "ce_int", "ce_prob"])
def test_losses_bit_for_bit(loss, dt, traces):
    run_twins(lambda: mlp_setup([4, 8, 3], "tanh", dt, "momentum", loss),
              same_batches(12, 10, 4, 3, loss, dt))
    assert traces[0] == 2


@pytest.mark.filterwarnings("error")        # (NumPy 2.4 deprecates np.maximum's positional out)
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_activations_bit_for_bit(act, traces):
    run_twins(lambda: mlp_setup([3, 16, 8, 2], act, np.float32, "adam", "bce"),
              same_batches(12, 20, 3, 2, "bce", np.float32))
    assert traces[0] == 1


@pytest.mark.parametrize("scalar", [0.1, 3, np.float32(0.1), np.float64(0.1), np.float64(1.5), 2**40, True])
def test_a_replayed_ufunc_computes_what_the_traced_call_did(scalar):
    """Replay steps pass outputs by position and scalars as 0-d arrays only where that is the
    same loop: a float64 NumPy scalar still decides a float32 call's precision."""
    a = np.linspace(0.1, 2, 1001, dtype=np.float32)
    for ufunc in (np.multiply, np.add, np.maximum, np.power):
        expected = np.empty_like(a)
        with np.errstate(over="ignore"):
            ufunc(a, scalar, out=expected)
            out = np.full_like(a, np.nan)
            compile_module._ufunc_step(ufunc, "__call__", (a, scalar), (out,), {})()
        assert out.tobytes() == expected.tobytes(), ufunc


def raw_setup(dt: Any, as_tensor: bool) -> Setup:
    """A model written with raw Tensor ops on Tensors in a closure."""
    rng = np.random.default_rng(3)
    W1 = tg.Tensor(rng.standard_normal((3, 8)).astype(dt) * 0.5, requires_grad=True)
    b1 = tg.Tensor(np.zeros(8, dt), requires_grad=True)
    W2 = tg.Tensor(rng.standard_normal((8, 1)).astype(dt) * 0.5, requires_grad=True)
    b2 = tg.Tensor(np.zeros(1, dt), requires_grad=True)

    def model(X):
        if as_tensor:
            X = tg.Tensor(X)
        return (X @ W1 + b1).tanh() @ W2 + b2

    params = [W1, b1, W2, b2]
    return Setup(model, params, optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True), F.mse_loss)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("as_tensor", [True, False], ids=["tensor-input", "ndarray-input"])
def test_raw_tensor_model(dt, as_tensor, traces):
    """`X @ W1` with X the ndarray the step receives (a traced array) and W1 a Tensor: a
    Tensor op, as in eager execution (regression: it raised TraceError)."""
    run_twins(lambda: raw_setup(dt, as_tensor), same_batches(15, 9, 3, 1, "mse", dt))
    assert traces[0] == 2


def indexed_setup(expr: Callable, opt: str) -> Setup:
    """A parameter indexed inside the model (an embedding table): its gradient is scattered
    into zeros by GetItem's backward."""
    E = tg.Tensor(np.linspace(-1, 1, 20).reshape(10, 2), requires_grad=True)
    W = tg.Tensor(np.full((2, 1), 0.3), requires_grad=True)
    return Setup(lambda tok: expr(E, tok) @ W, [E, W], make_optimizer(opt, [E, W]), F.mse_loss)


def token_batches(n_steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(5)
    return [(rng.integers(0, 10, 6), rng.standard_normal((6, 1))) for _ in range(n_steps)]


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("expr, uses_tokens", [(lambda E, tok: E[tok], True),
                                               (lambda E, tok: E[:6] * 2, False)],
                         ids=["E[tok]", "E[:6]"])
def test_indexed_parameter(expr, uses_tokens, opt, traces):
    """Regression: the gradient scattered into zeros became live state when the optimizer
    read it, so it was no longer zeroed before the scatter: gradients added up over replays.
    (E[:6] leaves the token argument unused, which the trace points out.)"""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_twins(lambda: indexed_setup(expr, opt), token_batches(8))
    assert {str(w.message)[:32] for w in caught} == (        # (once per trace)
        set() if uses_tokens else {"tg.compile: argument 0 (shape (6"})
    assert traces[0] <= 2


def test_an_argument_hidden_from_the_trace_is_pointed_out():
    """NumPy does not show the trace `np.take(X, idx)` when X is not an argument: the replay
    would reuse the first call's rows. The trace warns; passing the rows works."""
    X = np.arange(20.0).reshape(10, 2)
    lin = nn.Linear(2, 1, rng=0)
    hidden = tg.compile(lambda idx: lin(np.take(X, idx, axis=0)).sum())
    with pytest.warns(UserWarning, match=r"argument 0 \(shape \(3,\), int64\) was not read"):
        hidden(np.array([0, 1, 2]))
    rows = tg.compile(lambda xb: lin(xb).sum(), check=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for i in range(3):
            rows(np.take(X, np.array([i, i + 1, i + 2]), axis=0))


@pytest.mark.parametrize("expr", [lambda E, tok: E[tok] + E[(tok + 3) % 10],
                                  lambda E, tok: E[:8][tok % 8]],
                         ids=["E[a] + E[b]", "E[:8][tok]"])
def test_gradient_of_an_index_used_again_in_backward(expr):
    run_twins(lambda: indexed_setup(expr, "sgd"), token_batches(4))


def test_large_products_take_the_matmul_path(traces):
    """ops.dot switches to np.matmul for products of 65536 multiply-adds and more."""
    run_twins(lambda: mlp_setup([128, 64, 10], "relu", np.float32, "momentum", "ce_int"),
              same_batches(4, 64, 128, 10, "ce_int", np.float32))
    assert traces[0] == 2


def test_tensor_arguments_and_keyword_arguments(traces):
    s_e, s_c = mlp_setup([2, 6, 1], opt="adam"), mlp_setup([2, 6, 1], opt="adam")
    step = tg.compile(lambda *, X, y: s_c.step(X, y))
    for seed in range(6):
        X, y = batch(7, 2, 1, "mse", np.float32, seed)
        assert_same_loss(s_e.step(tg.Tensor(X), tg.Tensor(y)), step(X=tg.Tensor(X), y=tg.Tensor(y)))
        assert s_e.state() == s_c.state()
    assert traces[0] == 1
    with pytest.raises(TypeError, match="requires grad"):
        step(X=tg.Tensor(X, requires_grad=True), y=y)


# ------------------------------------------------------------------ signatures
def test_ragged_last_batch(traces):
    X, y = batch(100, 3, 1, "mse", np.float32, 0)
    order = [(0, 32), (32, 64), (64, 96), (96, 100)] * 4
    batches = [(X[a:b], y[a:b]) for a, b in order]
    _, _, step = run_twins(lambda: mlp_setup([3, 8, 1], "tanh", np.float32, "momentum"), batches)
    assert step.cache_size == 2
    assert traces[0] == 3          # 32 (twice: momentum buffers appear), then 4


def test_dtype_and_grad_mode_are_part_of_the_signature():
    model = nn.MLP([2, 3, 1], rng=0, dtype=np.float64)
    f = tg.compile(lambda X: model(X))
    X = np.ones((4, 2))
    f(X)
    f(X.astype(np.float32))
    with tg.no_grad():
        f(X)
    f(X)
    assert f.cache_size == 3


def test_scalar_arguments_give_separate_traces(traces):
    """lr as an argument: one trace per value, each replayed with its own value (the update
    is written as Tensor ops under no_grad, so the value is part of the recorded kernels)."""
    def setup():
        model = nn.MLP([3, 8, 1], activation="tanh", rng=1, dtype=np.float32)
        params = list(model.parameters())

        def step(X, y, lr):
            for p in params:
                p.grad = None
            loss = F.mse_loss(model(X), y)
            loss.backward()
            with tg.no_grad():
                for p in params:
                    p -= lr * p.grad
            return loss
        return model, step

    (me, se), (mc, sc) = setup(), setup()
    sc = tg.compile(sc)
    for i, lr in enumerate([0.1, 0.05, 0.1, 0.1, 0.05, 0.2, 0.05]):
        X, y = batch(10, 3, 1, "mse", np.float32, i)
        assert_same_loss(se(X, y, lr), sc(X, y, lr), f"step {i}")
        assert snapshot(list(me.parameters())) == snapshot(list(mc.parameters()))
    assert sc.cache_size == 3
    assert traces[0] == 3


def test_float_scalar_signature_by_bits():
    """-0.0 and 0.0 are different arguments (x * -0.0 is -0.0); a NaN finds its trace
    (regression: -0.0 replayed 0.0's trace, and every NaN call traced again)."""
    f = lambda X, s: tg.Tensor(X) * s  # noqa: E731
    c = tg.compile(f)
    X = np.arange(4.0)
    for s in (0.0, -0.0, 0.0, -0.0):
        assert c(X, s).data.tobytes() == f(X, s).data.tobytes()
    assert c.cache_size == 2
    for _ in range(3):
        assert np.isnan(c(X, float("nan")).data).all()
    assert c.cache_size == 3


def test_unsupported_argument_types():
    f = tg.compile(lambda X, fn: X)
    with pytest.raises(TypeError, match="not supported"):
        f(np.ones(2), [1, 2])


# ------------------------------------------------------------------ structure changes
def test_parameter_array_replaced(traces):
    def between(i, e, c):
        if i == 3:
            new = np.random.default_rng(9).standard_normal(e.params[0].shape).astype(np.float32)
            e.model.layers[0].weight.data = new.copy()
            c.model.layers[0].weight.data = new.copy()
            between.new = c.model.layers[0].weight.data

    eager, comp, _ = run_twins(lambda: mlp_setup([3, 8, 1], "tanh", np.float32, "adam"),
                               same_batches(9, 10, 3, 1, "mse", np.float32), between)
    assert comp.model.layers[0].weight.data is between.new     # trained in place
    assert traces[0] == 2


@pytest.mark.parametrize("opt", ["momentum", "adam"])
def test_load_state_dict_of_model_and_optimizer(opt, traces):
    donor = mlp_setup([3, 8, 1], "tanh", np.float32, opt, seed=7)
    for seed in range(4):
        donor.step(*batch(10, 3, 1, "mse", np.float32, 100 + seed))
    model_state, opt_state = donor.model.state_dict(), donor.opt.state_dict()

    def between(i, e, c):
        if i == 3:
            for s in (e, c):
                s.model.load_state_dict(model_state)
        if i == 6:
            for s in (e, c):
                s.opt.load_state_dict(opt_state)

    eager, comp, _ = run_twins(lambda: mlp_setup([3, 8, 1], "tanh", np.float32, opt),
                               same_batches(10, 10, 3, 1, "mse", np.float32), between)
    if opt == "adam":
        assert comp.opt.steps == [4 + 3] * 4          # the donor's count, continued
    assert traces[0] >= 3


def test_layer_and_activation_replaced(traces):
    def make():
        return mlp_setup([3, 8, 8, 1], "tanh", np.float32, "adam")

    def between(i, e, c):
        if i == 3:
            for s in (e, c):
                setattr(s.model.layers, "1", nn.Linear(8, 8, rng=11, dtype=np.float32))
                s.opt = optim.Adam(s.model.parameters(), lr=0.01)
                s.params = list(s.model.parameters())
        if i == 6:
            for s in (e, c):
                s.model.activation = nn.ReLU()

    eager, comp, _ = run_twins(make, same_batches(10, 10, 3, 1, "mse", np.float32), between)
    assert comp.opt.steps == [6] * 6
    assert traces[0] == 3


def test_optimizer_replaced():
    def make():
        return mlp_setup([3, 8, 1], "tanh", np.float32, "adam")

    def between(i, e, c):
        if i == 2:
            for s in (e, c):
                s.opt = optim.Adam(s.params, lr=0.05)

    run_twins(make, same_batches(6, 10, 3, 1, "mse", np.float32), between)


def test_optimizer_lr_assigned_inside_the_step():
    def setup():
        s = mlp_setup([3, 8, 1], "tanh", np.float32, "sgd")

        def step(X, y, lr):
            s.opt.lr = lr
            return s.step(X, y)
        return s, step

    (_, se), (_, sc) = setup(), setup()
    sc = tg.compile(sc)
    for i, lr in enumerate([0.1, 0.05, 0.1, 0.05]):
        X, y = batch(10, 3, 1, "mse", np.float32, i)
        assert_same_loss(se(X, y, lr), sc(X, y, lr), f"step {i}")


def test_out_of_range_labels_refused_at_replay():
    model = nn.MLP([2, 4, 3], rng=0)
    f = tg.compile(lambda X, labels: F.cross_entropy(model(X), labels))
    X, labels = batch(8, 2, 3, "ce_int", np.float64, 0)
    f(X, labels)
    bad = labels.copy()
    bad[0] = -1
    with pytest.raises(ValueError, match="out of range"):
        F.cross_entropy(model(X), bad)
    with pytest.raises(ValueError, match="out of range"):
        f(X, bad)


# ------------------------------------------------------------------ TraceError
READS = [
    (lambda t: t.item(), ".item()"),
    (float, "float()"),
    (int, "int()"),
    (bool, "bool()"),
    (lambda t: 1 if t > 0 else 0, "bool()"),
    (lambda t: t.tolist(), ".tolist()"),
    (np.asarray, "np.asarray()"),
    (lambda t: t.numpy(), ".numpy()"),
    (lambda t: f"{t:.3f}", "format()"),
    # through the array (regression: these returned the trace's value at every replay)
    (lambda t: t.data.item(), "ndarray.item()"),
    (lambda t: float(t.data), "float() of an ndarray"),
    (lambda t: t.data.tolist(), "ndarray.tolist()"),
    (lambda t: 1 if t.data > 0 else 0, "bool() of an ndarray"),
    (lambda t: list(range(4))[t.data.astype(int)], "an ndarray used as an index"),
]


@pytest.mark.parametrize("read, call", READS, ids=[c for _, c in READS])
def test_reading_a_traced_value_raises(read, call):
    s = mlp_setup([2, 4, 1], opt="adam")

    def step(X, y):
        s.opt.zero_grad()
        loss = F.mse_loss(s.model(X), y)
        read(loss)
        loss.backward()
        s.opt.step()
        return loss

    f = tg.compile(step)
    X, y = batch(6, 2, 1, "mse", np.float32, 0)
    with pytest.raises(tg.TraceError, match=re.escape(call)) as err:
        f(X, y)
    assert "tg.compile" in str(err.value) and "frozen" in str(err.value)
    # nothing left behind: no active trace, parameters are plain arrays, eager and compiled
    # training both still work
    assert mode().trace is None and f.cache_size == 0
    assert all(type(p.data) is np.ndarray and (p.grad is None or type(p.grad.data) is np.ndarray)
               for p in s.params)
    ok = tg.compile(s.step)
    for _ in range(3):
        assert np.isfinite(ok(X, y).item())
    assert s.opt.steps == [3] * 4


def test_anomaly_mode_around_the_call_runs_eagerly():
    """detect_anomaly checks values in Python: under it a compiled step runs eagerly (and
    still catches a NaN), and a later call without it traces as usual."""
    eager, comp = mlp_setup([3, 8, 1], opt="adam"), mlp_setup([3, 8, 1], opt="adam")
    step = tg.compile(comp.step)
    for i, (X, y) in enumerate(same_batches(4, 6, 3, 1, "mse", np.float32)):
        with tg.detect_anomaly():
            assert_same_loss(eager.step(X, y), step(X, y), f"step {i}")
        assert eager.state() == comp.state()
    assert step.cache_size == 0
    X[0, 0] = np.nan
    with tg.detect_anomaly(), pytest.raises(FloatingPointError, match="nan"):
        step(X, y)
    step(X[1:], y[1:])
    assert step.cache_size == 1


def test_anomaly_mode_turned_on_inside_the_step():
    s = mlp_setup([2, 4, 1])

    def step(X, y):
        with tg.detect_anomaly():
            return s.step(X, y)

    with pytest.raises(tg.TraceError, match="detect_anomaly.*around the call"):
        tg.compile(step)(*batch(6, 2, 1, "mse", np.float32, 0))


def test_reading_values_outside_the_step_is_fine():
    s = mlp_setup([2, 4, 1])
    f = tg.compile(s.step)
    X, y = batch(6, 2, 1, "mse", np.float32, 0)
    loss = f(X, y)
    assert isinstance(loss.item(), float) and float(loss) == loss.item() and bool(loss > 0)
    assert isinstance(loss.data.item(), float) and loss.data.tolist() == loss.item()


def test_nested_compiled_call_raises():
    """A compiled function called inside another's trace raises, also when it already has
    a valid trace (regression: its replay ran unrecorded, so the outer replays would have
    reused its trace-time output)."""
    model = nn.MLP([2, 4, 1], rng=0, dtype=np.float32)
    inner = tg.compile(lambda X: model(X))
    X, y = batch(6, 2, 1, "mse", np.float32, 0)
    inner(X)
    inner(X)
    outer = tg.compile(lambda X, y: F.mse_loss(inner(X), y))
    with pytest.raises(tg.TraceError, match="another one is being traced"):
        outer(X, y)
    fresh = tg.compile(lambda X: model(X))
    with pytest.raises(tg.TraceError, match="another one is being traced"):
        tg.compile(lambda X, y: F.mse_loss(fresh(X), y))(X, y)


# ------------------------------------------------------------------ check=True
def test_check_true_passes_on_training_steps(traces):
    run_twins(lambda: mlp_setup([3, 8, 2], "relu", np.float32, "adam", "ce_int"),
              same_batches(8, 10, 3, 2, "ce_int", np.float32), check=True)
    run_twins(lambda: mlp_setup([3, 8, 1], "tanh", np.float64, "nesterov"),
              same_batches(8, 10, 3, 1, "mse", np.float64), check=True)


def test_check_true_catches_a_global_read_at_trace_time():
    scale = {"value": 1.0}
    s = mlp_setup([2, 4, 1])
    X, y = batch(6, 2, 1, "mse", np.float32, 0)
    loose = tg.compile(lambda X, y: F.mse_loss(s.model(X), y) * scale["value"])
    strict = tg.compile(lambda X, y: F.mse_loss(s.model(X), y) * scale["value"], check=True)
    for f in (loose, strict):
        f(X, y)
        f(X, y)
    scale["value"] = 2.0
    loose(X, y)                                    # frozen at trace time, as documented
    with pytest.raises(RuntimeError, match="check=True.*differs from eager"):
        strict(X, y)


def test_check_true_catches_numpy_random_inside():
    s = mlp_setup([2, 4, 1])
    gen = np.random.default_rng(0)

    def step(X, y):
        s.opt.zero_grad()
        noise = gen.standard_normal(X.shape).astype(np.float32)
        loss = F.mse_loss(s.model(X + noise), y)
        loss.backward()
        s.opt.step()
        return loss

    f = tg.compile(step, check=True)
    X, y = batch(6, 2, 1, "mse", np.float32, 0)
    f(X, y)
    with pytest.raises(RuntimeError, match="check=True.*differs from eager"):
        f(X, y)


# ------------------------------------------------------------------ evaluation, outputs
def test_evaluation_under_no_grad(traces):
    s = mlp_setup([3, 16, 2], "leaky_relu", np.float64, "adam", "ce_int")
    evaluate = tg.compile(lambda X: s.model(X))
    train = tg.compile(s.step)
    X, y = batch(20, 3, 2, "ce_int", np.float64, 0)
    for i in range(6):
        with tg.no_grad():
            got = evaluate(X)
            want = s.model(X)
        assert got.data.tobytes() == want.data.tobytes(), f"round {i}"
        assert not got.requires_grad and got.grad_fn is None
        train(X, y)                                # parameters change in place
    assert evaluate.cache_size == 1 and traces[0] == 2
    assert all(p.grad is not None for p in s.params)   # evaluation left the gradients alone


def test_evaluation_replay_leaves_gradients_alone(traces):
    """Eager training (gradients accumulating) with a compiled evaluation in between: the
    evaluation's replays must not touch `.grad` (regression: every replay put back the
    gradient arrays of the evaluation's trace time)."""
    def between(i, e, c):
        with tg.no_grad():
            want = e.model(X)
            got = evaluate(X)
        assert got.data.tobytes() == want.data.tobytes()
        grads = [p.grad for p in c.params]
        with tg.no_grad():
            evaluate(X)
        assert all(p.grad is g for p, g in zip(c.params, grads))

    X, _ = batch(5, 3, 1, "mse", np.float32, 99)
    eager = mlp_setup([3, 8, 1], "tanh", np.float32, "momentum", zero_grad=False)
    comp = mlp_setup([3, 8, 1], "tanh", np.float32, "momentum", zero_grad=False)
    evaluate = tg.compile(lambda X: comp.model(X))
    with tg.no_grad():
        evaluate(X)                                # traced before any gradient exists
    for i, (Xb, yb) in enumerate(same_batches(6, 10, 3, 1, "mse", np.float32)):
        assert_same_loss(eager.step(Xb, yb), comp.step(Xb, yb), f"step {i}")
        between(i, eager, comp)
        assert eager.state() == comp.state(), f"state differs after step {i}"
    assert traces[0] == 1


def test_returned_tensors_are_copies():
    e, c = mlp_setup([2, 4, 1], opt="adam"), mlp_setup([2, 4, 1], opt="adam")
    step = tg.compile(lambda X, y: (lambda l: (l, l.data, {"loss": l}))(c.step(X, y)))
    X, y = batch(6, 2, 1, "mse", np.float32, 0)
    kept, want = [], []
    for _ in range(5):
        kept.append(step(X, y))
        want.append(e.step(X, y).data.copy())
    for (t, arr, d), w in zip(kept, want):
        assert t.data.tobytes() == arr.tobytes() == d["loss"].data.tobytes() == w.tobytes()
        assert not t.requires_grad and t.grad_fn is None
    assert len({k[0].data.tobytes() for k in kept}) == 5
    assert not np.shares_memory(kept[0][0].data, kept[1][0].data)


def test_accumulating_gradients_without_zero_grad(traces):
    run_twins(lambda: mlp_setup([3, 8, 1], "sigmoid", np.float32, "momentum", zero_grad=False),
              same_batches(10, 10, 3, 1, "mse", np.float32))
    assert traces[0] <= 3


def test_zero_grad_outside_the_step_every_other_call():
    """Gradients None at some calls and present at others: traced again when that changes,
    never replayed on the wrong assumption."""
    def between(i, e, c):
        if i % 2:
            e.opt.zero_grad()
            c.opt.zero_grad()
    run_twins(lambda: mlp_setup([3, 8, 1], "tanh", np.float32, "adam", zero_grad=False),
              same_batches(10, 10, 3, 1, "mse", np.float32), between)


# ------------------------------------------------------------------ hand-written updates
def _subtract_out(p, lr):
    np.subtract(p.data, lr * p.grad, out=p.data)


def _setitem(p, lr):
    p.data[...] = p.data - lr * p.grad


def _assign(p, lr):
    p.data = p.data - lr * p.grad


def _tensor_isub(p, lr):
    p -= lr * p.grad


def _data_isub(p, lr):
    p.data -= lr * p.grad


def _data_isub_array(p, lr):
    p.data -= lr * p.grad.data


UPDATES = {"np.subtract(data, lr*grad, out=data)": _subtract_out,
           "data[...] = data - lr*grad": _setitem,
           "data = data - lr*grad": _assign,
           "p -= lr*grad": _tensor_isub,
           "data -= lr*grad": _data_isub,
           "data -= lr*grad.data": _data_isub_array}
RETRACING = {"data -= lr*grad", "data -= lr*grad.data"}    # see test_data_isub_replays


def hand_written(update: str) -> tuple[list[tg.Tensor], Callable]:
    model = nn.MLP([3, 8, 1], activation="tanh", rng=2, dtype=np.float32)
    params = list(model.parameters())

    def step(X, y):
        for p in params:
            p.grad = None
        loss = F.mse_loss(model(X), y)
        loss.backward()
        with tg.no_grad():
            for p in params:
                UPDATES[update](p, 0.1)
        return loss
    return params, step


@pytest.mark.parametrize("update", list(UPDATES), ids=list(UPDATES))
def test_hand_written_updates(update, traces):
    """A training step with the update written by hand on `.data`, mixing arrays and
    Tensors (regression: `np.subtract(p.data, lr * p.grad, out=p.data)` was applied twice
    per replay, `p.data - lr * p.grad` raised TraceError)."""
    (pe, se), (pc, sc) = hand_written(update), hand_written(update)
    sc = tg.compile(sc)
    for i in range(6):
        X, y = batch(10, 3, 1, "mse", np.float32, i)
        assert_same_loss(se(X, y), sc(X, y), f"step {i}")
        assert snapshot(pe) == snapshot(pc)
    if update not in RETRACING:
        assert traces[0] == 1


@pytest.mark.parametrize("update", sorted(RETRACING))
def test_data_isub_replays(update, traces):
    params, step = hand_written(update)
    step = tg.compile(step)
    for i in range(4):
        step(*batch(10, 3, 1, "mse", np.float32, i))
    assert traces[0] == 1


def test_custom_function_scratch_array_written_in_parts():
    """A scratch array (np.zeros) whose first write covers only part of it: restored before
    every replay (regression: classified as a step's output, so the part that accumulates
    kept growing)."""
    class HalfDouble(tg.Function):
        @staticmethod
        def forward(ctx, a):
            out = np.zeros(a.shape, a.dtype)
            half = len(a) // 2
            np.multiply(a[:half], 2, out=out[:half])
            out[half:] += a[half:]
            return out

        @staticmethod
        def backward(ctx, g):
            return g

    f = lambda x: HalfDouble.apply(tg.Tensor(x))  # noqa: E731
    c = tg.compile(f)
    for k in range(4):
        x = np.arange(6.0) + k
        assert c(x).data.tolist() == f(x).data.tolist()


# ------------------------------------------------------------------ memory, threads
def test_memory_flat_over_thousands_of_replays():
    s = mlp_setup([2, 16, 16, 1], "tanh", np.float32, "adam")
    step = tg.compile(s.step)
    X, y = batch(100, 2, 1, "mse", np.float32, 0)
    for _ in range(100):
        step(X, y)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(100):
            step(X, y)
        after_100 = tracemalloc.get_traced_memory()[0]
        for _ in range(2900):
            step(X, y)
        after_3000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after_3000 - after_100 < 20_000, (after_100, after_3000)
    assert step.cache_size == 1


def test_threads_each_replaying_their_own_step():
    configs = [([3, 16, 8, 1], "tanh", np.float32, "adam", "mse"),
               ([4, 12, 3], "relu", np.float64, "nesterov", "ce_int")]
    n_steps = 150
    data = [same_batches(5, 16, cfg[0][0], cfg[0][-1], cfg[4], cfg[2]) for cfg in configs]

    want = []
    for cfg, batches in zip(configs, data):
        e = mlp_setup(*cfg)
        losses = [e.step(*batches[i % 5]).data.tobytes() for i in range(n_steps)]
        want.append((losses, e.state()))

    setups = [mlp_setup(*cfg) for cfg in configs]
    got: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def work(k):
        step = tg.compile(setups[k].step)
        barrier.wait()
        losses = [step(*data[k][i % 5]).data.tobytes() for i in range(n_steps)]
        got[k] = (losses, setups[k].state(), step.cache_size)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(2):
        losses, state, cache_size = got[k]
        assert losses == want[k][0], f"thread {k}: losses differ"
        assert state == want[k][1], f"thread {k}: state differs"
        assert cache_size == 1


def test_one_compiled_function_shared_by_threads():
    """Evaluating one model from two threads is safe eagerly, so it must be compiled too:
    calls run one at a time (regression: replays wrote each other's shared buffers)."""
    model = nn.MLP([8, 64, 1], activation="sigmoid", rng=0)
    evaluate = tg.compile(lambda X: model(X))
    Xs = [np.random.default_rng(k).standard_normal((256, 8)) for k in range(2)]
    with tg.no_grad():
        want = [model(X).data.tobytes() for X in Xs]
        evaluate(Xs[0])
    wrong: list[int] = []
    barrier = threading.Barrier(2)

    def work(k):
        barrier.wait()
        with tg.no_grad():
            for _ in range(300):
                if evaluate(Xs[k]).data.tobytes() != want[k]:
                    wrong.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, f"{len(wrong)} wrong results of 600"
    assert evaluate.cache_size == 1


# ------------------------------------------------------------------ property
OPTIMIZERS = ["sgd", "momentum", "nesterov", "weight_decay", "momentum_wd", "adam", "adam_wd"]


@given(n_in=st.integers(1, 4), hidden=st.lists(st.integers(1, 8), min_size=0, max_size=2),
       n_out=st.integers(1, 3), act=st.sampled_from(ACTIVATIONS),
       opt=st.sampled_from(OPTIMIZERS), dt=st.sampled_from(DTYPES),
       loss=st.sampled_from(["mse", "bce", "ce_int", "ce_prob"]),
       sizes=st.lists(st.integers(1, 9), min_size=1, max_size=8), seed=st.integers(0, 2**16),
       lrs=st.lists(st.sampled_from([None, 0.0, 1e-3, 0.02, 0.3]), min_size=8, max_size=8))
def test_random_mlps_and_batch_sequences(n_in, hidden, n_out, act, opt, dt, loss, sizes, seed,
                                         lrs):
    """Random MLPs, optimizers and dtypes; batch sizes with repeats (replays) and ragged
    sizes (new traces); the learning rate sometimes changed between steps."""
    def between(i, e, c):
        if lrs[i] is not None:
            e.opt.lr = c.opt.lr = lrs[i]

    batches = [batch(n, n_in, n_out, loss, dt, seed + i) for i, n in enumerate(sizes)]
    _, _, step = run_twins(lambda: mlp_setup([n_in, *hidden, n_out], act, dt, opt, loss, seed % 7),
                           batches, between)
    assert step.cache_size == len(set(sizes))


def _scaled_in_place(s: Setup, loss: tg.Tensor) -> tuple:
    s.params[2].grad.data *= 0.5
    return (loss,)


GRAD_USES = {
    "returns a gradient": lambda s, loss: (loss, s.params[0].grad),
    "reads gradients before the step": lambda s, loss: (loss, sum((p.grad * p.grad).sum() for p in s.params)),
    "scales a gradient in place before the step": _scaled_in_place,
    "reads a gradient after the step": None,
}


@pytest.mark.parametrize("use", list(GRAD_USES))
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_gradients_written_into_the_optimizers_buffer_stay_right(use, opt):
    """A packed model's optimizer copies gradients into its flat buffer, and the compiled step
    then computes them there (copy elision). Whatever else the step does with the gradients
    (return them, read them, change them in place before the step, read them after), the
    replay equals eager execution bit for bit."""
    def make():
        s = mlp_setup([3, 8, 2], "tanh", np.float64, opt)

        def step(X, y):
            s.opt.zero_grad()
            loss = s.loss_fn(s.model(X), y)
            loss.backward()
            out = loss if GRAD_USES[use] is None else GRAD_USES[use](s, loss)
            s.opt.step()
            if GRAD_USES[use] is None:
                out = (loss, s.params[1].grad * 2)
            return out
        s.step = step
        return s

    eager, comp = make(), make()
    compiled = tg.compile(comp.step)
    for i, (X, y) in enumerate(same_batches(6, 5, 3, 2, "mse", np.float64)):
        a, b = eager.step(X, y), compiled(X, y)
        for u, v in zip(a, b):
            assert u.data.tobytes() == v.data.tobytes(), (use, i)
        assert eager.state() == comp.state(), (use, i)
    assert compiled.cache_size == 1


def test_gradients_changed_in_place_are_still_computed_in_the_optimizers_buffer():
    """Several steps write a gradient before the optimizer copies it (backward, then an L2
    term added in place, as the sklearn estimators do): all of them write into the flat
    buffer, no copy is replayed, and the replay equals eager bit for bit."""
    l2 = np.full((), 0.01, np.float32)

    def make():
        s = mlp_setup([2, 16, 16, 1], "tanh", np.float32, "adam")

        def step(X, y):
            s.opt.zero_grad()
            loss = s.loss_fn(s.model(X), y)
            loss.backward()
            for lin in s.model.layers:
                lin.weight.grad.data += l2 * lin.weight.data
            s.opt.step()
            return loss
        return s, step

    (eager, eager_step), (comp, comp_step) = make(), make()
    compiled = tg.compile(comp_step)
    for i, (X, y) in enumerate(same_batches(5, 10, 2, 1, "mse", np.float32)):
        l2[...] = 0.01 * (i + 1)                      # read at every replay
        assert eager_step(X, y).data.tobytes() == compiled(X, y).data.tobytes(), i
        assert eager.state() == comp.state(), i
    (trace, _, _), = compiled._traces.values()
    assert not any(getattr(step, "func", None) is np.copyto for step in trace.steps)


def test_a_compiled_packed_model_replays_without_the_gradient_copies():
    s = mlp_setup([2, 16, 16, 1], "tanh", np.float32, "sgd")
    compiled = tg.compile(s.step)
    for X, y in same_batches(3, 10, 2, 1, "mse", np.float32):
        compiled(X, y)
    (trace, _, _), = compiled._traces.values()
    assert not any(getattr(step, "func", None) is np.copyto for step in trace.steps)
    flat = s.opt._flat
    assert all(np.shares_memory(p.grad.data, flat.grad) for p in s.params)
