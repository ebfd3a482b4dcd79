"""Story 5 (seed 004): XOR and AND with a 2-2-1 sigmoid MLP, exactly as the seed trains them.

Seed 004's recipe: weights uniform in +-1/sqrt(fan_in) drawn by `np.random.seed(s); np.random.rand`
as one (fan_in + 1, fan_out) matrix per layer whose first row multiplies a bias input of -1;
sigmoid everywhere; error E = 1/2 sum (y - t)^2 averaged over the four examples; full-batch
gradient descent with lr = 1 for 5001 epochs (XOR with seed 0, AND with seed 27). We copy those
initial weights into an `nn.MLP` and let the engine do the rest, so the final error can be
compared with the seed's printed `Error` (sum (y - t)^2 / N, before the last update).
The decision boundary is animated every 50 epochs, as in the seed.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import PillowWriter

import common
import tinygrad_mlp as tg
from tinygrad_mlp import datasets, nn, optim, plot
from tinygrad_mlp import functional as F

TITLE = "5. XOR and AND"
EPOCHS = 5001
GIF_DPI = 80
SEED_ERROR = {"XOR": 0.008145708816099705, "AND": 0.0004818608199957538}   # printed by seed 004
SEED_RANDOM_STATE = {"XOR": 0, "AND": 27}


def seed_mlp(sizes: list[int], random_state: int) -> nn.MLP:
    """An nn.MLP holding seed 004's initial weights (its bias row times input -1 becomes -bias)."""
    model = nn.MLP(sizes, activation="sigmoid", output_activation="sigmoid")
    rs = np.random.RandomState(random_state)          # same stream as np.random.seed + rand
    for lin, (n_in, n_out) in zip(model.layers, zip(sizes[:-1], sizes[1:])):
        W = rs.rand(n_in + 1, n_out) * (2 / np.sqrt(n_in)) - 1 / np.sqrt(n_in)
        lin.weight.data[...] = W[1:].T
        lin.bias.data[...] = -W[0]
    return model


def confmat(model: nn.MLP, X: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Seed 004's confusion matrix layout: [[tp, fp], [fn, tn]]."""
    with tg.no_grad():
        p = (model(tg.Tensor(X)).numpy().reshape(-1) > 0.5).astype(int)
    tp, tn = np.sum((t == 1) & (p == 1)), np.sum((t == 0) & (p == 0))
    fp, fn = np.sum((t == 0) & (p == 1)), np.sum((t == 1) & (p == 0))
    return np.array([[tp, fp], [fn, tn]])


def train_seed(X: np.ndarray, t: np.ndarray, random_state: int, epochs: int,
               snapshot_every: int = 0) -> tuple[nn.MLP, list[float], list[tuple[int, dict]]]:
    """Train as the seed does. Returns the model, the seed's Error per epoch (sum (y-t)^2 / N,
    i.e. twice our loss 1/2 mean (y-t)^2) and weight snapshots every `snapshot_every` epochs."""
    model = seed_mlp([2, 2, 1], random_state)
    Xt, Tt = tg.Tensor(X.astype(np.float64)), tg.Tensor(t.reshape(-1, 1).astype(np.float64))
    snaps: list[tuple[int, dict]] = []
    losses = common.train(lambda: 0.5 * F.mse_loss(model(Xt), Tt), optim.SGD(model.parameters(), lr=1.0),
                          epochs, every=snapshot_every,
                          on_epoch=lambda e: snaps.append((e, {k: v.copy() for k, v in model.state_dict().items()})))
    return model, [2 * loss for loss in losses], snaps


def prob_fn(model: nn.MLP):
    def predict(pts: np.ndarray) -> np.ndarray:
        with tg.no_grad():
            return model(tg.Tensor(pts)).numpy().reshape(-1)
    return predict


def plot_boundaries(out: Path, runs: dict) -> str:
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 5))
    for ax, (name, (model, X, t, err, cm)) in zip(axes, runs.items()):
        plot.decision_boundary(model, X, t, ax=ax)    # sigmoid output: boundary at 0.5
        ax.set_title(f"{name}: error {err:.3g}, confusion {cm.tolist()}", fontsize=10)
        ax.legend(loc="center", fontsize=8, markerscale=0.4)
    fig.suptitle(f"2-2-1 sigmoid MLPs after {EPOCHS} epochs of gradient descent (lr = 1)", fontsize=12)
    return common.save(fig, out, "xor_and_boundary.png")


def animate(out: Path, X: np.ndarray, t: np.ndarray, snaps: list, errors: list[float]) -> str:
    """GIF of XOR's decision boundary at each snapshot (probability shaded, 0.5 level drawn),
    written with matplotlib's PillowWriter, one figure redraw per frame."""
    model = seed_mlp([2, 2, 1], 0)
    xx, yy, pts = common.grid_points(X, n=80, pad=0.1)
    fig, ax = plt.subplots(figsize=(3.6, 3.6), dpi=GIF_DPI)
    img = ax.imshow(np.zeros(xx.shape), origin="lower", extent=(xx.min(), xx.max(), yy.min(), yy.max()),
                    cmap="RdBu_r", vmin=0, vmax=1, alpha=0.6)
    common.scatter_classes(ax, X, t, size=110)
    ax.set(xticks=[0, 1], yticks=[0, 1], xlabel="input 1", ylabel="input 2")
    ax.set_title("XOR, epoch 0: error 0.0000", fontsize=9)     # reserve the title's room
    fig.tight_layout()
    fig.set_layout_engine("none")      # laid out once: each frame is then a single redraw
    writer = PillowWriter(fps=12)
    with writer.saving(fig, out / "xor_training.gif", dpi=GIF_DPI):
        for epoch, state in snaps:
            model.load_state_dict(state)
            p = prob_fn(model)(pts).reshape(xx.shape)
            img.set_data(p)
            boundary = ax.contour(xx, yy, p, levels=[0.5], colors="k", linewidths=1.2) \
                if p.min() < 0.5 < p.max() else None
            ax.set_title(f"XOR, epoch {epoch}: error {errors[epoch]:.4f}", fontsize=9)
            writer.grab_frame()
            if boundary is not None:
                boundary.remove()
    plt.close(fig)
    return "xor_training.gif"


def run(out: Path, fast: bool = False) -> common.Result:
    res = common.Result(TITLE)
    every = 500 if fast else 50
    data = {"XOR": datasets.xor(), "AND": datasets.logical_and()}
    runs, xor_snaps, xor_errors = {}, [], []
    for name, (X, t) in data.items():
        model, errors, snaps = train_seed(X, t, SEED_RANDOM_STATE[name], EPOCHS,
                                          snapshot_every=every if name == "XOR" else 0)
        cm = confmat(model, X, t)
        runs[name] = (model, X, t, errors[-1], cm)
        res.note(f"{name} final error", errors[-1])
        res.note(f"{name} seed 004 error", SEED_ERROR[name])
        res.note(f"{name} confusion [[tp, fp], [fn, tn]]", cm.tolist())
        res.text.append(f"{name}: Error {errors[-1]!r} (seed 004 printed {SEED_ERROR[name]!r}), "
                        f"confusion matrix {cm.tolist()}")
        if name == "XOR":
            xor_snaps, xor_errors = snaps, errors
    res.add(plot_boundaries(out, runs),
            f"XOR and AND learned by 2-2-1 sigmoid MLPs (errors {runs['XOR'][3]:.4g} and {runs['AND'][3]:.4g}).")
    X, t = data["XOR"]
    res.add(animate(out, X, t, xor_snaps, xor_errors),
            f"XOR's decision boundary during training, one frame every {every} epochs.")
    return res


if __name__ == "__main__":
    common.main(run)
