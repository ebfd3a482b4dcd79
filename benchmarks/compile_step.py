"""`tg.compile` on train_step.py's workloads: one full training step (forward, loss, backward,
SGD update) by hand-written NumPy (the floor), tinygrad_mlp eager, the same step under
`tg.compile`, and `jax.jit` of the same step when JAX is installed (optional, never a
dependency).

  W1: 2-16-16-1,      batch 100,  tanh hidden,    MSE
  W2: 2-64-64-1,      batch 1024, sigmoid hidden, BCE from logits
  W3: 784-512-512-10, batch 256,  ReLU hidden,    softmax cross-entropy (int labels)

float32, SGD lr 0.01, the same initial weights everywhere. Every step returns the loss as a
Python float (so JAX's asynchronous dispatch is waited for). The compiled step receives the
batch as ndarray arguments (copied into its input buffers at each replay, as in real use);
the NumPy, eager and JAX steps read theirs from a closure.

Before timing: the compiled step's losses and parameters must equal eager execution's bit for
bit over the first steps, and NumPy's and JAX's losses must agree with them (float32
tolerance). Then medians over interleaved rounds (peers.interleaved), `--runs` times in one
process, each run with fresh engines; the table shows the median of the runs' medians and
the range (min-max) over runs. Also the first call's time: tinygrad_mlp's tracing call
(fresh model and trace, median of 5) against an eager step, and jax.jit's first call
(tracing and XLA compilation).

Run: python benchmarks/compile_step.py [--quick] [--runs N] [--only W1,W2] [--no-jax]
"""
from __future__ import annotations

import gc
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
import peers as P  # noqa: E402
import train_step as TS  # noqa: E402

import tinygrad_mlp as tg  # noqa: E402
from tinygrad_mlp import functional as F  # noqa: E402
from tinygrad_mlp import nn, optim  # noqa: E402

DT = np.float32
LR = TS.LR
TARGETS = {"W1": 0.50, "W2": 0.90, "W3": 1.00}     # compiled / hand-written NumPy
TRACE_TARGET = 3.0                                  # first (tracing) call / eager step


# ------------------------------------------------------------------ tinygrad_mlp, compiled
def training_step(w: TS.Workload, dt: Any) -> tuple[Callable[[np.ndarray, np.ndarray], tg.Tensor], list[tg.Tensor]]:
    """train_step.ours_step's training step as a function of the batch (model from the shared
    initial weights, SGD, the workload's loss), and the parameters."""
    model = nn.MLP(w.sizes, activation=w.act, rng=0, dtype=dt)
    for lin, (W, b) in zip(model.layers, TS.init_weights(w, dt)):
        lin.weight.data[...] = W
        lin.bias.data[...] = b
    opt = optim.SGD(model.parameters(), lr=LR)
    loss_fn = {"mse": F.mse_loss, "bce": F.binary_cross_entropy_with_logits,
               "ce": F.cross_entropy}[w.loss]

    def step(X: np.ndarray, y: np.ndarray) -> tg.Tensor:
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        return loss
    return step, list(model.parameters())


def compiled_step(w: TS.Workload, dt: Any) -> tuple[Callable[[], float], Any, list[tg.Tensor]]:
    """The training step under tg.compile; the batch passed as arguments.
    Returns (step, the compiled function, the parameters)."""
    X, y = w.data(dt)
    step, params = training_step(w, dt)
    train = tg.compile(step)
    return (lambda: train(X, y).item()), train, params


def eager_twin(w: TS.Workload, dt: Any) -> tuple[Callable[[], tg.Tensor], list[tg.Tensor]]:
    """The same step run eagerly, returning the loss Tensor (for the bit-for-bit check)."""
    X, y = w.data(dt)
    step, params = training_step(w, dt)
    return (lambda: step(X, y)), params


# ------------------------------------------------------------------ JAX
def load_jax() -> Any:
    try:
        import jax
        import jax.numpy  # noqa: F401
    except ImportError:
        return None
    return jax


def jax_step(jax: Any, w: TS.Workload, dt: Any) -> tuple[Callable[[], float], float]:
    """The same network and step in JAX: parameters as a pytree, value_and_grad, the SGD
    update, all under one jax.jit (parameter buffers donated). Returns (step, first-call
    seconds: tracing, XLA compilation and one step)."""
    jnp = jax.numpy
    X, y = w.data(dt)
    if w.loss == "ce":
        y = y.astype(np.int32)
    act = {"tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu}[w.act]

    def loss_fn(params: Any, X: Any, y: Any) -> Any:
        h = X
        for W, b in params[:-1]:
            h = act(h @ W.T + b)
        W, b = params[-1]
        z = h @ W.T + b
        if w.loss == "mse":
            return jnp.mean((z - y) ** 2)
        if w.loss == "bce":
            return jnp.mean(jax.nn.softplus(z) - z * y)
        logp = jax.nn.log_softmax(z)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def update(params: Any, X: Any, y: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(params, X, y)
        return jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads), loss

    jitted = jax.jit(update, donate_argnums=0)
    Xj, yj = jax.device_put(X), jax.device_put(y)
    state = {"params": [(jnp.asarray(W), jnp.asarray(b)) for W, b in TS.init_weights(w, dt)]}

    def step() -> float:
        state["params"], loss = jitted(state["params"], Xj, yj)
        return float(loss.block_until_ready())

    t0 = time.perf_counter()
    step()
    first = time.perf_counter() - t0
    state["params"] = [(jnp.asarray(W), jnp.asarray(b)) for W, b in TS.init_weights(w, dt)]
    return step, first


# ------------------------------------------------------------------ checks
def check_compiled(w: TS.Workload, dt: Any, steps: int = 5) -> None:
    """Compiled losses and parameters equal eager execution's, bit for bit, step by step."""
    eager, pe = eager_twin(w, dt)
    comp, fn, pc = compiled_step(w, dt)
    X, y = w.data(dt)
    for i in range(steps):
        a, b = eager(), fn(X, y)
        if a.data.tobytes() != b.data.tobytes():
            raise AssertionError(f"{w.name}: compiled loss {b.item()!r} differs from eager "
                                 f"{a.item()!r} at step {i}")
        if any(p.data.tobytes() != q.data.tobytes() for p, q in zip(pe, pc)):
            raise AssertionError(f"{w.name}: compiled parameters differ from eager at step {i}")
    if fn.cache_size != 1:
        raise AssertionError(f"{w.name}: {fn.cache_size} traces for one signature")


def check_agree(es: dict[str, Callable[[], float]], steps: int = 3) -> None:
    """Every engine's first losses agree with tinygrad_mlp eager's (float32 tolerance)."""
    ref = [es["eager"]() for _ in range(steps)]
    for k, f in es.items():
        if k == "eager":
            continue
        got = [f() for _ in range(steps)]
        tol = 0 if k == "compiled" else 2e-3
        if not np.allclose(got, ref, rtol=tol, atol=tol):
            raise AssertionError(f"{k} computes different losses than eager: {got} vs {ref}")


def first_call(w: TS.Workload, dt: Any, repeats: int = 5) -> float:
    """Median seconds of the first (tracing) call of a fresh compiled step."""
    times = []
    for _ in range(repeats):
        step, _, _ = compiled_step(w, dt)
        gc.collect()
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# ------------------------------------------------------------------ the run
def engines(w: TS.Workload, dt: Any, jax: Any) -> tuple[dict[str, Callable[[], float]], float | None]:
    es = {"numpy": TS.numpy_step(w, dt), "eager": TS.ours_step(w, dt),
          "compiled": compiled_step(w, dt)[0]}
    jax_first = None
    if jax is not None:
        es["jax"], jax_first = jax_step(jax, w, dt)
    return es, jax_first


def measure(w: TS.Workload, jax: Any, runs: int, quick: bool) -> dict[str, Any]:
    """Per engine: the median step time of each run; the first-call times."""
    check_compiled(w, DT)
    per_run: dict[str, list[float]] = {}
    jax_firsts, trace_firsts = [], []
    for _ in range(runs):
        es, jax_first = engines(w, DT, jax)
        check_agree(es)
        if jax_first is not None:
            jax_firsts.append(jax_first)
        rounds = max(3, w.rounds // 3) if quick else w.rounds
        s = P.interleaved(es, rounds=rounds, inner=w.inner)
        for k, v in s.items():
            per_run.setdefault(k, []).append(P.median(v))
        trace_firsts.append(first_call(w, DT, 3 if quick else 5))
        del es
        gc.collect()
    return {"runs": per_run, "trace_first": trace_firsts, "jax_first": jax_firsts}


def spread(xs: list[float], scale: float = 1e3) -> str:
    med = statistics.median(xs)
    if len(xs) == 1:
        return f"{med * scale:.3f}"
    return f"{med * scale:.3f} ({min(xs) * scale:.3f}-{max(xs) * scale:.3f})"


def ratio(xs: list[float], floor: list[float]) -> list[float]:
    return [a / b for a, b in zip(xs, floor)]


def report(results: dict[str, dict[str, Any]]) -> None:
    header = ["workload", "numpy ms", "eager ms", "compiled ms", "jax.jit ms", "eager/numpy",
              "compiled/numpy", "jax/numpy", "compiled speed-up", "1st call ms (x eager)",
              "jax 1st call ms"]
    rows, verdicts = [], []
    for name, r in results.items():
        runs = r["runs"]
        num = runs["numpy"]
        cells = [f"{name} float32", spread(num), spread(runs["eager"]), spread(runs["compiled"]),
                 spread(runs["jax"]) if "jax" in runs else "-"]
        for k in ("eager", "compiled", "jax"):
            cells.append(spread(ratio(runs[k], num), 1) + "x" if k in runs else "-")
        cells.append(f"{statistics.median(ratio(runs['eager'], runs['compiled'])):.2f}x")
        trace = statistics.median(r["trace_first"])
        trace_x = statistics.median(ratio(r["trace_first"], runs["eager"]))
        cells.append(f"{trace * 1e3:.3f} ({trace_x:.1f}x)")
        cells.append(f"{statistics.median(r['jax_first']) * 1e3:.0f}" if r["jax_first"] else "-")
        rows.append(cells)
        c = statistics.median(ratio(runs["compiled"], num))
        ok = c <= TARGETS[name]
        line = f"{name}: compiled {c:.2f}x NumPy, target <= {TARGETS[name]:.2f}x: " + \
            ("met" if ok else "missed")
        if name == "W1" and "jax" in runs:
            j = statistics.median(ratio(runs["jax"], num))
            line += f"; jax.jit {j:.2f}x: compiled {'below' if c < j else 'NOT below'} it"
        line += f"; first call {trace_x:.1f}x an eager step, target <= {TRACE_TARGET:.0f}x: " + \
            ("met" if trace_x <= TRACE_TARGET else "missed")
        verdicts.append(line)
    print(P.table(header, rows))
    print("\n" + "\n".join(verdicts))


def main() -> None:
    quick = "--quick" in sys.argv
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else (1 if quick else 3)
    only = {"W1", "W2", "W3"}
    if "--only" in sys.argv:
        only = set(sys.argv[sys.argv.index("--only") + 1].split(","))
    jax = None if "--no-jax" in sys.argv else load_jax()
    gc.collect()
    gc.freeze()
    blas = __import__("os").environ.get("OPENBLAS_NUM_THREADS", "default")
    print(f"machine: {P.machine()}, OPENBLAS_NUM_THREADS={blas}")
    print(f"jax: {jax.__version__ if jax else 'not installed'}")
    print(f"median ms per training step over interleaved rounds; {runs} run(s): median of the "
          "runs' medians (min-max over runs)\n")
    results = {}
    for w in TS.WORKLOADS:
        if w.name in only:
            results[w.name] = measure(w, jax, runs, quick)
            print(f"{w.name} done", file=sys.stderr, flush=True)
    report(results)


if __name__ == "__main__":
    main()
