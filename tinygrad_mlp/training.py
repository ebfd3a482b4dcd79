"""`fit`: the training loop every tutorial writes, once (zero_grad, forward, loss, backward,
step, per mini-batch), returning the loss history."""
from __future__ import annotations

import sys
from typing import Any, Callable, TextIO

from .datasets import batches
from .init import generator
from .nn import Module
from .optim import Optimizer


def fit(model: Module, loss_fn: Callable[[Any, Any], Any], optimizer: Optimizer, X: Any, y: Any,
        epochs: int = 1, batch_size: int | None = None, shuffle: bool = True, rng: Any = None,
        progress: bool | None = None, stream: TextIO | None = None) -> list[float]:
    """Train `model` for `epochs` passes over (X, y) and return each epoch's mean loss (mean of
    `loss_fn(model(Xb), yb)` over the batches, weighted by batch size).

    `batch_size=None` trains on the whole set at once (full-batch gradient descent). With
    `shuffle`, each epoch visits the rows in a new order drawn from `rng`. `progress=None` shows
    a one-line progress display only when `stream` (default stderr) is a terminal; True or False
    force it on or off."""
    if epochs < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    if len(X) == 0:
        raise ValueError("fit: the training set is empty")
    stream = sys.stderr if stream is None else stream
    show = stream.isatty() if progress is None else progress
    n = len(X)
    size = n if batch_size is None else batch_size
    gen = generator(rng)
    history: list[float] = []
    for epoch in range(epochs):
        total = 0.0
        for Xb, yb in batches(X, y, size, shuffle=shuffle, rng=gen):
            optimizer.zero_grad()
            loss = loss_fn(model(Xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(Xb)
        history.append(total / n)
        if show:
            stream.write(f"\repoch {epoch + 1}/{epochs}  loss {history[-1]:.6g}")
            stream.flush()
    if show and epochs:
        stream.write("\n")
    return history
