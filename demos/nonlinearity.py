"""Story 3 (seed 002's exercise): why the hidden layer needs a non-linearity.

Remove the sigmoid from the hidden units and the 2-3-1 MLP is w_m^T (W x + b) + b_m
= (w_m^T W) x + (w_m^T b + b_m): one linear classifier again, which fails on the circles. The
demo trains both networks the same way, draws both boundaries, and checks the collapse
numerically: the identity network equals the single line built from its own weights.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import common
import tinygrad_mlp as tg
from tinygrad_mlp import datasets, nn, optim, plot

TITLE = "3. Why the non-linearity"


def fit(X: np.ndarray, y: np.ndarray, activation: object, epochs: int) -> tuple[nn.MLP, float]:
    model = nn.MLP([2, 3, 1], activation=activation, rng=0)
    common.train(common.bce_loss(model, X, y), optim.Adam(model.parameters(), lr=0.05), epochs)
    return model, common.accuracy(common.binary_predict(model)(X) >= 0.5, y)


def collapse_error(model: nn.MLP, X: np.ndarray) -> float:
    """max |f(x) - (w_eff·x + b_eff)| for the identity-activation network, where
    w_eff = w_m W and b_eff = w_m b + b_m come from its own weights."""
    (W, b), (wm, bm) = [(lin.weight.data, lin.bias.data) for lin in model.layers]
    w_eff, b_eff = wm @ W, wm @ b + bm
    with tg.no_grad():
        f = model(tg.Tensor(X)).numpy()
    return float(np.max(np.abs(f - (X @ w_eff.T + b_eff))))


def run(out: Path, fast: bool = False) -> common.Result:
    res = common.Result(TITLE)
    X, y = datasets.circles(n=200, noise=0.05, factor=0.5, rng=0)
    epochs = 300 if fast else 1500
    lin_model, lin_acc = fit(X, y, nn.Identity(), epochs)
    sig_model, sig_acc = fit(X, y, "sigmoid", epochs)
    err = collapse_error(lin_model, X)
    res.note("identity-activation accuracy", lin_acc)
    res.note("sigmoid accuracy", sig_acc)
    res.note("identity net minus its collapsed line, max abs", err)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 5))
    plot.decision_boundary(lin_model, X, y, ax=a1)
    a1.set_title(f"identity activations: a line (accuracy {lin_acc:.1%})")
    a1.get_legend().remove()                          # one legend for both panels
    plot.decision_boundary(sig_model, X, y, ax=a2)
    a2.set_title(f"sigmoid activations (accuracy {sig_acc:.1%})")
    a2.legend(loc="upper right", fontsize=8)
    fig.suptitle("The same 2-3-1 network, trained the same way", fontsize=13)
    res.add(common.save(fig, out, "nonlinearity.png"),
            f"Without a non-linearity the 2-3-1 MLP is a linear classifier ({lin_acc:.1%}); "
            f"with sigmoids it solves the circles ({sig_acc:.1%}).")
    return res


if __name__ == "__main__":
    common.main(run)
