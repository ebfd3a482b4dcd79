"""Pictures whose layout does not move: a sequence of frames laid out once, and pictures we
place ourselves (the network's grid).

A sequence of frames (the backward explorer) shows the same nodes and edges with different
text and colours. Laid out one by one, `dot` would shift everything a little at each frame,
and a student watching the gradient flow would watch the boxes jump instead. So the frames are
laid out once, with every label at its widest over all frames, and each frame is written with
those positions pinned (`rendering.PINNED`), drawn by Graphviz's no-layout mode.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from . import rendering
from .notation import plain_label, record_label
from .rendering import PINNED, Digraph

__all__ = ["Scene", "pin_scenes", "pinned_digraph", "straight_edge"]

Lines = list[str]


@dataclass
class Scene:
    """One frame: node id -> attributes (text as `fields`: a list of fields, each a list of
    lines; a record when shape="record"), edges (tail, head, attributes with a unique `id` and
    text as `lines`), and a caption. Every frame of a sequence has the same ids."""
    caption: Lines
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


def pinned_digraph(graph_attr: dict[str, str], node_attr: dict[str, str] | None = None,
                   edge_attr: dict[str, str] | None = None) -> Digraph:
    """An empty Digraph whose nodes and edges will carry their own positions."""
    return Digraph(comment=PINNED, graph_attr=graph_attr, node_attr=node_attr or {},
                   edge_attr=edge_attr or {})


def straight_edge(tail: tuple[float, float], head: tuple[float, float], tail_r: float,
                  head_r: float, arrow: float) -> str:
    """The `pos` of a straight edge between two circles (centres in points, radii), ending
    in an arrowhead `arrow` points long: Graphviz's spline format, one cubic piece."""
    (x0, y0), (x1, y1) = tail, head
    d = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / d, (y1 - y0) / d
    sx, sy = x0 + ux * tail_r, y0 + uy * tail_r
    tx, ty = x1 - ux * head_r, y1 - uy * head_r               # the arrow's tip
    ex, ey = tx - ux * arrow, ty - uy * arrow                 # where the line meets the arrow
    pts = [(sx + (ex - sx) * k / 3, sy + (ey - sy) * k / 3) for k in range(4)]
    return f"e,{tx:.2f},{ty:.2f} " + " ".join(f"{x:.2f},{y:.2f}" for x, y in pts)


# ================================================================== frames laid out once
_NARROW = set(" .,;:'|!()[]{}ijlIft-/\\")
_WIDE = set("mwMW@%ΣWÆ⊙↦∂")


def text_width(line: str) -> float:
    """A line's width in ems, roughly, in a Helvetica-like font: enough to tell which of two
    texts is wider."""
    return sum(0.3 if c in _NARROW else 0.85 if c in _WIDE else
               0.67 if c.isupper() else 0.56 for c in line)


def _widest(texts: Sequence[Lines]) -> Lines:
    """Line by line, the widest text any frame puts there, with a little slack (two spaces):
    the width estimate is rough."""
    n = max((len(t) for t in texts), default=0)
    return [max((t[i] for t in texts if i < len(t)), key=text_width) + "  " for i in range(n)]


def _node_text(attrs: dict[str, Any], fields: Sequence[Lines], vertical: bool) -> str:
    if attrs.get("shape") == "record":
        return record_label(fields, vertical)
    return plain_label([line for f in fields for line in f])


def _write_node(dot: Digraph, name: str, attrs: dict[str, Any], fields: Sequence[Lines],
                vertical: bool, extra: dict[str, str]) -> None:
    out = {k: str(v) for k, v in attrs.items() if k != "fields"}
    dot.node(name, label=_node_text(attrs, fields, vertical), **out, **extra)


def _write_edge(dot: Digraph, tail: str, head: str, attrs: dict[str, Any], lines: Lines | None,
                extra: dict[str, str]) -> None:
    out = {k: str(v) for k, v in attrs.items() if k != "lines"}
    if lines:
        out["label"] = plain_label(lines)
    dot.edge(tail, head, **out, **extra)


def pin_scenes(scenes: Sequence[Scene], graph_attr: dict[str, str], node_attr: dict[str, str],
               edge_attr: dict[str, str]) -> list[Digraph]:
    """The scenes as Digraphs sharing one layout: `dot` lays out the first scene with every
    label at its widest, and each scene is written with those positions (same size, same
    places). Needs a renderer (the `dot` program or the in-process one)."""
    first = scenes[0]
    vertical = graph_attr.get("rankdir", "TB") in ("TB", "BT")
    probe = Digraph(graph_attr=graph_attr, node_attr=node_attr, edge_attr=edge_attr)
    probe.attr(label=plain_label(_widest([s.caption for s in scenes])))
    for name, attrs in first.nodes.items():
        per_field = zip(*[s.nodes[name]["fields"] for s in scenes])
        _write_node(probe, name, attrs, [_widest(f) for f in per_field], vertical, {})
    for k, (tail, head, attrs) in enumerate(first.edges):
        lines = _widest([s.edges[k][2].get("lines") or [] for s in scenes])
        _write_edge(probe, tail, head, attrs, lines, {})
    placed = rendering.layout(probe.source)
    nodes = {o["name"]: o for o in placed.get("objects", []) if "pos" in o}
    edges = {e["id"]: e for e in placed.get("edges", []) if "id" in e}
    out = []
    for scene in scenes:
        dot = pinned_digraph({**graph_attr, "bb": placed["bb"]}, node_attr, edge_attr)
        dot.attr(label=plain_label(scene.caption))
        if "lp" in placed:
            dot.attr(lp=placed["lp"])
        x0, y0, x1, y1 = (float(v) for v in placed["bb"].split(","))
        for corner, (x, y) in (("corner_0", (x0, y0)), ("corner_1", (x1, y1))):
            # the no-layout mode sizes the picture to what is drawn: two invisible corners
            # keep every frame the size of the layout
            dot.node(corner, label="", shape="point", width="0.01", style="invis", pos=f"{x},{y}")
        for name, attrs in scene.nodes.items():
            o = nodes[name]
            _write_node(dot, name, attrs, attrs["fields"], vertical,
                        {"pos": o["pos"], "width": o["width"], "height": o["height"]})
        for tail, head, attrs in scene.edges:
            e = edges[attrs["id"]]
            extra = {"pos": e["pos"]}
            if attrs.get("lines") and "lp" in e:
                extra["lp"] = e["lp"]
            if attrs.get("headlabel") and "head_lp" in e:
                extra["head_lp"] = e["head_lp"]
            _write_edge(dot, tail, head, attrs, attrs.get("lines"), extra)
        out.append(dot)
    return out
