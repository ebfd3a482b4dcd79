"""Optimizers with PyTorch's update rules (torch.optim.SGD and torch.optim.Adam with their
default flags). `step()` updates each parameter's array in place (bumping its version), records
no graph, skips parameters whose `.grad` is None, and works in the parameter's own dtype: a
float32 model is updated in float32. `state_dict()` / `load_state_dict()` use PyTorch's layout
({"state": {index: {...}}, "param_groups": [{hyperparameters, "params": [indices]}]}), so a run
resumed from a saved model and optimizer continues exactly like an uninterrupted one.

A step is two parts, so that `tg.compile` can replay it: `_begin_step` (Python: step counts,
and the per-step numbers — learning rate, bias corrections — written into 0-d arrays in each
parameter's dtype) and `_update` (array kernels reading those 0-d arrays). Hyperparameters may
change between steps (`opt.lr = 0.01`); a compiled step reads them at every replay.

Parameters that tile one buffer (an `nn.MLP` packs its own) are updated together: the
gradients are copied into one buffer of the same layout and `_update` runs once on the whole
range, one NumPy call per operation instead of one per parameter (elementwise, so the numbers
are the same bit for bit). Run eagerly, only small parameters go this way (for large ones the
copies cost more than the calls saved); a compiled step always does, its gradients computed
straight into that buffer.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np
from numpy import ndarray

from .kernels import raw_copyto
from .mode import _local, every_step, traced
from .tensor import Tensor, bump_versions, changes, clear_grads, owner_of


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise ValueError(msg)


class Optimizer:
    """Holds the parameters (a list, in the order given), the hyperparameters (attributes,
    which may be changed between steps: `opt.lr = 0.01`) and per-parameter state."""
    hyperparameters: tuple[str, ...] = ("lr",)
    state_names: dict[str, str] = {}    # PyTorch's state key -> attribute: a list, one per param
    _structure: tuple | None = None     # structure(), computed when first asked
    _flat: "_Flat | None" = None        # the parameters' shared buffer, when they tile one
    _stale = True                       # a hyperparameter was set since the 0-d arrays were
    shared_numbers: tuple[str, ...] = ("lr",)   # per-step numbers the kernels read: shared,
    per_parameter: tuple[str, ...] = ()         # and those from a parameter's own step count

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
        changes[0] += 1                 # a compiled step reading an optimizer variable retraces
        shared = {(name, p.dtype): np.zeros((), p.dtype) for p in self.params
                  for name in self.shared_numbers}
        self._shared = list(shared.items())
        self.scalars = [{**{name: shared[name, p.dtype] for name in self.shared_numbers},
                         **{name: np.zeros((), p.dtype) for name in self.per_parameter}}
                        for p in self.params]   # per parameter: name -> the 0-d array read
        self._flat = _Flat.of(self.params)      # None unless the parameters tile one buffer

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (and deep-copied) without the flat layout: NumPy copies each view on its
        own, so the parameters and state of the copy no longer share a buffer, and the copy
        updates them one at a time."""
        state = self.__dict__.copy()
        state.pop("_flat", None)
        return state

    def __setattr__(self, name: str, value: Any) -> None:
        """A hyperparameter set inside a step that tg.compile traces is set again at every
        replay (a step taking `lr` as an argument replays the lr of its own trace)."""
        if name in self.hyperparameters:
            trace = _local.mode.trace
            if trace is not None:
                trace.python(setattr, (self, name, value))
            if bool(value) != bool(getattr(self, name, not value)):   # (structure() reads
                object.__setattr__(self, "_structure", None)         # only truth values)
            object.__setattr__(self, "_stale", True)   # the next step writes its numbers
        object.__setattr__(self, name, value)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (`.grad = None`, PyTorch's default)."""
        clear_grads(self.params)

    def step(self) -> None:
        """Update every parameter that has a gradient, in place (array kernels: nothing to
        record; under tg.compile the arrays are traced)."""
        active = [i for i, p in enumerate(self.params) if p._grad is not None]
        flat, trace = self._flat, _local.mode.trace
        at_once = (flat is not None and len(active) == len(self.params) and self._flat_ok(flat)
                   and (flat.small or trace is not None))
        every_step(self._begin_step, active, at_once)
        if at_once:
            w, g = flat.gather(self.params, trace)
            self._update(None, w, g, self.scalars[0])
            return
        for i in active:
            p = self.params[i]
            w, g = p._data, p._grad._data
            if trace is not None:
                w, g = trace.live(w), trace.live(g)
            self._update(i, w, g, self.scalars[i])

    def _begin_step(self, active: list[int], at_once: bool) -> None:
        """The Python part of a step: this step's numbers into the 0-d arrays the kernels read
        (one per dtype for hyperparameters, written again only after one was set; one per
        parameter for numbers from its own step count, only the first's when all parameters
        are updated at once), step counts, and the versions of the parameters about to
        change. Replayed by tg.compile before the step's kernels."""
        if self._stale:
            shared = self._numbers(None)
            for (name, _), arr in self._shared:
                arr[...] = shared[name]
            object.__setattr__(self, "_stale", False)
        self._count(active)
        if self.per_parameter:
            for i in active[:1] if at_once else active:
                s = self.scalars[i]
                for name, value in self._numbers(i).items():
                    s[name][...] = value
        params = self.params
        bump_versions(params if at_once else [params[i] for i in active])

    def _flat_ok(self, flat: "_Flat") -> bool:
        """Whether this step may update all parameters at once: they still hold the arrays
        that tile the buffer (and the subclass's state allows it). Checked again only after
        some `.data` was rebound (`changes`), not at every step."""
        if flat.checked != changes[0]:
            if not all(_is_array(p._data, a) for p, a in zip(self.params, flat.arrays)):
                return False
            flat.checked = changes[0]
        return True

    def _count(self, active: list[int]) -> None:
        """Count a step of the parameters in `active` (optimizers with step counts)."""

    def _numbers(self, i: int | None) -> dict[str, float]:
        """This step's numbers (Python floats): the hyperparameters for i None, else those of
        parameter i's own (from its step count)."""
        raise NotImplementedError

    def _update(self, i: int | None, w: ndarray, g: ndarray, s: dict[str, ndarray]) -> None:
        """Update parameter i's array `w` from its gradient `g` (i None: all parameters at
        once, on the flat buffers)."""
        raise NotImplementedError

    def structure(self) -> tuple:
        """What decides which kernels a step runs (tg.compile retraces when it changes): the
        truth values of hyperparameters (zero or not) and which state exists. Kept until one
        of those changes (tg.compile asks at every call)."""
        if self._structure is None:
            self._structure = self._kernels()
        return self._structure

    def _kernels(self) -> tuple:
        return (type(self),)

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """{"state": {i: {name: array or number}}, "param_groups": [{hyperparameters,
        "params": [0, 1, ...]}]}: copies, so later steps do not change it."""
        state: dict[int, dict[str, Any]] = {}
        for name, attr in self.state_names.items():
            for i, v in enumerate(getattr(self, attr)):
                if v is not None:
                    state.setdefault(i, {})[name] = v.copy() if isinstance(v, ndarray) else v
        group = {h: getattr(self, h) for h in self.hyperparameters}
        group["params"] = list(range(len(self.params)))
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and per-parameter state saved by `state_dict()` (also after
        `tg.save` / `tg.load`, which turn tuples into lists)."""
        try:
            (group,) = state_dict["param_groups"]
            state = state_dict["state"]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected a dict with "
                             "'state' and one entry in 'param_groups'") from None
        if len(group["params"]) != len(self.params):
            raise ValueError(f"{type(self).__name__}.load_state_dict: the saved state has "
                             f"{len(group['params'])} parameters, this optimizer "
                             f"{len(self.params)}")
        for h in self.hyperparameters:
            v = group[h]
            setattr(self, h, tuple(v) if isinstance(v, list) else v)
        for name, attr in self.state_names.items():
            values = getattr(self, attr)
            for i, p in enumerate(self.params):
                v = state.get(i, state.get(str(i), {})).get(name)
                if isinstance(v, ndarray):
                    if v.shape != p.shape:
                        raise ValueError(f"{type(self).__name__}.load_state_dict: {name} of "
                                         f"parameter {i} has shape {v.shape}, the parameter "
                                         f"{p.shape}")
                    v = v.astype(p.dtype)           # a copy in the parameter's dtype
                v = _default_state(name, p) if v is None else v
                if isinstance(v, ndarray) and isinstance(values[i], ndarray):
                    np.copyto(values[i], v)         # in place (flat state stays a view)
                else:
                    values[i] = v
        self._structure = None
        changes[0] += 1                            # new state arrays: compiled steps retrace


def _default_state(name: str, p: Tensor) -> Any:
    """The fresh per-parameter state an optimizer starts from."""
    if name == "step":
        return 0
    if name in ("exp_avg", "exp_avg_sq"):
        return np.zeros_like(p.data)
    return None


FLAT_EAGER_MAX = 4096     # mean elements per parameter up to which an eager step goes flat


class _Flat:
    """Parameters whose arrays tile one contiguous range of one buffer, in any order: `w` is
    that range, `grad` a buffer of the same layout (with `grad_slots`, each parameter's part)
    and `views()` makes more buffers of that layout (Adam's moments)."""

    def __init__(self, w: ndarray, arrays: list[ndarray], offsets: list[int]) -> None:
        self.w, self.arrays, self.offsets = w, arrays, offsets
        self.grad, self.grad_slots = self.views()
        self.state: tuple[ndarray, ...] = ()   # an optimizer's own buffers of this layout
        self.checked = -1                 # the `changes` epoch the arrays were last verified at
        # run eagerly, the gradient copies cost a pass over memory, which the calls saved
        # outweigh for small parameters only; a compiled step computes the gradients in place
        self.small = w.size <= FLAT_EAGER_MAX * len(arrays)

    @staticmethod
    def of(params: list[Tensor]) -> "_Flat | None":
        arrays = [p._data for p in params]
        a0 = arrays[0]
        root = owner_of(a0)
        if len(arrays) < 2 or not root.flags.c_contiguous or any(
                a.dtype != a0.dtype or not a.flags.c_contiguous or not a.size or owner_of(a) is not root
                for a in arrays):
            return None
        start = [a.__array_interface__["data"][0] for a in arrays]
        pos = lo = min(start)
        for k in sorted(range(len(arrays)), key=start.__getitem__):
            if start[k] != pos:                       # a gap or an overlap
                return None
            pos += arrays[k].nbytes
        first = (lo - root.__array_interface__["data"][0]) // a0.itemsize
        w = root.reshape(-1)[first:first + (pos - lo) // a0.itemsize]
        return _Flat(w, arrays, [(s - lo) // a0.itemsize for s in start])

    def views(self) -> tuple[ndarray, list[ndarray]]:
        """A new zeroed buffer of the parameters' layout, and each parameter's part of it."""
        buf = np.zeros_like(self.w)
        return buf, [buf[o:o + a.size].reshape(a.shape) for o, a in zip(self.offsets, self.arrays)]

    def gather(self, params: list[Tensor], trace: Any) -> tuple[ndarray, ndarray]:
        """The parameters' range and their gradients copied into `grad`; under a running
        tg.compile `trace`, as it sees them (read and written in place at replay)."""
        slots, w, grad = self.grad_slots, self.w, self.grad
        if trace is not None:
            slots, w, grad = [trace.live(s) for s in slots], trace.live(w), trace.live(grad)
        for p, slot in zip(params, slots):
            g = p._grad._data
            (raw_copyto if type(g) is type(slot) is ndarray else np.copyto)(slot, g)
        return w, grad


def _is_array(d: ndarray, a: ndarray) -> bool:
    """`d` is `a`, or (while tg.compile traces) a view of all of it."""
    return d is a or d.base is a and d.shape == a.shape and d.strides == a.strides


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD (dampening 0):
    d = g + weight_decay·w;  b = d (first step) else momentum·b + d;
    d = d + momentum·b (nesterov) or b (momentum);  w -= lr·d."""
    hyperparameters = ("lr", "momentum", "nesterov", "weight_decay")
    state_names = {"momentum_buffer": "momentum_buffers"}
    shared_numbers = ("lr", "momentum", "weight_decay")

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        _check(momentum >= 0, f"invalid momentum {momentum}")
        _check(weight_decay >= 0, f"invalid weight_decay {weight_decay}")
        _check(not nesterov or momentum > 0, "Nesterov momentum requires a momentum > 0")
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.momentum_buffers: list[ndarray | None] = [None] * len(self.params)

    def _numbers(self, i: int | None) -> dict[str, float]:
        if i is not None:
            return {}
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay}

    def _flat_ok(self, flat: _Flat) -> bool:
        return not self.momentum and super()._flat_ok(flat)   # (buffers are per parameter)

    def _update(self, i: int | None, w: ndarray, g: ndarray, s: dict[str, ndarray]) -> None:
        if self.weight_decay:
            g = g + s["weight_decay"] * w
        if self.momentum:
            buf = self.momentum_buffers[i]
            if buf is None:
                buf = self.momentum_buffers[i] = g.copy()
                self._structure = None
            else:
                buf = traced(buf)
                buf *= s["momentum"]
                buf += g
            g = g + s["momentum"] * buf if self.nesterov else buf
        w -= s["lr"] * g

    def _kernels(self) -> tuple:
        return super()._kernels() + (bool(self.weight_decay), bool(self.momentum), self.nesterov,
                                      tuple(b is None for b in self.momentum_buffers))


class Adam(Optimizer):
    """Adam, as torch.optim.Adam (amsgrad off): g = g + weight_decay·w (L2, not AdamW);
    m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²;
    w -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps)."""
    hyperparameters = ("lr", "betas", "eps", "weight_decay")
    state_names = {"step": "steps", "exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"}
    shared_numbers = ("b1", "1-b1", "b2", "1-b2", "eps", "weight_decay")
    per_parameter = ("bc2", "step_size")

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        _check(0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0, f"invalid betas {betas}: each must be in [0, 1)")
        _check(eps >= 0, f"invalid eps {eps}")
        _check(weight_decay >= 0, f"invalid weight_decay {weight_decay}")
        self.betas, self.eps, self.weight_decay = (b1, b2), eps, weight_decay
        self.steps = [0] * len(self.params)
        if self._flat is None:
            self.exp_avg = [np.zeros_like(p.data) for p in self.params]
            self.exp_avg_sq = [np.zeros_like(p.data) for p in self.params]
        else:                                   # moments in the parameters' flat layout
            (m, self.exp_avg), (v, self.exp_avg_sq) = self._flat.views(), self._flat.views()
            self._flat.state = (m, v)

    def _numbers(self, i: int | None) -> dict[str, float]:
        b1, b2 = self.betas
        if i is None:
            return {"b1": b1, "1-b1": 1 - b1, "b2": b2, "1-b2": 1 - b2, "eps": self.eps,
                    "weight_decay": self.weight_decay}
        t = self.steps[i]
        return {"bc2": math.sqrt(1 - b2 ** t), "step_size": self.lr / (1 - b1 ** t)}

    def _count(self, active: list[int]) -> None:
        steps = self.steps
        for i in active:
            steps[i] += 1

    def _flat_ok(self, flat: _Flat) -> bool:
        return (len(set(self.steps)) == 1 and bool(flat.state)   # one bias correction, and
                and super()._flat_ok(flat))                      # moments laid out flat

    def _update(self, i: int | None, w: ndarray, g: ndarray, s: dict[str, ndarray]) -> None:
        if self.weight_decay:
            g = g + s["weight_decay"] * w
        m, v = self._flat.state if i is None else (self.exp_avg[i], self.exp_avg_sq[i])
        m, v = traced(m), traced(v)
        m *= s["b1"]
        m += s["1-b1"] * g
        v *= s["b2"]
        v += s["1-b2"] * g * g
        denom = np.sqrt(v)
        denom /= s["bc2"]
        denom += s["eps"]
        w -= s["step_size"] * (m / denom)

    def _kernels(self) -> tuple:
        return super()._kernels() + (bool(self.weight_decay),)
