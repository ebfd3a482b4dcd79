"""Shared helpers for the demos: results, figure saving, the few drawings `tinygrad_mlp.plot`
does not make (points with a line, a grid for animations), training.

Every demo module exposes `run(out: Path, fast: bool = False) -> Result` and ends with
`if __name__ == "__main__": common.main(run)`, so it runs alone or from `run_all.py`.
Plotting uses matplotlib's Agg backend (no display needed).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_mlp as tg  # noqa: E402
from tinygrad_mlp.plot import CLASS_COLORS  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "out"
DPI = 110


# ---------------------------------------------------------------- results
@dataclass
class Figure:
    """One produced file and the one-line caption the index shows under it."""
    file: str
    caption: str


@dataclass
class Result:
    """What a demo produced: its figures, its key numbers, and lines of text worth printing."""
    title: str
    figures: list[Figure] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, file: str, caption: str) -> None:
        self.figures.append(Figure(file, caption))

    def note(self, key: str, value: Any) -> None:
        """Record a key number and print it as progress."""
        self.numbers[key] = value
        log(f"    {key}: {fmt(value)}")


def fmt(value: Any) -> str:
    """Numbers as a reader wants them: floats with 4 significant digits, arrays as lists."""
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return f"{v:.4g}" if 1e-3 <= abs(v) < 1e5 or v == 0 else f"{v:.3e}"
    if isinstance(value, np.ndarray):
        return fmt(value.tolist())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def log(msg: str) -> None:
    print(msg, flush=True)


def main(run: Callable[[Path, bool], Result], argv: Sequence[str] | None = None) -> Result:
    """Command line of a single demo: `python demos/<name>.py [--out DIR] [--fast]`."""
    args = parse_args(argv)
    return run_one(run, args.out, args.fast)


def parse_args(argv: Sequence[str] | None, prog: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description="Run tinygrad_mlp demos and write their figures.")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the figures (default demos/out)")
    p.add_argument("--fast", action="store_true", help="shrink the work (for tests); results are smaller")
    return p.parse_args(argv)


def run_one(run: Callable[[Path, bool], Result], out: Path, fast: bool) -> Result:
    """Run one demo into `out`, timing it, and print what it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = run(out, fast)
    result.seconds = time.perf_counter() - start
    for f in result.figures:
        log(f"    wrote {out / f.file}")
    log(f"  done in {result.seconds:.1f} s")
    return result


# ---------------------------------------------------------------- figures
def save(fig: plt.Figure, out: Path, name: str) -> str:
    """Save a matplotlib figure as PNG into `out`, close it, return the file name."""
    fig.savefig(out / name, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return name


def render_graph(dot: Any, out: Path, stem: str) -> list[str]:
    """Render a graphviz Digraph to SVG with `viz.render` (works without the `dot` program),
    plus a PNG when `dot` is installed. Returns the file names written."""
    from tinygrad_mlp import viz
    files = [Path(viz.render(dot, out / f"{stem}.svg", format="svg")).name]
    if shutil.which("dot"):
        files.append(Path(viz.render(dot, out / f"{stem}.png", format="png")).name)
    return files


def scatter_classes(ax: plt.Axes, X: np.ndarray, y: np.ndarray, size: float = 18, **kw: Any) -> None:
    """Data points coloured by class (the colours of `tinygrad_mlp.plot`), a legend entry each."""
    for c in np.unique(y):
        m = y == c
        ax.scatter(X[m, 0], X[m, 1], s=size, c=CLASS_COLORS[int(c)], edgecolors="k",
                   linewidths=0.4, label=f"class {int(c)}", zorder=3, **kw)


def grid_points(X: np.ndarray, n: int = 200, pad: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A regular n-by-n grid around the data: (xx, yy, points of shape (n*n, 2))."""
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    return xx, yy, np.c_[xx.ravel(), yy.ravel()]


def draw_line(ax: plt.Axes, w: np.ndarray, b: float, label: str | None = None, **kw: Any) -> None:
    """The line w·x + b = 0 across the axes' current limits (vertical lines too)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    if abs(w[1]) >= abs(w[0]):
        xs = np.array([x0, x1])
        ys = -(w[0] * xs + b) / w[1]
    else:
        ys = np.array([y0, y1])
        xs = -(w[1] * ys + b) / w[0]
    ax.plot(xs, ys, label=label, **kw)
    ax.set(xlim=(x0, x1), ylim=(y0, y1))


# ---------------------------------------------------------------- training
def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred).reshape(-1) == np.asarray(y).reshape(-1)))


def binary_predict(model: Callable[[tg.Tensor], tg.Tensor]) -> Callable[[np.ndarray], np.ndarray]:
    """P(class 1) of a model whose single output is a logit, as a function of raw points."""
    def predict(pts: np.ndarray) -> np.ndarray:
        with tg.no_grad():
            return model(tg.Tensor(pts)).sigmoid().numpy().reshape(-1)
    return predict


def train(loss_fn: Callable[[], tg.Tensor], optimizer: Any, epochs: int,
          every: int = 0, on_epoch: Callable[[int], None] | None = None) -> list[float]:
    """Full-batch training: each epoch zero_grad, loss, backward, step. Returns the loss per
    epoch. `on_epoch(e)` runs before update e when `every` divides e (snapshots, animations).
    The step is compiled (`tg.compile`): traced once, then replayed as flat NumPy, with the
    same numbers as eager training, bit for bit."""
    @tg.compile
    def step() -> tg.Tensor:
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        return loss

    losses = []
    for e in range(epochs):
        if on_epoch is not None and every and e % every == 0:
            on_epoch(e)
        losses.append(step().item())
    return losses


def bce_loss(model: Callable[[tg.Tensor], tg.Tensor], X: np.ndarray, y: np.ndarray) -> Callable[[], tg.Tensor]:
    """Mean binary cross-entropy of a logit-output model on (X, y), as a closure for `train`."""
    from tinygrad_mlp import functional as F
    Xt, yt = tg.Tensor(X), tg.Tensor(y.reshape(-1, 1).astype(np.float64))
    return lambda: F.binary_cross_entropy_with_logits(model(Xt), yt)


if __name__ == "__main__":
    sys.exit("common.py holds helpers; run a demo or run_all.py")
