"""experiments/s3_eventbridge.py in ``--quick`` mode: files, numbers against the closed forms."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist
from types import ModuleType

import pandas as pd
import pytest
from conftest import load_experiment, quick_run
from conftest import table_row as row

import experiments.s3_eventbridge_design as design

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHARTS = ("routing.png", "outage.png", "replay.png")
TABLES = ("s3_eventbridge.csv", "differences.csv")
HOUR = 3600.0

#: Closed forms of the workload, computed here independently of the script: keys img/ 50%,
#: docs/ 30%, raw/*.csv 20%; size lognormal (median 256 KiB, sigma 1.5); tenant enterprise 10%.
P_LARGE = NormalDist().cdf(math.log(400) / 1.5) - NormalDist().cdf(math.log(4) / 1.5)
SELECTIVITY = {"thumbnailer": 0.5, "transcoder": P_LARGE, "auditor": 0.1, "indexer": 0.8}
P_NONE = 0.2 * (1 - P_LARGE) * 0.9


def load() -> ModuleType:
    return load_experiment("s3_eventbridge")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``--quick`` run, shared by the tests of this module."""
    return quick_run(tmp_path_factory, "s3_eventbridge", workers=2)


@pytest.fixture(scope="module")
def df(quick: Path) -> pd.DataFrame:
    return pd.read_csv(quick / "s3_eventbridge.csv")


def pooled(table: pd.DataFrame, metric: str, **eq: object) -> float:
    """The total over replications of a per-replication count (mean × n)."""
    r = row(table, metric, **eq)
    return float(r["mean"] * r["n"])


def test_quick_run_writes_tables_charts_findings_and_index(quick: Path, df: pd.DataFrame) -> None:
    for name in TABLES:
        table = pd.read_csv(quick / name)
        assert {"study", "variant", "outage_s", "sink", "metric", "n", "mean", "std", "ci_low",
                "ci_high", "theory", "seed"} <= set(table.columns)  # fmt: skip
        assert len(table) and (table["n"] <= 3).all()
    assert list(df.columns[:4]) == list(design.KEY_COLS)
    assert set(df["study"]) == {"routing", "outage", "replay"}
    for name in CHARTS:
        assert (quick / name).read_bytes().startswith(PNG_MAGIC), name
    findings = (quick / "findings.md").read_text()
    assert findings.startswith("# S3 → EventBridge: ")
    assert "(s3_eventbridge/outage.png)" in findings and "Archive replay" in findings
    readme = (quick.parent / "README.md").read_text()
    assert "`experiments/s3_eventbridge.py`" in readme and "S3 → EventBridge: " in readme
    # nothing is left in flight anywhere: the drains outlast outage + the 24 h policy
    assert (df.loc[df["metric"] == "in_flight", "mean"] == 0).all()


def test_rule_selectivity_matches_the_closed_forms(df: pd.DataFrame) -> None:
    rt = df[df["study"] == "routing"]
    uploads = pooled(rt, "uploads", variant="eventbridge", sink="*")
    assert uploads == pooled(rt, "uploads", variant="s3-sns-fanout", sink="*")  # same uploads
    checks = [(row(rt, "received_fraction", variant="eventbridge", sink=s), p)
              for s, p in SELECTIVITY.items()]  # fmt: skip
    checks.append((row(rt, "unrouted_fraction", variant="eventbridge", sink="*"), P_NONE))
    for r, p in checks:
        assert r["theory"] == pytest.approx(p, rel=1e-6)
        # pooled over all uploads the matched count is binomial: within 4 standard errors
        assert abs(r["mean"] - p) < 4 * math.sqrt(p * (1 - p) / uploads), (r["sink"], p)
    for sink, p in SELECTIVITY.items():
        # the fan-out hands every upload to every consumer; the useful share is the rule's
        fan = row(rt, "received_fraction", variant="s3-sns-fanout", sink=sink)
        assert fan["mean"] == 1.0 and fan["std"] == 0
        useful = row(rt, "useful_fraction", variant="s3-sns-fanout", sink=sink)
        eb = row(rt, "received_fraction", variant="eventbridge", sink=sink)
        assert useful["mean"] == pytest.approx(eb["mean"]) and useful["theory"] == pytest.approx(p)
        for v in ("eventbridge", "s3-sns-fanout"):
            assert row(rt, "delivered_fraction", variant=v, sink=sink)["mean"] == 1.0
    inv_eb = row(rt, "invocations_per_upload", variant="eventbridge", sink="*")["mean"]
    inv_fan = row(rt, "invocations_per_upload", variant="s3-sns-fanout", sink="*")["mean"]
    assert inv_fan >= 4.0 and inv_eb == pytest.approx(sum(SELECTIVITY.values()), abs=0.1)
    cost_eb = row(rt, "cost_per_million_usd", variant="eventbridge", sink="*")["mean"]
    assert row(rt, "cost_per_million_usd", variant="s3-sns-fanout", sink="*")["mean"] > cost_eb
    # the only latency difference is the assumed bus latency (median 40 ms): p50 within 0.1 s
    p50 = {v: row(rt, "latency_p50_s", variant=v, sink="*")["mean"]
           for v in ("eventbridge", "s3-sns-fanout")}  # fmt: skip
    assert 0.0 < p50["eventbridge"] - p50["s3-sns-fanout"] < 0.1
    assert 0.8 < p50["eventbridge"] < 1.6  # S3's delay (median 1 s) + a 100 ms consumer


def test_outage_against_the_retry_policy(df: pd.DataFrame) -> None:
    ou = df[(df["study"] == "outage") & (df["sink"] == "thumbnailer")]
    # a 10-minute outage: everything delivered, after the outage plus at most one backoff gap
    for v in ("no-dlq", "dlq"):
        assert row(ou, "delivered_fraction", variant=v, outage_s=600.0)["mean"] == 1.0
        assert row(ou, "lost_fraction", variant=v, outage_s=600.0)["mean"] == 0.0
        assert row(ou, "dead_lettered_fraction", variant=v, outage_s=600.0)["mean"] == 0.0
    p99 = row(ou, "latency_p99_h", variant="no-dlq", outage_s=600.0)["mean"] * HOUR
    worst = row(ou, "latency_max_h", variant="no-dlq", outage_s=600.0)["mean"] * HOUR
    assert 0.9 * 600.0 < p99 <= worst < 600.0 + 512.0 + 30.0  # the 10th retry waits ≤ 512 s
    # 22 h: the 185 retries (≈ 22.1 h ± 0.32 h) end around the outage's end
    at22 = row(ou, "delivered_fraction", variant="no-dlq", outage_s=22 * HOUR)
    pairs = pooled(ou, "pairs", variant="no-dlq", outage_s=22 * HOUR)
    assert 0.6 < at22["theory"] < 0.8
    se = math.sqrt(at22["theory"] * (1 - at22["theory"]) / pairs)
    assert abs(at22["mean"] - at22["theory"]) < 4 * se
    # 48 h: every pair sent during the first day is lost, or dead-lettered with a DLQ
    assert row(ou, "lost_fraction", variant="no-dlq", outage_s=48 * HOUR)["mean"] == 1.0
    assert row(ou, "dead_lettered_fraction", variant="dlq", outage_s=48 * HOUR)["mean"] == 1.0
    assert row(ou, "lost_fraction", variant="dlq", outage_s=48 * HOUR)["mean"] == 0.0
    # a DLQ turns lost into dead-lettered and changes nothing else (common random numbers)
    for d in sorted(ou["outage_s"].unique()):
        a = row(ou, "delivered_fraction", variant="no-dlq", outage_s=d)["mean"]
        assert row(ou, "delivered_fraction", variant="dlq", outage_s=d)["mean"] == a
        lost = row(ou, "lost_fraction", variant="no-dlq", outage_s=d)["mean"]
        assert row(ou, "dead_lettered_fraction", variant="dlq", outage_s=d)["mean"] == lost
    healthy = df[(df["study"] == "outage") & (df["metric"] == "healthy_delivered_fraction")]
    assert (healthy["mean"] == 1.0).all()


def test_replay_recovers_the_lost_pairs_and_duplicates_the_rest(
    quick: Path, df: pd.DataFrame
) -> None:
    rp = df[df["study"] == "replay"]
    diff = pd.read_csv(quick / "differences.csv")
    at48 = {"outage_s": 48 * HOUR}
    assert row(rp, "delivered_fraction", variant="no-replay", sink="thumbnailer", **at48)[
        "mean"] == 0.0  # fmt: skip
    for v in ("replay-all-rules", "replay-images-only"):
        assert row(rp, "delivered_fraction", variant=v, sink="thumbnailer", **at48)["mean"] == 1.0
        rec = row(diff, "recovered_fraction_of_lost", variant=v, **at48)
        assert rec["mean"] == 1.0
        assert row(rp, "events_replayed_per_upload", variant=v, sink="*", **at48)["mean"] == 1.0
    # every healthy consumer processes the replayed events again unless its rule excludes them
    healthy = sum(p for s, p in SELECTIVITY.items() if s != "thumbnailer")
    dup_all = row(rp, "healthy_duplicates_per_upload", variant="replay-all-rules", sink="*",
                  **at48)  # fmt: skip
    assert dup_all["theory"] == pytest.approx(healthy)
    assert abs(dup_all["mean"] - healthy) < 0.1
    assert row(rp, "healthy_duplicates_per_upload", variant="replay-images-only", sink="*",
               **at48)["mean"] == 0.0  # fmt: skip
    # after a 6 h outage the thumbnailer had processed everything: the replay only duplicates
    six = row(rp, "duplicates_per_upload", variant="replay-images-only", sink="thumbnailer",
              outage_s=6 * HOUR)  # fmt: skip
    assert six["theory"] == pytest.approx(0.5) and abs(six["mean"] - 0.5) < 0.1
    # replay costs money; excluding replays on the healthy rules costs less
    cost = {v: row(diff, "replay_cost_per_million_replayed_usd", variant=v, **at48)["mean"]
            for v in ("replay-all-rules", "replay-images-only")}  # fmt: skip
    assert 1.0 < cost["replay-images-only"] < cost["replay-all-rules"]


def test_retry_span_and_outage_closed_forms() -> None:
    mean, sd = design.retry_span_s()
    assert mean == pytest.approx(0.75 * (1023 + 175 * 600))  # 79,517 s ≈ 22.1 h
    assert sd == pytest.approx(math.sqrt((4**10 - 1) / 3 / 48 + 175 * 600**2 / 48))
    assert design.retry_span_s(0) == (0.0, 0.0)
    p = [design.p_delivered_after_outage(h * HOUR) for h in (1 / 6, 6, 20, 22, 22.5, 23, 25, 48)]
    assert p[:3] == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)
    assert p == sorted(p, reverse=True) and p[-1] < 1e-12
    assert 0.65 < p[3] < 0.75
    # an outage shorter than the arrival window spares the uploads that arrive after it
    assert design.p_delivered_after_outage(300.0, window_s=600.0) == pytest.approx(1.0)
    sel = design.rule_selectivity()
    assert sel["large-objects"] == pytest.approx(P_LARGE, rel=1e-6) and sel["none"] == (
        pytest.approx(P_NONE, rel=1e-6))  # fmt: skip


def test_replot_redraws_the_same_files(quick: Path) -> None:
    files = ("findings.md", *CHARTS)
    before = {f: (quick / f).read_bytes() for f in files}
    assert load().main(["--quick", "--replot", "--out", str(quick)]) == 0
    assert {f: (quick / f).read_bytes() for f in files} == before
