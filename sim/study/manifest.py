"""The deterministic ``manifest.json`` of a study's results folder.

It records what the results depend on: the study, the root seed, whether the run was
``--quick``, every design's replication indices and points (each point's scenario name and
table columns), the package versions, and the SHA-256 of every CSV file written. Nothing in it
changes between two runs of the same commit on the same machine: no timestamp, no path, no
worker count (results do not depend on it) and no git commit. The commit is left out on
purpose: it would change ``results/`` on every commit even where no number moved, and the
committed ``results/`` already sit in the history of the commit that produced them; the CSV
hashes, the seed and the versions say what a reproduction must match.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.analysis.output import versions
from sim.study.design import Design, Options, Run

__all__ = ["manifest", "write_manifest"]


def _plain(value: Any) -> Any:
    """``value`` as JSON: NaN becomes null, tuples lists, anything exotic its ``str``."""
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # a numpy scalar
        return _plain(value.item())
    return str(value)


def _design(design: Design[Any], run: Run) -> dict[str, Any]:
    reps = run.reps[design.name]
    points = []
    for point in design.points:
        cols = design.columns(point)
        points.append({
            "scenario": design.scenario_of(point, reps[0]).name if reps else None,
            "columns": _plain(cols) if cols is not None else None,
        })  # fmt: skip
    return {
        "name": design.name,
        "table": design.table,
        "replications": len(reps),
        "rep_indices": reps,
        "trace": design.trace,
        "level": design.level,
        "points": points,
    }


def manifest(
    study: str, options: Options, designs: Sequence[Design[Any]], run: Run, files: Sequence[Path]
) -> dict[str, Any]:
    """The manifest of one run of ``study`` (see the module docstring).

    Args:
        study: The study's name.
        options: The options of the run.
        designs: The designs that ran.
        run: What they measured.
        files: The CSV files written, hashed under their file name.

    Returns:
        The manifest as a JSON-ready dict.
    """
    return {
        "study": study,
        "script": f"experiments/{study}.py",
        "quick": options.quick,
        "root_seed": options.seed,
        "replications_override": options.replications,
        "designs": [_design(d, run) for d in designs],
        "files": {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(files)},
        "versions": versions(),
    }


def write_manifest(out: Path, doc: Mapping[str, Any]) -> Path:
    """Write ``doc`` as ``out/manifest.json`` (sorted keys off, 2-space indent, final newline)."""
    path = out / "manifest.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    return path
