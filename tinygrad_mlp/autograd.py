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
import operator
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
_REQUIRES_GRAD = operator.attrgetter("requires_grad")
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
        return tuple(map(_REQUIRES_GRAD, self.parents))

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
            msg = str(e).strip()
            first = msg.split(" ", 1)[0]                  # "linear:" from Linear's own check
            named = first.endswith(":") and first[:-1].replace("_", "") == cls.__name__.lower()
            raise ValueError(f"{'' if named else cls.__name__ + ': '}{msg}; input shapes {shapes}") from None
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
class _Switch(contextlib.ContextDecorator):
    """Sets one STATE flag for a `with` block or a decorated function. The previous values
    are kept on a stack, so one instance can be re-entered (a decorated function that
    recurses, or calls another function decorated by the same instance)."""
    flag = ""
    value = False

    def __init__(self) -> None:
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(getattr(STATE, self.flag))
        setattr(STATE, self.flag, self.value)

    def __exit__(self, *exc: Any) -> None:
        setattr(STATE, self.flag, self._prev.pop())


class _BareDecorator(_Switch):
    """Also usable without parentheses (`@tg.no_grad`), as in PyTorch."""
    def __new__(cls, func: Any = None) -> Any:
        self = super().__new__(cls)
        if func is None:
            return self
        self.__init__()
        return self(func)

    def __init__(self, func: Any = None) -> None:
        super().__init__()


class no_grad(_BareDecorator):
    """Context manager and decorator: ops inside record nothing."""
    flag, value = "grad_enabled", False


class enable_grad(_BareDecorator):
    """Context manager and decorator: ops inside record again (inside a no_grad block)."""
    flag, value = "grad_enabled", True


def is_grad_enabled() -> bool:
    """Whether ops are being recorded right now (False inside `no_grad`)."""
    return STATE.grad_enabled


class detect_anomaly(_Switch):
    """Raise `FloatingPointError` at the first op whose forward or backward yields NaN/Inf,
    naming the op and the user's line that created it."""
    flag, value = "anomaly", True


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
# Tensors key the engine's dicts and sets directly: they hash by identity, and distinct live
# objects never share a hash, so Tensor.__eq__ (elementwise) is never called by a lookup.
_POST = object()   # stack marker in toposort: the tensor below it has all its inputs placed


def toposort(roots: Iterable[Tensor]) -> list[Tensor]:
    """Non-leaf Tensors reachable from `roots` that need grad, inputs before outputs.
    Iterative depth-first search: no recursion, so million-op chains are fine. A tensor is
    pushed, then `_POST`, then its inputs; popping `_POST` means the tensor's inputs are done."""
    order: list[Tensor] = []
    seen: set[Tensor] = set()
    stack: list[Any] = list(roots)
    push, pop, mark = stack.append, stack.pop, seen.add
    while stack:
        t = pop()
        if t is _POST:
            order.append(pop())
            continue
        ctx = t._ctx
        if ctx is None or t in seen:
            continue
        mark(t)
        push(t)
        push(_POST)
        for p in ctx.parents:
            if p._ctx is not None and p.requires_grad and p not in seen:
                push(p)
    return order


def run_backward(roots: Sequence[Tensor], root_grads: Sequence[Any], retain_graph: bool,
                 create_graph: bool, capture: Sequence[Tensor] | None = None) -> dict[Tensor, Any]:
    """Propagate `root_grads` from `roots` to the leaves, each node once, in reverse
    topological order. Without `capture`, gradients are accumulated into the `.grad` of leaves
    (and of non-leaves that retain_grad); with it they are returned as {tensor: gradient} for
    those tensors only and no `.grad` is touched. Gradients reaching a tensor are summed first
    and stored once, at the end."""
    grads: dict[Tensor, Any] = {}
    for r, g in zip(roots, root_grads):
        grads[r] = grads[r] + g if r in grads else g
    wanted = None if capture is None else set(capture)
    # tensors whose total gradient is kept: leaves reached, retain_grad non-leaves, captures
    keep: dict[Tensor, Any] = {r: None for r in roots
                               if r._ctx is None and (wanted is None or r in wanted)}
    anomaly = STATE.anomaly
    prev = STATE.grad_enabled
    STATE.grad_enabled = create_graph
    try:
        for t in reversed(toposort(roots)):
            g = grads.pop(t, None)
            if g is None:
                continue
            if t._retains_grad if wanted is None else t in wanted:
                keep[t] = g
            ctx = t._ctx
            cls = type(ctx)
            saved = ctx.saved_tensors
            if saved is _FREED:
                raise _freed_error(cls.__name__)
            if create_graph or not cls.raw_backward:
                ctx.saved_tensors = _as_tensors(saved, ctx.parents, t, create_graph)
                if not isinstance(g, Tensor):
                    g = Tensor._wrap(g)
            try:
                in_grads = cls.backward(ctx, g)
            finally:
                ctx.saved_tensors = saved if retain_graph else _FREED
            parents = ctx.parents
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(parents):
                raise RuntimeError(f"{cls.__name__}.backward returned {len(in_grads)} gradients "
                                   f"for {len(parents)} inputs")
            for p, pg in zip(parents, in_grads):
                if pg is None or not p.requires_grad:
                    continue
                if p._ctx is None:
                    if wanted is not None and p not in wanted:
                        continue
                    keep[p] = None
                if create_graph or type(pg) is not np.ndarray:
                    pg = _as_grad(pg, create_graph)
                if pg.shape != p.data.shape:
                    pg = _unbroadcast_checked(pg, p.data.shape, cls.__name__)
                if anomaly:
                    _check_finite(pg, cls.__name__, "backward", getattr(ctx, "site", "<unknown>"))
                grads[p] = grads[p] + pg if p in grads else pg
    finally:
        STATE.grad_enabled = prev
    for t, g in keep.items():
        keep[t] = grads.pop(t) if g is None else g
    if wanted is None:
        _store_grads(keep, {id(g) for g in root_grads}, create_graph)
    return keep


def _freed_error(op: str) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time (op {op}): its saved values were "
        "freed by the first backward. Pass retain_graph=True to the first backward() if you "
        "need to backward through the graph again.")


def _as_grad(g: Any, create: bool) -> Any:
    """A gradient returned by a backward rule as the engine's currency: a Tensor under
    create_graph, else an ndarray (custom Functions may return either, or array-likes)."""
    if create:
        return g if isinstance(g, Tensor) else Tensor._wrap(np.asarray(g))
    return np.asarray(g.data if isinstance(g, Tensor) else g)


def _store_grads(total: dict[Tensor, Any], given: set[int], create: bool) -> None:
    """Accumulate each tensor's total gradient into its `.grad`. Without create_graph the
    stored array is the tensor's own, writable, of its dtype: never an alias of the upstream
    gradient (`given`) or of another tensor's gradient."""
    for t, g in total.items():
        dtype = t.data.dtype
        if create:
            g = g if g.dtype == dtype else g.astype(dtype)
            t.grad = g if t.grad is None else t.grad + g
            continue
        if t.grad is not None:
            g = np.asarray(t.grad.data + g, dtype=dtype)  # 0-d + 0-d gives a NumPy scalar
        elif id(g) in given or g.base is not None or g.dtype is not dtype or not g.flags.writeable:
            g = np.array(g, dtype=dtype)
        given.add(id(g))
        t.grad = Tensor._wrap(g)


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
    if grad_outputs is None:
        grad_outputs = [None] * len(outs)
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outs):
        raise ValueError(f"grad(): {len(grad_outputs)} grad_outputs for {len(outs)} outputs; "
                         "give one per output (None for a single-element output)")
    for o in outs:
        if not o.requires_grad:
            raise RuntimeError("grad(): an output does not require grad")
    root_grads = [_root_grad(o, g, create_graph, "grad()") for o, g in zip(outs, grad_outputs)]
    captured = run_backward(outs, root_grads, create_graph if retain_graph is None else retain_graph,
                            create_graph, capture=ins)
    result = []
    for x in ins:
        g = captured.get(x)
        if g is None:
            result.append(Tensor._wrap(np.zeros(x.shape, dtype=x.dtype)))
        elif isinstance(g, Tensor):
            result.append(g)
        else:
            result.append(Tensor._wrap(np.array(g, dtype=x.dtype)))
    return tuple(result)
