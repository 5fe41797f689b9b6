"""experiments/api_uploads.py in ``--quick`` mode: files, the numbers against theory."""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from conftest import load_experiment, quick_run
from conftest import table_row as row

import experiments.api_uploads_design as design

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHARTS = ("load.png", "clients.png", "token_bucket.png", "bursts.png", "timeouts.png")
TABLES = ("api_uploads.csv", "differences.csv")


def load() -> ModuleType:
    return load_experiment("api_uploads")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One serial ``--quick`` run, shared by the tests of this module."""
    return quick_run(tmp_path_factory, "api_uploads")


@pytest.fixture(scope="module")
def df(quick: Path) -> pd.DataFrame:
    return pd.read_csv(quick / "api_uploads.csv")


def pooled(df: pd.DataFrame, **eq: object) -> float:
    """Uploads of all replications of one configuration together."""
    r = row(df, "uploads", **eq)
    return float(r["mean"] * r["n"])


def test_quick_run_writes_tables_charts_findings_and_index(quick: Path, df: pd.DataFrame) -> None:
    for name in TABLES:
        table = pd.read_csv(quick / name)
        assert {"metric", "n", "mean", "std", "ci_low", "ci_high", "seed"} <= set(table.columns)
        assert len(table) and (table["n"] <= 6).all()
    assert list(df.columns[: len(design.KEYS)]) == list(design.KEYS)
    assert {"theory", "theory_kind"} <= set(df.columns)
    assert set(df["study"]) == set(design.STUDIES)
    assert set(df["retry_mode"]) == set(design.MODES)
    for name in CHARTS:
        assert (quick / name).read_bytes().startswith(PNG_MAGIC), name
    findings = (quick / "findings.md").read_text()
    assert findings.startswith("# API uploads: ")
    for text in ("(api_uploads/load.png)", "Headline", "number of clients", "exact theory",
                 "Bursts", "504", "413"):  # fmt: skip
        assert text in findings, text
    readme = (quick.parent / "README.md").read_text()
    assert "`experiments/api_uploads.py`" in readme and "API uploads: " in readme


def test_every_upload_is_resolved(df: pd.DataFrame) -> None:
    assert (df.loc[df["metric"] == "in_flight", "mean"] == 0).all()
    # a fraction is a fraction, and retries never make fewer requests than uploads
    fr = df[df["metric"].str.endswith("_fraction")]
    assert ((fr["mean"] >= 0) & (fr["mean"] <= 1)).all()
    assert (df.loc[df["metric"] == "requests_per_upload", "mean"] >= 1.0).all()


def test_no_retry_success_is_rate_over_load_plus_the_burst(df: pd.DataFrame) -> None:
    ld = df[df["study"] == "load"]
    r = row(ld, "success_fraction", retry_mode="none", load=2.0)
    half = r["ci_high"] - r["mean"]
    window_s = design.QUICK.load_s
    burst_share = design.BURST / (2.0 * design.RATE_PER_S * window_s)
    # over a finite window the gateway accepts rate·T requests plus the initial burst
    assert 0.5 - half <= r["mean"] <= 0.5 + burst_share + half
    assert r["theory"] == pytest.approx(0.5 + burst_share)
    # below the rate a burst of 100 tokens absorbs Poisson arrivals: nothing throttled
    for mode in design.MODES:
        assert row(ld, "throttled_fraction", retry_mode=mode, load=0.8)["mean"] == 0.0
        assert row(ld, "success_fraction", retry_mode=mode, load=0.8)["mean"] == 1.0


def test_token_bucket_matches_its_exact_stationary_theory(df: pd.DataFrame) -> None:
    bk = df[(df["study"] == "bucket") & (df["metric"] == "throttled_fraction")]
    assert len(bk) == 4
    for r in bk.itertuples():
        # within 4 standard errors of the replication means (6 replications)
        se = r.std / math.sqrt(r.n)
        assert abs(r.mean - r.theory) <= 4 * se, (r.burst, r.load, r.mean, r.theory)
    # burst 1 is Erlang's loss formula with one server, rho / (1 + rho)
    assert row(bk, "throttled_fraction", burst=1, load=0.8)["theory"] == pytest.approx(0.8 / 1.8)


def test_retries_raise_success_and_adaptive_trades_loss_for_latency(
    quick: Path, df: pd.DataFrame
) -> None:
    diff = pd.read_csv(quick / "differences.csv")
    for study, eq in (("load", {"load": 2.0}), ("bursts", {"burst": 200})):
        for mode in ("standard", "adaptive"):
            d = row(diff, "success_fraction", study=study, retry_mode=mode, **eq)
            assert d["ci_low"] > 0, (study, mode)
    ld = df[df["study"] == "load"]
    at = {"load": 2.0}
    # standard retries multiply the requests, as far as the clients' retry quotas allow (20
    # clients × 500 tokens, 5 per retry); the gateway still accepts about rate·T + burst
    std = row(ld, "requests_per_upload", retry_mode="standard", **at)
    assert 1.5 < std["mean"] < 2.3
    assert std["theory"] == pytest.approx(std["mean"], rel=0.1)
    gain = row(diff, "success_fraction", study="load", retry_mode="standard", **at)["mean"]
    assert gain < 0.1
    # adaptive clients queue uploads instead of losing them, at the price of latency (the
    # median: the p99 is set in every mode by the S3 notification delay's minute-long tail)
    ad = row(ld, "success_fraction", retry_mode="adaptive", **at)
    assert ad["mean"] > 0.99
    p50 = {m: row(ld, "latency_p50_s", retry_mode=m, **at)["mean"] for m in ("none", "adaptive")}
    assert p50["adaptive"] > 3 * p50["none"]


def test_adaptive_limiters_act_per_client(df: pd.DataFrame) -> None:
    cl = df[df["study"] == "clients"]
    assert sorted(cl["clients"].unique()) == [1, 100]
    one = {m: row(cl, m, retry_mode="adaptive", clients=1)["mean"]
           for m in ("success_fraction", "requests_per_upload", "throttled_fraction")}  # fmt: skip
    many = {m: row(cl, m, retry_mode="adaptive", clients=100)["mean"]
            for m in ("success_fraction", "requests_per_upload", "throttled_fraction")}  # fmt: skip
    # one client slows down at its first 429 and queues the rest: (almost) no wasted requests
    assert one["success_fraction"] > 0.99 and one["requests_per_upload"] < 1.05
    # a hundred clients each see few 429s: more attempts hit the empty bucket, some run out
    assert many["throttled_fraction"] > 3 * one["throttled_fraction"]
    assert many["success_fraction"] < one["success_fraction"]
    # standard retries depend on the split through the retry quota: one client's bucket
    # empties early, a hundred clients hold a hundred times the tokens
    std = {k: {m: row(cl, m, retry_mode="standard", clients=k)["mean"]
               for m in ("success_fraction", "requests_per_upload")} for k in (1, 100)}  # fmt: skip
    assert std[1]["requests_per_upload"] < 1.5 < std[100]["requests_per_upload"]
    assert std[1]["success_fraction"] <= std[100]["success_fraction"]


def test_504s_duplicates_and_client_errors_follow_the_lognormal_tail(df: pd.DataFrame) -> None:
    to = df[df["study"] == "timeout"]
    median = float(to["function_median_s"].iloc[0])
    p = design.timeout_probability(median)
    assert p == pytest.approx(0.0916, abs=1e-4)  # P(Z > ln(29 / 10) / 0.8)
    at = {"function_median_s": median}
    n = pooled(to, retry_mode="none", **at)
    # each invocation's run time is independent: binomial counts, 4 standard errors
    none = row(to, "client_error_fraction", retry_mode="none", **at)
    assert abs(none["mean"] - p) <= 4 * math.sqrt(p * (1 - p) / n)
    dup = row(to, "duplicates_per_upload", retry_mode="standard", **at)
    var = p * (1 - p) + 4 * p * p - (p + p * p) ** 2  # of N − 1, N = attempts (at most 3)
    assert abs(dup["mean"] - (p + p * p)) <= 4 * math.sqrt(var / n)
    assert row(to, "duplicates_per_upload", retry_mode="none", **at)["mean"] == 0.0
    assert row(to, "client_error_fraction", retry_mode="standard", **at)["mean"] < none["mean"]
    for mode in design.MODES:  # every upload is processed, whatever the client saw
        assert row(to, "success_fraction", retry_mode=mode, **at)["mean"] == 1.0
    # no 429 here: adaptive mode's limiter never engages, so it equals standard
    for metric in ("duplicates_per_upload", "client_error_fraction", "requests_per_upload"):
        assert (row(to, metric, retry_mode="adaptive", **at)["mean"]
                == row(to, metric, retry_mode="standard", **at)["mean"])  # fmt: skip


def test_413_share_matches_the_size_distributions_tail(df: pd.DataFrame) -> None:
    pl = df[df["study"] == "payload"]
    q = design.payload_too_large_probability()
    assert q == pytest.approx(0.0488, abs=1e-4)  # P(Z > ln(10,485,760 / 2,000,000))
    n = pooled(pl, retry_mode="none")
    lost = {m: row(pl, "lost_fraction", retry_mode=m) for m in design.MODES}
    assert abs(lost["none"]["mean"] - q) <= 4 * math.sqrt(q * (1 - q) / n)
    # a 413 is not retried: the same uploads are lost in every mode, one request each
    assert lost["standard"]["mean"] == lost["adaptive"]["mean"] == lost["none"]["mean"]
    for mode in design.MODES:
        assert row(pl, "requests_per_upload", retry_mode=mode)["mean"] == 1.0


def test_closed_forms() -> None:
    tb = design.token_bucket_throttled
    for rho in (0.5, 1.0, 2.0):
        assert tb(rho, 1) == pytest.approx(rho / (1 + rho), rel=1e-9)
    # burst 2 below the rate: (1 − ρ) G / (1 − ρ G), G = P(M/D/1 workload > 1 service time)
    rho = 0.5
    g = 1 - (1 - rho) * math.exp(rho)  # Erlang's M/D/1 workload distribution at x = 1
    assert tb(rho, 2) == pytest.approx((1 - rho) * g / (1 - rho * g), rel=1e-4)
    assert tb(2.0, 100) == pytest.approx(0.5, abs=1e-6)
    assert tb(0.5, 100) < 1e-12
    assert design.burst_fluid_throttled(5000, 100.0) == 0.0
    assert design.burst_fluid_throttled(1000, 100.0) == 0.0
    # 1,000 uploads + 25/s over 2 s against 200 + 50/s × 2 s tokens, twice, of 4,500 uploads
    assert design.burst_fluid_throttled(200, 100.0) == pytest.approx(2 * 750 / 4500)
    assert design.fluid_success(2.0, 100, 40.0) == pytest.approx(2100 / 4000)
    assert design.fluid_success(0.5, 100, 40.0) == 1.0


def test_same_seed_same_files(tmp_path: Path) -> None:
    exp = load()
    small = ["--quick", "--only", "timeout", "payload"]
    first, second, other = (tmp_path / d / "api_uploads" for d in ("a", "b", "c"))
    assert exp.main([*small, "--out", str(first), "--workers", "1"]) == 0
    assert exp.main([*small, "--out", str(second), "--workers", "2"]) == 0
    assert exp.main([*small, "--out", str(other), "--workers", "1", "--seed", "1"]) == 0
    for name in ("api_uploads.csv", "differences.csv", "timeouts.png", "findings.md"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "api_uploads.csv").read_bytes() != (other / "api_uploads.csv").read_bytes()
