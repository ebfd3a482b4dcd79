"""Grad mode, anomaly mode and the running module: per-thread switches that every op reads.

Each thread has its own `_Mode` (as in PyTorch), so `with tg.no_grad():` in one thread never
stops another thread's recording, and two threads can train two models at once. The state is
one plain object per thread (`mode()`), read once per op.
"""
from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from typing import Any, Callable


class _Mode:
    """One thread's switches: whether ops record (`grad_enabled`), whether they check for NaN
    and Inf (`anomaly`), the innermost `nn.Module` call running (`call`, for viz), and the
    trace recording kernels (`trace`, for tg.compile), if any."""
    __slots__ = ("grad_enabled", "anomaly", "call", "trace")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        self.call: tuple = ()
        self.trace: Any = None


class _PerThread(threading.local):
    def __init__(self) -> None:
        self.mode = _Mode()


_local = _PerThread()


def mode() -> _Mode:
    """This thread's switches."""
    return _local.mode


class _Switch(contextlib.ContextDecorator):
    """Sets one `_Mode` field for a `with` block or a decorated function. The previous values
    are kept on a per-thread stack, so one instance can be re-entered (a decorated function
    that recurses) and shared by threads. Decorated generator functions hold the setting
    while the generator runs, not only while it is created."""
    field = ""
    value: Any = None

    def __init__(self) -> None:
        self._saved = threading.local()

    def __enter__(self) -> None:
        m = _local.mode
        stack = self._saved.__dict__.setdefault("stack", [])
        stack.append(getattr(m, self.field))
        setattr(m, self.field, self.value)

    def __exit__(self, *exc: Any) -> None:
        setattr(_local.mode, self.field, self._saved.stack.pop())

    def __call__(self, func: Callable) -> Callable:
        if not inspect.isgeneratorfunction(func):
            return super().__call__(func)

        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Any:
            gen = func(*args, **kwargs)
            with self:
                value = next(gen, _DONE)
            while value is not _DONE:
                try:
                    sent = yield value
                except BaseException as e:                 # thrown in (close(), throw())
                    with self:
                        value = _resume(gen, e, thrown=True)
                    continue
                with self:
                    value = _resume(gen, sent)
        return generator


_DONE = object()


def _resume(gen: Any, value: Any, thrown: bool = False) -> Any:
    """One step of a wrapped generator: `_DONE` when it returns."""
    try:
        return gen.throw(value) if thrown else gen.send(value)
    except StopIteration:
        return _DONE


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
    """Context manager and decorator: ops inside record nothing (in this thread)."""
    field, value = "grad_enabled", False


class enable_grad(_BareDecorator):
    """Context manager and decorator: ops inside record again (inside a no_grad block)."""
    field, value = "grad_enabled", True


class set_grad_enabled:
    """Set this thread's grad mode to `mode` now; as a context manager, restore the previous
    mode on exit (PyTorch's `torch.set_grad_enabled`)."""

    def __init__(self, mode: bool) -> None:
        self._prev = _local.mode.grad_enabled
        _local.mode.grad_enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        _local.mode.grad_enabled = self._prev


def is_grad_enabled() -> bool:
    """Whether ops are being recorded right now in this thread (False inside `no_grad`)."""
    return _local.mode.grad_enabled


class detect_anomaly(_Switch):
    """Raise `FloatingPointError` at the first op whose forward or backward yields NaN/Inf,
    naming the op and the user's line that created it."""
    field, value = "anomaly", True


class TraceError(RuntimeError):
    """A traced value was read into Python inside `tg.compile`: data-dependent Python cannot
    be replayed."""


def check_readable(call: str) -> None:
    """Refuse to read a Tensor's value into Python while `tg.compile` records a trace."""
    if _local.mode.trace is not None:
        raise TraceError(
            f"{call} reads a traced Tensor's value into Python inside a function being compiled "
            "by tg.compile. The compiled step replays the recorded array operations only, so a "
            "Python value (and any `if`/`while` that depends on it) would be frozen at its "
            "first value. Return the Tensor instead, or call the function without tg.compile.")


def traced(arr: Any) -> Any:
    """`arr` as the active tg.compile trace sees it (its operations recorded, read and written
    in place at replay), or `arr` itself when nothing is being traced. For state that lives
    across steps, such as an optimizer's moment buffers."""
    trace = _local.mode.trace
    return arr if trace is None else trace.live(arr)


def every_step(fn: Callable, *args: Any) -> None:
    """Run the Python function `fn(*args)` now and, if a tg.compile trace is recording, again
    before the recorded kernels that follow it, at every replay: for per-step Python state
    (an optimizer's step counts and the scalars read at replay time)."""
    fn(*args)
    trace = _local.mode.trace
    if trace is not None:
        trace.python(fn, args)
