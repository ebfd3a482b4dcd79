"""training.fit: it trains (the same numbers as a hand-written loop), returns a History that
behaves as the list it used to return, shows a tqdm bar redrawn at most a few times a second
where someone watches (a terminal, Jupyter) and nothing elsewhere, and trains without tqdm."""
from __future__ import annotations

import io
import subprocess
import sys
import time
import types
import warnings

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim, functional as F
from tinygrad_mlp.training import History, REFRESH_SECONDS, fit

BCE = lambda out, t: F.binary_cross_entropy_with_logits(out, t.reshape(-1, 1))   # noqa: E731
MSE = lambda out, t: F.mse_loss(out, t.reshape(-1, 1))                            # noqa: E731


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal, and records what was written."""

    def isatty(self) -> bool:
        return True


def tiny(epochs: int = 20, **kw):
    """Fit a 2-1 logistic model on two blobs; returns (history, model)."""
    X, y = tg.datasets.blobs(n=80, centers=[[-2.0, 0.0], [2.0, 0.0]], std=0.5, rng=0)
    model = nn.MLP([2, 1], rng=0)
    kw.setdefault("rng", 0)
    hist = fit(model, BCE, optim.SGD(model.parameters(), lr=0.5), X, y, epochs=epochs, batch_size=16, **kw)
    return hist, model


def xor_fit(epochs: int, **kw) -> History:
    X, y = tg.datasets.xor()
    model = nn.MLP([2, 3, 1], rng=0)
    return fit(model, MSE, optim.SGD(model.parameters(), lr=0.5), X, y, epochs=epochs, shuffle=False, **kw)


class RecordingBar:
    """Stands in for a tqdm class: records how fit drives it."""
    made: list["RecordingBar"] = []

    def __init__(self, total=None, **kw):
        self.total, self.kw, self.updates, self.closed, self.postfix = total, kw, 0, False, ""
        RecordingBar.made.append(self)

    def set_postfix_str(self, s, refresh=True):
        self.postfix = s

    def update(self, n=1):
        self.updates += n

    def close(self):
        self.closed = True


@pytest.fixture
def recorder(monkeypatch):
    """Replace both tqdm classes fit may use by RecordingBar; returns the list of bars made."""
    import tqdm.notebook
    import tqdm.std
    RecordingBar.made = []
    monkeypatch.setattr(tqdm.notebook, "tqdm", type("NotebookBar", (RecordingBar,), {}))
    monkeypatch.setattr(tqdm.std, "tqdm", type("StdBar", (RecordingBar,), {}))
    return RecordingBar.made


@pytest.fixture
def no_tqdm(monkeypatch):
    """Make `import tqdm...` fail, as on a machine without tqdm."""
    for name in [m for m in sys.modules if m == "tqdm" or m.startswith("tqdm.")] + ["tqdm", "tqdm.auto", "tqdm.std"]:
        monkeypatch.setitem(sys.modules, name, None)


# ------------------------------------------------------------------ training (moved from test_nn.py)
def test_fit_trains_and_is_silent_off_terminal():
    X, y = tg.datasets.blobs(n=80, centers=[[-2.0, 0.0], [2.0, 0.0]], std=0.5, rng=0)
    model = nn.MLP([2, 1], rng=0)
    opt = optim.SGD(model.parameters(), lr=0.5)
    stream = io.StringIO()
    hist = tg.training.fit(model, BCE, opt, X, y, epochs=20, batch_size=16, rng=0, stream=stream)
    assert len(hist) == 20 and hist[-1] < hist[0] / 4 and stream.getvalue() == ""
    shown = io.StringIO()
    tg.training.fit(model, MSE, opt, X, y, epochs=2, progress=True, stream=shown)
    assert "epoch 2/2" in shown.getvalue()


def test_fit_full_batch_equals_a_hand_written_loop():
    X, y = tg.datasets.xor()
    a, b = nn.MLP([2, 3, 1], rng=0), nn.MLP([2, 3, 1], rng=0)
    hist = tg.training.fit(a, MSE, optim.SGD(a.parameters(), lr=0.5), X, y, epochs=5, shuffle=False)
    opt = optim.SGD(b.parameters(), lr=0.5)
    manual = []
    for _ in range(5):
        opt.zero_grad()
        out = MSE(b(X), y)
        out.backward()
        opt.step()
        manual.append(out.item())
    np.testing.assert_allclose(hist, manual, rtol=1e-14)


def test_fit_is_reproducible_with_a_seed_or_a_generator():
    a, _ = tiny(rng=0)
    b, _ = tiny(rng=0)
    c, _ = tiny(rng=np.random.default_rng(0))
    d, _ = tiny(rng=1)
    assert a == b == c and a != d


def test_fit_checks_its_arguments():
    with pytest.raises(ValueError, match="fit: epochs must be >= 0, got -1"):
        tiny(epochs=-1)
    model = nn.MLP([2, 1], rng=0)
    with pytest.raises(ValueError, match="fit: the training set is empty"):
        fit(model, MSE, optim.SGD(model.parameters(), lr=0.1), np.zeros((0, 2)), np.zeros(0))


# ------------------------------------------------------------------ History
def test_history_behaves_as_the_list_of_losses():
    hist, _ = tiny(epochs=6, progress=False)
    assert isinstance(hist, History)
    losses = hist.loss
    assert isinstance(losses, list) and len(losses) == 6 and all(type(v) is float for v in losses)
    assert len(hist) == 6 and hist[0] == losses[0] and hist[-1] == losses[-1] and hist[1:3] == losses[1:3]
    assert list(hist) == losses and [v for v in hist] == losses
    assert hist == losses and losses == hist and hist == tuple(losses) and hist == History(losses)
    assert hist != losses[:-1] and hist != [v + 1 for v in losses] and hist != "losses"
    assert np.array_equal(np.asarray(hist), losses) and np.asarray(hist, dtype=np.float32).dtype == np.float32
    assert losses[2] in hist and hist.index(losses[2]) == 2 and list(reversed(hist)) == losses[::-1]
    assert min(hist) == min(losses) and sum(hist) == sum(losses)
    with pytest.raises(TypeError):
        hash(hist)


def test_history_repr_is_short_for_long_runs():
    assert repr(History([0.5, 0.25])) == "History(epochs=2, loss=[0.5, 0.25])"
    assert repr(History([4, 3, 2, 1])) == "History(epochs=4, loss=[4, 3, 2, 1])"
    text = repr(History(np.linspace(1, 0.001, 3000)))
    assert text.startswith("History(epochs=3000, loss=[1, 0.9997, 0.9993, ..., 0.001])") and len(text) < 80


def test_zero_epochs_give_an_empty_history_and_no_output():
    shown = io.StringIO()
    hist = xor_fit(0, progress=True, stream=shown)
    assert hist == [] and len(hist) == 0 and shown.getvalue() == ""


# ------------------------------------------------------------------ the progress bar
def test_the_bar_is_throttled():
    """3,000 fast epochs: a handful of redraws (at most 4 a second), not 3,000 messages."""
    stream = FakeTerminal()
    start = time.perf_counter()
    hist = xor_fit(3000, stream=stream)                   # progress=None on a "terminal": a bar
    seconds = time.perf_counter() - start
    text = stream.getvalue()
    redraws = text.count("\r")
    assert 1 <= redraws <= seconds / REFRESH_SECONDS + 3, (redraws, seconds)
    assert redraws < 100 and len(text) < 100 * 120       # far fewer than one per epoch
    last = text.rstrip("\n").split("\r")[-1]
    assert "epoch 3000/3000" in last and f"loss {hist[-1]:.4g}" in last and text.endswith("\n")


def test_the_bar_shows_the_loss_as_it_trains():
    stream = io.StringIO()
    hist = xor_fit(3, progress=True, stream=stream)
    assert "epoch 3/3" in stream.getvalue() and f"loss {hist[-1]:.4g}" in stream.getvalue()


def test_no_output_at_all_when_progress_is_off(capfd):
    stream = FakeTerminal()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xor_fit(50, progress=False, stream=stream)
        xor_fit(50, progress=False)
    assert stream.getvalue() == ""
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_progress_none_shows_a_bar_only_on_a_terminal():
    quiet, loud = io.StringIO(), FakeTerminal()
    xor_fit(5, stream=quiet)
    xor_fit(5, stream=loud)
    assert quiet.getvalue() == "" and "epoch 5/5" in loud.getvalue()


def test_progress_none_off_terminal_writes_nothing_to_stderr(capsys):
    xor_fit(5)                                            # stderr is captured: not a terminal
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("widgets, kind", [(True, "NotebookBar"), (False, "StdBar")])
def test_in_jupyter_the_bar_is_the_notebook_widget(monkeypatch, recorder, widgets, kind):
    """In a Jupyter kernel stderr is no terminal, yet a bar is shown: the notebook widget, or,
    without ipywidgets, the text bar (tqdm.auto would warn in every cell there); fit drives it
    once per epoch and closes it."""
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    monkeypatch.setattr(tg.training, "_has_widgets", lambda: widgets)
    hist = xor_fit(7)
    (bar,) = recorder
    assert type(bar).__name__ == kind and bar.total == 7 and bar.updates == 7 and bar.closed
    assert bar.kw["mininterval"] == REFRESH_SECONDS and bar.postfix == f"loss {hist[-1]:.4g}"


def test_outside_jupyter_no_bar_is_made_off_terminal(recorder):
    xor_fit(7)
    assert recorder == []


def test_a_given_stream_gets_the_text_bar(recorder):
    stream = FakeTerminal()
    xor_fit(4, stream=stream)
    (bar,) = recorder
    assert type(bar).__name__ == "StdBar" and bar.kw["file"] is stream and bar.updates == 4


def test_the_bar_is_closed_when_training_fails(recorder):
    X, y = tg.datasets.xor()
    model = nn.MLP([2, 3, 1], rng=0)
    calls = []

    def failing(out, t):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return MSE(out, t)

    with pytest.raises(RuntimeError, match="boom"):
        fit(model, failing, optim.SGD(model.parameters(), lr=0.5), X, y, epochs=10, progress=True,
            stream=io.StringIO())
    (bar,) = recorder
    assert bar.updates == 2 and bar.closed


# ------------------------------------------------------------------ without tqdm
def test_fit_trains_without_tqdm(no_tqdm):
    with_tqdm = xor_fit(30, progress=False)
    stream = FakeTerminal()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # progress=None: silently no bar
        hist = xor_fit(30, stream=stream)
    assert hist == with_tqdm and hist[-1] < hist[0] and stream.getvalue() == ""
    with pytest.warns(UserWarning, match=r"progress=True needs tqdm \(pip install tqdm\)"):
        again = xor_fit(30, progress=True, stream=stream)
    assert again == with_tqdm and stream.getvalue() == ""


def test_importing_the_package_and_fitting_quietly_loads_no_tqdm():
    code = ("import sys, tinygrad_mlp as tg\n"
            "from tinygrad_mlp import nn, optim, functional as F\n"
            "X, y = tg.datasets.xor()\n"
            "m = nn.MLP([2, 3, 1], rng=0)\n"
            "tg.training.fit(m, lambda o, t: F.mse_loss(o, t.reshape(-1, 1)), optim.SGD(m.parameters(), lr=0.5), X, y, epochs=3)\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('tqdm', 'matplotlib')))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]" and proc.stderr == ""
