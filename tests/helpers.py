"""Small helpers shared by the test modules."""
from __future__ import annotations

import numpy as np

from tinygrad_mlp import Tensor

RNG = np.random.default_rng(1234)


def leaf(*shape: int) -> Tensor:
    """A random float64 leaf that requires grad."""
    return Tensor(RNG.standard_normal(shape), requires_grad=True)


def seed003() -> tuple:
    """Seed 003's graph: f = (x + y) * z at x=-2, y=5, z=-4 (q = x + y), labelled."""
    x = Tensor(-2.0, requires_grad=True, label="x")
    y = Tensor(5.0, requires_grad=True, label="y")
    z = Tensor(-4.0, requires_grad=True, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    return x, y, z, q, f
