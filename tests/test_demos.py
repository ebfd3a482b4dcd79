"""The demos (demos/run_all.py --fast) produce every figure as a valid image and the key numbers
hold: the seed 003 gradients exactly, softmax - y, seed 004's XOR/AND results, and what the
fast mode honestly reaches. One run of all demos is shared by the tests (module fixture)."""
from __future__ import annotations

import html
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402

DEMOS_DIR = Path(__file__).resolve().parents[1] / "demos"
sys.path.insert(0, str(DEMOS_DIR))

import run_all  # noqa: E402

EXPECTED = {
    "linear_classifiers": ["linear_blobs.png", "linear_circles.png", "linear_phi.png"],
    "circles": ["circles_projection.png", "circles_hidden_classifiers.png", "circles_decision_boundary.png",
                "circles_loss.png", "circles_progression.png"],
    "nonlinearity": ["nonlinearity.png"],
    "backprop": ["backprop_xyz.svg", "backprop_mlp_gradients.txt", "backprop_softmax_ce.svg",
                 "backprop_mlp_graph.svg", "nn.svg", "nn_single.svg"],
    "xor_and": ["xor_and_boundary.png", "xor_training.gif"],
    "activations": ["activations.png"],
    "symmetry": ["symmetry.png"],
    "spiral": ["spiral_regions.png", "spiral_optimizers.png"],
    "hessian": ["hessian.png"],
}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demos_out")
    results = run_all.main(["--out", str(out), "--fast"])
    return out, results


def numbers(demo_run, name: str) -> dict:
    return demo_run[1][name].numbers


def assert_valid(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 0, path
    head = path.read_bytes()[:8]
    if path.suffix == ".png":
        assert head == b"\x89PNG\r\n\x1a\n", path
        with Image.open(path) as im:
            im.verify()
    elif path.suffix == ".gif":
        assert head[:6] in (b"GIF87a", b"GIF89a"), path
        with Image.open(path) as im:
            assert im.n_frames > 1, "the GIF should be animated"
    elif path.suffix == ".svg":
        assert ET.parse(path).getroot().tag.endswith("svg"), path
    else:
        assert path.read_text().strip(), path


def test_every_demo_ran_and_wrote_what_it_lists(demo_run):
    out, results = demo_run
    assert list(results) == list(EXPECTED)
    for name, files in EXPECTED.items():
        assert [f.file for f in results[name].figures] == files, name
        for f in files:
            assert_valid(out / f)


def test_index_pages_show_every_figure_and_number(demo_run):
    out, results = demo_run
    page, md = (out / "index.html").read_text(), (out / "README.md").read_text()
    saved = json.loads((out / "results.json").read_text())
    for name, files in EXPECTED.items():
        for f in files:
            assert f in page and f in md
        for f in results[name].figures:
            assert html.escape(f.caption) in page and f.caption in md
        assert set(saved[name]["numbers"]) == set(results[name].numbers)


def test_seed003_graph_gradients_exact(demo_run):
    n = numbers(demo_run, "backprop")
    assert (n["dL/dx"], n["dL/dy"], n["dL/dz"], n["dL/dq"], n["L"]) == (-4.0, -4.0, 3.0, -4.0, -12.0)
    svg = (demo_run[0] / "backprop_xyz.svg").read_text()
    assert "grad &#45;4" in svg and "grad 3" in svg        # the picture shows the gradients


def test_softmax_cross_entropy_gradient(demo_run):
    g = numbers(demo_run, "backprop")["softmax(z) - y"]
    np.testing.assert_allclose(g, [0.2, -0.3, 0.1], atol=1e-12)


def test_closed_form_mlp_gradients_match_engine(demo_run):
    n = numbers(demo_run, "backprop")
    assert n["2-3-1 closed form vs engine, max abs diff (one point)"] < 1e-12
    assert n["2-3-1 closed form vs engine, max abs diff (batch of 64)"] < 1e-12


def test_xor_and_reproduce_seed004(demo_run):
    n = numbers(demo_run, "xor_and")
    assert n["XOR confusion [[tp, fp], [fn, tn]]"] == [[2, 0], [0, 2]]
    assert n["AND confusion [[tp, fp], [fn, tn]]"] == [[1, 0], [0, 3]]
    for name in ("XOR", "AND"):     # same initial weights and updates as the seed: same error
        assert n[f"{name} final error"] == pytest.approx(n[f"{name} seed 004 error"], rel=1e-9)
    with Image.open(demo_run[0] / "xor_training.gif") as im:
        assert im.n_frames == 5001 // 500 + 1     # fast mode: a frame every 500 epochs


def test_linear_classifier_and_its_limit(demo_run):
    n = numbers(demo_run, "linear_classifiers")
    assert n["blobs accuracy"] >= 0.9
    assert n["circles accuracy (linear)"] <= 0.7
    assert n["circles accuracy after phi"] == 1.0


def test_mlp_solves_circles_and_identity_collapses(demo_run):
    c, nl = numbers(demo_run, "circles"), numbers(demo_run, "nonlinearity")
    assert c["2-3-1 accuracy"] >= 0.97
    assert all(a >= 0.97 for a in c["progression accuracies"].values())
    assert nl["sigmoid accuracy"] >= 0.97
    assert nl["identity-activation accuracy"] <= 0.7
    assert nl["identity net minus its collapsed line, max abs"] < 1e-12


def test_activation_derivatives_by_autograd(demo_run):
    assert numbers(demo_run, "activations")["max |autograd derivative - formula|"] < 1e-12


def test_symmetry_is_kept_by_equal_init_and_broken_by_random(demo_run):
    n = numbers(demo_run, "symmetry")
    assert n["constant init: max difference between hidden units"] == 0.0
    assert n["random init: max difference between hidden units"] > 1.0
    assert n["random init: accuracy"] > n["constant init: accuracy"]


def test_spiral_multiclass(demo_run):
    n = numbers(demo_run, "spiral")
    assert n["Adam (lr 0.02): accuracy"] >= 0.95
    assert n["Adam (lr 0.02): final loss"] < n["SGD + momentum 0.9 (lr 0.1): final loss"] \
        < n["SGD (lr 0.5): final loss"]


def test_hessian_double_backward_matches_finite_differences(demo_run):
    n = numbers(demo_run, "hessian")
    assert n["parameters"] == 9
    assert n["max |H_double_backward - H_finite_diff|"] < 1e-6
    assert n["max |H - H^T| (double backward)"] < 1e-12


def test_a_demo_runs_alone(tmp_path):
    proc = subprocess.run([sys.executable, str(DEMOS_DIR / "activations.py"), "--fast", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert_valid(tmp_path / "activations.png")
    assert "max |autograd derivative - formula|" in proc.stdout
