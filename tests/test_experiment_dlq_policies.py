"""experiments/dlq_policies.py in ``--quick`` mode: files, sanity of the numbers, determinism."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from conftest import load_experiment, quick_run

import experiments.dlq_policies_design as design
from sim.study import Options

EXPERIMENTS = Path(__file__).resolve().parent.parent / "experiments"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHARTS = ("good_lost.png", "poison_loop.png", "batch_failures.png", "visibility_timeout.png")
TABLES = ("policies.csv", "visibility.csv", "dlq_contents.csv")


def load() -> ModuleType:
    return load_experiment("dlq_policies")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One serial ``--quick`` run, shared by the tests of this module."""
    return quick_run(tmp_path_factory, "dlq_policies")


def read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / name, dtype={"max_receive_count": "Int64"})


def mean(df: pd.DataFrame, metric: str, **eq: object) -> float:
    sel = df[df["metric"] == metric]
    for col, val in eq.items():
        sel = sel[sel[col] == val]
    assert len(sel) == 1, (metric, eq, len(sel))
    return float(sel["mean"].iloc[0])


def test_quick_run_writes_tables_charts_findings_and_index(quick: Path) -> None:
    for name in TABLES:
        df = read(quick, name)
        assert {"metric", "n", "mean", "std", "ci_low", "ci_high", "seed"} <= set(df.columns)
        assert (df["n"] <= 3).all() and len(df)
    pol = read(quick, "policies.csv")
    assert list(pol.columns[:5]) == [
        "policy", "max_receive_count", "error_rate", "poison_rate", "report_batch_item_failures",
    ]  # fmt: skip
    for name in CHARTS:
        assert (quick / name).read_bytes().startswith(PNG_MAGIC), name
    findings = (quick / "findings.md").read_text()
    assert findings.startswith("# DLQ retry policies: ")
    assert "(dlq_policies/good_lost.png)" in findings
    readme = (quick.parent / "README.md").read_text()
    assert "`experiments/dlq_policies.py`" in readme and "DLQ retry policies" in readme


def test_quick_numbers_are_sane(quick: Path) -> None:
    pol = read(quick, "policies.csv")
    partial = pol[(pol["metric"] == "duplicates_per_1k") & pol["report_batch_item_failures"]]
    # a partial batch response returns only the failed messages: no duplicate processing
    assert len(partial) and (partial["mean"] == 0).all() and (partial["ci_high"] == 0).all()
    whole = pol[(pol["metric"] == "duplicates_per_1k") & ~pol["report_batch_item_failures"]
                & (pol["max_receive_count"] == 5)]  # fmt: skip
    assert (whole["mean"] > 0).all()
    for partial_flag in (False, True):
        for poison in (0.0, 0.01):
            at = {"error_rate": 0.1, "poison_rate": poison,
                  "report_batch_item_failures": partial_flag}  # fmt: skip
            # more receives never dead-letter more messages, nor lose more good ones
            for metric in ("dead_lettered", "good_lost"):
                k1 = mean(pol, metric, policy="dlq", max_receive_count=1, **at)
                k5 = mean(pol, metric, policy="dlq", max_receive_count=5, **at)
                assert k5 <= k1, (metric, at)
            assert mean(pol, "good_lost_per_million", policy="dlq", max_receive_count=1,
                        **at) == pytest.approx(1e5, rel=0.25)  # fmt: skip
            # without a DLQ nothing is dead-lettered and every poison message expires
            assert mean(pol, "dead_lettered", policy="no_dlq", **at) == 0
            n_poison = mean(pol, "poison_messages", policy="no_dlq", **at)
            assert (n_poison > 0) == (poison > 0)
            if partial_flag:  # a good message never fails ~20 times in a row
                assert mean(pol, "expired", policy="no_dlq", **at) == n_poison
    dlq = read(quick, "dlq_contents.csv")
    for k in (1, 5):
        in_dlq = mean(dlq, "good_in_dlq_per_million", max_receive_count=k)
        assert in_dlq >= mean(dlq, "good_dead_lettered_per_million", max_receive_count=k)
    vt = read(quick, "visibility.csv")
    for esm in (5, 10):
        short = mean(vt, "dead_lettered_per_1k", esm_max_concurrency=esm, visibility_timeout_s=3)
        long = mean(vt, "dead_lettered_per_1k", esm_max_concurrency=esm, visibility_timeout_s=20)
        assert short > long
    assert mean(vt, "throttles_per_1k", esm_max_concurrency=5, visibility_timeout_s=20) == 0


def test_quick_files_are_byte_identical_with_two_workers(quick: Path, tmp_path: Path) -> None:
    out = tmp_path / "dlq_policies"
    assert load().main(["--quick", "--out", str(out), "--workers", "2"]) == 0
    for name in (*TABLES, *CHARTS, "findings.md"):
        assert (out / name).read_bytes() == (quick / name).read_bytes(), name


def test_design_points_are_distinct_and_censuses_untabulated() -> None:
    """The design alone (no run): every point names its own scenario; censuses get no row."""
    for grid in (design.QUICK, design.FULL):
        pts = design.points(grid)
        assert len({p.name for p in pts}) == len(pts) == len(set(pts))
        census = [p for p in pts if p.study == "census"]
        # one census per nonzero poison fraction: errors 0, partial response, k = 1
        assert [p.poison_rate for p in census] == [x for x in grid.poison_rates if x > 0]
        assert all(p.max_receive_count == 1 and p.partial and p.error_rate == 0 for p in census)
    designs = design.designs(Options(True, 1, None, argparse.Namespace()))
    assert [d.table for d in designs] == ["policies", "visibility"]
    policies = designs[0]
    assert all((policies.columns(p) is None) == (p.study == "census") for p in policies.points)
