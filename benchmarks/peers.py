"""Shared benchmark helpers: interleaved timing, optional peer imports, machine description.

Peers (PyTorch, MyGrad, DeZero, micrograd) are optional: `load_peers()` imports whichever are
installed and skips the rest; nothing here is a dependency of tinygrad_mlp.
"""
from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from typing import Any, Callable

import numpy as np

THREADS = os.cpu_count() or 1


def machine() -> str:
    """One line naming the machine: CPU model, core count, Python and NumPy versions."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{model}, {THREADS} cores (nproc), Python {platform.python_version()}, "
            f"NumPy {np.__version__}")


def load_peers() -> dict[str, Any]:
    """{name: module} for each optional peer that imports. Torch is set to use as many threads
    as the machine has cores (BLAS in NumPy does the same by default)."""
    peers: dict[str, Any] = {}
    try:
        import torch
        torch.set_num_threads(THREADS)
        peers["torch"] = torch
    except ImportError:
        pass
    try:
        import mygrad
        peers["mygrad"] = mygrad
    except ImportError:
        pass
    try:
        if not hasattr(np, "int"):
            np.int = int   # DeZero 0.0.13 still names np.int (removed in NumPy 1.24) at import
        import dezero
        peers["dezero"] = dezero
    except ImportError:
        pass
    try:
        import micrograd.engine
        import micrograd.nn
        peers["micrograd"] = micrograd
    except ImportError:
        pass
    return peers


def versions(peers: dict[str, Any]) -> str:
    return ", ".join(f"{n} {getattr(m, '__version__', '?')}" for n, m in peers.items()) or "none"


def interleaved(fns: dict[str, Callable[[], Any]], rounds: int, inner: dict[str, int] | int,
                warmup: int = 1) -> dict[str, list[float]]:
    """Per-call seconds of each fn, one sample per round, fns run in turn within each round
    (so machine drift hits all alike). `inner` calls per sample (per fn if a dict)."""
    per = {k: (inner[k] if isinstance(inner, dict) else inner) for k in fns}
    for k, f in fns.items():
        for _ in range(warmup * per[k]):
            f()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            n = per[k]
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            samples[k].append((time.perf_counter() - t0) / n)
    return samples


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt_time(s: float) -> str:
    """Seconds in the unit that reads best."""
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    if s < 1:
        return f"{s * 1e3:.3f} ms"
    return f"{s:.2f} s"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table with aligned columns (also valid Markdown)."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in rows])


def rss_mb() -> float:
    """Current resident set size in MiB (Linux /proc; falls back to peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class gc_paused:
    """Context manager: cyclic GC off inside (restored on exit)."""
    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: Any) -> None:
        if self.was:
            gc.enable()
