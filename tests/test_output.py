"""Tests for sim.analysis.output: the files ``evsim run --out DIR`` writes and their round trip."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sim.analysis.metrics import METRICS, SINK_METRICS, RunResult, summarize, tidy
from sim.analysis.output import differences_frame, git_commit, manifest, write_run
from sim.analysis.timeseries import concat_timeseries
from sim.config import Scenario, scenario_from_dict

SCENARIO: dict[str, Any] = {
    "name": "out-test",
    "seed": 9,
    "duration_s": 10,
    "components": {
        "orders": {"type": "producer", "rate_per_s": 1, "send_to": ["jobs"]},
        "jobs": {"type": "sqs_queue"},
        "worker": {"type": "lambda_function", "trigger": {"source": "jobs"}},
    },
}


def _result(rep: int, delivered: int, latency: float | None) -> RunResult:
    m: dict[str, Any] = dict.fromkeys(METRICS, 0)
    m.update(messages_produced=10, deliveries_expected=10, delivered=delivered)
    for name in METRICS:
        if name.startswith("latency_"):
            m[name] = latency
    sink = {k: m[k] for k in SINK_METRICS}
    return RunResult("out-test", rep, 9, m, {"worker": sink})


@pytest.fixture
def scenario() -> Scenario:
    return scenario_from_dict(SCENARIO)


@pytest.fixture
def results() -> list[RunResult]:
    return [_result(0, 7, 0.25), _result(1, 0, None), _result(2, 9, 0.5)]


def test_write_run_writes_the_four_files(
    tmp_path: Path, scenario: Scenario, results: list[RunResult]
) -> None:
    out = tmp_path / "nested" / "run"  # parents are created
    write_run(out, scenario, 9, results)
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json", "rows.csv", "rows.parquet", "summary.csv",
    ]  # fmt: skip


def test_parquet_and_csv_round_trip_the_tidy_rows(
    tmp_path: Path, scenario: Scenario, results: list[RunResult]
) -> None:
    write_run(tmp_path, scenario, 9, results)
    expected = tidy(results)
    parquet = pd.read_parquet(tmp_path / "rows.parquet")
    pd.testing.assert_frame_equal(parquet, expected)
    # a null latency stays missing (NaN in the frame), never 0
    lat = parquet[(parquet["rep"] == 1) & (parquet["metric"] == "latency_mean_s")]["value"]
    assert len(lat) == 2 and lat.isna().all()
    csv = pd.read_csv(tmp_path / "rows.csv")
    pd.testing.assert_frame_equal(csv, expected, check_dtype=False)


def test_summary_csv_is_the_summary(
    tmp_path: Path, scenario: Scenario, results: list[RunResult]
) -> None:
    write_run(tmp_path, scenario, 9, results)
    got = pd.read_csv(tmp_path / "summary.csv")
    want = summarize(tidy(results)).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    delivered = got[(got["sink"] == "*") & (got["metric"] == "delivered")].iloc[0]
    assert delivered["mean"] == pytest.approx(16 / 3)
    assert delivered["n"] == 3


def test_manifest_traces_the_run(
    tmp_path: Path, scenario: Scenario, results: list[RunResult]
) -> None:
    write_run(tmp_path, scenario, 9, results)
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m == json.loads(json.dumps(manifest(scenario, 9, results)))
    assert m["root_seed"] == 9
    assert m["replications"] == 3
    assert [(s["rep"], s["seed"]) for s in m["replication_seeds"]] == [(0, 9), (1, 9), (2, 9)]
    assert m["versions"]["python"] and m["versions"]["pandas"] == pd.__version__
    # the scenario is stored completely: it loads back into an equal scenario
    assert scenario_from_dict(m["scenario"]) == scenario
    assert m["scenario"]["components"]["worker"]["async"]["max_retries"] == 2  # alias kept


def test_git_commit_is_the_checkout_head() -> None:
    proc = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        assert git_commit() is None
    else:
        commit = git_commit()
        assert commit == proc.stdout.strip()
        assert commit is not None and len(commit) == 40


def test_write_run_replaces_earlier_files(
    tmp_path: Path, scenario: Scenario, results: list[RunResult]
) -> None:
    write_run(tmp_path, scenario, 9, results)
    write_run(tmp_path, scenario, 9, results[:1])
    rows = pd.read_parquet(tmp_path / "rows.parquet")
    assert rows["rep"].unique().tolist() == [0]
    assert json.loads((tmp_path / "manifest.json").read_text())["replications"] == 1
    assert not any(math.isnan(v) for v in rows[rows["metric"] == "delivered"]["value"])


def test_the_time_series_round_trips_through_parquet(tmp_path: Path, scenario: Scenario) -> None:
    from sim.experiment import run_replications

    results = run_replications(scenario, 2, observe=True)
    write_run(tmp_path, scenario, 9, results)
    got = pd.read_parquet(tmp_path / "timeseries.parquet")
    want = concat_timeseries(results)
    assert want is not None and len(want) > 0
    pd.testing.assert_frame_equal(got, want)
    assert list(got.columns) == ["rep", "t_s", "component", "metric", "value"]
    assert sorted(got["rep"].unique()) == [0, 1]
    # a later run without a time series leaves no stale file behind
    write_run(tmp_path, scenario, 9, run_replications(scenario, 1))
    assert not (tmp_path / "timeseries.parquet").exists()


def test_differences_frame_has_one_row_per_variant_and_metric() -> None:
    diffs = {
        "b": {"lost": {"mean": 1.0, "ci_low": 0.5, "ci_high": 1.5}},
        "c": {"lost": {"mean": None, "ci_low": None, "ci_high": None}},
    }
    df = differences_frame(diffs)
    assert list(df.columns) == ["variant", "metric", "mean", "ci_low", "ci_high"]
    assert df.iloc[0].tolist() == ["b", "lost", 1.0, 0.5, 1.5]
    assert df.iloc[1][["mean", "ci_low", "ci_high"]].isna().all()
