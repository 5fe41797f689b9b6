"""The S3 → EventBridge study's design: workload, rules, grids, scenarios, closed forms, measures.

The question and the method are stated in :mod:`experiments.s3_eventbridge`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Mapping, Sequence
from statistics import NormalDist
from typing import Any, NamedTuple

from sim.analysis.metrics import RunResult
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options, summary_rows

DEFAULT_SEED = 20260605
TABLE = "s3_eventbridge"
LEVEL = 0.95

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


def columns(case: Case) -> dict[str, Any]:
    """The columns identifying a case in the tables (before ``sink``)."""
    return {"study": case.study, "variant": case.variant, "outage_s": case.outage_s}


def table_rows(case: Case, per_rep: Sequence[Measures], *, seed: int) -> list[dict[str, Any]]:
    """The summary rows of a case: one per sink and metric, with the closed form."""
    sinks = [by_sink(d) for d in per_rep]
    rows: list[dict[str, Any]] = []
    for sink, metrics in sinks[0].items():
        rows += summary_rows({**columns(case), "sink": sink}, [s[sink] for s in sinks],
                             level=LEVEL, theory={m: theory(case, sink, m) for m in metrics},
                             seed=seed)  # fmt: skip
    return rows


def designs(o: Options) -> list[Design[Case]]:
    """The three studies, one design each, all in ``s3_eventbridge.csv``."""
    grid = QUICK if o.quick else FULL
    reps = {"routing": grid.routing_reps, "outage": grid.outage_reps,
            "replay": grid.replay_reps}  # fmt: skip
    return [
        Design(study, points, lambda c: c.scenario(grid, o.seed), measure, reps[study], TABLE,
               columns, derive=derive_useful if study == "routing" else None,
               rows=functools.partial(table_rows, seed=o.seed))
        for study, points in cases(grid).items()
    ]  # fmt: skip
