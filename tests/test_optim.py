"""Optimizers: a few steps against updates computed by hand from PyTorch's documented rules."""
import numpy as np
import pytest

from tinygrad_mlp import Tensor, nn, optim

W0 = np.array([[0.5, -1.0], [2.0, 0.25]])
GRADS = [np.array([[0.1, -0.2], [0.3, 0.4]]), np.array([[-0.5, 0.1], [0.0, 0.2]]),
         np.array([[0.2, 0.2], [-0.1, 0.3]])]


def run(opt_cls, dtype=np.float64, **kw):
    p = nn.Parameter(W0.astype(dtype))
    opt = opt_cls([p], **kw)
    traj = []
    for g in GRADS:
        p.grad = Tensor(g.astype(dtype))
        opt.step()
        traj.append(p.data.copy())
    return p, traj


def sgd_reference(lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    w, buf, out = W0.copy(), None, []
    for g in GRADS:
        d = g + weight_decay * w
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + d
            d = d + momentum * buf if nesterov else buf
        w = w - lr * d
        out.append(w)
    return out


def adam_reference(lr, b1, b2, eps, weight_decay=0.0):
    w, m, v, out = W0.copy(), 0.0, 0.0, []
    for t, g in enumerate(GRADS, start=1):
        g = g + weight_decay * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(w)
    return out


@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.1, momentum=0.9),
                                dict(lr=0.05, momentum=0.8, nesterov=True),
                                dict(lr=0.1, weight_decay=0.01),
                                dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)])
def test_sgd_matches_hand_computed_updates(kw):
    _, traj = run(optim.SGD, **kw)
    for got, want in zip(traj, sgd_reference(**kw)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("kw", [dict(lr=0.01, b1=0.9, b2=0.999, eps=1e-8),
                                dict(lr=0.1, b1=0.5, b2=0.9, eps=1e-3, weight_decay=0.1)])
def test_adam_matches_hand_computed_updates(kw):
    _, traj = run(optim.Adam, lr=kw["lr"], betas=(kw["b1"], kw["b2"]), eps=kw["eps"],
                  weight_decay=kw.get("weight_decay", 0.0))
    for got, want in zip(traj, adam_reference(**kw)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_adam_first_step_moves_every_weight_by_about_lr():
    # the bias correction makes the first step lr * g/|g| (up to eps), whatever the gradient scale
    p, traj = run(optim.Adam, lr=0.01)
    np.testing.assert_allclose(traj[0], W0 - 0.01 * np.sign(GRADS[0]), rtol=1e-6)


@pytest.mark.parametrize("opt_cls", [optim.SGD, optim.Adam])
def test_step_updates_in_place_without_graph_and_skips_missing_grads(opt_cls):
    a, b = nn.Parameter(W0), nn.Parameter(np.ones(3))
    opt = opt_cls([a, b], lr=0.1, **({"momentum": 0.9} if opt_cls is optim.SGD else {}))
    arr = a.data
    (a * a).sum().backward()
    opt.step()
    assert a.data is arr and a.is_leaf and a.requires_grad
    assert not np.array_equal(a.data, W0)
    np.testing.assert_array_equal(b.data, np.ones(3))   # grad None: untouched
    opt.zero_grad()
    assert a.grad is None and b.grad is None


@pytest.mark.parametrize("opt_cls", [optim.SGD, optim.Adam])
def test_float32_optimizer_state_stays_float32(opt_cls):
    """The update runs in the parameters' dtype: its state (momentum, moments) is float32 too,
    so nothing is computed in float64 and cast back on the in-place write."""
    kw = {"momentum": 0.9} if opt_cls is optim.SGD else {}
    p = nn.Parameter(W0.astype(np.float32))
    opt = opt_cls([p], lr=0.1, weight_decay=0.01, **kw)
    for g in GRADS:
        p.grad = Tensor(g.astype(np.float32))
        opt.step()
    state = opt.momentum_buffers if opt_cls is optim.SGD else opt.exp_avg + opt.exp_avg_sq
    assert state and all(s.dtype == np.float32 for s in state)


def test_sgd_is_a_descent_method_on_a_quadratic():
    p = nn.Parameter(np.array([3.0, -2.0]))
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    for _ in range(100):
        opt.zero_grad()
        (p * p).sum().backward()
        opt.step()
    assert np.abs(p.data).max() < 1e-6


def test_argument_errors():
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="requires_grad"):
        optim.SGD([Tensor(np.zeros(2))], lr=0.1)


def test_a_parameter_listed_twice_is_an_error():
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)


# ------------------------------------------------------------------ state_dict and resuming
def _train(model, opt, steps, rng):
    from tinygrad_mlp import functional as F
    for _ in range(steps):
        X = rng.standard_normal((8, 2))
        opt.zero_grad()
        F.mse_loss(model(X), np.sin(X[:, :1])).backward()
        opt.step()


@pytest.mark.parametrize("make", [lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.01),
                                  lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True)])
def test_a_resumed_run_equals_an_uninterrupted_one_bit_for_bit(make, tmp_path):
    import tinygrad_mlp as tg
    a = nn.MLP([2, 8, 1], activation="tanh", rng=0, dtype=np.float32)
    opt_a = make(a.parameters())
    _train(a, opt_a, 10, np.random.default_rng(1))
    tg.save({"model": a.state_dict(), "optimizer": opt_a.state_dict()}, tmp_path / "ckpt.npz")
    rest = np.random.default_rng(2)
    _train(a, opt_a, 10, rest)

    b = nn.MLP([2, 8, 1], activation="tanh", rng=5, dtype=np.float32)
    opt_b = make(b.parameters())
    state = tg.load(tmp_path / "ckpt.npz")
    b.load_state_dict(state["model"])
    opt_b.load_state_dict(state["optimizer"])
    _train(b, opt_b, 10, np.random.default_rng(2))
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.data, pb.data)


def test_optimizer_state_dict_uses_pytorchs_layout_and_is_a_snapshot():
    p = nn.Parameter(W0)
    opt = optim.Adam([p], lr=0.01)
    p.grad = Tensor(GRADS[0])
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"] == [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8,
                                   "weight_decay": 0.0, "params": [0]}]
    assert sd["state"][0]["step"] == 1 and set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    opt.step()
    assert sd["state"][0]["step"] == 1                       # a copy, not a live view
    with pytest.raises(ValueError, match="1 parameters, this optimizer 2"):
        optim.Adam([p, nn.Parameter(W0)]).load_state_dict(sd)


def test_optimizer_step_bumps_parameter_versions():
    p = nn.Parameter(W0)
    opt = optim.SGD([p], lr=0.1)
    p.grad = Tensor(GRADS[0])
    opt.step()
    opt.step()
    assert p._version == 2


def test_structure_changes_with_truth_values_and_state_only():
    """structure() (what tg.compile's replays assume) is kept while only values change (a
    learning rate set every batch), and renewed when a hyperparameter turns zero or nonzero
    or a momentum buffer appears."""
    p = Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    s = opt.structure()
    opt.lr, opt.weight_decay = 0.01, 0.0
    assert opt.structure() is s
    opt.momentum = 0.9
    s2 = opt.structure()
    assert s2 != s
    p.grad = Tensor(np.ones(3))
    opt.step()                                      # the first step makes the buffer
    assert opt.structure() != s2
    opt.weight_decay = 1e-4
    assert opt.structure()[1] is True


@pytest.mark.parametrize("packed", [False, True], ids=["separate", "packed"])
def test_hyperparameters_set_between_steps_apply_to_the_next_step(packed):
    """The kernels read hyperparameters from 0-d arrays written only after one was set: each
    setting reaches the next step. With a constant gradient of 1, Adam moves every element
    by lr / (1 + eps) per step (bias-corrected m = v = 1), SGD by lr (+ lr·wd·w)."""
    def params():
        if packed:
            return list(nn.MLP([1, 1], rng=0).parameters())
        return [Tensor(np.zeros(1), requires_grad=True), Tensor(np.zeros(1), requires_grad=True)]

    def step(opt, ps):
        before = [p.data.copy() for p in ps]
        for p in ps:
            p.grad = Tensor(np.ones(p.shape))
        opt.step()
        return [float((b - p.data).ravel()[0]) for b, p in zip(before, ps)]

    ps = params()
    opt = optim.Adam(ps, lr=0.1)
    assert step(opt, ps) == pytest.approx([0.1, 0.1])
    opt.lr = 0.01
    assert step(opt, ps) == pytest.approx([0.01, 0.01])
    opt.eps = 1.0
    assert step(opt, ps) == pytest.approx([0.005, 0.005])
    ps = params()
    w0 = [float(p.data.ravel()[0]) for p in ps]
    opt = optim.SGD(ps, lr=0.1)
    assert step(opt, ps) == pytest.approx([0.1, 0.1])
    opt.lr = 0.5
    assert step(opt, ps) == pytest.approx([0.5, 0.5])
    w = [float(p.data.ravel()[0]) for p in ps]
    opt.weight_decay = 2.0
    assert step(opt, ps) == pytest.approx([0.5 * (1 + 2 * x) for x in w])
    assert w0 != w


OPTIONS = {"sgd": lambda ps: optim.SGD(ps, lr=0.1),
           "sgd-wd": lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.01),
           "momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
           "adam": lambda ps: optim.Adam(ps, lr=0.01),
           "adam-wd": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1)}


@pytest.mark.parametrize("name", OPTIONS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("eager_max", [optim.FLAT_EAGER_MAX, 0], ids=["flat", "large"])
def test_packed_parameters_update_bit_for_bit_like_separate_ones(name, dt, eager_max, monkeypatch):
    """nn.MLP keeps its parameters in one buffer and the optimizer then updates them with one
    call per operation (or, eagerly and for large parameters, one at a time): the same
    numbers as a parameter at a time."""
    monkeypatch.setattr(optim, "FLAT_EAGER_MAX", eager_max)
    model = nn.MLP([3, 5, 4, 2], rng=0, dtype=dt)
    packed = list(model.parameters())
    base = packed[0].data.base
    assert base is not None and all(p.data.base is base for p in packed)
    separate = [Tensor(p.data.copy(), requires_grad=True) for p in packed]
    a, b = OPTIONS[name](packed), OPTIONS[name](separate)
    assert a._flat is not None and b._flat is None
    rng = np.random.default_rng(1)
    for step in range(6):
        for p, q in zip(packed, separate):
            p.grad = Tensor(rng.standard_normal(p.shape).astype(dt))
            q.grad = Tensor(p.grad.data.copy())
        if step == 3:
            a.lr = b.lr = 0.05
        a.step()
        b.step()
        for p, q in zip(packed, separate):
            assert p.data.tobytes() == q.data.tobytes(), (name, step)


def test_flat_update_falls_back_when_a_parameter_is_replaced_or_skipped():
    model = nn.MLP([2, 3, 1], rng=0)
    ps = list(model.parameters())
    opt = optim.Adam(ps, lr=0.1)
    twin = [Tensor(p.data.copy(), requires_grad=True) for p in ps]
    ref = optim.Adam(twin, lr=0.1)
    for step in range(4):
        for p, q in zip(ps, twin):
            p.grad = Tensor(np.full(p.shape, 0.5))
            q.grad = Tensor(np.full(p.shape, 0.5))
        if step == 1:                       # a skipped parameter: its step count falls behind
            ps[0].grad = twin[0].grad = None
        if step == 2:                       # a replaced array: no longer in the buffer
            ps[1].data = ps[1].data.copy()
        opt.step()
        ref.step()
        for p, q in zip(ps, twin):
            assert p.data.tobytes() == q.data.tobytes(), step


@pytest.mark.parametrize("name", ["sgd", "adam"])
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_copied_model_and_optimizer_train_like_the_original(name, how):
    """Regression: a pickled optimizer kept its flat buffer, which no longer shared memory
    with the unpickled parameters, so its updates went nowhere."""
    import copy
    import pickle
    model = nn.MLP([3, 4, 2], rng=0)
    opt = OPTIONS[name](list(model.parameters()))
    rng = np.random.default_rng(0)

    def step(m, o, grads):
        for p, g in zip(m.parameters(), grads):
            p.grad = Tensor(g)
        o.step()
    grads = [[rng.standard_normal(p.shape) for p in model.parameters()] for _ in range(3)]
    step(model, opt, grads[0])
    pair = (model, opt)
    model2, opt2 = pickle.loads(pickle.dumps(pair)) if how == "pickle" else copy.deepcopy(pair)
    for g in grads[1:]:
        step(model, opt, g)
        step(model2, opt2, g)
    for p, q in zip(model.parameters(), model2.parameters()):
        assert p.data.tobytes() == q.data.tobytes()
