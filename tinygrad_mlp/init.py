"""Weight initialisation: the rules `nn.Linear` offers, and the one helper that turns a seed
into a random Generator (used by nn, datasets and training alike)."""
from __future__ import annotations

from typing import Any

import numpy as np

INITS = ("uniform", "xavier", "he", "zeros")


def generator(rng: Any) -> np.random.Generator:
    """An int seed, a Generator (used as is) or None (fresh entropy) as a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be an int seed, a numpy Generator or None, got {type(rng).__name__}")


def init_weight(out_features: int, in_features: int, init: str,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Weight (out, in) and bias (out,) in float64 for an init rule:
    - "uniform": weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) (the textbook rule of the
      tutorials, and PyTorch's default bound);
    - "xavier": weight ~ U(-a, a), a = sqrt(6 / (in + out)) (Glorot), bias 0 — for tanh/sigmoid;
    - "he": weight ~ N(0, 2 / in) (Kaiming, fan-in), bias 0 — for ReLU;
    - "zeros": everything 0 (only useful to show why symmetry must be broken)."""
    shape = (out_features, in_features)
    if init == "uniform":
        bound = 1.0 / np.sqrt(in_features)
        return rng.uniform(-bound, bound, shape), rng.uniform(-bound, bound, out_features)
    if init == "xavier":
        bound = np.sqrt(6.0 / (in_features + out_features))
        return rng.uniform(-bound, bound, shape), np.zeros(out_features)
    if init == "he":
        return rng.normal(0.0, np.sqrt(2.0 / in_features), shape), np.zeros(out_features)
    if init == "zeros":
        return np.zeros(shape), np.zeros(out_features)
    raise ValueError(f"unknown init {init!r}; choose one of {INITS}")
