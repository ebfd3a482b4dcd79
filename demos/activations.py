"""Story 6 (seed 004): activation functions and their derivatives.

Each derivative is computed by the engine's autograd: y = f(x) on a grid of x, then
x.grad = d(sum y)/dx = f'(x) elementwise. The seed's formulas (sigma' = sigma(1 - sigma),
tanh' = 1 - tanh^2, ...) are used only to check the engine, never to draw.
The threshold's derivative is 0 wherever it exists: nothing flows back, which is why the seed
replaces it by the sigmoid.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

import common
import tinygrad_mlp as tg

TITLE = "6. Activations and their derivatives"


def threshold(x: tg.Tensor) -> tg.Tensor:
    """1 where x > 0 else 0, built from x so that autograd can (try to) differentiate it."""
    return tg.where(x > 0, x * 0 + 1, x * 0)


def _sig(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -x))


ACTIVATIONS: dict[str, tuple[Callable[[tg.Tensor], tg.Tensor], Callable[[np.ndarray], np.ndarray]]] = {
    # name: (engine function, the seed's derivative formula, for checking only)
    "threshold": (threshold, lambda x: np.zeros_like(x)),
    "sigmoid": (tg.sigmoid, lambda x: _sig(x) * (1 - _sig(x))),
    "tanh": (tg.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "ReLU": (tg.relu, lambda x: (x > 0).astype(float)),
    "leaky ReLU (0.1)": (lambda t: tg.leaky_relu(t, 0.1), lambda x: np.where(x > 0, 1.0, 0.1)),
    "softplus": (tg.softplus, _sig),
}


def value_and_derivative(f: Callable[[tg.Tensor], tg.Tensor], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(x) and f'(x) by one backward pass through sum(f(x))."""
    xt = tg.Tensor(x, requires_grad=True)
    y = f(xt)
    y.sum().backward()
    return y.numpy().copy(), xt.grad.numpy().copy()


def run(out: Path, fast: bool = False) -> common.Result:
    res = common.Result(TITLE)
    x = np.linspace(-4, 4, 201 if fast else 801)
    x = x[x != 0]                    # the kinks: no derivative there (threshold, ReLU, leaky ReLU)
    fig, axes = plt.subplots(2, 3, figsize=(12, 7), sharex=True)
    worst = 0.0
    for ax, (name, (f, formula)) in zip(axes.flat, ACTIVATIONS.items()):
        y, dy = value_and_derivative(f, x)
        worst = max(worst, float(np.max(np.abs(dy - formula(x)))))
        ax.plot(x, y, lw=2, label="f(x)")
        ax.plot(x, dy, lw=2, ls="--", label="f'(x) by autograd")
        ax.axhline(0, color="grey", lw=0.5)
        ax.axvline(0, color="grey", lw=0.5)
        ax.set_title(name + (" (f' = 0, undefined at 0)" if name == "threshold" else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    for ax in axes[1]:
        ax.set_xlabel("x")
    fig.suptitle("Activation functions (solid) and their derivatives computed by the engine (dashed)", fontsize=12)
    fig.tight_layout()
    res.note("max |autograd derivative - formula|", worst)
    res.add(common.save(fig, out, "activations.png"),
            f"Six activations and their derivatives by autograd (max deviation from the formulas {worst:.1e}).")
    return res


if __name__ == "__main__":
    common.main(run)
