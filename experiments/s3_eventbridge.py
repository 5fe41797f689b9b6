"""S3 uploads routed by EventBridge rules: selectivity, target outages, replay, vs S3 notifications.

DESIGN A5. Uploads are put into the S3 bucket ``media`` with EventBridge enabled; the bus
``default`` routes the ``Object Created`` events with four rules, each to its own SQS standard
queue drained by its own Lambda function (batch size 1):

================  ====================================================  ==========  ===========
rule              pattern on ``detail.object``                          queue       consumer
================  ====================================================  ==========  ===========
``images``        ``key`` prefix ``img/``                               thumbs-q    thumbnailer
``large-objects`` ``size`` numeric range [1 MiB, 100 MiB)                transcode-q transcoder
``enterprise``    ``metadata.tenant`` = ``enterprise``                  audit-q     auditor
``not-csv``       ``key`` anything-but suffix ``.csv``                  index-q     indexer
================  ====================================================  ==========  ===========

Workload (one Poisson producer; the three attributes are drawn independently per upload): the
key is ``img/{id}.jpg``, ``docs/{id}.pdf`` or ``raw/{id}.csv`` with probabilities 0.5, 0.3, 0.2;
the object size is lognormal with median 256 KiB and σ = 1.5; the metadata attribute ``tenant``
is ``free``, ``pro`` or ``enterprise`` with probabilities 0.6, 0.3, 0.1. Every rule's matched
fraction therefore has a closed form (the ``theory`` column): 0.5; Φ(ln(100 MiB/m)/σ) −
Φ(ln(1 MiB/m)/σ) ≈ 0.178; 0.1; 0.8; and an upload matches no rule with probability
0.2 · (1 − p_large) · 0.9.

Three studies, each with common random numbers (the same root seed and replication indices, so
every variant of a study sees the same uploads, key by key):

1. **Routing** (``study = routing``): the four rules (variant ``eventbridge``) against the
   direct-notification design (variant ``s3-sns-fanout``): S3 rejects overlapping notification
   filters for one event type, and size, metadata and anything-but cannot be expressed as a
   prefix/suffix filter at all, so four consumers that need overlapping subsets of the uploads
   get one unfiltered notification to an SNS topic with the four queues subscribed, and each
   consumer filters in code (it receives every upload). Measured: fraction of uploads each
   consumer receives (EventBridge: vs the closed forms), the useful fraction of what it receives
   (precision), invocations, duplicates, end-to-end latency, cost per million uploads.
2. **Outage** (``study = outage``): ``thumbs-q`` is ``unavailable`` from t = 0 for 10 min, 1 h,
   6 h, 22 h, 23 h, 25 h or 48 h while uploads arrive for the first 10 minutes; the rule's target
   has the default retry policy (24 h, 185 retries), without and with a target DLQ
   (``thumbs-dlq``). Measured: the thumbnailer's pairs delivered / dead-lettered / lost and the
   delay of the delivered ones. Closed form: retry i waits d_i/2 + U(0, d_i/2) with d_i =
   min(2^(i−1), 600) s, so the 185 retries span S with mean 0.75 Σ d_i ≈ 22.1 h and standard
   deviation √(Σ d_i²/48) ≈ 0.32 h (normal approximation; the 24 h maximum age never binds with
   these defaults); an upload arriving a seconds into an outage of D seconds is delivered iff
   S ≥ D − a, averaged over a uniform on the arrival window.
3. **Replay** (``study = replay``): the bus keeps an archive (every event, indefinitely); after
   outages of 6 h, 23 h and 48 h (no DLQ) a replay of the outage window [0, D) starts 10 minutes
   after the outage ends (AWS's advice for the archive lag). Variants: ``no-replay`` (and no
   archive), ``replay-all-rules`` (every rule takes replayed events) and
   ``replay-images-only`` (the three healthy rules carry ``"replay-name": [{"exists":
   false}]``). Measured: the lost pairs recovered, duplicates at targets that had processed the
   events already, events replayed and the cost of archive plus replay.

Assumptions (AWS publishes no distributions): S3's event delay lognormal, median 1 s, σ 1
(evsim's default, the same for notifications and for EventBridge); EventBridge bus latency
lognormal, median 40 ms, σ 0.5 (p90 ≈ 76 ms, close to the ~80 ms p90 an AWS blog reports);
consumers run lognormal median 100 ms, σ 0.5, 128 MB. In the routing study S3 duplicates an
event with probability 0.001 and EventBridge duplicates a target delivery with probability
0.001 (AWS: at-least-once, no rate published); the outage and replay studies have no
duplicates, so every duplicate there comes from the replay. EventBridge's retry backoff base
(1 s) and cap (600 s) are evsim's unconfirmed defaults.

Writes ``s3_eventbridge.csv`` (tidy: one row per configuration, sink and metric with n, mean,
std, the 95% t-interval over replications and the closed form where there is one),
``differences.csv`` (paired differences between variants), three PNG charts and ``findings.md``
into ``results/s3_eventbridge/``, then the results index. Same seed ⇒ the same files.

Usage, from the repository root: ``python -m experiments.s3_eventbridge [--quick] [--out DIR]
[--seed S] [--workers N] [--replications R] [--replot]`` (``--replot`` redraws charts and
findings from the CSVs).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from statistics import NormalDist
from typing import Any, NamedTuple

import pandas as pd
from scipy.stats import poisson

from sim.analysis.metrics import RunResult
from sim.analysis.plots import ci_bars, ci_lines, new_panels, save_png
from sim.config import Scenario, scenario_from_dict
from sim.study import (
    Design,
    Options,
    Report,
    Run,
    Study,
    difference_rows,
    mean_ci,
    percent_ci,
    run_study,
    summary_rows,
)
from sim.study import number as _num
from sim.study import percent as _p
from sim.study import select as _select
from sim.study import summary_row as _get

DEFAULT_SEED = 20260605
TABLE = "s3_eventbridge"
LEVEL = 0.95

# The findings' intervals: a NaN mean reads n/a, a metric equal in every replication reads as
# its mean alone.
_ci = functools.partial(mean_ci, constant="mean", nan_mean=True)
_pct = functools.partial(percent_ci, constant="mean", nan_mean=True)
HOUR = 3600.0
KIB, MIB = 1024, 1024 * 1024

BUCKET, BUS, TOPIC, DLQ = "media", "default", "uploads-topic", "thumbs-dlq"
#: (key prefix, suffix, probability) of an upload's key
KEYS = (("img/", ".jpg", 0.5), ("docs/", ".pdf", 0.3), ("raw/", ".csv", 0.2))
SIZE_MEDIAN_B = 256 * KIB
SIZE_SIGMA = 1.5
TENANTS = (("free", 0.6), ("pro", 0.3), ("enterprise", 0.1))
LARGE_FROM_B, LARGE_TO_B = 1 * MIB, 100 * MIB

S3_DELAY = {"lognormal": {"median": 1.0, "sigma": 1.0}}
BUS_LATENCY = {"lognormal": {"median": 0.04, "sigma": 0.5}}
FUNCTION_MEDIAN_S = 0.1
DUP_S3 = 0.001
DUP_EB = 0.001

ROUTING_RATE_PER_S = 5.0
OUTAGE_RATE_PER_S = 2.0
OUTAGE_WINDOW_S = 600.0  # uploads arrive during [0, 600 s); the outage starts at t = 0
REPLAY_GUARD_S = 600.0  # the replay starts 10 minutes after the outage ends
#: drain after the arrivals: the outage, then a full retry policy (24 h) and two spare hours
DRAIN_AFTER_OUTAGE_S = 26 * HOUR
ROUTING_DRAIN_S = 600.0

#: EventBridge's default target retry policy (aws-semantics.md §7.2; base and cap unconfirmed)
MAX_RETRIES, BASE_S, CAP_S, MAX_AGE_S = 185, 1.0, 600.0, 86_400.0


class Rule(NamedTuple):
    """One EventBridge rule with its queue and consumer (the rule's only target)."""

    name: str
    queue: str
    function: str
    object_filter: dict[str, Any]  # the pattern under ``detail.object``
    description: str


RULES = (
    Rule("images", "thumbs-q", "thumbnailer", {"key": [{"prefix": "img/"}]},
         "key prefix img/"),
    Rule("large-objects", "transcode-q", "transcoder",
         {"size": [{"numeric": [">=", LARGE_FROM_B, "<", LARGE_TO_B]}]},
         "size in [1 MiB, 100 MiB)"),
    Rule("enterprise", "audit-q", "auditor", {"metadata": {"tenant": ["enterprise"]}},
         "metadata tenant = enterprise"),
    Rule("not-csv", "index-q", "indexer", {"key": [{"anything-but": {"suffix": ".csv"}}]},
         "key anything-but suffix .csv"),
)  # fmt: skip
OUTAGE_RULE = RULES[0]
SINKS = tuple(r.function for r in RULES)

ROUTING_VARIANTS = ("eventbridge", "s3-sns-fanout")
OUTAGE_VARIANTS = ("no-dlq", "dlq")
REPLAY_VARIANTS = ("no-replay", "replay-all-rules", "replay-images-only")
STUDIES = ("routing", "outage", "replay")

#: A replication's measures: metric → value (as the library hands them back).
Measures = Mapping[str, float | None]
#: Every measured case's measures, one per replication.
MeasuresByPoint = Mapping[Hashable, Sequence[Measures]]


class Grid(NamedTuple):
    """The configurations and run lengths of one invocation of the script."""

    routing_s: float
    routing_reps: int
    outages_s: tuple[float, ...]
    outage_reps: int
    replay_outages_s: tuple[float, ...]
    replay_reps: int


FULL = Grid(1800.0, 10, (600.0, HOUR, 6 * HOUR, 22 * HOUR, 23 * HOUR, 25 * HOUR, 48 * HOUR), 10,
            (6 * HOUR, 23 * HOUR, 48 * HOUR), 5)  # fmt: skip
QUICK = Grid(600.0, 3, (600.0, 22 * HOUR, 48 * HOUR), 3, (6 * HOUR, 48 * HOUR), 2)


# --------------------------------------------------------------------------- theory

_NORMAL = NormalDist()


def rule_selectivity() -> dict[str, float]:
    """Closed-form probability that an upload matches each rule, and ``none`` (no rule)."""
    p_key = {prefix: p for prefix, _, p in KEYS}
    p_suffix = {suffix: p for _, suffix, p in KEYS}

    def size_below(b: float) -> float:
        # the size is rounded to whole bytes: round(S) < b  ⇔  S < b − 0.5
        return _NORMAL.cdf(math.log((b - 0.5) / SIZE_MEDIAN_B) / SIZE_SIGMA)

    p = {
        "images": p_key["img/"],
        "large-objects": size_below(LARGE_TO_B) - size_below(LARGE_FROM_B),
        "enterprise": dict(TENANTS)["enterprise"],
        "not-csv": 1.0 - p_suffix[".csv"],
    }
    # the key decides images and not-csv; size and tenant are independent of the key
    p["none"] = p_suffix[".csv"] * (1.0 - p["large-objects"]) * (1.0 - p["enterprise"])
    return p


def retry_span_s(
    max_retries: int = MAX_RETRIES, base_s: float = BASE_S, cap_s: float = CAP_S
) -> tuple[float, float]:
    """Mean and standard deviation (s) of the time from a target's first attempt to its last.

    Retry i waits d/2 + U(0, d/2) with d = min(base_s · 2^(i−1), cap_s): mean 0.75 d,
    variance d²/48.
    """
    ds = [min(base_s * 2.0 ** (i - 1), cap_s) for i in range(1, max_retries + 1)]
    return 0.75 * math.fsum(ds), math.sqrt(math.fsum(d * d / 48.0 for d in ds))


def p_delivered_after_outage(
    outage_s: float, window_s: float = OUTAGE_WINDOW_S, max_age_s: float = MAX_AGE_S
) -> float:
    """P(a pair to a target down during [0, outage_s) is delivered), arrivals uniform on the window.

    An event whose first attempt comes a seconds after the outage started is delivered iff its
    last attempt, at a + S (S the retry span, normal approximation of :func:`retry_span_s`) and
    no later than the maximum age, comes after the outage: P(S ≥ D − a) for D − a ≤ max age.
    Uses ∫Φ((μ − D + a)/σ) da = σ·G((μ − D + a)/σ) with G(x) = xΦ(x) + φ(x).
    """
    mean, sd = retry_span_s()
    affected = min(outage_s, window_s)  # arrivals after the outage are not affected

    def g(a: float) -> float:
        x = (mean - outage_s + a) / sd
        return x * _NORMAL.cdf(x) + _NORMAL.pdf(x)

    lo = max(0.0, outage_s - max_age_s)
    inside = sd * (g(affected) - g(lo)) if affected > lo else 0.0
    return (inside + (window_s - affected)) / window_s


def matched_per_upload() -> float:
    """Closed-form expected number of rules an upload matches (pairs per upload)."""
    p = rule_selectivity()
    return sum(p[r.name] for r in RULES)


#: Closed-form duplicates per (upload, consumer) pair with EventBridge: S3's and the bus's.
EB_DUPLICATES_PER_PAIR = (1 + DUP_S3) * (1 + DUP_EB) - 1


def duplicates_per_upload(variant: str) -> float:
    """Closed-form expected duplicates per upload in the routing study.

    EventBridge: S3 may send the event twice (0.001) and the bus may deliver each copy twice
    to a target (0.001): (1 + d_s3)(1 + d_eb) − 1 per matched pair. SNS fan-out: S3's extra
    copy reaches all four queues.
    """
    if variant == "eventbridge":
        return matched_per_upload() * EB_DUPLICATES_PER_PAIR
    return len(RULES) * DUP_S3


# --------------------------------------------------------------------------- scenarios


def _lognormal(median: float, sigma: float = 0.5) -> dict[str, Any]:
    return {"lognormal": {"median": median, "sigma": sigma}}


def pattern(rule: Rule, exclude_replays: bool = False) -> dict[str, Any]:
    """The rule's event pattern (S3 ``Object Created`` events of the bucket)."""
    p: dict[str, Any] = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [BUCKET]}, "object": rule.object_filter},
    }
    if exclude_replays:
        p["replay-name"] = [{"exists": False}]
    return p


def uploads(rate_per_s: float) -> dict[str, Any]:
    """The producer: keys by prefix, lognormal sizes and a tenant metadata attribute."""
    return {
        "type": "producer", "rate_per_s": rate_per_s, "send_to": [BUCKET],
        "attributes": {
            "key": {"choice": {"values": [f"{p}{{id}}{s}" for p, s, _ in KEYS],
                               "weights": [w for _, _, w in KEYS]}},
            "size_bytes": _lognormal(SIZE_MEDIAN_B, SIZE_SIGMA),
            "tenant": {"choice": {"values": [t for t, _ in TENANTS],
                                  "weights": [w for _, w in TENANTS]}},
        },
    }  # fmt: skip


class Case(NamedTuple):
    """One configuration: a study, a variant and (outage, replay) the outage length."""

    study: str
    variant: str
    outage_s: float = 0.0

    @property
    def name(self) -> str:
        """The variant's scenario name (unique per case)."""
        return f"{self.study} {self.variant} outage={self.outage_s:g}s"

    @property
    def dlq(self) -> bool:
        """The outage target has a DLQ."""
        return self.variant == "dlq"

    def components(self, rate_per_s: float) -> dict[str, Any]:
        """The components (the same names for the producer and the consumers in every case)."""
        comps: dict[str, Any] = {"uploads": uploads(rate_per_s)}
        for r in RULES:
            comps[r.queue] = {"type": "sqs_queue"}
            comps[r.function] = {
                "type": "lambda_function", "trigger": {"source": r.queue, "batch_size": 1},
                "duration_s": _lognormal(FUNCTION_MEDIAN_S), "memory_mb": 128,
            }  # fmt: skip
        dup = self.study == "routing"
        bucket: dict[str, Any] = {"type": "s3_bucket", "notification_delay_s": S3_DELAY,
                                  "duplicate_rate": DUP_S3 if dup else 0.0}  # fmt: skip
        comps[BUCKET] = bucket
        if self.variant == "s3-sns-fanout":
            bucket["notifications"] = [{"target": TOPIC, "events": ["s3:ObjectCreated:*"]}]
            comps[TOPIC] = {"type": "sns_topic",
                            "subscriptions": [{"target": r.queue} for r in RULES]}  # fmt: skip
            return comps
        bucket["eventbridge"] = BUS
        exclude = self.variant == "replay-images-only"
        rules = []
        for r in RULES:
            target: dict[str, Any] = {"target": r.queue}
            if r is OUTAGE_RULE and self.dlq:
                target["dead_letter"] = {"target": DLQ}
            rules.append({"name": r.name, "targets": [target],
                          "pattern": pattern(r, exclude and r is not OUTAGE_RULE)})  # fmt: skip
        bus: dict[str, Any] = {"type": "event_bus", "latency_s": BUS_LATENCY,
                               "duplicate_rate": DUP_EB if dup else 0.0, "rules": rules}
        if self.study == "replay" and self.variant != "no-replay":
            bus["archive"] = {}
            bus["replays"] = [{"name": "after-outage", "from_s": 0.0, "to_s": self.outage_s,
                               "at_s": self.outage_s + REPLAY_GUARD_S}]  # fmt: skip
        comps[BUS] = bus
        if self.dlq:
            comps[DLQ] = {"type": "sqs_queue"}
        return comps

    def scenario(self, grid: Grid, seed: int) -> Scenario:
        """The scenario of this case."""
        if self.study == "routing":
            duration, drain, rate = grid.routing_s, ROUTING_DRAIN_S, ROUTING_RATE_PER_S
            outages: list[dict[str, Any]] = []
        else:
            duration, rate = OUTAGE_WINDOW_S, OUTAGE_RATE_PER_S
            drain = self.outage_s + DRAIN_AFTER_OUTAGE_S
            outages = [{"component": OUTAGE_RULE.queue, "start_s": 0.0,
                        "duration_s": self.outage_s, "mode": "unavailable"}]  # fmt: skip
        return scenario_from_dict({
            "name": self.name, "seed": seed, "duration_s": duration, "drain_s": drain,
            "components": self.components(rate), "outages": outages,
        })  # fmt: skip


EVENTBRIDGE = Case("routing", "eventbridge")


def cases(grid: Grid) -> dict[str, list[Case]]:
    """Every study's cases, in order."""
    return {
        "routing": [Case("routing", v) for v in ROUTING_VARIANTS],
        "outage": [Case("outage", v, d) for d in grid.outages_s for v in OUTAGE_VARIANTS],
        "replay": [Case("replay", v, d) for d in grid.replay_outages_s for v in REPLAY_VARIANTS],
    }


# --------------------------------------------------------------------------- measures

#: The columns identifying a row of the tables (then ``metric``).
KEY_COLS = ("study", "variant", "outage_s", "sink")
#: Separates the sink from the metric in a replication's (flat) measures: ``sink/metric``.
SEP = "/"


def _v(d: Mapping[str, Any], name: str) -> float:
    v = d.get(name)
    return math.nan if v is None else float(v)


def _latency_h(d: Mapping[str, Any], name: str) -> float:
    return _v(d, name) / HOUR


def rep_metrics(case: Case, r: RunResult) -> dict[str, dict[str, float]]:
    """Per sink (``*`` for the whole run): the reported quantities of one replication."""
    m = r.metrics
    n = _v(m, "messages_produced")
    run = {
        "uploads": n,
        "deliveries_per_upload": _v(m, "deliveries_expected") / n,
        "duplicates_per_million_uploads": _v(m, "duplicates") / n * 1e6,
        "cost_per_million_usd": _v(m, "cost_per_million_usd"),
        "in_flight": _v(m, "in_flight"),
    }
    out: dict[str, dict[str, float]] = {"*": run}
    if case.study == "routing":
        run.update({
            "unrouted_fraction": _v(m, "messages_unrouted") / n,
            "invocations_per_upload": _v(m, "invocations") / n,
            "latency_p50_s": _v(m, "latency_p50_s"), "latency_p90_s": _v(m, "latency_p90_s"),
            "latency_p99_s": _v(m, "latency_p99_s"), "latency_max_s": _v(m, "latency_max_s"),
        })  # fmt: skip
        for sink in SINKS:
            s = r.sinks[sink]
            out[sink] = {
                "received_fraction": _v(s, "deliveries_expected") / n,
                "delivered_fraction": _v(s, "delivered_fraction"),
                "invocations_per_upload": _v(s, "invocations") / n,
                "duplicates_per_million_uploads": _v(s, "duplicates") / n * 1e6,
                "latency_p50_s": _v(s, "latency_p50_s"),
                "latency_p99_s": _v(s, "latency_p99_s"),
                "cost_per_million_uploads_usd": _v(s, "cost_usd") / n * 1e6,
            }
        return out
    s = r.sinks[OUTAGE_RULE.function]
    pairs = _v(s, "deliveries_expected")
    healthy = [r.sinks[k] for k in SINKS if k != OUTAGE_RULE.function]
    out[OUTAGE_RULE.function] = {
        "pairs": pairs,
        "delivered_fraction": _v(s, "delivered") / pairs,
        "dead_lettered_fraction": _v(s, "dead_lettered") / pairs,
        "lost_fraction": _v(s, "lost") / pairs,
        "latency_p50_h": _latency_h(s, "latency_p50_s"),
        "latency_p99_h": _latency_h(s, "latency_p99_s"),
        "latency_max_h": _latency_h(s, "latency_max_s"),
        "duplicates_per_upload": _v(s, "duplicates") / n,
    }
    run["healthy_delivered_fraction"] = sum(_v(h, "delivered") for h in healthy) / sum(
        _v(h, "deliveries_expected") for h in healthy
    )
    run["healthy_duplicates_per_upload"] = sum(_v(h, "duplicates") for h in healthy) / n
    run["events_replayed_per_upload"] = _v(m, "events_replayed") / n
    run["cost_usd"] = _v(m, "cost_usd")
    return out


def measure(case: Case, r: RunResult) -> dict[str, float]:
    """The measures of one replication (in its worker), flat: ``sink/metric`` → value.

    Raises:
        RuntimeError: pairs are still in flight at the end of the run (the drain is too short).
    """
    if r.metrics["in_flight"]:
        raise RuntimeError(f"{case.name} rep {r.rep}: pairs still in flight")
    return {f"{sink}{SEP}{metric}": v for sink, ms in rep_metrics(case, r).items()
            for metric, v in ms.items()}  # fmt: skip


def by_sink(measures: Measures) -> dict[str, dict[str, float]]:
    """A replication's flat measures (:func:`measure`) per sink: sink → metric → value."""
    out: dict[str, dict[str, float]] = {}
    for key, v in measures.items():
        sink, metric = key.split(SEP, 1)
        out.setdefault(sink, {})[metric] = math.nan if v is None else float(v)
    return out


def derive_useful(case: Case, measured: MeasuresByPoint) -> list[dict[str, float]]:
    """Routing: each consumer's useful fraction of what it receives (what its rule matches).

    Common random numbers: both routing variants see the same uploads, so what a consumer
    needs (what its rule matches under EventBridge) is known for the fan-out variant too.

    Raises:
        RuntimeError: the two variants saw different uploads.
    """
    out = []
    for d_eb, d in zip(measured[EVENTBRIDGE], measured[case], strict=True):
        if d_eb[f"*{SEP}uploads"] != d[f"*{SEP}uploads"]:
            raise RuntimeError("the routing variants saw different uploads")
        final = {k: math.nan if v is None else float(v) for k, v in d.items()}
        for sink in SINKS:
            final[f"{sink}{SEP}useful_fraction"] = (
                _v(d_eb, f"{sink}{SEP}received_fraction") / final[f"{sink}{SEP}received_fraction"]
            )
        out.append(final)
    return out


def theory(case: Case, sink: str, metric: str) -> float:
    """The closed form of ``metric`` at ``sink`` in ``case``, or NaN."""
    p = rule_selectivity()
    rule = {r.function: r for r in RULES}.get(sink)
    if case.study == "routing":
        eb = case.variant == "eventbridge"
        if sink == "*":
            return {
                "unrouted_fraction": p["none"] if eb else 0.0,
                "deliveries_per_upload": matched_per_upload() if eb else len(RULES),
                "duplicates_per_million_uploads": duplicates_per_upload(case.variant) * 1e6,
                "in_flight": 0.0,
            }.get(metric, math.nan)
        assert rule is not None
        per_pair = EB_DUPLICATES_PER_PAIR if eb else DUP_S3
        return {
            "received_fraction": p[rule.name] if eb else 1.0,
            "useful_fraction": 1.0 if eb else p[rule.name],
            "delivered_fraction": 1.0,
            "duplicates_per_million_uploads": (p[rule.name] if eb else 1.0) * per_pair * 1e6,
        }.get(metric, math.nan)
    p_del = p_delivered_after_outage(case.outage_s)
    replayed = case.study == "replay" and case.variant != "no-replay"
    if sink == "*":
        healthy = sum(p[r.name] for r in RULES if r is not OUTAGE_RULE)
        return {
            "healthy_delivered_fraction": 1.0,
            "healthy_duplicates_per_upload": healthy if case.variant == "replay-all-rules" else 0.0,
            "events_replayed_per_upload": 1.0 if replayed else 0.0,
            "in_flight": 0.0,
        }.get(metric, math.nan)
    if replayed:  # the replay re-delivers every pair of the window to the healthy target
        return {"delivered_fraction": 1.0, "lost_fraction": 0.0, "dead_lettered_fraction": 0.0,
                "duplicates_per_upload": p[OUTAGE_RULE.name] * p_del}.get(metric, math.nan)
    return {
        "delivered_fraction": p_del,
        "lost_fraction": 0.0 if case.dlq else 1.0 - p_del,
        "dead_lettered_fraction": 1.0 - p_del if case.dlq else 0.0,
        "duplicates_per_upload": 0.0,
    }.get(metric, math.nan)


def _columns(case: Case) -> dict[str, Any]:
    return {"study": case.study, "variant": case.variant, "outage_s": case.outage_s}


def table_rows(case: Case, per_rep: Sequence[Measures], *, seed: int) -> list[dict[str, Any]]:
    """The summary rows of a case: one per sink and metric, with the closed form."""
    sinks = [by_sink(d) for d in per_rep]
    rows: list[dict[str, Any]] = []
    for sink, metrics in sinks[0].items():
        rows += summary_rows({**_columns(case), "sink": sink}, [s[sink] for s in sinks],
                             level=LEVEL, theory={m: theory(case, sink, m) for m in metrics},
                             seed=seed)  # fmt: skip
    return rows


PerSink = dict[str, dict[str, float]]


def differences(o: Options, designs: Sequence[Design[Any]], run: Run) -> dict[str, pd.DataFrame]:
    """The paired differences between variants (``differences.csv``), with closed forms.

    Routing: the fan-out against EventBridge. Replay: each replay variant against no replay at
    the same outage, with two paired ratios besides the differences: the fraction of the lost
    pairs the replay recovered, and the replay's cost per million replayed events.
    """
    measures = {p: [by_sink(d) for d in ms] for p, ms in run.measures.items()}
    rows: list[dict[str, Any]] = []

    def paired(c: Case, base: Case, sink: str, metric: str, th: float = math.nan,
               fn: Callable[[PerSink, PerSink], float] | None = None) -> None:  # fmt: skip
        columns = {**_columns(c), "sink": sink}
        if fn is None:
            rows.extend({**row, "theory": th, "seed": o.seed} for row in difference_rows(
                columns, [b[sink] for b in measures[base]], [v[sink] for v in measures[c]],
                run.reps[c.study], [metric], level=LEVEL))  # fmt: skip
            return
        values = [{metric: fn(b, v)} for b, v in zip(measures[base], measures[c], strict=True)]
        rows.extend(summary_rows(columns, values, level=LEVEL, theory={metric: th},
                                 seed=o.seed))  # fmt: skip

    fan = Case("routing", "s3-sns-fanout")
    paired(fan, EVENTBRIDGE, "*", "invocations_per_upload", len(RULES) - matched_per_upload())
    for metric in ("latency_p50_s", "latency_p99_s", "cost_per_million_usd",
                   "duplicates_per_million_uploads"):
        paired(fan, EVENTBRIDGE, "*", metric)
    sink = OUTAGE_RULE.function
    for c in next(d for d in designs if d.name == "replay").points:
        if c.variant == "no-replay":
            continue
        base = c._replace(variant="no-replay")
        paired(c, base, sink, "delivered_fraction")
        paired(c, base, sink, "recovered_fraction_of_lost", 1.0, lambda b, o: (
            (o[sink]["delivered_fraction"] - b[sink]["delivered_fraction"])
            / b[sink]["lost_fraction"] if b[sink]["lost_fraction"] > 0 else math.nan))
        paired(c, base, "*", "cost_per_million_usd")
        paired(c, base, "*", "replay_cost_per_million_replayed_usd", fn=lambda b, o: (
            (o["*"]["cost_usd"] - b["*"]["cost_usd"])
            / (o["*"]["events_replayed_per_upload"] * o["*"]["uploads"]) * 1e6))
    return {"differences": pd.DataFrame(rows)}


def designs(o: Options) -> list[Design[Case]]:
    """The three studies, one design each, all in ``s3_eventbridge.csv``."""
    grid = QUICK if o.quick else FULL
    reps = {"routing": grid.routing_reps, "outage": grid.outage_reps,
            "replay": grid.replay_reps}  # fmt: skip
    return [
        Design(study, points, lambda c: c.scenario(grid, o.seed), measure, reps[study], TABLE,
               _columns, derive=derive_useful if study == "routing" else None,
               rows=functools.partial(table_rows, seed=o.seed))
        for study, points in cases(grid).items()
    ]  # fmt: skip


# --------------------------------------------------------------------------- charts

VARIANT_LABELS = {
    "eventbridge": "EventBridge: 4 rules, one per consumer",
    "s3-sns-fanout": "S3 notification → SNS → 4 queues, filters in code",
    "no-dlq": "target without DLQ",
    "dlq": "target with a DLQ",
    "no-replay": "no archive, no replay",
    "replay-all-rules": "replay to every rule",
    "replay-images-only": "replay; healthy rules exclude replays",
}
VARIANT_COLORS = {
    "eventbridge": "tab:blue", "s3-sns-fanout": "tab:orange", "no-replay": "tab:gray",
    "replay-all-rules": "tab:red", "replay-images-only": "tab:green",
}  # fmt: skip
SETUP = (f"uploads: key img/ 50%, docs/ 30%, raw/*.csv 20%; size lognormal median "
         f"{SIZE_MEDIAN_B // KIB} KiB, σ {SIZE_SIGMA:g}; tenant enterprise 10%;\nS3 event delay "
         "lognormal median 1 s (σ 1); bus latency median 40 ms; consumers SQS → Lambda, "
         "median 100 ms")  # fmt: skip


def _theory_marks(ax: Any, df: pd.DataFrame, category: str, categories: Sequence[Any],
                  series: Sequence[Any], series_col: str, width: float = 0.8,
                  label: str = "closed form") -> None:  # fmt: skip
    """A black diamond at each bar's closed form (bars laid out as ``plots.ci_bars``)."""
    bar = width / len(series)
    xs, ys = [], []
    for i, key in enumerate(series):
        for j, cat in enumerate(categories):
            sel = df[(df[series_col] == key) & (df[category] == cat)]
            if sel.empty or pd.isna(sel["theory"].iloc[0]):
                continue
            xs.append(j - width / 2 + bar * (i + 0.5))
            ys.append(float(sel["theory"].iloc[0]))
    if xs:
        ax.scatter(xs, ys, marker="D", color="black", s=22, zorder=5, label=label)


def chart_routing(df: pd.DataFrame, out: Path, reps: int) -> None:
    """Selectivity, latency, duplicates and cost: EventBridge rules vs S3 → SNS fan-out."""
    rt = df[df["study"] == "routing"]
    fig, axes = new_panels(2, 2, 14.0, 9.5)
    a, b, c, d = axes
    recv = _select(rt, "received_fraction")
    cats = {r.function: f"{r.function}\n" + r.description.replace(" ", "\n", 1) for r in RULES}
    labels = {v: VARIANT_LABELS[v] for v in ROUTING_VARIANTS}
    ci_bars(recv, a, "sink", "variant", cats, labels, VARIANT_COLORS)
    _theory_marks(a, recv, "sink", list(cats), list(labels), "variant")
    a.set_ylabel("fraction of uploads the consumer receives")
    a.set_ylim(0, 1.35)
    a.tick_params(axis="x", labelsize=8)
    a.legend(fontsize=8, loc="upper left", ncol=2)
    a.set_title("(a) what each consumer receives (EventBridge: the rule's selectivity)",
                fontsize=10)  # fmt: skip
    lat = rt[(rt["sink"] == "*") & rt["metric"].isin(
        ["latency_p50_s", "latency_p90_s", "latency_p99_s", "latency_max_s"])]
    ci_bars(lat, b, "metric", "variant",
            {"latency_p50_s": "p50", "latency_p90_s": "p90", "latency_p99_s": "p99",
             "latency_max_s": "max"}, labels, VARIANT_COLORS)  # fmt: skip
    b.set_yscale("log")
    b.set_ylabel("end-to-end latency over delivered pairs (s)")
    b.set_xlabel("percentile over all (upload, consumer) pairs of a replication")
    b.legend(fontsize=8, loc="upper left")
    b.set_title("(b) upload → processed by the consumer", fontsize=10)
    dup = _select(rt, "duplicates_per_million_uploads", sink="*")
    dup["cat"] = "all"
    ci_bars(dup, c, "variant", "cat", {v: VARIANT_LABELS[v].split(":")[0].split(" →")[0]
                                       for v in ROUTING_VARIANTS},
            {"all": "simulated (mean, 95% CI)"}, {"all": "tab:purple"})  # fmt: skip
    _theory_marks(c, dup, "variant", list(ROUTING_VARIANTS), ["all"], "cat")
    c.set_xticks(range(len(ROUTING_VARIANTS)), [VARIANT_LABELS[v] for v in ROUTING_VARIANTS],
                 fontsize=8)  # fmt: skip
    c.set_ylabel("duplicate processings per million uploads")
    c.legend(fontsize=8)
    c.set_title(f"(c) duplicates (assumed: S3 {DUP_S3:g}/event, EventBridge {DUP_EB:g}/delivery)",
                fontsize=10)  # fmt: skip
    cost = _select(rt, "cost_per_million_uploads_usd")
    ci_bars(cost, d, "sink", "variant", {r.function: r.function for r in RULES}, labels,
            VARIANT_COLORS)  # fmt: skip
    d.set_ylabel("consumer cost per million uploads (USD)\n(SQS requests + Lambda)")
    d.set_ylim(0, float(cost["ci_high"].max()) * 1.3)
    d.legend(fontsize=8, loc="upper left", ncol=2)
    d.set_title("(d) cost at each consumer (S3 PUTs and SNS publishes not included)",
                fontsize=10)  # fmt: skip
    fig.suptitle(f"S3 uploads to four consumers: EventBridge rules vs S3 notifications fanned out "
                 f"by SNS; mean and 95% CI of {reps} replications; diamonds: closed forms\n"
                 f"{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_outage(df: pd.DataFrame, out: Path, reps: int) -> None:
    """The outage target's pairs by fate, and their delay, against the outage length."""
    ou = df[(df["study"] == "outage") & (df["sink"] == OUTAGE_RULE.function)].copy()
    ou["outage_h"] = ou["outage_s"] / HOUR
    fig, (a, b) = new_panels(1, 2, 14.0, 5.6)
    mean, sd = retry_span_s()
    for ax in (a, b):
        ax.axvspan((mean - 2 * sd) / HOUR, (mean + 2 * sd) / HOUR, color="tab:red", alpha=0.12,
                   label="185 retries end (mean ± 2 sd)")  # fmt: skip
        ax.axvline(MAX_AGE_S / HOUR, color="black", linestyle="--", linewidth=1,
                   label="24 h maximum event age")  # fmt: skip
    series = (("delivered_fraction", "no-dlq", "delivered (with or without DLQ)", "tab:green",
               "o"), ("lost_fraction", "no-dlq", "lost (no DLQ)", "tab:red", "X"),
              ("dead_lettered_fraction", "dlq", "dead-lettered (with DLQ)", "tab:purple", "s"))
    for k, (metric, variant, label, color, marker) in enumerate(series):
        sel = _select(ou, metric, variant=variant)
        sel["s"] = metric
        nudge = {h: h * 1.08 ** (k - 1) for h in sel["outage_h"]}  # side by side on a log axis
        ci_lines(sel, a, "outage_h", "s", {metric: label}, {metric: color}, nudge, "none",
                 marker)  # fmt: skip
    xs = [10 ** (k / 50) for k in range(-50, 90)]
    a.plot(xs, [p_delivered_after_outage(x * HOUR) for x in xs], ":", color="black",
           label="delivered, closed form")  # fmt: skip
    a.set_xscale("log")
    a.set_xlabel("outage of thumbs-q (hours, log scale); uploads arrive in its first 10 min")
    a.set_ylabel("fraction of the thumbnailer's (upload, consumer) pairs")
    a.set_ylim(-0.03, 1.05)
    a.legend(fontsize=8, loc="center left", framealpha=0.95)
    a.set_title("(a) fate of the pairs sent to the target that is down", fontsize=10)
    for metric, label, color in (("latency_p50_h", "p50", "tab:blue"),
                                 ("latency_p99_h", "p99", "tab:orange"),
                                 ("latency_max_h", "max", "tab:gray")):  # fmt: skip
        sel = _select(ou, metric, variant="no-dlq").dropna(subset=["mean"])
        sel["s"] = metric
        ci_lines(sel, b, "outage_h", "s", {metric: f"delay, {label}"}, {metric: color},
                 linestyle="none")  # fmt: skip
    xs = [x for x in xs if x <= 30]
    b.plot(xs, xs, ":", color="black", label="delay = outage length")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("outage of thumbs-q (hours, log scale)")
    b.set_ylabel("upload → processed, delivered pairs (hours, log scale)")
    b.legend(fontsize=8, loc="upper left")
    b.set_title("(b) delay of what is delivered", fontsize=10)
    fig.suptitle(f"One EventBridge target (SQS queue) unavailable from t = 0; default retry "
                 f"policy (24 h, 185 retries, backoff 1 s doubling to 600 s with jitter); mean "
                 f"and 95% CI of {reps} replications\n{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


def chart_replay(df: pd.DataFrame, out: Path, reps: int) -> None:
    """Recovery, duplicates and cost of an archive replay after the outage."""
    rp = df[df["study"] == "replay"].copy()
    rp["outage_h"] = rp["outage_s"] / HOUR
    cats = {h: f"{h:g} h outage" for h in sorted(rp["outage_h"].unique())}
    labels = {v: VARIANT_LABELS[v] for v in REPLAY_VARIANTS}
    fig, (a, b, c) = new_panels(1, 3, 16.0, 6.0)
    sel = _select(rp, "delivered_fraction", sink=OUTAGE_RULE.function)
    ci_bars(sel, a, "outage_h", "variant", cats, labels, VARIANT_COLORS)
    _theory_marks(a, sel, "outage_h", list(cats), list(labels), "variant")
    a.set_ylabel("thumbnailer pairs delivered (fraction)")
    a.set_ylim(0, 1.1)
    a.set_title("(a) the target that was down", fontsize=10)
    dup = _select(rp, "healthy_duplicates_per_upload", sink="*")
    thumbs = _select(rp, "duplicates_per_upload", sink=OUTAGE_RULE.function)
    both = pd.concat([dup, thumbs])
    for col in ("mean", "ci_low", "ci_high", "theory"):
        both[col] = both[col] * 1000
    both["where"] = both["sink"].map({"*": "healthy", OUTAGE_RULE.function: "down"})
    both["cat"] = [f"{h:g} h\n{w}" for h, w in zip(both["outage_h"], both["where"], strict=True)]
    dcats = {f"{h:g} h\n{w}": f"{h:g} h:\n{w}" for h in cats for w in ("healthy", "down")}
    ci_bars(both, b, "cat", "variant", dcats, labels, VARIANT_COLORS)
    _theory_marks(b, both, "cat", list(dcats), list(labels), "variant")
    b.set_ylabel("duplicate processings per 1,000 uploads")
    b.tick_params(axis="x", labelsize=8)
    b.set_title("(b) duplicates: the 3 healthy consumers, the one down", fontsize=10)
    cost = _select(rp, "cost_per_million_usd", sink="*")
    ci_bars(cost, c, "outage_h", "variant", cats, labels, VARIANT_COLORS)
    c.set_ylabel("cost per million uploads (USD)")
    c.set_title("(c) cost: S3 PUTs, archive, replay, SQS, Lambda", fontsize=10)
    handles, names = a.get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=4, fontsize=9)
    fig.suptitle(f"Archive replay of the outage window, started 10 min after the outage ends (no "
                 f"DLQ); mean and 95% CI of {reps} replications; diamonds: closed forms\n"
                 f"{SETUP}", fontsize=10)  # fmt: skip
    save_png(fig, out)


# --------------------------------------------------------------------------- findings


def _mean(row: pd.Series | None) -> float | None:
    return None if row is None else float(row["mean"])


def binomial_checks(df: pd.DataFrame) -> pd.DataFrame:
    """EventBridge's matched and unrouted fractions, each with its pooled binomial z-score.

    The matched fraction of a rule, pooled over all uploads of all replications, is binomial:
    ``z = (mean − theory) / sqrt(theory (1 − theory) / uploads)``.
    """
    rt = df[(df["study"] == "routing") & (df["variant"] == "eventbridge")]
    uploads = _select(rt, "uploads", sink="*").set_index("variant")
    rows = rt[rt["metric"].isin(["received_fraction", "unrouted_fraction"])].copy()
    pooled = [float(uploads.loc[v, "mean"] * uploads.loc[v, "n"]) for v in rows["variant"]]
    rows["pooled_uploads"] = pooled
    se = (rows["theory"] * (1 - rows["theory"]) / rows["pooled_uploads"]) ** 0.5
    rows["z"] = (rows["mean"] - rows["theory"]) / se
    return rows


def findings(df: pd.DataFrame, diff: pd.DataFrame, out_name: str, quick: bool, seed: int) -> str:
    """The findings (markdown) for ``results/README.md``, computed from the two CSV tables."""
    files = ", ".join(f"[`{f}`]({out_name}/{f})" for f in (
        "s3_eventbridge.csv", "differences.csv", "routing.png", "outage.png", "replay.png"))
    rt, ou, rp = (df[df["study"] == s] for s in STUDIES)
    reps = {s: int(df.loc[df["study"] == s, "n"].max()) for s in STUDIES}
    up_rt = _get(rt, "uploads", sink="*", variant="eventbridge")
    up_ou = _get(ou, "uploads", sink="*")
    mean_s, sd_s = retry_span_s()
    lines = [
        "# S3 → EventBridge: rule selectivity, target outages vs the 24 h / 185-retry policy, "
        "archive replay, and direct S3 notifications",
        "",
        f"Script `experiments/s3_eventbridge.py`{' (`--quick`)' if quick else ''}, root seed "
        f"{seed}, common random numbers (every variant of a study sees the same uploads); "
        f"routing: {reps['routing']} replications of about {_num(_mean(up_rt))} uploads; outage "
        f"and replay: {reps['outage']} and {reps['replay']} replications of about "
        f"{_num(_mean(up_ou))} uploads in the "
        f"first 10 minutes of the outage; files: {files}.",
        "",
        f"Setup (DESIGN A5): {SETUP.replace(chr(10), ' ')}. Four rules on the bus, each to its "
        "own SQS queue and Lambda consumer: "
        + "; ".join(f"`{r.name}` ({r.description}) → {r.function}" for r in RULES) + ". "
        "Assumed where AWS publishes no number: the delays above, duplicate rates (routing "
        f"study only: S3 {DUP_S3:g} per event, EventBridge {DUP_EB:g} per target delivery), the "
        "retry backoff base 1 s and cap 600 s. Caveat: real S3 events carry no user metadata; "
        "evsim exposes it as `detail.object.metadata` so that a metadata rule can be studied "
        "(in AWS the consumer would have to read the object's metadata itself).",
        "",
        "![routing: selectivity, latency, duplicates, cost](" + out_name + "/routing.png)",
        "![outage of one target](" + out_name + "/outage.png)",
        "![archive replay after the outage](" + out_name + "/replay.png)",
        "",
    ]
    sel = {r.name: _get(rt, "received_fraction", variant="eventbridge", sink=r.function)
           for r in RULES}  # fmt: skip
    checks = binomial_checks(df)
    worst = float(checks["z"].abs().max())
    unrouted = _get(rt, "unrouted_fraction", variant="eventbridge", sink="*")
    lines.append(
        "- **Selectivity.** Fraction of uploads each rule sends to its consumer: "
        + "; ".join(f"`{r.name}` {_pct(got)}, closed form {_p(got['theory'])}"
                    for r in RULES if (got := sel[r.name]) is not None)
        + f"; no rule matches {_pct(unrouted)} (closed form "
        f"{_p(unrouted['theory']) if unrouted is not None else 'n/a'}). Every fraction pooled "
        f"over all uploads lies within {worst:.2f} binomial standard errors of its closed form "
        f"({len(checks)} fractions)."
    )
    fan = {r.name: _get(rt, "useful_fraction", variant="s3-sns-fanout", sink=r.function)
           for r in RULES}  # fmt: skip
    inv = {v: _get(rt, "invocations_per_upload", variant=v, sink="*") for v in ROUTING_VARIANTS}
    extra = _get(diff, "invocations_per_upload", study="routing")
    cost = {v: _get(rt, "cost_per_million_usd", variant=v, sink="*") for v in ROUTING_VARIANTS}
    dcost = _get(diff, "cost_per_million_usd", study="routing")
    lines.append(
        "- **Direct S3 notifications cannot do this routing.** S3 rejects overlapping "
        "prefix/suffix filters for one event type, and size, metadata and anything-but are not "
        "prefix/suffix filters at all, so the four consumers get one unfiltered notification "
        "fanned out by SNS and filter in code: each receives every upload, of which only "
        + ", ".join(f"{_p(useful['mean'])} ({r.function})" for r in RULES
                    if (useful := fan[r.name]) is not None)
        + f" is useful. Consumer invocations per upload: {_ci(inv['s3-sns-fanout'])} vs "
        f"{_ci(inv['eventbridge'])} with EventBridge (paired difference {_ci(extra)}, closed "
        f"form {_num(extra['theory']) if extra is not None else 'n/a'}). Cost per million "
        f"uploads: {_ci(cost['s3-sns-fanout'], 'USD')} vs {_ci(cost['eventbridge'], 'USD')} "
        f"(difference {_ci(dcost, 'USD')}; both include $5 of S3 PUTs; S3 events on the "
        "default bus are free, SNS bills $0.50 per million publishes; evsim bills the full "
        "handler time for an upload the code discards, an upper bound)."
    )
    lat = {(v, q): _get(rt, f"latency_{q}_s", variant=v, sink="*")
           for v in ROUTING_VARIANTS for q in ("p50", "p99")}  # fmt: skip
    dup = {v: _get(rt, "duplicates_per_million_uploads", variant=v, sink="*")
           for v in ROUTING_VARIANTS}  # fmt: skip
    dp50 = _get(diff, "latency_p50_s", study="routing")
    lines.append(
        f"- **Latency and duplicates.** End-to-end p50 {_ci(lat[('eventbridge', 'p50')], 's')} "
        f"with EventBridge vs {_ci(lat[('s3-sns-fanout', 'p50')], 's')} through SNS (paired "
        f"difference {_ci(dp50, 's')}), p99 {_ci(lat[('eventbridge', 'p99')], 's')} vs "
        f"{_ci(lat[('s3-sns-fanout', 'p99')], 's')}: S3's own event delay (assumed lognormal, "
        "median 1 s, p99 ≈ 10 s) dominates both, and the difference is the assumed bus latency "
        "(evsim adds no SNS delay to an S3 notification). Duplicates per million uploads: "
        f"{_ci(dup['eventbridge'])} (closed form {_num(dup['eventbridge']['theory'])}) vs "
        f"{_ci(dup['s3-sns-fanout'])} (closed form {_num(dup['s3-sns-fanout']['theory'])}): "
        "EventBridge adds its own at-least-once copies to S3's, but the fan-out multiplies each "
        f"S3 duplicate by the four queues. {_s3_duplicate_check(rt)} Consumers must be "
        "idempotent either way."
        if dup["eventbridge"] is not None and dup["s3-sns-fanout"] is not None else ""
    )
    fates = []
    for d in sorted(ou["outage_s"].unique()):
        delv = _get(ou, "delivered_fraction", variant="no-dlq", outage_s=d)
        lost = _get(ou, "lost_fraction", variant="no-dlq", outage_s=d)
        dlq = _get(ou, "dead_lettered_fraction", variant="dlq", outage_s=d)
        p50 = _get(ou, "latency_p50_h", variant="no-dlq", outage_s=d)
        p99 = _get(ou, "latency_p99_h", variant="no-dlq", outage_s=d)
        if delv is None or lost is None or dlq is None:
            continue
        text = (f"{_hours(d)}: delivered {_pct(delv)} (closed form {_p(delv['theory'])}), "
                f"without DLQ lost {_pct(lost)}, with DLQ dead-lettered {_pct(dlq)}")
        if p50 is not None and p99 is not None and not pd.isna(p50["mean"]):
            text += f", delay p50 {_hours(p50['mean'] * HOUR)} / p99 {_hours(p99['mean'] * HOUR)}"
        fates.append(text)
    lines.append(
        f"- **Target outage vs the retry policy.** With the default policy the 185 retries span "
        f"{mean_s / HOUR:.2f} h on average (sd {sd_s / HOUR:.2f} h), so they run out before "
        "the 24 h maximum event age: an event whose target stays down more than ≈ 22 h after its "
        "first attempt is dropped (or dead-lettered), and the 24 h limit never binds. Per outage "
        "length (the thumbnailer's pairs; uploads in the outage's first 10 minutes): "
        + "; ".join(fates) + ". A delivered pair waits for the outage to end plus up to one "
        "backoff interval (≤ 600 s once the backoff is capped, about 1.5 h in). The DLQ changes "
        "lost into dead-lettered and nothing else; the other three consumers get every upload "
        "whatever the outage."
    )
    rec = []
    for d in sorted(rp["outage_s"].unique()):
        base = _get(rp, "delivered_fraction", variant="no-replay", outage_s=d,
                    sink=OUTAGE_RULE.function)  # fmt: skip
        after = _get(rp, "delivered_fraction", variant="replay-all-rules", outage_s=d,
                     sink=OUTAGE_RULE.function)  # fmt: skip
        rcv = _get(diff, "recovered_fraction_of_lost", variant="replay-all-rules", outage_s=d)
        dup_all = _get(rp, "healthy_duplicates_per_upload", variant="replay-all-rules",
                       outage_s=d)  # fmt: skip
        dup_thumb = _get(rp, "duplicates_per_upload", variant="replay-images-only", outage_s=d,
                         sink=OUTAGE_RULE.function)  # fmt: skip
        dup_ex = _get(rp, "healthy_duplicates_per_upload", variant="replay-images-only",
                      outage_s=d)  # fmt: skip
        if base is None or after is None or dup_all is None or dup_thumb is None:
            continue
        recovered = (f"recovers {_pct(rcv)} of the lost pairs" if rcv is not None
                     and not pd.isna(rcv["mean"]) else "has nothing to recover")  # fmt: skip
        rec.append(
            f"{_hours(d)} outage: delivered {_pct(base)} without replay, {_pct(after)} with; "
            f"the replay {recovered}, and to every rule it makes "
            f"{_num(dup_all['mean'] * 1000)} duplicates per 1,000 uploads at the healthy "
            f"consumers (closed form {_num(dup_all['theory'] * 1000)}) — "
            f"{_num(dup_ex['mean'] * 1000) if dup_ex is not None else 'n/a'} when they exclude "
            f"replays — plus {_num(dup_thumb['mean'] * 1000)} per 1,000 at the thumbnailer for "
            "pairs it had already processed"
        )
    rcost = _get(diff, "replay_cost_per_million_replayed_usd", variant="replay-all-rules")
    rcost_ex = _get(diff, "replay_cost_per_million_replayed_usd", variant="replay-images-only")
    lines.append(
        "- **Archive replay after the outage** (window [0, outage end), started 10 minutes "
        "after it): " + "; ".join(rec) + ". Archive plus replay cost "
        f"{_ci(rcost, 'USD')} per million replayed events when every rule takes the replay "
        f"(EventBridge bills replayed events as custom events, $1 per million, and each "
        f"re-delivery costs SQS requests and an invocation), {_ci(rcost_ex, 'USD')} when the "
        "healthy rules exclude replays with `\"replay-name\": [{\"exists\": false}]`. A replay "
        "cannot tell delivered from lost events: exclude replays on the rules whose targets "
        "were healthy, and keep the target that was down idempotent."
    )
    flight = float(df.loc[df["metric"] == "in_flight", "mean"].max())
    lines.append(
        f"- Accounting: every pair is resolved by the end of each run (largest mean in flight: "
        f"{_num(flight)}; runs drain ≥ outage + 24 h). Not modelled: empty-receive charges of "
        "idle pollers, S3 storage, archive storage, the invocations quota (far from reached)."
    )
    return "\n".join(line for line in lines) + "\n"


def _s3_duplicate_check(rt: pd.DataFrame) -> str:
    """S3's duplicated events, pooled over the fan-out's replications, against a Poisson count.

    In the fan-out every S3 duplicate becomes one duplicate at each of the four consumers (no
    other source of duplicates there), so the pooled count of S3 duplicates is exact.
    """
    dup = _get(rt, "duplicates_per_million_uploads", variant="s3-sns-fanout", sink="*")
    up = _get(rt, "uploads", variant="s3-sns-fanout", sink="*")
    if dup is None or up is None:
        return ""
    total = float(up["mean"] * up["n"])
    events = round(float(dup["mean"]) * total / 1e6 / len(RULES))
    expected = total * DUP_S3
    p = min(1.0, 2 * min(float(poisson.cdf(events, expected)),
                         float(poisson.sf(events - 1, expected))))  # fmt: skip
    return (f"Pooled over the replications S3 duplicated {events} of {_num(total)} events "
            f"(expected {expected:.1f}; two-sided Poisson probability of a count at least this "
            f"far off: {p:.2g}); both variants share these S3 draws (common random numbers), "
            "so they sit on the same side of their closed forms.")


def _hours(seconds: float) -> str:
    h = seconds / HOUR
    if h < 1:
        return f"{seconds / 60:.3g} min"
    return f"{h:.3g} h"


# --------------------------------------------------------------------------- study


def report(rep: Report) -> str:
    """The three charts and the findings, from ``s3_eventbridge.csv`` and ``differences.csv``."""
    df, diff, out = rep.tables[TABLE], rep.tables["differences"], rep.out
    reps = {s: int(df.loc[df["study"] == s, "n"].max()) for s in STUDIES}
    chart_routing(df, out / "routing.png", reps["routing"])
    chart_outage(df, out / "outage.png", reps["outage"])
    chart_replay(df, out / "replay.png", reps["replay"])
    return findings(df, diff, out.name, rep.quick, rep.seed)


STUDY = Study(
    "s3_eventbridge",
    "S3 → EventBridge rules, target outages, archive replay and direct S3 notifications "
    "(DESIGN A5); writes results/s3_eventbridge/.",
    DEFAULT_SEED,
    designs,
    report,
    extra_tables=differences,
    extra_table_names=("differences",),
    quick_help="small grid, short runs (for tests)",
    replications_help="replications per configuration (default: routing 10, outage 10, "
    "replay 5; --quick 3, 3, 2)",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study (see the module docstring for the command line)."""
    return run_study(STUDY, argv)


if __name__ == "__main__":
    sys.exit(main())
