"""tinygrad_mlp.onnx.export: every op with an ONNX form, exported, checked with
`onnx.checker.check_model(full_check=True)` and run in onnxruntime at the example's batch size
and two others, against the engine's own output; models; names; the dynamic batch dimension;
and the errors (ops with no ONNX form, graphs that can't be made batch-generic)."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor, nn, ops
from tinygrad_mlp import functional as F
from tinygrad_mlp.engine import reachable
from tinygrad_mlp.onnx import CONVERTERS, export

RNG = np.random.default_rng(0)
B = 4                    # the example's batch size
OTHER_BATCHES = (1, 7)
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-12)}


def data(batch, feat, dtype=np.float32, seed=0):
    return (2 * np.random.default_rng(seed + batch).standard_normal((batch, *feat))).astype(dtype)


def engine(model, x):
    with tg.no_grad():
        return model(Tensor(x)).data


def recorded_ops(model, x):
    out = model(Tensor(x, requires_grad=True))
    return {type(t.grad_fn) for t in reachable([out])}


def session(proto):
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def roundtrip(model, x, tmp_path, batches=OTHER_BATCHES, **kw):
    """Export, reload from the file, check, and compare onnxruntime with the engine at the
    example's batch size and at `batches`. Returns the loaded model."""
    path = tmp_path / "model.onnx"
    export(model, x, path, **kw)
    proto = onnx.load(path)
    onnx.checker.check_model(proto, full_check=True)
    sess = session(proto)
    name = kw.get("input_name", "input")
    for xb in [x] + [data(b, x.shape[1:], x.dtype, seed=7) for b in batches]:
        ref = engine(model, xb)
        got = sess.run(None, {name: xb})[0]
        assert got.dtype == ref.dtype and got.shape == ref.shape, (got.dtype, got.shape, ref.shape)
        np.testing.assert_allclose(got, ref, **TOL[x.dtype.type])
    return proto


def const(*shape, seed=1, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


W32, V3 = const(3, 2), const(3)
MASK3 = np.array([True, False, True])


# ---------------------------------------------------------------- one case per op
# (id, the op class the case must record, feature shape, function of the input Tensor)
CASES = [
    ("add", ops.Add, (3,), lambda x: x + V3 + 2.0),
    ("sub", ops.Sub, (3,), lambda x: 1.0 - x - V3),
    ("mul", ops.Mul, (3,), lambda x: x * x * 0.5),
    ("div", ops.Div, (3,), lambda x: x / (x.abs() + 1) / 3.0),
    ("neg", ops.Neg, (3,), lambda x: -x),
    ("pow-square", ops.Pow, (3,), lambda x: x ** 2),
    ("pow-float", ops.Pow, (3,), lambda x: (x.abs() + 0.1) ** 1.5),
    ("pow-base", ops.Pow, (3,), lambda x: 2.0 ** x),
    ("matmul", ops.MatMul, (3,), lambda x: x @ W32),
    ("matmul-vector", ops.MatMul, (3,), lambda x: x @ V3),
    ("matmul-3d", ops.MatMul, (2, 3), lambda x: x @ W32),
    ("rmatmul", ops.MatMul, (3,), lambda x: W32.T @ x.T),
    ("linear", ops.Linear, (3,), lambda x: F.linear(x, Tensor(W32.T), Tensor(const(2)))),
    ("linear-nobias", ops.Linear, (3,), lambda x: F.linear(x, Tensor(W32.T))),
    ("linear-3d", ops.Linear, (2, 3), lambda x: F.linear(x, Tensor(W32.T), Tensor(const(2)))),
    ("exp", ops.Exp, (3,), lambda x: x.exp()),
    ("log", ops.Log, (3,), lambda x: (x * x + 0.5).log()),
    ("sqrt", ops.Sqrt, (3,), lambda x: (x * x + 0.5).sqrt()),
    ("tanh", ops.Tanh, (3,), lambda x: x.tanh()),
    ("sigmoid", ops.Sigmoid, (3,), lambda x: (x * 30).sigmoid()),
    ("softplus", ops.Softplus, (3,), lambda x: (x * 10).softplus()),
    ("abs", ops.Abs, (3,), lambda x: x.abs()),
    ("relu", ops.Relu, (3,), lambda x: x.relu()),
    ("leaky_relu", ops.LeakyRelu, (3,), lambda x: x.leaky_relu(0.2)),
    ("clip", ops.Clip, (3,), lambda x: x.clip(-0.5, 0.5)),
    ("maximum", ops.Maximum, (3,), lambda x: tg.maximum(x, 0.3)),
    ("minimum", ops.Minimum, (3,), lambda x: tg.minimum(x, V3)),
    ("where", ops.Where, (3,), lambda x: tg.where(MASK3, x, -x * 2)),
    ("cast", ops.Cast, (3,),
     lambda x: x.astype(np.float16 if x.dtype == np.float64 else np.float64)),
    ("clone", ops.Clone, (3,), lambda x: x.clone() * 1.0),
    ("sum-axis", ops.Sum, (3,), lambda x: x.sum(axis=1)),
    ("sum-keepdims", ops.Sum, (2, 3), lambda x: x.sum(axis=-1, keepdims=True)),
    ("sum-two-axes", ops.Sum, (2, 3), lambda x: x.sum(axis=(1, 2))),
    ("sum-size-one-axis", ops.Sum, (1, 3), lambda x: x.sum(axis=1)),
    ("sum-batch", ops.Sum, (3,), lambda x: x.sum(axis=0)),
    ("max", ops.Max, (2, 3), lambda x: x.max(axis=2)),
    ("max-keepdims", ops.Max, (2, 3), lambda x: x.max(axis=(1, 2), keepdims=True)),
    ("min", ops.Min, (3,), lambda x: x.min(axis=-1)),
    ("logsumexp", ops.LogSumExp, (3,), lambda x: (x * 1e3).logsumexp(axis=1)),
    ("softmax", ops.Softmax, (3,), lambda x: x.softmax(axis=-1)),
    ("log_softmax", ops.LogSoftmax, (2, 3), lambda x: x.log_softmax(axis=1)),
    ("reshape", ops.Reshape, (6,), lambda x: x.reshape(-1, 2, 3)),
    ("flatten", ops.Reshape, (2, 3), lambda x: x.flatten()),
    ("reshape-two-batch-dims", ops.Reshape, (3,),
     lambda x: (x.reshape(-1, 1) * x.reshape(1, -1)).reshape(9 * x.shape[0], x.shape[0])),
    ("transpose", ops.Transpose, (2, 3), lambda x: x.transpose(0, 2, 1)),
    ("T", ops.Transpose, (3,), lambda x: x.T),
    ("expand", ops.Expand, (3,), lambda x: x[:, :1].expand(x.shape[0], 4)),
    ("expand-to-batch", ops.Expand, (3,), lambda x: x.max(axis=0, keepdims=True).expand(x.shape)),
    ("getitem-int", ops.GetItem, (3,), lambda x: x[:, 1]),
    ("getitem-row", ops.GetItem, (3,), lambda x: x[-1]),
    ("getitem-slices", ops.GetItem, (2, 5), lambda x: x[1:, :, ::-2]),
    ("getitem-none", ops.GetItem, (3,), lambda x: x[:, None, 1:]),
    ("getitem-ellipsis", ops.GetItem, (2, 3), lambda x: x[..., 0, None]),
    ("getitem-array", ops.GetItem, (3,), lambda x: x[:, [0, 2, 2, -1]]),
    ("getitem-2d-array", ops.GetItem, (3,), lambda x: x[:, np.array([[0], [1]])]),
    ("getitem-rows", ops.GetItem, (3,), lambda x: x[[0, -1, 0]]),
    ("getitem-mask", ops.GetItem, (3,), lambda x: x[:, MASK3]),
    ("getitem-two-arrays", ops.GetItem, (2, 3), lambda x: x[:, [0, 1, 1], [2, 0, 1]]),
    ("getitem-int-and-array", ops.GetItem, (2, 3), lambda x: x[:, 1, [2, 0]]),
    ("getitem-split-arrays", ops.GetItem, (2, 3), lambda x: x[[0, -1], :, [2, 0]]),
    ("concatenate", ops.Concatenate, (3,), lambda x: tg.concatenate([x, x * 2], axis=1)),
    ("concatenate-rows", ops.Concatenate, (3,), lambda x: tg.concatenate([x, V3[None, :]], axis=0)),
    ("stack", ops.Concatenate, (3,), lambda x: tg.stack([x, -x], axis=1)),
]


@pytest.mark.parametrize("name,op,feat,fn", CASES, ids=[c[0] for c in CASES])
def test_op_float32(name, op, feat, fn, tmp_path):
    x = data(B, feat)
    assert op in recorded_ops(fn, x), f"case {name} does not record {op.__name__}"
    roundtrip(fn, x, tmp_path)


@pytest.mark.parametrize("name,op,feat,fn", CASES, ids=[c[0] for c in CASES])
def test_op_float64(name, op, feat, fn, tmp_path):
    """A float64 model stays float64 in the file, and onnxruntime runs it in double."""
    x = data(B, feat, np.float64)
    proto = roundtrip(fn, x, tmp_path, batches=(3,))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_every_converter_is_tested():
    assert set(CONVERTERS) == {c[1] for c in CASES} | {ops.ScatterAdd}


def test_scatter_add_fixed_batch(tmp_path):
    """ScatterAdd (GetItem's backward, recorded under create_graph) has a fixed shape."""
    idx = (slice(None), np.array([0, 2, 2]))
    fn = lambda x: ops.ScatterAdd.apply(x * 1.0, shape=(x.shape[0], 4), idx=idx)
    x = data(B, (3,))
    proto = roundtrip(fn, x, tmp_path, batches=(), dynamic_batch=False)
    assert "ScatterElements" in {n.op_type for n in proto.graph.node}
    with pytest.raises(ValueError, match="ScatterAdd.*dynamic_batch=False"):
        export(fn, x, tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="opset 16"):
        export(fn, x, tmp_path / "m.onnx", dynamic_batch=False, opset=15)


def test_gradient_inside_forward_fixed_batch(tmp_path):
    """A model whose forward differentiates (create_graph) exports at a fixed batch size;
    with a dynamic batch, the constant gradient seed of the batch's shape is refused."""
    lin = nn.Linear(3, 5, rng=0, dtype=np.float32)

    def forces(x):
        energy = lin(x).tanh().sum()
        return tg.grad(energy, x, create_graph=True)[0]

    x = data(B, (3,))
    proto = export(forces, x, tmp_path / "m.onnx", dynamic_batch=False)
    onnx.checker.check_model(proto, full_check=True)
    got = session(proto).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, forces(Tensor(x, requires_grad=True)).data, **TOL[np.float32])
    with pytest.raises(ValueError, match="differs between two forward passes"):
        export(forces, x, tmp_path / "m.onnx")


@pytest.mark.parametrize("opset", [13, 15, 18, 21])
def test_opsets(opset, tmp_path):
    """Reduce* axes are attributes before opset 18 and inputs from it; Shape slices itself
    from opset 15."""
    fn = lambda x: (x.max(axis=1, keepdims=True).expand(x.shape) + x.sum(axis=0)
                    + x.logsumexp(axis=1, keepdims=True) - x.min(axis=0)
                    + x.max(axis=0, keepdims=True).expand(x.shape))
    proto = roundtrip(fn, data(B, (3,)), tmp_path, opset=opset)
    assert proto.opset_import[0].version == opset


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "softplus",
                                        "identity", nn.LeakyReLU(0.3)])
def test_mlp_each_activation(activation, tmp_path):
    model = nn.MLP([4, 6, 5, 3], activation=activation, output_activation="sigmoid", rng=0,
                   dtype=np.float32)
    roundtrip(model, data(B, (4,)), tmp_path)


def test_mlp_graph_is_the_forward_pass_only(tmp_path):
    model = nn.MLP([4, 6, 3], rng=0, dtype=np.float32)
    proto = export(model, data(B, (4,)), tmp_path / "m.onnx")
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Sigmoid", "Gemm"]
    assert [n.name for n in proto.graph.node] == ["layers.0/Gemm", "activation/Sigmoid",
                                                  "layers.1/Gemm"]
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    state = model.state_dict()
    assert inits.keys() == state.keys()
    for k, v in state.items():
        assert inits[k].dtype == np.float32
        np.testing.assert_array_equal(inits[k], v)


def test_mlp_float64_and_after_training(tmp_path):
    model = nn.MLP([2, 5, 1], activation="tanh", rng=1)
    X, y = tg.datasets.xor()
    opt = tg.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(5):
        opt.zero_grad()
        F.mse_loss(model(X), y.reshape(-1, 1).astype(float)).backward()
        opt.step()
    proto = roundtrip(model, np.asarray(X, dtype=np.float64), tmp_path)
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


class RawNet(nn.Module):
    """A model written with raw tensor ops, not nn.MLP."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Parameter(const(4, 8, seed=2))
        self.b1 = nn.Parameter(const(8, seed=3))
        self.w2 = nn.Parameter(const(8, 3, seed=4))
        self.scale = nn.Parameter(np.float32(0.5))

    def forward(self, x):
        h = (x @ self.w1 + self.b1).relu()
        h = tg.concatenate([h[:, :4] * self.scale, h[:, 4:].tanh()], axis=1)
        z = (h - h.mean(axis=1, keepdims=True)) @ self.w2
        return z.log_softmax(axis=-1)


def test_raw_tensor_op_model(tmp_path):
    model = RawNet()
    proto = roundtrip(model, data(B, (4,)), tmp_path)
    names = {i.name for i in proto.graph.initializer}
    assert {"w1", "b1", "w2", "scale"} <= names


def test_function_model_and_sequential(tmp_path):
    seq = nn.Sequential(nn.Linear(3, 4, rng=0, dtype=np.float32), nn.Tanh(),
                        nn.Linear(4, 2, rng=1, dtype=np.float32))
    proto = roundtrip(seq, data(B, (3,)), tmp_path)
    assert [n.name for n in proto.graph.node] == ["0/Gemm", "1/Tanh", "2/Gemm"]
    proto = roundtrip(lambda x: seq(x).softmax(), data(B, (3,)), tmp_path)
    assert {i.name for i in proto.graph.initializer} == {"param", "param_1", "param_2", "param_3"}
    assert [n.name for n in proto.graph.node] == ["Gemm", "Tanh", "Gemm_1", "Softmax"]


def test_identity_model(tmp_path):
    proto = roundtrip(nn.Identity(), data(B, (3,)), tmp_path)
    assert [n.op_type for n in proto.graph.node] == ["Identity"]


def test_frozen_parameters_tied_weights_and_no_grad(tmp_path):
    """Parameters that don't require grad are still initializers; a tied one appears once;
    an export called under no_grad still records the graph."""
    lin = nn.Linear(3, 3, rng=0, dtype=np.float32)
    for p in lin.parameters():
        p.requires_grad_(False)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    with tg.no_grad():
        proto = roundtrip(model, data(B, (3,)), tmp_path)
    assert sorted(i.name for i in proto.graph.initializer) == ["0.bias", "0.weight"]
    assert lin.weight.grad is None and not lin.weight.requires_grad


def test_recorded_in_place_op(tmp_path):
    def fn(x):
        h = x * 2
        h += 1
        h *= x
        return h
    roundtrip(fn, data(B, (3,)), tmp_path)


def test_long_chain_shares_equal_scalar_constants(tmp_path):
    def chain(x):
        for _ in range(1000):
            x = x * 1.001 - 0.001
        return x
    proto = roundtrip(chain, data(B, (3,)), tmp_path)
    assert len(proto.graph.node) == 2000 and len(proto.graph.initializer) == 2


def test_export_leaves_the_model_alone(tmp_path):
    model = nn.MLP([4, 3, 2], rng=0, dtype=np.float32)
    before = model.state_dict()
    with tg.no_grad():
        export(model, data(B, (4,)), tmp_path / "m.onnx")
        assert not tg.is_grad_enabled()
    assert all(p.grad is None and p.requires_grad for p in model.parameters())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_mixed_dtypes_cast_like_the_engine(tmp_path):
    """float32 input times a float64 array promotes to float64 in NumPy; so does the file."""
    fn = lambda x: x * np.array([1.0, 2.0, 3.0]) + np.array([1, 2, 3])
    proto = roundtrip(fn, data(B, (3,)), tmp_path)
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_example_as_list_or_tensor(tmp_path):
    model = nn.MLP([2, 3, 1], rng=0)
    roundtrip(model, np.array([[0.0, 1.0], [1.0, 0.0]]), tmp_path)
    export(model, [[0.0, 1.0], [1.0, 0.0]], tmp_path / "a.onnx")
    export(model, Tensor([[0.0, 1.0]], requires_grad=True), tmp_path / "b.onnx")


# ---------------------------------------------------------------- names and shapes
def dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_input_output_names(tmp_path):
    model = nn.MLP([4, 3, 2], rng=0, dtype=np.float32)
    proto = roundtrip(model, data(B, (4,)), tmp_path, input_name="pixels", output_name="logits")
    assert [i.name for i in proto.graph.input] == ["pixels"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert session(proto).get_outputs()[0].name == "logits"


def test_names_taken_by_parameters(tmp_path):
    """The input and output keep the names asked for; a parameter of that name gets a suffix."""
    proto = roundtrip(nn.Linear(3, 2, rng=0, dtype=np.float32), data(B, (3,)), tmp_path,
                      input_name="bias", output_name="weight")
    assert [i.name for i in proto.graph.input] == ["bias"]
    assert [o.name for o in proto.graph.output] == ["weight"]
    assert sorted(i.name for i in proto.graph.initializer) == ["bias_1", "weight_1"]


def test_dynamic_batch_dimension(tmp_path):
    model = nn.MLP([4, 3, 2], rng=0, dtype=np.float32)
    proto = export(model, data(B, (4,)), tmp_path / "m.onnx")
    assert dims(proto.graph.input[0]) == ["batch", 4]
    assert dims(proto.graph.output[0]) == ["batch", 2]
    proto = export(lambda x: x.reshape(-1, 2, 2).flatten(), data(B, (4,)), tmp_path / "m.onnx")
    assert dims(proto.graph.output[0]) == [0]          # batch * 4: symbolic, unnamed
    proto = export(lambda x: x.sum(axis=0), data(B, (4,)), tmp_path / "m.onnx")
    assert dims(proto.graph.output[0]) == [4]


def test_fixed_batch(tmp_path):
    model = nn.MLP([4, 3, 2], rng=0, dtype=np.float32)
    proto = roundtrip(model, data(B, (4,)), tmp_path, batches=(), dynamic_batch=False)
    assert dims(proto.graph.input[0]) == [B, 4] and dims(proto.graph.output[0]) == [B, 2]
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session(proto).run(None, {"input": data(B + 1, (4,))})


def test_mean_over_batch_needs_fixed_batch(tmp_path):
    """mean multiplies by a constant 1/n: over the batch axis, n is the batch size."""
    fn = lambda x: x - x.mean(axis=0)
    with pytest.raises(ValueError,
                       match="Mul: its input 1, a constant.*differs.*dynamic_batch=False"):
        export(fn, data(B, (3,)), tmp_path / "m.onnx")
    roundtrip(fn, data(B, (3,)), tmp_path, batches=(), dynamic_batch=False)
    roundtrip(lambda x: x - x.mean(axis=1, keepdims=True), data(B, (3,)), tmp_path)


# ---------------------------------------------------------------- errors
class Doubler(tg.Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


@pytest.mark.parametrize("fn,match", [
    (lambda x: F.mse_loss(x, np.zeros(x.shape, x.dtype)), "MseLoss has no ONNX form: it is a loss"),
    (lambda x: F.cross_entropy(x, np.zeros(len(x), int)), "CrossEntropy has no ONNX form"),
    (lambda x: Doubler.apply(x), "Doubler has no ONNX form: it is a custom Function"),
])
def test_op_without_onnx_form(fn, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        export(fn, data(B, (3,)), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("fn,exc,match", [
    (lambda x: x.data * 2, TypeError, "returned ndarray, not a Tensor"),
    (lambda x: (x, x), TypeError, "returned tuple"),
    (lambda x: Tensor(x.numpy() * 2), ValueError, "does not depend on its input"),
    (lambda x: x.detach().exp() + 1.0, ValueError, "does not depend on its input"),
    (lambda x: x > 0, ValueError, "does not depend on its input"),
])
def test_bad_outputs(fn, exc, match, tmp_path):
    with pytest.raises(exc, match=match):
        export(fn, data(B, (3,)), tmp_path / "m.onnx")


def test_no_grad_inside_the_model(tmp_path):
    def fn(x):
        with tg.no_grad():
            return x * 2
    with pytest.raises(ValueError, match="no_grad"):
        export(fn, data(B, (3,)), tmp_path / "m.onnx")


@pytest.mark.parametrize("dynamic", [True, False])
def test_data_dependent_condition(dynamic, tmp_path):
    """Comparisons are not recorded: a where() on the input's values would be frozen."""
    fn = lambda x: tg.where(x > 0, x, x * 0.1)
    with pytest.raises(ValueError, match="Where: its parameter 'cond' differs.*input's values"):
        export(fn, data(B, (3,)), tmp_path / "m.onnx", dynamic_batch=dynamic)


def test_constant_detached_from_input(tmp_path):
    fn = lambda x: x + Tensor(x.numpy()[::-1].copy())
    with pytest.raises(ValueError, match="Add: its input 1, a constant of shape"):
        export(fn, data(B, (3,)), tmp_path / "m.onnx", dynamic_batch=False)


def test_batch_baked_into_shapes(tmp_path):
    x = data(B, (3,))
    with pytest.raises(ValueError, match="fails on a batch of 5 rows.*dynamic_batch=False"):
        export(lambda t: t.reshape(2, 6), x, tmp_path / "m.onnx")
    roundtrip(lambda t: t.reshape(2, 6), x, tmp_path, batches=(), dynamic_batch=False)
    with pytest.raises(ValueError, match="not a multiple of"):
        export(lambda t: t.reshape(-1)[:, None].expand(t.size, t.shape[0] + 1), x,
               tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="different graph"):
        export(lambda t: t * 2 if t.shape[0] == B else t + 1, x, tmp_path / "m.onnx")


def test_unsupported_index(tmp_path):
    with pytest.raises(ValueError, match="GetItem.*None"):
        export(lambda x: x[:, None, [0, 1]], data(B, (3,)), tmp_path / "m.onnx")


@pytest.mark.parametrize("kw,exc,match", [
    (dict(opset=12), ValueError, "opset must be an int from 13"),
    (dict(opset=10_000), ValueError, "opset must be"),
    (dict(input_name="x", output_name="x"), ValueError, "both 'x'"),
    (dict(output_name=""), ValueError, "output_name must be a non-empty str"),
])
def test_bad_arguments(kw, exc, match, tmp_path):
    with pytest.raises(exc, match=match):
        export(nn.Linear(3, 2, rng=0), data(B, (3,), np.float64), tmp_path / "m.onnx", **kw)


def test_bad_examples(tmp_path):
    model = nn.Linear(3, 2, rng=0)
    with pytest.raises(TypeError, match="floating point, got dtype int64"):
        export(model, np.ones((2, 3), dtype=np.int64), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="at least one row"):
        export(lambda x: x * 2, 3.0, tmp_path / "m.onnx")
    proto = roundtrip(lambda x: x * 2, np.array(3.0), tmp_path, batches=(), dynamic_batch=False)
    assert dims(proto.graph.input[0]) == []
