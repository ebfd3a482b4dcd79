"""nn: registration, traversal, the running-module marker, init rules, Linear/MLP/Sequential,
state_dict round trips and errors, repr (fit() is tested in test_training.py)."""
import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor, nn, optim, functional as F
from tinygrad_mlp.engine import reachable
from tinygrad_mlp.mode import mode


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 3, rng=0)
        self.scale = nn.Parameter(np.array(2.0))
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.lin(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Block()
        self.second = nn.Sequential(nn.Linear(3, 1, rng=1), nn.Sigmoid())

    def forward(self, x):
        return self.second(self.first(x))


# ------------------------------------------------------------------ registration and traversal
def test_parameters_register_by_assignment_in_order():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    # PyTorch's order: a module's own parameters, then its children's, depth first
    assert names == ["first.scale", "first.lin.weight", "first.lin.bias",
                     "second.0.weight", "second.0.bias"]
    assert [n for n, _ in Block().named_parameters()] == ["scale", "lin.weight", "lin.bias"]
    assert all(p.requires_grad and isinstance(p, nn.Parameter) for p in net.parameters())
    assert [type(c).__name__ for c in net.children()] == ["Block", "Sequential"]


def test_named_modules_is_preorder_and_deduplicated():
    shared = nn.Linear(2, 2, rng=0)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.parameters())) == 2      # the shared layer counts once
    assert [n for n, _ in Net().named_modules()] == [
        "", "first", "first.lin", "first.act", "second", "second.0", "second.1"]
    assert len(list(Net().modules())) == 7


def test_deep_nesting_does_not_recurse():
    m = nn.Identity()
    for _ in range(5000):
        m = nn.Sequential(m)
    assert sum(1 for _ in m.named_modules()) == 5001
    assert list(m.parameters()) == []


def test_assigning_a_plain_tensor_over_a_parameter_is_an_error():
    lin = nn.Linear(2, 2, rng=0)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        lin.weight = Tensor(np.zeros((2, 2)))
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]


def test_forgetting_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(2))
    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_zero_grad_clears_every_gradient():
    net = Net()
    net(np.ones((4, 2))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ------------------------------------------------------------------ the running-module marker
def test_ops_record_their_innermost_module():
    net = Net()
    out = net(np.ones((4, 2)))
    by_op = {}
    for t in reachable([out]):
        by_op.setdefault(type(t.grad_fn).__name__, set()).add(type(t.grad_fn.call[-1]).__name__)
    assert by_op["Linear"] == {"Linear"}
    assert by_op["Tanh"] == {"Tanh"}
    assert by_op["Mul"] == {"Block"}          # the `* self.scale` in Block.forward
    assert by_op["Sigmoid"] == {"Sigmoid"}
    assert mode().call == ()


def test_running_module_is_restored_after_an_exception():
    class Boom(nn.Module):
        def forward(self, x):
            assert mode().call[-1] is self
            raise RuntimeError("boom")
    outer = nn.Sequential(Boom())
    with pytest.raises(RuntimeError, match="boom"):
        outer(1.0)
    assert mode().call == ()


# ------------------------------------------------------------------ init rules
@pytest.mark.parametrize("init", ["uniform", "xavier", "he", "zeros"])
def test_init_rules(init):
    lin = nn.Linear(400, 300, init=init, rng=0)
    w, b = lin.weight.data, lin.bias.data
    assert w.shape == (300, 400) and b.shape == (300,)
    if init == "uniform":
        bound = 1 / np.sqrt(400)
        assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
        assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
    elif init == "xavier":
        bound = np.sqrt(6 / 700)
        assert np.abs(w).max() <= bound and abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
        assert not b.any()
    elif init == "he":
        assert abs(w.std() - np.sqrt(2 / 400)) < 0.02 * np.sqrt(2 / 400) and not b.any()
    else:
        assert not w.any() and not b.any()


def test_rng_seeds_and_generators_are_reproducible():
    a, b = nn.Linear(3, 4, rng=7), nn.Linear(3, 4, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert not np.array_equal(nn.Linear(3, 4, rng=8).weight.data, a.weight.data)
    m1, m2 = nn.MLP([2, 3, 3, 1], rng=0), nn.MLP([2, 3, 3, 1], rng=0)
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert not np.array_equal(m1.layers[1].weight.data[:, :2], m1.layers[0].weight.data[:3, :2].T)


def test_linear_argument_errors():
    with pytest.raises(ValueError, match="unknown init 'glorot'"):
        nn.Linear(2, 2, init="glorot")
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 2)
    with pytest.raises(TypeError, match="rng"):
        nn.Linear(2, 2, rng="seed")


# ------------------------------------------------------------------ Linear, MLP, Sequential
def test_linear_forward_and_no_bias():
    lin = nn.Linear(3, 2, rng=0)
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(lin(x).data, x @ lin.weight.data.T + lin.bias.data)
    nb = nn.Linear(3, 2, bias=False, rng=0)
    assert nb.bias is None and len(list(nb.parameters())) == 1
    np.testing.assert_allclose(nb(x).data, x @ nb.weight.data.T)


def test_float32_model_stays_float32_end_to_end(raw_grad_dtypes):
    model = nn.MLP([4, 8, 3], activation="relu", rng=0, dtype=np.float32)
    x = np.ones((5, 4), dtype=np.float32)
    out = model(x)
    assert out.dtype == np.float32
    loss = F.cross_entropy(out, np.array([0, 1, 2, 0, 1]))
    assert loss.dtype == np.float32
    loss.backward()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.step()
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert raw_grad_dtypes and set(raw_grad_dtypes) == {np.dtype(np.float32)}
    assert all(b.dtype == np.float32 for b in opt.momentum_buffers)


def test_linear_forward_does_not_copy_ndarray_input():
    lin = nn.Linear(3, 2, rng=0)
    x = np.ones((4, 3))
    out = lin(x)
    assert out.grad_fn.parents[0].data is x


@pytest.mark.parametrize("act, fn", [("sigmoid", lambda z: 1 / (1 + np.exp(-z))), ("tanh", np.tanh),
                                     ("relu", lambda z: np.maximum(z, 0)),
                                     (nn.LeakyReLU(0.1), lambda z: np.where(z > 0, z, 0.1 * z)),
                                     ("softplus", lambda z: np.log1p(np.exp(z)))])
def test_mlp_matches_a_numpy_forward(act, fn):
    model = nn.MLP([2, 5, 4, 1], activation=act, output_activation="sigmoid", rng=3)
    x = np.random.default_rng(0).normal(size=(6, 2))
    a = x
    for i, layer in enumerate(model.layers):
        a = a @ layer.weight.data.T + layer.bias.data
        a = fn(a) if i < 2 else 1 / (1 + np.exp(-a))
    np.testing.assert_allclose(model(x).data, a, rtol=1e-12)
    assert [type(layer) for layer in model.layers] == [nn.Linear] * 3


def test_mlp_errors():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.MLP([2, 1], activation="swish")
    with pytest.raises(ValueError, match="at least"):
        nn.MLP([2])


def test_sequential_indexing_and_iteration():
    seq = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 1, rng=1))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and isinstance(seq[-1], nn.Linear)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2
    x = np.ones((2, 2))
    np.testing.assert_allclose(seq(x).data, seq[2](seq[1](seq[0](x))).data)


# ------------------------------------------------------------------ state_dict
def test_state_dict_round_trips_exactly_and_is_a_snapshot():
    src, dst = nn.MLP([3, 4, 2], rng=0), nn.MLP([3, 4, 2], rng=1)
    sd = src.state_dict()
    assert list(sd) == ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    ids = [id(p) for p in dst.parameters()]
    result = dst.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in dst.state_dict().items():
        np.testing.assert_array_equal(v, sd[k])
    assert [id(p) for p in dst.parameters()] == ids    # loaded in place
    src.layers[0].weight.data[...] = 0
    assert sd["layers.0.weight"].any()


def test_load_state_dict_errors_name_the_keys():
    model = nn.MLP([3, 4, 2], rng=0)
    sd = model.state_dict()
    missing = {k: v for k, v in sd.items() if k != "layers.1.bias"}
    with pytest.raises(RuntimeError, match="missing key.*'layers.1.bias'"):
        model.load_state_dict(missing)
    extra = dict(sd, **{"layers.2.weight": np.zeros(1)})
    with pytest.raises(RuntimeError, match="unexpected key.*'layers.2.weight'"):
        model.load_state_dict(extra)
    wrong = dict(sd, **{"layers.0.weight": np.zeros((3, 4))})
    with pytest.raises(RuntimeError, match=r"size mismatch for 'layers.0.weight'.*\(3, 4\).*\(4, 3\)"):
        model.load_state_dict(wrong, strict=False)
    with pytest.raises(TypeError, match="'layers.0.bias'"):
        model.load_state_dict(dict(sd, **{"layers.0.bias": np.array(["a"] * 4)}))
    before = model.state_dict()
    res = model.load_state_dict({"layers.0.bias": np.ones(4), "other": np.ones(1)}, strict=False)
    assert res.unexpected_keys == ["other"] and "layers.1.weight" in res.missing_keys
    np.testing.assert_array_equal(model.layers[0].bias.data, np.ones(4))
    np.testing.assert_array_equal(model.layers[1].weight.data, before["layers.1.weight"])


# ------------------------------------------------------------------ repr
def test_repr_reads_like_pytorch():
    model = nn.MLP([2, 3, 1], activation="tanh", output_activation="sigmoid", rng=0)
    assert repr(model) == (
        "MLP(\n"
        "  (layers): ModuleList(\n"
        "    (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "    (1): Linear(in_features=3, out_features=1, bias=True)\n"
        "  )\n"
        "  (activation): Tanh()\n"
        "  (output_activation): Sigmoid()\n"
        ")")
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Parameter([1.0])).startswith("Parameter containing:\nTensor([1.]")


def test_mlp_sizes_must_be_positive_ints():
    for bad in ([2.7, 1], [2, 0, 1], [True, 1]):
        with pytest.raises(ValueError, match="positive ints"):
            nn.MLP(bad)


# ------------------------------------------------------------------ modes, pickle, deepcopy
def test_train_and_eval_set_training_everywhere():
    model = nn.MLP([2, 3, 1], rng=0)
    assert model.training and all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    assert model.train() is model and all(m.training for m in model.modules())
    model.layers[0].train(False)
    assert not model.layers[0].training and model.training


def test_models_pickle_and_deepcopy_after_a_forward_pass():
    """Regression: modules kept a weakref to their caller, so pickling failed after a forward
    and deepcopy shared state."""
    import copy
    import pickle
    model = nn.MLP([2, 4, 1], activation="tanh", rng=0)
    x = np.array([[0.5, -1.0], [2.0, 0.1]])
    out = model(x)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        np.testing.assert_array_equal(clone(x).data, out.data)
        clone.layers[0].weight.data[...] = 0.0
        assert not np.array_equal(model.layers[0].weight.data, 0.0)
