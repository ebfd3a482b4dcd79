"""Story 4 (seeds 002 and 003): backpropagation by hand versus by the engine.

* Seed 003's graph L = (x + y) z at x = -2, y = 5, z = -4: the engine's gradients are the hand
  ones, dL/dx = dL/dy = z = -4 and dL/dz = x + y = 3, and the picture shows every value and
  gradient.
* Seed 002's closed-form gradients of the 2-3-1 MLP with binary cross-entropy,
  dL/dw_m = (y^ - y) h, dL/db_m = y^ - y, dL/dW = ((y^ - y) w_m * (1 - h) * h) x^T,
  dL/db = (y^ - y) w_m * (1 - h) * h, printed next to the engine's.
* Seed 003's softmax + cross-entropy gradient softmax(z) - y on y^ = [0.2, 0.7, 0.1], y = [0, 1, 0].
* The MLP's op graph, its network diagram (seed 002's nn.png) and one unit's path (nn_single.png).
* Backprop step by step (`viz.explore`): pages to click through for (x + y) z and for the 2-3-1
  MLP, and (x + y) z as a quiz; `run_all.py` links them from its index (`PAGES`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import common
import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz
from tinygrad_mlp import functional as F

TITLE = "4. Backprop by hand vs by the engine"
# interactive pages `run` writes (not figures: the index links them)
PAGES = [
    ("backprop_xyz_explorer.html", "Backprop of L = (x + y) z step by step, as in seed 003: the "
     "chain rule at each op, upstream × local = contribution (← → keys)."),
    ("backprop_xyz_quiz.html", "The same graph as a quiz: type each gradient, the page checks it."),
    ("backprop_mlp_explorer.html", "Backprop of the 2-3-1 MLP's binary cross-entropy on one point, "
     "step by step: matrices, elementwise σ' and the linear layers' rules."),
]


def seed003() -> tuple[tg.Tensor, ...]:
    """Seed 003's graph L = (x + y) z at x = -2, y = 5, z = -4: (x, y, z, q, L), labelled."""
    x = tg.Tensor(-2.0, requires_grad=True, label="x")
    y = tg.Tensor(5.0, requires_grad=True, label="y")
    z = tg.Tensor(-4.0, requires_grad=True, label="z")
    q = x + y
    q.label = "q"
    L = q * z
    L.label = "L"
    return x, y, z, q, L


def xyz_graph(out: Path, res: common.Result) -> None:
    x, y, z, q, L = seed003()
    q.retain_grad()
    dot = viz.draw_graph(L)            # drawn before backward: gradients shown on every node
    L.backward()
    for name, t in [("x", x), ("y", y), ("z", z), ("q", q)]:
        res.note(f"dL/d{name}", t.grad.item())
    res.note("L", L.item())
    files = common.render_graph(dot, out, "backprop_xyz")
    res.add(files[0], f"Seed 003's graph L = (x + y) z with values and gradients: dL/dx = dL/dy = "
                      f"{x.grad.item():g}, dL/dz = {z.grad.item():g}.")


def closed_form(model: nn.MLP, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Seed 002's hand-derived gradients, in matrix form averaged over the batch (for one point
    this is exactly the seed's formulas)."""
    (W, b), (wm, bm) = [(lin.weight.data, lin.bias.data) for lin in model.layers]
    h = 1 / (1 + np.exp(-(X @ W.T + b)))                 # (n, 3)
    yhat = 1 / (1 + np.exp(-(h @ wm.T + bm)))            # (n, 1)
    d2 = (yhat - y.reshape(-1, 1)) / len(X)              # dL/ds2 = y^ - y (per point, averaged)
    d1 = (d2 @ wm) * (1 - h) * h                         # delta = (y^ - y) w_m * (1 - h) * h
    return {"layers.0.weight": d1.T @ X, "layers.0.bias": d1.sum(0),
            "layers.1.weight": d2.T @ h, "layers.1.bias": d2.sum(0)}


def engine_grads(model: nn.MLP, X: np.ndarray, y: np.ndarray) -> tuple[dict[str, np.ndarray], tg.Tensor]:
    model.zero_grad()
    loss = F.binary_cross_entropy(model(tg.Tensor(X, label="x")),
                                  tg.Tensor(y.reshape(-1, 1).astype(np.float64), label="y"))
    loss.label = "L"
    loss.backward(retain_graph=True)
    return {n: p.grad.numpy().copy() for n, p in model.named_parameters()}, loss


def mlp_gradients(out: Path, res: common.Result) -> tuple[nn.MLP, tg.Tensor]:
    model = nn.MLP([2, 3, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    x1, y1 = np.array([[0.3, -0.8]]), np.array([1])
    eng, loss = engine_grads(model, x1, y1)
    hand = closed_form(model, x1, y1)
    lines = [f"2-3-1 MLP, one point x = {x1[0].tolist()}, y = {y1[0]}: closed form (seed 002) vs engine"]
    for name in hand:
        lines.append(f"  {name:<16} closed form {np.array2string(hand[name].ravel(), precision=6)}")
        lines.append(f"  {'':<16} engine      {np.array2string(eng[name].ravel(), precision=6)}")
    worst_one = max(float(np.max(np.abs(hand[k] - eng[k]))) for k in hand)
    rng = np.random.default_rng(0)
    Xb, yb = rng.normal(size=(64, 2)), rng.integers(0, 2, 64)
    eng_b, _ = engine_grads(model, Xb, yb)
    hand_b = closed_form(model, Xb, yb)
    worst_batch = max(float(np.max(np.abs(hand_b[k] - eng_b[k]))) for k in hand_b)
    lines.append(f"max |closed form - engine|: one point {worst_one:.2e}, batch of 64 (mean loss) {worst_batch:.2e}")
    res.text.extend(lines)
    for line in lines:
        common.log("    " + line)
    (out / "backprop_mlp_gradients.txt").write_text("\n".join(lines) + "\n")
    res.note("2-3-1 closed form vs engine, max abs diff (one point)", worst_one)
    res.note("2-3-1 closed form vs engine, max abs diff (batch of 64)", worst_batch)
    res.add("backprop_mlp_gradients.txt", "Seed 002's closed-form gradients of the 2-3-1 MLP next to the engine's.")
    model.zero_grad()
    return model, loss


def softmax_ce(out: Path, res: common.Result) -> None:
    """softmax(z) - y on seed 003's example; z = log(y^) is a set of logits whose softmax is y^."""
    z = tg.Tensor(np.log([[0.2, 0.7, 0.1]]), requires_grad=True, label="z")
    loss = F.cross_entropy(z, np.array([1]))
    loss.label = "L"
    dot = viz.draw_graph(loss)
    loss.backward()
    res.note("softmax(z) - y", np.round(z.grad.numpy()[0], 12).tolist())
    files = common.render_graph(dot, out, "backprop_softmax_ce")
    res.add(files[0], f"Softmax + cross-entropy on seed 003's example: dL/dz = softmax(z) - y = "
                      f"{common.fmt(np.round(z.grad.numpy()[0], 12))}.")


def mlp_pictures(out: Path, res: common.Result, model: nn.MLP, loss: tg.Tensor) -> None:
    first = model.layers[0].weight
    files = common.render_graph(viz.draw_graph(loss, highlight=first), out, "backprop_mlp_graph")
    res.add(files[0], "The 2-3-1 MLP's op graph for one point, with every path from layers.0.weight to the loss in red.")
    files = common.render_graph(viz.draw_network(model), out, "nn")
    res.add(files[0], "The 2-3-1 MLP as a network (seed 002's nn.png): blue positive, red negative weights.")
    files = common.render_graph(viz.draw_network(model, highlight_unit=(0, 0)), out, "nn_single")
    res.add(files[0], "One hidden unit's path to the output (seed 002's nn_single.png): what dL/dw_1 depends on.")


def explorers(out: Path, mlp_loss: tg.Tensor) -> None:
    """The step-by-step pages (`PAGES`): seed 003's graph (also as a quiz) and the MLP's loss."""
    L = seed003()[-1]
    viz.explore(L).save(out / PAGES[0][0])
    viz.explore(L, quiz=True).save(out / PAGES[1][0])
    viz.explore(mlp_loss).save(out / PAGES[2][0])
    for name, _ in PAGES:
        common.log(f"    wrote {out / name}")


def run(out: Path, fast: bool = False) -> common.Result:
    res = common.Result(TITLE)
    xyz_graph(out, res)
    model, loss = mlp_gradients(out, res)
    softmax_ce(out, res)
    mlp_pictures(out, res, model, loss)
    explorers(out, loss)
    return res


if __name__ == "__main__":
    common.main(run)
