"""Grad mode and its switches: no_grad, enable_grad, set_grad_enabled, detect_anomaly; per
thread, re-entrant, usable as (bare) decorators, on generator functions too."""
from __future__ import annotations


import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
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


