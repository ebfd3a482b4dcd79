"""Per-op overhead of the engine next to raw NumPy doing the same arithmetic.

1. `c = a*b + a` on float32 tensors of 1 and 100 elements: forward alone, and forward +
   backward (NumPy: c = a*b + a; ga = g*b + g; gb = g*a). Leaves' grads are reset each step,
   as a training loop's zero_grad does. Peers run the same step when installed.
2. A 1,000,000-op chain `y = y * 1.000001` on one float32 element: graph building (forward) and
   backward, with the cyclic garbage collector on, and with it paused, next to NumPy's loop.

Run: python benchmarks/overhead.py [--quick]
"""
from __future__ import annotations

import gc
import sys
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
import peers as P  # noqa: E402

import tinygrad_mlp as tg  # noqa: E402

DT = np.float32


def numpy_steps(n: int) -> tuple[Callable, Callable]:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(n).astype(DT), rng.standard_normal(n).astype(DT)
    g = np.ones(n, DT)

    def fwd() -> Any:
        return a * b + a

    def fwd_bwd() -> Any:
        c = a * b + a
        ga = g * b + g
        gb = g * a
        return c, ga, gb
    return fwd, fwd_bwd


def ours_steps(n: int) -> tuple[Callable, Callable]:
    rng = np.random.default_rng(0)
    a = tg.Tensor(rng.standard_normal(n).astype(DT), requires_grad=True)
    b = tg.Tensor(rng.standard_normal(n).astype(DT), requires_grad=True)
    g = np.ones(n, DT)

    def fwd() -> Any:
        return a * b + a

    def fwd_bwd() -> Any:
        a.grad = b.grad = None
        c = a * b + a
        c.backward(g)
        return c
    return fwd, fwd_bwd


def torch_steps(torch: Any, n: int) -> tuple[Callable, Callable]:
    rng = np.random.default_rng(0)
    a = torch.tensor(rng.standard_normal(n).astype(DT), requires_grad=True)
    b = torch.tensor(rng.standard_normal(n).astype(DT), requires_grad=True)
    g = torch.ones(n)

    def fwd() -> Any:
        return a * b + a

    def fwd_bwd() -> Any:
        a.grad = b.grad = None
        c = a * b + a
        c.backward(g)
        return c
    return fwd, fwd_bwd


def mygrad_steps(mg: Any, n: int) -> tuple[Callable, Callable]:
    rng = np.random.default_rng(0)
    a = mg.tensor(rng.standard_normal(n).astype(DT))
    b = mg.tensor(rng.standard_normal(n).astype(DT))
    g = np.ones(n, DT)

    def fwd() -> Any:
        return a * b + a

    def fwd_bwd() -> Any:   # mygrad's backward replaces (not accumulates) leaf grads
        c = a * b + a
        c.backward(g)
        return c
    return fwd, fwd_bwd


def dezero_steps(dz: Any, n: int) -> tuple[Callable, Callable]:
    rng = np.random.default_rng(0)
    a = dz.Variable(rng.standard_normal(n).astype(DT))
    b = dz.Variable(rng.standard_normal(n).astype(DT))
    g = dz.Variable(np.ones(n, DT))

    def fwd() -> Any:
        return a * b + a

    def fwd_bwd() -> Any:
        a.cleargrad()
        b.cleargrad()
        c = a * b + a
        c.grad = g
        c.backward()
        return c
    return fwd, fwd_bwd


def micrograd_steps(mgrad: Any) -> tuple[Callable, Callable]:
    Value = mgrad.engine.Value
    a, b = Value(0.3), Value(-1.2)

    def fwd() -> Any:
        return a * b + a

    def fwd_bwd() -> Any:
        a.grad = b.grad = 0.0
        c = a * b + a
        c.backward()
        return c
    return fwd, fwd_bwd


def op_overhead(peers: dict[str, Any], rounds: int) -> str:
    rows: dict[str, dict[str, float]] = {}
    for n in (1, 100):
        engines: dict[str, tuple[Callable, Callable]] = {"numpy": numpy_steps(n),
                                                         "tinygrad_mlp": ours_steps(n)}
        if "micrograd" in peers and n == 1:
            engines["micrograd (floats)"] = micrograd_steps(peers["micrograd"])
        if "torch" in peers:
            engines["torch"] = torch_steps(peers["torch"], n)
        if "mygrad" in peers:
            engines["mygrad"] = mygrad_steps(peers["mygrad"], n)
        if "dezero" in peers:
            engines["dezero"] = dezero_steps(peers["dezero"], n)
        for phase, i in (("fwd", 0), ("fwd+bwd", 1)):
            s = P.interleaved({k: v[i] for k, v in engines.items()}, rounds=rounds, inner=2000)
            for k, xs in s.items():
                rows.setdefault(k, {})[f"n={n} {phase}"] = P.median(xs)
    cols = ["n=1 fwd", "n=1 fwd+bwd", "n=100 fwd", "n=100 fwd+bwd"]
    body = []
    for k, r in rows.items():
        cells = []
        for c in cols:
            if c in r:
                cells.append(f"{P.fmt_time(r[c])} ({r[c] / rows['numpy'][c]:.1f}x)")
            else:
                cells.append("-")
        body.append([k] + cells)
    return P.table(["c = a*b + a, float32"] + cols, body)


# ------------------------------------------------------------------ the 1M-op chain
N_CHAIN = 1_000_000


def chain_numpy() -> tuple[float, float]:
    y = np.ones(1, DT)
    t0 = time.perf_counter()
    for _ in range(N_CHAIN):
        y = y * 1.000001
    t1 = time.perf_counter()
    g = np.ones(1, DT)
    for _ in range(N_CHAIN):
        g = g * 1.000001
    return t1 - t0, time.perf_counter() - t1


def chain_ours(gc_mode: str) -> tuple[float, float, float]:
    """Seconds for forward, backward and dropping the graph. gc_mode: 'on' (default Python),
    'off' (gc.disable() around forward and backward), 'freeze' (gc.freeze() before backward)."""
    x = tg.Tensor(np.ones(1, DT), requires_grad=True)
    gc.collect()
    if gc_mode == "off":
        gc.disable()
    try:
        t0 = time.perf_counter()
        y = x
        for _ in range(N_CHAIN):
            y = y * 1.000001
        t1 = time.perf_counter()
        if gc_mode == "freeze":
            gc.freeze()
        y.backward()
        t2 = time.perf_counter()
        del y
        t3 = time.perf_counter()
    finally:
        gc.unfreeze()
        gc.enable()
    assert x.grad is not None and np.isfinite(x.grad.data).all()
    return t1 - t0, t2 - t1, t3 - t2


def chain(repeats: int) -> str:
    rows = []
    np_f, np_b = min(chain_numpy() for _ in range(repeats))
    rows.append(["numpy loop", P.fmt_time(np_f), P.fmt_time(np_b), "-"])
    for mode, name in (("on", "tinygrad_mlp, gc on"), ("freeze", "tinygrad_mlp, gc.freeze() before backward"),
                       ("off", "tinygrad_mlp, gc disabled")):
        res = [chain_ours(mode) for _ in range(repeats)]
        f = min(r[0] for r in res)
        b = min(r[1] for r in res)
        d = min(r[2] for r in res)
        rows.append([name, P.fmt_time(f), P.fmt_time(b), P.fmt_time(d)])
    return P.table([f"{N_CHAIN:,}-op chain y = y*1.000001", "forward", "backward", "free graph"], rows)


def main() -> None:
    quick = "--quick" in sys.argv
    peers = {} if "--no-peers" in sys.argv else P.load_peers()
    print(f"machine: {P.machine()}")
    print(f"peers: {P.versions(peers)}" + (f" (torch threads={P.THREADS})" if "torch" in peers else ""))
    print("median per-step time over interleaved rounds (2000 steps per round), ratio to NumPy\n")
    print(op_overhead(peers, rounds=5 if quick else 15))
    print()
    if "--no-chain" not in sys.argv:
        print(chain(1 if quick else 2))


if __name__ == "__main__":
    main()
