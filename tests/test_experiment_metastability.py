"""experiments/metastability.py in ``--quick`` mode: files, the answers, determinism."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import load_experiment, quick_run, table_row
from conftest import read_table as read
from conftest import table_mean as mean

import experiments.metastability_design as design
from experiments.metastability_measures import measure, recovery
from sim.build import run_once
from sim.study import Detailed, Options

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHARTS = ("stability_map.png", "mitigations.png", "timeseries.png", "hysteresis.png")
KEYS = ["pipeline", "policy", "trigger", "size", "length_s"]
#: Each table and the columns that identify its rows, in order.
TABLES = {
    "map": KEYS, "headline": KEYS, "headline_differences": KEYS, "steady": KEYS,
    "ramp_summary": KEYS, "timeline": [*KEYS, "t_s"], "ramp": [*KEYS, "t_s"],
}  # fmt: skip
STATS = ["metric", "n", "mean", "std", "ci_low", "ci_high"]
Q = design.QUICK
SMALL = {"trigger": "spike", "size": min(Q.spike_sizes), "length_s": min(Q.lengths_s)}
LARGE = {"trigger": "spike", "size": max(Q.spike_sizes), "length_s": max(Q.lengths_s)}


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``--quick`` run on two workers, shared by the tests of this module."""
    return quick_run(tmp_path_factory, "metastability", workers=2)


def test_quick_run_writes_tables_charts_findings_and_index(quick: Path) -> None:
    for name, keys in TABLES.items():
        df = read(quick, name)
        assert list(df.columns[: len(keys) + len(STATS)]) == keys + STATS, name
        assert list(df.columns[len(keys) + len(STATS):]) in (["seed"], ["theory", "seed"]), name
        assert len(df), name
    branches = read(quick, "fluid_branches")
    assert list(branches.columns) == ["pipeline", "load", "rate_per_s", "low_goodput_per_s",
                                      "low_at_db", "high_goodput_per_s", "high_at_db",
                                      "bistable"]  # fmt: skip
    assert list(read(quick, "fluid_boundary").columns) == KEYS
    for name in CHARTS:
        assert (quick / name).read_bytes().startswith(PNG_MAGIC), name
    findings = (quick / "findings.md").read_text()
    assert findings.startswith("# Metastable failures")
    assert "(metastability/stability_map.png)" in findings
    assert "capacity X(10) = 10.64 queries/s" in findings
    assert '"study": "metastability"' in (quick / "manifest.json").read_text()
    assert "`experiments/metastability.py`" in (quick.parent / "README.md").read_text()


def test_the_default_collapses_after_a_large_trigger_and_recovers_from_a_small_one(
    quick: Path,
) -> None:
    m = read(quick, "map")
    at = {"pipeline": "sqs", "policy": "default"}
    assert mean(m, "collapsed", **at, **LARGE) == 1
    assert math.isnan(mean(m, "recovery_s", **at, **LARGE))
    assert mean(m, "collapsed", **at, **SMALL) == 0
    assert mean(m, "recovery_s", **at, **SMALL) <= design.BIN_S
    # the fluid model agrees on both
    assert table_row(m, "collapsed", **at, **LARGE)["theory"] == 1
    assert table_row(m, "collapsed", **at, **SMALL)["theory"] == 0


def test_bounded_concurrency_recovers_where_the_default_does_not(quick: Path) -> None:
    m = read(quick, "map")
    knee = m[(m["policy"] == "max_concurrency") & (m["metric"] == "collapsed")]
    assert len(knee) == len(Q.spike_sizes) * len(Q.lengths_s)
    assert (knee["mean"] == 0).all() and (knee["theory"] == 0).all()
    assert mean(m, "recovery_s", pipeline="sqs", policy="max_concurrency", **LARGE) > 0
    head = read(quick, "headline")
    at = {"pipeline": "sqs"}
    assert mean(head, "collapsed", policy="default", **at) == 1
    assert mean(head, "collapsed", policy="max_concurrency", **at) == 0
    # a collapse wastes the database's work and dead-letters or strands messages
    assert mean(head, "db_wasted_fraction", policy="default", **at) > 0.3
    assert mean(head, "db_wasted_fraction", policy="max_concurrency", **at) < 0.05
    assert mean(head, "backlog_max", policy="default", **at) > mean(
        head, "backlog_max", policy="max_concurrency", **at)  # fmt: skip
    diff = read(quick, "headline_differences")
    gp = table_row(diff, "goodput_fraction", pipeline="sqs", policy="max_concurrency")
    assert gp["ci_low"] > 0


def test_the_timeline_shows_the_collapse(quick: Path) -> None:
    tl = read(quick, "timeline")
    bins = sorted(tl["t_s"].unique())
    assert bins[0] == 0 and bins[1] == design.BIN_S and len(bins) == Q.horizon_s / design.BIN_S
    backlog = tl[(tl["metric"] == "backlog") & (tl["policy"] == "default")]
    assert backlog["mean"].iloc[-1] > 10 * max(backlog["mean"].iloc[0], 1.0)
    util = tl[(tl["metric"] == "db_utilization") & (tl["policy"] == "default")]
    assert util["mean"].iloc[-1] == pytest.approx(1.0)
    steady = read(quick, "steady")
    assert mean(steady, "goodput_fraction", pipeline="sqs", policy="default") > 0.95


def test_no_trigger_sustains_the_base_load_and_the_ramp_is_a_triangle(quick: Path) -> None:
    ramp = read(quick, "ramp")
    off = ramp[ramp["metric"] == "offered_per_s"].sort_values("t_s")["mean"].to_numpy()
    top = int(np.argmax(off))
    assert 0 < top < len(off) - 1
    assert off[top] > design.CAPACITY_PER_S > off[0]


def test_goodput_counted_from_the_trace_agrees_with_the_ledger() -> None:
    """Two independent counts: messages processed per bin (trace) and the ledger's deliveries;
    goodput never exceeds what was processed, and a healthy run recovers at once."""
    p = design.Point("steady", "sqs", "default")
    grid = Q._replace(horizon_s=600.0)
    r = run_once(design.scenario(p, grid, 3), rep=0, trace=True)
    out = measure(p, r, slo_s=design.SLO_S, bin_s=design.BIN_S, share=design.RECOVERY_SHARE,
                  hold_s=design.HOLD_S, start_s=design.TRIGGER_START_S)  # fmt: skip
    assert isinstance(out, Detailed)
    tl = out.detail
    assert float((tl["processed_per_s"] * design.BIN_S).sum()) == r.metrics["delivered"]
    assert (tl["goodput_per_s"] <= tl["processed_per_s"]).all()
    assert out.measures["goodput_fraction"] > 0.95
    assert out.measures["recovery_s"] == 0


def test_recovery_needs_the_whole_hold() -> None:
    t = np.arange(0.0, 1200.0, 60.0)
    good = np.full(len(t), 7.0)
    good[(t >= 300) & (t < 600)] = 0.0
    good[t == 840] = 5.0  # one bin below 90% after the first good stretch
    tl = pd.DataFrame({"t_s": t, "offered_per_s": 7.0, "goodput_per_s": good})
    # 600..840 is good for 4 bins only (hold 300 s = 5 bins); from 900 on it holds
    assert recovery(tl, 330.0, 60.0, 0.9, 300.0) == 900.0 - 330.0
    assert math.isnan(recovery(tl, 330.0, 60.0, 0.9, 600.0))


def test_design_points_are_distinct_and_the_policies_apply() -> None:
    for quick in (True, False):
        designs = design.designs(Options(quick, 1, None, argparse.Namespace()))
        names = [p.name for d in designs for p in d.points]
        assert len(names) == len(set(names))
        for d in designs:
            assert d.scenario(d.points[0]).name == d.points[0].name
    assert design.KNEE == 10
    assert pytest.approx(10 / (0.4 * (1 + 0.45 + 0.9))) == design.CAPACITY_PER_S
    for pol in design.POLICIES:
        for pipeline in pol.pipelines:
            s = design.scenario(design.Point("map", pipeline, pol.name, "slow", 2.0, 30.0),
                                design.FULL, 1)  # fmt: skip
            worker = s.components[design.SINK]
            call = worker.calls[0]
            assert call.connection == pol.connection
            assert call.retry.max_attempts == pol.retry.get("max_attempts", 3)
            assert (call.retry.quota is None) == (pol.retry.get("quota", True) is False)
            assert worker.reserved_concurrency == pol.reserved_concurrency
            assert worker.max_message_age_s == pol.function.get("max_message_age_s")
            assert (call.circuit_breaker is None) == ("circuit_breaker" not in pol.call)
            assert s.outages[0].factor == 2.0
            params = design.fluid_params(pipeline, pol.name)
            assert (params is None) == (pol.fluid is None)


def test_quick_files_are_byte_identical_serially(quick: Path, tmp_path: Path) -> None:
    out = tmp_path / "metastability"
    assert load_experiment("metastability").main(
        ["--quick", "--out", str(out), "--workers", "1"]
    ) == 0
    for name in (*(f"{n}.csv" for n in TABLES), "fluid_branches.csv", "fluid_boundary.csv",
                 "findings.md", "manifest.json"):  # fmt: skip
        assert (out / name).read_bytes() == (quick / name).read_bytes(), name
