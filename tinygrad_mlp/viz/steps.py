"""Backpropagation step by step: the chain rule at each op, as numbers (`trace`) and as
pictures (`backward_steps`).

`trace` runs the backward pass the way the engine does (the same order, `engine.reachable`;
the same local backward of each node, `engine.node_grads`; the same un-broadcasting and the
same order of sums), but keeps every intermediate number: at each op the upstream gradient
g = d root / d output (complete, since every consumer of the output ran before), and on each
input edge the local derivative and the contribution g × local that backward adds into the
input. Nothing is stored in `.grad` and nothing is freed.

Local derivatives of tensors are Jacobians; the frames show what a reader can check by hand:
- elementwise ops (+ − × ÷ ** exp tanh σ ReLU ...): the Jacobian is diagonal, so the local
  derivative is an array of the output's shape (its formula and its values), and the
  contribution is g ⊙ local, summed over the axes broadcasting stretched;
- ops with a single-element output (Σ, losses, max): the local derivative is the gradient of
  the output, an array of the input's shape, and the contribution is g × local;
- any other op (@, linear, softmax, reshape, indexing): the rule that maps g to the
  contribution (e.g. `g @ Wᵀ`) and the contribution's values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import engine
from ..tensor import Tensor
from . import notation as nt
from .graph import HIGHLIGHT, ROLE_COLORS, _FONT, _modules, _role, _walk
from .pinned import Scene, pin_scenes
from .rendering import Digraph

__all__ = ["backward_steps", "trace", "Trace"]

MAX_STEPS = 60


# ================================================================== the numbers
@dataclass
class Value:
    """One value node: the Tensor, its name in the pictures and formulas, its role."""
    tensor: Tensor
    name: str
    role: str              # input, parameter, intermediate, output or constant


@dataclass
class Contribution:
    """What one input edge of an op carries back at its step."""
    value: int                 # index of the input in Trace.values
    position: int              # operand position in the op
    rule: str                  # the local derivative's formula, or the rule g -> contribution
    local: np.ndarray | None   # local derivative values where a reader can check them
    amount: np.ndarray         # what backward adds into the input's gradient
    summed: bool               # broadcasting was undone (summed) to reach the input's shape


@dataclass
class Step:
    """One op's turn in backward: its output, its upstream gradient, what each input gets."""
    out: int
    upstream: np.ndarray
    inputs: list[Contribution]
    local_rule: bool           # True: rules are local derivatives; False: rules map g


@dataclass
class Trace:
    """Backward of `values[0]`, kept: values, every input edge (op's output index, input
    index, position), the steps in the order backward runs them, and the final gradients
    (equal to `tg.grad`) of every value that requires grad."""
    values: list[Value]
    edges: list[tuple[int, int, int]]
    steps: list[Step]
    grads: dict[int, np.ndarray]

    def received(self, upto: int) -> dict[int, list[np.ndarray]]:
        """Contributions each value has received after `upto` steps (the root's seed first)."""
        got: dict[int, list[np.ndarray]] = {0: [np.ones(self.values[0].tensor.shape)]} if upto else {}
        for step in self.steps[:upto]:
            for c in step.inputs:
                got.setdefault(c.value, []).append(c.amount)
        return got


_LOCAL_RULES = {
    "Add": ("1", "1"), "Sub": ("1", "−1"), "Mul": ("{1}", "{0}"), "Div": ("1/{1}", "−{0}/{1}²"),
    "Neg": ("−1",), "Pow": ("{1}·{0}^({1}−1)", "{y}·ln {0}"), "Exp": ("{y}",),
    "Log": ("1/{0}",), "Sqrt": ("1/(2·{y})",), "Tanh": ("1 − {y}²",),
    "Sigmoid": ("{y}·(1 − {y})",), "Softplus": ("σ({0})",), "Abs": ("sign({0})",),
    "Relu": ("1 if {0} > 0 else 0",), "LeakyRelu": ("1 if {0} > 0 else slope",),
    "Clip": ("1 inside the bounds else 0",), "Maximum": ("1 where {0} > {1}", "1 where {1} > {0}"),
    "Minimum": ("1 where {0} < {1}", "1 where {1} < {0}"),
    "Where": ("1 where cond", "1 where not cond"), "Cast": ("1",), "Clone": ("1",),
    "MseLoss": ("2·({0} − {1}){n}", "−2·({0} − {1}){n}"),
    "BinaryCrossEntropy": ("({0} − {1}) / ({0}·(1 − {0})){n}",),
    "BinaryCrossEntropyWithLogits": ("(σ({0}) − {1}){n}", "−{0}{n}"),
    "CrossEntropy": ("(softmax({0}) − onehot){n}",),
    "SoftCrossEntropy": ("(softmax({0})·Σ{1} − {1}){n}", "−log softmax({0}){n}"),
}
_MAP_RULES = {
    "MatMul": ("g @ {1}ᵀ", "{0}ᵀ @ g"), "Linear": ("g @ {1}", "gᵀ @ {0}", "g summed over rows"),
    "Sum": ("g copied to every summed element",), "Max": ("g to the largest (ties share it)",),
    "Min": ("g to the smallest (ties share it)",), "LogSumExp": ("g · softmax({0})",),
    "Softmax": ("{y} ⊙ (g − Σ g ⊙ {y})",), "LogSoftmax": ("g − softmax({0}) · Σ g",),
    "Reshape": ("g reshaped back",), "Transpose": ("g transposed back",),
    "Expand": ("g summed back",), "GetItem": ("g put back where it was taken",),
    "ScatterAdd": ("g read back at the indices",),
}


def _rule(t: Tensor, position: int, names: list[str], out: str) -> tuple[str, bool]:
    """The formula for input `position` of `t`'s op, with the operands' names filled in, and
    whether it is a local derivative (True) or a rule mapping g to the contribution."""
    op = t.op or ""
    local = op in _LOCAL_RULES
    rules = _LOCAL_RULES.get(op) or _MAP_RULES.get(op)
    if op == "Concatenate":
        text = f"slice {position + 1} of g"
    elif rules is None or position >= len(rules):
        text = f"{op}.backward(g)"
    else:
        text = rules[position]
    n = ""
    if getattr(t.grad_fn, "reduction", None) == "mean":
        inp = engine.inputs_of(t)[0]
        n = f"/{inp.size if 'Cross' not in op else int(np.prod(inp.shape[:-1]))}"
    text = text.replace("{y}", out).replace("{n}", n)
    for i, name in enumerate(names):
        text = text.replace("{" + str(i) + "}", name)
    return text, local


def _names(w: Any) -> list[Value]:
    """Each drawn tensor's name: its label, a parameter's qualified name, a constant's value,
    else t₁, t₂, ... numbered from the inputs towards the root (which is `out`)."""
    mods = _modules(w.tensors)
    out: list[Value] = []
    count = 0
    auto = {}
    for k in reversed(range(len(w.tensors))):
        t = w.tensors[k]
        if not (t.label or id(t) in mods.param_name or nt.is_constant(t) or k == 0):
            count += 1
            auto[k] = "t" + nt.subscript(count)
    for k, t in enumerate(w.tensors):
        if nt.is_constant(t):
            text = nt.values(t.data)
            name, role = (text[0] if len(text) == 1 and t.size == 1 else "c"), "constant"
        else:
            name = t.label or mods.param_name.get(id(t)) or auto.get(k) or "out"
            role = _role(t, k == 0, mods)
        out.append(Value(t, name, role))
    return out


def _check_root(root: Tensor, where: str) -> None:
    if not isinstance(root, Tensor):
        raise TypeError(f"{where}: root must be a Tensor, got {type(root).__name__}")
    if root.size != 1:
        raise ValueError(f"{where}: root must be a single number (a loss), got shape {root.shape}; "
                         "reduce it first, e.g. .sum()")
    if root.grad_fn is None:
        raise ValueError(f"{where}: root was not computed from anything that requires grad, so "
                         "there is no backward pass to show")
    if root.grad_fn.saved_tensors is engine._FREED:
        raise RuntimeError(f"{where}: backward() already freed this graph; call {where} before "
                           "backward(), or use backward(retain_graph=True)")


def trace(root: Tensor, max_steps: int = MAX_STEPS) -> Trace:
    """The backward pass of the single-number `root`, step by step (see the module doc)."""
    _check_root(root, "backward_steps")
    w = _walk(root, None)
    values = _names(w)
    order = [t for t in engine.reachable([root]) if id(t) in w.pos]
    if len(order) > max_steps:
        raise ValueError(f"backward_steps: this graph has {len(order)} ops, more than max_steps="
                         f"{max_steps}: a step-by-step picture of it would not be readable. "
                         "Use a smaller example, or viz.draw_graph for the whole graph")
    edges = [(k, w.pos[id(p)], i) for k, t in enumerate(w.tensors) if t.grad_fn is not None
             for i, p in enumerate(engine.inputs_of(t))]
    grads: dict[int, np.ndarray] = {0: np.ones(root.shape, dtype=root.dtype)}
    steps = []
    for t in order:
        k = w.pos[id(t)]
        if k not in grads:                 # no gradient reaches this op: backward skips it
            continue
        steps.append(_step(t, k, grads[k], w, values, grads))
    final = {k: np.asarray(g, dtype=values[k].tensor.dtype) for k, g in grads.items()
             if values[k].tensor.requires_grad}
    for k, v in enumerate(values):
        if v.tensor.requires_grad and k not in final:
            final[k] = np.zeros(v.tensor.shape, dtype=v.tensor.dtype)
    return Trace(values, edges, steps, final)


def _step(t: Tensor, k: int, upstream: np.ndarray, w: Any, values: list[Value],
          grads: dict[int, np.ndarray]) -> Step:
    """Run one node's backward and add its contributions into `grads`, as the engine does."""
    inputs = engine.inputs_of(t)
    sent = engine.node_grads(t, upstream)
    elementwise = (t.op or "") in nt.ELEMENTWISE
    ones = None
    if elementwise or t.size == 1:
        ones = engine.node_grads(t, np.ones(t.shape, dtype=t.dtype))
    names = [values[w.pos[id(p)]].name for p in inputs]
    out = []
    local_rule = True
    for i, (p, pg) in enumerate(zip(inputs, sent)):
        if pg is None or not p.requires_grad:
            continue
        j = w.pos[id(p)]
        amount = _reduced(pg, p.shape)
        local = None
        if ones is not None and ones[i] is not None:   # elementwise: the output's shape
            local = np.array(ones[i] if elementwise else _reduced(ones[i], p.shape))
        rule, local_rule = _rule(t, i, names, values[k].name)
        out.append(Contribution(j, i, rule, local, np.array(amount), pg.shape != p.shape))
        grads[j] = grads[j] + amount if j in grads else amount
    return Step(k, np.array(upstream), out, local_rule)


def _reduced(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A gradient back in its input's shape, exactly as the engine un-broadcasts it."""
    return engine.unbroadcast(g, shape) if g.shape != shape else g


# ================================================================== the pictures
_CURRENT_OP = "#fecaca"
_UPSTREAM = "#d97706"
_DONE_EDGE = "#6b7280"
_GRAPH = {"rankdir": "LR", "fontname": _FONT, "nodesep": "0.3", "ranksep": "0.6",
          "labelloc": "t", "fontsize": "13", "outputorder": "edgesfirst", "pad": "0.15",
    "labeljust": "l"}
_NODE = {"fontname": _FONT, "fontsize": "11"}
_EDGE = {"fontname": _FONT, "fontsize": "10", "arrowsize": "0.7", "color": "#6b7280"}


def _short(a: np.ndarray) -> str:
    """An array on one line: its values when few, else a summary."""
    lines = nt.values(a)
    if len(lines) == 1 or a.size <= 6:
        return " ".join(lines)
    return f"{a.shape} mean {nt.num(np.mean(a))}, range [{nt.num(np.min(a))}, {nt.num(np.max(a))}]"


def _labelled(prefix: str, a: np.ndarray) -> list[str]:
    """`prefix` followed by an array's lines (a matrix row by row)."""
    lines = nt.values(a)
    return [prefix + lines[0]] + lines[1:]


def _sum_text(parts: list[np.ndarray]) -> list[str]:
    """A gradient as it adds up: `-4`, `3 + 3 = 6`, or a summary for arrays."""
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    if len(parts) == 1:
        return _labelled("grad ", total)
    if all(np.size(p) == 1 for p in parts):
        terms = [nt.num(np.asarray(p).item()) for p in parts]
        if len(terms) > 4:
            terms = terms[:3] + [f"… ({len(parts)} terms)"]
        return ["grad " + " + ".join(terms) + " = " + nt.num(np.asarray(total).item())]
    return [f"grad: sum of {len(parts)} contributions"] + nt.values(total)


def _edge_lines(c: Contribution, step: Step, y: str, x: str, quiz: bool) -> list[str]:
    """The current step's text on one input edge."""
    g, amount, local = step.upstream, c.amount, c.local
    if not step.local_rule:
        lines = [f"g ↦ {c.rule}"]
        if quiz:
            return lines
        if local is not None:
            lines += _labelled(f"∂{y}/∂{x} = ", local)
        return lines + _labelled("contribution = ", amount)
    head = f"∂{y}/∂{x} = {c.rule}"
    if quiz:
        return [head]
    if local is None:
        return [head] + _labelled("contribution = ", amount)
    if g.size == 1 and local.size == 1 and amount.size == 1:
        lv = nt.num(local.item())
        return [head if c.rule == lv else f"{head} = {lv}",
                f"{nt.num(g.item())} × {lv} = {nt.num(amount.item())}"]
    times = "g ⊙ local" if g.size > 1 else f"{nt.num(g.item())} × local"
    return ([head] + _labelled("local = ", local) +
            _labelled(f"{times}{', Σ over broadcast' if c.summed else ''} = ", amount))


def _expression(tr: Trace, k: int) -> str:
    """`q = x + y`, `h = σ(t₁)`, `t₂ = linear(x, W, b)`: the op written with names."""
    t = tr.values[k].tensor
    ins = [tr.values[j].name for o, j, _ in sorted((e for e in tr.edges if e[0] == k),
                                                    key=lambda e: e[2])]
    name = nt.op_name(t)
    if t.op in ("Add", "Sub", "Mul", "Div", "Pow", "MatMul") and len(ins) == 2:
        expr = f"{ins[0]} {name} {ins[1]}"
    elif t.op == "Neg":
        expr = f"−{ins[0]}"
    else:
        expr = f"{name}({', '.join(ins)})"
    return f"{tr.values[k].name} = {expr}"


def _caption(tr: Trace, i: int, quiz: bool) -> list[str]:
    root = tr.values[0].name
    n = len(tr.steps)
    if i == 0:
        return [f"Forward pass: each value is computed from its inputs. {n} ops to go back "
                f"through.",
                f"Backward starts at ∂{root}/∂{root} = 1" + (
                    "; type every gradient in the boxes below." if quiz else ".")]
    step = tr.steps[i - 1]
    out = tr.values[step.out].name
    g = "?" if quiz else _short(step.upstream)
    lines = [f"Step {i} of {n}: backward through {_expression(tr, step.out)}",
             f"upstream g = ∂{root}/∂{out} = {g}; each input gets g × its local derivative"]
    if i == n and not quiz:
        lines.append("Done: every gradient is complete (the numbers tg.grad gives).")
    elif i == n:
        lines.append("Done: check your answers below.")
    return lines


def _scene(tr: Trace, i: int, quiz: bool) -> Scene:
    """Frame `i`: 0 is the forward pass, i ≥ 1 the i-th op backward runs."""
    scene = Scene(_caption(tr, i, quiz))
    got = tr.received(i)
    step = tr.steps[i - 1] if i else None
    fresh = {c.value for c in step.inputs} if step else set()
    for k, v in enumerate(tr.values):
        scene.nodes[f"v{k}"] = {**_value_node(v, got.get(k), quiz, k in fresh,
                                              step is not None and k == step.out), "id": f"v{k}"}
    ops = [k for k, v in enumerate(tr.values) if v.tensor.grad_fn is not None]
    for k in ops:
        current = step is not None and k == step.out
        attrs: dict[str, Any] = {"shape": "ellipse", "style": "filled", "id": f"o{k}",
                                 "fillcolor": _CURRENT_OP if current else ROLE_COLORS["op"],
                                 "fields": [nt.op_label(tr.values[k].tensor)]}
        if current:
            attrs.update(color=HIGHLIGHT, penwidth="2.5")
        scene.nodes[f"o{k}"] = attrs
    by_edge = {(step.out, c.position): c for c in step.inputs} if step else {}
    done = {(s.out, c.position): c for s in tr.steps[:i - 1] for c in s.inputs} if i else {}
    for k, j, pos in tr.edges:
        t = tr.values[k].tensor
        roles = nt.operand_roles(t, sum(1 for e in tr.edges if e[0] == k))
        lines: list[str] = []
        attrs: dict[str, Any] = {"id": f"e{k}_{pos}"}
        if roles:
            attrs.update(headlabel=roles[pos], labelfontcolor="#4b5563", labelfontsize="10",
                         labeldistance="1.8")
        if (k, pos) in by_edge:
            c = by_edge[(k, pos)]
            lines += _edge_lines(c, step, tr.values[k].name, tr.values[j].name, quiz)
            attrs.update(color=HIGHLIGHT, fontcolor=HIGHLIGHT, penwidth="2.2")
        elif (k, pos) in done and not quiz:
            if done[(k, pos)].amount.size == 1:      # arrays: the node's grad shows them
                lines.append("→ " + _short(done[(k, pos)].amount))
            attrs.update(fontcolor=_DONE_EDGE)
        attrs["lines"] = lines
        scene.edges.append((f"v{j}", f"o{k}", attrs))
    for k in ops:
        attrs = {"id": f"e{k}_out"}
        if step is not None and k == step.out:
            attrs.update(color=_UPSTREAM, penwidth="2.2")   # g is the output's grad
        scene.edges.append((f"o{k}", f"v{k}", attrs))
    return scene


def _value_node(v: Value, parts: list[np.ndarray] | None, quiz: bool, fresh: bool,
                upstream: bool) -> dict[str, Any]:
    t = v.tensor
    if v.role == "constant":
        return {"shape": "box", "style": "rounded,filled", "fillcolor": ROLE_COLORS["constant"],
                "color": "#9ca3af", "fontcolor": "#374151", "fields": [nt.constant_text(t)]}
    shape = nt.shape_text(t)
    head = [v.name + (f"  {shape}" if shape else "")]
    fields = [head, _labelled("data ", t.data)]
    if t.requires_grad:
        fields.append(["grad ?"] if quiz or not parts else _sum_text(parts))
    style = "filled" if t.requires_grad else "filled,dashed"
    attrs: dict[str, Any] = {"shape": "record", "style": style, "fillcolor": ROLE_COLORS[v.role],
                             "fields": fields}
    if fresh:
        attrs.update(color=HIGHLIGHT, penwidth="2.5")
    elif upstream:
        attrs.update(color=_UPSTREAM, penwidth="2.5")
    return attrs


def _depth(tr: Trace) -> int:
    """The number of ops on the longest path from a leaf to the root."""
    depth = [0] * len(tr.values)
    for k in sorted({e[0] for e in tr.edges}, key=lambda k: tr.values[k].tensor.grad_fn.seq):
        depth[k] = 1 + max(depth[j] for o, j, _ in tr.edges if o == k)
    return depth[0]


def frames(tr: Trace, quiz: bool = False, rankdir: str | None = None) -> list[Digraph]:
    """The trace's frames, laid out once (see `pinned`): left to right for short graphs (as
    in the tutorials' pictures), top to bottom for deep ones, which would not fit a screen's
    width."""
    if rankdir is None:
        rankdir = "LR" if _depth(tr) <= 3 else "TB"
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"backward_steps: rankdir must be 'LR', 'RL', 'TB', 'BT' or None, "
                         f"got {rankdir!r}")
    scenes = [_scene(tr, i, quiz) for i in range(len(tr.steps) + 1)]
    return pin_scenes(scenes, {**_GRAPH, "rankdir": rankdir}, _NODE, _EDGE)


def backward_steps(root: Tensor, *, quiz: bool = False, rankdir: str | None = None,
                   max_steps: int = MAX_STEPS) -> list[Digraph]:
    """Backpropagation of the single-number `root` as a list of `graphviz.Digraph` frames.

    Frame 0 is the forward pass (values, no gradients). Then one frame per op, in the order
    backward runs them: the op is highlighted (red), its upstream gradient g = d root / d
    output is written on its output edge (orange), and each input edge carries the local
    derivative (formula and value) and the chain-rule product g × local = contribution; a
    value that receives several contributions shows them adding up (`3 + 3 = 6`). The last
    frame's gradients are `tg.grad(root, ...)`'s. For tensors see the module doc. `quiz=True`
    hides every number a student should work out. All frames share one layout, so nothing
    moves between them; render them with `viz.render` or display them in Jupyter. `rankdir`
    None lays short graphs out left to right and deep ones top to bottom.

    No `.grad` is changed and the graph is not freed. Needs a Graphviz renderer (the `dot`
    program or the in-process one) to lay the frames out."""
    return frames(trace(root, max_steps), quiz, rankdir)
