"""experiments/database_protection.py in ``--quick`` mode: files, the answers, determinism."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pytest
from conftest import load_experiment, quick_run, table_row
from conftest import read_table as read
from conftest import table_mean as mean

import experiments.database_protection_design as design
from experiments.database_protection_measures import outage_measure
from sim.build import run_once
from sim.study import Detailed, Options

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHARTS = ("database.png", "concurrency.png", "reserved.png", "connections.png", "outage.png",
          "pipeline.png")  # fmt: skip
#: Each table and the columns that identify its configurations, in order.
TABLES = {
    "load": ["limit", "concurrency", "load", "offered_per_s"],
    "connections": ["connection", "max_concurrency", "load", "offered_per_s"],
    "outage": ["max_concurrency", "client_timeout_s", "retry", "outage"],
    "outage_timeline": ["max_concurrency", "client_timeout_s", "retry", "outage", "t_s"],
    "pipeline": ["error_rate", "report_batch_item_failures", "idempotent"],
    "load_differences": ["limit", "concurrency", "load", "offered_per_s"],
    "connections_differences": ["connection", "max_concurrency", "load", "offered_per_s"],
    "outage_differences": ["max_concurrency", "client_timeout_s", "retry", "outage"],
    "pipeline_differences": ["error_rate", "report_batch_item_failures", "idempotent"],
}
STATS = ["metric", "n", "mean", "std", "ci_low", "ci_high"]


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``--quick`` run on two workers, shared by the tests of this module."""
    return quick_run(tmp_path_factory, "database_protection", workers=2)


def test_quick_run_writes_tables_charts_findings_and_index(quick: Path) -> None:
    for name, keys in TABLES.items():
        df = read(quick, name)
        assert list(df.columns[: len(keys) + len(STATS)]) == keys + STATS, name
        assert list(df.columns[len(keys) + len(STATS):]) in (["seed"], ["theory", "seed"]), name
        assert len(df) and (df["n"] == design.QUICK.replications).all(), name
    for name in CHARTS:
        assert (quick / name).read_bytes().startswith(PNG_MAGIC), name
    findings = (quick / "findings.md").read_text()
    assert findings.startswith("# Protecting a database from a Lambda fleet")
    assert "(database_protection/concurrency.png)" in findings
    assert "X(10) = 21.28 queries/s" in findings
    manifest = (quick / "manifest.json").read_text()
    assert '"study": "database_protection"' in manifest
    readme = (quick.parent / "README.md").read_text()
    assert "`experiments/database_protection.py`" in readme


def test_every_message_is_resolved(quick: Path) -> None:
    for name in ("load", "connections", "outage", "pipeline"):
        df = read(quick, name)
        assert (df.loc[df["metric"] == "in_flight", "mean"] == 0).all(), name


def test_limiting_concurrency_at_the_knee_protects_the_database(quick: Path) -> None:
    load = read(quick, "load")
    top = max(design.QUICK.loads)
    knee = {"limit": "max_concurrency", "concurrency": design.KNEE, "load": top}
    free = {"limit": "none", "concurrency": design.UNLIMITED, "load": top}
    # without a limit the fleet overwhelms the database: slower, and messages dead-lettered
    assert (mean(load, "latency_p99_s", **free) > mean(load, "latency_p99_s", **knee)
            or mean(load, "dead_lettered_fraction", **free)
            > mean(load, "dead_lettered_fraction", **knee))  # fmt: skip
    assert mean(load, "dead_lettered_fraction", **knee) == 0
    # and gets less than the knee (the CIs apart), less even than the database's throughput at
    # its connection limit, because part of the work it gets is wasted on client timeouts
    free_thr, knee_thr = (table_row(load, "throughput_per_s", **kw) for kw in (free, knee))
    assert float(free_thr["ci_high"]) < float(knee_thr["ci_low"])
    assert float(free_thr["mean"]) < design.usl_throughput(design.MAX_CONNECTIONS)
    assert mean(load, "db_wasted_fraction", **free) > 0
    # at the knee, under overload, the fleet gets about the database's capacity
    assert mean(load, "throughput_per_s", **knee) == pytest.approx(design.CAPACITY_PER_S,
                                                                   rel=0.15)  # fmt: skip
    # below capacity it keeps up with the offered load
    low = min(design.QUICK.loads)
    row = table_row(load, "throughput_per_s", limit="max_concurrency",
                    concurrency=design.KNEE, load=low)  # fmt: skip
    assert float(row["mean"]) == pytest.approx(float(row["offered_per_s"]), rel=0.1)
    # reserved concurrency without an event-source limit is throttled; max_concurrency is not
    reserved = {"limit": "reserved_concurrency", "concurrency": design.KNEE, "load": top}
    assert mean(load, "throttles_per_message", **reserved) > 0
    assert mean(load, "throttles_per_message", **knee) == 0


def test_per_environment_connections_are_refused_past_the_connection_limit(quick: Path) -> None:
    conn = read(quick, "connections")
    over = max(design.QUICK.connection_concurrencies)
    assert over > design.MAX_CONNECTIONS
    at = {"max_concurrency": over, "load": design.QUICK.connection_loads[0]}
    assert mean(conn, "db_refused_per_message", connection="per_environment", **at) > 0
    assert mean(conn, "db_connections_max", connection="per_environment", **at) == (
        design.MAX_CONNECTIONS
    )
    calls = conn[(conn["connection"] == "per_call") & (conn["metric"] == "db_refused_per_message")]
    assert len(calls) and (calls["mean"] == 0).all()  # a pool makes callers wait, never refuses
    under = {"max_concurrency": min(design.QUICK.connection_concurrencies),
             "load": design.QUICK.connection_loads[0]}  # fmt: skip
    assert mean(conn, "db_refused_per_message", connection="per_environment", **under) == 0


def test_a_short_timeout_wastes_more_and_recovers_worse(quick: Path) -> None:
    outage = read(quick, "outage")
    c = max(design.QUICK.outage_concurrencies)
    short, long_ = min(design.QUICK.outage_timeouts_s), max(design.QUICK.outage_timeouts_s)
    at = {"max_concurrency": c, "retry": "standard", "outage": True}
    assert mean(outage, "db_wasted_s", client_timeout_s=short, **at) > mean(
        outage, "db_wasted_s", client_timeout_s=long_, **at
    )
    assert mean(outage, "latency_after_mean_s", client_timeout_s=short, **at) > mean(
        outage, "latency_after_mean_s", client_timeout_s=short, max_concurrency=c,
        retry="standard", outage=False,
    )  # fmt: skip
    timeline = read(quick, "outage_timeline")
    bins = sorted(timeline["t_s"].unique())
    assert bins[0] == 0 and bins[1] == design.TIMELINE_BIN_S


def test_idempotent_consumers_have_no_more_duplicates(quick: Path) -> None:
    pipe = read(quick, "pipeline")
    for r in design.QUICK.error_rates:
        for partial in (False, True):
            at = {"error_rate": r, "report_batch_item_failures": partial}
            for stage in "abc":
                metric = f"duplicates_per_1k_{stage}"
                assert mean(pipe, metric, idempotent=True, **at) <= mean(
                    pipe, metric, idempotent=False, **at
                ), (metric, at)
            assert mean(pipe, "db_calls_per_message", idempotent=True, **at) <= mean(
                pipe, "db_calls_per_message", idempotent=False, **at
            )
        # whole batches returned by one failure are processed (and emit) again
        whole = {"error_rate": r, "report_batch_item_failures": False, "idempotent": False}
        partial_ = {**whole, "report_batch_item_failures": True}
        assert mean(pipe, "duplicates_per_1k_a", **whole) > 0
        assert mean(pipe, "duplicates_per_1k_a", **partial_) == 0
        assert mean(pipe, "duplicates_per_1k_c", **whole) > mean(
            pipe, "duplicates_per_1k_c", **partial_
        )


def test_the_database_and_its_closed_forms() -> None:
    """The design alone (no run): capacity, knee and the pipeline's closed forms."""
    xs = {n: n / (0.2 * (1 + 0.05 * (n - 1) + 0.01 * n * (n - 1))) for n in range(1, 21)}
    assert design.KNEE == max(xs, key=xs.__getitem__) == 10
    assert design.CAPACITY_PER_S == pytest.approx(xs[10]) == pytest.approx(21.2766, rel=1e-4)
    assert math.isclose(design.USL_PEAK_N, math.sqrt(0.95 / 0.01))
    assert design.concurrency_reference(80) == pytest.approx(xs[20])
    assert design.concurrency_reference(5) == pytest.approx(xs[5])
    p = design.Point("pipeline", error_rate=0.0, partial=True)
    nothing = {"duplicates_per_1k_a": 0, "duplicates_per_1k_b": 0, "duplicates_per_1k_c": 0,
               "db_calls_per_message": 1}  # fmt: skip
    assert design.pipeline_theory(p) == pytest.approx(nothing)
    r = 0.1
    th = design.pipeline_theory(p._replace(error_rate=r))
    a = (1 - r**3) / (1 - r)
    assert th["db_calls_per_message"] == pytest.approx(a * a)
    # B: each of A's N attempts sends a copy; each copy succeeds with 1 − r³; the first success
    # is not a duplicate (enumerated over N = 1, 2, 3 receives at A)
    pn = {1: 1 - r, 2: r * (1 - r), 3: r * r}
    dup_b = sum(q * (n * (1 - r**3) - (1 - (r**3) ** n)) for n, q in pn.items())
    assert th["duplicates_per_1k_b"] == pytest.approx(1000 * dup_b)
    assert th["duplicates_per_1k_b"] == pytest.approx(1000 * r / (1 - r), rel=0.02)
    assert design.pipeline_theory(p._replace(partial=False)) == {}
    assert design.pipeline_theory(p._replace(idempotent=True)) == {}


def test_latency_from_the_trace_agrees_with_the_ledger() -> None:
    """Two independent ways: the trace's creation-to-success times and the ledger's latency."""
    p = design.Point("outage", design.OUTAGE_LOAD, "max_concurrency", 20, client_timeout_s=1.0,
                     outage=True)  # fmt: skip
    r = run_once(design.fleet_scenario(p, design.QUICK, 3), rep=0, trace=True)
    out = outage_measure(p, r, after_s=0.0, bin_s=design.TIMELINE_BIN_S)
    assert isinstance(out, Detailed)
    # every message is created after 0 s: "after" is all of them
    assert out.measures["latency_after_mean_s"] == pytest.approx(r.metrics["latency_mean_s"])
    assert r.metrics["dead_lettered"] == 0 and r.metrics["delivered"] > 0
    timeline = out.detail
    window = design.QUICK.outage_window_s
    assert list(timeline["t_s"]) == [i * design.TIMELINE_BIN_S
                                     for i in range(int(window / design.TIMELINE_BIN_S))]
    delivered_in_window = float((timeline["delivered_per_s"] * design.TIMELINE_BIN_S).sum())
    assert 0 < delivered_in_window <= r.metrics["delivered"]


def test_design_points_are_distinct() -> None:
    for quick in (True, False):
        designs = design.designs(Options(quick, 1, None, argparse.Namespace()))
        names = [p.name for d in designs for p in d.points]
        assert len(names) == len(set(names))
        assert [d.table for d in designs] == ["load", "connections", "outage", "pipeline"]
        for d in designs:
            scenario = d.scenario(d.points[0])
            assert scenario.name == d.points[0].name


def test_quick_files_are_byte_identical_serially(quick: Path, tmp_path: Path) -> None:
    out = tmp_path / "database_protection"
    assert load_experiment("database_protection").main(
        ["--quick", "--out", str(out), "--workers", "1"]
    ) == 0
    for name in (*(f"{n}.csv" for n in TABLES), "findings.md", "manifest.json"):
        assert (out / name).read_bytes() == (quick / name).read_bytes(), name
