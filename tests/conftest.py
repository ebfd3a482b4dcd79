"""Hypothesis profiles: `ci` (derandomized, bounded, no deadline; selected by .ci/run),
`dev` (the default locally) and `thorough` (HYPOTHESIS_PROFILE=thorough pytest)."""
import os

import pytest

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, max_examples=30, deadline=None,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def raw_grad_dtypes(monkeypatch):
    """The dtypes of the gradients the engine computed, recorded before `_accumulate` casts
    them to the parameters' dtypes (which would hide an upcast inside backward)."""
    from tinygrad_mlp import engine
    seen = []
    store = engine._accumulate

    def spy(grads, root_grad, create):
        seen.extend(g.dtype for g in grads.values())
        return store(grads, root_grad, create)

    monkeypatch.setattr(engine, "_accumulate", spy)
    return seen


@pytest.fixture
def no_gc():
    """Only reference counting may free things: a graph kept alive by a cycle would leak."""
    import gc
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
