"""Two deliberately minimal reverse-mode engines on NumPy, to bound what any engine design
reaches (floors.py times them beside tinygrad_mlp): `c = a*b + a` in both, and W1's training
step (train_step.py) in the guarded one, with tinygrad_mlp's kernels. Benchmark references,
not a product: a few ops, no custom Functions, no broadcasting, no error messages.

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

from tinygrad_mlp.kernels import ones, raw_dot   # (the engine's cached ones, and its np.dot
#                                                     without NumPy's dispatch)


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
    __slots__ = ("parents", "saved", "seq", "versions", "backward", "diff")


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


def _apply(forward: Any, backward: Any, *inputs: Guarded) -> Guarded:
    node = _Node.__new__(_Node)
    node.saved = ()
    arrays = []
    needs = counted = False
    for x in inputs:
        arrays.append(x.data)
        if x.requires_grad:
            needs = True
        if x.vc is not None:
            counted = True
    out = forward(node, *arrays)
    if needs and _local.mode.grad_enabled:
        node.parents, node.seq, node.backward = inputs, next(_clock), backward
        if counted:
            node.versions = tuple(x.vc and x.vc[0] for x in inputs)
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
            node.saved, node.parents, node.diff = _FREED, (), None
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


# ------------------------------------------------------------------ W1 in the guarded engine
def _linear_forward(node: _Node, x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    node.saved = (x, w)
    out = raw_dot(x, w.T)
    out += b
    return out


def _linear_backward(node: _Node, g: np.ndarray) -> tuple:
    x, w = node.saved
    gx = raw_dot(g, w) if node.parents[0].requires_grad else None
    return gx, raw_dot(g.T, x), raw_dot(ones(g.shape[0], g.dtype), g)


def _tanh_forward(node: _Node, a: np.ndarray) -> np.ndarray:
    out = np.tanh(a)
    node.saved = (out,)
    return out


def _tanh_backward(node: _Node, g: np.ndarray) -> tuple:
    y = node.saved[0]
    return (g * (1 - y * y),)


def _mse_forward(node: _Node, pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    node.saved = (pred, target)
    node.diff = pred - target
    return np.add.reduce(np.square(node.diff), axis=None) / pred.size


def _mse_backward(node: _Node, g: np.ndarray) -> tuple:
    return node.diff * (g * 2 * (1.0 / node.saved[0].size)), None


def guarded_w1_step(X: np.ndarray, y: np.ndarray, weights: list, lr: float) -> Any:
    """train_step.ours_step's W1 step (tanh hidden layers, MSE, SGD) in the guarded engine:
    grads reset, forward, backward, each parameter updated in place (its version bumped)."""
    params = [(Guarded.leaf(W.copy()), Guarded.leaf(b.copy())) for W, b in weights]
    flat = [p for pair in params for p in pair]
    Xt, yt = _tensor(X, None, False), _tensor(y, None, False)
    lr = np.asarray(lr, X.dtype)
    one = np.ones((), X.dtype)

    def step() -> float:
        for p in flat:
            p.grad = None
        h = Xt
        for i, (W, b) in enumerate(params):
            h = _apply(_linear_forward, _linear_backward, h, W, b)
            if i < len(params) - 1:
                h = _apply(_tanh_forward, _tanh_backward, h)
        loss = _apply(_mse_forward, _mse_backward, h, yt)
        _store(_grads(loss, one), one)
        for p in flat:
            p.data -= lr * p.grad.data
            if p.vc is None:
                p.vc = [1]
            else:
                p.vc[0] += 1
        _last_change[0] = next(_clock)
        return float(loss.data)
    return step, flat
