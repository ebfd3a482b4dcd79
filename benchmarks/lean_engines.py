"""Two deliberately minimal reverse-mode engines on NumPy, for `c = a*b + a` only, to bound
what any engine design reaches per op (floors.py times them beside tinygrad_mlp). Benchmark
references, not a product: two ops, no custom Functions, no broadcasting, no error messages.

`Bare`: nodes are tuples, no modes, no checks (micrograd's design on ndarrays).
`Guarded`: keeps what tinygrad_mlp guarantees on this path:
- a per-thread grad mode, read by every op and switched off during backward;
- sequence numbers, and the inputs' versions when they have a version counter, to refuse saved
  values changed in place;
- shape checks of incoming gradients;
- saved values and inputs freed after backward;
- each leaf's `.grad` a Tensor that owns its array.
"""
from __future__ import annotations

import threading
from heapq import heappop, heappush
from itertools import count
from typing import Any

import numpy as np


# ------------------------------------------------------------------ bare
class Bare:
    __slots__ = ("data", "grad", "node")
    _clock = count(1)

    def __init__(self, data: np.ndarray, node: tuple | None = None) -> None:
        self.data, self.grad, self.node = data, None, node

    def __mul__(self, o: "Bare") -> "Bare":
        return Bare(self.data * o.data, (_bare_mul, self, o, next(Bare._clock)))

    def __add__(self, o: "Bare") -> "Bare":
        return Bare(self.data + o.data, (_bare_add, self, o, next(Bare._clock)))

    def backward(self, g: np.ndarray) -> None:
        order, seen, stack = [self], set(), [self]
        while stack:                                     # the reachable nodes
            for p in stack.pop().node[1:3]:
                if p.node is not None and p not in seen:
                    seen.add(p)
                    stack.append(p)
                    order.append(p)
        order.sort(key=lambda t: -t.node[3])             # outputs before inputs
        grads = {self: g}
        for t in order:
            fn, a, b, _ = t.node
            for p, pg in zip((a, b), fn(grads.pop(t), a, b)):
                grads[p] = grads[p] + pg if p in grads else pg
        for t, gt in grads.items():
            t.grad = gt if t.grad is None else t.grad + gt


def _bare_mul(g: np.ndarray, a: Bare, b: Bare) -> tuple:
    return g * b.data, g * a.data


def _bare_add(g: np.ndarray, a: Bare, b: Bare) -> tuple:
    return g, g


# ------------------------------------------------------------------ guarded
class _Mode:
    __slots__ = ("grad_enabled",)

    def __init__(self) -> None:
        self.grad_enabled = True


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.mode = _Mode()


_local = _PerThread()
_clock = count(1)
_last_change = [0]           # the clock at the latest in-place change (none here)
_FREED = ("freed",)


class _Node:
    __slots__ = ("parents", "saved", "seq", "versions", "backward")


class Guarded:
    __slots__ = ("data", "grad", "grad_fn", "requires_grad", "vc")

    @staticmethod
    def leaf(data: np.ndarray) -> "Guarded":
        return _tensor(data, None, True)

    def __mul__(self, o: "Guarded") -> "Guarded":
        return _apply(_mul_forward, _mul_backward, self, o)

    def __add__(self, o: "Guarded") -> "Guarded":
        return _apply(_add_forward, _add_backward, self, o)

    def backward(self, g: np.ndarray | None = None) -> None:
        if g is None:
            g = np.ones(self.data.shape, self.data.dtype)
        elif g.shape != self.data.shape:
            raise ValueError(f"gradient shape {g.shape} for an output of shape {self.data.shape}")
        _store(_grads(self, g), g)


def _tensor(data: np.ndarray, node: _Node | None, requires_grad: bool) -> Guarded:
    t = Guarded.__new__(Guarded)
    t.data, t.grad, t.grad_fn, t.requires_grad, t.vc = data, None, node, requires_grad, None
    return t


def _apply(forward: Any, backward: Any, a: Guarded, b: Guarded) -> Guarded:
    node = _Node.__new__(_Node)
    node.saved = ()
    out = forward(node, a.data, b.data)
    if (a.requires_grad or b.requires_grad) and _local.mode.grad_enabled:
        node.parents, node.seq, node.backward = (a, b), next(_clock), backward
        if a.vc is not None or b.vc is not None:
            node.versions = (a.vc and a.vc[0], b.vc and b.vc[0])
        return _tensor(out, node, True)
    return _tensor(out, None, False)


def _mul_forward(node: _Node, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    node.saved = (a, b)
    return a * b


def _mul_backward(node: _Node, g: np.ndarray) -> tuple:
    a, b = node.saved
    return g * b, g * a


def _add_forward(node: _Node, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a + b


def _add_backward(node: _Node, g: np.ndarray) -> tuple:
    return g, g


def _grads(root: Guarded, g: np.ndarray) -> dict[Guarded, np.ndarray]:
    """Gradients of the leaves: nodes run latest first (a heap by sequence number), each freed
    after it ran, with grad mode off meanwhile."""
    mode = _local.mode
    prev, mode.grad_enabled = mode.grad_enabled, False
    grads: dict[Guarded, np.ndarray] = {}
    heap: list = []
    arriving: Any = ((root, g),)
    try:
        while True:
            for p, pg in arriving:
                if pg is None or not p.requires_grad:
                    continue
                if pg.shape != p.data.shape:
                    raise ValueError(f"gradient of shape {pg.shape} for shape {p.data.shape}")
                old = grads.get(p)
                if old is not None:
                    grads[p] = old + pg
                else:
                    grads[p] = pg
                    if p.grad_fn is not None:
                        heappush(heap, (-p.grad_fn.seq, p))
            if not heap:
                return grads
            t = heappop(heap)[1]
            node = t.grad_fn
            if node.saved is _FREED or node.saved and node.seq < _last_change[0]:
                raise RuntimeError("saved values freed or changed in place")
            parents = node.parents
            in_grads = node.backward(node, grads.pop(t))
            node.saved, node.parents = _FREED, ()
            arriving = zip(parents, in_grads)
    finally:
        mode.grad_enabled = prev


def _store(grads: dict[Guarded, np.ndarray], root_grad: np.ndarray) -> None:
    """Each leaf's `.grad`: a Tensor owning its array (copied only when it would alias)."""
    used = {id(root_grad)}
    for t, g in grads.items():
        dtype = t.data.dtype
        if t.grad is not None:
            g = np.add(t.grad.data, g, dtype=dtype)
        elif g.base is not None or g.dtype is not dtype or id(g) in used:
            g = g.astype(dtype)
        used.add(id(g))
        t.grad = _tensor(g, None, False)
