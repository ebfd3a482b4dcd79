"""Small helpers shared by the test modules."""
from __future__ import annotations

import numpy as np

from tinygrad_mlp import Tensor

RNG = np.random.default_rng(1234)


def leaf(*shape: int) -> Tensor:
    """A random float64 leaf that requires grad."""
    return Tensor(RNG.standard_normal(shape), requires_grad=True)
