"""`tinygrad_mlp.sklearn.MLPClassifier.fit` next to scikit-learn's own `MLPClassifier.fit`,
same process, interleaved rounds, median seconds per fit, and the test accuracy of both.

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


def run(w: Workload, dtype: Any, rounds: int) -> list[str]:
    Xtr, Xte, ytr, yte = w.data()
    Xtr, Xte = Xtr.astype(dtype), Xte.astype(dtype)
    last: dict[str, dict[str, Any]] = {"sklearn": {}, "tinygrad_mlp": {}}
    fns = {"sklearn": fitter(SkMLP, w, Xtr, ytr, last["sklearn"]),
           "tinygrad_mlp": fitter(MLPClassifier, w, Xtr, ytr, last["tinygrad_mlp"])}
    samples = P.interleaved(fns, rounds=rounds, inner=1, warmup=1)
    med = {k: P.median(v) for k, v in samples.items()}
    acc = {}
    for k, slot in last.items():
        est = slot["est"]
        if est.n_iter_ != w.epochs:
            raise AssertionError(f"{k} ran {est.n_iter_} epochs, not {w.epochs}")
        if est.coefs_[0].dtype != np.dtype(dtype):
            raise AssertionError(f"{k} trained in {est.coefs_[0].dtype}, not {np.dtype(dtype)}")
        acc[k] = est.score(Xte, yte)
    spread = {k: f"{min(v):.3f}–{max(v):.3f}" for k, v in samples.items()}
    return [f"{w.name} {np.dtype(dtype).name}", f"{len(Xtr)}x{Xtr.shape[1]}, {w.hidden}, {w.epochs} ep",
            f"{med['sklearn']:.3f} ({spread['sklearn']})",
            f"{med['tinygrad_mlp']:.3f} ({spread['tinygrad_mlp']})",
            f"{med['tinygrad_mlp'] / med['sklearn']:.2f}x",
            f"{acc['sklearn']:.4f}", f"{acc['tinygrad_mlp']:.4f}",
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
    print("median seconds per fit over interleaved rounds (min–max), ratio ours / sklearn, "
          "test accuracy\n")
    header = ["workload", "data, hidden, epochs", "sklearn s", "tinygrad_mlp s", "ratio",
              "acc sklearn", "acc ours", "Δ points"]
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
