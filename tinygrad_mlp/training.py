"""`fit`: the training loop every tutorial writes, once (zero_grad, forward, loss, backward,
step, per mini-batch), with a progress bar, returning the loss history.

The bar is tqdm's, imported only when one is shown: `import tinygrad_mlp` needs only NumPy, and
`fit` trains the same without tqdm installed (no bar then)."""
from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from typing import Any, Callable, Iterable, TextIO

import numpy as np

from .datasets import batches
from .init import generator
from .nn import Module
from .optim import Optimizer

# At most 4 redraws a second: one write per epoch made a fast loop up to several times slower.
REFRESH_SECONDS = 0.25
BAR_FORMAT = "{desc} {n_fmt}/{total_fmt} |{bar}| [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


class History(Sequence):
    """What `fit` returns: `loss[e]` is the mean training loss of epoch e. It behaves as that
    list (len, indexing, iteration, `==` with a list of floats, `np.asarray`), so code written
    when `fit` returned a plain list keeps working."""

    __slots__ = ("loss",)

    def __init__(self, loss: Iterable[float] = ()) -> None:
        self.loss: list[float] = [float(v) for v in loss]

    def __len__(self) -> int:
        return len(self.loss)

    def __getitem__(self, index: Any) -> Any:
        return self.loss[index]

    def __iter__(self) -> Any:
        return iter(self.loss)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, History):
            return self.loss == other.loss
        if isinstance(other, (list, tuple)):
            return self.loss == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]   # mutable, like the list it stands for

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.array(self.loss, dtype=dtype)

    def __repr__(self) -> str:
        shown = ", ".join(f"{v:.4g}" for v in self.loss[:3])
        if len(self.loss) > 4:
            shown += f", ..., {self.loss[-1]:.4g}"
        elif len(self.loss) == 4:
            shown += f", {self.loss[-1]:.4g}"
        return f"History(epochs={len(self.loss)}, loss=[{shown}])"


def fit(model: Module, loss_fn: Callable[[Any, Any], Any], optimizer: Optimizer, X: Any, y: Any,
        epochs: int = 1, batch_size: int | None = None, shuffle: bool = True, rng: Any = None,
        progress: bool | None = None, stream: TextIO | None = None,
        compile: bool = False) -> History:  # noqa: A002 - the name users expect
    """Train `model` for `epochs` passes over (X, y) and return a `History` of each epoch's mean
    loss (mean of `loss_fn(model(Xb), yb)` over the batches, weighted by batch size).

    `batch_size=None` trains on the whole set at once (full-batch gradient descent). With
    `shuffle`, each epoch visits the rows in a new order drawn from `rng` (an int seed or a
    numpy Generator).

    Progress is a tqdm bar ("epoch 120/3000 |███  | ... loss 0.0123") redrawn at most 4 times a
    second, in `stream` (default stderr); in Jupyter, with no `stream` given, it is the notebook
    widget. `progress=None` shows it only where someone watches: when the stream is a terminal,
    or in Jupyter. `progress=False` never shows it and writes nothing; `progress=True` always
    does. Without tqdm installed there is no bar (and a warning when `progress=True` asked
    for one).

    `compile=True` runs each mini-batch step through `tg.compile` (traced once per batch
    shape, then replayed as flat NumPy): the same numbers, bit for bit, and several times
    faster on small networks."""
    if epochs < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    if len(X) == 0:
        raise ValueError("fit: the training set is empty")
    n = len(X)
    size = n if batch_size is None else batch_size
    gen = generator(rng)
    history = History()
    step = _step(model, loss_fn, optimizer)
    if compile:
        from .compile import compile as _compile
        step = _compile(step)
    bar = _progress_bar(epochs, progress, stream)
    try:
        for _ in range(epochs):
            total = 0.0
            for Xb, yb in batches(X, y, size, shuffle=shuffle, rng=gen):
                total += step(Xb, yb).item() * len(Xb)
            history.loss.append(total / n)
            if bar is not None:
                bar.set_postfix_str(f"loss {history.loss[-1]:.4g}", refresh=False)
                bar.update()              # draws only when REFRESH_SECONDS have passed
    finally:
        if bar is not None:
            bar.close()                   # the last state, with the final loss
    return history


def _step(model: Module, loss_fn: Callable[[Any, Any], Any], optimizer: Optimizer) -> Callable:
    """One mini-batch update: forget old gradients, forward, loss, backward, update."""
    def step(Xb: Any, yb: Any) -> Any:
        optimizer.zero_grad()
        loss = loss_fn(model(Xb), yb)
        loss.backward()
        optimizer.step()
        return loss
    return step


def _progress_bar(epochs: int, progress: bool | None, stream: TextIO | None) -> Any:
    """A tqdm bar over the epochs, or None when none should be shown (or tqdm is missing)."""
    asked = bool(progress)
    if progress is None:
        progress = (stream is None and _in_jupyter()) or _isatty(stream or sys.stderr)
    if not progress or epochs == 0:
        return None
    try:
        if stream is None and _in_jupyter() and _has_widgets():
            from tqdm.notebook import tqdm   # the notebook widget
        else:
            from tqdm.std import tqdm        # text into the stream (also Jupyter without widgets)
    except ImportError:
        if asked:
            warnings.warn("fit: progress=True needs tqdm (pip install tqdm); training without a "
                          "progress bar", stacklevel=3)
        return None
    return tqdm(total=epochs, desc="epoch", unit=" epoch", file=stream or sys.stderr,
                mininterval=REFRESH_SECONDS, bar_format=BAR_FORMAT, leave=True)


def _in_jupyter() -> bool:
    """Inside a Jupyter kernel (notebook, lab, VS Code, Colab): tqdm.auto's own test."""
    return "ipykernel.zmqshell" in sys.modules


def _has_widgets() -> bool:
    """Whether tqdm's notebook bar can draw (it needs ipywidgets; without them tqdm.auto warns
    in every cell and falls back to text anyway)."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:                    # a closed stream
        return False
