"""Optimizers with PyTorch's update rules (torch.optim.SGD and torch.optim.Adam with their
default flags). `step()` updates each parameter's `.data` in place, records no graph, skips
parameters whose `.grad` is None, and works in the parameter's own dtype: a float32 model is
updated in float32 with no float64 temporaries, and plain or momentum SGD allocates nothing
per step (one scratch array per parameter is kept instead)."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .autograd import no_grad
from .tensor import Tensor


class Optimizer:
    """Holds the parameters (a list, in the order given) and per-parameter state."""

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params should be an iterable of Tensors "
                            "(e.g. model.parameters()), got a single Tensor")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad or not p.is_leaf:
                raise TypeError(f"{type(self).__name__}: parameter {i} is not a leaf Tensor "
                                "with requires_grad=True")
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{type(self).__name__}: a parameter appears more than once in the "
                             "list, so it would be updated more than once per step")
        _check(lr >= 0, f"invalid learning rate {lr}")
        self.lr = lr
        self._scratch = [np.empty_like(p.data) for p in self.params]

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (`.grad = None`, PyTorch's default)."""
        for p in self.params:
            p.grad = None

    @no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient, in place, recording nothing."""
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self._update(i, p.data, p.grad.data, self._scratch[i])

    def _update(self, i: int, w: np.ndarray, g: np.ndarray, tmp: np.ndarray) -> None:
        raise NotImplementedError


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise ValueError(msg)


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD (dampening 0):
    d = g + weight_decay·w;  b = d (first step) else momentum·b + d;
    d = d + momentum·b (nesterov) or b (momentum);  w -= lr·d."""

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        _check(momentum >= 0, f"invalid momentum {momentum}")
        _check(weight_decay >= 0, f"invalid weight_decay {weight_decay}")
        _check(not nesterov or momentum > 0, "Nesterov momentum requires a momentum > 0")
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.momentum_buffers: list[np.ndarray | None] = [None] * len(self.params)

    def _update(self, i: int, w: np.ndarray, g: np.ndarray, tmp: np.ndarray) -> None:
        if self.weight_decay:
            np.multiply(w, self.weight_decay, out=tmp)
            g = np.add(tmp, g, out=tmp)
        if self.momentum:
            buf = self.momentum_buffers[i]
            if buf is None:
                buf = self.momentum_buffers[i] = g.copy()
            else:
                buf *= self.momentum
                buf += g
            if self.nesterov:
                step = buf * self.momentum
                g = np.add(g, step, out=step)
            else:
                g = buf
        np.multiply(g, self.lr, out=tmp)
        w -= tmp


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (amsgrad off): g = g + weight_decay·w (L2, not AdamW);
    m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
    w -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)."""

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        _check(0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0, f"invalid betas {betas}: each must be in [0, 1)")
        _check(eps >= 0, f"invalid eps {eps}")
        _check(weight_decay >= 0, f"invalid weight_decay {weight_decay}")
        self.betas, self.eps, self.weight_decay = (b1, b2), eps, weight_decay
        self.steps = [0] * len(self.params)
        self.exp_avg = [np.zeros_like(p.data) for p in self.params]
        self.exp_avg_sq = [np.zeros_like(p.data) for p in self.params]

    def _update(self, i: int, w: np.ndarray, g: np.ndarray, tmp: np.ndarray) -> None:
        b1, b2 = self.betas
        self.steps[i] += 1
        t = self.steps[i]
        if self.weight_decay:
            np.multiply(w, self.weight_decay, out=tmp)
            g = np.add(tmp, g, out=tmp)
        m, v = self.exp_avg[i], self.exp_avg_sq[i]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        step_size = self.lr / (1 - b1 ** t)
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1 - b2 ** t)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= step_size
        w -= tmp
