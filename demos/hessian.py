"""Story 9 (beyond the seeds): second derivatives by double backward.

`tg.grad(loss, params, create_graph=True)` records the backward pass itself, so each entry of
the gradient is again a Tensor that can be differentiated: one more backward per entry gives
one row of the Hessian of the loss with respect to all parameters. The result is compared with
finite differences of the loss alone (no autograd involved):
H_ij ~ [L(+i+j) - L(+i-j) - L(-i+j) + L(-i-j)] / (4 h^2).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize, SymLogNorm

import common
import tinygrad_mlp as tg
from tinygrad_mlp import datasets, nn
from tinygrad_mlp import functional as F

TITLE = "9. Second derivatives"
H_STEP = 1e-4


def tiny_problem() -> tuple[nn.MLP, tg.Tensor, tg.Tensor]:
    """A 2-2-1 tanh network and its mean squared error on XOR: 9 parameters."""
    X, t = datasets.xor()
    model = nn.MLP([2, 2, 1], activation="tanh", rng=1)
    return model, tg.Tensor(X.astype(np.float64)), tg.Tensor(t.reshape(-1, 1).astype(np.float64))


def hessian_double_backward(model: nn.MLP, X: tg.Tensor, t: tg.Tensor) -> np.ndarray:
    params = list(model.parameters())
    loss = F.mse_loss(model(X), t)
    grads = tg.grad(loss, params, create_graph=True)
    flat = tg.concatenate([g.reshape(-1) for g in grads])
    rows = []
    for i in range(flat.shape[0]):
        row = tg.grad(flat[i], params, retain_graph=True)
        rows.append(np.concatenate([r.numpy().ravel() for r in row]))
    return np.array(rows)


def hessian_finite_differences(model: nn.MLP, X: tg.Tensor, t: tg.Tensor, h: float = H_STEP) -> np.ndarray:
    params = list(model.parameters())
    theta0 = np.concatenate([p.data.ravel() for p in params])

    def loss_at(theta: np.ndarray) -> float:
        start = 0
        for p in params:
            p.data[...] = theta[start:start + p.size].reshape(p.shape)
            start += p.size
        with tg.no_grad():
            return F.mse_loss(model(X), t).item()

    n = theta0.size
    H = np.empty((n, n))
    E = np.eye(n) * h
    for i in range(n):
        for j in range(n):
            H[i, j] = (loss_at(theta0 + E[i] + E[j]) - loss_at(theta0 + E[i] - E[j])
                       - loss_at(theta0 - E[i] + E[j]) + loss_at(theta0 - E[i] - E[j])) / (4 * h * h)
    loss_at(theta0)                   # put the weights back
    return H


def param_labels(model: nn.MLP) -> list[str]:
    return [f"{name}[{','.join(map(str, idx))}]" for name, p in model.named_parameters()
            for idx in np.ndindex(p.shape)]


def run(out: Path, fast: bool = False) -> common.Result:
    res = common.Result(TITLE)
    model, X, t = tiny_problem()
    H_ad = hessian_double_backward(model, X, t)
    H_fd = hessian_finite_differences(model, X, t)
    diff = np.abs(H_ad - H_fd)
    res.note("parameters", H_ad.shape[0])
    res.note("max |H_double_backward - H_finite_diff|", float(diff.max()))
    res.note("max |H - H^T| (double backward)", float(np.abs(H_ad - H_ad.T).max()))
    res.note("Hessian eigenvalues", np.round(np.linalg.eigvalsh((H_ad + H_ad.T) / 2), 4))

    labels = param_labels(model)
    vmax = np.abs(H_ad).max()
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.2))
    signed = SymLogNorm(linthresh=1e-2, vmin=-vmax, vmax=vmax)   # small entries stay visible
    panels = [(H_ad, "double backward (create_graph=True)", "RdBu_r", signed),
              (H_fd, f"finite differences of the loss (h = {H_STEP:g})", "RdBu_r", signed),
              (diff, f"|difference|, max {diff.max():.1e}", "viridis", Normalize(0, diff.max()))]
    for ax, (M, title, cmap, norm) in zip(axes, panels):
        im = ax.imshow(M, cmap=cmap, norm=norm)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.set_title(title, fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("Hessian of the MSE loss of a 2-2-1 tanh network on XOR", fontsize=12)
    fig.tight_layout()
    res.add(common.save(fig, out, "hessian.png"),
            f"The {H_ad.shape[0]}x{H_ad.shape[0]} Hessian by double backward matches finite differences "
            f"(max difference {diff.max():.1e}).")
    return res


if __name__ == "__main__":
    common.main(run)
