"""`tg.compile`: trace a step once, replay its NumPy kernels on the same buffers.

The first call for a signature runs `fn` eagerly while a `Trace` records every NumPy operation
it makes on the traced data: ops' own forward and backward kernels, the engine's sums, the
optimizer's update. Recording works through `Traced`, an ndarray subclass: NumPy hands every
ufunc and function call that involves one to the trace (`__array_ufunc__`,
`__array_function__`). Each recorded call keeps its trace-time output array and writes into it
again at replay (`out=`), so views taken at trace time (reshapes, transposes, slices) stay
valid and need no recording, and a replay allocates nothing.

What an array is decides how a replay treats it:
- a step's output: recomputed by that step;
- an input: the trace's own copy, refreshed from the arguments at every call;
- live state (parameters, their gradients, optimizer buffers): the same array, read and
  written in place, so a replay sees the values of now;
- anything else the step reads (constants, and scratch arrays an op made with np.zeros): the
  same array; if a recorded step writes into part of it, its trace-time content is restored
  before its first use in every replay.
Python state that changes every step (an optimizer's step counts and learning rate) is
replayed by calling the Python function again (`mode.every_step`). After the trace, a step's
new output that is only copied whole into live state (an optimizer's flat gradient buffer)
is computed there directly and the copy dropped, when no other step could tell.

A replay is valid while the model and optimizer keep their structure: a new signature, a
replaced parameter array, a `load_state_dict`, or an optimizer whose buffers appeared traces
again. Reading a traced value into Python inside `fn` (through a Tensor or its array) raises
`TraceError`: a replay runs no Python, so the value (and any branch on it) would be frozen.
Under `detect_anomaly`, whose checks read every value, a compiled function runs eagerly.
"""
from __future__ import annotations

import functools
import struct
import threading
import warnings
from typing import Any, Callable

import numpy as np

from .mode import TraceError, _local, check_readable
from .tensor import Tensor, changes, owner_of as _root, wrap

__all__ = ["compile", "Compiled", "TraceError"]


# NumPy functions that only inspect their arguments (no array comes out): run, never recorded
_QUERIES = {np.may_share_memory, np.shares_memory, np.result_type, np.can_cast, np.ndim,
            np.shape, np.size, np.isscalar, np.iscomplexobj, np.isrealobj, np.array_equal,
            np.allclose, np.isclose}
# NumPy functions that write into their first argument
_MUTATORS = {np.copyto, np.put_along_axis, np.put, np.place, np.putmask, np.fill_diagonal}
# NumPy's error state object: the same object while the state is unchanged (an identity test
# is 20x cheaper than np.geterr(); without this private handle every step asks np.geterr())
_err_var = getattr(getattr(getattr(np, "_core", None), "umath", None), "_extobj_contextvar", None)
_err_token: Callable[[], Any] = _err_var.get if _err_var is not None else (lambda: None)
# ufuncs whose outputs must be passed by name (NumPy 2.4 deprecates a third positional)
_OUT_BY_NAME = {np.maximum, np.minimum}
# NumPy functions that take `out=` (a replay writes straight into the buffer)
_WITH_OUT = {np.dot, np.concatenate, np.sum, np.max, np.min, np.amax, np.amin, np.mean,
             np.prod, np.clip, np.take, np.cumsum}


def _plain(x: Any) -> Any:
    """A Traced array as a plain view of the same memory (replays run on these); tuples and
    lists element by element; anything else as it is."""
    if isinstance(x, Traced):
        return x.view(np.ndarray)
    if isinstance(x, (tuple, list)):
        return type(x)([_plain(v) for v in x])
    return x


def _arrays(x: Any) -> list[np.ndarray]:
    """The ndarrays in an argument (tuples and lists searched)."""
    if isinstance(x, np.ndarray):
        return [x]
    if isinstance(x, (tuple, list)):
        out: list[np.ndarray] = []
        for v in x:
            if isinstance(v, np.ndarray):
                out.append(v)
            elif isinstance(v, (tuple, list)):
                out += _arrays(v)
        return out
    return []


class Traced(np.ndarray):
    """An array whose NumPy operations the active trace records. Outside a trace (an array
    that leaked out) it computes like a plain array."""

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        for x in inputs + (kwargs.get("out") or ()):
            if isinstance(x, Tensor):     # Tensor.__array_ufunc__ runs it (a Tensor op, or
                return NotImplemented     # the kernel on its arrays, which comes back here)
        trace = _local.mode.trace
        if trace is None:
            out = kwargs.get("out")
            if out is not None:
                kwargs["out"] = _plain(out)
            return getattr(ufunc, method)(*_plain(inputs), **kwargs)
        return trace.ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        trace = _local.mode.trace
        if trace is None:
            return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})
        return trace.function(func, args, kwargs)

    # methods that make new data without a ufunc or a NumPy function
    def astype(self, dtype: Any, order: str = "K", casting: str = "unsafe", subok: bool = True,
               copy: bool = True) -> Any:
        if not copy and np.dtype(dtype) == self.dtype:
            return self
        return _record_copy(self, lambda a: a.astype(dtype, order=order, casting=casting),
                            same_shape=True)

    def copy(self, order: str = "C") -> Any:
        return _record_copy(self, lambda a: a.copy(order), same_shape=True)

    def reshape(self, *shape: Any, **kw: Any) -> Any:
        return _record_copy(self, lambda a: a.reshape(*shape, **kw), view_ok=True)

    def ravel(self, order: str = "C") -> Any:
        return _record_copy(self, lambda a: a.ravel(order), view_ok=True)

    def flatten(self, order: str = "C") -> Any:
        return _record_copy(self, lambda a: a.flatten(order))

    def dot(self, b: Any, out: Any = None) -> Any:
        return np.dot(self, b) if out is None else np.dot(self, b, out=out)

    def argmax(self, *args: Any, **kwargs: Any) -> Any:
        return _record_copy(self, lambda a: np.asarray(a.argmax(*args, **kwargs)))

    def argmin(self, *args: Any, **kwargs: Any) -> Any:
        return _record_copy(self, lambda a: np.asarray(a.argmin(*args, **kwargs)))

    def __getitem__(self, idx: Any) -> Any:
        trace = _local.mode.trace
        if trace is None:
            return np.ndarray.__getitem__(self, idx)
        return trace.read(lambda a, i: a[i], self, _plain(idx))

    def __setitem__(self, idx: Any, value: Any) -> None:
        if isinstance(value, Tensor):
            value = value._data
        trace = _local.mode.trace
        if trace is None:
            np.ndarray.__setitem__(self, idx, _plain(value))
            return
        trace.write(_setitem, self, _plain(idx), _plain(value))

    def fill(self, value: Any) -> None:
        self[...] = value

    # values into Python: refused while tracing (a replay would give the trace's value)
    def item(self, *args: Any) -> Any:
        _readable("ndarray.item()")
        return np.ndarray.item(self, *args)

    def tolist(self) -> Any:
        _readable("ndarray.tolist()")
        return np.ndarray.tolist(self)

    def __float__(self) -> float:
        _readable("float() of an ndarray")
        return np.ndarray.__float__(self)

    def __int__(self) -> int:
        _readable("int() of an ndarray")
        return np.ndarray.__int__(self)

    def __index__(self) -> int:
        _readable("an ndarray used as an index or size")
        return np.ndarray.__index__(self)

    def __complex__(self) -> complex:
        _readable("complex() of an ndarray")
        return np.ndarray.__complex__(self)

    def __bool__(self) -> bool:
        _readable("bool() of an ndarray (an `if` or `while` on an array)")
        return np.ndarray.__bool__(self)


def _readable(call: str) -> None:
    mode = _local.mode
    if mode.trace is not None:
        if mode.anomaly:
            raise TraceError(
                f"{call} inside a function being compiled by tg.compile, with detect_anomaly "
                "on: anomaly mode checks every value in Python, which a replay cannot do. Turn "
                "it on around the call instead (the compiled function then runs eagerly)")
        check_readable(call)


def _setitem(a: np.ndarray, idx: Any, value: Any) -> None:
    a[idx] = value


def _record_copy(arr: Traced, make: Callable[[np.ndarray], np.ndarray], view_ok: bool = False,
                 same_shape: bool = False) -> Any:
    """Record a method making new data from `arr`; `same_shape`: its values are `arr`'s, cast
    (copy, astype), so a replay copies them straight into the buffer (not a copy of a copy)."""
    trace = _local.mode.trace
    if trace is None:
        return make(arr.view(np.ndarray))
    into = _copy_into if same_shape else None
    return trace.read(lambda a, _: make(a), arr, None, view_ok=view_ok, into=into)


def _copy_into(buf: np.ndarray, a: np.ndarray) -> Callable[[], None]:
    return functools.partial(np.copyto, buf, a, casting="unsafe")


class Trace:
    """The recording of one call: the replay steps (callables) and what each array is."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], Any]] = []
        self.kind: dict[int, str] = {}                 # id(root) -> "out" | "input" | "live"
        self.keep: dict[int, np.ndarray] = {}          # every root seen (so ids stay valid)
        self.first: dict[int, tuple[int, np.ndarray]] = {}   # other roots: first step, content
        self.dirty: set[int] = set()                   # other roots a step writes into in part
        self.adopted: list[tuple[Tensor, np.ndarray, bool]] = []   # tensor, array, had a grad
        self.old_grads: dict[int, tuple[Tensor, np.ndarray]] = {}  # id(array) -> (tensor, array)
        self.grad_before: dict[int, Any] = {}          # id(tensor) -> its .grad when adopted
        self.grad_wraps: dict[int, Tensor] = {}        # id(tensor) -> the traced .grad it got
        self.read_old: set[int] = set()                # old gradients a step read
        self.resets: set[int] = set()                  # tensors whose .grad fn assigned
        self.optimizers: dict[int, Any] = {}
        self.structures: dict[int, tuple] = {}
        self.inputs: list[np.ndarray] = []
        self.err0 = np.geterr()                        # NumPy's error state around the call
        self.err_token = _err_token()
        # per step, the roots it reads (ids) and the arrays it writes (root id, array)
        self.touches: list[tuple[set[int], list[tuple[int, np.ndarray]]]] = []
        self._reads: set[int] = set()                  # (of the step being recorded)
        self._written: list[tuple[int, np.ndarray]] = []

    # ------------------------------------------------------------ what arrays are
    def _see(self, a: np.ndarray) -> None:
        root = _root(a)
        key = id(root)
        self._reads.add(key)
        if key in self.old_grads:
            self.read_old.add(key)
        if key not in self.keep:
            self.keep[key] = root
            self.first[key] = (len(self.steps), root.copy())

    def _empty(self, shape: tuple, dtype: Any) -> tuple[Traced, np.ndarray]:
        """A new buffer of the trace: the Traced array fn gets, owning its memory (base None,
        so the engine sees a fresh array it may keep), and the plain view of it that the
        step fills at replay."""
        owner = np.ndarray.__new__(Traced, shape, dtype)
        self.keep[id(owner)] = owner
        self.kind[id(owner)] = "out"
        plain = owner.view(np.ndarray)
        self._written.append((id(owner), plain))
        return owner, plain

    def _buffer(self, result: Any) -> tuple[Traced, np.ndarray]:
        """A buffer of the trace holding a copy of `result` (for calls whose output shape and
        dtype are only known once they ran)."""
        if type(result) is not np.ndarray:
            result = np.asarray(result)
        owner, plain = self._empty(result.shape, result.dtype)
        plain[...] = result                              # same dtype and shape: a copy
        return owner, plain

    def _wrote(self, a: np.ndarray, whole: bool) -> None:
        """A recorded step writes into `a`: all of it, or only part of it (or reading it)."""
        root = _root(a)
        key = id(root)
        self._written.append((key, a))
        if whole and key not in self.keep and a.size == root.size:
            self.keep[key] = root                       # a new array this step fills: a buffer
            self.kind[key] = "out"                      # (no snapshot of its old content)
            self._reads.add(key)
            return
        self._see(a)
        if key in self.kind:
            return
        if whole and a.size == root.size and self.first[key][0] == len(self.steps):
            self.kind[key] = "out"                      # its first use overwrites it: a buffer
            del self.first[key]
        else:
            self.dirty.add(key)

    def live(self, arr: np.ndarray) -> Traced:
        """Register `arr` as state read and written in place at every replay."""
        if isinstance(arr, Traced):
            return arr
        root = _root(arr)
        self.keep[id(root)] = root
        if id(root) not in self.kind and id(root) not in self.dirty:   # (an array a step of
            self.kind[id(root)] = "live"        # this trace wrote into is its scratch, such as
            self.first.pop(id(root), None)      # a gradient scattered into zeros: restored)
        return arr.view(Traced)

    def adopt(self, t: Tensor) -> None:
        """A Tensor from outside the step (a parameter, a constant) first met by an op: its
        array, and its current gradient, become live and are seen as Traced until the end."""
        if isinstance(t._data, Traced):
            return
        had_grad = t._grad is not None and id(t) not in self.resets
        self.adopted.append((t, t._data, had_grad))
        self.grad_before[id(t)] = t._grad
        if had_grad and not isinstance(t._grad._data, Traced):
            old = t._grad._data
            self.old_grads[id(_root(old))] = (t, old)
            t._grad = self.grad_wraps[id(t)] = wrap(self.live(old))
        t._data = self.live(t._data)

    def input(self, value: np.ndarray) -> Traced:
        """A copy of an argument's array, refreshed from the argument at every replay."""
        buf = np.array(value, order="C")
        self.inputs.append(buf)
        self.keep[id(buf)] = buf
        self.kind[id(buf)] = "input"
        return buf.view(Traced)

    # ------------------------------------------------------------ recording
    def _add(self, step: Callable[[], Any]) -> None:
        """A replay step, run under the NumPy error state it ran under when that is not the
        trace's (an op that silences an expected overflow stays silent at replay)."""
        token = _err_token()
        err = self.err0 if token is not None and token is self.err_token else np.geterr()
        if err != self.err0:
            step = functools.partial(_in_errstate, err, step)
        self.steps.append(step)
        self.touches.append((self._reads, self._written))
        self._reads, self._written = set(), []

    def python(self, fn: Callable, args: tuple) -> None:
        """A Python function to call again at this point of every replay."""
        self._add(functools.partial(fn, *args))
        optimizer = getattr(fn, "__self__", None)
        if hasattr(optimizer, "structure") and id(optimizer) not in self.optimizers:
            self.optimizers[id(optimizer)] = optimizer
            self.structures[id(optimizer)] = optimizer.structure()   # what its kernels assume

    def ufunc(self, ufunc: Any, method: str, inputs: tuple, kwargs: dict) -> Any:
        args = _plain(inputs)
        kw = {k: _plain(v) for k, v in kwargs.items()}
        call = getattr(ufunc, method)
        reads = _arrays(args)
        for a in reads:
            self._see(a)
        out = kw.pop("out", None)
        if method == "at":                               # in place into args[0], in part
            call(*args, **kw)
            self._wrote(args[0], whole=False)
            self._add(functools.partial(call, *args, **kw))
            return None
        if out is not None:
            call(*args, out=out, **kw)
            whole = "where" not in kw and method in ("__call__", "reduce") and not any(
                np.may_share_memory(o, a) for o in out for a in reads)
            for o in out:
                self._wrote(o, whole)
            self._add(_ufunc_step(ufunc, method, args, out, kw))
            traced = tuple(o if isinstance(o, Traced) else p.view(Traced)  # the caller's out,
                           for o, p in zip(kwargs["out"], out))  # as NumPy: later in-place
            return traced[0] if len(traced) == 1 else traced     # ops on it are recorded too
        made = self._outputs(ufunc, args) if method == "__call__" and not kw else None
        if made is not None:                             # computed straight into the buffers
            owners, bufs = made
            call(*args, out=bufs)
        else:
            result = call(*args, **kw)
            owners, bufs = zip(*[self._buffer(r) for r in
                                 (result if isinstance(result, tuple) else (result,))])
        self._add(_ufunc_step(ufunc, method, args, bufs, kw))
        return owners if len(owners) > 1 else owners[0]

    def _outputs(self, ufunc: np.ufunc, args: tuple) -> tuple[tuple, tuple] | None:
        """New buffers for a plain ufunc call's outputs, from its arguments' shapes and the
        ufunc's own dtype resolution (so nothing is computed twice or copied); None when a
        Python scalar's type is not one NumPy resolves."""
        if ufunc.signature is not None:                  # matmul: 2-D products only
            shape = _product_shape(args)
            if shape is None:
                return None
        else:
            arrays = [a for a in args if isinstance(a, np.ndarray)]
            shape = arrays[0].shape if len(arrays) == 1 else np.broadcast(*arrays).shape
        try:
            dtypes = ufunc.resolve_dtypes(tuple(
                a.dtype if isinstance(a, (np.ndarray, np.generic)) else type(a) for a in args)
                + (None,) * ufunc.nout)
        except (TypeError, ValueError):
            return None
        made = [self._empty(shape, dt) for dt in dtypes[ufunc.nin:]]
        return tuple(o for o, _ in made), tuple(b for _, b in made)

    def function(self, func: Any, args: tuple, kwargs: dict) -> Any:
        a, kw = _plain(args), {k: _plain(v) for k, v in kwargs.items()}
        if func in _QUERIES:
            return func(*a, **kw)
        reads = _arrays(a) + _arrays(list(kw.values()))
        for r in reads:
            self._see(r)
        if func in _MUTATORS or "out" in kw:
            func(*a, **kw)
            targets = _arrays(kw["out"]) if "out" in kw else [a[0]]
            whole = "out" in kw or (func is np.copyto and "where" not in kw
                                    and not np.may_share_memory(a[0], a[1]))
            for o in targets:
                self._wrote(o, whole)
            self._add(functools.partial(func, *a, **kw))
            return kwargs.get("out")
        into = None
        if func is np.dot and len(a) == 2 and not kw:       # out by position: cheaper
            shape = _product_shape(a)
            if shape is not None:                           # computed straight into a buffer
                owner, buf = self._empty(shape, np.result_type(*a))
                func(*a, buf)
                self._add(functools.partial(func, *a, buf))
                return owner
            into = lambda buf: functools.partial(func, *a, buf)    # noqa: E731
        elif func in _WITH_OUT:
            into = lambda buf: functools.partial(func, *a, out=buf, **kw)    # noqa: E731
        return self._new(lambda: func(*a, **kw), reads, into)

    def read(self, make: Callable, arr: Traced, idx: Any, view_ok: bool = True,
             into: Callable[[np.ndarray, np.ndarray], Callable] | None = None) -> Any:
        """A method of a Traced array (indexing, astype, reshape, ...): a view of it needs
        nothing at replay; new data is recorded (`into(buf, array)`: the step that refills
        a buffer directly)."""
        a = arr.view(np.ndarray)
        reads = [a] + _arrays(idx)
        for r in reads:
            self._see(r)
        step = None if into is None else lambda buf: into(buf, a)    # noqa: E731
        return self._new(lambda: make(a, idx), reads, step, view_ok)

    def write(self, fn: Callable, arr: Traced, idx: Any, value: Any) -> None:
        a = arr.view(np.ndarray)
        for r in _arrays(idx) + _arrays(value):
            self._see(r)
        fn(a, idx, value)
        self._wrote(a, whole=False)
        self._add(functools.partial(fn, a, idx, value))

    def _new(self, compute: Callable[[], Any], reads: list[np.ndarray],
             into: Callable[[np.ndarray], Callable] | None, view_ok: bool = True) -> Any:
        """The result of a call: views of what it read need nothing at replay; new arrays
        are recorded (refilled in place at replay); Python values pass through."""
        result = compute()
        if isinstance(result, tuple):
            if all(not isinstance(r, np.ndarray) or (view_ok and _shares(r, reads))
                   for r in result):
                return tuple(r.view(Traced) if isinstance(r, np.ndarray) else r for r in result)
            owners, bufs = zip(*[self._buffer(r) for r in result])
            self._add(functools.partial(_refill_all, bufs, compute))
            return owners
        if isinstance(result, np.generic):
            into = None                                  # a 0-d result: NumPy gave a scalar
        elif not isinstance(result, np.ndarray):
            return result
        elif view_ok and _shares(result, reads):
            return result.view(Traced)
        owner, buf = self._buffer(result)
        self._add(into(buf) if into is not None           # func(..., out=buf)
                          else functools.partial(_refill, buf, compute))
        return owner

    # ------------------------------------------------------------ after the call
    def finish(self) -> None:
        """Give adopted Tensors their own arrays back; before the first use of every scratch
        array a step writes into in part, restore its first content; note what a replay
        assumes (optimizer structure, which gradients exist at the start)."""
        touched = {id(t) for t, _, _ in self.adopted if self._grad_touched(t)}
        for t, original, _ in self.adopted:
            t._data = original
            if t._grad is not None and t._grad is self.grad_wraps.get(id(t)):
                t._grad = self.grad_before[id(t)]       # untouched: its own Tensor back
            elif t._grad is not None and isinstance(t._grad._data, Traced):
                t._grad = wrap(t._grad._data.view(np.ndarray))
        restores: dict[int, list[tuple[Callable, tuple]]] = {}
        for key in self.dirty:
            if key in self.first:
                index, content = self.first[key]
                restores.setdefault(index, []).append(
                    (functools.partial(np.copyto, self.keep[key], content),
                     ({id(content)}, [(key, self.keep[key])])))
        both = [pair for i, step in enumerate(zip(self.steps, self.touches))
                for pair in restores.get(i, []) + [step]]
        self.steps, self.touches = [s for s, _ in both], [t for _, t in both]
        self.run = functools.partial(_loop, self.steps)  # straight-line code after a while:
        self.replays = 0                                 # compiling it costs ~10 us a step
        self.first.clear()                               # the snapshots not needed
        # a replay sets the gradients the step assigned, reset or read (the others it leaves
        # alone: an evaluation step must not put back the gradients of its trace's time)
        self.grads = [(t, None if t._grad is None else t._grad._data) for t, _, _ in self.adopted
                      if id(t) in touched]
        self.old_read = [v for k, v in self.old_grads.items() if k in self.read_old]
        self.no_grad_before = [t for t, _, had in self.adopted
                               if not had and id(t) not in self.resets and id(t) in touched]
        for o in self.optimizers.values():
            _untrace_state(o)

    def write_in_place(self, spec: Any) -> None:
        """Copy elision, after finish: a step's new output copied whole into live state (the
        optimizer's flat gradient buffer) is computed there by the steps that make and change
        it, and the copy goes. Only when nothing can tell: nothing touches the target between
        the step that makes the output and the copy, nothing writes either after the copy,
        and fn does not return the output. (Python steps, such as an optimizer's _begin_step,
        touch no arrays of the trace.)"""
        steps = self.steps
        touches, self.touches = self.touches, []        # their last reader: let them go
        copies = [k for k, s in enumerate(steps) if isinstance(s, functools.partial)
                  and s.func is np.copyto and len(s.args) == 2 and not s.keywords]
        if not copies:
            return
        returned = {id(_root(a)) for _, a in _flat(spec) if isinstance(a, np.ndarray)}
        writers: dict[int, list[int]] = {}
        written = [{i for i, _ in w} for _, w in touches]    # root ids, per step
        for j, ids in enumerate(written):
            for i in ids:
                writers.setdefault(i, []).append(j)
        used = [reads | ids for (reads, _), ids in zip(touches, written)]
        moves: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        gone = set()
        for k in copies:
            move = self._elided(k, returned, writers, written, used, touches)
            if move is not None and id(move[0]) not in moves and not any(
                    np.may_share_memory(move[1], d) for _, d in moves.values()):
                moves[id(move[0])] = move
                gone.add(k)
        if moves:
            kept = [j for j in range(len(steps)) if j not in gone]
            moved = {j for j, ids in enumerate(used) if not ids.isdisjoint(moves)}
            self.steps = [_moved(steps[j], moves) if j in moved else steps[j] for j in kept]
            self.grads = [(t, _moved(g, moves)) for t, g in self.grads]
            self.run = functools.partial(_loop, self.steps)

    def _elided(self, k: int, returned: set[int], writers: dict[int, list[int]], written: list[set[int]],
                used: list[set[int]], touches: list) -> tuple[np.ndarray, np.ndarray] | None:
        """(output root, target) if the copy at step k can go (see write_in_place)."""
        dst, src = self.steps[k].args
        root, live = _root(src), _root(dst)
        r, lv = id(root), id(live)
        if (self.kind.get(r) != "out" or self.kind.get(lv) != "live" or r in returned
                or (dst.shape, dst.dtype, dst.strides) != (root.shape, root.dtype, root.strides)
                or not _whole(src, root)):
            return None
        made = [j for j in writers.get(r, ()) if j != k]    # (in step order: the first makes
        if not made or made[-1] > k:                        # the buffer; later ones change it)
            return None
        for j in range(made[0], k):         # the target used in between
            if lv in used[j] and any(np.may_share_memory(a, dst)
                                     for a in _refs(self.steps[j]) or [dst]):
                return None
        for j in range(k + 1, len(written)):   # written after the copy
            if r in written[j] or lv in written[j] and any(
                    np.may_share_memory(a, dst) for i, a in touches[j][1] if i == lv):
                return None
        return root, dst

    def _grad_touched(self, t: Tensor) -> bool:
        """Whether the step assigned `t.grad` (backward, zero_grad) or used its array."""
        before = self.grad_before[id(t)]
        if id(t) in self.resets or t._grad is not self.grad_wraps.get(id(t), before):
            return True
        return before is not None and id(_root(before._data)) in self.read_old

    def valid(self) -> bool:
        """Whether a replay now does what an eager call would."""
        for k, o in self.optimizers.items():
            if o.structure() != self.structures[k]:
                return False
        for t in self.no_grad_before:
            if t._grad is not None:
                return False
        for t, _ in self.old_read:
            if t._grad is None:
                return False
        return True

    def replay(self, arrays: list[np.ndarray]) -> None:
        for buf, value in zip(self.inputs, arrays):
            np.copyto(buf, value)
        for t, old in self.old_read:                    # gradients accumulated onto
            if t._grad._data is not old:
                np.copyto(old, t._grad._data)
        self.run()
        self.replays += 1
        if self.replays == STRAIGHT_AFTER:
            self.run = _straight_line(self.steps)
        for t, g in self.grads:                        # (a gradient Tensor already around
            old = t._grad                              # the buffer stays: nothing to make)
            if old is None or old._data is not g:
                t._grad = None if g is None else wrap(g)


# replays before a trace's steps become one generated function: Python's compile() of it
# takes about as long as 10 replays of W1 save (0.4 ms for 40 steps), which is most of the
# first call's cost if done at once; a loop over the steps is within 2% of it
STRAIGHT_AFTER = 100


def _product_shape(args: tuple) -> tuple[int, ...] | None:
    """The shape of np.dot's or np.matmul's result for two ndarrays of 1 or 2 dimensions (not
    both 1), None otherwise or when the inner dimensions differ (the call then raises)."""
    if len(args) != 2 or not all(isinstance(x, np.ndarray) and x.dtype.kind in "fiub"
                                 for x in args):
        return None
    a, b = args
    if not (1 <= a.ndim <= 2 and 1 <= b.ndim <= 2) or a.ndim + b.ndim == 2:
        return None
    if a.shape[-1] != b.shape[0]:
        return None
    return a.shape[:-1] + b.shape[1:]


def _ufunc_step(ufunc: np.ufunc, method: str, args: tuple, out: tuple, kw: dict) -> Callable:
    """A ufunc call to repeat, in its cheapest form. A plain call gets its outputs by
    position (NumPy parses `out=` at about the cost of a small call itself) and its scalars as
    0-d arrays of the loop's dtype when every array has that dtype (NumPy would convert the
    scalar to that dtype on every call; the loop and the result are the same)."""
    call = ufunc if method == "__call__" else getattr(ufunc, method)
    if method != "__call__" or kw or ufunc in _OUT_BY_NAME:
        return functools.partial(call, *args, out=out, **kw)
    dtypes = {a.dtype for a in args + tuple(out) if isinstance(a, np.ndarray)}
    if len(dtypes) == 1:
        args = tuple(_as_0d(a, *dtypes) for a in args)
    return functools.partial(call, *args, *out)


def _as_0d(x: Any, dtype: np.dtype) -> Any:
    """A Python or NumPy scalar as a 0-d array of `dtype`, when that is the same number (and
    casting it cannot overflow, even to float16)."""
    if type(x) not in (int, float, bool) and not (
            isinstance(x, np.generic) and x.dtype == dtype and dtype.kind in "biuf"):
        return x                          # (a NumPy scalar of another dtype decides the loop)
    if not -65504.0 <= x <= 65504.0:      # (nan and inf too)
        return x
    try:
        a = np.array(x, dtype)
    except OverflowError:                 # an integer outside an integer dtype
        return x
    return a if a.item() == x else x


def _in_errstate(err: dict, step: Callable[[], Any]) -> None:
    with np.errstate(**err):
        step()


def _loop(steps: list[Callable[[], Any]]) -> None:
    for step in steps:
        step()


def _straight_line(steps: list[functools.partial]) -> Callable[[], None]:
    """The steps as one generated function, one call per line with its arguments bound to
    names: no loop, no argument tuples or dicts to unpack at replay."""
    names: dict[str, Any] = {}
    lines = ["def run():"]
    for k, step in enumerate(steps):
        names[f"f{k}"] = step.func
        args = []
        for j, a in enumerate(step.args):
            names[f"a{k}_{j}"] = a
            args.append(f"a{k}_{j}")
        for key, v in step.keywords.items():
            names[f"k{k}_{key}"] = v
            args.append(f"{key}=k{k}_{key}")
        lines.append(f"    f{k}({', '.join(args)})")
    lines.append("    return None")
    exec("\n".join(lines), names)                     # noqa: S102 - our own generated code
    return names["run"]


def _refs(x: Any) -> list[np.ndarray] | None:
    """Every array a step holds (in its arguments, tuples and nested partials), or None when
    it passes a function as an argument (a refill's closure may hold arrays not seen here)."""
    found: list[np.ndarray] = []
    todo = [x]
    while todo:
        v = todo.pop()
        if isinstance(v, np.ndarray):
            found.append(v)
        elif isinstance(v, functools.partial):
            todo += v.args
            todo += v.keywords.values()
        elif isinstance(v, (tuple, list)):
            todo += v
        elif v is not x and callable(v):
            return None
    return found


def _whole(a: np.ndarray, root: np.ndarray) -> bool:
    """Whether `a`, a view of `root` (or root), is all of root's memory laid out as root. A
    view lies within its root's memory, so the same shape, dtype and strides mean the same
    start (no data pointers to compare)."""
    return a is root or (a.shape == root.shape and a.strides == root.strides
                         and a.dtype == root.dtype)


def _moved(x: Any, moves: dict[int, tuple[np.ndarray, np.ndarray]]) -> Any:
    """`x` with every array in a moved root's memory replaced by the same view of its
    target's (moves: id(root) -> (root, target))."""
    if isinstance(x, np.ndarray):
        move = moves.get(id(_root(x)))
        if move is None:
            return x
        root, dst = move
        if _whole(x, root):
            return dst
        offset = x.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        return np.ndarray(x.shape, x.dtype, buffer=dst, offset=offset, strides=x.strides)
    if isinstance(x, functools.partial):
        return functools.partial(x.func, *_moved(x.args, moves),
                                 **{k: _moved(v, moves) for k, v in x.keywords.items()})
    if isinstance(x, (tuple, list)):
        return type(x)(_moved(v, moves) for v in x)
    return x


def _shares(a: np.ndarray, reads: list[np.ndarray]) -> bool:
    return any(np.may_share_memory(a, r) for r in reads)


def _refill(buf: np.ndarray, compute: Callable[[], Any]) -> None:
    np.copyto(buf, compute())


def _refill_all(bufs: list[np.ndarray], compute: Callable[[], Any]) -> None:
    for b, r in zip(bufs, compute()):
        np.copyto(b, r)


def _untrace_state(optimizer: Any) -> None:
    """Buffers an optimizer created during the trace (SGD's first momentum) as plain arrays."""
    for attr in getattr(optimizer, "state_names", {}).values():
        values = getattr(optimizer, attr)
        for i, v in enumerate(values):
            if isinstance(v, Traced):
                values[i] = v.view(np.ndarray)


# ---------------------------------------------------------------- the compiled function
class Compiled:
    """`fn` compiled: a trace per signature (array shapes and dtypes, Python scalars, grad
    mode), replayed while valid. `cache_size` is the number of traces kept. Calls from
    several threads run one at a time (a trace's buffers are shared)."""

    def __init__(self, fn: Callable, check: bool = False) -> None:
        functools.update_wrapper(self, fn)
        self.fn, self.check = fn, check
        self._traces: dict[tuple, tuple[Trace, int, Any]] = {}
        self._lock = threading.Lock()

    @property
    def cache_size(self) -> int:
        return len(self._traces)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        mode = _local.mode
        if mode.trace is not None:                       # a replay would not be recorded
            raise TraceError("tg.compile: a compiled function was called while another one is "
                             "being traced; compile the outer function only")
        if mode.anomaly:                    # detect_anomaly checks every value in Python:
            return self.fn(*args, **kwargs)   # run eagerly, neither traced nor replayed
        with self._lock:                    # a trace's buffers are shared: one call at a time
            key, arrays = _signature(mode.grad_enabled, args, kwargs)
            entry = self._traces.get(key)
            if entry is not None and (entry[1] != changes[0] or not entry[0].valid()):
                del self._traces[key]                        # stale: trace again
                entry = None
            if entry is None:
                return self._trace(key, args, kwargs)
            trace, _, spec = entry
            if self.check:
                return _checked(self.fn, trace, spec, arrays, args, kwargs)
            trace.replay(arrays)
            return _build(spec)

    def _trace(self, key: tuple, args: tuple, kwargs: dict) -> Any:
        mode = _local.mode
        trace = Trace()
        epoch = changes[0]
        targs = tuple(_traced_arg(trace, a) for a in args)
        tkwargs = {k: _traced_arg(trace, v) for k, v in sorted(kwargs.items())}
        mode.trace = trace
        try:
            out = self.fn(*targs, **tkwargs)
        finally:
            mode.trace = None
            trace.finish()
        spec = _spec(out)
        _warn_unread(trace, spec, list(enumerate(args)) + sorted(kwargs.items()))
        trace.write_in_place(spec)
        self._traces[key] = (trace, epoch, spec)
        return _build(spec)


def compile(fn: Callable | None = None, *, check: bool = False) -> Any:  # noqa: A001
    """Compile `fn` (a training or evaluation step): the first call for each signature runs it
    eagerly while recording its NumPy kernels, later calls replay them on the same buffers,
    bit for bit equal to eager execution. Usable as `@tg.compile` or
    `tg.compile(fn, check=True)` (which also runs `fn` eagerly on every call and raises if the
    two differ)."""
    if fn is None:
        return lambda f: Compiled(f, check=check)
    return Compiled(fn, check=check)


# ---------------------------------------------------------------- arguments and results
def _signature(grad_enabled: bool, args: tuple, kwargs: dict) -> tuple[tuple, list[np.ndarray]]:
    """The trace key of a call (grad mode; each argument's shape and dtype, or its value for
    a Python scalar) and the argument arrays a replay copies in, in one pass (every call)."""
    parts: list[Any] = [grad_enabled]
    arrays: list[np.ndarray] = []
    items = enumerate(args) if not kwargs else list(enumerate(args)) + sorted(kwargs.items())
    for name, a in items:
        if isinstance(a, Tensor):
            if a.requires_grad:
                raise TypeError(f"tg.compile: argument {name} is a Tensor that requires grad; "
                                "compiled steps take data (parameters belong to the model)")
            a = a._data
        if isinstance(a, np.ndarray):
            parts.append((name, a.shape, a.dtype))
            arrays.append(a)
        elif isinstance(a, float):                     # by its bits: -0.0 is not 0.0, and
            parts.append((name, float, struct.pack("<d", a)))   # nan equals nan
        elif a is None or isinstance(a, (bool, int, str)):
            parts.append((name, type(a), a))
        else:
            raise TypeError(f"tg.compile: argument {name} of type {type(a).__name__} is not "
                            "supported; pass Tensors, ndarrays and Python scalars")
    return tuple(parts), arrays


def _warn_unread(trace: Trace, spec: Any, named: list[tuple[Any, Any]]) -> None:
    """Warn about an array argument that no recorded step reads (nor fn returns): NumPy does
    not show the trace an argument used only as an index into an array fn did not receive
    (`np.take(X, idx)`, `X[idx]`), so every replay would reuse this call's result."""
    read = set().union(*(reads for reads, _ in trace.touches))
    read |= {id(_root(a)) for _, a in _flat(spec) if isinstance(a, np.ndarray)}
    inputs = iter(trace.inputs)
    for name, arg in named:
        if isinstance(arg, (np.ndarray, Tensor)) and id(next(inputs)) not in read:
            a = arg._data if isinstance(arg, Tensor) else arg
            warnings.warn(
                f"tg.compile: argument {name!r} (shape {a.shape}, {a.dtype}) was not read by "
                "any NumPy operation the trace could record. If fn uses it as an index into an "
                "array it did not receive as an argument (np.take(X, idx), X[idx]), NumPy hides "
                "that from tg.compile and every replay would use this call's rows: pass the "
                "rows themselves instead. An argument fn does not need can be dropped.",
                stacklevel=4)


def _traced_arg(trace: Trace, a: Any) -> Any:
    if isinstance(a, Tensor):
        return wrap(trace.input(a._data))
    if isinstance(a, np.ndarray):
        return trace.input(a)
    return a


def _spec(out: Any) -> Any:
    """What fn returned, with each array replaced by the buffer a replay refills."""
    if isinstance(out, Tensor):
        return ("tensor", out._data.view(np.ndarray))
    if isinstance(out, np.ndarray):
        return ("array", out.view(np.ndarray))
    if isinstance(out, (tuple, list)):
        return (type(out), [_spec(o) for o in out])
    if isinstance(out, dict):
        return (dict, {k: _spec(v) for k, v in out.items()})
    return ("value", out)


def _build(spec: Any) -> Any:
    """The returned value of a call: new Tensors (copies: no graph, not a reused buffer)."""
    kind, value = spec
    if kind == "tensor":
        return wrap(value.copy())
    if kind == "array":
        return value.copy()
    if kind is dict:
        return {k: _build(v) for k, v in value.items()}
    if kind in (tuple, list):
        return kind(_build(v) for v in value)
    return value


# ---------------------------------------------------------------- check=True
def _state(trace: Trace) -> list[tuple[str, Any]]:
    """Copies of everything a step changes: parameters (and other adopted tensors), their
    gradients, optimizer state."""
    out: list[tuple[str, Any]] = []
    for k, (t, _, _) in enumerate(trace.adopted):
        out.append((f"tensor {k} ({t.label or tuple(t.shape)})", t._data.copy()))
        out.append((f"tensor {k} .grad", None if t._grad is None else t._grad._data.copy()))
    for o in trace.optimizers.values():
        for name, attr in o.state_names.items():
            out += [(f"{type(o).__name__} {name}[{i}]", v.copy() if isinstance(v, np.ndarray) else v)
                    for i, v in enumerate(getattr(o, attr))]
    return out


def _restore(trace: Trace, saved: list[tuple[str, Any]], grads: list[Any]) -> None:
    values = iter(v for _, v in saved)
    for (t, _, _), g in zip(trace.adopted, grads):
        np.copyto(t._data, next(values))
        old = next(values)
        t._grad = g
        if g is not None:
            np.copyto(g._data, old)
    for o in trace.optimizers.values():
        for attr in o.state_names.values():
            current = getattr(o, attr)
            for i in range(len(current)):
                v = next(values)
                if isinstance(v, np.ndarray) and isinstance(current[i], np.ndarray):
                    np.copyto(current[i], v)
                else:
                    current[i] = v


def _checked(fn: Callable, trace: Trace, spec: Any, arrays: list[np.ndarray], args: tuple,
             kwargs: dict) -> Any:
    """check=True: run fn eagerly, then the replay from the same state; any difference
    (outputs, parameters, gradients, optimizer state) raises."""
    before, grads = _state(trace), [t._grad for t, _, _ in trace.adopted]
    eager = [(name, v.copy() if isinstance(v, np.ndarray) else v)      # (fn may return state
             for name, v in _flat(_spec(fn(*args, **kwargs)))]       # that _restore resets)
    eager_state = _state(trace)
    _restore(trace, before, grads)
    trace.replay(arrays)
    replayed = _flat(spec)
    for (name, a), (_, b) in zip(eager + eager_state, replayed + _state(trace)):
        same = (a is None and b is None) or (
            isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=True)) or (
            not isinstance(a, np.ndarray) and a == b)
        if not same:
            raise RuntimeError(f"tg.compile(check=True): the replay differs from eager "
                               f"execution in {name}: eager {a!r}, replayed {b!r}")
    return _build(spec)


def _flat(spec: Any, name: str = "output") -> list[tuple[str, Any]]:
    """The arrays and values a spec holds, each with its name in the output."""
    kind, value = spec
    if kind in ("tensor", "array"):
        return [(name, value)]
    if kind is dict:
        return [x for k, v in value.items() for x in _flat(v, f"{name}[{k!r}]")]
    if kind in (tuple, list):
        return [x for i, v in enumerate(value) for x in _flat(v, f"{name}[{i}]")]
    return [(name, value)]
