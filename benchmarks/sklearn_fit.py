"""`tinygrad_mlp.sklearn.MLPClassifier.fit` next to scikit-learn's own `MLPClassifier.fit`,
same process, interleaved rounds, median seconds per fit, and the test accuracy of both; and
next to the floor: sklearn's recipe written out by hand in NumPy (same initial weights,
batches, penalty and Adam, updated in place), which is as fast as NumPy allows.

  digits:    load_digits / 16 (1,347 train, 450 test rows), hidden (64,),      100 epochs
  synthetic: make_classification 20,000 x 64, 4 classes (15,000 / 5,000), hidden (256, 256), 10 epochs

Both run exactly the given number of epochs (tol=0, n_iter_no_change > epochs; n_iter_ is
checked), with Adam, batch 200, alpha 1e-4, the same random_state. Each workload runs on the
data as given (float64) and as float32 (both estimators then train in float32).

Run: python benchmarks/sklearn_fit.py [--quick] [--rounds N] [--only digits,synthetic] [--no-float32]
(OPENBLAS_NUM_THREADS=1 in front gives both estimators single-threaded BLAS.)
"""
from __future__ import annotations

import gc
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
import peers as P  # noqa: E402

import sklearn  # noqa: E402
from threadpoolctl import threadpool_info  # noqa: E402  (a scikit-learn dependency)
from sklearn.datasets import load_digits, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLP  # noqa: E402

from tinygrad_mlp.sklearn import MLPClassifier  # noqa: E402


@dataclass
class Workload:
    name: str
    hidden: tuple[int, ...]
    epochs: int
    rounds: int

    def data(self) -> tuple[np.ndarray, ...]:
        if self.name == "digits":
            X, y = load_digits(return_X_y=True)
            X = X / 16.0
        else:
            X, y = make_classification(20_000, 64, n_informative=32, n_classes=4, random_state=0)
        return tuple(train_test_split(X, y, test_size=0.25, random_state=0))


WORKLOADS = [Workload("digits", (64,), 100, 7), Workload("synthetic", (256, 256), 10, 5)]


def params(w: Workload) -> dict[str, Any]:
    """The same settings for both: exactly `epochs` epochs of Adam on batches of 200."""
    return dict(hidden_layer_sizes=w.hidden, solver="adam", batch_size=200, max_iter=w.epochs,
                tol=0.0, n_iter_no_change=w.epochs + 1, alpha=1e-4, random_state=0)


def fitter(cls: type, w: Workload, Xtr: np.ndarray, ytr: np.ndarray, last: dict[str, Any]) -> Callable[[], None]:
    """A no-argument fit (timed), keeping the fitted estimator in `last`."""
    def fit() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            last["est"] = cls(**params(w)).fit(Xtr, ytr)
    return fit


class NumpyMLP:
    """The floor: sklearn's recipe for a ReLU network with softmax output, written out as a
    competent person would in NumPy (in-place Adam with sklearn's eps, one scratch array per
    parameter), including the per-batch loss that sklearn and we report."""

    def __init__(self, hidden: tuple[int, ...], epochs: int, alpha: float = 1e-4, lr: float = 1e-3) -> None:
        self.hidden, self.epochs, self.alpha, self.lr = hidden, epochs, alpha, lr

    def fit(self, X: np.ndarray, y: np.ndarray) -> "NumpyMLP":
        self.classes_ = np.unique(y)
        T = (y[:, None] == self.classes_).astype(X.dtype)
        rs = np.random.RandomState(0)
        sizes = [X.shape[1], *self.hidden, len(self.classes_)]
        self.Ws, self.bs = [], []
        for a, b in zip(sizes[:-1], sizes[1:]):   # sklearn's Glorot draw, in its order
            bound = np.sqrt(6.0 / (a + b))
            self.Ws.append(rs.uniform(-bound, bound, (a, b)).astype(X.dtype))
            self.bs.append(rs.uniform(-bound, bound, b).astype(X.dtype))
        params = self.Ws + self.bs
        m1, m2, tmp = ([np.zeros_like(p) for p in params] for _ in range(3))
        n, order, t = len(X), np.arange(len(X)), 0
        for _ in range(self.epochs):
            order = order[rs.permutation(n)]
            for start in range(0, n, 200):
                idx = order[start:start + 200]
                grads = self._grads(X.take(idx, axis=0), T.take(idx, axis=0))
                t += 1
                self._adam(params, grads, m1, m2, tmp, t)
        return self

    def _forward(self, x: np.ndarray) -> list[np.ndarray]:
        hs = [x]
        for W, b in zip(self.Ws[:-1], self.bs[:-1]):
            h = hs[-1] @ W
            h += b
            hs.append(np.maximum(h, 0, out=h))
        z = hs[-1] @ self.Ws[-1]
        z += self.bs[-1]
        return hs + [z]

    def _grads(self, x: np.ndarray, tb: np.ndarray) -> list[np.ndarray]:
        *hs, z = self._forward(x)
        m = len(x)
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        self.batch_loss = -np.log(np.maximum((z * tb).sum(axis=1), 1e-300)).mean() + \
            0.5 * self.alpha * sum(np.vdot(W, W) for W in self.Ws) / m
        d = z
        d -= tb
        d /= m
        gW, gb = [None] * len(self.Ws), [None] * len(self.Ws)
        for i in range(len(self.Ws) - 1, -1, -1):
            gW[i] = hs[i].T @ d
            gW[i] += (self.alpha / m) * self.Ws[i]
            gb[i] = d.sum(axis=0)
            if i:
                d = d @ self.Ws[i].T
                d *= hs[i] > 0
        return gW + gb

    def _adam(self, params: list, grads: list, m1: list, m2: list, tmp: list, t: int) -> None:
        step = self.lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        for p, g, a, v, s in zip(params, grads, m1, m2, tmp):
            a *= 0.9
            np.multiply(g, 0.1, out=s)
            a += s
            v *= 0.999
            np.multiply(g, g, out=s)
            s *= 0.001
            v += s
            np.sqrt(v, out=s)
            s += 1e-8
            np.divide(a, s, out=s)
            s *= step
            p -= s

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float((self.classes_[self._forward(X)[-1].argmax(axis=1)] == y).mean())


def run(w: Workload, dtype: Any, rounds: int) -> list[str]:
    Xtr, Xte, ytr, yte = w.data()
    Xtr, Xte = Xtr.astype(dtype), Xte.astype(dtype)
    last: dict[str, dict[str, Any]] = {"sklearn": {}, "numpy": {}, "tinygrad_mlp": {}}
    fns = {"sklearn": fitter(SkMLP, w, Xtr, ytr, last["sklearn"]),
           "numpy": lambda: last["numpy"].update(est=NumpyMLP(w.hidden, w.epochs).fit(Xtr, ytr)),
           "tinygrad_mlp": fitter(MLPClassifier, w, Xtr, ytr, last["tinygrad_mlp"])}
    samples = P.interleaved(fns, rounds=rounds, inner=1, warmup=1)
    med = {k: P.median(v) for k, v in samples.items()}
    acc = {"numpy": last["numpy"]["est"].score(Xte, yte)}
    for k in ("sklearn", "tinygrad_mlp"):
        est = last[k]["est"]
        if est.n_iter_ != w.epochs:
            raise AssertionError(f"{k} ran {est.n_iter_} epochs, not {w.epochs}")
        if est.coefs_[0].dtype != np.dtype(dtype):
            raise AssertionError(f"{k} trained in {est.coefs_[0].dtype}, not {np.dtype(dtype)}")
        acc[k] = est.score(Xte, yte)
    spread = {k: f"{min(v):.3f}–{max(v):.3f}" for k, v in samples.items()}
    return [f"{w.name} {np.dtype(dtype).name}", f"{len(Xtr)}x{Xtr.shape[1]}, {w.hidden}, {w.epochs} ep",
            f"{med['sklearn']:.3f} ({spread['sklearn']})",
            f"{med['numpy']:.3f} ({med['numpy'] / med['sklearn']:.2f}x)",
            f"{med['tinygrad_mlp']:.3f} ({spread['tinygrad_mlp']})",
            f"{med['tinygrad_mlp'] / med['sklearn']:.2f}x",
            f"{acc['sklearn']:.4f} / {acc['numpy']:.4f} / {acc['tinygrad_mlp']:.4f}",
            f"{100 * (acc['tinygrad_mlp'] - acc['sklearn']):+.2f}"]


def main() -> None:
    quick = "--quick" in sys.argv
    only = {w.name for w in WORKLOADS}
    if "--only" in sys.argv:
        only = set(sys.argv[sys.argv.index("--only") + 1].split(","))
    dtypes = [np.float64] if "--no-float32" in sys.argv else [np.float64, np.float32]
    gc.collect()
    gc.freeze()
    print(f"machine: {P.machine()}")
    blas = ", ".join(f"{i['internal_api']} {i['version']} ({i['num_threads']} threads)"
                     for i in threadpool_info() if i["user_api"] == "blas")
    print(f"scikit-learn {sklearn.__version__}; BLAS: {blas}")
    print("median seconds per fit over interleaved rounds (min–max); the NumPy floor and ours as "
          "a ratio to sklearn; test accuracy\n")
    header = ["workload", "data, hidden, epochs", "sklearn s (min–max)", "numpy floor s",
              "tinygrad_mlp s (min–max)", "ours / sklearn", "test acc sklearn / numpy / ours",
              "Δ acc points"]
    rows = []
    for w in WORKLOADS:
        if w.name not in only:
            continue
        for dt in dtypes:
            rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else w.rounds
            rows.append(run(w, dt, 3 if quick else rounds))
            print(P.table(header, rows[-1:]), flush=True)
    print("\nall workloads:")
    print(P.table(header, rows))


if __name__ == "__main__":
    main()
