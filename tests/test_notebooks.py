"""The teaching notebooks in docs/notebooks: each one runs top to bottom in a fresh kernel (their
`assert`s check the tutorials' worked numbers), and each is committed clean.

- Execution: nbclient, one test per notebook, a timeout per cell, the notebook's own folder as
  the kernel's working directory, nothing written back (the executed copy stays in memory,
  Hypothesis's storage goes to a temporary folder, and the notebooks' folder must look the same
  afterwards). The kernel is *this* interpreter, `sys.executable`
  with `-m ipykernel_launcher`, whatever kernelspecs the machine has registered: a `python3`
  kernelspec found in ~/.local/share/jupyter or /usr/share/jupyter could start another Python
  that lacks the package under test (or has an older copy of it).
- Clean: no outputs and no execution counts in the committed files, so diffs show only what
  an author changed.

Needs nbformat, nbclient and ipykernel (all in the `test` extra).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402
from nbclient.exceptions import CellExecutionError, CellTimeoutError  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "docs" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 300          # seconds for one cell; the slowest takes about 3 s on 2 cores
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def test_there_are_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"


class _ThisInterpreter(KernelSpecManager):
    """Every kernel name resolves to an IPython kernel running on this interpreter."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                          name=kernel_name, display_name=f"Python ({sys.executable})", language="python")


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _failure(path: Path, nb, err: Exception) -> str:
    """Which cell failed (its index, source and error), for the test report."""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                trace = _ANSI.sub("", "\n".join(out.get("traceback", [])))
                return (f"{path.name}: cell {index} failed\n---- source ----\n{cell.source}\n"
                        f"---- error ----\n{trace}")
    return f"{path.name}: {type(err).__name__}\n{_ANSI.sub('', str(err))}"   # e.g. a timeout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nb = nbformat.read(path, as_version=4)
    before = _files(path.parent)
    # Hypothesis keeps a cache (.hypothesis/constants) in the working directory even with
    # database=None; the kernel inherits this environment, so it goes to a temporary folder
    monkeypatch.setenv("HYPOTHESIS_STORAGE_DIRECTORY", str(tmp_path / "hypothesis"))
    km = KernelManager(kernel_name="python3", kernel_spec_manager=_ThisInterpreter())
    client = nbclient.NotebookClient(nb, km=km, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(path.parent)}})
    failure = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as err:
        failure = _failure(path, nb, err)
    if failure:                 # outside the except: no chained, colour-coded traceback
        pytest.fail(failure, pytrace=False)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), "cells did not all run, in order"
    assert _files(path.parent) == before, "running the notebook wrote files next to it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is None, f"cell {index} has an execution count: clear outputs before committing"
        assert cell.outputs == [], f"cell {index} has outputs: clear outputs before committing"
        assert "execution" not in cell.metadata, f"cell {index} keeps execution timings in its metadata"
    assert "widgets" not in nb.metadata, "widget state in the notebook metadata: clear it before committing"
