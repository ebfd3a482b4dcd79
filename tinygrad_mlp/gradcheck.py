"""Checking the engine's gradients against central finite differences in float64."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .engine import grad as _grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """The analytical and numerical gradients disagree."""


def _as_inputs(inputs: Any) -> tuple[Tensor, ...]:
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    out = []
    for x in inputs:
        if isinstance(x, Tensor) and x.requires_grad:
            out.append(Tensor(x.data, dtype=np.float64, requires_grad=True))
        elif isinstance(x, Tensor):
            out.append(x)
        else:
            out.append(Tensor(np.asarray(x)))
    return tuple(out)


def _outputs(fn: Callable, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
    out = fn(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(out)


def _numerical(fn: Callable, inputs: Sequence[Tensor], x: Tensor, eps: float) -> np.ndarray:
    """Jacobian columns for input `x`: J[k, i] = d out_flat[k] / d x_flat[i] (C order). Each
    element of the input's own array is perturbed by index, so any memory layout works."""
    arr = x.data
    cols = []
    for idx in np.ndindex(arr.shape):
        orig = arr[idx]
        arr[idx] = orig + eps
        plus = np.concatenate([o.data.reshape(-1) for o in _outputs(fn, inputs)])
        arr[idx] = orig - eps
        minus = np.concatenate([o.data.reshape(-1) for o in _outputs(fn, inputs)])
        arr[idx] = orig
        cols.append((plus - minus) / (2 * eps))
    if cols:
        return np.stack(cols, axis=1)
    return np.zeros((sum(o.size for o in _outputs(fn, inputs)), 0))   # an empty input


def _analytical(outs: Sequence[Tensor], inputs: Sequence[Tensor]) -> list[np.ndarray]:
    """One backward per output element: J rows for every differentiable input."""
    diff = [x for x in inputs if x.requires_grad]
    n_out = sum(o.size for o in outs)
    jac = [np.zeros((n_out, x.size)) for x in diff]
    live = [o for o in outs if o.requires_grad]
    row = 0
    for o in outs:
        for k in range(o.size):
            if o.requires_grad:
                seeds = [np.zeros(p.shape) for p in live]
                seeds[next(i for i, p in enumerate(live) if p is o)].reshape(-1)[k] = 1.0
                grads = _grad(live, diff, grad_outputs=seeds, retain_graph=True)
                for j, g in enumerate(grads):
                    jac[j][row] = g.data.reshape(-1)
            row += 1
    return jac


def gradcheck(fn: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare the engine's gradient of `fn(*inputs)` (any output shapes, one Tensor or a tuple)
    with central finite differences, in float64, for every input with requires_grad=True."""
    inputs = _as_inputs(inputs)
    if not any(x.requires_grad for x in inputs):
        raise ValueError("gradcheck: no input has requires_grad=True, so nothing would be checked")
    outs = _outputs(fn, inputs)
    analytic = _analytical(outs, inputs)
    diff = [(i, x) for i, x in enumerate(inputs) if x.requires_grad]
    for (i, x), a in zip(diff, analytic):
        n = _numerical(fn, inputs, x, eps)
        bad = ~np.isclose(a, n, rtol=rtol, atol=atol, equal_nan=False)
        if bad.any():
            k, j = np.argwhere(bad)[0]
            elem = np.unravel_index(j, x.shape) if x.ndim else ()
            msg = (f"gradcheck: Jacobian mismatch for input {i} (shape {x.shape}) at element "
                   f"{tuple(int(e) for e in elem)}, output element {int(k)}: analytical "
                   f"{float(a[k, j])!r} vs numerical {float(n[k, j])!r} "
                   f"(|error| {abs(a[k, j] - n[k, j]):.3g}, "
                   f"atol={atol}, rtol={rtol})")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(fn: Callable, inputs: Any, grad_outputs: Any = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of the vector-Jacobian product v·∂fn/∂inputs
    (computed with create_graph=True) with respect to the inputs and to `v`."""
    inputs = _as_inputs(inputs)
    outs = _outputs(fn, inputs)
    rng = np.random.default_rng(seed)
    if grad_outputs is None:
        grad_outputs = [rng.standard_normal(o.shape) for o in outs]
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outs):
        raise ValueError(f"gradgradcheck: {len(grad_outputs)} grad_outputs for {len(outs)} outputs")
    vs = [Tensor(np.asarray(v.data if isinstance(v, Tensor) else v, dtype=np.float64), requires_grad=True)
          for v in grad_outputs]
    n = len(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if x.requires_grad]

    def vjp(*args: Tensor) -> tuple[Tensor, ...]:
        xs, v = args[:n], args[n:]
        live = [(o, g) for o, g in zip(_outputs(fn, xs), v) if o.requires_grad]
        if not live:
            return tuple(Tensor(np.zeros(xs[i].shape)) for i in diff_idx)
        return _grad([o for o, _ in live], [xs[i] for i in diff_idx],
                     grad_outputs=[g for _, g in live], create_graph=True)

    return gradcheck(vjp, (*inputs, *vs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
