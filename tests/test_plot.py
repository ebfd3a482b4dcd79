"""tinygrad_mlp.plot: each picture returns its Axes and draws what it should (checked on the
artists: every data point, the boundary where the model's output crosses its threshold, the
loss values, the hidden activations), for binary (logit or probability) and multi-class
models; bad input raises errors naming the function and the shape; every figure renders to PNG
with Agg; no warning leaks (NumPy's or matplotlib's); importing needs matplotlib only here."""
from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402
from PIL import Image  # noqa: E402

import tinygrad_mlp as tg  # noqa: E402
from tinygrad_mlp import nn, plot  # noqa: E402
from tinygrad_mlp.training import History  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error")      # a leaked warning is a failure


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def circles():
    return tg.datasets.circles(n=120, noise=0.05, factor=0.5, rng=0)


def render(ax, tmp_path, name: str) -> None:
    """Draw the figure with Agg into a PNG and check the file is a real, non-blank image."""
    path = tmp_path / f"{name}.png"
    ax.figure.savefig(path, dpi=60)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("L"))
    assert pixels.std() > 10, "the picture is blank"


def points_of(ax) -> np.ndarray:
    """All scatter points of a 2-D Axes, stacked."""
    return np.concatenate([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])


def point_colors(ax) -> dict[str, str]:
    """Legend label -> face colour of each scatter collection."""
    return {c.get_label(): to_hex(c.get_facecolor()[0]) for c in ax.collections if isinstance(c, PathCollection)}


def contours(ax, filled: bool) -> list[ContourSet]:
    return [c for c in ax.collections if isinstance(c, ContourSet) and c.filled == filled]


def boundary_vertices(ax) -> np.ndarray:
    """The vertices of the drawn decision boundary lines."""
    lines = contours(ax, filled=False)
    assert lines, "no boundary drawn"
    return np.concatenate([p.vertices for cs in lines for p in cs.get_paths() if len(p.vertices)])


def linear_mlp(w, b, output_activation=None) -> nn.MLP:
    """A 2-1 'MLP' (no hidden layer) with set weights: its output is w·x + b (or σ of it)."""
    model = nn.MLP([2, 1], output_activation=output_activation)
    model.layers[0].weight.data[...] = [w]
    model.layers[0].bias.data[...] = [b]
    return model


# ------------------------------------------------------------------ decision_boundary
def test_binary_logit_model_boundary_at_zero(circles, tmp_path):
    X, y = circles
    model = linear_mlp([4.0, 0.0], -2.0)                    # logit 4 x1 - 2: boundary x1 = 0.5
    ax = plot.decision_boundary(model, X, y)
    assert isinstance(ax, plt.Axes)
    assert len(points_of(ax)) == len(X)
    np.testing.assert_allclose(np.sort(points_of(ax), axis=0), np.sort(X, axis=0))
    assert len(contours(ax, filled=True)) == 1
    np.testing.assert_allclose(boundary_vertices(ax)[:, 0], 0.5, atol=0.01)
    assert point_colors(ax) == {"class 0": plot.CLASS_COLORS[0], "class 1": plot.CLASS_COLORS[1]}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
    assert ax.get_xlabel() == "$x_1$" and ax.get_aspect() == 1.0
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < X[:, 0].min() and x1 > X[:, 0].max() and y0 < X[:, 1].min() and y1 > X[:, 1].max()
    render(ax, tmp_path, "binary_logit")


def test_binary_sigmoid_mlp_boundary_at_one_half(circles, tmp_path):
    """The same line, but the MLP outputs σ(4 x1 - 2): its boundary is where that is 0.5. Taken
    for a logit, σ(σ(.)) would never reach 0.5 and no boundary would be drawn."""
    X, y = circles
    ax = plot.decision_boundary(linear_mlp([4.0, 0.0], -2.0, "sigmoid"), X, y)
    np.testing.assert_allclose(boundary_vertices(ax)[:, 0], 0.5, atol=0.01)
    render(ax, tmp_path, "binary_probability")


def test_a_sequential_ending_in_sigmoid_gives_probabilities(circles):
    X, y = circles
    lin = nn.Linear(2, 1)
    lin.weight.data[...] = [[0.0, 4.0]]
    lin.bias.data[...] = [2.0]                              # σ(4 x2 + 2) = 0.5 at x2 = -0.5
    ax = plot.decision_boundary(nn.Sequential(lin, nn.Sigmoid()), X, y)
    np.testing.assert_allclose(boundary_vertices(ax)[:, 1], -0.5, atol=0.01)


def test_any_callable_model_and_the_output_keyword(circles):
    X, y = circles
    calls = []

    def model(points):
        calls.append(points)
        return np.asarray(points)[:, 0] - 0.25             # an ndarray of shape (N,)

    ax = plot.decision_boundary(model, X, y)               # a plain callable: a logit
    assert isinstance(calls[0], tg.Tensor) and calls[0].shape[1] == 2
    np.testing.assert_allclose(boundary_vertices(ax)[:, 0], 0.25, atol=0.01)
    plt.close("all")
    prob = lambda p: 1 / (1 + np.exp(-8 * np.asarray(p)[:, :1]))     # noqa: E731  (N, 1) probabilities
    ax = plot.decision_boundary(prob, X, y, output="probability")
    np.testing.assert_allclose(boundary_vertices(ax)[:, 0], 0.0, atol=0.01)


def test_huge_logits_leak_no_overflow_warning(circles):
    X, y = circles
    ax = plot.decision_boundary(lambda p: 1e4 * p[:, 0], X, y)
    np.testing.assert_allclose(boundary_vertices(ax)[:, 0], 0.0, atol=0.01)


def test_a_model_predicting_one_class_everywhere_draws_no_boundary(circles):
    X, y = circles
    ax = plot.decision_boundary(lambda p: 5.0 + 0 * p[:, 0], X, y)
    assert contours(ax, filled=False) == [] and len(contours(ax, filled=True)) == 1


def test_multiclass_regions_follow_the_argmax(tmp_path):
    X, y = tg.datasets.spiral(n=90, classes=3)
    W = np.array([[1.0, 0.0], [-0.5, 0.8], [-0.5, -0.8]])  # three directions: three sectors
    ax = plot.decision_boundary(lambda p: p @ W.T, X, y)
    assert len(points_of(ax)) == len(X)
    filled = contours(ax, filled=True)
    assert [to_hex(cs.get_facecolor()[0]) for cs in filled] == list(plot.REGION_COLORS[:3])
    for region, inside in zip(filled, W * 0.8):            # each sector's own direction is in its region
        assert any(path.contains_point(inside) for path in region.get_paths())
        assert not any(path.contains_point(-inside) for path in region.get_paths())
    top2 = np.sort(boundary_vertices(ax) @ W.T, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]                          # on a boundary the best two scores tie:
    assert np.median(gap) < 1e-12 and gap.max() < 0.01     # exactly, but within a grid cell of the junction
    assert point_colors(ax) == {f"class {c}": plot.CLASS_COLORS[c] for c in range(3)}
    render(ax, tmp_path, "multiclass")


def test_an_mlp_with_two_scores_is_multiclass(circles):
    """(N, 2) outputs are class scores (argmax), not a binary classifier's (N, 1)."""
    X, y = circles
    model = nn.MLP([2, 2], rng=0)
    model.layers[0].weight.data[...] = [[-1.0, 0.0], [1.0, 0.0]]
    model.layers[0].bias.data[...] = [0.0, 0.5]             # class 1 where 2 x1 + 0.5 > 0
    ax = plot.decision_boundary(model, X, y)
    assert [to_hex(cs.get_facecolor()[0]) for cs in contours(ax, filled=True)] == list(plot.REGION_COLORS[:2])
    np.testing.assert_allclose(boundary_vertices(ax)[:, 0], -0.25, atol=1e-9)


def test_a_class_that_wins_nowhere_gets_no_region(circles):
    X, y = circles
    ax = plot.decision_boundary(lambda p: np.c_[p[:, 0], -p[:, 0], np.full(len(p), -9.0)], X, y)
    assert [to_hex(cs.get_facecolor()[0]) for cs in contours(ax, filled=True)] == list(plot.REGION_COLORS[:2])


def test_labels_may_be_floats_or_a_column_and_float32_data_stays_float32(circles):
    X, y = circles
    seen = []
    model = lambda p: (seen.append(p.dtype), p[:, 0])[1]   # noqa: E731
    ax = plot.decision_boundary(model, X.astype(np.float32), y.astype(float).reshape(-1, 1))
    assert seen == [np.float32] and len(points_of(ax)) == len(X)


def test_it_draws_into_a_given_axes():
    X, y = tg.datasets.xor()
    fig, (a, b) = plt.subplots(1, 2)
    assert plot.decision_boundary(linear_mlp([1.0, 1.0], -1.0), X, y, ax=b) is b
    assert len(a.collections) == 0 and len(points_of(b)) == 4 and len(fig.axes) == 2


def test_few_points_are_drawn_big_many_small():
    X, y = tg.datasets.xor()
    ax = plot.decision_boundary(linear_mlp([1.0, 1.0], -1.0), X, y)
    big = [c.get_sizes()[0] for c in ax.collections if isinstance(c, PathCollection)]
    X2, y2 = tg.datasets.circles(n=400, rng=0)
    ax = plot.decision_boundary(linear_mlp([1.0, 1.0], -1.0), X2, y2)
    small = [c.get_sizes()[0] for c in ax.collections if isinstance(c, PathCollection)]
    assert min(big) >= 100 and max(small) <= 20


@pytest.mark.parametrize("X, y, message", [
    (np.zeros((5, 3)), np.zeros(5, int), r"decision_boundary: X must have shape \(N, 2\) with N >= 1, got \(5, 3\)"),
    (np.zeros(4), np.zeros(4, int), r"decision_boundary: X must have shape \(N, 2\) with N >= 1, got \(4,\)"),
    (np.zeros((0, 2)), np.zeros(0, int), r"got \(0, 2\)"),
    (np.zeros((5, 2)), np.zeros(4, int), r"decision_boundary: y must hold one label per row of X, shape \(5,\), got \(4,\)"),
    (np.zeros((5, 2)), np.zeros((5, 2), int), r"y must hold one label per row of X, shape \(5,\), got \(5, 2\)"),
    (np.zeros((2, 2)), np.array([0.5, 1.0]), r"decision_boundary: y must hold class indices"),
    (np.zeros((2, 2)), np.array([-1, 1]), r"decision_boundary: class indices must be in 0..9 \(one colour each\), got -1..1"),
    (np.array([[0.0, np.nan]]), np.zeros(1, int), r"decision_boundary: X contains NaN or inf"),
])
def test_bad_data_is_named(X, y, message):
    with pytest.raises(ValueError, match=message):
        plot.decision_boundary(linear_mlp([1.0, 0.0], 0.0), X, y)


def test_bad_models_are_named(circles):
    X, y = circles
    with pytest.raises(ValueError, match=r"decision_boundary: for 40000 points .* got \(40000, 2, 1\)"):
        plot.decision_boundary(lambda p: np.zeros((len(p), 2, 1)), X, y)
    with pytest.raises(ValueError, match=r"decision_boundary: for 40000 points .* got \(3,\)"):
        plot.decision_boundary(lambda p: np.zeros(3), X, y)
    with pytest.raises(ValueError, match="decision_boundary: at most 10 classes .* 11 scores"):
        plot.decision_boundary(lambda p: np.zeros((len(p), 11)), X, y)
    with pytest.raises(ValueError, match="decision_boundary: output must be 'logit', 'probability' or None, got 'prob'"):
        plot.decision_boundary(linear_mlp([1.0, 0.0], 0.0), X, y, output="prob")


# ------------------------------------------------------------------ loss_curve
def test_loss_curve_plots_the_history(tmp_path):
    hist = History(np.geomspace(1.0, 0.001, 50))
    ax = plot.loss_curve(hist)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), hist.loss)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 51))
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "epoch" and ax.get_ylabel() == "loss"
    render(ax, tmp_path, "loss")


def test_loss_curve_takes_a_list_stays_linear_for_a_small_range_and_passes_line_options():
    ax = plot.loss_curve([0.9, 0.7, 0.6, 0.55], label="SGD", color="#ff0000")
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [0.9, 0.7, 0.6, 0.55] and ax.get_yscale() == "linear"
    assert line.get_label() == "SGD" and line.get_color() == "#ff0000"


def test_several_curves_share_one_axes():
    fig, ax = plt.subplots()
    for name, h in {"a": [1.0, 0.01], "b": [1.0, 0.5]}.items():
        assert plot.loss_curve(h, ax=ax, label=name) is ax
    assert [l.get_label() for l in ax.get_lines()] == ["a", "b"] and ax.get_yscale() == "log"


def test_a_single_epoch_is_drawn_as_a_marker_and_nan_does_not_break_it():
    (line,) = plot.loss_curve([0.5]).get_lines()
    assert line.get_marker() == "o"
    ax = plot.loss_curve([1.0, 0.01, float("nan")])         # diverged training still plots
    assert ax.get_yscale() == "log"


@pytest.mark.parametrize("history, shape", [([], r"\(0,\)"), ([[1.0, 2.0]], r"\(1, 2\)")])
def test_loss_curve_rejects_what_is_not_a_history(history, shape):
    with pytest.raises(ValueError, match=f"loss_curve: history must be a non-empty sequence of per-epoch losses, got shape {shape}"):
        plot.loss_curve(history)


# ------------------------------------------------------------------ hidden_space
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def points3d(ax) -> np.ndarray:
    """All scatter points of a 3-D Axes (matplotlib keeps their data in `_offsets3d`)."""
    return np.concatenate([np.column_stack(c._offsets3d) for c in ax.collections if isinstance(c, PathCollection)])


def test_hidden_space_three_units_in_3d_with_the_output_plane(circles, tmp_path):
    X, y = circles
    model = nn.MLP([2, 3, 1], rng=0)
    ax = plot.hidden_space(model, X, y)
    assert ax.name == "3d"
    W, b = model.layers[0].weight.data, model.layers[0].bias.data
    H = sigmoid(X @ W.T + b)
    drawn = points3d(ax)
    assert len(drawn) == len(X)
    np.testing.assert_allclose(np.sort(drawn, axis=0), np.sort(H, axis=0), rtol=1e-12)
    (plane,) = [c for c in ax.collections if isinstance(c, Poly3DCollection)]
    wm, bm = model.layers[1].weight.data[0], model.layers[1].bias.data[0]
    corners = plane._faces[~plane._invalid_vertices]      # the surface's vertices, in data coordinates
    assert len(corners) > 0
    np.testing.assert_allclose(corners @ wm + bm, 0, atol=1e-9)
    assert ax.get_xlim3d() == pytest.approx((-0.04, 1.04)) and ax.get_zlabel() == "$h_3$"
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["class 0", "class 1"]
    render(ax, tmp_path, "hidden3d")


def test_hidden_space_two_units_in_2d_with_the_output_line(circles, tmp_path):
    X, y = circles
    model = nn.MLP([2, 2, 1], activation="tanh", rng=0)
    ax = plot.hidden_space(model, X, y)
    assert ax.name == "rectilinear"
    W, b = model.layers[0].weight.data, model.layers[0].bias.data
    np.testing.assert_allclose(np.sort(points_of(ax), axis=0), np.sort(np.tanh(X @ W.T + b), axis=0), rtol=1e-12)
    (line,) = ax.get_lines()
    wm, bm = model.layers[1].weight.data[0], model.layers[1].bias.data[0]
    np.testing.assert_allclose(np.c_[line.get_xdata(), line.get_ydata()] @ wm + bm, 0, atol=1e-9)
    render(ax, tmp_path, "hidden2d")


def test_hidden_space_one_unit_on_a_line_per_class(circles, tmp_path):
    X, y = circles
    model = nn.MLP([2, 1, 1], activation="relu", rng=0)
    ax = plot.hidden_space(model, X, y)
    P = points_of(ax)
    h = np.maximum(X @ model.layers[0].weight.data.T + model.layers[0].bias.data, 0)[:, 0]
    np.testing.assert_allclose(np.sort(P[:, 0]), np.sort(h), rtol=1e-12)
    assert set(P[:, 1]) == {0.0, 1.0}
    (line,) = ax.get_lines()                               # the output unit's threshold
    wm, bm = model.layers[1].weight.data[0, 0], model.layers[1].bias.data[0]
    assert line.get_xdata()[0] == pytest.approx(-bm / wm)
    render(ax, tmp_path, "hidden1d")


def test_hidden_space_more_than_three_units_uses_pca(tmp_path):
    X, y = tg.datasets.spiral(n=90, classes=3)
    model = nn.MLP([2, 16, 3], activation="relu", rng=0)
    ax = plot.hidden_space(model, X, y)
    P = points3d(ax)
    assert ax.name == "3d" and len(P) == len(X)
    var = P.var(axis=0)
    assert var[0] >= var[1] >= var[2] > 0
    assert ax.get_xlabel().startswith("PC1 (") and "principal components of its 16 units" in ax.get_title()
    assert not any(isinstance(c, Poly3DCollection) for c in ax.collections)    # projected: no plane
    render(ax, tmp_path, "hidden_pca")


def test_hidden_space_of_a_deeper_layer(circles):
    X, y = circles
    model = nn.MLP([2, 4, 2, 1], rng=0)
    ax = plot.hidden_space(model, X, y, layer=1)
    (W1, b1), (W2, b2) = [(lin.weight.data, lin.bias.data) for lin in list(model.layers)[:2]]
    H = sigmoid(sigmoid(X @ W1.T + b1) @ W2.T + b2)
    np.testing.assert_allclose(np.sort(points_of(ax), axis=0), np.sort(H, axis=0), rtol=1e-12)
    assert len(ax.get_lines()) == 1 and "hidden layer 2" in ax.get_title()
    plt.close("all")
    ax = plot.hidden_space(nn.MLP([2, 2, 3, 1], rng=0), X, y, layer=0)   # not the last hidden layer
    assert len(ax.get_lines()) == 0
    plt.close("all")
    ax = plot.hidden_space(nn.MLP([2, 2, 3], rng=0), X, y)            # three outputs: no one boundary
    assert len(ax.get_lines()) == 0


def test_hidden_space_errors_name_the_function(circles):
    X, y = circles
    model = nn.MLP([2, 3, 1], rng=0)
    with pytest.raises(TypeError, match="hidden_space: model must be an nn.MLP .* got Linear"):
        plot.hidden_space(nn.Linear(2, 3), X, y)
    with pytest.raises(ValueError, match=r"hidden_space: this MLP \(sizes \[2, 1\]\) has no hidden layer"):
        plot.hidden_space(nn.MLP([2, 1]), X, y)
    with pytest.raises(ValueError, match=r"hidden_space: layer must be an int in \[0, 1\) .* got 1"):
        plot.hidden_space(model, X, y, layer=1)
    with pytest.raises(ValueError, match=r"hidden_space: layer must be an int .* got -2"):
        plot.hidden_space(model, X, y, layer=-2)
    with pytest.raises(ValueError, match=r"hidden_space: layer must be an int .* got 0.0"):
        plot.hidden_space(model, X, y, layer=0.0)
    with pytest.raises(ValueError, match=r"hidden_space: X must have shape \(N, 2\) with N >= 1, got \(120, 3\)"):
        plot.hidden_space(model, np.c_[X, X[:, 0]], y)
    with pytest.raises(ValueError, match=r"hidden_space: y must hold one label per row of X, shape \(120,\), got \(3,\)"):
        plot.hidden_space(model, X, y[:3])
    fig, ax2d = plt.subplots()
    with pytest.raises(ValueError, match="hidden_space: layer 0 has 3 units, drawn in 3-D: pass ax=fig.add_subplot"):
        plot.hidden_space(model, X, y, ax=ax2d)


def test_hidden_space_draws_into_a_given_3d_axes(circles):
    X, y = circles
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    assert plot.hidden_space(nn.MLP([2, 3, 1], rng=0), X, y, layer=-1, ax=ax) is ax
    assert len(fig.axes) == 1


# ------------------------------------------------------------------ imports
def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_import_tinygrad_mlp_does_not_import_matplotlib():
    proc = run_python("import sys, tinygrad_mlp; print('matplotlib' in sys.modules)")
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr


def test_import_plot_without_matplotlib_says_what_to_install():
    proc = run_python("import sys; sys.modules['matplotlib'] = None\n"
                      "try:\n    import tinygrad_mlp.plot\n"
                      "except ImportError as e:\n    print(e)\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ("tinygrad_mlp.plot needs matplotlib: pip install matplotlib "
                                   "(or pip install -e '.[plot]' from a clone)")
