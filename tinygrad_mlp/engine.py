"""The backward engine: one pure function, `compute_grads`, and two thin wrappers over it,
`backward` (accumulates into `.grad`) and `grad` (returns).

Order: every recorded node has a sequence number larger than its inputs' (`Function.apply`
takes them from one clock), so the reachable nodes sorted by decreasing number are a
topological order: no recursive search, and a 1,000,000-op chain is just a long list.

Each node's `backward` turns the gradient of its output into gradients of its inputs; the
engine undoes broadcasting (`unbroadcast`, the one place), sums contributions at nodes used
more than once, and releases each node's saved values and inputs after use unless
`retain_graph`, so a loss kept after backward holds only its value.

Built-in ops run their backward on plain ndarrays (NumPy speed). With `create_graph=True`
backward rules receive Tensors and are recorded, so gradients can be differentiated again;
custom Functions always receive Tensors, as documented.
"""
from __future__ import annotations

from heapq import heappop, heappush
from operator import attrgetter
from typing import Any, Sequence

import numpy as np
from numpy import ndarray

from .function import Function, check_finite
from .mode import _local
from .tensor import Tensor, _init, as_tensor, last_change, rebased, wrap

_new = object.__new__

_FREED = ("freed",)               # a released node's saved values (and inputs)
_seq_of = attrgetter("grad_fn.seq")


# ---------------------------------------------------------------- order
def as_recorded(p: Tensor, seq: int) -> Tensor:
    """The Tensor that input `p` stood for when the node numbered `seq` recorded it: a
    recorded in-place op since then gave `p` a newer node, whose `inplace_of` is the Tensor
    with the value and history `p` had before (Tensor._record_inplace)."""
    while p.grad_fn is not None and p.grad_fn.seq > seq:
        p = p.grad_fn.inplace_of
    return p


def inputs_of(t: Tensor) -> tuple[Tensor, ...]:
    """The inputs of the node that made `t`, as they were when it was recorded."""
    ctx = t.grad_fn
    if not rebased[0]:
        return ctx.parents
    return tuple(as_recorded(p, ctx.seq) for p in ctx.parents)


def reachable(roots: Sequence[Tensor]) -> list[Tensor]:
    """Non-leaf Tensors reachable from `roots` that need grad, outputs before inputs."""
    seen: dict[Tensor, None] = {}
    stack = [r for r in roots if r.grad_fn is not None]
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen[t] = None
        for p in inputs_of(t):
            if p.grad_fn is not None and p.requires_grad:
                stack.append(p)
    return sorted(seen, key=_seq_of, reverse=True)


def _needed(order: list[Tensor], wanted: set[Tensor]) -> set[Tensor]:
    """The nodes on a path to a wanted Tensor: only they run when `tg.grad` asks for given
    inputs (so the graph below an intermediate input is neither computed nor freed)."""
    need: set[Tensor] = set()
    for t in reversed(order):                        # inputs before outputs
        for p in inputs_of(t):
            if p in wanted or p in need:
                need.add(t)
                break
    return need


# ---------------------------------------------------------------- the chain rule
def compute_grads(roots: Sequence[Tensor], root_grads: Sequence[Any], inputs: Sequence[Tensor] | None,
                  retain_graph: bool, create_graph: bool) -> dict[Tensor, Any]:
    """Gradients of `roots` (weighted by `root_grads`) for every Tensor in `inputs`, or, when
    `inputs` is None, for every leaf that requires grad and every non-leaf that retains grad.
    Touches no `.grad`. Values are ndarrays, or Tensors under `create_graph`.

    Nodes run latest first (a heap keyed by sequence number): when a node is popped, every
    node that uses its output has run, so its gradient is complete. A Tensor enters the heap
    when its first gradient contribution arrives."""
    grads: dict[Tensor, Any] = {}
    heap: list[tuple[int, Tensor]] = []
    wanted = None if inputs is None else set(inputs)
    need = None if wanted is None else _needed(reachable(roots), wanted)
    out: dict[Tensor, Any] = {}
    mode = _local.mode
    anomaly, prev = mode.anomaly, mode.grad_enabled
    fast = not (create_graph or anomaly)          # built-in ops run on raw arrays
    moved = rebased[0]
    mode.grad_enabled = create_graph
    arriving = zip(roots, root_grads)             # gradient contributions to add up
    ctx = None                                    # the node whose input gradients arrive
    try:
        while True:
            for p, pg in arriving:
                if pg is None or not p.requires_grad:
                    continue
                if pg.shape != p._data.shape:
                    pg = _unbroadcast_checked(pg, p._data.shape, ctx)
                if p in grads:
                    grads[p] = grads[p] + pg
                else:
                    grads[p] = pg
                    if p.grad_fn is not None:
                        heappush(heap, (-p.grad_fn.seq, p))
            if not heap:
                break
            t = heappop(heap)[1]
            g = grads.pop(t)
            if t._retains_grad if wanted is None else t in wanted:
                out[t] = g
            arriving = ()
            if need is not None and t not in need:
                continue
            ctx = t.grad_fn
            parents = inputs_of(t) if moved else ctx.parents
            if fast and type(ctx).raw_backward:
                saved = ctx.saved_tensors
                if saved is _FREED or saved and ctx.seq < last_change[0]:
                    _check_saved(ctx, t)
                in_grads = type(ctx).backward(ctx, g)
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,)
            else:
                in_grads = _node_backward(ctx, t, g, create_graph, anomaly)
            if not retain_graph:     # free the node: saved values, inputs and op constants
                ctx.saved_tensors, ctx.parents = _FREED, ()
                ctx.__dict__.clear()
            arriving = zip(parents, in_grads)
    finally:
        mode.grad_enabled = prev
    for t, g in grads.items():                    # now only leaves are left
        if wanted is None or t in wanted:
            out[t] = g
    return out


def _node_backward(ctx: Function, t: Tensor, g: Any, create: bool, anomaly: bool) -> tuple:
    """One node's local backward on the general path (create_graph, anomaly mode, custom
    Functions): input gradients as a tuple of ndarrays or (create_graph) Tensors, checked for
    count and, in anomaly mode, for NaN/Inf."""
    cls = type(ctx)
    saved = ctx.saved_tensors
    if saved is _FREED or saved and ctx.seq < last_change[0]:
        _check_saved(ctx, t)
    raw = cls.raw_backward and not create
    if not raw:
        ctx.saved_tensors = _saved_as_tensors(ctx, t, create)
        g = g if isinstance(g, Tensor) else wrap(g)
    try:
        in_grads = cls.backward(ctx, g)
    except FloatingPointError as e:
        if not anomaly:
            raise
        raise FloatingPointError(         # from an op this backward recorded (create_graph)
            f"{cls.__name__} produced a non-finite value in its backward ({e}); the op was "
            f"created at {getattr(ctx, 'site', '<unknown>')}") from None
    finally:
        ctx.saved_tensors = saved
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    if len(in_grads) != len(ctx.parents):
        raise RuntimeError(f"{cls.__name__}.backward returned {len(in_grads)} gradients for "
                           f"{len(ctx.parents)} inputs")
    if not raw:
        in_grads = tuple(None if pg is None else _currency(pg, create) for pg in in_grads)
    if anomaly:
        for pg in in_grads:
            if pg is not None:
                check_finite(pg, cls.__name__, "backward", getattr(ctx, "site", "<unknown>"))
    return in_grads


def node_grads(t: Tensor, g: Any) -> tuple[ndarray | None, ...]:
    """One step of the chain rule, for looking at it (`viz.backward_steps`): the gradients the
    node that made `t` sends to its inputs (`inputs_of(t)`, in order) for the upstream gradient
    `g` (same shape as `t`), as ndarrays, or None for an input that needs none.

    They are what the node's backward returns, before the engine undoes broadcasting: for an
    elementwise op they have the broadcast shape (so `node_grads(t, ones)` is the elementwise
    local derivative); `unbroadcast(pg, p.shape)` is what backward adds into input `p`. Nothing
    is recorded, stored or freed, so the graph stays usable; a graph already freed by backward
    raises the engine's usual RuntimeError."""
    if t.grad_fn is None:
        raise ValueError("node_grads: t is a leaf; it has no node to run backward through")
    g = np.asarray(g._data if isinstance(g, Tensor) else g, dtype=t.dtype)
    if g.shape != t.shape:
        raise ValueError(f"node_grads: g has shape {g.shape} but t has shape {t.shape}")
    mode = _local.mode
    prev, mode.grad_enabled = mode.grad_enabled, False
    try:
        in_grads = _node_backward(t.grad_fn, t, g, False, False)
    finally:
        mode.grad_enabled = prev
    return tuple(None if pg is None else np.asarray(pg._data if isinstance(pg, Tensor) else pg)
                 for pg in in_grads)


def _check_saved(ctx: Function, out: Tensor) -> None:
    """Refuse a node whose saved values were freed by an earlier backward, or whose saved
    inputs (or output) were changed in place since forward."""
    if ctx.saved_tensors is _FREED:
        raise RuntimeError(
            f"Trying to backward through the graph a second time (op {type(ctx).__name__}): its "
            "saved values were freed by the first backward. Pass retain_graph=True to the first "
            "backward() if you need to backward through the graph again.")
    versions = ctx.versions or [0] * len(ctx.parents)
    for s in ctx.saved_tensors:
        for i, p in enumerate(ctx.parents):
            if p._data is s and p._version != versions[i]:
                _version_error(ctx, f"input {i}", p, versions[i])
        if s is out._data and out._version != 0:
            _version_error(ctx, "output", out, 0)


def _currency(g: Any, create: bool) -> Any:
    """A gradient returned by a backward rule as the engine's currency: a Tensor under
    create_graph, else an ndarray (custom Functions may return either, or array-likes)."""
    if create:
        return as_tensor(g)
    return g._data if isinstance(g, Tensor) else np.asanyarray(g)


def _version_error(ctx: Function, which: str, t: Tensor, saved: int) -> None:
    raise RuntimeError(
        f"one of the values needed for gradient computation has been modified by an in-place "
        f"operation: {type(ctx).__name__} saved its {which} (shape {t.shape}, dtype {t.dtype}) "
        f"at version {saved}, and it is now at version {t._version}. Compute it again after "
        "the change, or make the change out of place (e.g. `x = x + 1`)")


def _saved_as_tensors(ctx: Function, out: Tensor, create: bool) -> tuple:
    """Saved values as Tensors for a backward that works on Tensors. Under create_graph the
    op's own inputs and output come back as the graph's Tensors, so the backward is recorded
    against them; a saved floating array that is neither is refused there (it would be a
    constant, and the second derivative silently wrong)."""
    res = []
    for s in ctx.saved_tensors:
        if not isinstance(s, (ndarray, np.generic)):
            res.append(s)
        elif s is out._data:
            res.append(out)
        else:
            match = next((p for p in ctx.parents if p._data is s), None)
            if match is not None:
                res.append(match)
            elif create and s.dtype.kind in "fc":
                raise RuntimeError(
                    f"{type(ctx).__name__} can only be differentiated once: its forward saved an "
                    "array that is neither one of its inputs nor its output, so create_graph=True "
                    "would treat it as a constant and give wrong higher derivatives. Save the "
                    "inputs (or the output) and recompute the intermediate in backward; keep true "
                    "constants (masks) as ctx attributes instead of saving them.")
            else:
                res.append(wrap(s))
    return tuple(res)


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum a gradient over the axes broadcasting added or stretched, back to `shape`.
    Works on ndarrays and Tensors alike: the one place broadcasting is undone."""
    lead = g.ndim - len(shape)
    stretched = tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    if not stretched and shape:
        return g.sum(axis=tuple(range(lead)))     # a fresh array of exactly `shape`
    return g.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)


def _unbroadcast_checked(g: Any, shape: tuple[int, ...], ctx: Function | None) -> Any:
    try:
        if np.broadcast_shapes(g.shape, shape) != g.shape:
            raise ValueError
    except ValueError:
        op = "backward" if ctx is None else type(ctx).__name__
        raise RuntimeError(f"{op}.backward returned a gradient of shape {g.shape} for an input "
                           f"of shape {shape}") from None
    return unbroadcast(g, shape)


# ---------------------------------------------------------------- public entry points
def backward(t: Tensor, gradient: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """`Tensor.backward`: accumulate d t / d leaf into every leaf's `.grad`."""
    if not t.requires_grad:
        raise RuntimeError("backward() called on a Tensor that does not require grad: no input "
                           "of the computation had requires_grad=True (or it ran under no_grad)")
    g = _root_grad(t, gradient, create_graph, "backward")
    retain = create_graph if retain_graph is None else retain_graph
    grads = compute_grads((t,), (g,), None, retain, create_graph)
    _accumulate(grads, g, create_graph)


def _accumulate(grads: dict[Tensor, Any], root_grad: Any, create: bool) -> None:
    """Add each gradient into its Tensor's `.grad`. A stored gradient is always the Tensor's
    own, writable, in its dtype: never an alias of the upstream gradient, of another tensor's
    gradient, or of a read-only broadcast (copies are made only in those cases)."""
    if create:
        _accumulate_graph(grads, root_grad)
        return
    used = {id(root_grad)}
    for t, g in grads.items():
        dtype = t._data.dtype
        if t._grad is not None:
            g = np.add(t._grad._data, g, dtype=dtype)
        elif g.base is not None or g.dtype is not dtype or id(g) in used:
            g = g.astype(dtype)                   # a copy
        if type(g) is not ndarray and isinstance(g, np.generic):   # NumPy's 0-d results
            g = np.array(g)
        used.add(id(g))
        t._grad = _init(_new(Tensor), g, None, False)


def _accumulate_graph(grads: dict[Tensor, Any], root_grad: Any) -> None:
    """`_accumulate` under create_graph: the sums, casts and copies are recorded, so each
    `.grad` is its own differentiable Tensor."""
    used = {id(root_grad)}
    prev = _local.mode.grad_enabled
    _local.mode.grad_enabled = True
    try:
        for t, g in grads.items():
            dtype = t._data.dtype
            if g.dtype != dtype:
                g = g.astype(dtype)
            if t._grad is not None:
                g = t._grad + g
            elif id(g) in used or g.grad_fn is None and not _owned(g._data):
                g = g.clone()
            used.add(id(g))
            t._grad = g
    finally:
        _local.mode.grad_enabled = prev


def _owned(a: ndarray) -> bool:
    """A fresh, writable array of its own (not a view someone else may hold or write)."""
    return a.base is None and a.flags.writeable


def _root_grad(t: Tensor, gradient: Any, create: bool, where: str) -> Any:
    data = t._data                                   # (fields, not properties: every call)
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"{where}: gradient can be implicitly created only for a single-element output, "
                f"got shape {data.shape}; pass gradient= (same shape) or reduce first, e.g. .sum()")
        g = _one(data.dtype) if data.ndim == 0 else np.ones(data.shape, dtype=data.dtype)
        return wrap(g) if create else g
    if isinstance(gradient, Tensor):
        g = gradient if create else gradient._data
    else:
        g = gradient if type(gradient) is ndarray and gradient.dtype == data.dtype else \
            np.asarray(gradient, dtype=data.dtype)
        g = wrap(g) if create else g
    if g.shape != data.shape:
        raise ValueError(f"{where}: gradient has shape {g.shape} but the output has shape "
                         f"{data.shape}")
    return g


_ONES: dict[np.dtype, ndarray] = {}


def _one(dtype: np.dtype) -> ndarray:
    """The gradient of a scalar loss with respect to itself: a cached read-only 0-d one
    (backward rules never write into their gradient; stored gradients are copied from it)."""
    one = _ONES.get(dtype)
    if one is None:
        one = _ONES[dtype] = np.ones((), dtype)
        one.flags.writeable = False
    return one


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False) -> tuple[Tensor, ...]:
    """d outputs / d inputs as a tuple of Tensors, one per input (zeros where an input does not
    affect the outputs). Leaves' `.grad` is not touched; only the part of the graph between
    the outputs and the inputs runs (and, without retain_graph, is freed)."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    elif isinstance(grad_outputs, (Tensor, ndarray)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outs):
        raise ValueError(f"grad(): {len(grad_outputs)} grad_outputs for {len(outs)} outputs; "
                         "give one per output (None for a single-element output)")
    for o in outs:
        if not o.requires_grad:
            raise RuntimeError("grad(): an output does not require grad")
    for x in ins:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError("grad(): every input must be a Tensor that requires grad")
    root_grads = [_root_grad(o, g, create_graph, "grad()") for o, g in zip(outs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    found = compute_grads(outs, root_grads, ins, retain, create_graph)
    result = []
    for x in ins:
        g = found.get(x)
        if g is None:
            result.append(wrap(np.zeros(x.shape, dtype=x.dtype)))
        elif isinstance(g, Tensor):
            result.append(g if g.dtype == x.dtype else g.astype(x.dtype))
        else:
            result.append(wrap(g.astype(x.dtype)))
    return tuple(result)
