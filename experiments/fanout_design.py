"""The fan-out study's design: grids, points, scenarios, closed forms and per-run measures.

The question and the method are stated in :mod:`experiments.fanout`.
"""


from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

from sim.analysis.metrics import RunResult
from sim.analysis.theory import sdk_send_failure, sequential_fanout_all_delivered
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options, percent_ci
from sim.study import run_metric as _m

RATE_PER_S = 10.0
DRAIN_S = 60.0
SEND_MEDIAN_S = 0.015
PUBLISH_MEDIAN_S = 0.025
FUNCTION_MEDIAN_S = 0.05
SIGMA = 0.5
SEND_FAILURES = (0.001, 0.01, 0.05)
QUEUE_COUNTS = (2, 3, 5, 10)
MAX_ATTEMPTS = (1, 3)
OPTIONS = (1, 2)
OUTAGE_QUEUES = 5
OUTAGE_Q = 0.01
OUTAGE_ATTEMPTS = 3
OUTAGE_S = 300.0
HEADLINE_Q, HEADLINE_N = 0.01, 5

_pct = functools.partial(percent_ci, constant="every")  # "... in every replication" when all agree


class Grid(NamedTuple):
    """The configurations and run lengths of one invocation of the script."""

    send_failures: tuple[float, ...]
    queue_counts: tuple[int, ...]
    duration_s: float
    replications: int
    outage_positions: tuple[int, ...]  # option 1; option 2 takes the middle queue down
    outage_run_s: float
    outage_start_s: float
    outage_replications: int


FULL = Grid(SEND_FAILURES, QUEUE_COUNTS, 180.0, 10, (1, 3, 5), 600.0, 150.0, 4)
QUICK = Grid((0.01, 0.05), (2, 5), 120.0, 3, (3,), 480.0, 90.0, 2)


# --------------------------------------------------------------------------- scenarios


def _lognormal(median: float) -> dict[str, Any]:
    return {"lognormal": {"median": median, "sigma": SIGMA}}


class Point(NamedTuple):
    """One configuration; ``outage`` is the position (1..N) of the queue taken down, or 0."""

    study: str  # "sweep" or "outage"
    option: int
    n_queues: int
    q: float
    max_attempts: int
    outage: int = 0

    @property
    def name(self) -> str:
        """The variant's scenario name (unique per point)."""
        return (f"{self.study} option={self.option} N={self.n_queues} q={self.q:g} "
                f"m={self.max_attempts} outage={self.outage}")  # fmt: skip

    def scenario(self, duration_s: float, seed: int, outage_start_s: float) -> Scenario:
        """The scenario of this point (same producer and queue names in every variant)."""
        queues = [f"q{i + 1}" for i in range(self.n_queues)]
        comps: dict[str, Any] = {}
        for i, q in enumerate(queues):
            comps[q] = {"type": "sqs_queue", "errors": {"rate": self.q},
                        "latency_s": _lognormal(SEND_MEDIAN_S)}  # fmt: skip
            comps[f"f{i + 1}"] = {
                "type": "lambda_function", "trigger": {"source": q, "batch_size": 10},
                "duration_s": _lognormal(FUNCTION_MEDIAN_S),
            }  # fmt: skip
        retry = {"max_attempts": self.max_attempts}
        if self.option == 1:
            comps["app"] = {"type": "producer", "rate_per_s": RATE_PER_S, "send_to": queues,
                            "retry": retry}  # fmt: skip
        else:
            comps["app"] = {"type": "producer", "rate_per_s": RATE_PER_S, "send_to": ["topic"],
                            "retry": retry}  # fmt: skip
            comps["topic"] = {"type": "sns_topic", "errors": {"rate": self.q},
                              "latency_s": _lognormal(PUBLISH_MEDIAN_S),
                              "subscriptions": [{"target": q} for q in queues]}  # fmt: skip
        outages = (
            [{"component": f"q{self.outage}", "start_s": outage_start_s, "duration_s": OUTAGE_S}]
            if self.outage
            else []
        )
        return scenario_from_dict({
            "name": self.name, "seed": seed, "duration_s": duration_s, "drain_s": DRAIN_S,
            "components": comps, "outages": outages,
        })  # fmt: skip


def sweep_points(grid: Grid) -> list[Point]:
    """The sweep: option × q × N × max_attempts."""
    return [Point("sweep", o, n, q, m) for q in grid.send_failures for m in MAX_ATTEMPTS
            for n in grid.queue_counts for o in OPTIONS]  # fmt: skip


def outage_points(grid: Grid) -> list[Point]:
    """The outage study: option 1 with each queue position down, option 2 with the middle."""
    middle = (OUTAGE_QUEUES + 1) // 2
    pts = [Point("outage", 1, OUTAGE_QUEUES, OUTAGE_Q, OUTAGE_ATTEMPTS, k)
           for k in grid.outage_positions]  # fmt: skip
    return [*pts, Point("outage", 2, OUTAGE_QUEUES, OUTAGE_Q, OUTAGE_ATTEMPTS, middle)]


# --------------------------------------------------------------------------- theory


def theory(option: int, q: float, n: int, m: int) -> dict[str, float]:
    """Closed forms (DESIGN §7) of the delivered fractions of one configuration."""
    qm = sdk_send_failure(q, m)
    if option == 1:
        all_ = sequential_fanout_all_delivered(qm, n)
        partial = (1.0 - qm) - all_
    else:
        all_, partial = 1.0 - qm, 0.0
    return {"all_delivered_fraction": all_, "partial_fraction": partial,
            "none_delivered_fraction": qm, "partial_per_million": partial * 1e6}  # fmt: skip


# --------------------------------------------------------------------------- design


def measure(p: Point, r: RunResult) -> dict[str, float]:
    """The reported quantities of one replication (in its worker)."""
    if r.metrics["in_flight"]:
        raise RuntimeError(f"{p.name} rep {r.rep}: messages still in flight")
    all_, partial = _m(r, "all_delivered_fraction"), _m(r, "partial_fraction")
    out = {
        "messages": _m(r, "messages_produced"),
        "all_delivered_fraction": all_,
        "partial_fraction": partial,
        "none_delivered_fraction": round(1.0 - all_ - partial, 12),  # no float residue
        "partial_per_million": partial * 1e6,
        "delivered_fraction": _m(r, "delivered_fraction"),
        "producer_latency_mean_s": _m(r, "producer_latency_mean_s"),
        "latency_mean_s": _m(r, "latency_mean_s"),
        "latency_p99_s": _m(r, "latency_p99_s"),
        "cost_per_million_usd": _m(r, "cost_per_million_usd"),
        "lost": _m(r, "lost"),
        "in_flight": _m(r, "in_flight"),
    }
    if p.outage:
        v = r.sinks.get(f"f{p.outage}", {}).get("latency_p99_s")
        out["outage_queue_latency_p99_s"] = math.nan if v is None else float(v)
    return out


KEYS = ("study", "option", "n_queues", "send_failure_q", "max_attempts", "outage_queue")
DIFF_METRICS = ("all_delivered_fraction", "partial_fraction", "partial_per_million",
                "producer_latency_mean_s", "latency_p99_s", "cost_per_million_usd")  # fmt: skip


def _keys(p: Point) -> dict[str, Any]:
    return dict(zip(KEYS, (p.study, p.option, p.n_queues, p.q, p.max_attempts, p.outage),
                    strict=True))  # fmt: skip


def designs(o: Options) -> list[Design[Point]]:
    """The sweep and the outage study: option 2 differenced against option 1, point by point."""
    grid = QUICK if o.quick else FULL
    common: dict[str, Any] = {
        "measure": measure, "table": "fanout", "columns": _keys,
        "closed_forms": lambda p: theory(p.option, p.q, p.n_queues, p.max_attempts)
        if p.study == "sweep" else {},
        "baseline": lambda p: p._replace(option=1) if p.option == 2 else None,
        "difference_metrics": DIFF_METRICS,
        "difference_columns": lambda p: {k: v for k, v in _keys(p).items() if k != "option"},
    }  # fmt: skip
    return [
        Design("sweep", sweep_points(grid), replications=grid.replications,
               scenario=lambda p: p.scenario(grid.duration_s, o.seed, 0.0), **common),
        Design("outage", outage_points(grid), replications=grid.outage_replications,
               scenario=lambda p: p.scenario(grid.outage_run_s, o.seed, grid.outage_start_s),
               **common),
    ]  # fmt: skip


