"""Writing a run's results: per-replication rows, the summary and a manifest.

``write_run(DIR, ...)`` writes ``rows.parquet`` and ``rows.csv`` (tidy: one row per
``scenario, rep, seed, sink, metric, value``), ``summary.csv`` (mean, std, 95% CI per metric
and sink) and ``manifest.json`` (the scenario as loaded, root seed, replications and the
seed of each, package versions, git commit, and the warnings the run gave) so that a result
can be traced and reproduced.
"""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.metrics import RunResult, summarize, tidy
from sim.config.scenario import Scenario

__all__ = [
    "git_commit",
    "manifest",
    "versions",
    "write_results_index",
    "write_run",
    "write_study",
]

_PACKAGES = ("evsim", "simpy", "numpy", "pandas", "pydantic", "scipy", "pyarrow", "matplotlib")


def git_commit() -> str | None:
    """The git commit of the evsim source tree, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def versions() -> dict[str, str | None]:
    """The versions of Python and of evsim and the packages its results depend on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def manifest(
    scenario: Scenario,
    seed: int,
    results: Sequence[RunResult],
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """What is needed to trace and reproduce a set of replications, and what to doubt in it."""
    return {
        "scenario": scenario.model_dump(mode="json", by_alias=True),
        "root_seed": seed,
        "replications": len(results),
        "replication_seeds": [
            {"rep": r.rep, "seed": r.seed, "spawn_key": ["rep", "component", "purpose"]}
            for r in results
        ],
        "versions": versions(),
        "git_commit": git_commit(),
        "warnings": list(warnings),
    }


def write_run(
    out: Path,
    scenario: Scenario,
    seed: int,
    results: Sequence[RunResult],
    warnings: Sequence[str] = (),
) -> None:
    """Write rows (parquet and CSV), summary and manifest of ``results`` into ``out``.

    ``warnings`` (what ``evsim`` warned about the run) go into the manifest.
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = tidy(results)
    rows.to_parquet(out / "rows.parquet", index=False)
    rows.to_csv(out / "rows.csv", index=False)
    summarize(rows).to_csv(out / "summary.csv", index=False)
    (out / "manifest.json").write_text(
        json.dumps(manifest(scenario, seed, results, warnings), indent=2) + "\n"
    )


def write_study(
    out: Path,
    kind: str,
    variants: Mapping[str, Sequence[RunResult]],
    scenarios: Sequence[Scenario],
    seed: int,
    params: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
) -> None:
    """Write a comparison or sweep: rows, summary and manifest, one ``variant`` per entry.

    ``rows`` carry a ``variant`` column (the variant's name, or the sweep point's index) and,
    for a sweep, one column per swept path. ``warnings`` go into the manifest.
    """
    out.mkdir(parents=True, exist_ok=True)
    frames = []
    for i, (name, results) in enumerate(variants.items()):
        df = tidy(results)
        df.insert(0, "variant", name)
        if params is not None:
            for path, value in params[i].items():
                df[path] = value if isinstance(value, int | float | str | bool) else str(value)
        frames.append(df)
    rows = pd.concat(frames, ignore_index=True)
    rows.to_parquet(out / "rows.parquet", index=False)
    rows.to_csv(out / "rows.csv", index=False)
    summaries = []
    for name, results in variants.items():
        s = summarize(tidy(results))
        s.insert(0, "variant", name)
        summaries.append(s)
    pd.concat(summaries, ignore_index=True).to_csv(out / "summary.csv", index=False)
    all_results = [r for rs in variants.values() for r in rs]
    first = next(iter(variants.values()))
    doc = {
        "kind": kind,
        "variants": list(variants),
        "scenarios": [s.model_dump(mode="json", by_alias=True) for s in scenarios],
        "params": [dict(p) for p in params] if params is not None else None,
        "root_seed": seed,
        "replications": len(first),
        "replication_seeds": [{"rep": r.rep, "seed": r.seed} for r in first],
        "tasks": len(all_results),
        "versions": versions(),
        "git_commit": git_commit(),
        "warnings": list(warnings),
        **(dict(extra) if extra else {}),
    }
    (out / "manifest.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")


def write_results_index(results_dir: Path) -> Path:
    """Write ``results_dir/README.md`` from every ``results_dir/*/findings.md``, in name order."""
    sections = sorted(results_dir.glob("*/findings.md"))
    parts = [
        "# Results",
        "",
        "Generated by `make results` (`evsim experiments`) from the experiment scripts in "
        "`experiments/`; do not edit by hand. Each section below is the `findings.md` of one "
        "experiment's folder, computed from that folder's CSV.",
        "",
        "| experiment | script | folder |",
        "|---|---|---|",
    ]
    for path in sections:
        name = path.parent.name
        title = path.read_text().splitlines()[0].lstrip("# ").strip()
        parts.append(f"| {title} | `experiments/{name}.py` | [`{name}/`]({name}/) |")
    parts.append("")
    for path in sections:
        parts.append(path.read_text().rstrip("\n"))
        parts.append("")
    index = results_dir / "README.md"
    index.write_text("\n".join(parts))
    return index
