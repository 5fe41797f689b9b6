"""Writing a run's results: per-replication rows, the summary, the time series and a manifest.

``write_run(DIR, ...)`` writes ``rows.parquet`` and ``rows.csv`` (tidy: one row per
``scenario, rep, seed, sink, metric, value``), ``summary.csv`` (mean, std, 95% CI per metric
and sink), ``timeseries.parquet`` when the time series was recorded (``rep, t_s, component,
metric, value``) and ``manifest.json`` (the scenario as loaded, root seed, replications and
the seed of each, package versions, git commit, and the warnings the run gave) so that a
result can be traced and reproduced. ``write_study`` writes the same for a comparison or a
sweep, with a ``variant`` column (and one column per swept path), and a comparison's paired
differences (``differences.csv``).
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
from sim.analysis.timeseries import concat_timeseries
from sim.config.scenario import Scenario

__all__ = [
    "differences_frame",
    "git_commit",
    "manifest",
    "study_manifest",
    "versions",
    "write_results_index",
    "write_run",
    "write_study",
]

_PACKAGES = ("evsim", "simpy", "numpy", "pandas", "pydantic", "scipy", "pyarrow", "matplotlib")


def git_commit() -> str | None:
    """The git commit of the evsim checkout (:func:`sim.project.project_root`), if any."""
    from sim.project import project_root

    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_root(),
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
    _write_timeseries(out, concat_timeseries(results))
    (out / "manifest.json").write_text(
        json.dumps(manifest(scenario, seed, results, warnings), indent=2) + "\n"
    )


def _write_timeseries(out: Path, ts: pd.DataFrame | None) -> None:
    """``timeseries.parquet``, or no such file when nothing was recorded."""
    path = out / "timeseries.parquet"
    if ts is None:
        path.unlink(missing_ok=True)  # not a stale one from an earlier run
    else:
        ts.to_parquet(path, index=False)


def _cell(value: Any) -> Any:
    """A swept value as a table cell (a number, string or boolean; anything else as text)."""
    return value if isinstance(value, int | float | str | bool) else str(value)


def differences_frame(differences: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> pd.DataFrame:
    """Paired differences ``{variant: {metric: {"mean", "ci_low", "ci_high"}}}`` as a table.

    One row per variant and metric, in their order: ``variant, metric, mean, ci_low,
    ci_high`` (a null is NaN).
    """
    rows = [
        (variant, metric, *(_nan(d.get(k)) for k in ("mean", "ci_low", "ci_high")))
        for variant, block in differences.items()
        for metric, d in block.items()
    ]
    return pd.DataFrame(rows, columns=["variant", "metric", "mean", "ci_low", "ci_high"])


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def write_study(
    out: Path,
    kind: str,
    variants: Mapping[str, Sequence[RunResult]],
    scenarios: Sequence[Scenario],
    seed: int,
    params: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
    differences: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
) -> None:
    """Write a comparison or sweep: rows, summary, time series and manifest, per ``variant``.

    ``rows.*``, ``summary.csv`` and ``timeseries.parquet`` (when recorded) carry a ``variant``
    column (the variant's name, or the sweep point's label) and, for a sweep, one column per
    swept path right after it. ``differences`` (variant -> metric -> ``{"mean", "ci_low",
    "ci_high"}``, a comparison's paired differences) is written to ``differences.csv``.
    ``warnings`` go into the manifest.
    """
    out.mkdir(parents=True, exist_ok=True)
    frames = []
    summaries = []
    series = []
    for i, (name, results) in enumerate(variants.items()):
        df = tidy(results)
        summary = summarize(df)
        ts = concat_timeseries(results, [name] * len(results))
        for frame in (df, summary):
            frame.insert(0, "variant", name)
        if params is not None:
            for k, (path, value) in enumerate(params[i].items()):
                df[path] = _cell(value)
                summary.insert(1 + k, path, _cell(value))
                if ts is not None:
                    ts.insert(1 + k, path, _cell(value))
        frames.append(df)
        summaries.append(summary)
        if ts is not None:
            series.append(ts)
    rows = pd.concat(frames, ignore_index=True)
    rows.to_parquet(out / "rows.parquet", index=False)
    rows.to_csv(out / "rows.csv", index=False)
    pd.concat(summaries, ignore_index=True).to_csv(out / "summary.csv", index=False)
    _write_timeseries(out, pd.concat(series, ignore_index=True) if series else None)
    if differences is not None:
        differences_frame(differences).to_csv(out / "differences.csv", index=False)
    doc = study_manifest(kind, variants, scenarios, seed, params, extra, warnings)
    (out / "manifest.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")


def study_manifest(
    kind: str,
    variants: Mapping[str, Sequence[RunResult]],
    scenarios: Sequence[Scenario],
    seed: int,
    params: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """What is needed to trace and reproduce a comparison or a sweep (``manifest.json``)."""
    all_results = [r for rs in variants.values() for r in rs]
    first = next(iter(variants.values()))
    return {
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
