"""experiments/sns_lambda.py in ``--quick`` mode: files, sanity of the numbers, determinism."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from conftest import load_experiment, quick_run

import experiments.sns_lambda_design as design

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHARTS = ("errors.png", "throttling.png", "outage.png")
TABLES = ("errors.csv", "throttling.csv", "outage.csv", "theory.csv", "timelines.csv")
SUMMARY_COLUMNS = {"metric", "n", "mean", "std", "ci_low", "ci_high", "seed"}
SIX_HOURS = design.DEFAULT_AGE_S


def load() -> ModuleType:
    return load_experiment("sns_lambda")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One serial ``--quick`` run, shared by the tests of this module."""
    return quick_run(tmp_path_factory, "sns_lambda")


def read(out: Path, name: str) -> pd.DataFrame:
    df = pd.read_csv(out / name, keep_default_na=False, na_values=[""])
    if "outage_mode" in df:
        df["outage_mode"] = df["outage_mode"].fillna("")
    return df


def mean(df: pd.DataFrame, metric: str, **eq: object) -> float:
    sel = df[df["metric"] == metric]
    for col, val in eq.items():
        sel = sel[sel[col] == val]
    assert len(sel) == 1, (metric, eq, len(sel))
    return float(sel["mean"].iloc[0])


def test_quick_run_writes_tables_charts_findings_and_index(quick: Path) -> None:
    for study, reps in design.QUICK.replications.items():
        df = read(quick, f"{study}.csv")
        assert set(df.columns) >= SUMMARY_COLUMNS and len(df)
        assert (df["n"] == reps).all()
        assert {"max_retries", "max_event_age_s", "on_failure"} <= set(df.columns)
    th = read(quick, "theory.csv")
    assert {"theory", "count", "pairs", "exact_low", "exact_high", "p_value"} <= set(th.columns)
    assert set(read(quick, "timelines.csv")["drill"]) == {"throttling", "outage"}
    for name in CHARTS:
        assert (quick / name).read_bytes().startswith(PNG_MAGIC), name
    findings = (quick / "findings.md").read_text()
    assert findings.startswith("# SNS → Lambda: ")
    assert "(sns_lambda/errors.png)" in findings
    readme = (quick.parent / "README.md").read_text()
    assert "`experiments/sns_lambda.py`" in readme and "SNS → Lambda" in readme


def test_quick_numbers_are_sane(quick: Path) -> None:
    err = read(quick, "errors.csv")
    for p in err["error_rate"].unique():
        at = {"error_rate": p, "max_event_age_s": SIX_HOURS, "on_failure": False}
        failed = [mean(err, "failed_fraction", max_retries=r, **at) for r in (0, 1, 2)]
        # more retries never lose more events, and at p >= 10% they clearly lose fewer
        assert failed[0] >= failed[1] >= failed[2] and failed[2] < failed[0] / 5, (p, failed)
        # the on-failure queue receives exactly the events lost without it (same runs)
        dest = mean(err, "dead_lettered_fraction", error_rate=p, max_retries=2,
                    max_event_age_s=SIX_HOURS, on_failure=True)  # fmt: skip
        assert dest == failed[2]
        # a 60 s maximum age leaves no time for a retry: the first failure expires the event
        at60 = {"error_rate": p, "max_event_age_s": 60.0, "on_failure": False}
        assert mean(err, "lost_fraction", max_retries=2, **at60) == 0
        assert mean(err, "expired_fraction", max_retries=2, **at60) == mean(
            err, "lost_fraction", max_retries=0, **at60)
    th = read(quick, "theory.csv")
    errors = th[th["study"] == "errors"]
    assert len(errors) and (errors["p_value"] > 1e-3).all(), errors[errors["p_value"] <= 1e-3]
    assert (errors["exact_low"] <= errors["count"] / errors["pairs"]).all()

    thr = read(quick, "throttling.csv")
    at = {"max_retries": 2, "on_failure": False}
    # the burst waits in Lambda's internal queue, which drains at full capacity: nothing
    # expires at 6 h, the p99 latency stays near burst ÷ capacity (plus the 1-minute retries
    # of function errors), and only the queue's reader is throttled, a few times per burst
    assert mean(thr, "expired_fraction", max_event_age_s=SIX_HOURS, **at) == 0
    drain = design.QUICK.burst / design.CAPACITY_PER_S
    assert mean(thr, "latency_p99_s", max_event_age_s=SIX_HOURS, **at) < drain + 120
    assert mean(thr, "throttles_per_message", max_event_age_s=SIX_HOURS, **at) < 0.05

    out = read(quick, "outage.csv")
    at6 = {"max_event_age_s": SIX_HOURS, "on_failure": False}
    # a failing function loses the events of the outage (about half the hour) whatever the
    # retries; an unavailable one only delays them (SNS retries the hand-over)
    for r in (0, 2):
        assert mean(out, "failed_fraction", outage_mode="failing", max_retries=r, **at6) > 0.3
    assert mean(out, "failed_fraction", outage_mode="unavailable", max_retries=2, **at6) < 0.01
    assert mean(out, "latency_p99_s", outage_mode="unavailable", max_retries=2, **at6) > 1000
    for df in (err, thr, out):
        assert (df.loc[df["metric"] == "in_flight", "mean"] == 0).all()


def test_quick_files_are_byte_identical_with_two_workers(quick: Path, tmp_path: Path) -> None:
    out = tmp_path / "sns_lambda"
    assert load().main(["--quick", "--out", str(out), "--workers", "2"]) == 0
    for name in (*TABLES, *CHARTS, "findings.md"):
        assert (out / name).read_bytes() == (quick / name).read_bytes(), name
