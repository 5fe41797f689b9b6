"""experiments/audit_alerts.py in ``--quick`` mode: files, and the numbers against closed forms.

Tolerances are 4 standard errors of what the quick run pools: notifications where accounts miss
alerts independently (email failures), alerts where whole alerts are lost (CloudTrail's loss,
outages: every account of an alert shares its fate), and for delays the CloudTrail delay that
all emails of an alert share.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import quick_run
from conftest import table_row as row
from scipy.integrate import quad
from scipy.stats import lognorm

import experiments.audit_alerts_design as design

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHARTS = ("delivery.png", "delay.png", "delay_cdf.png", "outages.png")
TABLES = ("audit_alerts.csv", "delay_cdf.csv")


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One serial ``--quick`` run, shared by the tests of this module."""
    return quick_run(tmp_path_factory, "audit_alerts")


@pytest.fixture(scope="module")
def df(quick: Path) -> pd.DataFrame:
    return pd.read_csv(quick / "audit_alerts.csv")


def pooled(df: pd.DataFrame, metric: str, **eq: object) -> float:
    """The total of a per-replication count over all replications."""
    r = row(df, metric, **eq)
    return float(r["mean"] * r["n"])


def binomial_ok(r: pd.Series, count: float, k: float = 4.0) -> bool:
    """The mean fraction is within k binomial standard errors of the closed form."""
    th = float(r["theory"])
    se = math.sqrt(max(th * (1 - th), 1e-12) / count)
    return abs(float(r["mean"]) - th) <= k * se


def test_quick_run_writes_tables_charts_findings_and_index(quick: Path, df: pd.DataFrame) -> None:
    assert list(df.columns[:6]) == list(design.KEYS)
    assert {"metric", "n", "mean", "std", "ci_low", "ci_high", "theory", "seed"} <= set(df)
    assert set(df["study"]) == {"emails", "loss", "mail_outage", "sns_outage"}
    assert (df["n"] <= 3).all() and (df["seed"] == design.DEFAULT_SEED).all()
    ok = df["ci_low"].notna()
    assert (df.loc[ok, "ci_low"] <= df.loc[ok, "mean"] + 1e-12).all()
    assert (df.loc[ok, "mean"] <= df.loc[ok, "ci_high"] + 1e-12).all()
    cdf = pd.read_csv(quick / "delay_cdf.csv")
    assert set(cdf["n_accounts"]) == set(design.QUICK.cdf_accounts)
    assert (cdf.groupby("n_accounts")["delay_s"].apply(lambda s: s.is_monotonic_increasing)).all()
    for name in CHARTS:
        assert (quick / name).read_bytes().startswith(PNG_MAGIC), name
    findings = (quick / "findings.md").read_text()
    assert findings.startswith("# Audit alerts: ")
    assert "(audit_alerts/delay.png)" in findings and "Mail provider outage" in findings
    readme = (quick.parent / "README.md").read_text()
    assert "`experiments/audit_alerts.py`" in readme and "Audit alerts: " in readme


def test_every_notification_is_resolved_and_only_deletetable_matches(df: pd.DataFrame) -> None:
    flight = df[df["metric"] == "in_flight"]
    assert len(flight) and (flight["mean"] == 0).all() and (flight["std"].fillna(0) == 0).all()
    # one API call in 4 is a DeleteTable: the others are unrouted (binomial over API calls)
    r = row(df, "unrouted_fraction", study="emails", n_accounts=10, email_failure_p=0.01)
    assert r["theory"] == pytest.approx(0.75)
    assert binomial_ok(r, pooled(df, "api_calls", study="emails", n_accounts=10,
                                 email_failure_p=0.01))  # fmt: skip


def test_email_failures_against_closed_forms(df: pd.DataFrame) -> None:
    em = df[df["study"] == "emails"]
    for p in sorted(em["email_failure_p"].unique()):
        for n in sorted(em["n_accounts"].unique()):
            at = {"email_failure_p": p, "n_accounts": n}
            miss = p**design.ATTEMPTS
            d, a = row(em, "delivered_fraction", **at), row(em, "all_delivered_fraction", **at)
            assert d["theory"] == pytest.approx(1 - miss)
            assert a["theory"] == pytest.approx((1 - miss) ** n)
            if miss < 1e-9:  # 50 attempts: nobody misses an alert
                assert d["mean"] == a["mean"] == 1.0 and d["std"] == 0
                continue
            # accounts miss independently: binomial over notifications / over alerts
            assert binomial_ok(d, pooled(em, "deliveries_expected", **at)), at
            assert binomial_ok(a, pooled(em, "alerts", **at)), at
            # mean attempts (1 − p^A)/(1 − p), with the truncated geometric's variance
            t = row(em, "attempts_per_notification", **at)
            sd = math.sqrt(p) / (1 - p)
            se = sd / math.sqrt(pooled(em, "deliveries_expected", **at))
            assert abs(t["mean"] - t["theory"]) < 4 * se, at
    # p = 90%: the email policy runs out: ~0.46% of notifications missed, fewer alerts reach
    # all of 100 accounts than all of 10
    big = em["n_accounts"].max()
    assert (row(em, "all_delivered_fraction", email_failure_p=0.9, n_accounts=big)["mean"]
            < row(em, "all_delivered_fraction", email_failure_p=0.9, n_accounts=10)["mean"])


def test_cloudtrail_loss_hits_whole_alerts(df: pd.DataFrame) -> None:
    lo = df[df["study"] == "loss"]
    for _, r in lo[lo["metric"] == "all_delivered_fraction"].iterrows():
        at = {"n_accounts": r["n_accounts"], "cloudtrail_loss": r["cloudtrail_loss"]}
        assert r["theory"] == pytest.approx(1 - r["cloudtrail_loss"])
        assert binomial_ok(r, pooled(lo, "alerts", **at)), at
        # a lost event reaches no account: no alert is partial, and both fractions agree
        assert row(lo, "partial_fraction", **at)["mean"] == 0.0
        d = row(lo, "delivered_fraction", **at)
        assert d["mean"] == pytest.approx(r["mean"], abs=1e-12)


def test_delay_grows_with_n_through_the_email_quota(df: pd.DataFrame) -> None:
    em = df[df["study"] == "emails"]
    n0, n1 = sorted(em["n_accounts"].unique())[:: len(em["n_accounts"].unique()) - 1]
    pace = float(design.pacing_s(n1)[-1])  # (N − 1)/10 s: the last account's wait
    assert pace == pytest.approx((n1 - 1) / 10)
    for p in (0.01, 0.1):
        at = {"email_failure_p": p}
        # within each run the last account's mean delay exceeds the first's by the pacing
        gap = row(em, "last_minus_first_latency_mean_s", n_accounts=n1, **at)
        assert gap["theory"] == pytest.approx(pace)
        assert abs(gap["mean"] - pace) < 1.0, (p, gap["mean"])
        # every N sees the same alerts (same CloudTrail delays): the mean delay grows by the
        # mean pacing, and so does the median
        m0, m1 = (row(em, "latency_mean_s", n_accounts=n, **at) for n in (n0, n1))
        grow = m1["theory"] - m0["theory"]
        wait = {n: float(np.mean(design.pacing_s(n))) for n in (n0, n1)}  # mean pacing
        assert grow == pytest.approx(wait[n1] - wait[n0])
        assert abs((m1["mean"] - m0["mean"]) - grow) < 1.0, (p, m1["mean"] - m0["mean"], grow)
        q0, q1 = (row(em, "latency_p50_s", n_accounts=n, **at) for n in (n0, n1))
        assert q1["mean"] > q0["mean"] and q1["theory"] > q0["theory"]


def test_mean_delay_matches_the_closed_form(df: pd.DataFrame) -> None:
    em = df[df["study"] == "emails"]
    s = design.CT_SIGMA
    var_d = (math.exp(s**2) - 1) * math.exp(2 * math.log(design.CT_MEDIAN_S) + s**2)
    for _, r in em[em["metric"] == "latency_mean_s"].iterrows():
        p, n = float(r["email_failure_p"]), int(r["n_accounts"])
        atoms, w = design._mixture(1, p)  # the retry offsets of one account
        var_o = float(np.sum(w * atoms**2) - np.sum(w * atoms) ** 2)
        # an alert's mean delay over its N accounts: shared D, independent retries
        alerts = pooled(em, "alerts", email_failure_p=p, n_accounts=n)
        se = math.sqrt((var_d + var_o / n) / alerts)
        assert abs(r["mean"] - r["theory"]) < 4 * se, (p, n, r["mean"], r["theory"], se)


def test_outages_against_closed_forms(df: pd.DataFrame) -> None:
    ml = df[df["study"] == "mail_outage"]
    for w in sorted(ml["outage_h"].unique()):
        f = row(ml, "affected_delivered_fraction", outage_h=w)
        assert row(ml, "unaffected_delivered_fraction", outage_h=w)["mean"] == 1.0
        if w * 3600 < design.POLICY_SPAN_S:  # the retries outlast the outage: late, not lost
            assert f["theory"] == 1.0 and f["mean"] == 1.0
            late = row(ml, "affected_latency_max_s", outage_h=w)["mean"]
            assert w * 3600 * 0.9 < late <= w * 3600 + 600 + 60
        else:  # the alerts of the first W − 6.83 h are lost for the affected accounts
            assert 0 < f["theory"] < 1
            assert binomial_ok(f, pooled(ml, "alerts", outage_h=w)), w
    sn = df[df["study"] == "sns_outage"]
    topic = row(sn, "delivered_fraction", outage="topic")
    assert topic["mean"] == 1.0 and topic["theory"] == 1.0  # EventBridge retries cover it
    end = design.SNS_OUTAGE_S
    assert row(sn, "latency_max_s", outage="topic")["mean"] > end - 300
    assert row(sn, "latency_max_s", outage="topic")["mean"] < end + 600 + 120
    bus = row(sn, "delivered_fraction", outage="bus")
    assert bus["theory"] == pytest.approx(1 - design.bus_outage_loss(end))
    assert binomial_ok(bus, pooled(sn, "alerts", outage="bus"))


def test_closed_form_helpers() -> None:
    assert design.ATTEMPTS == 50  # AWS's documented total for email
    assert abs(design.POLICY_SPAN_S - 24_566.1) < 0.1  # 10 s + 10 backing off + 38×600 s
    assert len(design.attempt_offsets_s()) == design.ATTEMPTS
    assert list(design.pacing_s(3)) == pytest.approx([0.0, 0.1, 0.2])  # 10/s, no burst
    assert float(design.pacing_s(500)[-1]) == pytest.approx(49.9)
    assert design.delay_quantile_s(0.5, 1, 0.0) == pytest.approx(design.CT_MEDIAN_S, rel=1e-6)
    assert design.delay_mean_s(1, 0.0) == pytest.approx(design.CT_MEDIAN_S * math.exp(0.5))
    # the lognormal partial expectation E[(c − D)^+] = ∫_0^c P(D ≤ x) dx, integrated
    dist = lognorm(s=design.CT_SIGMA, scale=design.CT_MEDIAN_S)
    for c in (10.0, 60.0, 1800.0):
        area = quad(dist.cdf, 0.0, c, limit=200)[0]
        assert design._partial_expectation(c) == pytest.approx(area, rel=1e-6)
    assert design.mail_outage_loss(6 * 3600.0, 0) == 0.0
    assert 0.14 < design.mail_outage_loss(8 * 3600.0, 0) < 0.15  # ≈ (8 − 6.83 − E[D]/3600)/8
    pt = design.Point("emails", 500, 0.9, 0.01)
    th = design.theory(pt)
    assert th["all_delivered_fraction"] == pytest.approx(0.99 * (1 - 0.9**50) ** 500)
    assert th["attempts_per_notification"] == pytest.approx(0.99 * (1 - 0.9**50) / 0.1)


def test_same_seed_same_delay_samples() -> None:
    grid = design.QUICK._replace(cdf_accounts=(10,), alerts=20)
    a, b = design.delay_samples(grid, 11), design.delay_samples(grid, 11)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(design.delay_samples(grid, 12))
