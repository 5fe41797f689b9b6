"""experiments/fanout.py in ``--quick`` mode: files, sanity of the numbers against theory."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from conftest import load_experiment, quick_run
from conftest import table_row as row

import experiments.fanout_design as design

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHARTS = ("delivery.png", "latency_cost.png", "outage.png")
TABLES = ("fanout.csv", "differences.csv")


def load() -> ModuleType:
    return load_experiment("fanout")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One serial ``--quick`` run, shared by the tests of this module."""
    return quick_run(tmp_path_factory, "fanout")


def test_quick_run_writes_tables_charts_findings_and_index(quick: Path) -> None:
    for name in TABLES:
        df = pd.read_csv(quick / name)
        assert {"metric", "n", "mean", "ci_low", "ci_high", "seed"} <= set(df.columns)
        assert len(df) and (df["n"] <= 3).all()
    df = pd.read_csv(quick / "fanout.csv")
    assert list(df.columns[:6]) == list(design.KEYS)
    assert set(df["study"]) == {"sweep", "outage"}
    for name in CHARTS:
        assert (quick / name).read_bytes().startswith(PNG_MAGIC), name
    findings = (quick / "findings.md").read_text()
    assert findings.startswith("# Fan-out: ")
    assert "(fanout/delivery.png)" in findings and "Outage of one queue" in findings
    readme = (quick.parent / "README.md").read_text()
    assert "`experiments/fanout.py`" in readme and "Fan-out: " in readme


def test_quick_numbers_agree_with_theory_and_sns_beats_sequential(quick: Path) -> None:
    df = pd.read_csv(quick / "fanout.csv")
    sweep = df[df["study"] == "sweep"]
    assert (df.loc[df["metric"] == "in_flight", "mean"] == 0).all()
    for q in sorted(sweep["send_failure_q"].unique()):
        for n in sorted(sweep["n_queues"].unique()):
            at = {"study": "sweep", "send_failure_q": q, "n_queues": n, "max_attempts": 1}
            one = row(sweep, "partial_fraction", option=1, **at)
            two = row(sweep, "partial_fraction", option=2, **at)
            # SNS retries every delivery: a message reaches every queue or none
            assert two["mean"] == 0.0
            assert two["mean"] <= one["mean"]
            # option 1 without retries: partial (1 − q) − (1 − q)^N and all (1 − q)^N, within
            # 4 binomial standard errors over the messages of all replications
            messages = row(sweep, "messages", option=1, **at)
            pooled = messages["mean"] * messages["n"]
            alld = row(sweep, "all_delivered_fraction", option=1, **at)
            assert alld["theory"] == pytest.approx((1 - q) ** n)
            assert one["theory"] == pytest.approx((1 - q) - (1 - q) ** n)
            for r in (one, alld):
                se = math.sqrt(r["theory"] * (1 - r["theory"]) / pooled)
                assert abs(r["mean"] - r["theory"]) < 4 * se, (r["metric"], q, n)
    # the paired difference at the headline point is negative and its CI excludes 0
    diff = pd.read_csv(quick / "differences.csv")
    d = row(diff, "partial_fraction", study="sweep", send_failure_q=0.01, n_queues=5,
            max_attempts=1)  # fmt: skip
    assert d["ci_high"] < 0
    # a 5-minute outage of the middle queue: option 1 leaves the messages sent during it in
    # only some queues, option 2 delivers them all (late)
    out1 = row(df, "partial_fraction", study="outage", option=1, outage_queue=3)
    out2 = row(df, "all_delivered_fraction", study="outage", option=2, outage_queue=3)
    assert out1["mean"] > 0.4 and out2["mean"] == 1.0
    late = row(df, "outage_queue_latency_p99_s", study="outage", option=2)
    assert 200.0 < late["mean"] < 400.0
    # producer time: N sequential sends cost more than one publish
    p1 = row(sweep, "producer_latency_mean_s", option=1, send_failure_q=0.01, n_queues=5,
             max_attempts=3)  # fmt: skip
    p2 = row(sweep, "producer_latency_mean_s", option=2, send_failure_q=0.01, n_queues=5,
             max_attempts=3)  # fmt: skip
    assert p1["mean"] > 2 * p2["mean"]


def test_closed_forms() -> None:
    theory = design.theory
    assert theory(1, 0.1, 3, 1)["all_delivered_fraction"] == pytest.approx(0.9**3)
    assert theory(1, 0.1, 3, 1)["partial_fraction"] == pytest.approx(0.9 - 0.9**3)
    assert theory(1, 0.1, 3, 2)["partial_fraction"] == pytest.approx(0.99 - 0.99**3)
    assert theory(2, 0.1, 3, 2) == pytest.approx({
        "all_delivered_fraction": 0.99, "partial_fraction": 0.0,
        "none_delivered_fraction": 0.01, "partial_per_million": 0.0})  # fmt: skip
