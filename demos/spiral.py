"""Story 8 (seed 003): multi-class classification with ReLU and softmax.

Seed 003's network: x -> W1 x + b1 -> ReLU -> W2 . + b2 -> softmax -> cross-entropy, here on
the three-arm spiral, which no linear classifier can separate. The same network from the same
initial weights is trained with plain SGD, SGD with momentum and Adam, and the loss curves are
compared in one plot.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import common
import tinygrad_mlp as tg
from tinygrad_mlp import datasets, nn, optim, plot
from tinygrad_mlp import functional as F

TITLE = "8. Multi-class with ReLU and softmax"
HIDDEN = 64
OPTIMIZERS = {
    "SGD (lr 0.5)": lambda ps: optim.SGD(ps, lr=0.5),
    "SGD + momentum 0.9 (lr 0.1)": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "Adam (lr 0.02)": lambda ps: optim.Adam(ps, lr=0.02),
}


def fit(X: np.ndarray, y: np.ndarray, make_opt, epochs: int) -> tuple[nn.MLP, list[float], float]:
    model = nn.MLP([2, HIDDEN, 3], activation="relu", rng=0)
    Xt = tg.Tensor(X)
    losses = common.train(lambda: F.cross_entropy(model(Xt), y), make_opt(model.parameters()), epochs)
    with tg.no_grad():
        acc = common.accuracy(model(Xt).numpy().argmax(axis=1), y)
    return model, losses, acc


def run(out: Path, fast: bool = False) -> common.Result:
    res = common.Result(TITLE)
    X, y = datasets.spiral(n=300, classes=3)
    epochs = 300 if fast else 2000
    res.note("epochs", epochs)
    curves, models = {}, {}
    for name, make_opt in OPTIMIZERS.items():
        model, losses, acc = fit(X, y, make_opt, epochs)
        curves[name], models[name] = (losses, acc), model
        res.note(f"{name}: final loss", losses[-1])
        res.note(f"{name}: accuracy", acc)

    best = min(curves, key=lambda k: curves[k][0][-1])
    acc = curves[best][1]
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    plot.decision_boundary(models[best], X, y, ax=ax)
    ax.set_title(f"2-{HIDDEN}-3 ReLU MLP, {best}: accuracy {acc:.1%}")
    ax.legend(loc="upper right", fontsize=8)
    res.add(common.save(fig, out, "spiral_regions.png"),
            f"Decision regions on the spiral after softmax cross-entropy training with {best} (accuracy {acc:.1%}).")

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for name, (losses, a) in curves.items():
        plot.loss_curve(losses, ax=ax, label=f"{name}: final {losses[-1]:.3f}, accuracy {a:.1%}")
    ax.set(xlabel="epoch (full batch)", ylabel="cross-entropy",
           title="The same network and initial weights, three optimisers")
    ax.legend(fontsize=8)
    res.add(common.save(fig, out, "spiral_optimizers.png"),
            "Loss curves of SGD, SGD with momentum and Adam on the spiral, from the same initial weights.")
    return res


if __name__ == "__main__":
    common.main(run)
