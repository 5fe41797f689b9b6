"""Execute the notebooks in ``notebooks/`` and save them with their outputs.

``make results`` runs this after the studies, so that a reader on a repository browser sees each
notebook's charts and tables without running it. Each notebook runs from scratch in a fresh
kernel, at the size it is committed with (``QUICK = True``), with ``notebooks/`` as the working
directory. What would change from one run to the next is left out, so that the same code gives
the same files: cell timings are not recorded and progress bars (the stderr stream) are dropped.

Usage, from the repository root: ``python -m experiments.notebooks [NAME.ipynb ...]``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

#: Where the notebooks live.
NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
#: Seconds a single cell may run.
CELL_TIMEOUT_S = 600


def execute(path: Path) -> Any:
    """Run the notebook at ``path`` from scratch; return it with its (stable) outputs."""
    nb = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=nb.metadata["kernelspec"]["name"],
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    client.execute()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs if not (o.output_type == "stream" and o.name == "stderr")
            ]
            cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    return nb


def main(argv: Sequence[str] | None = None) -> int:
    """Execute the named notebooks (default: all) in place."""
    names = list(sys.argv[1:] if argv is None else argv)
    paths = [NOTEBOOKS_DIR / n for n in names] if names else sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    for path in paths:
        print(f"== notebook {path.name}", file=sys.stderr, flush=True)
        nb = execute(path)
        nbformat.write(nb, path)  # type: ignore[no-untyped-call]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
