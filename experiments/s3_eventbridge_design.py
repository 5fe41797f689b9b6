"""The S3 → EventBridge study's design: workload, rules, grids, scenarios, closed forms, measures.

The question and the method are stated in :mod:`experiments.s3_eventbridge`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from statistics import NormalDist
from typing import Any, NamedTuple

from sim.config import Scenario, scenario_from_dict

__all__ = [
    "BASE_S",
    "BUCKET",
    "BUS",
    "BUS_LATENCY",
    "CAP_S",
    "DEFAULT_SEED",
    "DLQ",
    "DRAIN_AFTER_OUTAGE_S",
    "DUP_EB",
    "DUP_S3",
    "EB_DUPLICATES_PER_PAIR",
    "EVENTBRIDGE",
    "FULL",
    "FUNCTION_MEDIAN_S",
    "HOUR",
    "KEYS",
    "KEY_COLS",
    "KIB",
    "LARGE_FROM_B",
    "LARGE_TO_B",
    "LEVEL",
    "MAX_AGE_S",
    "MAX_RETRIES",
    "MIB",
    "OUTAGE_RATE_PER_S",
    "OUTAGE_RULE",
    "OUTAGE_VARIANTS",
    "OUTAGE_WINDOW_S",
    "QUICK",
    "REPLAY_GUARD_S",
    "REPLAY_VARIANTS",
    "ROUTING_DRAIN_S",
    "ROUTING_RATE_PER_S",
    "ROUTING_VARIANTS",
    "RULES",
    "S3_DELAY",
    "SEP",
    "SINKS",
    "SIZE_MEDIAN_B",
    "SIZE_SIGMA",
    "STUDIES",
    "TABLE",
    "TENANTS",
    "TOPIC",
    "Case",
    "Grid",
    "Measures",
    "MeasuresByPoint",
    "Rule",
    "cases",
    "duplicates_per_upload",
    "matched_per_upload",
    "p_delivered_after_outage",
    "pattern",
    "retry_span_s",
    "rule_selectivity",
    "uploads",
]

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


#: The columns identifying a row of the tables (then ``metric``).
KEY_COLS = ("study", "variant", "outage_s", "sink")
#: Separates the sink from the metric in a replication's (flat) measures: ``sink/metric``.
SEP = "/"


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
