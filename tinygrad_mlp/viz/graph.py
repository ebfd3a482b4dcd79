"""The op graph behind a Tensor: walking the recorded nodes, naming the modules that ran them,
collapsing module calls, and writing the DOT.

`draw_graph` walks the recorded nodes (`t.grad_fn`, its inputs and its module call) breadth
first from the root without recursion, so a 100,000-op graph is as drawable as a 3-op one; a
node limit keeps the part nearest the root instead of producing an unreadable picture.
Gradients are computed for the picture with `tg.grad(..., retain_graph=True)`: d root / d node
for every value, never the accumulated `.grad`, and no `.grad` or graph is changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .. import engine
from ..tensor import Tensor
from . import notation as nt
from .rendering import Digraph

__all__ = ["draw_graph", "ROLE_COLORS"]

# fill colours by role (a legend for the README lives in docs/seeing_the_graph.md)
ROLE_COLORS = {"input": "#dbeafe", "parameter": "#dcfce7", "intermediate": "#ffffff",
               "output": "#fde68a", "constant": "#f3f4f6", "op": "#e5e7eb", "module": "#ede9fe"}
HIGHLIGHT = "#dc2626"
_FONT = "Helvetica"


# ================================================================== the op graph
@dataclass
class _Walk:
    """The part of the graph that is drawn: tensors nearest the root first."""
    tensors: list[Tensor]
    pos: dict[int, int]                     # id(tensor) -> index in tensors
    consumers: list[list[int]]              # tensor index -> indices of tensors its value feeds
    cut: list[int]                          # drawn tensors whose op has inputs not drawn
    hidden: int                             # tensors not drawn because of max_nodes


def _walk(root: Tensor, max_nodes: int | None) -> _Walk:
    """Breadth-first over parents from `root`, iteratively, keeping at most `max_nodes`
    drawn nodes (a value node per tensor plus an op node per non-leaf)."""
    order, pos, i = [root], {id(root): 0}, 0
    while i < len(order):
        t = order[i]
        i += 1
        if t.grad_fn is not None:
            for p in engine.inputs_of(t):
                if id(p) not in pos:
                    pos[id(p)] = len(order)
                    order.append(p)
    keep, nodes = len(order), 0
    if max_nodes is not None:
        for k, t in enumerate(order):
            nodes += 1 if t.grad_fn is None else 2
            if nodes > max_nodes:
                keep = max(k, 1)
                break
    tensors = order[:keep]
    pos = {id(t): k for k, t in enumerate(tensors)}
    consumers: list[list[int]] = [[] for _ in tensors]
    cut = []
    for k, t in enumerate(tensors):
        if t.grad_fn is None:
            continue
        missing = False
        for p in engine.inputs_of(t):
            j = pos.get(id(p))
            if j is None:
                missing = True
            elif not consumers[j] or consumers[j][-1] != k:
                consumers[j].append(k)
        if missing:
            cut.append(k)
    return _Walk(tensors, pos, consumers, cut, len(order) - keep)


@dataclass
class _Modules:
    """The nn.Modules that recorded the drawn ops, with qualified names from the outermost."""
    name: dict[int, str] = field(default_factory=dict)       # id(module) -> qualified name
    module: dict[int, Any] = field(default_factory=dict)     # id(module) -> module
    parent: dict[int, int | None] = field(default_factory=dict)
    depth: dict[int, int] = field(default_factory=dict)
    param_name: dict[int, str] = field(default_factory=dict)   # id(param) -> qualified name
    param_owner: dict[int, int] = field(default_factory=dict)  # id(param) -> id(module)


def _innermost(t: Tensor) -> Any:
    """The module whose forward ran the op that made `t` (None outside any module)."""
    call = t.grad_fn.call if t.grad_fn is not None else ()
    return call[-1] if call else None


def _modules(tensors: list[Tensor], model: Any = None) -> _Modules:
    """Name every module (and parameter) under the outermost modules: `model` if given, and
    the outermost module of each op's recorded call chain (`grad_fn.call`), not inside another."""
    seen: dict[int, Any] = {} if model is None else {id(model): model}
    for t in tensors:
        call = t.grad_fn.call if t.grad_fn is not None else ()
        if call:
            seen.setdefault(id(call[0]), call[0])
    subs = {k: {id(s) for _, s in m.named_modules()} for k, m in seen.items()}
    roots = [m for k, m in seen.items() if not any(k in subs[o] for o in seen if o != k)]
    info = _Modules()
    for r in roots:
        by_name: dict[str, int] = {}
        for name, sub in r.named_modules():          # parents come before their children
            if id(sub) in info.name:
                continue
            shown = name or type(r).__name__
            parent = _parent_of(name, by_name, id(r))
            info.name[id(sub)], info.module[id(sub)] = shown, sub
            info.parent[id(sub)] = parent
            info.depth[id(sub)] = 0 if parent is None else info.depth[parent] + 1
            by_name[name] = id(sub)
        for pname, p in r.named_parameters():
            if id(p) not in info.param_name:
                owner = by_name.get(pname.rpartition(".")[0], id(r))
                info.param_name[id(p)], info.param_owner[id(p)] = pname, owner
    return info


def _parent_of(name: str, by_name: dict[str, int], root: int) -> int | None:
    """The module whose qualified name is the longest proper prefix of `name`."""
    if not name:
        return None
    head = name
    while "." in head:
        head = head.rpartition(".")[0]
        if head in by_name:
            return by_name[head]
    return root


def _role(t: Tensor, is_root: bool, mods: _Modules) -> str:
    if is_root:
        return "output"
    if t.grad_fn is not None:
        return "intermediate"
    if nt.is_constant(t) and id(t) not in mods.param_name:
        return "constant"
    if id(t) in mods.param_name or type(t).__name__ == "Parameter":
        return "parameter"
    return "input"


def _gradients(root: Tensor, tensors: list[Tensor]) -> tuple[dict[int, np.ndarray], str | None]:
    """d root / d t for every drawn tensor that requires grad, from `tg.grad(retain_graph=True)`
    (which touches no `.grad` and frees nothing): never the accumulated `.grad`, which after two
    backward calls would be twice the derivative. A graph freed by backward has no gradients
    to show, and a note says so."""
    if root.size != 1 or not root.requires_grad:
        return {}, None
    if root.grad_fn is not None and root.grad_fn.saved_tensors is engine._FREED:
        return {}, ("backward() freed this graph, so no gradients (and no inputs) can be shown; "
                    "draw before backward() or call backward(retain_graph=True)")
    need = [t for t in tensors if t.requires_grad]
    try:
        computed = engine.grad(root, need, retain_graph=True)
    except RuntimeError as e:
        return {}, f"gradients not computed ({e})"
    return {id(t): g.data for t, g in zip(need, computed)}, None


def _reached(w: _Walk, start: int) -> set[str]:
    """Node ids on every path from tensor `start` to the root: all nodes downstream of it."""
    out, stack = set(), [start]
    while stack:
        k = stack.pop()
        if f"v{k}" in out:
            continue
        out.add(f"v{k}")
        for c in w.consumers[k]:
            out.add(f"o{c}")
            stack.append(c)
    return out


@dataclass
class _Collapsed:
    """Collapsed module calls: drawn node id -> the call node ("c<module id>_<n>") it folds
    into, and each call node's module and op count."""
    into: dict[str, str] = field(default_factory=dict)
    module: dict[str, int] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)


def _folder(mods: _Modules, collapse: bool | int) -> Callable[[int | None], int | None] | None:
    """Which module a module's ops fold into: itself (True: each module that ran ops), or its
    ancestor at nesting depth `collapse` (modules shallower than that stay open)."""
    if collapse is False:
        return None
    if collapse is True:
        return lambda m: m
    depth = int(collapse)

    def ancestor(m: int | None) -> int | None:
        if m is None or mods.depth[m] < depth:
            return None
        while mods.depth[m] > depth:
            m = mods.parent[m]
        return m
    return ancestor


def _collapse(w: _Walk, mods: _Modules, ancestor: Callable | None) -> _Collapsed:
    """Fold each call of a collapsed module into one node. A call is a connected set of its
    ops (joined through intermediate values), so a module used twice (a shared activation)
    is two nodes, not one node with a cycle. A value folds in when its producer (or, for a
    parameter, its module) is in the call and every consumer is too; the root never folds."""
    out = _Collapsed()
    if ancestor is None:
        return out

    module = {k: ancestor(id(_innermost(t))) for k, t in enumerate(w.tensors)
              if _innermost(t) is not None}
    module = {k: m for k, m in module.items() if m is not None}
    link = {k: k for k in module}               # union-find over op indices

    def find(k: int) -> int:
        while link[k] != k:
            link[k] = link[link[k]]
            k = link[k]
        return k

    for k, m in module.items():
        for p in engine.inputs_of(w.tensors[k]):
            j = w.pos.get(id(p))
            if j is not None and module.get(j) == m:
                link[find(j)] = find(k)
    number = {m: i for i, m in enumerate(mods.name)}     # stable names, not ids, in the DOT
    for k, m in module.items():
        call = f"c{number[m]}_{find(k)}"
        out.into[f"o{k}"] = call
        out.module[call] = m
        out.ops[call] = out.ops.get(call, 0) + 1
    for k, t in enumerate(w.tensors):
        if k == 0 or not w.consumers[k]:
            continue
        calls = {out.into.get(f"o{c}") for c in w.consumers[k]}
        if len(calls) != 1 or None in calls:
            continue
        call = calls.pop()
        own = (out.into.get(f"o{k}") == call if t.grad_fn is not None
               else ancestor(mods.param_owner.get(id(t))) == out.module[call])
        if own:
            out.into[f"v{k}"] = call
    return out


def draw_graph(root: Tensor, show_data: bool = True, show_grad: bool = True, rankdir: str = "LR",
               highlight: Tensor | None = None, *, collapse_modules: bool | int = False,
               max_nodes: int | None = 500, max_elements: int = 6, model: Any = None,
               legend: bool = False) -> Digraph:
    """The op DAG that produced `root` as a Graphviz `Digraph`.

    Value nodes are records: label (the Tensor's `label` or a parameter's qualified name such
    as `layers.0.weight`), shape and dtype (not for single numbers), data and gradient
    (verbatim up to `max_elements` numbers, else mean/std/min/max). Op nodes are grey
    ellipses with the op's symbol (`+ − × ÷ @ **`) or function name (`tanh`, `σ`, `Σ`); an op
    whose operand order matters is written with its operands' positions (`① − ②`) and each input
    edge carries its role. An operand used twice (`a * a`) is two edges: its gradient is the
    sum of what comes back along both. Edges follow the data. Fill colours: inputs blue,
    parameters green, intermediates white, output amber, constants grey (`ROLE_COLORS`);
    dashed leaves don't require grad. A constant is a leaf that does not require grad and
    has no label (Python scalars and arrays mixed into arithmetic), drawn as its value; label
    data to draw it as an input. Ops and parameters of each `nn.Module` call sit in a
    `cluster_<name>` box, nested like the modules (see `model`). `legend=True` adds a key.

    With `show_grad` and a single-element `root`, every node shows d root / d node (computed
    without touching `.grad` where it is not stored). `highlight=t` draws every path from `t`
    to `root` in red. `collapse_modules=True` draws each call of a module that ran ops (a
    Linear, an activation) as one node; an int n folds everything at nesting depth >= n into
    its depth-n module (0: the whole model is one node). At most
    `max_nodes` nodes nearest the root are drawn (None: no limit); the rest is summarised.

    Ops know the innermost module that ran them and modules know their caller, so the model
    is found from the graph; `model=` names it explicitly (e.g. when it ran no op itself)."""
    if not isinstance(root, Tensor):
        raise TypeError(f"draw_graph: root must be a Tensor, got {type(root).__name__}")
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_graph: max_nodes must be a positive int or None, got {max_nodes}")
    w = _walk(root, max_nodes)
    mods = _modules(w.tensors, model)
    fold = _folder(mods, collapse_modules)
    group = _collapse(w, mods, fold)
    grads, note = _gradients(root, w.tensors) if show_grad else ({}, None)
    lit: set[str] = set()
    if highlight is not None:
        if id(highlight) not in w.pos:
            raise ValueError("draw_graph: the highlight tensor is not part of the drawn graph "
                             "that produced root" + (" (it may be beyond max_nodes)" if w.hidden else ""))
        lit = _reached(w, w.pos[id(highlight)])
    g = _GraphWriter(w, mods, group, lit, rankdir, fold)
    g.values(show_data, grads, max_elements)
    g.ops()
    g.edges()
    g.cut_marker(max_nodes)
    if legend:
        g.legend()
    return g.finish(note)


class _GraphWriter:
    """Emits the DOT for one `_Walk`: nodes into their module clusters, edges mapped through
    collapsed modules, highlight applied to whatever the path touches."""

    def __init__(self, w: _Walk, mods: _Modules, group: _Collapsed, lit: set[str],
                 rankdir: str, fold: Callable | None) -> None:
        self.w, self.mods, self.group, self.lit, self.fold = w, mods, group, lit, fold
        self.flip = rankdir in ("TB", "BT")
        self.dot = Digraph(graph_attr={"rankdir": rankdir, "fontname": _FONT, "nodesep": "0.25",
                                       "ranksep": "0.35"},
                           node_attr={"fontname": _FONT, "fontsize": "11"},
                           edge_attr={"arrowsize": "0.7", "color": "#6b7280", "fontname": _FONT})
        self.bodies: dict[int | None, list[tuple[str, dict[str, str]]]] = {}
        self.links: list[tuple[str, str, dict[str, str]]] = []
        self.roles: set[str] = set()

    def _home(self, m: int | None) -> int | None:
        """The cluster a node of module `m` is drawn in: `m` itself, or, when `m` is folded
        into a collapsed module call, the cluster around that call."""
        into = None if m is None or self.fold is None else self.fold(m)
        return m if into is None else self.mods.parent[into]

    def _place(self, node: str, module: int | None, **attrs: str) -> None:
        module = self._home(module)
        if node in self.lit:
            attrs.update(color=HIGHLIGHT, penwidth="2.5")
        self.bodies.setdefault(module, []).append((node, attrs))

    def values(self, show_data: bool, grads: dict[int, np.ndarray], max_elements: int) -> None:
        mods = self.mods
        for k, t in enumerate(self.w.tensors):
            if f"v{k}" in self.group.into:
                continue
            role = _role(t, k == 0, mods)
            self.roles.add(role)
            if role == "constant":
                self._place(f"v{k}", None, shape="box", style="rounded,filled",
                            fillcolor=ROLE_COLORS[role], color="#9ca3af", fontcolor="#374151",
                            label=nt.plain_label(nt.constant_text(t, max_elements)),
                            tooltip="constant (a leaf without label that does not require grad)")
                continue
            name = t.label or mods.param_name.get(id(t)) or ""
            shape = nt.shape_text(t)
            fields = [[line] for line in (name, shape) if line]
            if show_data:
                fields.append(_prefixed("data ", nt.values(t.data, max_elements)))
            if id(t) in grads:
                fields.append(_prefixed("grad ", nt.values(grads[id(t)], max_elements)))
            if not fields:
                fields = [[" "]]
            style = "filled" if t.requires_grad or t.grad_fn is not None else "filled,dashed"
            home = mods.param_owner.get(id(t)) if role == "parameter" else (
                self._op_module(t) if t.grad_fn is not None else None)
            self._place(f"v{k}", home, shape="record", style=style, fillcolor=ROLE_COLORS[role],
                        label=nt.record_label(fields, self.flip),
                        tooltip=f"{role}: {name or shape or 'a number'}")

    def _op_module(self, t: Tensor) -> int | None:
        m = _innermost(t)
        return id(m) if m is not None and id(m) in self.mods.name else None

    def ops(self) -> None:
        for k, t in enumerate(self.w.tensors):
            if t.grad_fn is None or f"o{k}" in self.group.into:
                continue
            home = self._op_module(t)
            where = f" in {self.mods.name[home]}" if home is not None else ""
            self._place(f"o{k}", home, shape="ellipse", style="filled",
                        label=nt.plain_label(nt.op_label(t)),
                        fillcolor=ROLE_COLORS["op"], tooltip=f"{t.op}{where}")
        into = self.group.into
        for call, m in self.group.module.items():
            if any(into.get(x) == call for x in self.lit):
                self.lit.add(call)
            self._place(call, m, shape="box3d", style="filled",
                        fillcolor=ROLE_COLORS["module"],
                        label=f"{self.mods.name[m]}\\n{type(self.mods.module[m]).__name__} "
                              f"({self.group.ops[call]} ops)")

    def _shown(self, node: str) -> str:
        return self.group.into.get(node, node)

    def edges(self) -> None:
        """Input edges (one per operand, so `a * a` is two edges, each with the operand's role
        when the order matters) and output edges; folded modules' edges are drawn once."""
        done: set[tuple[str, str]] = set()
        w = self.w
        for k, t in enumerate(w.tensors):
            if t.grad_fn is None:
                continue
            op = f"o{k}"
            inputs = engine.inputs_of(t)
            roles = nt.operand_roles(t, len(inputs))
            pairs = [(f"v{w.pos[id(p)]}", op, roles[i] if roles else None)
                     for i, p in enumerate(inputs) if id(p) in w.pos]
            pairs.append((op, f"v{k}", None))
            for a, b, role in pairs:
                sa, sb = self._shown(a), self._shown(b)
                folded = (sa, sb) != (a, b)
                if sa == sb or folded and (sa, sb) in done:
                    continue
                done.add((sa, sb))
                lit = a in self.lit and b in self.lit
                attrs = {"color": HIGHLIGHT, "penwidth": "2.5"} if lit else {}
                if role and not folded:
                    attrs.update(headlabel=role, labelfontsize="11", labelfontcolor="#4b5563",
                                 labeldistance="1.8")
                self.links.append((sa, sb, attrs))

    def legend(self) -> None:
        """A key in two rows: the value roles, then the other marks (a constant, a leaf
        without grad, an op, and an operand used twice)."""
        key = Digraph(name="cluster_legend", graph_attr={
            "label": "key", "style": "rounded", "color": "#9ca3af", "fontname": _FONT,
            "fontsize": "11", "labeljust": "l"})
        box = {"shape": "box", "style": "filled", "fontsize": "10"}
        rows = [[("key_input", dict(box, fillcolor=ROLE_COLORS["input"], label="input")),
                 ("key_parameter", dict(box, fillcolor=ROLE_COLORS["parameter"], label="parameter")),
                 ("key_intermediate", dict(box, fillcolor=ROLE_COLORS["intermediate"],
                                           label="intermediate")),
                 ("key_output", dict(box, fillcolor=ROLE_COLORS["output"], label="output (root)"))],
                [("key_constant", dict(box, style="rounded,filled", color="#9ca3af",
                                       fillcolor=ROLE_COLORS["constant"], label="constant")),
                 ("key_nograd", dict(box, style="filled,dashed", fillcolor=ROLE_COLORS["input"],
                                     label="dashed: no grad")),
                 ("key_op", {"shape": "ellipse", "style": "filled", "fontsize": "10",
                             "fillcolor": ROLE_COLORS["op"], "label": "op: + × σ …"}),
                 ("key_a", dict(box, fillcolor=ROLE_COLORS["input"], label="a")),
                 ("key_twice", {"shape": "ellipse", "style": "filled", "fontsize": "10",
                                "fillcolor": ROLE_COLORS["op"], "label": "×"}),
                 ("key_note", {"shape": "plaintext", "fontsize": "10",
                               "label": "a × a: a is used twice,\\ntwo edges, gradients add"})]]
        for row in rows:
            for (name, attrs), (nxt, _) in zip(row, row[1:] + [(None, None)]):
                key.node(name, **attrs)
                if nxt is not None and (name, nxt) != ("key_a", "key_twice"):
                    key.edge(name, nxt, style="invis")
        key.edge("key_a", "key_twice")
        key.edge("key_a", "key_twice")
        # row order: in a left-to-right picture a flat edge puts its head above its tail
        key.body.append("\t{rank=same; key_constant -> key_input [style=invis]}\n")
        self.dot.subgraph(key)

    def cut_marker(self, max_nodes: int | None) -> None:
        """One note node standing for everything beyond max_nodes, wired to where it feeds."""
        w = self.w
        if not w.hidden:
            return
        text = (f"{w.hidden} more values (and their ops) not drawn: max_nodes={max_nodes}. "
                "Pass max_nodes=None to draw everything, or collapse_modules=True")
        self.dot.node("more", label=text, shape="note", style="dashed", fontcolor="#6b7280")
        for k in w.cut:
            self.links.append(("more", self._shown(f"o{k}"), {"style": "dashed"}))

    def finish(self, note: str | None) -> Digraph:
        """One cluster per module holding nodes, inside its nearest drawn ancestor (pure
        containers such as a ModuleList are skipped, the outermost module is kept); clusters
        are filled innermost first, so each is complete before it joins its parent."""
        mods, dot = self.mods, self.dot
        parent: dict[int, int | None] = {}
        for m in set(self.bodies) - {None}:
            while m is not None and m not in parent:
                up = mods.parent[m]
                while up is not None and up not in self.bodies and mods.parent[up] is not None:
                    up = mods.parent[up]
                parent[m], m = up, up
        subs = {m: Digraph(name=self._cluster_name(m), graph_attr=self._cluster_attrs(m))
                for m in parent}
        for m in sorted(parent, key=lambda m: -mods.depth[m]):
            for node, attrs in self.bodies.get(m, []):
                subs[m].node(node, **attrs)
            (dot if parent[m] is None else subs[parent[m]]).subgraph(subs[m])
        for node, attrs in self.bodies.get(None, []):
            dot.node(node, **attrs)
        for a, b, attrs in self.links:
            dot.edge(a, b, **attrs)
        if note:
            dot.attr(label=note, labelloc="b", fontsize="11")
        return dot

    def _cluster_attrs(self, m: int) -> dict[str, str]:
        name, kind = self.mods.name[m], type(self.mods.module[m]).__name__
        return {"label": name if name == kind else f"{name}: {kind}", "style": "rounded,dashed",
                "color": "#9ca3af", "fontname": _FONT, "fontsize": "11", "labeljust": "l"}

    def _cluster_name(self, m: int) -> str:
        name = self.mods.name[m].replace(".", "_")
        clash = sum(1 for o, n in self.mods.name.items() if n == self.mods.name[m] and o < m)
        return f"cluster_{name}" + (f"_{clash}" if clash else "")




def _prefixed(prefix: str, lines: list[str]) -> list[str]:
    """`data 3`, or a two-line summary whose first line carries the prefix."""
    return [prefix + line if i == 0 else line for i, line in enumerate(lines)]
