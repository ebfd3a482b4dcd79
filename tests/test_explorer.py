"""viz.backward_steps and viz.explore: the chain rule's numbers frame by frame, checked against
tg.grad on seed 003's (x + y) z, on the 2-3-1 MLP and on random graphs; the frames are read
the way a student reads them (their labels), and they share one layout. The page itself is
tested in a real browser in test_explorer_browser.py."""
import re
import shutil

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import engine, nn, viz
from tinygrad_mlp import functional as F
from tinygrad_mlp.viz import steps
from helpers import seed003

NODE = re.compile(r"^\s*(\w+) \[(.*)\]$", re.M)
EDGE = re.compile(r"^\s*(\w+) -> (\w+) \[(.*)\]$", re.M)
NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")


def mlp_loss():
    """Seed 002's 2-3-1 MLP with sigmoid output on one point, binary cross-entropy."""
    model = nn.MLP([2, 3, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
    loss = F.binary_cross_entropy(model(tg.Tensor([[0.3, -0.8]], label="x")), np.array([[1.0]]))
    loss.label = "L"
    return model, loss


def attr(attrs, key):
    m = re.search(rf'(?<![a-z_]){key}=(?:"((?:[^"\\]|\\.)*)"|(\S+))', attrs)
    return None if m is None else (m.group(1) if m.group(1) is not None else m.group(2))


def labels(frame):
    """node id -> its text as drawn: fields (split at |) of lines (split at \\n)."""
    out = {}
    for name, attrs in NODE.findall(frame.source):
        text = attr(attrs, "label")
        if name.startswith(("v", "o")) and text is not None:
            if text.startswith("{") and text.endswith("}"):      # a record drawn top to bottom
                text = text[1:-1]
            out[name] = [f.split("\\n") for f in re.split(r"(?<!\\)\|", text)]
    return out


def edge_labels(frame):
    return {attr(a, "id"): (attr(a, "label") or "").split("\\n") for _, _, a in EDGE.findall(frame.source)}


def shown_grad(fields):
    """The gradient a value node shows (the total after '=' when contributions add up), or
    None for 'grad ?'."""
    field = next((f for f in fields if f[0].startswith("grad")), None)
    if field is None or field[0] == "grad ?":
        return None
    text = " ".join(field)
    if field[0].startswith("grad: sum of"):
        text = " ".join(field[1:])
    elif "=" in text:
        text = text.rsplit("=", 1)[1]
    else:
        text = text[len("grad"):]
    return np.array([float(v) for v in NUMBER.findall(text)])


def node_named(frame, name):
    return next(k for k, f in labels(frame).items() if k.startswith("v") and
                f[0][0].split("  ")[0] == name)


def agrees(shown, true):
    """Display precision: 4 significant digits."""
    true = np.asarray(true, dtype=np.float64).ravel()
    return shown.shape == true.shape and np.allclose(shown, true, rtol=1e-3, atol=1e-12)


# ---------------------------------------------------------------- seed 003, by hand
def test_seed003_frames_tell_the_tutorials_story():
    x, y, z, q, f = seed003()
    frames = viz.backward_steps(f)
    assert len(frames) == 3                                 # forward, then ×, then +
    first, mult, add = frames
    assert "Forward pass" in first.source
    assert all(shown_grad(v) is None for k, v in labels(first).items() if k.startswith("v"))
    # step 1: backward through f = q × z with upstream df/df = 1
    assert "backward through f = q × z" in mult.source and "∂f/∂f = 1" in mult.source
    e = edge_labels(mult)
    q_edge = next(v for v in e.values() if v and v[0].startswith("∂f/∂q"))
    z_edge = next(v for v in e.values() if v and v[0].startswith("∂f/∂z"))
    assert q_edge == ["∂f/∂q = z = -4", "1 × -4 = -4"]
    assert z_edge == ["∂f/∂z = q = 3", "1 × 3 = 3"]
    assert shown_grad(labels(mult)[node_named(mult, "x")]) is None      # not reached yet
    # step 2: backward through q = x + y with upstream df/dq = -4
    assert "∂f/∂q = -4" in add.source
    e = edge_labels(add)
    assert ["∂q/∂x = 1", "-4 × 1 = -4"] in e.values() and ["∂q/∂y = 1", "-4 × 1 = -4"] in e.values()
    want = {"x": -4, "y": -4, "z": 3, "q": -4, "f": 1}
    for name, g in want.items():
        assert agrees(shown_grad(labels(add)[node_named(add, name)]), g), name


def test_highlight_follows_the_op_backward_runs():
    *_, f = seed003()
    frames = viz.backward_steps(f)
    red = viz.graph.HIGHLIGHT
    lit = [[k for k, a in NODE.findall(fr.source) if k.startswith("o") and red in a] for fr in frames]
    ops = {labels(frames[0])[k][0][0]: k for k in labels(frames[0]) if k.startswith("o")}
    assert lit == [[], [ops["×"]], [ops["+"]]]


def test_a_value_used_twice_shows_its_contributions_adding_up():
    a = tg.Tensor(3.0, requires_grad=True, label="a")
    b = a * a - 2 / a            # three contributions: 3 and 3 from a·a, 0.2222 from 2/a
    b.label = "b"
    frames = viz.backward_steps(b)
    last = labels(frames[-1])[node_named(frames[-1], "a")]
    grad_line = [f for f in last if f[0].startswith("grad")][0][0]
    assert re.fullmatch(r"grad (0\.2222 \+ 3 \+ 3|3 \+ 3 \+ 0\.2222) = 6\.222", grad_line)
    (true,) = tg.grad(b, [a])
    assert agrees(shown_grad(last), true.numpy())
    both = [e for e in edge_labels(frames[-1]).values() if e and e[0].startswith("∂") and "= a" in e[0]]
    assert len(both) == 2        # a × a: two edges, each with its own local derivative


def test_nothing_is_stored_or_freed():
    x, y, z, q, f = seed003()
    q.retain_grad()
    viz.backward_steps(f)
    viz.explore(f, quiz=True)
    assert all(t.grad is None for t in (x, y, z, q, f))
    f.backward()                                     # the graph is still whole
    assert (x.grad.item(), y.grad.item(), z.grad.item(), q.grad.item()) == (-4, -4, 3, -4)


def test_clear_errors():
    x, y, z, q, f = seed003()
    with pytest.raises(ValueError, match="single number"):
        viz.backward_steps(tg.Tensor([1.0, 2.0], requires_grad=True) * 2)
    with pytest.raises(ValueError, match="nothing that requires grad|not computed"):
        viz.backward_steps(tg.Tensor(1.0, requires_grad=True))
    with pytest.raises(ValueError, match="max_steps"):
        viz.backward_steps(f, max_steps=1)
    with pytest.raises(ValueError, match="rankdir"):
        viz.backward_steps(f, rankdir="XY")
    f.backward()
    with pytest.raises(RuntimeError, match="freed"):
        viz.explore(f)


# ---------------------------------------------------------------- tensors: the 2-3-1 MLP
def test_mlp_frames_match_tg_grad_step_by_step():
    """At each step the upstream gradient shown is d L / d output (complete, as backward runs
    ops after all their consumers) and the last frame holds every gradient tg.grad gives."""
    model, loss = mlp_loss()
    tr = steps.trace(loss)
    frames = steps.frames(tr)
    assert len(frames) == 1 + 5          # linear, σ, linear, σ, BCE
    outs = [tr.values[s.out].tensor for s in tr.steps]
    for s, g in zip(tr.steps, tg.grad(loss, outs, retain_graph=True)):
        np.testing.assert_allclose(s.upstream, g.numpy(), rtol=1e-12)
    last = labels(frames[-1])
    for name, p in model.named_parameters():
        (g,) = tg.grad(loss, [p], retain_graph=True)
        assert agrees(shown_grad(last[node_named(frames[-1], name)]), g.numpy()), name
    assert "∂L/∂layers.0.weight" not in frames[0].source and "grad ?" in frames[0].source


def test_mlp_local_derivatives_are_written_as_a_reader_checks_them():
    model, loss = mlp_loss()
    tr = steps.trace(loss)
    frames = steps.frames(tr)
    sigma = next(i for i, s in enumerate(tr.steps, 1) if tr.values[s.out].tensor.op == "Sigmoid"
                 and tr.values[s.out].tensor.shape == (1, 3))
    (lines,) = [v for v in edge_labels(frames[sigma]).values() if v and v[0].startswith("∂")]
    assert re.fullmatch(r"∂t₂/∂t₁ = t₂·\(1 − t₂\)", lines[0])      # the elementwise rule
    h = tr.values[tr.steps[sigma - 1].out].tensor.numpy()
    assert agrees(np.array([float(v) for v in NUMBER.findall(lines[1])]), h * (1 - h))
    assert lines[2].startswith("g ⊙ local = ")
    lin = next(i for i, s in enumerate(tr.steps, 1) if tr.values[s.out].tensor.op == "Linear"
               and tr.values[s.out].tensor.shape == (1, 3))
    texts = [v for v in edge_labels(frames[lin]).values() if v and v[0].startswith("g ↦")]
    assert sorted(t[0] for t in texts) == ["g ↦ g summed over rows", "g ↦ gᵀ @ x"]


def test_frames_share_one_layout():
    """Nothing moves between frames: same positions and sizes, same picture size."""
    model, loss = mlp_loss()
    frames = viz.backward_steps(loss)
    pos = [{line.split("[")[0].strip(): attr(line, "pos") for line in f.source.splitlines()
            if attr(line, "pos")} for f in frames]
    assert all(p == pos[0] for p in pos)
    assert len(pos[0]) == 11 + 5 + 2 + 10 + 5     # values, ops, corners; input, output edges
    sizes = {re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"',
                       viz.rendering._render_bytes(f.source, "svg").decode()).groups() for f in frames}
    assert len(sizes) == 1


def test_quiz_frames_show_no_gradient_numbers():
    x, y, z, q, f = seed003()
    frames = viz.backward_steps(f, quiz=True)
    for fr in frames:
        assert all(shown_grad(v) is None for k, v in labels(fr).items() if k.startswith("v"))
        assert "× -4" not in fr.source and "-4 ×" not in fr.source
    assert "∂f/∂q = z" in frames[1].source                 # the rule stays: it is the hint


def test_frames_render_without_dot(monkeypatch):
    """Layout and SVG with the in-process renderer when the dot program is missing."""
    monkeypatch.setattr(viz.rendering, "_dot_available", lambda: False)
    *_, f = seed003()
    ex = viz.explore(f)
    assert len(ex.svgs) == 3 and all(s.startswith("<svg") for s in ex.svgs)
    assert "∂f/∂q = z = &#45;4" in ex.svgs[1].replace("-", "&#45;")


# ---------------------------------------------------------------- random graphs
@st.composite
def graphs(draw):
    """Small random DAGs of scalars and 2-vectors (broadcasting), with reuse of values."""
    leaves = []
    for i in range(draw(st.integers(1, 3))):
        shape = draw(st.sampled_from([(), (), (2,)]))
        data = np.array(draw(st.lists(st.floats(-2, 2).filter(lambda v: abs(v) > 0.1),
                                      min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))))
        leaves.append(tg.Tensor(data.reshape(shape), requires_grad=True, label="abc"[i]))
    pool = list(leaves)
    for _ in range(draw(st.integers(1, 6))):
        a, b = draw(st.sampled_from(pool)), draw(st.sampled_from(pool))
        op = draw(st.sampled_from(["add", "sub", "mul", "div", "tanh", "sigmoid", "neg",
                                   "square", "const"]))
        out = {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
               "div": lambda: a / (b * b + 1.0), "tanh": lambda: a.tanh(),
               "sigmoid": lambda: a.sigmoid(), "neg": lambda: -a, "square": lambda: a ** 2,
               "const": lambda: 0.5 * a}[op]()
        pool.append(out)
    root = pool[-1] if pool[-1].ndim == 0 else pool[-1].sum()
    return leaves, root


@given(graphs())
def test_random_graphs_last_frame_is_tg_grad(case):
    leaves, root = case
    if root.grad_fn is None:              # a bare leaf: nothing to step through
        return
    tr = steps.trace(root)
    wanted = [v.tensor for k, v in enumerate(tr.values) if k in tr.grads]
    true = tg.grad(root, wanted, retain_graph=True)
    for t, g in zip(wanted, true):
        k = next(k for k, v in enumerate(tr.values) if v.tensor is t)
        np.testing.assert_allclose(tr.grads[k], g.numpy(), rtol=1e-12, atol=1e-300)
    frames = steps.frames(tr)
    assert len(frames) == 1 + len(engine.reachable([root]))
    last = labels(frames[-1])
    for t, g in zip(wanted, true):
        k = next(k for k, v in enumerate(tr.values) if v.tensor is t)
        assert agrees(shown_grad(last[f"v{k}"]), g.numpy()), (tr.values[k].name, last[f"v{k}"])
    assert all(leaf.grad is None for leaf in leaves)


# ---------------------------------------------------------------- the Explorer object
def test_explorer_page_is_self_contained(tmp_path):
    *_, f = seed003()
    ex = viz.explore(f)
    assert len(ex) == 3 and "3 frames" in repr(ex)
    page = ex.save(tmp_path / "xyz.html")
    text = open(page, encoding="utf-8").read()
    assert text.startswith("<!doctype html>")
    assert text.count("<svg") == len(ex) + 1      # each frame as data, frame 0 shown without JS
    urls = set(re.findall(r"https?://[^\s\"'<>)\\]+", text))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    for fetch in ("<link", " src=", "@import", "url(", "fetch(", "XMLHttpRequest"):
        assert fetch not in text, fetch
    frag = ex._repr_html_()
    assert frag.startswith('<div class="tgx"') and "<!doctype" not in frag
    assert 'id="tgx-' in frag and frag.count("<script") == 2
    with pytest.raises(ValueError, match=".html"):
        ex.save(tmp_path / "xyz.svg")


def test_quiz_answers_are_the_true_gradients():
    x, y, z, q, f = seed003()
    answers = viz.explore(f, quiz=True).answers()
    assert [(a["label"], a["grad"]) for a in answers] == [
        ("∂f/∂f", [1.0]), ("∂f/∂q", [-4.0]), ("∂f/∂z", [3.0]), ("∂f/∂x", [-4.0]), ("∂f/∂y", [-4.0])]


def test_save_gif(tmp_path, monkeypatch):
    from PIL import Image
    *_, f = seed003()
    ex = viz.explore(f)
    assert shutil.which("dot"), "the Graphviz dot program is needed (apt-get install graphviz)"
    path = ex.save_gif(tmp_path / "xyz.gif", seconds_per_frame=0.5)
    with Image.open(path) as im:
        assert im.n_frames == 3 and im.info["duration"] == 500 and im.info.get("loop") == 0
    monkeypatch.setattr(viz.rendering, "_dot_available", lambda: False)
    with pytest.raises(RuntimeError, match="dot program.*save\\(path.html\\)"):
        ex.save_gif(tmp_path / "again.gif")


def test_demo_index_links_the_explorer_pages(tmp_path):
    """demos/backprop.py writes the players for (x + y) z (also as a quiz) and the 2-3-1 MLP,
    and the index links them."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "demos"))
    import backprop
    import run_all
    run_all.run_all(tmp_path, fast=True, names=["backprop"])
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    for name, _ in backprop.PAGES:
        page = (tmp_path / name).read_text(encoding="utf-8")
        assert page.startswith("<!doctype html>") and 'class="tgx"' in page
        assert f"href='{name}'" in index and f"]({name})" in readme
    assert "tgx-quiz" in (tmp_path / "backprop_xyz_quiz.html").read_text(encoding="utf-8")


def test_a_custom_function_steps_through_its_own_backward():
    class Cube(tg.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a ** 3

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * 3 * a * a

    x = tg.Tensor(2.0, requires_grad=True, label="x")
    y = Cube.apply(x) * 1.5
    y.label = "y"
    frames = viz.backward_steps(y)
    assert "Cube.backward(g)" in frames[2].source and "contribution = 18" in frames[2].source
    assert agrees(shown_grad(labels(frames[-1])[node_named(frames[-1], "x")]), 18.0)
