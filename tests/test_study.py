"""The study library (sim.study): a tiny study declared here, run at --quick size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import pytest

from sim.analysis.metrics import RunResult
from sim.config import Scenario, scenario_from_dict
from sim.experiment import paired_differences, run_replications, run_tasks
from sim.study import (
    Design,
    Detailed,
    Options,
    Report,
    Run,
    Study,
    StudyUsageError,
    mean_ci,
    run_metric,
    run_study,
    summary_row,
)


class Point(NamedTuple):
    errors: float

    @property
    def name(self) -> str:
        return f"tiny errors={self.errors:g}"


def scenario(p: Point) -> Scenario:
    return scenario_from_dict({
        "name": p.name, "duration_s": 20, "drain_s": 30,
        "components": {
            "src": {"type": "producer", "rate_per_s": 5, "send_to": ["q"]},
            "q": {"type": "sqs_queue", "visibility_timeout_s": 2,
                  "dead_letter": {"target": "dlq", "max_receive_count": 2}},
            "dlq": {"type": "sqs_queue"},
            "fn": {"type": "lambda_function", "trigger": {"source": "q", "batch_size": 1},
                   "duration_s": 0.01, "timeout_s": 1, "errors": {"rate": p.errors}},
        },
    })  # fmt: skip


def measure(p: Point, r: RunResult) -> Any:
    """Runs in the worker: a trace comes in, only numbers (and a small detail) go back."""
    assert r.trace is not None
    produced = run_metric(r, "messages_produced")
    m = {"dead_lettered_fraction": run_metric(r, "dead_lettered") / produced,
         "trace_events": float(len(r.trace))}  # fmt: skip
    return Detailed(m, {"rep": r.rep}) if r.rep == 0 else m


def designs(o: Options) -> list[Design[Point]]:
    return [Design(
        "tiny", [Point(0.0), Point(0.3)], scenario, measure, 3, "tiny",
        lambda p: {"errors": p.errors}, trace=True,
        closed_forms=lambda p: {"dead_lettered_fraction": p.errors**2},
        baseline=lambda p: Point(0.0) if p.errors else None,
        difference_metrics=["dead_lettered_fraction"],
    )]  # fmt: skip


def details(o: Options, ds: Any, run: Run) -> dict[str, pd.DataFrame]:
    return {"details": pd.DataFrame([d for p in ds[0].points for d in run.details[p].values()])}


def report(rep: Report) -> str:
    row = summary_row(rep.tables["tiny"], "dead_lettered_fraction", errors=0.3)
    return f"# Tiny\n\n- dead-lettered {mean_ci(row)}\n"


def _options(p: Any) -> None:
    p.add_argument("--fail", action="store_true")


def _designs_or_fail(o: Options) -> list[Design[Point]]:
    if o.args.fail:
        raise StudyUsageError("nothing selected")
    return designs(o)


STUDY = Study("tiny", "A tiny study.", 7, _designs_or_fail, report, extra_tables=details,
              extra_table_names=("details",), add_options=_options)  # fmt: skip


def run(out: Path, *argv: str) -> Path:
    assert run_study(STUDY, ["--quick", "--out", str(out), *argv]) == 0
    return out


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run(tmp_path_factory.mktemp("a") / "tiny", "--workers", "1")


def test_tables_have_ci_theory_seed_and_differences(serial: Path) -> None:
    df = pd.read_csv(serial / "tiny.csv")
    assert list(df.columns) == ["errors", "metric", "n", "mean", "std", "ci_low", "ci_high",
                                "theory", "seed"]  # fmt: skip
    assert list(df["metric"]) == ["dead_lettered_fraction", "trace_events"] * 2
    assert (df["n"] == 3).all() and (df["seed"] == 7).all()
    th = df[df["metric"] == "dead_lettered_fraction"]["theory"].tolist()
    assert th == pytest.approx([0.0, 0.09]) and df["theory"].isna().sum() == 2
    diff = pd.read_csv(serial / "differences.csv")
    assert list(diff.columns) == ["errors", "metric", "n", "mean", "std", "ci_low", "ci_high",
                                  "seed"]  # fmt: skip
    assert len(diff) == 1 and diff["errors"].iloc[0] == 0.3 and diff["mean"].iloc[0] > 0
    assert pd.read_csv(serial / "details.csv")["rep"].tolist() == [0, 0]
    assert (serial / "findings.md").read_text().startswith("# Tiny\n")


def test_differences_match_sim_experiment(serial: Path) -> None:
    base = run_replications(scenario(Point(0.0)), 3, 7)
    other = run_replications(scenario(Point(0.3)), 3, 7)
    diff = pd.read_csv(serial / "differences.csv").iloc[0]
    frac = [o.metrics["dead_lettered"] / o.metrics["messages_produced"]
            - b.metrics["dead_lettered"] / b.metrics["messages_produced"]
            for b, o in zip(base, other, strict=True)]  # fmt: skip
    assert diff["mean"] == pytest.approx(sum(frac) / 3)
    # the same messages in both variants (CRN): sim.experiment pairs the counts alike
    ref = paired_differences(base, other)
    assert ref["messages_produced"]["mean"] == 0.0 and ref["dead_lettered"]["mean"] > 0


def test_manifest_is_deterministic_and_workers_do_not_matter(
    serial: Path, tmp_path: Path
) -> None:
    again = run(tmp_path / "b" / "tiny", "--workers", "1")
    two = run(tmp_path / "c" / "tiny", "--workers", "2")
    for name in ("tiny.csv", "differences.csv", "details.csv", "findings.md", "manifest.json"):
        assert (again / name).read_bytes() == (serial / name).read_bytes(), name
        assert (two / name).read_bytes() == (serial / name).read_bytes(), name
    doc = json.loads((serial / "manifest.json").read_text())
    assert doc["study"] == "tiny" and doc["root_seed"] == 7 and doc["quick"] is True
    assert doc["designs"][0]["rep_indices"] == [0, 1, 2]
    assert doc["designs"][0]["points"][1] == {"scenario": "tiny errors=0.3",
                                              "columns": {"errors": 0.3}}  # fmt: skip
    assert set(doc["files"]) == {"tiny.csv", "differences.csv", "details.csv"}
    text = (serial / "manifest.json").read_text()
    assert str(serial) not in text and "git" not in text and "workers" not in text
    other = run(tmp_path / "d" / "tiny", "--seed", "8")
    assert (other / "tiny.csv").read_bytes() != (serial / "tiny.csv").read_bytes()


def test_replot_redraws_from_the_csvs(serial: Path, tmp_path: Path) -> None:
    (serial / "findings.md").unlink()
    manifest = (serial / "manifest.json").read_bytes()
    run(serial, "--replot")
    assert (serial / "findings.md").exists()
    assert (serial / "manifest.json").read_bytes() == manifest


def test_usage_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_study(STUDY, ["--out", str(tmp_path), "--fail"]) == 2
    assert "nothing selected" in capsys.readouterr().err


def _events(r: RunResult) -> int:
    assert r.trace is not None
    return len(r.trace)


def test_reduce_hook_runs_in_the_worker_and_keeps_task_order() -> None:
    tasks = [(scenario(Point(e)), rep, 3) for e in (0.0, 0.3) for rep in range(2)]
    serial = run_tasks(tasks, workers=1, reduce=_events, trace=True)
    procs = run_tasks(tasks, workers=2, reduce=_events, trace=True)
    full = run_tasks(tasks, workers=1, trace=True)
    assert serial == procs == [len(r.trace) for r in full if r.trace is not None]
    assert all(isinstance(n, int) for n in serial)
