"""ONNX export: the op graph that one forward pass records, written as an ONNX model.

Why it is built this way:
- The exported graph is the graph the engine records (`grad_fn` nodes), so any model made of
  built-in ops exports, not only `nn.MLP`. Each op class has one small converter in
  `CONVERTERS` that emits ONNX nodes and reads the op's parameters from its node.
- A recorded graph is concrete: a reshape names its sizes, `mean` multiplies by a constant
  1/n, a `tg.where` condition is a fixed array (comparisons are not recorded). So the model
  runs twice: on the example, and on its rows in reverse order plus one more row (the same
  rows reversed, when the batch is fixed). Dimensions that differ between the two graphs are
  the batch-dependent ones and become symbolic; a parameter or constant that differs could
  only be frozen, so it raises `ValueError` instead of writing a model that is wrong at other
  batch sizes or for other inputs.
- The `onnx` package is imported only when exporting (extra `onnx`): `import tinygrad_mlp`
  needs only NumPy. This module is `tinygrad_mlp.onnx`; absolute imports reach the real one.
"""
from __future__ import annotations

import itertools
import os
from functools import partial
from typing import Any, Callable

import numpy as np

from . import losses, nn, ops
from .engine import inputs_of, reachable
from .function import Function
from .mode import enable_grad
from .tensor import Tensor

__all__ = ["export"]

_MIN_OPSET = 13          # Squeeze/Unsqueeze/ReduceSum take axes as inputs from here on
_MISSING = object()
_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


def _onnx() -> Any:
    """The real `onnx` package (this module shadows its name only inside the package)."""
    try:
        import onnx as real
    except ImportError:
        raise ImportError("tinygrad_mlp.onnx.export needs the onnx package: "
                          "pip install -e '.[onnx]' from a clone (or pip install onnx onnxruntime)") from None
    return real


# ================================================================ public entry point
def export(model: Callable[[Tensor], Tensor], example_input: Any, path: str | os.PathLike,
           input_name: str = "input", output_name: str = "output", dynamic_batch: bool = True,
           opset: int = 17) -> Any:
    """Run `model` on `example_input` and write the recorded op graph to `path` as ONNX.

    `model` is an `nn.Module` or any function of one Tensor returning one Tensor, made of
    built-in ops. Parameters become initializers named as in `named_parameters()`; other
    constants become initializers too. With `dynamic_batch`, the first dimension of the
    input (and every dimension that follows it, e.g. the output's) is symbolic ("batch").
    Returns the `onnx.ModelProto` that was written.

    Raises `ValueError` naming the op when an op has no ONNX form or when the recorded graph
    cannot be made batch-generic (or depends on the input's values), and `TypeError` when the
    model does not return a Tensor or the example is not floating point."""
    onnx = _onnx()
    _check_args(input_name, output_name, opset, onnx)
    x = _example_array(example_input, dynamic_batch)
    first = _trace(model, x)
    x2 = _second_example(x, dynamic_batch)
    second = None if x2 is None else _trace_again(model, x2, dynamic_batch)
    g = _Graph(onnx, opset, first, second, _names(model), input_name, output_name)
    g.build()
    proto = g.model(type(model).__name__, dynamic_batch)
    onnx.save_model(proto, os.fspath(path))
    return proto


def _check_args(input_name: Any, output_name: Any, opset: Any, onnx: Any) -> None:
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, (int, np.integer)) or not _MIN_OPSET <= opset <= newest:
        raise ValueError(f"export: opset must be an int from {_MIN_OPSET} to {newest} (the "
                         f"newest the installed onnx {onnx.__version__} knows), got {opset!r}")
    for what, name in (("input_name", input_name), ("output_name", output_name)):
        if not isinstance(name, str) or not name:
            raise ValueError(f"export: {what} must be a non-empty str, got {name!r}")
    if input_name == output_name:
        raise ValueError(f"export: input_name and output_name are both {input_name!r}; "
                         "ONNX needs two different names")


def _example_array(example: Any, dynamic_batch: bool) -> np.ndarray:
    """The example as a floating array (Tensor rules: Python floats take the default dtype)."""
    arr = example.data if isinstance(example, Tensor) else Tensor(example).data
    if arr.dtype.kind != "f":
        raise TypeError(f"export: the example input must be floating point, got dtype {arr.dtype} "
                        "(only floating tensors record a graph)")
    if dynamic_batch and (arr.ndim == 0 or arr.shape[0] == 0):
        raise ValueError(f"export: dynamic_batch=True needs an example with at least one row "
                         f"along its first (batch) axis, got shape {arr.shape}; pass "
                         "dynamic_batch=False to export a fixed shape")
    return arr


def _names(model: Any) -> tuple[dict[int, str], dict[int, str]]:
    """id(parameter) -> its dotted name and id(module) -> its dotted name, when the model is
    an `nn.Module`: initializers and ONNX nodes are named after them ("layers.0.weight",
    "layers.0/Gemm")."""
    if not isinstance(model, nn.Module):
        return {}, {}
    params = {id(p): name for name, p in model.named_parameters()}
    return params, {id(m): name for name, m in model.named_modules() if name}


# ================================================================ tracing
class _Trace:
    """One forward pass: the input leaf, the output, and the recorded nodes inputs first."""

    def __init__(self, inp: Tensor, out: Tensor) -> None:
        self.inp, self.out = inp, out
        self.nodes = reachable([out])[::-1]

    @property
    def batch(self) -> int | None:
        return self.inp.shape[0] if self.inp.ndim else None


def _trace(model: Callable, x: np.ndarray) -> _Trace:
    """Run the model with grad recording on; the input requires grad, so every op that
    depends on it is recorded whether or not the parameters require grad."""
    inp = Tensor(x, requires_grad=True)
    with enable_grad():
        out = model(inp)
    if not isinstance(out, Tensor):
        raise TypeError(f"export: the model returned {type(out).__name__}, not a Tensor; export "
                        "writes a model with one Tensor output")
    trace = _Trace(inp, out)
    if out is not inp and not any(p is inp for t in trace.nodes for p in inputs_of(t)):
        raise ValueError(
            "export: the model's output does not depend on its input in the recorded graph. "
            "Something in the forward pass cut the graph: a no_grad block, .detach(), "
            ".numpy()/.data, a comparison (bool results are not recorded) or a tg.compile'd "
            "step (its results carry no graph)")
    return trace


def _second_example(x: np.ndarray, dynamic_batch: bool) -> np.ndarray | None:
    """Another batch for the second trace: the rows reversed, plus one row more when the
    batch is dynamic (None when a fixed-size example has no second order of rows)."""
    if x.ndim == 0:
        return None
    if dynamic_batch:
        return np.concatenate([x[::-1], x[:1]])
    return x[::-1].copy() if len(x) > 1 else None


def _trace_again(model: Callable, x2: np.ndarray, dynamic_batch: bool) -> _Trace:
    try:
        return _trace(model, x2)
    except (ValueError, TypeError, IndexError) as e:
        if not dynamic_batch:
            raise
        raise ValueError(f"export: the model fails on a batch of {len(x2)} rows (needed to make "
                         f"the batch dimension dynamic): {e}. If the model only works at the "
                         f"example's batch size {len(x2) - 1}, pass dynamic_batch=False") from e


# ================================================================ graph building
class _Graph:
    """The ONNX graph under construction: nodes, initializers, unique names, and the pairing
    of the two traces (each Tensor of the first trace -> its counterpart in the second)."""

    def __init__(self, onnx: Any, opset: int, first: _Trace, second: _Trace | None,
                 names: tuple[dict[int, str], dict[int, str]], input_name: str,
                 output_name: str) -> None:
        self.onnx, self.opset, self.first, self.second = onnx, opset, first, second
        self.param_names, self.scopes = names
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.used: set[str] = {input_name, output_name}   # parameters named so get a suffix
        self.output_name = output_name
        self.suffix: dict[str, int] = {}         # the last suffix each name hint got
        self.small: dict[tuple, str] = {}         # small unnamed constants by dtype and bytes
        self.names: dict[Tensor, str] = {first.inp: input_name}
        self.batch_size: str | None = None        # the Shape node reading the batch size
        self.twin: dict[Tensor, Tensor] = {} if second is None else {first.inp: second.inp}

    # ------------------------------------------------------------ names and values
    def fresh(self, hint: str) -> str:
        """A name not used yet: `hint`, else `hint_1`, `hint_2`, ... (counted per hint, so
        a graph of thousands of Mul nodes names each in constant time)."""
        name, k = hint, self.suffix.get(hint, 0)
        while name in self.used:
            k += 1
            name = f"{hint}_{k}"
        self.suffix[hint] = k
        self.used.add(name)
        return name

    def add(self, op: str, inputs: list[str], scope: str = "", **attrs: Any) -> str:
        """Append one ONNX node; returns the name of its (single) output."""
        name = self.fresh(f"{scope}/{op}" if scope else op)
        out = self.fresh(f"{name}_output")
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def const(self, value: Any, hint: str = "const") -> str:
        """An initializer holding `value` (an ndarray, kept in its dtype)."""
        name = self.fresh(hint)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def ints(self, values: Any, hint: str = "const") -> str:
        return self.const(np.asarray(values, dtype=np.int64), hint)

    def value(self, t: Tensor) -> str:
        """The ONNX name of a Tensor of the first trace; a leaf becomes an initializer (one
        for all equal small unnamed constants, such as the Python scalars of a long chain)."""
        name = self.names.get(t)
        if name is None:
            hint = self.param_names.get(id(t)) or t.label
            if hint or t.requires_grad or t.size > 16:
                name = self.const(t.data, hint or ("param" if t.requires_grad else "const"))
            else:
                key = (t.dtype.str, t.shape, t.data.tobytes())
                name = self.small.get(key) or self.small.setdefault(key, self.const(t.data))
            self.names[t] = name
        return name

    def dims(self, t: Tensor) -> tuple[int | None, ...]:
        """t's shape, with None for the dimensions that differ between the two traces."""
        other = self.twin.get(t)
        if other is None:
            return tuple(t.shape)
        return tuple(a if a == b else None for a, b in zip(t.shape, other.shape))

    def reduce(self, op: str, x: str, axes: tuple[int, ...], keepdims: bool, scope: str) -> str:
        """A Reduce* node: axes are an input for ReduceSum from opset 13, for the others
        from opset 18, an attribute before."""
        keep = int(bool(keepdims))
        if op == "ReduceSum" or self.opset >= 18:
            return self.add(op, [x, self.ints(axes, "axes")], scope, keepdims=keep)
        return self.add(op, [x], scope, axes=list(axes), keepdims=keep)

    def shape(self, t: Tensor, fixed: dict[int, int], why: Callable[[str], Exception]) -> str:
        """An int64 shape tensor for Tensor t (Reshape's and Expand's target): static sizes as
        they are, `fixed` sizes (-1, 1) where given, and other batch-dependent sizes as
        k * batch, with the batch size read from the input at run time."""
        parts: list[Any] = []
        twin = self.twin.get(t, t)
        for i, (s1, s2) in enumerate(zip(t.shape, twin.shape)):
            if i in fixed or s1 == s2:
                parts.append(fixed.get(i, s1))
                continue
            k = s1 // self.first.batch
            if s1 != k * self.first.batch or s2 != k * self.second.batch:
                raise why(f"its dimension {i} depends on the batch size but is not a multiple of "
                          "it; export with dynamic_batch=False")
            batch = self._batch_size()
            parts.append(batch if k == 1 else self.add("Mul", [batch, self.ints([k], "k")]))
        if all(isinstance(p, int) for p in parts):
            return self.ints(parts, "shape")
        pieces: list[str] = []
        for is_int, run in itertools.groupby(parts, key=lambda p: isinstance(p, int)):
            pieces += [self.ints(list(run), "shape")] if is_int else list(run)
        return self.add("Concat", pieces, axis=0)

    def _batch_size(self) -> str:
        """The input's first dimension as a 1-element int64 tensor (one Shape node, shared)."""
        if self.batch_size is None:
            inp = self.names[self.first.inp]
            if self.opset >= 15:
                self.batch_size = self.add("Shape", [inp], start=0, end=1)
            else:
                shape = self.add("Shape", [inp])
                self.batch_size = self.add("Slice", [shape, self.ints([0]), self.ints([1])])
        return self.batch_size

    # ------------------------------------------------------------ the whole graph
    def build(self) -> None:
        """Pair the traces, then convert every recorded node, inputs first."""
        for t in self.first.nodes:               # an op with no ONNX form is the first news
            _converter(t.grad_fn)
        if self.second is not None:
            _pair_traces(self, self.first, self.second)
        for t in self.first.nodes:
            node = _Node(self, t)
            self.names[t] = _converter(node.ctx)(self, node)
        self._name_output(self.output_name)

    def _name_output(self, output_name: str) -> None:
        """Give the final value the output name: rename the node that makes it, or add an
        Identity when it is the input itself (nn.Identity) or was passed through unchanged."""
        final = self.names[self.first.out]
        producer = next((n for n in reversed(self.nodes) if final in n.output), None)
        if producer is None:                     # the input, or a value passed through
            self.nodes.append(self.onnx.helper.make_node("Identity", [final], [output_name],
                                                         name=self.fresh("Identity")))
        else:
            producer.output[list(producer.output).index(final)] = output_name
            for n in self.nodes:                 # a value passed through may also feed others
                for i, name in enumerate(n.input):
                    if name == final:
                        n.input[i] = output_name

    def model(self, graph_name: str, dynamic_batch: bool) -> Any:
        """The ModelProto: one input, one output, the opset asked for, and the oldest IR
        version that carries it (so older runtimes load the file too)."""
        helper = self.onnx.helper
        first = self.first
        inp = helper.make_tensor_value_info(self.names[first.inp],
                                            _elem(self.onnx, first.inp.dtype),
                                            self._io_dims(first.inp, dynamic_batch))
        out = helper.make_tensor_value_info(self.output_name, _elem(self.onnx, first.out.dtype),
                                            self._io_dims(first.out, dynamic_batch))
        graph = helper.make_graph(self.nodes, graph_name, [inp], [out], self.inits)
        opsets = [helper.make_opsetid("", int(self.opset))]
        proto = helper.make_model(graph, opset_imports=opsets, producer_name="tinygrad_mlp",
                                  producer_version=_version())
        proto.ir_version = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
        return proto

    def _io_dims(self, t: Tensor, dynamic_batch: bool) -> list[Any]:
        """Graph input/output dims: "batch" where a dimension equals the batch size in both
        traces, unnamed where it otherwise depends on it (e.g. batch * 12 after a flatten)."""
        dims: list[Any] = list(self.dims(t))
        if not dynamic_batch or self.second is None:
            return dims
        b1, b2 = self.first.batch, self.second.batch
        other = self.twin[t].shape
        return ["batch" if d is None and (s1, s2) == (b1, b2) else d
                for d, s1, s2 in zip(dims, t.shape, other)]


def _version() -> str:
    from . import __version__
    return __version__


def _elem(onnx: Any, dtype: np.dtype) -> int:
    return onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


def _pair_traces(g: _Graph, first: _Trace, second: _Trace) -> None:
    """Match the second trace's Tensors to the first's (same ops on the same inputs, in the
    same order); a constant leaf must hold the same values in both."""
    if len(first.nodes) != len(second.nodes):
        detail = f"{len(first.nodes)} ops vs {len(second.nodes)}"
        raise _differs("the model", detail, first, second)
    twin = g.twin
    for a, b in zip(first.nodes, second.nodes):
        op = type(a.grad_fn).__name__
        ia, ib = inputs_of(a), inputs_of(b)
        if type(a.grad_fn) is not type(b.grad_fn) or len(ia) != len(ib) or a.ndim != b.ndim:
            raise _differs(op, f"{type(a.grad_fn).__name__} of shape {a.shape} vs "
                           f"{type(b.grad_fn).__name__} of shape {b.shape}", first, second)
        for k, (p, q) in enumerate(zip(ia, ib)):
            known = twin.get(p)
            if known is None and p.grad_fn is None and q.grad_fn is None and q is not second.inp:
                if p is not q and not _same(p.data, q.data):
                    what = f"its input {k}, a constant of shape {p.shape},"
                    raise _varies(op, what, first, second)
                twin[p] = known = q
            if known is not q:
                raise _differs(op, f"its input {k} comes from elsewhere", first, second)
        twin[a] = b
    if twin.get(first.out) is not second.out:
        raise _differs("the output", "it comes from elsewhere", first, second)


def _differs(what: str, detail: str, first: _Trace, second: _Trace) -> ValueError:
    return ValueError(
        f"export: {what} records a different graph on a second batch ({detail}; batch "
        f"{first.batch} vs {second.batch}, rows in another order): the forward pass "
        "takes different paths depending on the input (Python control flow on values or on "
        "the batch size), so no single ONNX graph reproduces it")


def _varies(op: str, what: str, first: _Trace, second: _Trace) -> ValueError:
    """A value the exported graph would freeze differs between the two traces."""
    batch = first.batch != second.batch
    causes = ("the batch size (e.g. a mean over the batch axis, or a shape, index or condition "
              "of the batch's size: export with dynamic_batch=False) or on " if batch else "")
    return ValueError(
        f"{op}: {what} differs between two forward passes (batch {first.batch} and batch "
        f"{second.batch} with the rows in another order), so an exported graph would freeze it. "
        f"It depends on {causes}the input's values (a condition such as tg.where(x > 0, ...), "
        "values taken out with .numpy() or .detach(), randomness), which no fixed graph can "
        "reproduce")


def _same(a: Any, b: Any) -> bool:
    """Equality of op parameters and constants: arrays by dtype, shape and values."""
    if isinstance(a, (np.ndarray, np.generic)) or isinstance(b, (np.ndarray, np.generic)):
        a, b = np.asarray(a), np.asarray(b)
        return (a.dtype == b.dtype and a.shape == b.shape
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (tuple, list)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if isinstance(a, slice):
        return isinstance(b, slice) and _same((a.start, a.stop, a.step), (b.start, b.stop, b.step))
    return type(a) is type(b) and a == b


# ================================================================ one recorded op
class _Node:
    """A recorded op as a converter sees it: ONNX names of its inputs, its parameters (each
    checked against the second trace) and its shapes (None where they follow the batch)."""

    def __init__(self, g: _Graph, t: Tensor) -> None:
        self.g, self.t, self.ctx = g, t, t.grad_fn
        self.op = type(self.ctx).__name__
        self.args = inputs_of(t)
        self.inputs = [g.value(p) for p in self.args]
        self.scope = _scope(g, self.ctx)

    def param(self, name: str, default: Any = _MISSING) -> Any:
        """The op's parameter `name` from its node; it must be the same in the second trace."""
        value = getattr(self.ctx, name, default)
        if value is _MISSING:
            raise ValueError(f"{self.op}: its node has no attribute {name!r} (needed for export)")
        twin = self.g.twin.get(self.t)
        if twin is not None and not _same(value, getattr(twin.grad_fn, name, default)):
            raise _varies(self.op, f"its parameter {name!r}", self.g.first, self.g.second)
        return value

    @property
    def dtype(self) -> np.dtype:
        return self.t.dtype

    def dims(self, i: int | None = None) -> tuple[int | None, ...]:
        """Shape of input i (the output when None), None where it follows the batch."""
        return self.g.dims(self.t if i is None else self.args[i])

    def operands(self) -> list[str]:
        """The inputs, each cast to the output's dtype where it differs (ONNX ops need one
        type; the engine's NumPy arithmetic promotes)."""
        names = []
        for p, name in zip(self.args, self.inputs):
            if p.dtype != self.dtype:
                name = self.g.add("Cast", [name], self.scope, to=_elem(self.g.onnx, self.dtype))
            names.append(name)
        return names

    def add(self, op: str, inputs: list[str], **attrs: Any) -> str:
        return self.g.add(op, inputs, self.scope, **attrs)

    def cannot(self, why: str) -> ValueError:
        at = f" (in {self.scope})" if self.scope else ""
        return ValueError(f"{self.op}{at}, output shape {self.t.shape}: {why}")


def _scope(g: _Graph, ctx: Function) -> str:
    """The dotted name of the innermost named module whose call recorded the node."""
    for m in reversed(getattr(ctx, "call", ()) or ()):
        name = g.scopes.get(id(m))
        if name:
            return name
    return ""


def _converter(ctx: Function) -> Callable[[_Graph, _Node], str]:
    cls = type(ctx)
    conv = CONVERTERS.get(cls)
    if conv is not None:
        return conv
    if cls.__module__ == losses.__name__:
        why = "it is a loss; export the model that makes the prediction, not the loss"
    elif cls.__module__ != ops.__name__:
        why = "it is a custom Function; only the built-in ops are exported"
    else:
        why = "no converter is defined for it"
    raise ValueError(f"{cls.__name__} has no ONNX form: {why}")


# ================================================================ converters
def _simple(onnx_op: str, g: _Graph, n: _Node) -> str:
    """Ops whose ONNX form is one node of the same meaning (ONNX broadcasts like NumPy)."""
    return n.add(onnx_op, n.operands())


def _linear(g: _Graph, n: _Node) -> str:
    """x @ W.T + b: Gemm (transB=1) for a 2-D x, else MatMul with W transposed, plus b."""
    x, w, *b = n.operands()
    if n.args[0].ndim == 2:
        return n.add("Gemm", [x, w, *b], transB=1)
    y = n.add("MatMul", [x, n.add("Transpose", [w], perm=[1, 0])])
    return n.add("Add", [y, b[0]]) if b else y


def _softplus(g: _Graph, n: _Node) -> str:
    """ONNX Softplus (stable in onnxruntime). onnxruntime has no double kernel for it, so a
    float64 model gets the engine's stable form max(x, 0) + log(1 + e^-|x|); without log1p in
    ONNX, values below x = -37 come out as 0 instead of e^x (absolute error under 1e-16)."""
    (x,) = n.operands()
    if n.dtype != np.float64:
        return n.add("Softplus", [x])
    one = g.const(np.ones((), n.dtype), "one")
    e = n.add("Exp", [n.add("Neg", [n.add("Abs", [x])])])
    return n.add("Add", [n.add("Relu", [x]), n.add("Log", [n.add("Add", [one, e])])])


def _leaky_relu(g: _Graph, n: _Node) -> str:
    """LeakyRelu; its alpha is a float32 attribute, so float64 gets the engine's own
    x * where(x > 0, 1, slope) with the slope in double."""
    slope = float(n.param("slope"))
    (x,) = n.operands()
    if n.dtype != np.float64:
        return n.add("LeakyRelu", [x], alpha=slope)
    zero, one, s = (g.const(np.asarray(v, n.dtype), "slope") for v in (0, 1, slope))
    return n.add("Mul", [x, n.add("Where", [n.add("Greater", [x, zero]), one, s])])


def _clip(g: _Graph, n: _Node) -> str:
    lo, hi = n.param("lo"), n.param("hi")
    (x,) = n.operands()
    ins = [x] + ["" if v is None else g.const(np.asarray(v, n.dtype), k) for k, v in
                 (("lo", lo), ("hi", hi))]
    while ins[-1] == "":
        ins.pop()
    return n.add("Clip", ins)


def _where(g: _Graph, n: _Node) -> str:
    """where(cond, a, b); the condition is a constant of the graph (comparisons are not
    recorded), checked to be the same in both traces."""
    cond = g.const(np.asarray(n.param("cond"), dtype=bool), "cond")
    return n.add("Where", [cond, *n.operands()])


def _cast(g: _Graph, n: _Node) -> str:
    return n.add("Cast", n.inputs, to=_elem(g.onnx, n.dtype))


def _reduction(onnx_op: str, g: _Graph, n: _Node) -> str:
    axes, keepdims = tuple(n.param("axis")), bool(n.param("keepdims"))
    (x,) = n.operands()
    if not axes:
        return n.add("Identity", [x])
    return g.reduce(onnx_op, x, axes, keepdims, n.scope)


def _softmax(onnx_op: str, g: _Graph, n: _Node) -> str:
    axis = n.param("axis")
    if axis is None:
        raise n.cannot("a softmax over a 0-d tensor has no ONNX form")
    return n.add(onnx_op, n.operands(), axis=int(axis))


def _reshape(g: _Graph, n: _Node) -> str:
    """The target shape is the output's: one dimension that follows the batch becomes -1,
    several become multiples of the batch size read at run time."""
    dims = n.dims()
    free = [i for i, d in enumerate(dims) if d is None]
    if 0 in dims:
        raise n.cannot("reshaping to an empty shape has no ONNX form here (0 means 'copy')")
    fixed = {free[0]: -1} if len(free) == 1 else {}
    return n.add("Reshape", [n.inputs[0], g.shape(n.t, fixed, n.cannot)])


def _transpose(g: _Graph, n: _Node) -> str:
    perm = [int(i) for i in np.argsort(n.param("inverse"))]
    return n.add("Transpose", n.inputs, perm=perm)


def _expand(g: _Graph, n: _Node) -> str:
    """Expand to the output's shape. ONNX Expand broadcasts both ways, so a dimension that
    follows the batch in the input too stays 1; one the input lacks becomes k * batch."""
    out, src = n.dims(), n.dims(0)
    lead = len(out) - len(src)
    fixed = {i: 1 for i, d in enumerate(out) if d is None and i >= lead and src[i - lead] is None}
    return n.add("Expand", [n.inputs[0], g.shape(n.t, fixed, n.cannot)])


def _concatenate(g: _Graph, n: _Node) -> str:
    return n.add("Concat", n.operands(), axis=int(n.param("axis")))


def _scatter_add(g: _Graph, n: _Node) -> str:
    """zeros(shape) with g added at idx (GetItem's backward, in models that differentiate
    inside forward): ScatterElements with reduction 'add' on the flat positions idx selects.
    Only for shapes that do not depend on the batch."""
    if g.opset < 16:
        raise n.cannot("needs opset 16 or newer (ScatterElements with reduction='add')")
    if None in n.dims():
        raise n.cannot("its shape depends on the batch size; export with dynamic_batch=False")
    shape = n.t.shape
    where = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)[n.param("idx")]
    (upd,) = n.operands()
    if n.args[0].shape != where.shape:
        upd = n.add("Expand", [upd, g.ints(where.shape, "shape")])
    flat = n.add("Reshape", [upd, g.ints([-1], "shape")])
    zeros = g.const(np.zeros(int(np.prod(shape)), n.dtype), "zeros")
    out = n.add("ScatterElements", [zeros, g.ints(where.reshape(-1), "indices"), flat],
                axis=0, reduction="add")
    return n.add("Reshape", [out, g.ints(shape, "shape")])


# ---------------------------------------------------------------- indexing
def _getitem(g: _Graph, n: _Node) -> str:
    """t[idx] with NumPy's rules: slices and integers with one Slice (plus Squeeze and
    Unsqueeze for integers and None), index arrays with Gather or GatherND."""
    entries = _index_entries(n, n.param("idx"), n.args[0].ndim)
    if any(isinstance(e, np.ndarray) for e in entries):
        return _advanced_index(g, n, entries)
    x = _slices(g, n, n.inputs[0], entries)
    squeeze = [i for i, e in enumerate(e for e in entries if e is not None) if isinstance(e, int)]
    if squeeze:
        x = n.add("Squeeze", [x, g.ints(squeeze, "axes")])
    kept = [e for e in entries if not isinstance(e, int)]
    unsqueeze = [i for i, e in enumerate(kept) if e is None]
    if unsqueeze:
        x = n.add("Unsqueeze", [x, g.ints(unsqueeze, "axes")])
    return x


def _index_entries(n: _Node, idx: Any, ndim: int) -> list[Any]:
    """The index as one entry per axis (None adds one): ints, slices, None and int64 arrays;
    a boolean mask becomes its np.nonzero arrays, `...` becomes full slices."""
    out: list[Any] = []
    for it in idx if isinstance(idx, tuple) else (idx,):
        if isinstance(it, (list, np.ndarray)) and not isinstance(it, np.generic):
            arr = np.asarray(it)
            if arr.dtype == bool and arr.ndim:
                out.extend(np.nonzero(arr))
            elif arr.dtype.kind in "iu":
                out.append(int(arr) if arr.ndim == 0 else arr.astype(np.int64))
            else:
                raise n.cannot(f"index {it!r} has no ONNX form")
        elif isinstance(it, (int, np.integer)) and not isinstance(it, (bool, np.bool_)):
            out.append(int(it))
        elif it is None or it is Ellipsis or isinstance(it, slice):
            out.append(it)
        else:
            raise n.cannot(f"index {it!r} has no ONNX form")
    fill = [slice(None)] * (ndim - sum(e is not None and e is not Ellipsis for e in out))
    dots = [i for i, e in enumerate(out) if e is Ellipsis]
    if dots:
        return out[:dots[0]] + fill + out[dots[0] + 1:]
    return out + fill


def _slices(g: _Graph, n: _Node, x: str, entries: list[Any]) -> str:
    """One Slice for the slice entries and (when no index array is present) the integer
    entries, as [i, i + 1); bounds stay as written, so negative ones count from the end of
    whatever size the axis has at run time (the batch axis included)."""
    rows: list[tuple[int, int, int, int]] = []
    axis = 0
    for e in entries:
        if e is None:
            continue
        if isinstance(e, int):
            rows.append((axis, e, _INT64_MAX if e == -1 else e + 1, 1))
        elif isinstance(e, slice) and e != slice(None):
            step = 1 if e.step is None else int(e.step)
            lo, hi = (0, _INT64_MAX) if step > 0 else (_INT64_MAX, _INT64_MIN)
            rows.append((axis, lo if e.start is None else int(e.start),
                         hi if e.stop is None else int(e.stop), step))
        axis += 1
    if not rows:
        return x
    axes, starts, ends, steps = zip(*rows)
    return n.add("Slice", [x, g.ints(starts, "starts"), g.ints(ends, "ends"),
                           g.ints(axes, "axes"), g.ints(steps, "steps")])


def _advanced_index(g: _Graph, n: _Node, entries: list[Any]) -> str:
    """Index arrays (and integers next to them, which NumPy then treats as arrays): one array
    is a Gather along its axis; several are one GatherND on the indexed axes moved to the
    front, moved back when they were adjacent, as NumPy places them."""
    if any(e is None for e in entries):
        raise n.cannot("an index that mixes None (np.newaxis) with index arrays has no ONNX "
                       "form here; add the axis with reshape instead")
    x = _slices(g, n, n.inputs[0], [e if isinstance(e, slice) else slice(None) for e in entries])
    adv = [i for i, e in enumerate(entries) if not isinstance(e, slice)]
    idx = np.broadcast_arrays(*[np.asarray(entries[i], dtype=np.int64) for i in adv])
    if len(adv) == 1:
        return n.add("Gather", [x, g.ints(idx[0], "indices")], axis=adv[0])
    rest = [i for i in range(len(entries)) if i not in adv]
    if adv + rest != sorted(adv + rest):
        x = n.add("Transpose", [x], perm=adv + rest)
    x = n.add("GatherND", [x, g.ints(np.stack(idx, axis=-1), "indices")])
    nb, first = idx[0].ndim, adv[0]
    if adv == list(range(first, first + len(adv))) and first > 0:
        perm = [*range(nb, nb + first), *range(nb), *range(nb + first, nb + len(rest))]
        x = n.add("Transpose", [x], perm=perm)
    return x


# ---------------------------------------------------------------- the table
CONVERTERS: dict[type, Callable[[_Graph, _Node], str]] = {
    ops.Add: partial(_simple, "Add"),
    ops.Sub: partial(_simple, "Sub"),
    ops.Mul: partial(_simple, "Mul"),
    ops.Div: partial(_simple, "Div"),
    ops.Neg: partial(_simple, "Neg"),
    ops.Pow: partial(_simple, "Pow"),
    ops.MatMul: partial(_simple, "MatMul"),
    ops.Linear: _linear,
    ops.Exp: partial(_simple, "Exp"),
    ops.Log: partial(_simple, "Log"),
    ops.Sqrt: partial(_simple, "Sqrt"),
    ops.Tanh: partial(_simple, "Tanh"),
    ops.Sigmoid: partial(_simple, "Sigmoid"),
    ops.Softplus: _softplus,
    ops.Abs: partial(_simple, "Abs"),
    ops.Relu: partial(_simple, "Relu"),
    ops.LeakyRelu: _leaky_relu,
    ops.Clip: _clip,
    ops.Maximum: partial(_simple, "Max"),
    ops.Minimum: partial(_simple, "Min"),
    ops.Where: _where,
    ops.Cast: _cast,
    ops.Clone: partial(_simple, "Identity"),
    ops.Sum: partial(_reduction, "ReduceSum"),
    ops.Max: partial(_reduction, "ReduceMax"),
    ops.Min: partial(_reduction, "ReduceMin"),
    ops.LogSumExp: partial(_reduction, "ReduceLogSumExp"),
    ops.Softmax: partial(_softmax, "Softmax"),
    ops.LogSoftmax: partial(_softmax, "LogSoftmax"),
    ops.Reshape: _reshape,
    ops.Transpose: _transpose,
    ops.Expand: _expand,
    ops.GetItem: _getitem,
    ops.ScatterAdd: _scatter_add,
    ops.Concatenate: _concatenate,
}
"""Op class -> function(graph, node) that emits the op's ONNX nodes and returns the name of
the value holding its result. Ops not listed (the losses, custom Functions) have no ONNX form."""
