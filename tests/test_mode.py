"""Grad mode and its switches: no_grad, enable_grad, set_grad_enabled, detect_anomaly; per
thread, re-entrant, usable as (bare) decorators, on generator functions too."""
from __future__ import annotations


from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from tinygrad_mlp import testing as tgt
from helpers import leaf


# ------------------------------------------------------------------ modes
def test_no_grad_context_manager() -> None:
    x = leaf(2)
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2.0
        with tg.enable_grad():
            z = x * 2.0
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad and not z.is_leaf


def test_no_grad_decorator_and_exception_safety() -> None:
    @tg.no_grad()
    def double(t: Tensor) -> Tensor:
        return t * 2.0

    x = leaf(2)
    y = double(x)
    assert not y.requires_grad and y.is_leaf and tg.is_grad_enabled()
    with pytest.raises(KeyError):
        with tg.no_grad():
            raise KeyError
    assert tg.is_grad_enabled()



def test_no_grad_decorator_is_reentrant() -> None:
    """Regression: one decorator instance kept a single `prev`, so a recursive decorated call
    left grad mode disabled after it returned."""
    @tg.no_grad()
    def depth(n: int) -> bool:
        return depth(n - 1) if n else tg.is_grad_enabled()

    assert depth(3) is False
    assert tg.is_grad_enabled() is True
    x = tg.Tensor([1.0], requires_grad=True)
    assert (x * 2).requires_grad


def test_no_grad_works_as_a_bare_decorator() -> None:
    @tg.no_grad
    def double(t: tg.Tensor) -> tg.Tensor:
        return t * 2

    x = tg.Tensor([1.0], requires_grad=True)
    assert not double(x).requires_grad and double.__name__ == "double"
    assert tg.is_grad_enabled()




# ------------------------------------------------------------------ per thread
def _in_thread(fn: Callable[[], Any]) -> Any:
    import threading
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_grad_mode_is_per_thread() -> None:
    import threading
    inside, release = threading.Event(), threading.Event()

    def hold_no_grad() -> None:
        with tg.no_grad():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=hold_no_grad)
    t.start()
    inside.wait(5)
    try:
        assert tg.is_grad_enabled()
        x = Tensor([1.0], requires_grad=True)
        assert (x * 2.0).requires_grad            # this thread still records
        assert _in_thread(lambda: tg.is_grad_enabled())   # a new thread starts with grad on
    finally:
        release.set()
        t.join()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_anomaly_mode_is_per_thread() -> None:
    with tg.detect_anomaly():
        x = Tensor([0.0], requires_grad=True)
        assert _in_thread(lambda: ((x - 1.0).log() * 0.0).sum().item()) != 1.0   # no raise
        with pytest.raises(FloatingPointError):
            (x - 1.0).log()


def test_two_threads_training_two_models_reach_what_each_reaches_alone() -> None:
    import threading
    from tinygrad_mlp import datasets, nn, optim

    def train(seed: int, steps: int, barrier: Any = None) -> list[np.ndarray]:
        X, y = datasets.moons(n=64, rng=seed)
        model = nn.MLP([2, 8, 1], activation="tanh", rng=seed)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        for i in range(steps):
            if barrier is not None and i % 10 == 0:
                barrier.wait(5)                   # interleave the two threads
            opt.zero_grad()
            if i % 7 == 0:
                with tg.no_grad():                # the other thread keeps recording
                    model(X)
            loss = tg.functional.binary_cross_entropy_with_logits(model(X), y[:, None] * 1.0)
            loss.backward()
            opt.step()
        return [p.data.copy() for p in model.parameters()]

    alone = [train(0, 60), train(1, 60)]
    barrier = threading.Barrier(2)
    results: dict[int, list[np.ndarray]] = {}
    threads = [threading.Thread(target=lambda s=s: results.__setitem__(s, train(s, 60, barrier)))
               for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in (0, 1):
        for a, b in zip(alone[s], results[s]):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ decorators and switches
def test_no_grad_holds_while_a_decorated_generator_runs() -> None:
    x = Tensor([1.0], requires_grad=True)

    @tg.no_grad()
    def gen() -> Any:
        for _ in range(3):
            yield (x * 2.0).requires_grad, tg.is_grad_enabled()

    steps = 0
    for recorded, enabled in gen():
        assert not recorded and not enabled
        assert tg.is_grad_enabled()               # outside, between steps, grad is on again
        steps += 1
    assert steps == 3


def test_generator_decorator_passes_values_sent_in_and_closes() -> None:
    @tg.no_grad
    def echo() -> Any:
        got = yield tg.is_grad_enabled()
        while True:
            got = yield (got, tg.is_grad_enabled())

    g = echo()
    assert next(g) is False
    assert g.send(5) == (5, False)
    g.close()


def test_set_grad_enabled_as_function_and_context() -> None:
    x = Tensor([1.0], requires_grad=True)
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with tg.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)


# ------------------------------------------------------------------ random programs in threads
_UNARY = {"tanh": lambda t: t.tanh(), "sigmoid": lambda t: t.sigmoid(),
          "square": lambda t: t * t, "softplus": lambda t: t.softplus(),
          "sum": lambda t: t.sum(axis=-1, keepdims=True)}
_BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


@st.composite
def programs(draw: Any) -> tuple[list[np.ndarray], list[tuple]]:
    """Two (2, 3) inputs, a scratch constant, and 3-8 steps: unary or binary ops on earlier
    values, or an in-place change of the scratch constant under no_grad."""
    xs = [draw(tgt.arrays((2, 3), lo=-1.5, hi=1.5)) for _ in range(2)]
    steps: list[tuple] = []
    for i in range(draw(st.integers(3, 8))):
        n = 3 + sum(1 for s in steps if s[0] != "bump")          # values so far
        kind = draw(st.sampled_from(["unary", "binary", "bump"]))
        if kind == "unary":
            steps.append((draw(st.sampled_from(sorted(_UNARY))), draw(st.integers(0, n - 1))))
        elif kind == "binary":
            steps.append((draw(st.sampled_from(sorted(_BINARY))), draw(st.integers(0, n - 1)),
                          draw(st.integers(0, n - 1))))
        else:
            steps.append(("bump", draw(st.floats(-0.5, 0.5))))
    return xs, steps


def _run(steps: list[tuple], a: Tensor, b: Tensor) -> Tensor:
    scratch = Tensor(np.full((2, 3), 0.25))
    values = [a, b, scratch]
    for step in steps:
        if step[0] == "bump":
            with tg.no_grad():
                scratch += step[1]
        elif step[0] in _UNARY:
            values.append(_UNARY[step[0]](values[step[1]]))
        else:
            values.append(_BINARY[step[0]](values[step[1]], values[step[2]]))
    out = (a * b).sum()
    for k, v in enumerate(values[3:]):
        out = out + (v * (k + 1.0)).sum()
    return out


def _goes_stale(steps: list[tuple]) -> bool:
    """Whether a recorded `mul` (one operand requires grad) reads the scratch constant (value
    2), which Mul then saves for backward, before a later in-place change of it."""
    needs = [True, True, False]                 # which values require grad
    read = False
    for step in steps:
        if step[0] == "bump":
            if read:
                return True
            continue
        args = step[1:]
        needs.append(any(needs[i] for i in args))
        read = read or (step[0] == "mul" and 2 in args and needs[-1])
    return False


@given(progs=st.lists(programs(), min_size=3, max_size=3))
def test_random_programs_in_threads_match_finite_differences(progs: list) -> None:
    """Three threads check three random programs at once while a fourth flips grad mode on
    and off in a loop: with per-thread grad mode, every gradient is still right."""
    import threading
    stop = threading.Event()
    errors: list[BaseException] = []

    def flipper() -> None:
        while not stop.is_set():
            with tg.no_grad():
                pass
            with tg.enable_grad():
                pass

    def check(xs: list[np.ndarray], steps: list[tuple]) -> None:
        try:
            inputs = [Tensor(x, requires_grad=True) for x in xs]
            if _goes_stale(steps):          # a Mul saved the scratch, then it changed
                with pytest.raises(RuntimeError, match="modified by an in-place operation"):
                    tg.gradcheck(lambda a, b: _run(steps, a, b), inputs)
            else:
                assert tg.gradcheck(lambda a, b: _run(steps, a, b), inputs)
        except BaseException as e:          # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=flipper)] + [
        threading.Thread(target=check, args=p) for p in progs]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    if errors:
        raise errors[0]
