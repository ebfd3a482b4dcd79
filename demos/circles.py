"""Story 2 (seed 002): the 2-3-1 MLP learns the concentric circles.

Three sigmoid hidden units are three linear classifiers learned together; the output unit is a
"meta classifier" on their outputs. Trained with binary cross-entropy, the hidden layer
h = sigma(Wx + b) maps the circles to a space where a plane separates them. With more hidden
units (5, 10, ..., 50) the polygon-like boundary approaches a circle.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import common
from tinygrad_mlp import datasets, nn, optim, plot

TITLE = "2. The 2-3-1 MLP on circles"
LR = 0.05


def fit_mlp(X: np.ndarray, y: np.ndarray, hidden: int, epochs: int, seed: int = 0) -> tuple[nn.MLP, list[float], float]:
    """A 2-hidden-1 sigmoid MLP (logit output), BCE, full-batch Adam. Returns model, losses, accuracy."""
    model = nn.MLP([2, hidden, 1], activation="sigmoid", rng=seed)
    losses = common.train(common.bce_loss(model, X, y), optim.Adam(model.parameters(), lr=LR), epochs)
    acc = common.accuracy(common.binary_predict(model)(X) >= 0.5, y)
    return model, losses, acc


def plot_projection(out: Path, model: nn.MLP, X: np.ndarray, y: np.ndarray) -> str:
    """Seed 002's picture: the data at h = sigma(Wx + b), with the output unit's plane."""
    ax = plot.hidden_space(model, X, y)
    ax.set_title(r"The data in the learned hidden space $h=\sigma(Wx+b)$" "\n"
                 r"and the output unit's plane $w_m^Th+b_m=0$")
    return common.save(ax.figure, out, "circles_projection.png")


def plot_hidden_lines(out: Path, model: nn.MLP, X: np.ndarray, y: np.ndarray) -> str:
    """The three hidden units' lines w_i·x + b_i = 0 over the data."""
    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    common.scatter_classes(ax, X, y)
    xx, yy, _ = common.grid_points(X)
    ax.set(xlim=(xx.min(), xx.max()), ylim=(yy.min(), yy.max()), xlabel="$x_1$", ylabel="$x_2$",
           title="The three hidden units are three linear classifiers")
    W, b = model.layers[0].weight.data, model.layers[0].bias.data
    for i, style in enumerate(["-", "--", ":"]):
        common.draw_line(ax, W[i], b[i], color="k", ls=style, lw=1.6, label=f"unit {i + 1}: $w_{i + 1}^Tx+b_{i + 1}=0$")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.9)
    return common.save(fig, out, "circles_hidden_classifiers.png")


def plot_boundary(out: Path, model: nn.MLP, X: np.ndarray, y: np.ndarray, acc: float) -> str:
    ax = plot.decision_boundary(model, X, y)
    ax.set_title(f"Decision boundary of the 2-3-1 MLP (accuracy {acc:.1%})")
    ax.legend(loc="upper right", fontsize=8)
    return common.save(ax.figure, out, "circles_decision_boundary.png")


def plot_loss(out: Path, losses: list[float]) -> str:
    ax = plot.loss_curve(losses)
    ax.set(xlabel="epoch (full batch)", ylabel="binary cross-entropy",
           title=f"Training loss of the 2-3-1 MLP (Adam, lr={LR})")
    return common.save(ax.figure, out, "circles_loss.png")


def plot_progression(out: Path, X: np.ndarray, y: np.ndarray, sizes: list[int], epochs: int) -> tuple[str, dict]:
    """Decision boundaries for a growing number of hidden units, in one grid figure."""
    cols = 5
    rows = -(-len(sizes) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 3.1 * rows), squeeze=False)
    accs = {}
    for ax, h in zip(axes.flat, sizes):
        model, _, acc = fit_mlp(X, y, h, epochs)
        accs[h] = acc
        plot.decision_boundary(model, X, y, ax=ax)
        ax.get_legend().remove()                      # ten small panels: no room for a legend
        ax.set_title(f"{h} hidden units, acc {acc:.0%}", fontsize=10)
        ax.set(xlabel="", ylabel="", xticks=[], yticks=[])
    for ax in axes.flat[len(sizes):]:
        ax.axis("off")
    fig.suptitle("More hidden units, a rounder boundary", fontsize=13)
    fig.tight_layout()
    return common.save(fig, out, "circles_progression.png"), accs


def run(out: Path, fast: bool = False) -> common.Result:
    res = common.Result(TITLE)
    X, y = datasets.circles(n=200, noise=0.05, factor=0.5, rng=0)
    epochs = 300 if fast else 1500
    model, losses, acc = fit_mlp(X, y, 3, epochs)
    res.note("2-3-1 epochs", epochs)
    res.note("2-3-1 final loss", losses[-1])
    res.note("2-3-1 accuracy", acc)
    res.add(plot_projection(out, model, X, y),
            "The circles in the learned hidden space sigma(Wx + b): a plane now separates them.")
    res.add(plot_hidden_lines(out, model, X, y), "The three hidden units' lines in the input space.")
    res.add(plot_boundary(out, model, X, y, acc), f"The 2-3-1 MLP's decision boundary (accuracy {acc:.1%}).")
    res.add(plot_loss(out, losses), f"Binary cross-entropy per epoch (final {losses[-1]:.4f}).")

    sizes = [5, 25, 50] if fast else list(range(5, 55, 5))
    name, accs = plot_progression(out, X, y, sizes, 200 if fast else 1000)
    res.note("progression accuracies", {h: round(a, 3) for h, a in accs.items()})
    res.add(name, "Decision boundaries for " + ", ".join(map(str, sizes)) + " hidden units.")
    return res


if __name__ == "__main__":
    common.main(run)
