"""One full training step (forward, loss, backward, SGD update) on three MLP workloads, next to
a hand-written NumPy forward/backward of the same network (the floor) and to optional peers.

  W1: 2-16-16-1,    batch 100,  tanh hidden,    MSE
  W2: 2-64-64-1,    batch 1024, sigmoid hidden, sigmoid + binary cross-entropy (from logits)
  W3: 784-512-512-10, batch 256, ReLU hidden,   softmax cross-entropy (int labels)

Every engine starts from the same weights, and its losses over the first steps are checked
against NumPy's before anything is timed. Then: median ms/step over interleaved rounds.
Finally a memory check: RSS across 10,000 steps of W1 and 1,000 of W2 with tinygrad_mlp.

Run: python benchmarks/train_step.py [--quick] [--no-peers] [--only W1,W2]
"""
from __future__ import annotations

import gc
import sys
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
import peers as P  # noqa: E402

import tinygrad_mlp as tg  # noqa: E402
from tinygrad_mlp import functional as F  # noqa: E402
from tinygrad_mlp import nn, optim  # noqa: E402

LR = 0.01


@dataclass
class Workload:
    name: str
    sizes: list[int]
    batch: int
    act: str          # tanh | sigmoid | relu
    loss: str         # mse | bce | ce
    inner: int        # steps per timing sample
    rounds: int

    def data(self, dt: Any) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(1)
        X = rng.standard_normal((self.batch, self.sizes[0])).astype(dt)
        if self.loss == "mse":
            y = np.sin(X.sum(1, keepdims=True)).astype(dt)
        elif self.loss == "bce":
            y = (X[:, :1] * X[:, 1:2] > 0).astype(dt)
        else:
            y = rng.integers(0, self.sizes[-1], self.batch)
        return X, y


# A sample is a run of consecutive steps, as in training. W3's is long (20 steps) because the
# first step after another engine ran is slow for a reason outside both: the engine before it
# freed megabytes that glibc handed back to the OS, and this step faults them in again (one
# step at a time, W3's NumPy step took 900 page faults and tinygrad_mlp's 2,300, which keeps
# every gradient until the update: 1.25-1.30x; with glibc's trimming off, 1.02x).
WORKLOADS = [Workload("W1", [2, 16, 16, 1], 100, "tanh", "mse", 200, 15),
             Workload("W2", [2, 64, 64, 1], 1024, "sigmoid", "bce", 20, 15),
             Workload("W3", [784, 512, 512, 10], 256, "relu", "ce", 20, 9)]


def init_weights(w: Workload, dt: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights (out, in) and biases from nn.MLP's default init, shared by every engine."""
    model = nn.MLP(w.sizes, activation=w.act, rng=0, dtype=dt)
    return [(lin.weight.data.copy(), lin.bias.data.copy()) for lin in model.layers]


# ------------------------------------------------------------------ hand-written NumPy
def numpy_step(w: Workload, dt: Any) -> Callable[[], float]:
    """The floor: forward and backward written out by hand, as a competent person would
    (weights updated in place, no needless copies, same numerics as the fused losses)."""
    X, y = w.data(dt)
    params = init_weights(w, dt)
    n = w.batch
    lr = dt(LR)
    rows = np.arange(n)

    def act(z: np.ndarray) -> np.ndarray:
        if w.act == "tanh":
            return np.tanh(z)
        if w.act == "relu":
            return np.maximum(z, 0)
        return 1 / (1 + np.exp(-z))

    def act_grad(dh: np.ndarray, h: np.ndarray) -> np.ndarray:
        if w.act == "tanh":
            return dh * (1 - h * h)
        if w.act == "relu":
            return dh * (h > 0)
        return dh * (h * (1 - h))

    def step() -> float:
        hs = [X]
        for W, b in params[:-1]:
            hs.append(act(hs[-1] @ W.T + b))
        W, b = params[-1]
        z = hs[-1] @ W.T + b
        if w.loss == "mse":
            diff = z - y
            loss = np.mean(diff * diff)
            d = diff * (2 / diff.size)
        elif w.loss == "bce":     # mean(softplus(z) - y z), stable; d = (sigmoid(z) - y) / n
            e = np.exp(-np.abs(z))
            loss = np.mean(np.maximum(z, 0) - z * y + np.log1p(e))
            d = (np.where(z >= 0, 1, e) / (1 + e) - y) / n
        else:                     # softmax cross-entropy; d = (softmax - onehot) / n
            z = z - z.max(1, keepdims=True)
            ez = np.exp(z)
            s = ez.sum(1, keepdims=True)
            loss = np.mean(np.log(s[:, 0]) - z[rows, y])
            d = ez / s
            d[rows, y] -= 1
            d /= n
        for i in range(len(params) - 1, -1, -1):
            W, b = params[i]
            h = hs[i]
            gW = d.T @ h
            gb = d.sum(0)
            if i:
                d = act_grad(d @ W, h)
            W -= lr * gW
            b -= lr * gb
        return float(loss)
    return step


# ------------------------------------------------------------------ tinygrad_mlp
def ours_step(w: Workload, dt: Any) -> Callable[[], float]:
    X, y = w.data(dt)
    X, y = tg.Tensor(X), tg.Tensor(y)
    model = nn.MLP(w.sizes, activation=w.act, rng=0, dtype=dt)
    for lin, (W, b) in zip(model.layers, init_weights(w, dt)):
        lin.weight.data[...] = W
        lin.bias.data[...] = b
    opt = optim.SGD(model.parameters(), lr=LR)
    loss_fn = {"mse": F.mse_loss, "bce": F.binary_cross_entropy_with_logits,
               "ce": F.cross_entropy}[w.loss]

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


# ------------------------------------------------------------------ peers
def torch_step(torch: Any, w: Workload, dt: Any) -> Callable[[], float]:
    tdt = {np.float32: torch.float32, np.float64: torch.float64}[dt]
    X, y = (torch.from_numpy(a) for a in w.data(dt))
    layers: list[Any] = []
    for W, b in init_weights(w, dt):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=tdt)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, {"tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "relu": torch.nn.ReLU}[w.act]()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    tf = torch.nn.functional
    loss_fn = {"mse": tf.mse_loss, "bce": tf.binary_cross_entropy_with_logits, "ce": tf.cross_entropy}[w.loss]

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def mygrad_step(mg: Any, w: Workload, dt: Any) -> Callable[[], float]:
    """MyGrad has no nn/optim: x @ W + b by hand; BCE from logits as mean(softplus(z) - y z)
    with softplus written as logaddexp(0, z); cross-entropy is nnet.softmax_crossentropy."""
    act = {"tanh": mg.nnet.activations.tanh, "sigmoid": mg.nnet.activations.sigmoid,
           "relu": mg.nnet.activations.relu}[w.act]
    X, y = w.data(dt)
    params = [(mg.tensor(W.T.copy()), mg.tensor(b)) for W, b in init_weights(w, dt)]
    flat = [p for pair in params for p in pair]

    def step() -> float:
        h = X
        for W, b in params[:-1]:
            h = act(h @ W + b)
        z = h @ params[-1][0] + params[-1][1]
        if w.loss == "mse":
            loss = mg.mean((z - y) ** 2)
        elif w.loss == "bce":
            loss = mg.mean(mg.logaddexp(0, z) - y * z)
        else:
            loss = mg.nnet.losses.softmax_crossentropy(z, y)
        loss.backward()
        for p in flat:
            p.data -= LR * p.grad
        return loss.item()
    return step


def dezero_step(dz: Any, w: Workload, dt: Any) -> Callable[[], float]:
    """DeZero: F.linear; F.mean_squared_error, F.sigmoid_cross_entropy (sigmoid, clip, log),
    F.softmax_cross_entropy; update p.data -= lr * p.grad.data."""
    Fd = dz.functions
    act = {"tanh": Fd.tanh, "sigmoid": Fd.sigmoid, "relu": Fd.relu}[w.act]
    loss_fn = {"mse": Fd.mean_squared_error, "bce": Fd.sigmoid_cross_entropy,
               "ce": Fd.softmax_cross_entropy}[w.loss]
    X, y = w.data(dt)
    params = [(dz.Parameter(W.T.copy()), dz.Parameter(b)) for W, b in init_weights(w, dt)]
    flat = [p for pair in params for p in pair]

    def step() -> float:
        for p in flat:
            p.cleargrad()
        h = X
        for W, b in params[:-1]:
            h = act(Fd.linear(h, W, b))
        loss = loss_fn(Fd.linear(h, *params[-1]), y)
        loss.backward()
        for p in flat:
            p.data -= LR * p.grad.data
        return float(loss.data)
    return step


def micrograd_step(mgrad: Any, w: Workload, dt: Any) -> Callable[[], float]:
    """micrograd on Python floats, one Value per scalar; tanh added as in its lecture."""
    Value = mgrad.engine.Value

    def tanh(v: Any) -> Any:
        t = float(np.tanh(v.data))
        out = Value(t, (v,), "tanh")

        def _backward() -> None:
            v.grad += (1 - t * t) * out.grad
        out._backward = _backward
        return out

    X, y = w.data(np.float64)
    layers = [([[Value(float(v)) for v in row] for row in W], [Value(float(v)) for v in b])
              for W, b in init_weights(w, np.float64)]
    flat = [p for W, b in layers for row in W for p in row] + [p for _, b in layers for p in b]

    def step() -> float:
        for p in flat:
            p.grad = 0.0
        total = Value(0.0)
        for xs, t in zip(X.tolist(), y[:, 0].tolist()):
            h = xs
            for li, (W, b) in enumerate(layers):
                h = [sum((wi * hi for wi, hi in zip(row, h)), bi) for row, bi in zip(W, b)]
                if li < len(layers) - 1:
                    h = [tanh(v) for v in h]
            total = total + (h[0] - t) ** 2
        loss = total * (1.0 / len(X))
        loss.backward()
        for p in flat:
            p.data -= LR * p.grad
        return loss.data
    return step


def engines(w: Workload, dt: Any, peers: dict[str, Any]) -> dict[str, Callable[[], float]]:
    es = {"numpy": numpy_step(w, dt), "tinygrad_mlp": ours_step(w, dt)}
    if "torch" in peers:
        es["torch"] = torch_step(peers["torch"], w, dt)
    if "mygrad" in peers:
        es["mygrad"] = mygrad_step(peers["mygrad"], w, dt)
    if "dezero" in peers:
        es["dezero"] = dezero_step(peers["dezero"], w, dt)
    if "micrograd" in peers and w.name == "W1" and dt is np.float64:
        es["micrograd"] = micrograd_step(peers["micrograd"], w, dt)
    return es


def check_agree(es: dict[str, Callable[[], float]], dt: Any, steps: int = 3) -> None:
    """Every engine's first losses must equal NumPy's: we time the same computation."""
    ref = [es["numpy"]() for _ in range(steps)]
    tol = 2e-3 if dt is np.float32 else 1e-9
    for k, f in es.items():
        if k == "numpy":
            continue
        got = [f() for _ in range(steps)]
        if not np.allclose(got, ref, rtol=tol, atol=tol):
            raise AssertionError(f"{k} computes different losses than NumPy: {got} vs {ref}")


def run(peers: dict[str, Any], only: set[str], quick: bool) -> list[list[str]]:
    rows = []
    names = ["numpy", "tinygrad_mlp", "torch", "mygrad", "dezero", "micrograd"]
    for w in WORKLOADS:
        if w.name not in only:
            continue
        for dt in (np.float32, np.float64):
            es = engines(w, dt, peers)
            check_agree(es, dt)
            inner = {k: (1 if k == "micrograd" else w.inner) for k in es}
            rounds = max(3, w.rounds // 3) if quick else w.rounds
            timed = {k: v for k, v in es.items() if k != "micrograd"}
            s = P.interleaved(timed, rounds=rounds, inner=inner)
            if "micrograd" in es:
                s.update(P.interleaved({"micrograd": es["micrograd"]}, rounds=3, inner=1, warmup=0))
            med = {k: P.median(v) for k, v in s.items()}
            cells = []
            for k in names:
                if k not in med:
                    cells.append("-")
                elif k == "numpy":
                    cells.append(f"{med[k] * 1e3:.3f}")
                else:
                    cells.append(f"{med[k] * 1e3:.3f} ({med[k] / med['numpy']:.2f}x)")
            rows.append([f"{w.name} {np.dtype(dt).name}"] + cells)
            print(P.table(["workload"] + names, rows[-1:]), flush=True)
    return rows


def memory_check(w: Workload, steps: int) -> str:
    """RSS (MiB) of the process at checkpoints over `steps` tinygrad_mlp training steps."""
    step = ours_step(w, np.float32)
    marks = sorted({steps // 100, steps // 10, steps // 2, steps})
    out = [f"{w.name} float32, RSS MiB after step"]
    gc.collect()
    out.append(f"0: {P.rss_mb():.1f}")
    for i in range(1, steps + 1):
        step()
        if i in marks:
            out.append(f"{i}: {P.rss_mb():.1f}")
    return "  ".join(out)


def main() -> None:
    quick = "--quick" in sys.argv
    peers = {} if "--no-peers" in sys.argv else P.load_peers()
    only = {"W1", "W2", "W3"}
    if "--only" in sys.argv:
        only = set(sys.argv[sys.argv.index("--only") + 1].split(","))
    gc.collect()
    gc.freeze()   # objects from imports (torch has many) are not rescanned by every collection
    print(f"machine: {P.machine()}")
    print(f"peers: {P.versions(peers)}" + (f" (torch threads={P.THREADS})" if "torch" in peers else ""))
    print("median ms per training step over interleaved rounds (ratio to hand-written NumPy)\n")
    rows = run(peers, only, quick)
    print("\nall workloads:")
    print(P.table(["workload", "numpy", "tinygrad_mlp", "torch", "mygrad", "dezero", "micrograd"], rows))
    if "--no-memory" not in sys.argv:
        print("\nmemory:")
        print(memory_check(WORKLOADS[0], 1000 if quick else 10_000))
        print(memory_check(WORKLOADS[1], 100 if quick else 1_000))


if __name__ == "__main__":
    main()
