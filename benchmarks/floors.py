"""How far `tg.compile` is from what any NumPy implementation of it could reach on W1 and W2
(compile_step.py's workloads, float32): two floors, measured in the same process as the
real thing, in interleaved rounds.

Replay floor. A replay runs the kernels the eager step ran, into the trace's buffers. The
floor is those kernels alone: the trace's straight-line function with no signature check, no
batch copied in and no loss returned ("kernels only"). The compiled call ("call") adds what
every call needs. Both are shown as ratios to hand-written NumPy.

Tracing floor. The first call runs the step eagerly while recording each NumPy call. The
floor is any recorder built on NumPy's overrides (`__array_ufunc__`, `__array_function__`),
the only way to see the kernels without a second copy of each op's math. Two stand-ins run
the same eager step on arrays of an ndarray subclass:
  "intercept": each override only unwraps its arguments and calls NumPy (records nothing);
  "record":    also computes each ufunc's result into a new buffer and keeps one partial
               per call. It skips what makes a replay correct: aliasing, in-place writes,
               copy elision, guards.
Both are shown as ratios to the eager step, with the real tracing call (fresh model and
trace each time, model construction not timed).

Engine floor. `c = a*b + a` forward and backward on one float32 element, as overhead.py
times it, in the two minimal engines of lean_engines.py: "bare" (tuples as nodes, nothing
checked) and "guarded" (what tinygrad_mlp guarantees on this path: per-thread grad mode,
in-place version checks, freeing, shape checks, `.grad` Tensors that own their arrays), and
in tinygrad_mlp, as ratios to NumPy's arithmetic (c = a*b + a; ga = g*b + g; gb = g*a).
And W1's training step in the guarded engine with tinygrad_mlp's kernels (its losses must
equal eager tinygrad_mlp's bit for bit), beside eager tinygrad_mlp, as ratios to
hand-written NumPy.

Run: python benchmarks/floors.py [--runs N] [--only W1] [--no-engine]
"""
from __future__ import annotations

import functools
import gc
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
import compile_step as CS  # noqa: E402
import lean_engines as LE  # noqa: E402
import overhead as OH  # noqa: E402
import peers as P  # noqa: E402
import train_step as TS  # noqa: E402

import tinygrad_mlp as tg  # noqa: E402

DT = np.float32


# ------------------------------------------------------------------ replay floor
def replay_fns(w: TS.Workload) -> dict[str, Callable[[], Any]]:
    """Hand-written NumPy, the compiled call, and the compiled call's kernels alone."""
    X, y = w.data(DT)
    step, train, _ = CS.compiled_step(w, DT)
    for _ in range(150):          # past STRAIGHT_AFTER: the replay is one generated function
        step()
    (trace, _, _), = train._traces.values()
    return {"numpy": TS.numpy_step(w, DT), "call": step, "kernels only": trace.run}


# ------------------------------------------------------------------ tracing floor
def _plain(x: Any) -> Any:
    if isinstance(x, _Seen):
        return x.view(np.ndarray)
    if isinstance(x, (tuple, list)):
        return type(x)(_plain(v) for v in x)
    return x


class _Seen(np.ndarray):
    """An array whose NumPy calls go through Python, and, while `log` is a list, are kept."""
    log: list | None = None

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kw: Any) -> Any:
        inputs, kw = _plain(inputs), {k: _plain(v) for k, v in kw.items()}
        call = getattr(ufunc, method)
        result = call(*inputs, **kw)
        log = _Seen.log
        if log is not None:
            if method == "__call__" and "out" not in kw and isinstance(result, np.ndarray):
                buf = np.empty_like(result)       # (a recorder computes into a new buffer)
                np.copyto(buf, result)
                kw = dict(kw, out=buf)
                result = buf
            log.append(functools.partial(call, *inputs, **kw))
        return result.view(_Seen) if isinstance(result, np.ndarray) else result

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        args, kwargs = _plain(args), {k: _plain(v) for k, v in kwargs.items()}
        result = func(*args, **kwargs)
        if _Seen.log is not None:
            _Seen.log.append(functools.partial(func, *args, **kwargs))
        return result.view(_Seen) if isinstance(result, np.ndarray) else result


def tracing_fns(w: TS.Workload) -> dict[str, Callable[[], Any]]:
    """The eager step, and the same step with every NumPy call intercepted or recorded."""
    X, y = w.data(DT)
    step, params = CS.training_step(w, DT)

    def eager() -> float:
        return step(X, y).item()

    def seen(log: list | None) -> float:
        _Seen.log = log
        for p in params:
            p._data = p._data.view(_Seen)
        try:
            return step(X.view(_Seen), y.view(_Seen)).item()
        finally:
            for p in params:
                p._data = p._data.view(np.ndarray)
            _Seen.log = None
    for _ in range(5):
        eager()
    return {"eager": eager, "intercept": lambda: seen(None), "record": lambda: seen([])}


def tracing_call(w: TS.Workload, repeats: int = 7) -> float:
    """Median seconds of a fresh compiled step's first call (construction not timed)."""
    X, y = w.data(DT)
    times = []
    for _ in range(repeats):
        step, _ = CS.training_step(w, DT)
        compiled = tg.compile(step)
        gc.collect()
        t0 = time.perf_counter()
        compiled(X, y).item()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ------------------------------------------------------------------ engine floor
def engine_fns() -> dict[str, Callable[[], Any]]:
    """`c = a*b + a` forward and backward in NumPy, the two lean engines and tinygrad_mlp,
    after checking that the engines' gradients agree."""
    _, numpy_fb = OH.numpy_steps(1)
    _, ours_fb = OH.ours_steps(1)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(1).astype(DT), rng.standard_normal(1).astype(DT)
    g = np.ones(1, DT)
    ba, bb = LE.Bare(x), LE.Bare(y)
    ga, gb = LE.Guarded.leaf(x), LE.Guarded.leaf(y)

    def bare() -> None:
        ba.grad = bb.grad = None
        (ba * bb + ba).backward(g)

    def guarded() -> None:
        ga.grad = gb.grad = None
        (ga * gb + ga).backward(g)
    bare(), guarded()
    for name, da, db in (("bare", ba.grad, bb.grad), ("guarded", ga.grad.data, gb.grad.data)):
        if not (np.array_equal(da, y + 1) and np.array_equal(db, x)):
            raise AssertionError(f"the {name} engine's gradients are wrong: {da}, {db}")
    return {"numpy": numpy_fb, "bare": bare, "guarded": guarded, "tinygrad_mlp": ours_fb}


def w1_fns() -> dict[str, Callable[[], Any]]:
    """W1 by hand-written NumPy, in the guarded engine, and in tinygrad_mlp (eager), after
    checking that the guarded engine computes eager tinygrad_mlp's losses bit for bit."""
    w = {x.name: x for x in TS.WORKLOADS}["W1"]
    X, y = w.data(DT)
    guarded, _ = LE.guarded_w1_step(X, y, TS.init_weights(w, DT), TS.LR)
    ours = TS.ours_step(w, DT)
    a, b = [guarded() for _ in range(3)], [ours() for _ in range(3)]
    if a != b:
        raise AssertionError(f"the guarded engine's W1 losses {a} differ from eager {b}")
    return {"numpy": TS.numpy_step(w, DT), "guarded": guarded, "tinygrad_mlp": ours}


# ------------------------------------------------------------------ the run
def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    names = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv \
        else ["W1", "W2"]
    workloads = {w.name: w for w in TS.WORKLOADS}
    print(P.machine())
    rows = []
    for name in names:
        w = workloads[name]
        rep: dict[str, list[float]] = {}
        tra: dict[str, list[float]] = {}
        for _ in range(runs):
            fns = replay_fns(w)
            s = P.interleaved(fns, rounds=15, inner=w.inner)
            m = {k: P.median(v) for k, v in s.items()}
            for k in ("call", "kernels only"):
                rep.setdefault(k, []).append(m[k] / m["numpy"])
            fns = tracing_fns(w)
            s = P.interleaved(fns, rounds=15, inner=max(1, w.inner // 4))
            m = {k: P.median(v) for k, v in s.items()}
            m["tracing call"] = tracing_call(w)
            for k in ("intercept", "record", "tracing call"):
                tra.setdefault(k, []).append(m[k] / m["eager"])
            del fns
            gc.collect()
        cells = [f"{name} float32"] + [_spread(v) for d in (rep, tra) for v in d.values()]
        rows.append(cells)
    print(f"\nmedian of {runs} run(s), each the median of 15 interleaved rounds (min-max over runs)\n")
    print(P.table(["workload", "compiled call / numpy", "kernels only / numpy",
                   "intercept / eager", "record / eager", "tracing call / eager"], rows))
    if "--no-engine" in sys.argv:
        return
    eng: dict[str, list[float]] = {}
    w1: dict[str, list[float]] = {}
    for _ in range(runs):
        for fns, inner, into in ((engine_fns(), 2000, eng), (w1_fns(), 200, w1)):
            s = P.interleaved(fns, rounds=15, inner=inner)
            m = {k: P.median(v) for k, v in s.items()}
            for k in fns:
                if k != "numpy":
                    into.setdefault(k, []).append(m[k] / m["numpy"])
    print("\nratio to NumPy: c = a*b + a on one float32 element, forward + backward (to NumPy's "
          "arithmetic); W1 float32 training step (to hand-written NumPy)\n")
    print(P.table(["engine", "a*b + a", "W1 step"],
                  [[k, _spread(eng[k]), _spread(w1[k]) if k in w1 else "-"] for k in eng]))


def _spread(v: list[float]) -> str:
    return f"{statistics.median(v):.2f}x ({min(v):.2f}-{max(v):.2f})"


if __name__ == "__main__":
    main()
