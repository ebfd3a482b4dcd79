"""`Function`: one primitive op, and `apply`, the one place a node is recorded.

A `Function` subclass has static `forward(ctx, *arrays, **params)` (ndarrays in, one ndarray
out) and `backward(ctx, grad)` (one gradient per input). `apply` runs `forward`; when this
thread's grad mode is on and an input requires grad, the `ctx` instance itself becomes the
output's node (`grad_fn`): it keeps its input Tensors (`parents`), what forward saved, a
sequence number larger than its inputs' (the engine's topological order), the versions of its
inputs (to refuse values changed in place before backward), and the module call that ran it
(for viz). A node never points at its output, so a graph lives exactly as long as its result.

Values passed to `save_for_backward` must be inputs or the output: under
`create_graph=True` the engine hands them back as the graph's Tensors, so the backward can be
differentiated again. Constants such as masks go in ctx attributes (`ctx.mask = a > 0`).
"""
from __future__ import annotations

import os
import sys
from operator import attrgetter
from typing import Any

import numpy as np
from numpy import ndarray

from .mode import _local
from .tensor import Tensor, as_tensor, clock, share_version

_new = object.__new__

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_requires_grad = attrgetter("requires_grad")


class OpError(ValueError):
    """An op's own check of its inputs failed; the message already names the op."""


class Function:
    """Base of every primitive op. Subclass with static `forward(ctx, *arrays, **params)` and
    `backward(ctx, grad)`, then call `MyOp.apply(*inputs, **params)` (Tensors, ndarrays or
    Python scalars; only Tensors can require grad)."""
    __slots__ = ("parents", "saved_tensors", "seq", "call", "site", "inplace_of", "__dict__")
    versions: list[int] | None = None   # inputs' versions when saved (None: all at version 0)
    raw_backward = False   # True: backward also runs on plain ndarrays (the built-in ops)
    view = False           # True: the output may be a view of the first input's array

    def save_for_backward(self, *values: Any) -> None:
        """Keep inputs or the output for backward (see the module docstring)."""
        self.saved_tensors = values

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        """For each input, whether it requires grad (backward may skip the others)."""
        return tuple(map(_requires_grad, self.parents))

    @staticmethod
    def forward(ctx: "Function", *arrays: ndarray, **params: Any) -> ndarray:
        """The op on ndarrays: one ndarray out; `ctx.save_for_backward` what backward needs."""
        raise NotImplementedError

    @staticmethod
    def backward(ctx: "Function", grad: Any) -> Any:
        """The gradient of each input (Tensor, ndarray or None) from the output's `grad`."""
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on `inputs` (Tensors, ndarrays or Python numbers; the others are
        constants) and, when this thread records and an input requires grad, make this
        call the output's node."""
        ctx = _new(cls)
        ctx.saved_tensors = ()
        mode = _local.mode
        arrays = []
        needs_grad = counted = False
        for x in inputs:
            if not isinstance(x, Tensor):                  # ndarrays and scalars: constants
                return cls.apply(*[as_tensor(x) for x in inputs], **params)
            arrays.append(x._data)
            if x.requires_grad:
                needs_grad = True
            if x._vc is not None:
                counted = True
        ctx.parents = inputs
        if mode.trace is not None:                # tg.compile: outside arrays become live
            for x in inputs:
                mode.trace.adopt(x)
            arrays = [x._data for x in inputs]
        try:
            out = cls.forward(ctx, *arrays, **params) if params else cls.forward(ctx, *arrays)
        except OpError:
            raise
        except ValueError as e:
            raise ValueError(_named(cls.__name__, str(e), arrays)) from None
        if type(out) is not ndarray:
            out = _as_array(ctx, out)
        if mode.anomaly:
            ctx.site = user_site()
            check_finite(out, cls.__name__, "forward", ctx.site)
        result = _new(Tensor)          # Tensor's fields, as in tensor._init (inlined: hot path)
        result._data = out
        result._grad = None
        if needs_grad and mode.grad_enabled:
            result.requires_grad, result.grad_fn = True, ctx
            ctx.seq = next(clock)
            ctx.call = mode.call
            if counted and ctx.saved_tensors:            # else every input is at version 0
                ctx.versions = versions = []             # (a loop: cheaper than a list
                for x in inputs:                         # comprehension in CPython 3.11)
                    vc = x._vc
                    versions.append(0 if vc is None else vc[0])
        else:
            result.requires_grad, result.grad_fn = False, None
        if cls.view and np.may_share_memory(out, arrays[0]):
            share_version(result, inputs[0])
        return result


def _named(op: str, msg: str, arrays: list) -> str:
    """A NumPy error message, starting with the op's name (once) and ending with the shapes."""
    head, _, rest = msg.partition(":")
    if rest and head.strip().lower() == op.lower():      # NumPy's own "matmul: ..."
        msg = rest.strip()
    shapes = ", ".join(str(a.shape) for a in arrays)
    return f"{op}: {msg}; input shapes {shapes}"


def _as_array(ctx: Function, out: Any) -> ndarray:
    """NumPy returns scalars from 0-d operations; keep `.data` an array, and keep a saved
    output recognisable as the output."""
    arr = np.asanyarray(out)
    for s in ctx.saved_tensors:
        if s is out:
            ctx.saved_tensors = tuple(arr if s is out else s for s in ctx.saved_tensors)
            break
    return arr


def user_site() -> str:
    """The user's line that called into the package (for anomaly messages)."""
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
    return "<unknown>" if f is None else f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}"


def check_finite(arr: Any, op: str, phase: str, site: str) -> None:
    """Anomaly mode: raise at the first NaN or Inf, naming the op and where it was created."""
    a = arr._data if isinstance(arr, Tensor) else arr
    if a is not None and a.dtype.kind in "fc" and not np.isfinite(a).all():
        what = "nan" if np.isnan(a).any() else "inf"
        raise FloatingPointError(f"{op} produced {what} in its {phase}; the op was created at {site}")
