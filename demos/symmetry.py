"""Story 7 (seed 003): initialisation and symmetry.

If every hidden unit starts with the same weights, every unit computes the same output, receives
the same gradient and takes the same step: they stay identical for ever, and the 2-3-1 network
is no better than a 2-1-1 one. Random initialisation breaks the symmetry. The demo trains both
on the circles, records each hidden unit's (w1, w2, b) every few epochs, and measures how far
apart the units ever get.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import common
from tinygrad_mlp import datasets, nn, optim, plot

TITLE = "7. Initialisation and symmetry"
CONSTANT = 0.5


def make(init: str) -> nn.MLP:
    model = nn.MLP([2, 3, 1], activation="sigmoid", rng=0)
    if init == "constant":
        for p in model.parameters():
            p.data[...] = CONSTANT
    return model


def fit(X: np.ndarray, y: np.ndarray, model: nn.MLP, epochs: int, every: int) -> tuple[np.ndarray, float]:
    """Train; return the hidden units' [w1, w2, b] at every `every` epochs, shape (T, units, 3)."""
    hidden = model.layers[0]
    trace: list[np.ndarray] = []
    common.train(common.bce_loss(model, X, y), optim.Adam(model.parameters(), lr=0.05), epochs + 1, every=every,
                 on_epoch=lambda e: trace.append(np.c_[hidden.weight.data, hidden.bias.data].copy()))
    return np.array(trace), common.accuracy(common.binary_predict(model)(X) >= 0.5, y)


def unit_spread(trace: np.ndarray) -> float:
    """Largest difference, over time and parameters, between any hidden unit and unit 1."""
    return float(np.max(np.abs(trace - trace[:, :1, :])))


def plot_trace(ax: plt.Axes, trace: np.ndarray, every: int, title: str) -> None:
    t = np.arange(len(trace)) * every
    styles = [dict(lw=4, alpha=0.35), dict(lw=1.8, ls="--"), dict(lw=1.2, ls=":")]
    colors = ["#1f77b4", "#d62728", "#2ca02c"]
    for u in range(trace.shape[1]):
        for k, pname in enumerate(["$w_1$", "$w_2$", "$b$"]):
            ax.plot(t, trace[:, u, k], color=colors[k], label=f"unit {u + 1} {pname}", **styles[u])
    ax.set(xlabel="epoch", ylabel="hidden-unit parameter", title=title)
    ax.grid(alpha=0.3)


def run(out: Path, fast: bool = False) -> common.Result:
    res = common.Result(TITLE)
    X, y = datasets.circles(n=200, noise=0.05, factor=0.5, rng=0)
    epochs, every = (300, 10) if fast else (1500, 25)
    fig, axes = plt.subplots(2, 2, figsize=(11, 10), gridspec_kw=dict(height_ratios=[1, 1.1]))
    for col, init in enumerate(["constant", "random"]):
        model = make(init)
        trace, acc = fit(X, y, model, epochs, every)
        spread = unit_spread(trace)
        res.note(f"{init} init: max difference between hidden units", spread)
        res.note(f"{init} init: accuracy", acc)
        label = f"all weights = {CONSTANT}" if init == "constant" else "random (uniform) weights"
        plot_trace(axes[0, col], trace, every, f"{label}: max |unit k - unit 1| = {spread:.3g}")
        plot.decision_boundary(model, X, y, ax=axes[1, col])
        axes[1, col].set_title(f"{init} init: accuracy {acc:.1%}")
    axes[0, 0].legend(fontsize=7, ncol=3, loc="best")
    fig.suptitle("Hidden units of a 2-3-1 MLP during training: equal weights stay equal", fontsize=13)
    fig.tight_layout()
    res.add(common.save(fig, out, "symmetry.png"),
            "Equal initial weights keep the three hidden units identical (top left); random ones break the symmetry.")
    return res


if __name__ == "__main__":
    common.main(run)
