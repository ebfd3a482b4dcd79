"""Small 2-D toy datasets from the tutorials, and a mini-batch iterator.

Every generator takes `rng` (an int seed or a `np.random.Generator`) and returns `(X, y)`: `X`
a float64 array (n, 2), `y` an int64 array (n,) of class labels, rows shuffled so that any
prefix is a fair sample. The generating process of each is written in its docstring.
"""
from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from .tensor import Tensor

from .init import generator

__all__ = ["xor", "logical_and", "circles", "moons", "blobs", "spiral", "batches"]

_CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four 2-bit inputs (00, 01, 10, 11) and x1 XOR x2 = (0, 1, 1, 0)."""
    return _CORNERS.copy(), np.array([0, 1, 1, 0])


def logical_and() -> tuple[np.ndarray, np.ndarray]:
    """The four 2-bit inputs (00, 01, 10, 11) and x1 AND x2 = (0, 0, 0, 1)."""
    return _CORNERS.copy(), np.array([0, 0, 0, 1])


def _check_n(n: int, parts: int, name: str) -> None:
    if not isinstance(n, (int, np.integer)) or n < parts:
        raise ValueError(f"{name}: n must be an int >= {parts}, got {n!r}")


def _check_noise(noise: float, name: str) -> None:
    if noise < 0:
        raise ValueError(f"{name}: noise must be >= 0, got {noise}")


def _split(n: int, k: int) -> list[int]:
    """n points over k classes as evenly as possible (the first classes get the remainder)."""
    return [n // k + (i < n % k) for i in range(k)]


def _finish(parts: list[np.ndarray], noise: float, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stack the classes, add N(0, noise²) to every coordinate, shuffle the rows."""
    X = np.concatenate(parts)
    y = np.concatenate([np.full(len(p), c, dtype=np.int64) for c, p in enumerate(parts)])
    if noise:
        X = X + gen.normal(0.0, noise, X.shape)
    order = gen.permutation(len(X))
    return X[order], y[order]


def _ring(m: int, radius: float) -> np.ndarray:
    t = np.linspace(0.0, 2 * np.pi, m, endpoint=False)
    return radius * np.stack([np.cos(t), np.sin(t)], axis=1)


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, rng: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric rings: n - n//2 points at equally spaced angles on the circle of radius 1
    (label 0) and n//2 on the circle of radius `factor` (label 1), each coordinate plus
    Gaussian noise of standard deviation `noise`."""
    _check_n(n, 2, "circles")
    _check_noise(noise, "circles")
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1), got {factor}")
    outer, inner = _split(n, 2)
    return _finish([_ring(outer, 1.0), _ring(inner, factor)], noise, generator(rng))


def moons(n: int = 200, noise: float = 0.1, rng: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles of radius 1: (cos t, sin t) for t in [0, π] (label 0) and
    (1 - cos t, 0.5 - sin t) (label 1), t equally spaced, plus Gaussian `noise`."""
    _check_n(n, 2, "moons")
    _check_noise(noise, "moons")
    a, b = _split(n, 2)
    ta, tb = np.linspace(0, np.pi, a), np.linspace(0, np.pi, b)
    upper = np.stack([np.cos(ta), np.sin(ta)], axis=1)
    lower = np.stack([1 - np.cos(tb), 0.5 - np.sin(tb)], axis=1)
    return _finish([upper, lower], noise, generator(rng))


def blobs(n: int = 200, centers: Any = 2, std: float = 1.0, box: tuple[float, float] = (-10.0, 10.0),
          rng: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian clusters: `centers` is a number of centres drawn uniformly in the
    square `box`², or an array (k, 2) of centres; class c gets about n/k points
    N(centre_c, std² I)."""
    gen = generator(rng)
    if isinstance(centers, (int, np.integer)):
        _check_n(n, int(centers), "blobs")
        if centers < 1:
            raise ValueError(f"blobs: centers must be >= 1, got {centers}")
        ctr = gen.uniform(box[0], box[1], (int(centers), 2))
    else:
        ctr = np.asarray(centers, dtype=np.float64)
        if ctr.ndim != 2 or ctr.shape[1] != 2:
            raise ValueError(f"blobs: centers must be an int or an array of shape (k, 2), got shape {ctr.shape}")
        _check_n(n, len(ctr), "blobs")
    _check_noise(std, "blobs (std)")
    parts = [np.repeat(c[None, :], m, axis=0) for c, m in zip(ctr, _split(n, len(ctr)))]
    return _finish(parts, std, gen)


def spiral(n: int = 300, classes: int = 3, noise: float = 0.2, rng: Any = 0) -> tuple[np.ndarray, np.ndarray]:
    """CS231n's spiral: class c has points r (sin θ, cos θ) with r equally spaced in [0, 1] and
    θ equally spaced in [4c, 4(c+1)] plus Gaussian `noise` (on the angle, in radians)."""
    if not isinstance(classes, (int, np.integer)) or classes < 1:
        raise ValueError(f"spiral: classes must be a positive int, got {classes!r}")
    _check_n(n, classes, "spiral")
    _check_noise(noise, "spiral")
    gen = generator(rng)
    parts = []
    for c, m in enumerate(_split(n, classes)):
        r = np.linspace(0.0, 1.0, m)
        theta = np.linspace(4.0 * c, 4.0 * (c + 1), m) + gen.normal(0.0, noise, m)
        parts.append(r[:, None] * np.stack([np.sin(theta), np.cos(theta)], axis=1))
    return _finish(parts, 0.0, gen)


def batches(X: Any, y: Any, batch_size: int, shuffle: bool = True, rng: Any = None) -> Iterator[tuple[Any, Any]]:
    """Yield (X[i], y[i]) mini-batches covering every row once; the last batch may be smaller.
    With `shuffle` the rows are visited in a random order from `rng` (int seed, Generator, or
    None for fresh entropy); without it the batches are views, no copies."""
    X, y = (a if isinstance(a, (np.ndarray, Tensor)) else np.asarray(a) for a in (X, y))
    if len(X) != len(y):
        raise ValueError(f"batches: X has {len(X)} rows but y has {len(y)}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batches: batch_size must be a positive int, got {batch_size!r}")
    n = len(X)
    if not shuffle:
        for s in range(0, n, batch_size):
            yield X[s:s + batch_size], y[s:s + batch_size]
        return
    order = generator(rng).permutation(n)
    for s in range(0, n, batch_size):
        idx = order[s:s + batch_size]
        yield X[idx], y[idx]
