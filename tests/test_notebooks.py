"""The notebooks in ``notebooks/``: committed executed, public API only, and they run end to end.

Each notebook runs in a fresh kernel with nbclient (what ``pytest --nbmake`` uses), with
``notebooks/`` as the working directory, at the size it is committed with (``QUICK = True``).
Those runs take seconds each and are marked ``notebook`` and ``slow``: ``make test`` runs them,
``pytest -m "not slow"`` skips them, ``pytest -m notebook`` runs only them. The same notebooks
also run the nbmake way: ``pytest --nbmake notebooks/``.

The static checks are quick: committed with the outputs of a run from scratch (``make results``
executes them with :mod:`experiments.notebooks`, so that a reader on a repository browser sees
the charts), without errors or progress bars, a ``parameters`` cell with ``QUICK = True``, and
imports limited to the public API of ``sim``
and the studies' designs (``experiments.<name>_design``; no SimPy, no service classes:
notebooks hold no model logic and retype no study).
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import sim

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = {
    "00_tutorial.ipynb", "01_dlq_policies.ipynb", "02_fifo_ordering.ipynb",
    "03_sns_lambda.ipynb", "04_fanout.ipynb", "05_s3_eventbridge.ipynb", "06_audit_alerts.ipynb",
    "07_api_uploads.ipynb", "08_database_protection.ipynb", "09_metastability.ipynb",
}  # fmt: skip
#: Modules of ``sim`` a notebook may import: building scenarios, running them, tables, charts.
PUBLIC = {
    "sim", "sim.build", "sim.config", "sim.experiment", "sim.analysis.metrics",
    "sim.analysis.plots", "sim.analysis.report", "sim.analysis.theory", "sim.analysis.fluid",
}  # fmt: skip
#: Seconds a single cell may run before the test fails (the quick notebooks take seconds).
CELL_TIMEOUT_S = 300

ids = [p.stem for p in NOTEBOOKS]


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def imported_modules(source: str) -> set[str]:
    """Modules imported by a code cell (IPython magics and shell lines skipped)."""
    text = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )
    names: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "sim":  # from sim import build (a module), not the public API
                names.update(f"sim.{a.name}" for a in node.names if a.name not in sim.__all__)
    return names


def test_the_three_notebooks_are_there() -> None:
    assert {p.name for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_is_valid_and_committed_with_the_outputs_of_one_run(path: Path) -> None:
    nb = read(path)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    cells = code_cells(nb)
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        "run it from scratch before committing: python -m experiments.notebooks " + path.name
    )
    for cell in cells:
        for o in cell.outputs:
            assert o.output_type != "error", f"cell {cell.id} failed"
            assert not (o.output_type == "stream" and o.name == "stderr"), f"cell {cell.id}"
        assert "execution" not in cell.metadata, "timings make every run differ"
    charts = [o for c in cells for o in c.outputs if "image/png" in o.get("data", {})]
    assert charts, "a notebook shows at least one chart"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_has_a_quick_parameters_cell(path: Path) -> None:
    cells = [c for c in code_cells(read(path)) if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "one code cell tagged 'parameters'"
    tree = ast.parse(cells[0].source)
    quick = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "QUICK" for t in node.targets)
    ]
    assert len(quick) == 1 and isinstance(quick[0], ast.Constant) and quick[0].value is True


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_uses_only_the_public_api(path: Path) -> None:
    modules: set[str] = set()
    for cell in code_cells(read(path)):
        modules |= imported_modules(cell.source)
    assert not {m for m in modules if m == "simpy" or m.startswith("simpy.")}
    sim_modules = {m for m in modules if m == "sim" or m.startswith("sim.")}
    assert sim_modules, "a notebook uses the library"
    assert sim_modules <= PUBLIC, sorted(sim_modules - PUBLIC)
    studies = {m for m in modules if m == "experiments" or m.startswith("experiments.")}
    # a study's design, charts or findings, never its runner: the notebook runs what it shows
    assert all(m.endswith(("_design", "_charts", "_findings")) for m in studies), sorted(studies)


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_runs(path: Path) -> None:
    nb = read(path)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=nb.metadata["kernelspec"]["name"],
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on failure
    errors = [o for c in code_cells(nb) for o in c.outputs if o.output_type == "error"]
    assert not errors
