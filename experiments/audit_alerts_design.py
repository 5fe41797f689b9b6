"""The audit-alerts study's design: grids, points, scenarios, closed forms and per-run measures.

The question and the method are stated in :mod:`experiments.audit_alerts`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import ndtr

from sim.analysis.metrics import RunResult
from sim.analysis.theory import dead_letter_probability, mean_attempts
from sim.build import build
from sim.config import Scenario, scenario_from_dict
from sim.config.sns import default_delivery_policy
from sim.study import Design, Options, Run
from sim.study import run_metric as _m

DEFAULT_SEED = 20260606
LEVEL = 0.95

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
ATTEMPTS = EMAIL_POLICY.retries + 1  # 50: the first attempt and 49 retries (AWS's total)
POLICY_SPAN_S = EMAIL_POLICY.total_s()  # 24,566 s ≈ 6.82 h from the first to the last attempt
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


def accounts(n: int, first: int = 1) -> list[str]:
    """The inboxes of accounts ``first`` .. ``n`` (1-based, in subscription order)."""
    return [account(k) for k in range(first, n + 1)]


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
        return accounts(self.n_accounts, self.n_accounts - MAIL_AFFECTED + 1)

    def duration_s(self, grid: Grid) -> float:
        """How long API calls are made (seconds)."""
        alerts = {"emails": grid.alerts,
                  "loss": max(1.0, grid.loss_pairs / self.n_accounts)}.get(self.study)  # fmt: skip
        if alerts is None:  # the outage studies: calls while the outage lasts
            return self.outage_h * 3600.0
        return alerts / (API_PER_H * DELETE_SHARE) * 3600.0

    def scenario(self, grid: Grid, seed: int) -> Scenario:
        """The scenario of this point (the same component names in every variant)."""
        inboxes = accounts(self.n_accounts)
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
                       "subscriptions": [{"target": a} for a in inboxes]},
            **{a: {"type": "endpoint", "protocol": "email", "errors": {"rate": self.p}}
               for a in inboxes},
        }  # fmt: skip
        window = self.outage_h * 3600.0
        down = {"mail": self.affected, "topic": ["alerts"], "bus": ["default"]}.get(self.outage, [])
        outages = [{"component": c, "start_s": 0.0, "duration_s": window} for c in down]
        return scenario_from_dict({
            "name": self.name, "seed": seed, "duration_s": self.duration_s(grid),
            "drain_s": DRAIN_S, "components": comps, "outages": outages,
        })  # fmt: skip


def points(grid: Grid) -> dict[str, list[Point]]:
    """Study → its points in table order (the studies of :mod:`experiments.audit_alerts`)."""
    h = SNS_OUTAGE_S / 3600.0
    return {
        "emails": [Point("emails", n, p, 0.0) for p in grid.failure_ps for n in grid.accounts],
        "loss": [Point("loss", n, LOSS_P, x) for x in grid.losses for n in grid.accounts],
        "mail_outage": [Point("mail_outage", MAIL_ACCOUNTS, 0.0, 0.0, "mail", w)
                        for w in grid.mail_outage_h],
        "sns_outage": [Point("sns_outage", SNS_ACCOUNTS, 0.0, 0.0, o, h)
                       for o in ("none", "topic", "bus")],
    }  # fmt: skip


# --------------------------------------------------------------------------- theory

CT_MU = math.log(CT_MEDIAN_S)
CT_MEAN_S = math.exp(CT_MU + CT_SIGMA**2 / 2)


def pacing_s(n: int) -> np.ndarray:
    """When the email of each of ``n`` accounts starts after the topic fans out (seconds)."""
    waits: np.ndarray = np.maximum(0.0, (np.arange(n) - EMAIL_BURST + 1.0) / EMAIL_RATE_PER_S)
    return waits


def last_wait_s(n: int) -> float:
    """How long the last of ``n`` accounts waits for the email quota (seconds)."""
    return float(pacing_s(n)[-1])


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
    return _partial_expectation(window_s - POLICY_SPAN_S - last_wait_s(k + 1)) / window_s


def bus_outage_loss(window_s: float) -> float:
    """P(an alert made during a bus outage is dropped): its event reaches the bus in time."""
    return _partial_expectation(window_s) / window_s


def theory(pt: Point) -> dict[str, float]:
    """Closed forms of one configuration (missing where there is none)."""
    n, p, loss = pt.n_accounts, pt.p, pt.loss
    miss = dead_letter_probability(p, ATTEMPTS)  # p^A
    out: dict[str, float] = {"unrouted_fraction": 1.0 - DELETE_SHARE}
    if pt.study in ("emails", "loss"):
        one, wait = delay_mean_s(1, p), last_wait_s(n)
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
            "first_account_latency_mean_s": one,
            "last_account_latency_mean_s": one + wait,
            "last_minus_first_latency_mean_s": wait,
        }
    elif pt.study == "mail_outage":
        w = pt.outage_h * 3600.0
        lost = [mail_outage_loss(w, k) for k in range(n - MAIL_AFFECTED, n)]
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


# --------------------------------------------------------------------------- measures

#: The delay statistics of a run (all notifications), with their short names.
QUANTILES = {"latency_mean_s": "mean", "latency_p50_s": "p50", "latency_p90_s": "p90",
             "latency_p99_s": "p99", "latency_max_s": "max"}  # fmt: skip


def _sink(r: RunResult, sink: str, name: str) -> float:
    """Metric ``name`` of one sink of a run; NaN where it has none."""
    v = r.sinks.get(sink, {}).get(name)
    return math.nan if v is None else float(v)


def _mean_over(r: RunResult, sinks: Sequence[str], name: str) -> float:
    vals = [_sink(r, s, name) for s in sinks]
    vals = [v for v in vals if not math.isnan(v)]
    return math.fsum(vals) / len(vals) if vals else math.nan


def _fraction(r: RunResult, sinks: Sequence[str]) -> float:
    exp = sum(_sink(r, s, "deliveries_expected") for s in sinks)
    got = sum(_sink(r, s, "delivered") for s in sinks)
    return got / exp if exp else math.nan


def measure(pt: Point, r: RunResult) -> dict[str, float]:
    """The reported quantities of one replication (in its worker).

    Raises:
        RuntimeError: a notification is still in flight at the end of the run.
    """
    if r.metrics["in_flight"]:
        raise RuntimeError(f"{pt.name} rep {r.rep}: notifications still in flight")
    produced, unrouted = _m(r, "messages_produced"), _m(r, "messages_unrouted")
    expected = _m(r, "deliveries_expected")
    first = _sink(r, account(1), "latency_mean_s")
    last = _sink(r, account(pt.n_accounts), "latency_mean_s")
    out = {
        "api_calls": produced,
        "alerts": produced - unrouted,
        "unrouted_fraction": unrouted / produced if produced else math.nan,
        "deliveries_expected": expected,
        **{k: _m(r, k) for k in ("delivered_fraction", "all_delivered_fraction",
                                 "partial_fraction")},
        "missed_per_million": (1.0 - _m(r, "delivered_fraction")) * 1e6,
        "attempts_per_notification": _m(r, "attempts") / expected if expected else math.nan,
        **{k: _m(r, k) for k in QUANTILES},
        "first_account_latency_mean_s": first,
        "last_account_latency_mean_s": last,
        "last_minus_first_latency_mean_s": last - first,
    }  # fmt: skip
    if pt.outage == "mail":
        hit = pt.affected
        rest = [a for a in accounts(pt.n_accounts) if a not in hit]
        out |= {
            "affected_delivered_fraction": _fraction(r, hit),
            "unaffected_delivered_fraction": _fraction(r, rest),
            # the affected inboxes see nearly the same delays (their emails are ≤ 9 s apart)
            **{f"affected_{k}": _mean_over(r, hit, k)
               for k in ("latency_p50_s", "latency_p99_s", "latency_max_s")},
            "unaffected_latency_p50_s": _mean_over(r, rest, "latency_p50_s"),
        }  # fmt: skip
    out |= {"lost": _m(r, "lost"), "in_flight": _m(r, "in_flight")}
    return out


def delay_samples(grid: Grid, seed: int) -> pd.DataFrame:
    """Replication 0 of the emails study at p = 10%, raw delays: quantiles vs the closed form."""
    rows: list[dict[str, Any]] = []
    for n in grid.cdf_accounts:
        pt = Point("emails", n, CDF_P, 0.0)
        model = build(pt.scenario(grid, seed), 0, seed, keep_samples=True)
        res = model.run()
        xs = np.sort(np.concatenate([np.asarray(model.ledger.sinks[a].samples or [], float)
                                     for a in accounts(n)]))  # fmt: skip
        alerts = int(res.metrics["messages_produced"] - res.metrics["messages_unrouted"])
        for q in CDF_PROBS:
            rows.append({"n_accounts": n, "email_failure_p": CDF_P, "rep": 0, "alerts": alerts,
                         "samples": len(xs), "prob": q,
                         "delay_s": (x := float(np.quantile(xs, q, method="inverted_cdf"))),
                         "theory_s": delay_quantile_s(q, n, CDF_P),
                         "theory_prob": delay_cdf(x, n, CDF_P), "seed": seed})  # fmt: skip
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- designs

KEYS = ("study", "n_accounts", "email_failure_p", "cloudtrail_loss", "outage", "outage_h")


def _keys(p: Point) -> dict[str, Any]:
    return dict(zip(KEYS, (p.study, p.n_accounts, p.p, p.loss, p.outage, p.outage_h),
                    strict=True))  # fmt: skip


def grid_of(o: Options) -> Grid:
    """The grid of an invocation: :data:`QUICK` with ``--quick``, :data:`FULL` otherwise."""
    return QUICK if o.quick else FULL


def designs(o: Options) -> list[Design[Point]]:
    """The four studies, one design each, all in ``audit_alerts.csv`` with their closed forms."""
    grid = grid_of(o)
    reps = {"emails": grid.replications, "loss": grid.replications,
            "mail_outage": grid.mail_replications, "sns_outage": grid.sns_replications}
    return [Design(study, pts, lambda p: p.scenario(grid, o.seed), measure, reps[study],
                   "audit_alerts", _keys, closed_forms=theory)
            for study, pts in points(grid).items()]  # fmt: skip


def delay_table(o: Options, designs: Sequence[Design[Any]], run: Run) -> dict[str, pd.DataFrame]:
    """The extra table ``delay_cdf``: :func:`delay_samples` of the invocation's grid."""
    return {"delay_cdf": delay_samples(grid_of(o), o.seed)}
