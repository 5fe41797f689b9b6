"""experiments/fifo_ordering.py in --quick mode: the files it writes and what they must show."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import quick_run

import experiments.fifo_ordering_design as design

CSVS = ("ordering", "groups", "head_of_line", "head_of_line_timeline", "throughput_limit")
PNGS = ("ordering", "groups", "head_of_line", "throughput_limit")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STATS = ["n", "mean", "std", "ci_low", "ci_high"]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One serial --quick run shared by the tests below (about 10 s)."""
    return quick_run(tmp_path_factory, "fifo_ordering")


def table(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / f"{name}.csv")


def value(df: pd.DataFrame, metric: str, **where: object) -> float:
    sel = df["metric"] == metric
    for k, v in where.items():
        sel &= df[k] == v
    (mean,) = df.loc[sel, "mean"]
    return float(mean)


def test_writes_csvs_pngs_findings_and_index(out: Path) -> None:
    for name in CSVS:
        df = table(out, name)
        assert len(df) > 0, name
        if name != "head_of_line_timeline":
            assert {"metric", "unit", *STATS} <= set(df.columns), name
            assert (df["n"] >= 2).all(), name  # every metric has a CI
    for name in PNGS:
        assert (out / f"{name}.png").read_bytes().startswith(PNG_MAGIC), name
    text = (out / "findings.md").read_text()
    assert text.splitlines()[0].startswith("# FIFO ordering: ")
    for name in PNGS:
        assert f"(fifo_ordering/{name}.png)" in text
    readme = (out.parent / "README.md").read_text()
    assert "experiments/fifo_ordering.py" in readme and "FIFO ordering" in readme


def test_fifo_keeps_order_and_deduplicates_where_standard_does_not(out: Path) -> None:
    o = table(out, "ordering")
    for err in sorted(set(o["function_error_rate"])):
        assert value(o, "ordering_violations_per_10k", queue="FIFO", function_error_rate=err) == 0
        assert value(o, "duplicates_per_10k", queue="FIFO", function_error_rate=err) == 0
        # 10 concurrent batches over 10 groups: the standard queue processes out of order
        assert value(o, "ordering_violations_per_10k", queue="standard",
                     function_error_rate=err) > 100  # fmt: skip
        assert value(o, "duplicates_per_10k", queue="standard", function_error_rate=err) > 0
    # a failure blocks the FIFO group for the visibility timeout: p99 far above standard's
    worst = max(o["function_error_rate"])
    assert value(o, "latency_p99_s", queue="FIFO", function_error_rate=worst) > 10 * value(
        o, "latency_p99_s", queue="standard", function_error_rate=0.0
    )


def test_one_group_caps_fifo_throughput(out: Path) -> None:
    g = table(out, "groups")
    one = value(g, "throughput_per_s", queue="FIFO", groups=1)
    many = value(g, "throughput_per_s", queue="FIFO", groups=max(g["groups"]))
    assert 8.0 < one < 11.0  # one batch of 0.1 s in flight: ~10 msg/s of the 50 offered
    assert many > 3 * one
    assert value(g, "ordering_violations_per_10k", queue="FIFO", groups=1) == 0


def test_poison_stalls_its_group_as_theory_says(out: Path) -> None:
    h = table(out, "head_of_line")
    for variant in set(h["variant"]):
        rows = h[h["variant"] == variant]
        theory = float(rows["theory_stall_s"].iloc[0])
        stall = value(h, "stall_s", variant=variant)
        assert theory <= stall < theory + 1.0, variant
        assert value(h, "other_groups_latency_p99_s", variant=variant) < 2.0
        assert value(h, "next_message_latency_s", variant=variant) > theory - 5.0


def test_fifo_send_limit_caps_accepted_sends(out: Path) -> None:
    lim = table(out, "throughput_limit")
    low, high = min(lim["offered_per_s"]), max(lim["offered_per_s"])
    assert high > 300 > low
    assert value(lim, "lost_fraction", offered_per_s=low) == 0
    assert 290.0 < value(lim, "accepted_sends_per_s", offered_per_s=high) <= 301.0
    assert value(lim, "lost_fraction", offered_per_s=high) > 0.2
    assert value(lim, "producer_latency_mean_s", offered_per_s=high) > value(
        lim, "producer_latency_mean_s", offered_per_s=low
    )


def test_stall_closed_form_and_variants() -> None:
    assert design.stall_theory_s(3, 30.0) == 90.0
    assert design.stall_theory_s(None, 30.0, 600.0) == 600.0
    assert design.stall_theory_s(None, 30.0, 610.0) == 630.0  # the next visibility timeout
    for setup in (design.FULL, design.QUICK):
        for v in setup.hol_variants:
            assert v.theory_stall_s == design.stall_theory_s(
                v.max_receive_count, v.visibility_timeout_s, v.retention_s
            )
