"""Story 1 (seeds 000-002): a linear classifier and its limit.

Logistic regression, trained with the engine, separates two blobs with a line; on two concentric
circles the same model can do no better than a line; after the hand-made feature map
phi(x) = [x1^2, x2^2] the circles become linearly separable, and the line in phi-space is a
circle-like curve back in the input space.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import common
from tinygrad_mlp import datasets, nn, optim, plot

TITLE = "1. Linear classifiers and their limit"
BLOB_CENTERS = [[-1.5, -1.0], [1.5, 1.0]]     # close enough for a few noisy points to cross


def fit_logistic(X: np.ndarray, y: np.ndarray, epochs: int) -> tuple[nn.Linear, float]:
    """Logistic regression (one Linear unit, BCE on its logit), full-batch Adam.
    Returns the model and its training accuracy."""
    model = nn.Linear(2, 1, rng=0)
    common.train(common.bce_loss(model, X, y), optim.Adam(model.parameters(), lr=0.1), epochs)
    acc = common.accuracy(common.binary_predict(model)(X) >= 0.5, y)
    return model, acc


def line_of(model: nn.Linear) -> tuple[np.ndarray, float]:
    return model.weight.data[0].copy(), float(model.bias.data[0])


def phi(X: np.ndarray) -> np.ndarray:
    """The seed's feature map for concentric circles: [x1^2, x2^2]."""
    return X ** 2


def plot_linear(out: Path, name: str, model: nn.Linear, X: np.ndarray, y: np.ndarray,
                title: str) -> str:
    fig, ax = plt.subplots(figsize=(5, 5))
    plot.decision_boundary(model, X, y, ax=ax)
    ax.set_title(title)
    common.draw_line(ax, *line_of(model), color="k", lw=1.5, label="$w^Tx+b=0$")
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    return common.save(fig, out, name)


def plot_phi(out: Path, model: nn.Linear, X: np.ndarray, y: np.ndarray, acc: float) -> str:
    """Left: the data in phi-space with the learned line; right: the same classifier in the
    input space, where its boundary w1 x1^2 + w2 x2^2 + b = 0 is an ellipse."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.8))
    Z = phi(X)
    common.scatter_classes(a1, Z, y)
    a1.set(xlim=(Z[:, 0].min() - 0.1, Z[:, 0].max() + 0.1), ylim=(Z[:, 1].min() - 0.1, Z[:, 1].max() + 0.1),
           xlabel="$x_1^2$", ylabel="$x_2^2$", title=r"in $\phi$-space: a line separates them")
    common.draw_line(a1, *line_of(model), color="k", lw=1.5, label=r"$w^T\phi(x)+b=0$")
    a1.legend(loc="upper right", fontsize=8)
    plot.decision_boundary(lambda pts: model(phi(pts)), X, y, ax=a2)    # the model's logit at phi(x)
    a2.set_title(f"back in input space (accuracy {acc:.1%})")
    return common.save(fig, out, "linear_phi.png")


def run(out: Path, fast: bool = False) -> common.Result:
    res = common.Result(TITLE)
    epochs = 150 if fast else 500
    Xb, yb = datasets.blobs(n=200, centers=BLOB_CENTERS, std=1.0, rng=0)
    Xc, yc = datasets.circles(n=200, noise=0.05, factor=0.5, rng=0)

    model, acc = fit_logistic(Xb, yb, epochs)
    res.note("blobs accuracy", acc)
    res.add(plot_linear(out, "linear_blobs.png", model, Xb, yb, f"Two blobs: a line separates them (accuracy {acc:.1%})"),
            f"Logistic regression on two almost separable blobs: the learned line (accuracy {acc:.1%}).")

    model, acc = fit_logistic(Xc, yc, epochs)
    res.note("circles accuracy (linear)", acc)
    res.add(plot_linear(out, "linear_circles.png", model, Xc, yc, f"Concentric circles: no line can (accuracy {acc:.1%})"),
            f"The same model on concentric circles: no line separates them (accuracy {acc:.1%}).")

    model, acc = fit_logistic(phi(Xc), yc, epochs)
    res.note("circles accuracy after phi", acc)
    res.add(plot_phi(out, model, Xc, yc, acc),
            f"After phi(x) = [x1^2, x2^2] the circles are linearly separable (accuracy {acc:.1%}).")
    return res


if __name__ == "__main__":
    common.main(run)
