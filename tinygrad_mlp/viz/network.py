"""The network picture: an MLP as columns of units and one weighted edge per weight.

The picture is placed by us, not laid out by `dot`: a neural network diagram is a grid (inputs
top to bottom in their order, one column per layer), and `dot`'s crossing minimisation
reorders units within a column. Every position is written into the DOT source (see
`pinned`), so the picture is the same with the `dot` program and with the in-process
renderer, and its labels are plain text (x₁, h₂, ŷ₁), which both renderers draw.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .graph import _FONT, ROLE_COLORS
from .notation import subscript, superscript
from .pinned import pinned_digraph, straight_edge, text_width
from .rendering import Digraph

__all__ = ["draw_network"]

_R = 18.0          # unit radius, points
_ARROW = 6.0       # arrowhead length (arrowsize 0.6)
_TAG_H = 13.0      # height of a weight's label box


def _linear_layers(model: Any) -> list[Any]:
    from .. import nn
    if isinstance(model, nn.Linear):
        return [model]
    layers = list(getattr(model, "layers", None) or
                  [m for _, m in model.named_modules() if isinstance(m, nn.Linear)])
    if not layers or not all(isinstance(m, nn.Linear) for m in layers):
        raise TypeError(f"draw_network: expected an nn.MLP, an nn.Linear or a Sequential of "
                        f"Linear layers; {type(model).__name__} has no Linear layers")
    for i in range(1, len(layers)):
        a, b = layers[i - 1].weight.shape, layers[i].weight.shape
        if a[0] != b[1]:
            raise ValueError(f"draw_network: layer {i - 1} has {a[0]} outputs but layer {i} "
                             f"expects {b[1]} inputs; the Linear layers do not chain")
    return layers


def _unit_label(col: int, j: int, n_cols: int) -> str:
    """x₁ for inputs, h₁ (h₁⁽ˡ⁾ with several hidden layers) for hidden units, ŷ₁ last."""
    if col == 0:
        return "x" + subscript(j + 1)
    if col == n_cols - 1:
        return "ŷ" + subscript(j + 1)
    return "h" + subscript(j + 1) + (superscript(f"({col})") if n_cols > 3 else "")


def _edge_style(w: float, wmax: float, on_path: bool | None) -> dict[str, str]:
    colour = "#2563eb" if w > 0 else "#dc2626" if w < 0 else "#9ca3af"
    width = 0.6 + 3.4 * abs(w) / wmax if wmax > 0 else 1.0
    attrs = {"color": colour, "penwidth": f"{width:.2f}", "tooltip": f"{w:.4g}"}
    if on_path is True:
        attrs.update(style="bold", penwidth=f"{width + 2.5:.2f}")
    elif on_path is False:
        attrs["color"] = colour + "40"      # faded: off the highlighted path
    return attrs


class _Grid:
    """Where each unit sits: column `col` at x = col·dx, units top to bottom in their order,
    the bias node `1` below them; columns centred on each other."""

    def __init__(self, sizes: list[int], biased: list[bool], dx: float, dy: float) -> None:
        self.dx, self.dy = dx, dy
        self.heights = [n - 1 + (1.3 if b else 0.0) for n, b in zip(sizes, biased + [False])]
        self.top = max(self.heights) * dy / 2

    def unit(self, col: int, j: int) -> tuple[float, float]:
        return (col * self.dx, self.top + self.heights[col] * self.dy / 2 - j * self.dy)

    def bias(self, col: int) -> tuple[float, float]:
        x, y = self.unit(col, 0)
        return (x, y - self.heights[col] * self.dy)


def _tag_size(text: str) -> tuple[float, float]:
    return text_width(text) * 10 + 6, _TAG_H          # fontsize 10, 3 points of margin


def _place_tags(layer: list[tuple[tuple[float, float], tuple[float, float], int, str]]
                ) -> tuple[list[float], float]:
    """Where along its edge each weight label of one layer goes (a fraction of the edge from
    its head), head unit by head unit, each time at the fraction that keeps its labels
    furthest from those already placed (labels of different heads end up at different
    distances, so they also separate sideways). `layer` holds (tail position, head position,
    head unit, text); returns the fractions and the smallest clearance left (points; negative
    is an overlap)."""
    placed: list[tuple[float, ...]] = []
    fractions = [0.0] * len(layer)
    worst = float("inf")
    for j in sorted({e[2] for e in layer}):
        mine = [k for k, e in enumerate(layer) if e[2] == j]
        best: tuple[float, float, list] = (-float("inf"), 0.4, [])
        for f in np.arange(0.30, 0.5801, 0.02):
            boxes = []
            for k in mine:
                (tx, ty), (hx, hy), _, text = layer[k]
                boxes.append((hx + (tx - hx) * f, hy + (ty - hy) * f, *_tag_size(text)))
            clear = min((_clearance(a, b) for a in boxes for b in placed + boxes if a is not b),
                        default=float("inf"))
            if clear > best[0] + 1e-6:
                best = (clear, float(f), boxes)
        worst = min(worst, best[0])
        placed += best[2]
        for k in mine:
            fractions[k] = best[1]
    return fractions, worst


def _clearance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """How far apart two boxes (centre x, y, width, height) are; negative when they overlap."""
    return max(abs(a[0] - b[0]) - (a[2] + b[2]) / 2, abs(a[1] - b[1]) - (a[3] + b[3]) / 2)


def draw_network(model: Any, highlight_unit: tuple[int, int] | None = None, *,
                 show_weights: bool = False) -> Digraph:
    """An MLP as columns of units (inputs x₁ x₂ …, hidden h₁ …, outputs ŷ₁ …, each column
    in the units' order) with one edge per weight: blue positive, red negative, thicker for
    larger |w|, the value as tooltip (and written on the edge with `show_weights=True`). A
    node `1` under each column feeds the next layer's biases. `highlight_unit=(layer, j)` is
    unit j of `model.layers[layer]`'s output: its weights, its bias and every path from it to
    the output are drawn bold, the rest faded. The picture is the same with and without the
    Graphviz `dot` program."""
    layers = _linear_layers(model)
    Ws = [np.asarray(l.weight.data, dtype=np.float64) for l in layers]
    bs = [None if getattr(l, "bias", None) is None else np.asarray(l.bias.data, dtype=np.float64)
          for l in layers]
    sizes = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
    biased = [b is not None for b in bs]
    wmax = max(float(np.max(np.abs(W))) if W.size else 0.0 for W in Ws)
    wmax = max([wmax] + [float(np.max(np.abs(b))) for b in bs if b is not None and b.size])
    hl = _check_unit(highlight_unit, layers)
    grid = _Grid(sizes, biased, 190.0 if show_weights else 130.0, 54.0)
    tags: dict[tuple[int, str, int], float] = {}
    while show_weights:   # spread the rows until no two weight labels touch (or give up)
        tags, worst = {}, float("inf")
        for l, (W, b) in enumerate(zip(Ws, bs)):
            layer = [(tail, (l, key, j), grid.unit(l + 1, j), f"{w:.2g}")
                     for key, tail, j, w in _weights_of(grid, l, W, b)]
            fractions, clear = _place_tags([(t, h, j[2], text) for t, j, h, text in layer])
            worst = min(worst, clear)
            tags.update({key: f for (_, key, _, _), f in zip(layer, fractions)})
        if worst >= 1.0 or grid.dy >= 120.0:
            break
        grid = _Grid(sizes, biased, grid.dx, grid.dy * 1.15)
    width = grid.dx * (len(sizes) - 1) + 2 * _R
    height = 2 * grid.top + 2 * _R
    dot = pinned_digraph({"bb": f"{-_R:.1f},{-_R:.1f},{width - _R:.1f},{height - _R:.1f}",
                          "fontname": _FONT, "outputorder": "edgesfirst", "splines": "line",
                          "pad": "0.1"},
                         {"shape": "circle", "style": "filled", "fontname": _FONT,
                          "width": f"{2 * _R / 72:.3f}", "fixedsize": "true", "fontsize": "14"},
                         {"arrowsize": "0.6"})
    dot.engine = "neato"       # graphviz's own render keeps the pinned positions too
    fills = ["input"] + ["intermediate"] * (len(layers) - 1) + ["output"]
    for col, n in enumerate(sizes):
        for j in range(n):
            bold = hl is not None and (col, j) == (hl[0] + 1, hl[1])
            x, y = grid.unit(col, j)
            dot.node(f"u{col}_{j}", label=_unit_label(col, j, len(sizes)), pos=f"{x:.2f},{y:.2f}!",
                     fillcolor=ROLE_COLORS[fills[col]], penwidth="3" if bold else "1")
        if col < len(layers) and biased[col]:
            x, y = grid.bias(col)
            dot.node(f"b{col}", label="1", fillcolor="#f3f4f6", style="filled,dashed",
                     pos=f"{x:.2f},{y:.2f}!", tooltip=f"bias input of layers.{col}")
    for l, (W, b) in enumerate(zip(Ws, bs)):
        for key, tail, j, w in _weights_of(grid, l, W, b):
            i = key[1:]
            on = None if hl is None else (_on_path(hl, l, j, int(i)) if key[0] == "u"
                                          else (l, j) == hl)
            name = (f"layers.{l}.weight[{j}, {i}]" if key[0] == "u" else f"layers.{l}.bias[{j}]")
            _weight(dot, (f"{key[0]}{l}" + (f"_{i}" if key[0] == "u" else ""), tail),
                    (f"u{l + 1}_{j}", grid.unit(l + 1, j)), w, wmax, on,
                    tags.get((l, key, j)), name)
    return dot


def _weights_of(grid: _Grid, l: int, W: np.ndarray, b: np.ndarray | None
                ) -> list[tuple[str, tuple[float, float], int, float]]:
    """Layer `l`'s weights as (tail key "u<i>" or "b", tail position, head unit, value)."""
    out = []
    for j in range(W.shape[0]):
        out += [(f"u{i}", grid.unit(l, i), j, float(W[j, i])) for i in range(W.shape[1])]
        if b is not None:
            out.append(("b", grid.bias(l), j, float(b[j])))
    return out


def _weight(dot: Digraph, tail: tuple[str, tuple[float, float]],
            head: tuple[str, tuple[float, float]], w: float, wmax: float, on: bool | None,
            fraction: float | None, name: str) -> None:
    """One weight: a straight edge and, when `fraction` is given, its value in a small box
    on the edge (boxes hide the line under them, so the numbers stay readable)."""
    style = _edge_style(w, wmax, on)
    dot.edge(tail[0], head[0], pos=straight_edge(tail[1], head[1], _R, _R, _ARROW),
             edgetooltip=f"{name} = {w:.4g}", **style)
    if fraction is None:
        return
    (tx, ty), (hx, hy) = tail[1], head[1]
    x, y = hx + (tx - hx) * fraction, hy + (ty - hy) * fraction
    text = f"{w:.2g}"
    colour = style["color"]
    tw, th = _tag_size(text)
    dot.node(f"w_{tail[0]}_{head[0]}", label=text, shape="box", style="filled",
             fillcolor="#ffffff", color=colour, fontcolor=colour, fontsize="10", penwidth="0.6",
             width=f"{tw / 72:.3f}", height=f"{th / 72:.3f}", fixedsize="true", margin="0",
             pos=f"{x:.2f},{y:.2f}!", tooltip=f"{name} = {w:.4g}")


def _check_unit(unit: tuple[int, int] | None, layers: list[Any]) -> tuple[int, int] | None:
    if unit is None:
        return None
    layer, j = unit
    n = len(layers)
    if not -n <= layer < n:
        raise IndexError(f"draw_network: highlight_unit layer {layer} out of range for {n} layers")
    layer %= n
    units = layers[layer].weight.shape[0]
    if not -units <= j < units:
        raise IndexError(f"draw_network: highlight_unit index {j} out of range: layers.{layer} "
                         f"has {units} units")
    return layer, j % units


def _on_path(hl: tuple[int, int], l: int, j: int, i: int) -> bool:
    """Weight (layer l, row j, column i) is on the unit's path: its own incoming weights, its
    outgoing weights, and every weight after them (all lead to the output)."""
    hl_layer, hl_j = hl
    if l == hl_layer:
        return j == hl_j
    if l == hl_layer + 1:
        return i == hl_j
    return l > hl_layer + 1
