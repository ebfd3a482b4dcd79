"""The network picture: an MLP as columns of units and one weighted edge per weight."""
from __future__ import annotations

from typing import Any

import numpy as np

from .graph import _FONT, ROLE_COLORS
from .rendering import Digraph

__all__ = ["draw_network"]


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
    """x_j for inputs, h_j (h_j^(l) with several hidden layers) for hidden units, ŷ_j last."""
    if col == 0:
        return f"<x<sub>{j + 1}</sub>>"
    if col == n_cols - 1:
        return f"<ŷ<sub>{j + 1}</sub>>"
    sup = f"<sup>({col})</sup>" if n_cols > 3 else ""
    return f"<h<sub>{j + 1}</sub>{sup}>"


def _edge_style(w: float, wmax: float, on_path: bool | None, show: bool) -> dict[str, str]:
    colour = "#2563eb" if w > 0 else "#dc2626" if w < 0 else "#9ca3af"
    width = 0.6 + 3.4 * abs(w) / wmax if wmax > 0 else 1.0
    attrs = {"color": colour, "penwidth": f"{width:.2f}", "tooltip": f"{w:.4g}"}
    if on_path is True:
        attrs.update(style="bold", penwidth=f"{width + 2.5:.2f}")
    elif on_path is False:
        attrs["color"] = colour + "40"      # faded: off the highlighted path
    if show:
        attrs.update(label=f"{w:.2g}", fontsize="9", fontcolor=colour)
    return attrs


def draw_network(model: Any, highlight_unit: tuple[int, int] | None = None, *,
                 show_weights: bool = False) -> Digraph:
    """An MLP as columns of units (inputs x, hidden h, outputs ŷ) with one edge per weight:
    blue positive, red negative, thicker for larger |w|, the value as tooltip (and as an edge
    label with `show_weights=True`). A node `1` per layer feeds
    the biases. `highlight_unit=(layer, j)` is unit j of `model.layers[layer]`'s output: its
    weights, its bias and every path from it to the output are drawn bold, the rest faded."""
    layers = _linear_layers(model)
    Ws = [np.asarray(l.weight.data, dtype=np.float64) for l in layers]
    bs = [None if getattr(l, "bias", None) is None else np.asarray(l.bias.data, dtype=np.float64)
          for l in layers]
    sizes = [Ws[0].shape[1]] + [W.shape[0] for W in Ws]
    wmax = max(float(np.max(np.abs(W))) if W.size else 0.0 for W in Ws)
    wmax = max([wmax] + [float(np.max(np.abs(b))) for b in bs if b is not None and b.size])
    hl = _check_unit(highlight_unit, layers)
    dot = Digraph(graph_attr={"rankdir": "LR", "splines": "line", "nodesep": "0.35", "ordering": "out",
                              "ranksep": "1.3", "fontname": _FONT},
                  node_attr={"shape": "circle", "style": "filled", "fontname": _FONT,
                             "width": "0.5", "fixedsize": "true"},
                  edge_attr={"arrowsize": "0.6"})
    fills = ["input"] + ["intermediate"] * (len(layers) - 1) + ["output"]
    for col, n in enumerate(sizes):
        with dot.subgraph(name=f"col{col}") as c:
            c.attr(rank="same")
            for j in range(n):
                bold = hl is not None and (col, j) == (hl[0] + 1, hl[1])
                c.node(f"u{col}_{j}", label=_unit_label(col, j, len(sizes)),
                       fillcolor=ROLE_COLORS[fills[col]], penwidth="3" if bold else "1")
            if col < len(layers) and bs[col] is not None:
                c.node(f"b{col}", label="1", fillcolor="#f3f4f6", style="filled,dashed",
                       tooltip=f"bias input of layers.{col}")
    for l, (W, b) in enumerate(zip(Ws, bs)):
        for j in range(W.shape[0]):
            for i in range(W.shape[1]):
                on = None if hl is None else _on_path(hl, l, j, i)
                dot.edge(f"u{l}_{i}", f"u{l + 1}_{j}", **_edge_style(W[j, i], wmax, on, show_weights),
                         edgetooltip=f"layers.{l}.weight[{j}, {i}] = {W[j, i]:.4g}")
            if b is not None:
                on = None if hl is None else (l, j) == hl
                dot.edge(f"b{l}", f"u{l + 1}_{j}", **_edge_style(b[j], wmax, on, show_weights),
                         edgetooltip=f"layers.{l}.bias[{j}] = {b[j]:.4g}")
    return dot


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
