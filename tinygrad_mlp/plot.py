"""The matplotlib pictures every lesson draws: a classifier's decision boundary, a loss curve, and
the data as a hidden layer sees it (seed 002's projection of the circles into the hidden space of
a 2-3-1 MLP, where a plane separates them).

Each function draws into `ax` (a new figure when None) and returns that Axes, so pictures compose
into subplots and can be retitled. Classes keep one colour everywhere (`CLASS_COLORS`: class 0
blue, class 1 red, class 2 green, ...). matplotlib is imported here and nowhere else, so
`import tinygrad_mlp` never needs it.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

try:
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
except ImportError as exc:
    raise ImportError("tinygrad_mlp.plot needs matplotlib: pip install matplotlib "
                      "(or pip install -e '.[plot]' from a clone)") from exc

from . import Tensor, nn, no_grad

__all__ = ["decision_boundary", "loss_curve", "hidden_space", "CLASS_COLORS"]

# Points in strong colours, decision regions in light versions of the same hues (tab10 / tab20).
CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
REGION_COLORS = ("#c6dbef", "#fcbba1", "#c7e9c0", "#dadaeb", "#fdd0a2",
                 "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")
# Where hidden activations live, so pictures of different models share axes.
_RANGES = {nn.Sigmoid: (0.0, 1.0), nn.Tanh: (-1.0, 1.0)}


# ---------------------------------------------------------------- the three pictures
def decision_boundary(model: Callable[[Any], Any], X: Any, y: Any, ax: Axes | None = None, *,
                      output: str | None = None) -> Axes:
    """Shade what `model` predicts over the box around the 2-D data `X` and draw the data,
    coloured by its labels `y` (class indices 0, 1, ...).

    `model` is any callable taking a Tensor of points (N, 2): an `nn.Module` or a function.
    - One output per point (shape (N,) or (N, 1)): a binary classifier. Its output is a logit
      (class 1 where it is > 0) or a probability (class 1 where it is > 0.5). `output="logit"`
      or `"probability"` says which; by default an `nn.MLP` whose `output_activation` is
      `nn.Sigmoid` (or an `nn.Sequential` ending in one) gives probabilities and every other
      model logits (a linear output; for a tanh output 0 is the right threshold too). P(class 1)
      is shaded from blue to red and the 0.5 level drawn as the boundary.
    - k > 1 outputs per point: class scores (logits or probabilities); each point of the plane
      takes the light colour of its argmax class, and black lines separate the regions.
    """
    fn = "decision_boundary"
    X = _matrix(fn, X, cols=2)
    labels = _labels(fn, y, len(X))
    ax = _axes(ax, (5.2, 5.2))
    xx, yy, grid = _grid(X)
    z = _predict(fn, model, grid)
    if z.ndim == 2 and z.shape[1] > 1:
        _draw_regions(fn, ax, xx, yy, z)
    else:
        kind = _output_kind(fn, model, output)
        p = z.reshape(xx.shape) if kind == "probability" else _sigmoid(z.reshape(xx.shape))
        _draw_probability(ax, xx, yy, p)
    _scatter_classes(ax, X, labels)
    ax.set(xlim=(xx.min(), xx.max()), ylim=(yy.min(), yy.max()), xlabel="$x_1$", ylabel="$x_2$")
    span = np.ptp(X, axis=0)
    if np.all(span > 0) and max(span) <= 5 * min(span):      # comparable scales: circles look round
        ax.set_aspect("equal")
    _legend(ax, "best", len(X))
    return ax


def loss_curve(history: Any, ax: Axes | None = None, **line_kwargs: Any) -> Axes:
    """Plot the loss after each epoch: `history` is what `training.fit` returns (anything with
    `.loss`) or a sequence of floats. Epochs are numbered from 1. The y-axis turns logarithmic
    when the positive losses span more than a factor of 10, so the slow end of training stays
    visible. Extra keyword arguments go to `ax.plot` (e.g. `label=` to compare several runs on
    one Axes)."""
    fn = "loss_curve"
    losses = np.asarray(getattr(history, "loss", history), dtype=np.float64)
    if losses.ndim != 1 or len(losses) == 0:
        raise ValueError(f"{fn}: history must be a non-empty sequence of per-epoch losses, "
                         f"got shape {losses.shape}")
    ax = _axes(ax, (6, 3.5))
    if len(losses) == 1:
        line_kwargs.setdefault("marker", "o")                 # one point draws no line
    ax.plot(np.arange(1, len(losses) + 1), losses, **line_kwargs)
    finite = losses[np.isfinite(losses)]
    if ax.get_yscale() == "linear" and finite.size and finite.min() > 0 and finite.max() > 10 * finite.min():
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="loss")
    ax.grid(alpha=0.35)
    ax.grid(alpha=0.12, which="minor")
    return ax


def hidden_space(model: nn.MLP, X: Any, y: Any, layer: int = 0, ax: Axes | None = None) -> Axes:
    """Draw the data as hidden layer `layer` of an `nn.MLP` sees it: each point at its
    activations h after that layer (for layer 0, h = activation(W x + b)), coloured by class.

    1 unit: h along a line, one row per class; 2 units: a 2-D scatter; 3 units: a 3-D scatter, as
    in seed 002 (pass a 3-D Axes, `fig.add_subplot(projection="3d")`, or None); more than 3 units:
    the first three principal components of h (PCA), the axes saying how much of the variance
    each keeps. When `layer` is the last hidden layer and the model has one output, the output
    unit's boundary w·h + b = 0 is drawn too (a point, line or plane): the data is linearly
    separable in this space exactly when that boundary splits the colours.
    """
    fn = "hidden_space"
    if not isinstance(model, nn.MLP):
        raise TypeError(f"{fn}: model must be an nn.MLP (its hidden layers are model.layers[:-1]), "
                        f"got {type(model).__name__}")
    n_hidden = len(model.layers) - 1
    if n_hidden == 0:
        raise ValueError(f"{fn}: this MLP (sizes {model.sizes}) has no hidden layer")
    if not isinstance(layer, (int, np.integer)) or not -n_hidden <= layer < n_hidden:
        raise ValueError(f"{fn}: layer must be an int in [0, {n_hidden}) (or from -{n_hidden}, counted "
                         f"from the end) for an MLP with {n_hidden} hidden layer(s), got {layer!r}")
    layer = int(layer) % n_hidden
    X = _matrix(fn, X, cols=model.layers[0].in_features)
    labels = _labels(fn, y, len(X))
    H = _activations(model, X, layer)
    units = H.shape[1]
    names = [f"$h_{i + 1}$" for i in range(units)]
    if units > 3:
        H, names = _pca3(H)
    dims = H.shape[1]
    ax = _axes(ax, (6.5, 5.5), three_d=dims == 3)
    if dims == 3 and ax.name != "3d":
        raise ValueError(f"{fn}: layer {layer} has {units} units, drawn in 3-D: pass "
                         f"ax=fig.add_subplot(projection='3d') or ax=None")
    act = model.activation if units <= 3 else None          # principal components are unbounded
    lims = [_range(act, H[:, i]) for i in range(dims)]
    if dims == 1:
        _strip(ax, H[:, 0], labels, names[0], lims[0])
    else:
        _scatter_classes(ax, H, labels)
        ax.set(xlabel=names[0], ylabel=names[1], xlim=lims[0], ylim=lims[1])
        if dims == 3:
            ax.set(zlabel=names[2], zlim=lims[2])
    out = model.layers[-1]
    if layer == n_hidden - 1 and out.out_features == 1 and units <= 3:
        w = out.weight.data[0].astype(np.float64)
        b = 0.0 if out.bias is None else float(out.bias.data[0])
        _draw_output_boundary(ax, w, b, lims)
    what = f"first 3 principal components of its {units} units" if units > 3 else f"{units} unit" + "s" * (units > 1)
    ax.set_title(f"The data in hidden layer {layer + 1} ({what})")
    _legend(ax, "upper left", len(X))
    return ax


# ---------------------------------------------------------------- input checks
def _matrix(fn: str, X: Any, cols: int) -> np.ndarray:
    """X as a finite float array (N, cols), or an error naming `fn` and the shape received."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != cols or len(X) == 0:
        raise ValueError(f"{fn}: X must have shape (N, {cols}) with N >= 1, got {X.shape}")
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{fn}: X must hold numbers, got dtype {X.dtype}")
    X = X if X.dtype.kind == "f" else X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{fn}: X contains NaN or inf")
    return X


def _labels(fn: str, y: Any, n: int) -> np.ndarray:
    """y as int class indices, one per row of X (shape (n,) or (n, 1))."""
    y = np.asarray(y)
    if y.size != n or (y.ndim > 1 and y.shape != (n, 1)):
        raise ValueError(f"{fn}: y must hold one label per row of X, shape ({n},), got {y.shape}")
    y = y.reshape(-1)
    if y.dtype.kind not in "iub" and not (y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0)):
        raise ValueError(f"{fn}: y must hold class indices 0, 1, ... (integers), got values like {y[:3].tolist()}")
    if y.min() < 0 or y.max() >= len(CLASS_COLORS):
        raise ValueError(f"{fn}: class indices must be in 0..{len(CLASS_COLORS) - 1} (one colour each), "
                         f"got {int(y.min())}..{int(y.max())}")
    return y.astype(np.int64)


def _output_kind(fn: str, model: Any, output: str | None) -> str:
    """'logit' or 'probability': what a binary model's single output means."""
    if output is not None:
        if output not in ("logit", "probability"):
            raise ValueError(f"{fn}: output must be 'logit', 'probability' or None, got {output!r}")
        return output
    if isinstance(model, nn.MLP):
        last = getattr(model, "output_activation", None)
    elif isinstance(model, nn.Sequential) and len(model):
        last = model[-1]
    else:
        last = None
    return "probability" if isinstance(last, nn.Sigmoid) else "logit"


# ---------------------------------------------------------------- computing
def _predict(fn: str, model: Callable[[Any], Any], points: np.ndarray) -> np.ndarray:
    """The model's outputs for `points` as a float array with one row per point."""
    with no_grad():
        z = np.asarray(model(Tensor(points)), dtype=np.float64)
    m = len(points)
    if z.ndim == 0 or z.shape[0] != m or z.ndim > 2 or (z.ndim == 1 and z.shape != (m,)):
        raise ValueError(f"{fn}: for {m} points of shape (N, 2) the model must return (N,), (N, 1) "
                         f"or (N, k) class scores, got {z.shape}")
    return z


def _grid(X: np.ndarray, n: int = 200, pad: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An n-by-n grid over the data's box, widened by `pad` (in data units, at least 5% of the
    box): (xx, yy, points of shape (n*n, 2)) in X's dtype."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    margin = np.maximum(pad, 0.05 * (hi - lo))
    lo, hi = lo - margin, hi + margin
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    return xx, yy, np.c_[xx.ravel(), yy.ravel()].astype(X.dtype)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) written with tanh: no overflow warning for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _activations(model: nn.MLP, X: np.ndarray, layer: int) -> np.ndarray:
    """The output of hidden layer `layer` (after its activation) for the rows of X."""
    with no_grad():
        h: Any = Tensor(X)
        for lin in list(model.layers)[:layer + 1]:
            h = model.activation(lin(h))
        return np.asarray(h, dtype=np.float64)


def _pca3(H: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """H projected on its first three principal components, and axis names with the share of
    variance each keeps."""
    C = H - H.mean(axis=0)
    _, s, Vt = np.linalg.svd(C, full_matrices=False)
    var = s ** 2
    share = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    P = C @ Vt[:3].T
    if P.shape[1] < 3:                                    # fewer points than 3: pad with zeros
        P = np.c_[P, np.zeros((len(P), 3 - P.shape[1]))]
        share = np.r_[share, np.zeros(3)]
    return P, [f"PC{i + 1} ({share[i]:.0%} of variance)" for i in range(3)]


def _range(activation: Any, h: np.ndarray) -> tuple[float, float]:
    """The activation's own range when it is bounded (sigmoid: 0..1), else the data's; padded
    so that saturated units' points are not cut in half by the frame."""
    lo, hi = _RANGES.get(type(activation)) or (float(h.min()), float(h.max()))
    margin = 0.04 * (hi - lo) or 0.5
    return lo - margin, hi + margin


# ---------------------------------------------------------------- drawing
def _axes(ax: Axes | None, size: tuple[float, float], three_d: bool = False) -> Axes:
    if ax is not None:
        return ax
    fig = plt.figure(figsize=size)
    return fig.add_subplot(projection="3d" if three_d else None)


def _point_size(n: int) -> float:
    """Marker area: big for a handful of points (XOR's four), small for hundreds."""
    return float(np.clip(2800 / n, 12, 160))


def _legend(ax: Axes, loc: str, n: int) -> None:
    """A small legend whose markers keep one size however big the points are drawn."""
    ax.legend(loc=loc, fontsize=8, framealpha=0.9, markerscale=min(1.0, float(np.sqrt(20 / _point_size(n)))))


def _scatter_classes(ax: Axes, P: np.ndarray, labels: np.ndarray) -> None:
    """Points (2-D or 3-D) in their class colours, one legend entry per class."""
    size = _point_size(len(P))
    for c in np.unique(labels):
        m = labels == c
        ax.scatter(*P[m].T, s=size, c=CLASS_COLORS[c], edgecolors="k", linewidths=0.4,
                   label=f"class {c}", zorder=3)


def _draw_probability(ax: Axes, xx: np.ndarray, yy: np.ndarray, p: np.ndarray) -> None:
    """P(class 1) shaded from blue (0) to red (1) in tenths, the 0.5 level as a black line."""
    ax.contourf(xx, yy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.45, vmin=0, vmax=1)
    if p.min() < 0.5 < p.max():
        ax.contour(xx, yy, p, levels=[0.5], colors="k", linewidths=1.2)


def _draw_regions(fn: str, ax: Axes, xx: np.ndarray, yy: np.ndarray, z: np.ndarray) -> None:
    """Each class's region (where its score beats every other) in its light colour, black lines
    between regions. Contouring each class's margin over the best other score, not the argmax
    labels, gives smooth boundaries instead of the grid's staircase."""
    k = z.shape[1]
    if k > len(REGION_COLORS):
        raise ValueError(f"{fn}: at most {len(REGION_COLORS)} classes have their own colour, "
                         f"the model gives {k} scores per point")
    for c in range(k):
        margin = (z[:, c] - np.delete(z, c, axis=1).max(axis=1)).reshape(xx.shape)
        if margin.max() <= 0:
            continue                                      # this class wins nowhere in the box
        ax.contourf(xx, yy, margin, levels=[0, margin.max() + 1], colors=[REGION_COLORS[c]])
        if margin.min() < 0:
            ax.contour(xx, yy, margin, levels=[0], colors="k", linewidths=0.6)


def _strip(ax: Axes, h: np.ndarray, labels: np.ndarray, name: str, lim: tuple[float, float]) -> None:
    """One hidden unit: its value along x, one row per class."""
    classes = np.unique(labels)
    rows = np.searchsorted(classes, labels).astype(np.float64)
    _scatter_classes(ax, np.c_[h, rows], labels)
    ax.set(xlabel=name, xlim=lim, ylim=(-0.7, len(classes) - 0.3),
           yticks=range(len(classes)), yticklabels=[f"class {c}" for c in classes])


def _draw_output_boundary(ax: Axes, w: np.ndarray, b: float, lims: list[tuple[float, float]]) -> None:
    """The output unit's w·h + b = 0 inside the axes' box: a point (1-D), line (2-D) or plane (3-D),
    solved for the coordinate it depends on most so that steep boundaries draw too."""
    k = int(np.argmax(np.abs(w)))
    if w[k] == 0:
        return                                            # a constant output has no boundary
    label = "output unit: $w^Th+b=0$"
    if len(w) == 1:
        ax.axvline(-b / w[0], color="k", lw=1.5, label=label)
        return
    others = [i for i in range(len(w)) if i != k]
    grids = np.meshgrid(*(np.linspace(*lims[i], 30) for i in others))
    solved = -(b + sum(w[i] * g for i, g in zip(others, grids))) / w[k]
    coords = dict(zip(others, grids))
    if len(w) == 2:                                       # the Axes clip a line to their box
        coords[k] = solved
        ax.plot(coords[0], coords[1], color="k", lw=1.5, label=label)
        return
    lo, hi = lims[k]                                      # a 3-D surface is not clipped: mask it
    coords[k] = np.where((solved >= lo) & (solved <= hi), solved, np.nan)
    ax.plot_surface(coords[0], coords[1], coords[2], alpha=0.25, color="grey", label=label)
