"""Recording and replaying the graph: `Function`, the backward engine, `no_grad`, `grad`,
`detect_anomaly`.

A `Function` subclass is one primitive op: `forward` on ndarrays, `backward` on gradients.
`Function.apply` runs `forward` and, when grad mode is on and some input requires grad, records
the instance itself as the node (`ctx`) of the output: it keeps the input Tensors (`parents`) and
whatever `forward` saved. There is no other graph structure, so a graph lives exactly as long
as the Tensor at its end (no reference cycles: a node never points at its own output).

`backward` rules are written with operations that Tensors and ndarrays share (`* / @ .sum
.reshape` and the dual helpers in ops). With `create_graph=True` they receive Tensors and are
recorded, so gradients can be differentiated again; otherwise ops that set `raw_backward = True`
receive plain ndarrays and run at NumPy speed. Other Functions always see Tensors, as documented.
"""
from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterable, Sequence

import numpy as np

from .tensor import Tensor


class _State:
    """Process-wide switches, read once per op."""
    __slots__ = ("grad_enabled", "anomaly", "module")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.module = None   # the nn.Module whose forward is running (for viz clusters)


STATE = _State()
_FREED = ("freed",)            # marks a node whose saved buffers backward released
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class Function:
    """Base of every primitive op. Subclass with static `forward(ctx, *arrays, **params)` and
    `backward(ctx, grad)`, then call `MyOp.apply(*tensors, **params)`."""
    __slots__ = ("parents", "saved_tensors", "module", "site", "__dict__")
    raw_backward = False   # True: backward also accepts/returns plain ndarrays (fast path)

    def save_for_backward(self, *values: Any) -> None:
        """Keep arrays for backward. Inputs and the output saved here are handed back as their
        Tensors under create_graph, so the backward can be differentiated again."""
        self.saved_tensors = values

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        return tuple(p.requires_grad for p in self.parents)

    @staticmethod
    def forward(ctx: "Function", *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: "Function", grad: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        ctx = cls.__new__(cls)
        ctx.saved_tensors = ()
        try:
            arrays = [t.data for t in inputs]
        except AttributeError:
            inputs = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in inputs)
            arrays = [t.data for t in inputs]
        ctx.parents = inputs
        try:
            out = cls.forward(ctx, *arrays, **params)
        except ValueError as e:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"{cls.__name__}: {str(e).strip()}; input shapes {shapes}") from None
        if type(out) is not np.ndarray:
            out = _as_array(ctx, out)
        if STATE.anomaly:
            ctx.site = _user_site()
            _check_finite(out, cls.__name__, "forward", ctx.site)
        result = Tensor.__new__(Tensor)
        result.data = out
        result.grad = None
        result.label = None
        result._retains_grad = False
        if STATE.grad_enabled:
            for t in inputs:
                if t.requires_grad:
                    ctx.module = STATE.module
                    result.requires_grad = True
                    result._ctx = ctx
                    return result
        result.requires_grad = False
        result._ctx = None
        return result


def _as_array(ctx: Function, out: Any) -> np.ndarray:
    """NumPy returns scalars from 0-d reductions; keep `.data` an ndarray, and keep a saved
    output recognisable as the output."""
    arr = np.asarray(out)
    saved = ctx.saved_tensors
    for s in saved:
        if s is out:
            ctx.saved_tensors = tuple(arr if s is out else s for s in saved)
            break
    return arr


# ---------------------------------------------------------------- modes
class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        self.prev = STATE.grad_enabled
        STATE.grad_enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        STATE.grad_enabled = self.prev


class no_grad(_GradMode):
    """Context manager and decorator: ops inside record nothing."""
    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(_GradMode):
    def __init__(self) -> None:
        super().__init__(True)


def is_grad_enabled() -> bool:
    return STATE.grad_enabled


class detect_anomaly(contextlib.ContextDecorator):
    """Raise `FloatingPointError` at the first op whose forward or backward yields NaN/Inf,
    naming the op and the user's line that created it."""

    def __enter__(self) -> None:
        self.prev = STATE.anomaly
        STATE.anomaly = True

    def __exit__(self, *exc: Any) -> None:
        STATE.anomaly = self.prev


def _user_site() -> str:
    f = sys._getframe(2)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
    return "<unknown>" if f is None else f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}"


def _check_finite(arr: Any, op: str, phase: str, site: str) -> None:
    a = arr.data if isinstance(arr, Tensor) else arr
    if a is not None and a.dtype.kind in "fc" and not np.isfinite(a).all():
        what = "nan" if np.isnan(a).any() else "inf"
        raise FloatingPointError(f"{op} produced {what} in its {phase}; the op was created at {site}")


# ---------------------------------------------------------------- the engine
_POST = object()   # stack marker in toposort: the tensor below it has all its inputs placed


def toposort(roots: Iterable[Tensor]) -> list[Tensor]:
    """Non-leaf Tensors reachable from `roots` that need grad, inputs before outputs.
    Iterative depth-first search: no recursion, so million-op chains are fine. A tensor is
    pushed, then `_POST`, then its inputs; popping `_POST` means the tensor's inputs are done."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[Any] = list(roots)
    push, pop, mark = stack.append, stack.pop, seen.add
    while stack:
        t = pop()
        if t is _POST:
            order.append(pop())
            continue
        ctx = t._ctx
        if ctx is None or id(t) in seen:
            continue
        mark(id(t))
        push(t)
        push(_POST)
        for p in ctx.parents:
            if p._ctx is not None and p.requires_grad and id(p) not in seen:
                push(p)
    return order


def run_backward(roots: Sequence[Tensor], root_grads: Sequence[Any], retain_graph: bool,
                 create_graph: bool, capture: list[Tensor] | None = None) -> dict[int, Any] | None:
    """Propagate `root_grads` from `roots` to the leaves. Without `capture` gradients are
    accumulated into leaves' `.grad` (and retain_grad non-leaves); with it they are returned
    as {id(tensor): gradient} for those tensors only and `.grad` is left alone.
    A leaf's contributions are summed as they arrive and stored once, at the end."""
    grads: dict[int, Any] = {}
    leaves: dict[int, Tensor] = {}   # leaves that receive a gradient (only wanted ones with capture)
    fresh: set[int] = set()          # arrays handed out already: hand out copies, never aliases
    wanted = None if capture is None else {id(t) for t in capture}
    for r, g in zip(roots, root_grads):
        fresh.add(id(g))
        k = id(r)
        grads[k] = grads[k] + g if k in grads else g
        if r._ctx is None and (wanted is None or k in wanted):
            leaves[k] = r
    captured: dict[int, Any] = {}

    def deliver(t: Tensor, g: Any) -> None:
        if wanted is None:
            g = _owned(g, t, fresh, create_graph)
            if t.grad is None:
                t.grad = g
            else:   # asarray: 0-d + 0-d gives a NumPy scalar, and .grad.data must be an ndarray
                t.grad = t.grad + g if create_graph else Tensor._wrap(np.asarray(t.grad.data + g.data))
        elif id(t) in wanted:
            k = id(t)
            captured[k] = captured[k] + g if k in captured else g

    prev = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    try:
        for t in reversed(toposort(roots)):
            g = grads.pop(id(t), None)
            if g is None:
                continue
            if t._retains_grad or (wanted is not None and id(t) in wanted):
                deliver(t, g)
            _backward_node(t, g, grads, leaves, wanted, retain_graph, create_graph)
        for k, t in leaves.items():
            deliver(t, grads.pop(k))
    finally:
        STATE.grad_enabled = prev
    return captured


def _backward_node(t: Tensor, g: Any, grads: dict, leaves: dict, wanted: set | None,
                   retain: bool, create: bool) -> None:
    """Run one node's backward and add its input gradients into `grads` (leaves included,
    registered in `leaves`; with `wanted`, leaves not asked for are skipped)."""
    ctx = t._ctx
    cls = type(ctx)
    saved = ctx.saved_tensors
    if saved is _FREED:
        raise RuntimeError(
            f"Trying to backward through the graph a second time (op {cls.__name__}): its saved "
            "values were freed by the first backward. Pass retain_graph=True to the first "
            "backward() if you need to backward through the graph again.")
    if create or not cls.raw_backward:
        ctx.saved_tensors = _as_tensors(saved, ctx.parents, t, create)
        g = g if isinstance(g, Tensor) else Tensor._wrap(g)
    try:
        in_grads = cls.backward(ctx, g)
    finally:
        ctx.saved_tensors = saved if retain else _FREED
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    parents = ctx.parents
    if len(in_grads) != len(parents):
        raise RuntimeError(f"{cls.__name__}.backward returned {len(in_grads)} gradients for "
                           f"{len(parents)} inputs")
    anomaly = STATE.anomaly
    for p, pg in zip(parents, in_grads):
        if pg is None or not p.requires_grad:
            continue
        k = id(p)
        if p._ctx is None:
            if wanted is not None and k not in wanted:
                continue
            leaves[k] = p
        if create:
            if not isinstance(pg, Tensor):
                pg = Tensor._wrap(np.asarray(pg))
        elif type(pg) is Tensor or isinstance(pg, Tensor):
            pg = pg.data
        if pg.shape != p.data.shape:
            pg = _unbroadcast_checked(pg, p.data.shape, cls.__name__)
        if anomaly:
            _check_finite(pg, cls.__name__, "backward", getattr(ctx, "site", "<unknown>"))
        grads[k] = grads[k] + pg if k in grads else pg


def _as_tensors(saved: tuple, parents: tuple, out: Tensor, create: bool) -> tuple:
    """Saved arrays as Tensors for a backward that works on Tensors. Under create_graph the
    op's own inputs and output come back as the graph's Tensors, so the backward is recorded
    against them; anything else is a constant."""
    res = []
    for i, s in enumerate(saved):
        if not isinstance(s, np.ndarray):
            res.append(s)
            continue
        if create:
            if i < len(parents) and parents[i].data is s:
                res.append(parents[i])
                continue
            if s is out.data:
                res.append(out)
                continue
            match = next((p for p in parents if p.data is s), None)
            if match is not None:
                res.append(match)
                continue
        res.append(Tensor._wrap(s))
    return tuple(res)


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum a gradient over the axes broadcasting added or stretched, back to `shape`.
    Works on ndarrays and Tensors alike: the one place broadcasting is undone."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and g.shape[i + lead] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _unbroadcast_checked(g: Any, shape: tuple[int, ...], op: str) -> Any:
    try:
        if np.broadcast_shapes(g.shape, shape) != g.shape:
            raise ValueError
        return unbroadcast(g, shape)
    except ValueError:
        raise RuntimeError(f"{op}.backward returned a gradient of shape {g.shape} for an input "
                           f"of shape {shape}") from None


def _owned(g: Any, like: Tensor, fresh: set[int], create: bool) -> Tensor:
    """A gradient to store in `.grad`: its own writable array of the leaf's dtype, never an
    alias of the upstream gradient or of another leaf's gradient."""
    if create:
        return g if g.dtype == like.dtype else g.astype(like.dtype)
    if id(g) in fresh or g.base is not None or not g.flags.writeable or g.dtype != like.dtype:
        g = np.array(g, dtype=like.dtype)
    fresh.add(id(g))
    return Tensor._wrap(g)


# ---------------------------------------------------------------- public entry points
def backward(t: Tensor, gradient: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False) -> None:
    """`Tensor.backward`: accumulate d t / d leaf into every leaf's `.grad`."""
    if not t.requires_grad:
        raise RuntimeError("backward() called on a Tensor that does not require grad: no input "
                           "of the computation had requires_grad=True (or it ran under no_grad)")
    g = _root_grad(t, gradient, create_graph, "backward")
    run_backward((t,), (g,), create_graph if retain_graph is None else retain_graph, create_graph)


def _root_grad(t: Tensor, gradient: Any, create: bool, where: str) -> Any:
    if gradient is None:
        if t.size != 1:
            raise RuntimeError(
                f"{where}: gradient can be implicitly created only for a single-element output, "
                f"got shape {t.shape}; pass gradient= (same shape) or reduce first, e.g. .sum()")
        g = np.ones(t.shape, dtype=t.dtype)
        return Tensor._wrap(g) if create else g
    if isinstance(gradient, Tensor):
        g = gradient if create else gradient.data
    else:
        g = np.asarray(gradient, dtype=t.dtype)
        g = Tensor._wrap(g) if create else g
    if g.shape != t.shape:
        raise ValueError(f"{where}: gradient has shape {g.shape} but the output has shape {t.shape}")
    return g


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False) -> tuple[Tensor, ...]:
    """d outputs / d inputs as a tuple of Tensors, one per input (zeros where an input does not
    affect the outputs). Leaves' `.grad` is not touched."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outs) if len(outs) == 1 else grad_outputs
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    for o in outs:
        if not o.requires_grad:
            raise RuntimeError("grad(): an output does not require grad")
    root_grads = [_root_grad(o, g, create_graph, "grad()") for o, g in zip(outs, grad_outputs)]
    captured = run_backward(outs, root_grads, create_graph if retain_graph is None else retain_graph,
                            create_graph, capture=ins)
    result = []
    for x in ins:
        g = captured.get(id(x))
        if g is None:
            result.append(Tensor._wrap(np.zeros(x.shape, dtype=x.dtype)))
        elif isinstance(g, Tensor):
            result.append(g)
        else:
            result.append(Tensor._wrap(np.array(g, dtype=x.dtype)))
    return tuple(result)
