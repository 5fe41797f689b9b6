"""DeleteTable audit alerts: CloudTrail → EventBridge rule → SNS → one email per account (A6).

An organization watches for DynamoDB ``DeleteTable`` calls: CloudTrail turns every management
API call into an "AWS API Call via CloudTrail" event on the default bus (best effort, after an
assumed lognormal delay with median 30 s, σ 1), a rule with the pattern ``{"source":
["aws.dynamodb"], "detail-type": ["AWS API Call via CloudTrail"], "detail": {"eventSource":
["dynamodb.amazonaws.com"], "eventName": ["DeleteTable"]}}`` sends the matching ones to an SNS
topic (EventBridge's target retry: 24 h / 185 attempts), and the topic emails every account of
the organization (N email subscriptions, one ``endpoint`` per account inbox). Each (call,
account) pair is one notification. SNS paces the emails at 10 per second, 0.1 s apart with no
burst (as the simulator models the quota): the k-th account (k = 0, 1, ...) of an alert waits
k/10 s, so the last of 500 waits 49.9 s (longer when alerts overlap). A
failed email is retried with the customer-managed policy (2 retries 10 s apart, 10 backing off
from 10 s to 600 s, 38 every 600 s: evsim makes the first attempt and then these 50 retries,
A = 51 attempts over 6.83 h).

Workload: DynamoDB management calls (CreateTable, UpdateTable, DeleteTable, weights 1:2:1)
at 4 per hour, so one DeleteTable per hour; the other calls do not match the rule
(``messages_unrouted``). EventBridge, SNS and the inboxes add no latency of their own (AWS
publishes none); the delay runs from the API call to SNS's successful hand-over of the email.

Studies, each under common random numbers (one root seed, the same replication indices):

* **emails**: accounts N ∈ {10, 50, 100, 250, 500} × email failure probability p per attempt ∈
  {0, 1%, 10%, 50%, 90%}, no CloudTrail loss; every N sees the same alerts (100 per
  replication), so differences between N are paired.
* **loss**: N × CloudTrail loss ∈ {0.1%, 1%} at p = 1%. A loss hits a whole alert, so the
  number of alerts matters, not N: each replication simulates about 12,000 notifications
  (1,200 alerts at N = 10, 24 at N = 500). Loss 0 is the emails study at p = 1%.
* **mail_outage**: N = 100, the mail provider of 20 accounts (acct081–acct100) unavailable for
  W ∈ {1, 6, 8, 12} h from t = 0, alerts at 12 per hour during the outage, p = 0.
* **sns_outage**: N = 500, alerts at 12 per hour for 30 minutes while nothing is down, the SNS
  topic is unavailable (EventBridge retries), or the event bus is unavailable (CloudTrail
  drops what the bus rejects).

Closed forms (independent attempts, isolated alerts: the 10/s quota shared by overlapping
alerts is ignored; with one alert per hour an alert to 500 accounts overlaps the previous one
with probability about 1.4%): P(account notified) = (1 − loss)(1 − p^A), P(every account) =
(1 − loss)(1 − p^A)^N, email attempts per notification (1 − loss)(1 − p^A)/(1 − p); the delay
is D + s_k + o_J with D the CloudTrail delay, s_k the pacing of account k and o_J the offset of
the first successful attempt (P(J = j) ∝ p^j), whose mean and quantiles are computed exactly
from that mixture. Outages from t = 0 with alerts made uniformly during [0, W): an affected
notification is lost when its last attempt, t + D + s_k + T (T = 6.83 h), still falls inside
the outage, P = E[(W − T − s_k − D)^+]/W; an alert is dropped by a bus outage when t + D < W,
P = E[(W − D)^+]/W (both with the lognormal partial expectation).

Writes ``audit_alerts.csv`` (tidy: one row per configuration and metric with n, mean, std, the
95% t-interval over replications and the closed form where there is one), ``delay_cdf.csv``
(the delay distribution of replication 0 at p = 10% against the closed form), four PNG charts
and ``findings.md`` into ``results/audit_alerts/``, then the results index. Same seed ⇒ the
same files, byte for byte.

Usage, from the repository root: ``python -m experiments.audit_alerts [--quick] [--out DIR]
[--seed S] [--workers N] [--replications R] [--replot]`` (``--replot`` redraws charts and
findings from the CSVs).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import ndtr

from sim.analysis.metrics import RunResult
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png
from sim.analysis.theory import dead_letter_probability, mean_attempts
from sim.build import build
from sim.config import Scenario, scenario_from_dict
from sim.config.sns import default_delivery_policy
from sim.study import Design, Options, Report, Run, Study, mean_ci, percent_ci, run_study
from sim.study import number as _num
from sim.study import percent as _p
from sim.study import select as _select

DEFAULT_SEED = 20260606
LEVEL = 0.95

# The findings' intervals: a NaN mean reads n/a, a metric equal in every replication reads
# "... in every replication".
_ci = partial(mean_ci, constant="every", nan_mean=True)
_pct = partial(percent_ci, constant="every", nan_mean=True)

# workload
EVENT_NAMES = {"CreateTable": 1, "UpdateTable": 2, "DeleteTable": 1}
DELETE_SHARE = EVENT_NAMES["DeleteTable"] / sum(EVENT_NAMES.values())
API_PER_H = 4.0  # management calls per hour in the sweeps: one DeleteTable per hour
OUTAGE_API_PER_H = 48.0  # in the outage studies: 12 DeleteTable per hour
RULE_PATTERN = {
    "source": ["aws.dynamodb"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"eventSource": ["dynamodb.amazonaws.com"], "eventName": ["DeleteTable"]},
}
# CloudTrail's delivery delay (the simulator's default; AWS documents no number)
CT_MEDIAN_S, CT_SIGMA = 30.0, 1.0
# SNS email: 10 per second (a bucket of 10) and the customer-managed retry policy
EMAIL_RATE_PER_S = 10.0
EMAIL_BURST = 1  # the simulator paces first attempts 0.1 s apart (AWS documents no burst)
EMAIL_POLICY = default_delivery_policy("email")
ATTEMPTS = EMAIL_POLICY.retries + 1  # 51: the first attempt and 50 retries
POLICY_SPAN_S = EMAIL_POLICY.total_s()  # 24,576 s ≈ 6.83 h from the first to the last attempt
DRAIN_S = 8 * 3600.0  # > the policy span + the CloudTrail delay's far tail
MAIL_ACCOUNTS, MAIL_AFFECTED = 100, 20
SNS_ACCOUNTS, SNS_OUTAGE_S = 500, 1800.0
LOSS_P = 0.01  # email failure probability of the loss study
CDF_P = 0.1
CDF_PROBS = tuple(round(0.005 * i, 3) for i in range(1, 200))


class Grid(NamedTuple):
    """The configurations and run lengths of one invocation of the script."""

    accounts: tuple[int, ...]
    failure_ps: tuple[float, ...]
    alerts: int  # DeleteTable calls per replication (expected) in the emails study
    losses: tuple[float, ...]
    loss_pairs: int  # notifications per replication (expected) in the loss study
    replications: int
    mail_outage_h: tuple[float, ...]
    mail_replications: int
    sns_replications: int
    cdf_accounts: tuple[int, ...]


FULL = Grid((10, 50, 100, 250, 500), (0.0, 0.01, 0.1, 0.5, 0.9), 100, (0.001, 0.01), 12_000,
            5, (1.0, 6.0, 8.0, 12.0), 6, 16, (10, 100, 500))  # fmt: skip
QUICK = Grid((10, 100), (0.01, 0.1, 0.9), 60, (0.01,), 5_000, 3, (1.0, 8.0), 3, 3, (10, 100))


# --------------------------------------------------------------------------- scenarios


def account(k: int) -> str:
    """The inbox endpoint of account ``k`` (1-based, in subscription order)."""
    return f"acct{k:03d}"


class Point(NamedTuple):
    """One configuration. ``outage`` is ``none``, ``mail``, ``topic`` or ``bus``."""

    study: str
    n_accounts: int
    p: float
    loss: float
    outage: str = "none"
    outage_h: float = 0.0

    @property
    def name(self) -> str:
        """The variant's scenario name (unique per point)."""
        return (f"{self.study} N={self.n_accounts} p={self.p:g} loss={self.loss:g} "
                f"outage={self.outage}:{self.outage_h:g}h")  # fmt: skip

    @property
    def affected(self) -> list[str]:
        """The accounts whose inbox is down (the mail outage study)."""
        if self.outage != "mail":
            return []
        n = self.n_accounts
        return [account(k) for k in range(n - MAIL_AFFECTED + 1, n + 1)]

    def duration_s(self, grid: Grid) -> float:
        """How long API calls are made (seconds)."""
        if self.study == "emails":
            return grid.alerts / (API_PER_H * DELETE_SHARE) * 3600.0
        if self.study == "loss":
            return max(1.0, grid.loss_pairs / self.n_accounts) / (API_PER_H * DELETE_SHARE) * 3600.0
        return self.outage_h * 3600.0

    def scenario(self, grid: Grid, seed: int) -> Scenario:
        """The scenario of this point (the same component names in every variant)."""
        n = self.n_accounts
        api_per_h = API_PER_H if self.study in ("emails", "loss") else OUTAGE_API_PER_H
        comps: dict[str, Any] = {
            "api": {
                "type": "producer", "rate_per_s": api_per_h / 3600.0, "send_to": ["trail"],
                "attributes": {
                    "eventSource": "dynamodb.amazonaws.com",
                    "eventName": {"choice": {"values": list(EVENT_NAMES),
                                             "weights": list(EVENT_NAMES.values())}},
                },
            },
            "trail": {"type": "cloudtrail", "bus": "default", "loss_rate": self.loss,
                      "delivery_delay_s": {"lognormal": {"median": CT_MEDIAN_S,
                                                         "sigma": CT_SIGMA}}},
            "default": {"type": "event_bus", "rules": [
                {"name": "dynamodb-delete-table", "pattern": RULE_PATTERN,
                 "targets": [{"target": "alerts"}]}]},
            "alerts": {"type": "sns_topic", "email_rate_per_s": EMAIL_RATE_PER_S,
                       "subscriptions": [{"target": account(k)} for k in range(1, n + 1)]},
        }  # fmt: skip
        for k in range(1, n + 1):
            comps[account(k)] = {"type": "endpoint", "protocol": "email",
                                 "errors": {"rate": self.p}}  # fmt: skip
        window = self.outage_h * 3600.0
        down = {"mail": self.affected, "topic": ["alerts"], "bus": ["default"]}.get(self.outage, [])
        outages = [{"component": c, "start_s": 0.0, "duration_s": window} for c in down]
        return scenario_from_dict({
            "name": self.name, "seed": seed, "duration_s": self.duration_s(grid),
            "drain_s": DRAIN_S, "components": comps, "outages": outages,
        })  # fmt: skip


def email_points(grid: Grid) -> list[Point]:
    """The emails study: N × p, no CloudTrail loss."""
    return [Point("emails", n, p, 0.0) for p in grid.failure_ps for n in grid.accounts]


def loss_points(grid: Grid) -> list[Point]:
    """The loss study: N × CloudTrail loss at p = 1%."""
    return [Point("loss", n, LOSS_P, x) for x in grid.losses for n in grid.accounts]


def mail_points(grid: Grid) -> list[Point]:
    """The mail outage study: 20 of 100 inboxes down for W hours."""
    return [Point("mail_outage", MAIL_ACCOUNTS, 0.0, 0.0, "mail", w) for w in grid.mail_outage_h]


def sns_points() -> list[Point]:
    """The SNS outage study: nothing down, the topic down, the bus down (30 minutes)."""
    h = SNS_OUTAGE_S / 3600.0
    return [Point("sns_outage", SNS_ACCOUNTS, 0.0, 0.0, o, h) for o in ("none", "topic", "bus")]


# --------------------------------------------------------------------------- theory

CT_MU = math.log(CT_MEDIAN_S)
CT_MEAN_S = math.exp(CT_MU + CT_SIGMA**2 / 2)


def pacing_s(n: int) -> np.ndarray:
    """When the email of each of ``n`` accounts starts after the topic fans out (seconds)."""
    return np.maximum(0.0, (np.arange(n) - EMAIL_BURST + 1.0) / EMAIL_RATE_PER_S)


@cache
def attempt_offsets_s() -> tuple[float, ...]:
    """Offsets of the A attempts of the email policy from the first one (seconds)."""
    out = [0.0]
    for count, gap in EMAIL_POLICY.runs():
        for _ in range(count):
            out.append(out[-1] + gap)
    return tuple(out)


def _mixture(n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    """Atoms s_k + o_j and their weights: the SNS part of a delivered notification's delay."""
    offs = np.asarray(attempt_offsets_s())
    j = np.arange(len(offs))
    w = (1.0 - p) * p**j if p > 0 else (j == 0).astype(float)
    w = w / w.sum()
    keep = w > 1e-15
    atoms = (pacing_s(n)[:, None] + offs[None, keep]).ravel()
    weights = np.broadcast_to(w[keep] / n, (n, int(keep.sum()))).ravel()
    return atoms, weights


def delay_cdf(t_s: float, n: int, p: float) -> float:
    """P(delay ≤ t_s) of a delivered notification (isolated alert)."""
    atoms, weights = _mixture(n, p)
    x = t_s - atoms
    z = np.where(x > 0, (np.log(np.where(x > 0, x, 1.0)) - CT_MU) / CT_SIGMA, -np.inf)
    return float(np.sum(weights * ndtr(z)))


@cache
def delay_quantile_s(q: float, n: int, p: float) -> float:
    """The q-quantile of a delivered notification's delay (seconds)."""
    hi = 1e3
    while delay_cdf(hi, n, p) < q:
        hi *= 2
    return float(optimize.brentq(lambda t: delay_cdf(t, n, p) - q, 1e-6, hi, xtol=1e-6))


def delay_mean_s(n: int, p: float) -> float:
    """Mean delay of a delivered notification (seconds)."""
    atoms, weights = _mixture(n, p)
    return CT_MEAN_S + float(np.sum(atoms * weights))


def dkw_band(n: int, level: float = LEVEL) -> float:
    """Half-width of the Dvoretzky–Kiefer–Wolfowitz band of an empirical CDF of n draws."""
    return math.sqrt(math.log(2.0 / (1.0 - level)) / (2.0 * n))


def _partial_expectation(c: float) -> float:
    """E[(c − D)^+] for the CloudTrail delay D (lognormal), seconds."""
    if c <= 0:
        return 0.0
    z = (math.log(c) - CT_MU) / CT_SIGMA
    return c * float(ndtr(z)) - CT_MEAN_S * float(ndtr(z - CT_SIGMA))


def mail_outage_loss(window_s: float, k: int) -> float:
    """P(the notification of account k, 0-based, is lost) for alerts made during the outage."""
    return _partial_expectation(window_s - POLICY_SPAN_S - float(pacing_s(k + 1)[-1])) / window_s


def bus_outage_loss(window_s: float) -> float:
    """P(an alert made during a bus outage is dropped): its event reaches the bus in time."""
    return _partial_expectation(window_s) / window_s


def theory(pt: Point) -> dict[str, float]:
    """Closed forms of one configuration (missing where there is none)."""
    n, p, loss = pt.n_accounts, pt.p, pt.loss
    miss = dead_letter_probability(p, ATTEMPTS)  # p^A
    out: dict[str, float] = {"unrouted_fraction": 1.0 - DELETE_SHARE}
    if pt.study in ("emails", "loss"):
        out |= {
            "delivered_fraction": (1 - loss) * (1 - miss),
            "all_delivered_fraction": (1 - loss) * (1 - miss) ** n,
            "partial_fraction": (1 - loss) * (1 - (1 - miss) ** n - miss**n),
            "missed_per_million": (1 - (1 - loss) * (1 - miss)) * 1e6,
            "attempts_per_notification": (1 - loss) * mean_attempts(p, ATTEMPTS),
            "latency_mean_s": delay_mean_s(n, p),
            "latency_p50_s": delay_quantile_s(0.5, n, p),
            "latency_p90_s": delay_quantile_s(0.9, n, p),
            "latency_p99_s": delay_quantile_s(0.99, n, p),
            "first_account_latency_mean_s": delay_mean_s(1, p),
            "last_account_latency_mean_s": delay_mean_s(1, p) + float(pacing_s(n)[-1]),
            "last_minus_first_latency_mean_s": float(pacing_s(n)[-1]),
        }
    elif pt.study == "mail_outage":
        w = pt.outage_h * 3600.0
        first = n - MAIL_AFFECTED
        lost = [mail_outage_loss(w, k) for k in range(first, n)]
        out |= {
            "affected_delivered_fraction": 1 - sum(lost) / len(lost),
            "unaffected_delivered_fraction": 1.0,
            "delivered_fraction": 1 - sum(lost) / n,
            "all_delivered_fraction": 1 - lost[0],  # the earliest affected email decides
        }
    elif pt.study == "sns_outage":
        dropped = bus_outage_loss(pt.outage_h * 3600.0) if pt.outage == "bus" else 0.0
        out |= {"delivered_fraction": 1 - dropped, "all_delivered_fraction": 1 - dropped,
                "partial_fraction": 0.0}  # fmt: skip
    return out


# --------------------------------------------------------------------------- running


def _m(d: dict[str, Any], name: str) -> float:
    v = d.get(name)
    return math.nan if v is None else float(v)


def _mean_over(r: RunResult, sinks: Sequence[str], name: str) -> float:
    vals = [_m(r.sinks.get(s, {}), name) for s in sinks]
    vals = [v for v in vals if not math.isnan(v)]
    return math.fsum(vals) / len(vals) if vals else math.nan


def _fraction(r: RunResult, sinks: Sequence[str]) -> float:
    exp = sum(_m(r.sinks.get(s, {}), "deliveries_expected") for s in sinks)
    got = sum(_m(r.sinks.get(s, {}), "delivered") for s in sinks)
    return got / exp if exp else math.nan


def measure(pt: Point, r: RunResult) -> dict[str, float]:
    """The reported quantities of one replication (in its worker).

    Raises:
        RuntimeError: a notification is still in flight at the end of the run.
    """
    if r.metrics["in_flight"]:
        raise RuntimeError(f"{pt.name} rep {r.rep}: notifications still in flight")
    m = r.metrics
    produced, unrouted = _m(m, "messages_produced"), _m(m, "messages_unrouted")
    expected = _m(m, "deliveries_expected")
    first, last = account(1), account(pt.n_accounts)
    out = {
        "api_calls": produced,
        "alerts": produced - unrouted,
        "unrouted_fraction": unrouted / produced if produced else math.nan,
        "deliveries_expected": expected,
        "delivered_fraction": _m(m, "delivered_fraction"),
        "all_delivered_fraction": _m(m, "all_delivered_fraction"),
        "partial_fraction": _m(m, "partial_fraction"),
        "missed_per_million": (1.0 - _m(m, "delivered_fraction")) * 1e6,
        "attempts_per_notification": _m(m, "attempts") / expected if expected else math.nan,
        "latency_mean_s": _m(m, "latency_mean_s"),
        "latency_p50_s": _m(m, "latency_p50_s"),
        "latency_p90_s": _m(m, "latency_p90_s"),
        "latency_p99_s": _m(m, "latency_p99_s"),
        "latency_max_s": _m(m, "latency_max_s"),
        "first_account_latency_mean_s": _m(r.sinks.get(first, {}), "latency_mean_s"),
        "last_account_latency_mean_s": _m(r.sinks.get(last, {}), "latency_mean_s"),
    }
    out["last_minus_first_latency_mean_s"] = (
        out["last_account_latency_mean_s"] - out["first_account_latency_mean_s"]
    )
    if pt.outage == "mail":
        hit = pt.affected
        rest = [account(k) for k in range(1, pt.n_accounts + 1) if account(k) not in hit]
        out |= {
            "affected_delivered_fraction": _fraction(r, hit),
            "unaffected_delivered_fraction": _fraction(r, rest),
            # the affected inboxes see nearly the same delays (their emails are ≤ 9 s apart)
            "affected_latency_p50_s": _mean_over(r, hit, "latency_p50_s"),
            "affected_latency_p99_s": _mean_over(r, hit, "latency_p99_s"),
            "affected_latency_max_s": _mean_over(r, hit, "latency_max_s"),
            "unaffected_latency_p50_s": _mean_over(r, rest, "latency_p50_s"),
        }
    out |= {"lost": _m(m, "lost"), "in_flight": _m(m, "in_flight")}
    return out


KEYS = ("study", "n_accounts", "email_failure_p", "cloudtrail_loss", "outage", "outage_h")


def _keys(p: Point) -> dict[str, Any]:
    return dict(zip(KEYS, (p.study, p.n_accounts, p.p, p.loss, p.outage, p.outage_h),
                    strict=True))  # fmt: skip


def designs(o: Options) -> list[Design[Point]]:
    """The four studies, one design each, all in ``audit_alerts.csv`` with their closed forms."""
    grid = QUICK if o.quick else FULL

    def design(name: str, points: list[Point], replications: int) -> Design[Point]:
        return Design(name, points, lambda p: p.scenario(grid, o.seed), measure, replications,
                      "audit_alerts", _keys, closed_forms=theory)  # fmt: skip

    return [
        design("emails", email_points(grid), grid.replications),
        design("loss", loss_points(grid), grid.replications),
        design("mail_outage", mail_points(grid), grid.mail_replications),
        design("sns_outage", sns_points(), grid.sns_replications),
    ]



def delay_samples(grid: Grid, seed: int) -> pd.DataFrame:
    """Replication 0 of the emails study at p = 10%, raw delays: quantiles vs the closed form."""
    rows: list[dict[str, Any]] = []
    for n in grid.cdf_accounts:
        pt = Point("emails", n, CDF_P, 0.0)
        model = build(pt.scenario(grid, seed), 0, seed, keep_samples=True)
        res = model.run()
        xs = np.sort(np.concatenate([
            np.asarray(model.ledger.sinks[account(k)].samples or [], float)
            for k in range(1, n + 1)]))  # fmt: skip
        alerts = int(res.metrics["messages_produced"] - res.metrics["messages_unrouted"])
        for q in CDF_PROBS:
            rows.append({"n_accounts": n, "email_failure_p": CDF_P, "rep": 0, "alerts": alerts,
                         "samples": len(xs), "prob": q,
                         "delay_s": (x := float(np.quantile(xs, q, method="inverted_cdf"))),
                         "theory_s": delay_quantile_s(q, n, CDF_P),
                         "theory_prob": delay_cdf(x, n, CDF_P), "seed": seed})  # fmt: skip
    return pd.DataFrame(rows)


def delay_table(o: Options, designs: Sequence[Design[Any]], run: Run) -> dict[str, pd.DataFrame]:
    """The extra table ``delay_cdf``: :func:`delay_samples` of the invocation's grid."""
    return {"delay_cdf": delay_samples(QUICK if o.quick else FULL, o.seed)}



# --------------------------------------------------------------------------- charts

P_COLORS = {0.0: "tab:green", 0.01: "tab:blue", 0.1: "tab:orange", 0.5: "tab:red",
            0.9: "tab:purple"}  # fmt: skip
LOSS_COLORS = {0.0: "tab:blue", 0.001: "tab:orange", 0.01: "tab:red"}
SETUP = (f"DeleteTable calls at 1 per hour (1 in 4 DynamoDB management calls); CloudTrail "
         f"delay lognormal median {CT_MEDIAN_S:g} s, σ {CT_SIGMA:g}; SNS email "
         f"{EMAIL_RATE_PER_S:g}/s, {ATTEMPTS} attempts over {POLICY_SPAN_S / 3600:.2f} h")


def _row(df: pd.DataFrame, metric: str, **eq: object) -> pd.Series:
    sel = _select(df, metric, **eq)
    if sel.empty:
        raise KeyError(f"no row {metric} {eq}")
    return sel.iloc[0]


def _scaled(df: pd.DataFrame, scale: float) -> pd.DataFrame:
    for col in ("mean", "ci_low", "ci_high", "theory"):
        df[col] = df[col] * scale
    return df


def _p_label(p: float) -> str:
    return f"p = {p:.0%}" if p else "p = 0"


def _log_n_axis(ax: Any, ns: Sequence[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(list(ns), [str(n) for n in ns])
    ax.minorticks_off()
    ax.set_xlabel("N, accounts notified per alert (log scale)")


def chart_delivery(df: pd.DataFrame, out: Path, reps: int) -> None:
    """Alerts reaching every account vs N (per p, per loss) and email attempts per notification."""
    em, lo = df[df["study"] == "emails"], df[df["study"] == "loss"]
    ns = sorted(int(n) for n in em["n_accounts"].unique())
    ps = sorted(float(p) for p in em["email_failure_p"].unique())
    grid_n = np.geomspace(min(ns), max(ns), 60)
    fig, (a, b, c) = new_panels(1, 3, 16.0, 5.4)
    labels = {p: _p_label(p) for p in ps}
    sel = _select(em, "all_delivered_fraction")
    for i, p in enumerate(ps):  # side by side: the lines of p ≤ 50% coincide at 1
        shift = {n: n * 1.05 ** (i - (len(ps) - 1) / 2) for n in ns}
        ci_lines(sel, a, "n_accounts", "email_failure_p", {p: labels[p]}, P_COLORS, shift)
    for p in ps:
        miss = dead_letter_probability(p, ATTEMPTS)
        a.plot(grid_n, (1 - miss) ** grid_n, ":", color=P_COLORS.get(p), linewidth=1.3)
    a.plot([], [], ":", color="0.3", label=f"closed form $(1-p^{{{ATTEMPTS}}})^N$")
    a.set_ylabel("alerts that reached every account (fraction)")
    a.set_ylim(-0.02, 1.05)
    a.set_title(f"(a) email failure p per attempt, no CloudTrail loss; {reps} replications\n"
                "of the same alerts for every N (points side by side)", fontsize=10)  # fmt: skip
    a.legend(fontsize=8, loc="lower left")
    losses = sorted(float(x) for x in lo["cloudtrail_loss"].unique())
    sel = pd.concat([_select(em, "all_delivered_fraction", email_failure_p=LOSS_P),
                     _select(lo, "all_delivered_fraction")])  # fmt: skip
    ci_lines(sel, b, "n_accounts", "cloudtrail_loss",
             {x: f"CloudTrail loss {x:.1%}" if x else "no CloudTrail loss" for x in [0.0, *losses]},
             LOSS_COLORS)  # fmt: skip
    for x in [0.0, *losses]:
        miss = dead_letter_probability(LOSS_P, ATTEMPTS)
        b.plot(grid_n, (1 - x) * (1 - miss) ** grid_n, ":", color=LOSS_COLORS.get(x), lw=1.3)
    b.plot([], [], ":", color="0.3", label=f"closed form $(1-loss)(1-p^{{{ATTEMPTS}}})^N$")
    b.set_ylabel("alerts that reached every account (fraction)")
    per = float(_select(lo, "deliveries_expected")["mean"].mean()) if not lo.empty else math.nan
    b.set_title(f"(b) CloudTrail loss, p = {LOSS_P:.0%}; loss 0: the runs of (a)\n"
                f"~{_num(per)} notifications per replication (more alerts at small N)",
                fontsize=10)  # fmt: skip
    b.legend(fontsize=8, loc="lower left")
    ci_lines(_select(em, "attempts_per_notification"), c, "n_accounts", "email_failure_p",
             labels, P_COLORS)  # fmt: skip
    for p in ps:
        c.axhline(mean_attempts(p, ATTEMPTS), linestyle=":", color=P_COLORS.get(p), lw=1.3)
    c.plot([], [], ":", color="0.3", label=r"closed form $(1-p^{A})/(1-p)$")
    c.set_yscale("log")
    c.set_ylabel("email attempts per notification (mean, log scale)")
    c.set_title("(c) SNS email attempts per notification", fontsize=10)
    c.legend(fontsize=8, loc="center right")
    for ax in (a, b, c):
        _log_n_axis(ax, ns)
    fig.suptitle("Audit alerts: CloudTrail DeleteTable → EventBridge → SNS email to N accounts; "
                 f"mean and 95% CI\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


QUANTILES = {"latency_mean_s": "mean", "latency_p50_s": "p50", "latency_p90_s": "p90",
             "latency_p99_s": "p99", "latency_max_s": "max"}  # fmt: skip
Q_COLORS = {"latency_mean_s": "tab:gray", "latency_p50_s": "tab:blue",
            "latency_p90_s": "tab:orange", "latency_p99_s": "tab:red",
            "latency_max_s": "black"}  # fmt: skip


def chart_delay(df: pd.DataFrame, out: Path, reps: int) -> None:
    """Delay quantiles vs N, p50/p99 vs p, and the pacing of the last account vs the first."""
    em = df[df["study"] == "emails"]
    ns = sorted(int(n) for n in em["n_accounts"].unique())
    ps = sorted(float(p) for p in em["email_failure_p"].unique())
    fig, (a, b, c) = new_panels(1, 3, 16.0, 5.4)
    sel = em[(em["email_failure_p"] == CDF_P) & em["metric"].isin(list(QUANTILES))]
    ci_lines(sel, a, "n_accounts", "metric", QUANTILES, Q_COLORS)
    for metric in QUANTILES:
        part = _select(sel, metric).sort_values("n_accounts")
        if part["theory"].notna().any():
            a.plot(part["n_accounts"], part["theory"], ":", color=Q_COLORS[metric], lw=1.3)
    a.plot([], [], ":", color="0.3", label="closed form (isolated alerts)")
    a.set_yscale("log")
    lo_y, hi_y = a.get_ylim()
    a.set_ylim(lo_y, hi_y * 6)
    a.set_ylabel("notification delay, API call → email accepted (s, log scale)")
    a.set_title(f"(a) delay per notification, p = {CDF_P:.0%}", fontsize=10)
    a.legend(fontsize=8, ncol=3, loc="upper center")
    _log_n_axis(a, ns)
    pos = {p: float(i) for i, p in enumerate(ps)}
    ends = (ns[0], ns[-1])
    for metric, ls in (("latency_p50_s", "-"), ("latency_p99_s", "--")):
        part = _select(em, metric)
        part = part[part["n_accounts"].isin(ends)]
        names = {n: f"{QUANTILES[metric]}, N = {n}" for n in ends}
        ci_lines(part, b, "email_failure_p", "n_accounts", names,
                 {ends[0]: "tab:blue", ends[-1]: "tab:red"}, pos, ls)  # fmt: skip
        for n in ends:
            th = part[part["n_accounts"] == n].sort_values("email_failure_p")
            b.plot([pos[p] for p in th["email_failure_p"]], th["theory"], ":",
                   color="tab:blue" if n == ends[0] else "tab:red", lw=1.3)  # fmt: skip
    b.plot([], [], ":", color="0.3", label="closed form")
    b.set_xticks(list(pos.values()), [f"{p:.0%}" for p in ps])
    b.set_xlabel("email failure probability p per attempt")
    b.set_yscale("log")
    b.set_ylabel("notification delay (s, log scale)")
    b.set_title("(b) retries: p50 and p99 of the delay", fontsize=10)
    b.legend(fontsize=8)
    sel = _select(em, "last_minus_first_latency_mean_s")
    ci_lines(sel, c, "n_accounts", "email_failure_p", {p: _p_label(p) for p in ps if p <= 0.1},
             P_COLORS)  # fmt: skip
    grid_n = np.arange(min(ns), max(ns) + 1)
    c.plot(grid_n, [float(pacing_s(int(n))[-1]) for n in grid_n], ":", color="0.3", lw=1.3,
           label="closed form (N − 1)/10")  # fmt: skip
    c.set_ylabel("mean delay of the last account − the first (s)")
    c.set_title("(c) the 10 emails/s quota: the N-th account waits", fontsize=10)
    c.set_xlabel("N, accounts notified per alert")
    c.legend(fontsize=8)
    fig.suptitle(f"Audit alerts: notification delay; mean and 95% CI of {reps} replications "
                 f"(per-run quantiles over all notifications of the run)\n{SETUP}", fontsize=10)
    save_png(fig, out)


def chart_cdf(cdf: pd.DataFrame, out: Path) -> None:
    """The delay distribution of replication 0, one panel per N, against the closed form."""
    groups = list(cdf.groupby("n_accounts", sort=True))
    fig, axes = new_panels(1, len(groups), 5.2 * len(groups), 5.0)
    for ax, (n, g) in zip(axes, groups, strict=True):
        band = dkw_band(int(g["alerts"].min()))
        ax.fill_between(g["theory_s"], (g["prob"] - band).clip(0, 1),
                        (g["prob"] + band).clip(0, 1), color="tab:blue", alpha=0.15,
                        linewidth=0, label=f"95% DKW band (±{band:.3f})")  # fmt: skip
        ax.plot(g["theory_s"], g["prob"], "--", color="tab:blue", lw=1.3, label="closed form")
        ax.plot(g["delay_s"], g["prob"], "-", color="tab:red", lw=1.6,
                label=f"simulated: {int(g['alerts'].iloc[0])} alerts, "
                      f"{int(g['samples'].iloc[0]):,} emails")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("notification delay, API call → email accepted (s, log scale)")
        ax.set_ylabel("fraction of notifications delivered within the delay")
        ax.set_ylim(0, 1)
        ax.grid(color="0.88", linewidth=0.8)
        ax.legend(fontsize=8, loc="upper left")
        ax.set_title(f"N = {n} accounts", fontsize=10)
    fig.suptitle(f"Notification delay distribution, p = {CDF_P:.0%} per email attempt, "
                 "replication 0\nCloudTrail delay (shared by the N emails of an alert) + SNS "
                 f"pacing at {EMAIL_RATE_PER_S:g}/s + retries\nband: the alerts as independent "
                 "draws (Dvoretzky–Kiefer–Wolfowitz)", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_outages(df: pd.DataFrame, out: Path, mail_reps: int, sns_reps: int) -> None:
    """Mail provider outage (delivered share and delay vs W) and SNS / bus outages."""
    ml, sn = df[df["study"] == "mail_outage"], df[df["study"] == "sns_outage"]
    fig, axes = new_panels(2, 2, 14.0, 10.0)
    a, b, c, d = axes
    sel = _select(ml, "affected_delivered_fraction")
    ci_lines(sel.assign(series="sim"), a, "outage_h", "series",
             {"sim": "simulated (accounts on the failing provider)"}, {"sim": "tab:blue"},
             linestyle="none")  # fmt: skip
    ws = np.linspace(0.25, max(14.0, float(sel["outage_h"].max()) + 1), 200)
    k0 = MAIL_ACCOUNTS - MAIL_AFFECTED
    th = [1 - np.mean([mail_outage_loss(w * 3600, k) for k in (k0, MAIL_ACCOUNTS - 1)])
          for w in ws]  # fmt: skip
    a.plot(ws, th, ":", color="0.3", lw=1.3, label="closed form 1 − E[(W − T − D)⁺]/W")
    a.axvline(POLICY_SPAN_S / 3600, color="tab:red", lw=1, ls="--",
              label=f"T = {POLICY_SPAN_S / 3600:.2f} h: the last of {ATTEMPTS} email attempts")
    a.set_xlabel("W, mail provider outage (h)")
    a.set_ylabel("notifications delivered to the affected accounts\n(fraction, alerts made "
                 "during the outage)")  # fmt: skip
    a.set_ylim(0, 1.05)
    a.legend(fontsize=8, loc="lower left")
    a.set_title(f"(a) {MAIL_AFFECTED} of {MAIL_ACCOUNTS} inboxes down for W hours", fontsize=10)
    lat = ml[ml["metric"].isin(["affected_latency_p50_s", "affected_latency_max_s",
                                "unaffected_latency_p50_s"])]  # fmt: skip
    lat = _scaled(lat, 1 / 3600)
    ci_lines(lat, b, "outage_h", "metric",
             {"affected_latency_p50_s": "affected accounts, p50",
              "affected_latency_max_s": "affected accounts, max",
              "unaffected_latency_p50_s": "other accounts, p50"},
             {"affected_latency_p50_s": "tab:blue", "affected_latency_max_s": "black",
              "unaffected_latency_p50_s": "tab:green"})  # fmt: skip
    b.plot(ws, np.minimum(ws, POLICY_SPAN_S / 3600) + 600 / 3600, ":", color="0.3", lw=1.3,
           label="bound: min(W, T) + 10 min (the last retry gap)")  # fmt: skip
    b.set_xlabel("W, mail provider outage (h)")
    b.set_ylabel("notification delay of the delivered (h)")
    b.legend(fontsize=8, loc="upper left")
    b.set_title("(b) delay: delivered at the first retry after the outage", fontsize=10)
    cases = {"none": "nothing down", "topic": "SNS topic down\n(EventBridge retries)",
             "bus": "event bus down\n(CloudTrail drops)"}  # fmt: skip
    frac = sn[sn["metric"].isin(["delivered_fraction"])]
    ci_bars(frac, c, "outage", "metric", cases, {"delivered_fraction": "simulated"},
            {"delivered_fraction": "tab:blue"})  # fmt: skip
    xs = list(range(len(cases)))
    c.plot(xs, [float(frac.loc[frac["outage"] == k, "theory"].iloc[0]) for k in cases], "D",
           color="tab:red", label="closed form")  # fmt: skip
    c.set_ylabel("notifications delivered (fraction)")
    c.set_ylim(0, 1.08)
    c.legend(fontsize=8)
    c.set_title(f"(c) a {SNS_OUTAGE_S / 60:g}-minute outage from t = 0, alerts made during it, "
                f"N = {SNS_ACCOUNTS}", fontsize=10)  # fmt: skip
    qs = {"latency_p50_s": "p50", "latency_p99_s": "p99", "latency_max_s": "max"}
    ci_bars(sn[sn["metric"].isin(list(qs))], d, "outage", "metric", cases, qs,
            {"latency_p50_s": "tab:blue", "latency_p99_s": "tab:red",
             "latency_max_s": "0.3"})  # fmt: skip
    d.axhline(SNS_OUTAGE_S, color="tab:red", lw=1, ls="--", label="end of the outage")
    d.set_yscale("log")
    d.set_ylabel("notification delay of the delivered (s, log scale)")
    d.legend(fontsize=8)
    d.set_title("(d) delay of what is delivered", fontsize=10)
    fig.suptitle(f"Audit alerts under outages (alerts at 12 per hour while it lasts, p = 0); "
                 f"mean and 95% CI of {mail_reps} (mail) and {sns_reps} (SNS, bus) "
                 f"replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


# --------------------------------------------------------------------------- findings


FRACTIONS = ("delivered_fraction", "all_delivered_fraction", "partial_fraction",
             "affected_delivered_fraction")  # fmt: skip


def theory_checks(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of fractions with a closed form, each with a ``verdict``.

    ``inside``: the closed form is inside the 95% CI; ``no event``: every replication saw the
    same extreme value (a CI of zero width) and the closed form expects at most 3 of the other
    outcome in all replications together; ``miss`` otherwise. The count behind a fraction is
    the notifications where accounts miss alerts independently (``delivered_fraction`` of the
    emails study) and the alerts elsewhere (a CloudTrail loss or an outage hits whole alerts).
    """
    rows = df[df["metric"].isin(FRACTIONS) & df["theory"].notna()].copy()
    idx = list(KEYS)
    alerts = _select(df, "alerts").set_index(idx)
    pairs = _select(df, "deliveries_expected").set_index(idx)
    pooled = []
    for key, metric in zip(rows[idx].itertuples(index=False, name=None), rows["metric"],
                           strict=True):  # fmt: skip
        per_pair = metric == "delivered_fraction" and key[0] == "emails"
        src = pairs if per_pair else alerts
        pooled.append(float(src.loc[key, "mean"] * src.loc[key, "n"]))
    th = rows["theory"]
    rare = th.where(rows["metric"] == "partial_fraction", 1.0 - th) * pooled
    extreme = (rows["std"] == 0) & rows["mean"].isin([0.0, 1.0])
    inside = (rows["ci_low"] <= th) & (th <= rows["ci_high"])
    rows["verdict"] = "miss"
    rows.loc[extreme & (rare <= 3.0), "verdict"] = "no event"
    rows.loc[inside, "verdict"] = "inside"
    return rows


def _delay_checks(em: pd.DataFrame, metric: str) -> tuple[int, int]:
    sel = _select(em, metric)
    sel = sel[sel["theory"].notna() & sel["ci_low"].notna()]
    inside = (sel["ci_low"] <= sel["theory"]) & (sel["theory"] <= sel["ci_high"])
    return int(inside.sum()), len(sel)


def findings(df: pd.DataFrame, cdf: pd.DataFrame, out_name: str, quick: bool, seed: int) -> str:
    """The findings (markdown) for ``results/README.md``, computed from the CSV tables."""
    files = ", ".join(f"[`{f}`]({out_name}/{f})" for f in (
        "audit_alerts.csv", "delay_cdf.csv", "delivery.png", "delay.png", "delay_cdf.png",
        "outages.png"))  # fmt: skip
    em, lo = df[df["study"] == "emails"], df[df["study"] == "loss"]
    ml, sn = df[df["study"] == "mail_outage"], df[df["study"] == "sns_outage"]
    ns = sorted(int(n) for n in em["n_accounts"].unique())
    ps = sorted(float(p) for p in em["email_failure_p"].unique())
    n0, n1 = ns[0], ns[-1]
    reps = int(em["n"].max())
    alerts = _select(em, "alerts")
    per_rep = float(alerts["mean"].mean())
    loss_pairs = float(_select(lo, "deliveries_expected")["mean"].mean()) if not lo.empty else 0
    lines = [
        "# Audit alerts: CloudTrail DeleteTable → EventBridge → SNS email to every account "
        "(notified fraction, delay, outages)",
        "",
        f"Script `experiments/audit_alerts.py`{' (`--quick`)' if quick else ''}, root seed "
        f"{seed}, common random numbers; files: {files}.",
        "",
        "Setup (DESIGN A6): DynamoDB management calls (CreateTable, UpdateTable, DeleteTable, "
        "1:2:1) at 4 per hour go through CloudTrail (best effort, delay "
        f"lognormal median {CT_MEDIAN_S:g} s, σ {CT_SIGMA:g} — the simulator's unconfirmed "
        "default) to the default bus; the rule `{\"source\": [\"aws.dynamodb\"], \"detail-type\": "
        "[\"AWS API Call via CloudTrail\"], \"detail\": {\"eventSource\": "
        "[\"dynamodb.amazonaws.com\"], \"eventName\": [\"DeleteTable\"]}}` sends the one call "
        "in 4 that is a DeleteTable to an SNS topic (EventBridge retries 24 h / 185), which "
        f"emails N accounts at {EMAIL_RATE_PER_S:g} emails/s (0.1 s apart, no burst). Each "
        f"email attempt fails with probability p; SNS retries it for {POLICY_SPAN_S / 3600:.2f} "
        f"h ({ATTEMPTS} attempts: evsim makes the first attempt, then AWS's 2 + 10 + 38 "
        "retries). The delay runs from the API call to SNS's successful hand-over of the "
        "email (EventBridge, SNS and the mail servers add no latency of their own: AWS "
        f"publishes none). Emails study: {reps} replications of about {_num(per_rep)} alerts "
        f"each, the same alerts for every N and p; loss study: about {_num(loss_pairs)} "
        "notifications per replication (more alerts at small N, since a loss hits a whole "
        "alert).",
        "",
        "![alerts reaching every account](" + out_name + "/delivery.png)",
        "![notification delay](" + out_name + "/delay.png)",
        "![delay distribution](" + out_name + "/delay_cdf.png)",
        "![outages](" + out_name + "/outages.png)",
        "",
    ]
    # -- fractions
    at1 = {"n_accounts": n1}
    low_ps = [p for p in ps if p <= 0.5]
    worst_low = max((float(_select(em, m, email_failure_p=p)["mean"].min().__rsub__(1.0))
                     for p in low_ps for m in ("delivered_fraction", "all_delivered_fraction")),
                    default=math.nan)  # fmt: skip
    lines.append(
        f"- **Email failures up to p = {max(low_ps):.0%} per attempt never cost a "
        f"notification.** Every account got every alert in every configuration with p ≤ "
        f"{max(low_ps):.0%} (largest shortfall {_p(worst_low)}; closed form p^{ATTEMPTS} ≤ "
        f"{dead_letter_probability(max(low_ps), ATTEMPTS):.1e}): {ATTEMPTS} attempts over "
        f"{POLICY_SPAN_S / 3600:.1f} h absorb independent failures. They cost attempts "
        "instead (chart (c) of delivery.png): "
        + ", ".join(f"{_ci(_row(em, 'attempts_per_notification', email_failure_p=p, **at1))}"
                    f" per notification at p = {p:.0%} (closed form "
                    f"{mean_attempts(p, ATTEMPTS):.3g})" for p in ps if p > 0)
        + "."
    )
    if 0.9 in ps:
        d9 = {n: _row(em, "delivered_fraction", email_failure_p=0.9, n_accounts=n) for n in ns}
        a9 = {n: _row(em, "all_delivered_fraction", email_failure_p=0.9, n_accounts=n)
              for n in ns}  # fmt: skip
        med9 = _row(em, "latency_p50_s", email_failure_p=0.9, n_accounts=n1)
        p99_9 = _row(em, "latency_p99_s", email_failure_p=0.9, n_accounts=n1)
        miss51, miss50 = 0.9**ATTEMPTS, 0.9 ** (ATTEMPTS - 1)
        pairs = _row(em, "deliveries_expected", email_failure_p=0.9, n_accounts=n1)
        d = d9[n1]
        inside = [m for m in (miss51, miss50) if 1 - d["ci_high"] <= m <= 1 - d["ci_low"]]
        tell = ("; this run cannot tell the two apart" if len(inside) == 2
                else "" if inside == [miss51] else "; neither is inside the CI")  # fmt: skip
        lines.append(
            f"- **Where the email policy runs out: p = 90%.** At N = {n1} accounts missed "
            f"{_p(1 - d['mean'])} of {_num(pairs['mean'] * pairs['n'])} notifications (95% CI "
            f"{_p(1 - d['ci_high'])} – {_p(1 - d['ci_low'])}; closed form p^{ATTEMPTS} = "
            f"{_p(miss51)}; AWS's \"50 attempts\" read as 50 in all, first one included, would "
            f"give {_p(miss50)}{tell}). Misses are independent per account, so the chance that "
            "an alert reaches every account falls with N: "
            + ", ".join(f"N = {n}: {_pct(a9[n])} (closed form "
                        f"{_p(float(a9[n]['theory']))})" for n in ns)
            + f". The delay grows with the retries: median {_ci(med9, 's')}, p99 "
            f"{_ci(p99_9, 'h', 1 / 3600)} at N = {n1}."
        )
    if not lo.empty:
        losses = sorted(float(x) for x in lo["cloudtrail_loss"].unique())
        parts = []
        for x in losses:
            r = _row(lo, "all_delivered_fraction", cloudtrail_loss=x, n_accounts=n0)
            pr = _row(lo, "partial_fraction", cloudtrail_loss=x, n_accounts=n0)
            al = _row(lo, "alerts", cloudtrail_loss=x, n_accounts=n0)
            parts.append(f"loss {x:.1%}: {_pct(r)} of {_num(al['mean'] * al['n'])} alerts "
                         f"reached all {n0} accounts (closed form {_p(float(r['theory']))}), "
                         f"{_p(pr['mean'])} reached only some")  # fmt: skip
        big = _row(lo, "all_delivered_fraction", cloudtrail_loss=losses[-1], n_accounts=n1)
        big_al = _row(lo, "alerts", cloudtrail_loss=losses[-1], n_accounts=n1)
        lines.append(
            "- **CloudTrail's best-effort loss is the only steady loss, and it is all or "
            "nothing**: a lost event reaches no account, so the notified fraction and the "
            "fraction of alerts reaching every account are both 1 − loss, whatever N. "
            + "; ".join(parts)
            + f". At N = {n1} the same estimate rests on {_num(big_al['mean'] * big_al['n'])} "
            f"alerts: {_pct(big)} at loss {losses[-1]:.1%} (a loss rate this small needs "
            "thousands of alerts to measure; the simulator draws it per alert, so it does not "
            "depend on N)."
        )
    checks = theory_checks(df)
    misses = checks[checks["verdict"] == "miss"]
    miss_text = "; ".join(
        f"{r.study}, N = {r.n_accounts}, p = {r.email_failure_p:g}, loss = "
        f"{r.cloudtrail_loss:g}, {r.outage} {r.outage_h:g} h, {r.metric}: {r.mean:.4g} vs "
        f"{r.theory:.4g}" for r in misses.itertuples())
    lines.append(
        f"- **Against the closed forms**: of {len(checks)} fractions with a closed form, "
        f"{int((checks['verdict'] == 'inside').sum())} have it inside their 95% CI and "
        f"{int((checks['verdict'] == 'no event').sum())} saw no event at all where the closed "
        "form expects at most 3 in all replications together; "
        f"{len(misses)} miss" + (f" ({miss_text}); about 5% misses are expected by chance."
                                 if len(misses) else ".")
        + " The configurations are not independent checks: under common random numbers the "
        "studies share their alerts and every N shares its first accounts (the same inboxes, "
        "the same failure draws), so one unlucky stretch of acct001–acct050 moves the "
        "estimates at N = 50, 100, 250 and 500 together."
    )
    # -- delay
    cp = CDF_P if CDF_P in ps else ps[0]
    q = {(n, m): _row(em, m, email_failure_p=cp, n_accounts=n) for n in (n0, n1)
         for m in QUANTILES}  # fmt: skip
    lmf = _row(em, "last_minus_first_latency_mean_s", email_failure_p=ps[0], n_accounts=n1)
    mean_in, mean_all = _delay_checks(em, "latency_mean_s")
    p50_in, p50_all = _delay_checks(em, "latency_p50_s")
    p99_in, p99_all = _delay_checks(em, "latency_p99_s")
    lines.append(
        f"- **Delay grows with N through the email quota.** At p = {cp:.0%}: N = {n0}, "
        f"median {_ci(q[(n0, 'latency_p50_s')], 's')}, p90 {_ci(q[(n0, 'latency_p90_s')], 's')}, "
        f"p99 {_ci(q[(n0, 'latency_p99_s')], 's')}; N = {n1}, median "
        f"{_ci(q[(n1, 'latency_p50_s')], 's')} (closed form "
        f"{_num(float(q[(n1, 'latency_p50_s')]['theory']))} s), p90 "
        f"{_ci(q[(n1, 'latency_p90_s')], 's')}, p99 {_ci(q[(n1, 'latency_p99_s')], 's')} "
        f"(closed form {_num(float(q[(n1, 'latency_p99_s')]['theory']))} s), largest "
        f"{_ci(q[(n1, 'latency_max_s')], 's')}. With {_num(EMAIL_RATE_PER_S)} emails/s the "
        f"last of {n1} accounts always comes {float(pacing_s(n1)[-1]):g} s after the first: "
        f"measured {_ci(lmf, 's')} (p = {ps[0]:.0%}). The CloudTrail delay, shared by all "
        "emails of an alert, makes the tail: its assumed p99 alone is "
        f"{CT_MEDIAN_S * math.exp(2.3263 * CT_SIGMA):.0f} s. Closed forms inside the 95% CI: "
        f"mean {mean_in} of {mean_all}, median {p50_in} of {p50_all}, p99 {p99_in} of "
        f"{p99_all} configurations (a run's p99 rests on its few alerts with the longest "
        "CloudTrail delays; the closed forms ignore alerts that overlap in the quota)."
    )
    if not cdf.empty:
        gap = (cdf["theory_prob"] - cdf["prob"]).abs().groupby(cdf["n_accounts"]).max()
        n_alerts = int(cdf["alerts"].min())
        band = dkw_band(n_alerts)
        med = cdf[cdf["prob"] == 0.5].set_index("n_accounts")
        lines.append(
            f"- **Distribution** (delay_cdf.png, replication 0, p = {CDF_P:.0%}, "
            f"{n_alerts} alerts): the simulated and closed-form CDFs differ by at most "
            + ", ".join(f"{gap[n]:.3f} (N = {n})" for n in gap.index)
            + f" in probability, inside the 95% Dvoretzky–Kiefer–Wolfowitz band ±{band:.3f} "
            f"for {n_alerts} independent alerts (the emails of one alert share its CloudTrail "
            "delay, so alerts, not emails, are the independent draws). Medians: "
            + ", ".join(f"N = {n}: {med.loc[n, 'delay_s']:.1f} s vs {med.loc[n, 'theory_s']:.1f} s"
                        for n in med.index)
            + "."
        )
    # -- outages
    if not ml.empty:
        ws = sorted(float(w) for w in ml["outage_h"].unique())
        parts = []
        for w in ws:
            f = _row(ml, "affected_delivered_fraction", outage_h=w)
            mx = _row(ml, "affected_latency_max_s", outage_h=w)
            parts.append(f"{w:g} h: {_pct(f)} delivered (closed form "
                         f"{_p(float(f['theory']))}), the latest after "
                         f"{_ci(mx, 'h', 1 / 3600)}")  # fmt: skip
        un = _row(ml, "unaffected_delivered_fraction", outage_h=ws[-1])
        lines.append(
            f"- **Mail provider outage** ({MAIL_AFFECTED} of {MAIL_ACCOUNTS} inboxes "
            f"unavailable for W hours, alerts made during it): " + "; ".join(parts)
            + f". SNS's last email attempt comes {POLICY_SPAN_S / 3600:.2f} h after the first: "
            "an outage shorter than that only delays the emails (each arrives at the first "
            "retry after the provider is back, at most 10 minutes late), a longer one loses "
            "every alert of its first W − 6.83 h, with no DLQ to replay from (SNS email "
            "subscriptions are discarded when the policy ends). The other accounts are not "
            f"affected ({_pct(un)} delivered)."
        )
    if not sn.empty:
        top = {m: _row(sn, m, outage="topic") for m in ("delivered_fraction", "latency_p50_s",
                                                         "latency_max_s")}  # fmt: skip
        base = _row(sn, "latency_max_s", outage="none")
        bus = _row(sn, "delivered_fraction", outage="bus")
        lines.append(
            f"- **SNS topic down {SNS_OUTAGE_S / 60:g} minutes** (N = {SNS_ACCOUNTS}, alerts "
            f"made during it): EventBridge's retries deliver {_pct(top['delivered_fraction'])} "
            f"of notifications (closed form 100%), late: median {_ci(top['latency_p50_s'], 's')}"
            f", largest {_ci(top['latency_max_s'], 's')} (without the outage the largest is "
            f"{_ci(base, 's')}). The retries back off to gaps of up to 10 minutes, and the "
            f"alerts that waited reach SNS together and queue behind the {EMAIL_RATE_PER_S:g} "
            f"emails/s quota. **The event bus down instead**: CloudTrail does not retry, so "
            f"only {_pct(bus)} of those notifications are delivered (closed form "
            f"{_p(float(bus['theory']))}: the alerts whose CloudTrail delay outlasted the "
            "outage)."
        )
    unr = _row(em, "unrouted_fraction", email_failure_p=ps[0], n_accounts=n0)
    flight = float(df.loc[df["metric"] == "in_flight", "mean"].max())
    lines.append(
        f"- Accounting: the rule matched only DeleteTable calls ({_pct(unr)} of API calls "
        f"unrouted, closed form {_p(1 - DELETE_SHARE)}); every notification was resolved by "
        f"the end of each run, {DRAIN_S / 3600:g} h after the last call (largest mean in "
        f"flight: {_num(flight)}). Assumptions: the CloudTrail delay distribution and loss "
        "rates are not documented by AWS; SNS applies the 10/s email quota per topic (AWS: "
        "per account — the same with one topic) and only to first attempts (retries do not "
        "wait for it); SNS's retry jitter, subscription confirmation, bounces and the time "
        "from the mail server to the inbox are not modelled."
    )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def report(rep: Report) -> str:
    """The four charts and the findings, from ``audit_alerts.csv`` and ``delay_cdf.csv``."""
    df, cdf, out = rep.tables["audit_alerts"], rep.tables["delay_cdf"], rep.out
    reps = {s: int(df.loc[df["study"] == s, "n"].max()) for s in df["study"].unique()}
    chart_delivery(df, out / "delivery.png", reps["emails"])
    chart_delay(df, out / "delay.png", reps["emails"])
    chart_cdf(cdf, out / "delay_cdf.png")
    chart_outages(df, out / "outages.png", reps["mail_outage"], reps["sns_outage"])
    return findings(df, cdf, out.name, rep.quick, rep.seed)


STUDY = Study(
    "audit_alerts",
    "CloudTrail DeleteTable → EventBridge → SNS email to N accounts (DESIGN A6); writes "
    "results/audit_alerts/.",
    DEFAULT_SEED,
    designs,
    report,
    extra_tables=delay_table,
    extra_table_names=("delay_cdf",),
    replications_help="replications per configuration (default: 5 sweeps / 6 mail outage "
    "/ 16 SNS outage, --quick 3 / 3 / 3)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
