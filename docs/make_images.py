"""Regenerate the pictures used by the README's "Seeing the graph" section and
docs/seeing_the_graph.md.

    python docs/make_images.py      (SVG always; PNG and the GIF too when the Graphviz dot
                                     program exists)
"""
import os
import shutil

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz
from tinygrad_mlp import functional as F

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")


def seed003() -> tg.Tensor:
    """f = (x + y) * z at x=-2, y=5, z=-4, after backward(retain_graph=True)."""
    x = tg.Tensor(-2.0, requires_grad=True, label="x")
    y = tg.Tensor(5.0, requires_grad=True, label="y")
    z = tg.Tensor(-4.0, requires_grad=True, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward(retain_graph=True)
    return f


def operands() -> tg.Tensor:
    """a·a − 2/a: an operand used twice, an order that matters, a constant."""
    a = tg.Tensor(3.0, requires_grad=True, label="a")
    b = a * a - 2 / a
    b.label = "b"
    return b


def mlp() -> tuple[nn.MLP, tg.Tensor]:
    X, y = tg.datasets.xor()
    model = nn.MLP([2, 3, 1], rng=0)
    loss = F.binary_cross_entropy_with_logits(model(tg.Tensor(X, label="X")),
                                              np.asarray(y, dtype=np.float64).reshape(-1, 1))
    loss.label = "loss"
    return model, loss


def save(dot, name: str) -> None:
    for fmt in ("svg", "png") if shutil.which("dot") else ("svg",):
        print(viz.render(dot, os.path.join(HERE, f"{name}.{fmt}")))


def main() -> None:
    save(viz.draw_graph(seed003()), "seed003_graph")
    save(viz.draw_graph(operands(), legend=True), "operands_graph")
    model, loss = mlp()
    save(viz.draw_graph(loss, model=model, highlight=model.layers[0].weight), "mlp_graph")
    save(viz.draw_graph(loss, model=model, collapse_modules=True), "mlp_graph_collapsed")
    save(viz.draw_network(model, highlight_unit=(0, 0)), "mlp_network")
    save(viz.draw_network(model, show_weights=True), "mlp_network_weights")
    steps = viz.explore(seed003())
    save(steps.frames[1], "seed003_step1")
    print(steps.save(os.path.join(HERE, "seed003_explorer.html")))
    if shutil.which("dot"):
        print(steps.save_gif(os.path.join(HERE, "seed003_steps.gif"), seconds_per_frame=2.0))


if __name__ == "__main__":
    main()
