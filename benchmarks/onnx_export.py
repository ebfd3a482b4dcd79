"""Export time of an nn.MLP([784, 512, 512, 10]) (float32) to ONNX, split into its parts,
and onnxruntime's forward pass on the exported file next to the engine's.

Export runs the model twice (the example, then a batch one row longer in another order, to
find the batch-dependent dimensions), builds the graph, and writes the file (~2.6 MB).

Run: python benchmarks/onnx_export.py [--quick]
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Any, Callable

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import nn
from tinygrad_mlp import onnx as tg_onnx


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of `repeat` calls, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(quick: bool) -> None:
    import onnx
    import onnxruntime as ort

    repeat = 3 if quick else 15
    model = nn.MLP([784, 512, 512, 10], activation="relu", rng=0, dtype=np.float32)
    x = np.random.default_rng(0).standard_normal((64, 784)).astype(np.float32)
    path = os.path.join(tempfile.mkdtemp(), "mlp.onnx")

    total = timed(lambda: tg_onnx.export(model, x, path), repeat)
    forward = timed(lambda: model(tg.Tensor(x, requires_grad=True)), repeat)
    proto = tg_onnx.export(model, x, path)
    save = timed(lambda: onnx.save_model(proto, path), repeat)
    check = timed(lambda: onnx.checker.check_model(proto, full_check=True), repeat)

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    with tg.no_grad():
        ref = model(x).data
    got = sess.run(None, {"input": x})[0]
    assert np.allclose(got, ref, rtol=1e-5, atol=1e-5), np.abs(got - ref).max()
    with tg.no_grad():
        ours = timed(lambda: model(x), repeat * 10)
    theirs = timed(lambda: sess.run(None, {"input": x}), repeat * 10)

    size = os.path.getsize(path) / 1e6
    print(f"nn.MLP([784, 512, 512, 10]) float32, example batch 64, file {size:.1f} MB")
    print(f"  export (median of {repeat}):      {total * 1e3:7.1f} ms")
    print(f"    of which 2 recorded forwards ~ {2 * forward * 1e3:7.1f} ms")
    print(f"    of which onnx.save_model    ~ {save * 1e3:7.1f} ms")
    print(f"  check_model(full_check=True):  {check * 1e3:7.1f} ms (not part of export)")
    print(f"  forward, batch 64: engine (no_grad) {ours * 1e3:.2f} ms, "
          f"onnxruntime {theirs * 1e3:.2f} ms")


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
