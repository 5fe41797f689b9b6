"""The database-protection study's design: the database, grids, points, scenarios and designs.

The question and the method are stated in :mod:`experiments.database_protection`; the per-run
measures are in :mod:`experiments.database_protection_measures`.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

from experiments.database_protection_measures import (
    DB,
    SINK,
    STAGES,
    load_measure,
    outage_measure,
    pipeline_measure,
)
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options

# --------------------------------------------------------------------------- the database

MAX_CONNECTIONS = 20
SERVICE_MEAN_S = 0.2  # one query alone on the server (exponential)
SIGMA = 0.05  # USL contention
KAPPA = 0.01  # USL coherency: throughput peaks near √((1 − σ)/κ) ≈ 9.7 requests in service

# --------------------------------------------------------------------------- the function

FUNCTION_DURATION_S = 0.01  # the handler's own work besides the query
FUNCTION_TIMEOUT_S = 30.0
VISIBILITY_TIMEOUT_S = 6 * FUNCTION_TIMEOUT_S  # AWS: at least 6 × the function timeout
MAX_RECEIVE_COUNT = 3
CLIENT_TIMEOUT_S = 2.0
#: The AWS SDK's standard retry mode: 3 attempts, full-jitter backoff from 1 s, capped at 20 s.
STANDARD_RETRY: dict[str, Any] = {"max_attempts": 3, "base_s": 1.0, "cap_s": 20.0}
NO_RETRY: dict[str, Any] = {"max_attempts": 1}
#: The event source mapping's own ceiling when no maximum concurrency is set (AWS: 1,000).
UNLIMITED = 1000
DRAIN_S = 3600.0  # long enough that every message ends delivered or dead-lettered

# --------------------------------------------------------------------------- the outage

OUTAGE_FACTOR = 5.0
OUTAGE_LOAD = 0.5  # offered load ÷ capacity during the outage study
AFTER_MARGIN_S = 60.0  # "after the outage": messages created this long after it ended
TIMELINE_BIN_S = 30.0

# --------------------------------------------------------------------------- the pipeline

PIPELINE_RATE_PER_S = 8.0
PIPELINE_BATCH_SIZE = 10
PIPELINE_WINDOW_S = 1.0  # batching window, so that batches fill
PIPELINE_CONCURRENCY = 5
PIPELINE_TIMEOUT_S = 10.0
IDEMPOTENCY_WINDOW_S = 3600.0


def usl_throughput(n: int) -> float:
    """Requests per second the database completes with ``n`` requests in service (USL).

    X(N) = N / (S · (1 + σ(N − 1) + κN(N − 1))), S the mean service time of a query alone.
    """
    if n <= 0:
        return 0.0
    return n / (SERVICE_MEAN_S * (1.0 + SIGMA * (n - 1) + KAPPA * n * (n - 1)))


#: The concurrency at which the database completes most work, N ≤ max_connections (the knee).
KNEE = max(range(1, MAX_CONNECTIONS + 1), key=usl_throughput)
#: The database's capacity: max over N ≤ max_connections of X(N), in requests per second.
CAPACITY_PER_S = usl_throughput(KNEE)
#: Where X(N) peaks over all real N: √((1 − σ)/κ).
USL_PEAK_N = math.sqrt((1.0 - SIGMA) / KAPPA)


def service_time_s(n: int, factor: float = 1.0) -> float:
    """Mean time of one query with ``n`` in service (× a slow outage's ``factor``), seconds."""
    m = max(n, 1)
    return SERVICE_MEAN_S * factor * (1.0 + SIGMA * (m - 1) + KAPPA * m * (m - 1))


def concurrency_reference(concurrency: int) -> float:
    """The database's throughput with as many queries in service as a saturated fleet sends.

    A fleet limited to ``concurrency`` executions, each holding at most one query, keeps
    min(concurrency, max_connections) queries in service when it is saturated: the reference
    is X of that (per second). Abandoned queries, still in service, and the handler's own
    run time move the measured throughput away from it.
    """
    return usl_throughput(min(concurrency, MAX_CONNECTIONS))


# --------------------------------------------------------------------------- grids


class Grid(NamedTuple):
    """The configurations, run lengths and replications of one invocation of the script."""

    loads: tuple[float, ...]
    concurrencies: tuple[int, ...]  # event source max_concurrency
    unlimited: bool  # also run without max_concurrency and reserved concurrency
    reserved: tuple[int, ...]  # reserved concurrency without max_concurrency
    window_s: float
    connection_loads: tuple[float, ...]
    connection_concurrencies: tuple[int, ...]
    outage_timeouts_s: tuple[float, ...]
    outage_concurrencies: tuple[int, ...]
    outage_window_s: float
    outage_start_s: float
    outage_s: float
    error_rates: tuple[float, ...]
    pipeline_window_s: float
    replications: int

    @property
    def after_s(self) -> float:
        """Messages created from this time on are "after the outage"."""
        return self.outage_start_s + self.outage_s + AFTER_MARGIN_S


FULL = Grid(
    loads=(0.5, 0.8, 1.0, 1.25, 1.5, 2.0), concurrencies=(2, 5, 10, 20, 40, 80),
    unlimited=True, reserved=(5, 10, 20), window_s=120.0,
    connection_loads=(0.8, 1.25), connection_concurrencies=(10, 20, 30, 40, 80),
    outage_timeouts_s=(1.0, 2.0, 4.0, 8.0), outage_concurrencies=(10, 20),
    outage_window_s=600.0, outage_start_s=120.0, outage_s=120.0,
    error_rates=(0.0, 0.02, 0.05, 0.1), pipeline_window_s=150.0,
    replications=10,
)  # fmt: skip
QUICK = Grid(
    loads=(0.8, 2.0), concurrencies=(10, 80), unlimited=True, reserved=(10,), window_s=60.0,
    connection_loads=(1.25,), connection_concurrencies=(10, 40),
    outage_timeouts_s=(1.0, 8.0), outage_concurrencies=(20,), outage_window_s=240.0,
    outage_start_s=60.0, outage_s=60.0, error_rates=(0.1,), pipeline_window_s=60.0,
    replications=2,
)  # fmt: skip


# --------------------------------------------------------------------------- points


class Point(NamedTuple):
    """One configuration of one sub-study (defaults where a parameter does not apply)."""

    study: str  # "load", "connections", "outage" or "pipeline"
    load: float = 0.0  # offered load ÷ the database's capacity
    limit: str = "max_concurrency"  # "max_concurrency", "reserved_concurrency" or "none"
    concurrency: int = UNLIMITED
    connection: str = "per_call"
    client_timeout_s: float = CLIENT_TIMEOUT_S
    retry: str = "standard"  # "standard" (SDK, 3 attempts) or "none" (1 attempt)
    outage: bool = False
    error_rate: float = 0.0
    partial: bool = False  # report_batch_item_failures
    idempotent: bool = False

    @property
    def name(self) -> str:
        """The variant's scenario name (unique per point)."""
        if self.study == "pipeline":
            return (f"pipeline err={self.error_rate:g} partial={int(self.partial)} "
                    f"idempotent={int(self.idempotent)}")  # fmt: skip
        return (f"{self.study} load={self.load:g} {self.limit}={self.concurrency} "
                f"{self.connection} timeout={self.client_timeout_s:g} retry={self.retry} "
                f"outage={int(self.outage)}")  # fmt: skip


def load_points(grid: Grid) -> list[Point]:
    """Question 1: max_concurrency (and no limit), then reserved concurrency, at every load."""
    out = [Point("load", x, "max_concurrency", c) for c in grid.concurrencies for x in grid.loads]
    if grid.unlimited:
        out += [Point("load", x, "none", UNLIMITED) for x in grid.loads]
    out += [Point("load", x, "reserved_concurrency", c) for c in grid.reserved for x in grid.loads]
    return out


def connection_points(grid: Grid) -> list[Point]:
    """Question 2: a connection per call (pool or proxy) or per execution environment."""
    return [Point("connections", x, "max_concurrency", c, conn)
            for x in grid.connection_loads for conn in ("per_call", "per_environment")
            for c in grid.connection_concurrencies]  # fmt: skip


def outage_points(grid: Grid) -> list[Point]:
    """Question 3: client timeouts around the slowed service time, with and without retries.

    The largest concurrency is run with and without SDK retries and without the outage (the
    baselines the outage is differenced against); the others with retries and the outage.
    """
    top = max(grid.outage_concurrencies)
    out = []
    for c in grid.outage_concurrencies:
        for t in grid.outage_timeouts_s:
            out.append(Point("outage", OUTAGE_LOAD, "max_concurrency", c, client_timeout_s=t,
                             outage=True))  # fmt: skip
            if c == top:
                out.append(Point("outage", OUTAGE_LOAD, "max_concurrency", c,
                                 client_timeout_s=t, retry="none", outage=True))  # fmt: skip
                out.append(Point("outage", OUTAGE_LOAD, "max_concurrency", c,
                                 client_timeout_s=t, outage=False))  # fmt: skip
    return out


def pipeline_points(grid: Grid) -> list[Point]:
    """Question 4: error rate × whole-batch or partial batch failures × idempotent consumers."""
    return [Point("pipeline", error_rate=r, partial=partial, idempotent=idem)
            for r in grid.error_rates for partial in (False, True)
            for idem in (False, True)]  # fmt: skip


# --------------------------------------------------------------------------- scenarios


def _database() -> dict[str, Any]:
    return {"type": "database", "max_connections": MAX_CONNECTIONS,
            "service_time_s": {"exponential": {"mean": SERVICE_MEAN_S}},
            "contention": {"sigma": SIGMA, "kappa": KAPPA}}  # fmt: skip


def _queue(dlq: str) -> dict[str, Any]:
    return {"type": "sqs_queue", "visibility_timeout_s": VISIBILITY_TIMEOUT_S,
            "dead_letter": {"target": dlq, "max_receive_count": MAX_RECEIVE_COUNT}}  # fmt: skip


def fleet_scenario(p: Point, grid: Grid, seed: int) -> Scenario:
    """SQS → Lambda (batch 1) → the database, with a DLQ: questions 1 to 3.

    The producer offers ``p.load`` × the database's capacity for the grid's window (the
    outage window for the outage study); the function makes one query per message with the
    client timeout and retry policy of ``p``.
    """
    window_s = grid.outage_window_s if p.study == "outage" else grid.window_s
    trigger: dict[str, Any] = {"source": "jobs", "batch_size": 1}
    worker: dict[str, Any] = {
        "type": "lambda_function", "trigger": trigger, "duration_s": FUNCTION_DURATION_S,
        "timeout_s": FUNCTION_TIMEOUT_S,
        "calls": [{"dependency": DB, "timeout_s": p.client_timeout_s,
                   "connection": p.connection,
                   "retry": STANDARD_RETRY if p.retry == "standard" else NO_RETRY}],
    }  # fmt: skip
    if p.limit == "max_concurrency":
        trigger["max_concurrency"] = p.concurrency
    elif p.limit == "reserved_concurrency":
        worker["reserved_concurrency"] = p.concurrency
    outages = (
        [{"component": DB, "start_s": grid.outage_start_s, "duration_s": grid.outage_s,
          "mode": "slow", "factor": OUTAGE_FACTOR}] if p.outage else []
    )  # fmt: skip
    return scenario_from_dict({
        "name": p.name, "seed": seed, "duration_s": window_s, "drain_s": DRAIN_S,
        "components": {
            "orders": {"type": "producer", "rate_per_s": p.load * CAPACITY_PER_S,
                       "send_to": ["jobs"]},
            "jobs": _queue("jobs-dlq"), "jobs-dlq": {"type": "sqs_queue"},
            SINK: worker, DB: _database(),
        },
        "outages": outages,
    })  # fmt: skip


def pipeline_scenario(p: Point, window_s: float, seed: int) -> Scenario:
    """SQS → A → SQS → B (queries the database) → SQS → C: question 4.

    A and B fail a message with ``p.error_rate`` after their side effects (A has sent its
    output, B has made its query and sent its output); C never fails. Every stage takes
    batches of up to 10 with a 1 s batching window; ``p.partial`` returns only the failed
    messages of a batch, ``p.idempotent`` makes the three consumers skip a message they have
    already processed.
    """
    def stage(source: str, **handler: Any) -> dict[str, Any]:
        fn: dict[str, Any] = {
            "type": "lambda_function",
            "trigger": {"source": source, "batch_size": PIPELINE_BATCH_SIZE,
                        "batching_window_s": PIPELINE_WINDOW_S,
                        "max_concurrency": PIPELINE_CONCURRENCY,
                        "report_batch_item_failures": p.partial},
            "duration_s": FUNCTION_DURATION_S, "timeout_s": PIPELINE_TIMEOUT_S, **handler,
        }  # fmt: skip
        if p.idempotent:
            fn["idempotent"] = {"window_s": IDEMPOTENCY_WINDOW_S}
        return fn

    a, b, c = STAGES
    errors = {"rate": p.error_rate}
    call = {"dependency": DB, "timeout_s": CLIENT_TIMEOUT_S, "retry": STANDARD_RETRY}
    return scenario_from_dict({
        "name": p.name, "seed": seed, "duration_s": window_s, "drain_s": DRAIN_S,
        "components": {
            "orders": {"type": "producer", "rate_per_s": PIPELINE_RATE_PER_S,
                       "send_to": ["to-a"]},
            "to-a": _queue("dlq"), "to-b": _queue("dlq"), "to-c": _queue("dlq"),
            "dlq": {"type": "sqs_queue"},
            a: stage("to-a", errors=errors, outputs=[{"to": "to-b"}]),
            b: stage("to-b", errors=errors, calls=[call], outputs=[{"to": "to-c"}]),
            c: stage("to-c"),
            DB: _database(),
        },
    })  # fmt: skip


# --------------------------------------------------------------------------- closed forms


def pipeline_theory(p: Point) -> dict[str, float]:
    """Duplicates per 1,000 messages and queries per message with partial batch responses.

    Each stage attempt sends its output before the error decision, so every attempt of A
    sends B one copy of the same message, and every attempt of B sends C one. With failure
    probability r per attempt and k receives before the DLQ, a message (or copy) takes
    a = (1 − r^k)/(1 − r) attempts on average and succeeds with probability 1 − r^k. B
    processes each of A's copies: duplicates at B = a(1 − r^k) − P(some copy succeeds);
    C processes each of B's attempts' copies once: duplicates at C = a² − 1; B queries the
    database once per attempt: a² queries per message (client timeouts neglected: the
    database is lightly loaded here). Whole-batch failures and idempotent consumers have no
    closed form here.
    """
    if not p.partial or p.idempotent:
        return {}
    r, k = p.error_rate, MAX_RECEIVE_COUNT
    a = (1.0 - r**k) / (1.0 - r)
    attempts = [(j, r ** (j - 1) * ((1.0 - r) if j < k else 1.0)) for j in range(1, k + 1)]
    none_succeed = math.fsum(pj * r ** (k * j) for j, pj in attempts)
    return {
        "duplicates_per_1k_a": 0.0,
        "duplicates_per_1k_b": 1000.0 * (a * (1.0 - r**k) - (1.0 - none_succeed)),
        "duplicates_per_1k_c": 1000.0 * (a * a - 1.0),
        "db_calls_per_message": a * a,
    }


# --------------------------------------------------------------------------- designs


def _load_columns(p: Point) -> dict[str, Any]:
    return {"limit": p.limit, "concurrency": p.concurrency, "load": p.load,
            "offered_per_s": p.load * CAPACITY_PER_S}  # fmt: skip


def _connection_columns(p: Point) -> dict[str, Any]:
    return {"connection": p.connection, "max_concurrency": p.concurrency, "load": p.load,
            "offered_per_s": p.load * CAPACITY_PER_S}  # fmt: skip


def _outage_columns(p: Point) -> dict[str, Any]:
    return {"max_concurrency": p.concurrency, "client_timeout_s": p.client_timeout_s,
            "retry": p.retry, "outage": p.outage}  # fmt: skip


def _pipeline_columns(p: Point) -> dict[str, Any]:
    return {"error_rate": p.error_rate, "report_batch_item_failures": p.partial,
            "idempotent": p.idempotent}  # fmt: skip


def _reserved_baseline(p: Point) -> Point | None:
    """Reserved concurrency R is differenced against max_concurrency R (same load)."""
    if p.limit != "reserved_concurrency":
        return None
    return p._replace(limit="max_concurrency")


def _connection_baseline(p: Point) -> Point | None:
    return p._replace(connection="per_call") if p.connection == "per_environment" else None


def _outage_baseline(p: Point) -> Point | None:
    """With the outage and retries, against the same configuration without the outage."""
    return p._replace(outage=False) if p.outage and p.retry == "standard" else None


def _pipeline_baseline(p: Point) -> Point | None:
    return p._replace(idempotent=False) if p.idempotent else None


LOAD_DIFFERENCES = ("latency_p99_s", "dead_lettered_fraction", "throttles_per_message",
                    "throughput_per_s")  # fmt: skip
CONNECTION_DIFFERENCES = ("db_refused_per_message", "failed_attempts_per_message",
                          "dead_lettered_fraction", "latency_p99_s")  # fmt: skip
OUTAGE_DIFFERENCES = ("latency_after_mean_s", "db_wasted_s", "dead_lettered_fraction")
PIPELINE_DIFFERENCES = ("duplicates_per_1k_b", "duplicates_per_1k_c", "db_calls_per_message")


def designs(o: Options) -> list[Design[Point]]:
    """The four questions' designs, one root seed for all (common random numbers)."""
    grid = QUICK if o.quick else FULL
    seed, reps = o.seed, grid.replications
    outage = functools.partial(outage_measure, after_s=grid.after_s, bin_s=TIMELINE_BIN_S)
    load = functools.partial(load_measure, max_connections=MAX_CONNECTIONS)
    return [
        Design("load", load_points(grid),
               lambda p: fleet_scenario(p, grid, seed), load, reps, "load",
               _load_columns, trace=True, baseline=_reserved_baseline,
               difference_metrics=LOAD_DIFFERENCES, differences="load_differences"),
        Design("connections", connection_points(grid),
               lambda p: fleet_scenario(p, grid, seed), load, reps,
               "connections", _connection_columns, baseline=_connection_baseline,
               difference_metrics=CONNECTION_DIFFERENCES,
               differences="connections_differences"),
        Design("outage", outage_points(grid),
               lambda p: fleet_scenario(p, grid, seed), outage, reps,
               "outage", _outage_columns, trace=True, baseline=_outage_baseline,
               difference_metrics=OUTAGE_DIFFERENCES, differences="outage_differences"),
        Design("pipeline", pipeline_points(grid),
               lambda p: pipeline_scenario(p, grid.pipeline_window_s, seed), pipeline_measure,
               reps, "pipeline", _pipeline_columns, closed_forms=pipeline_theory,
               baseline=_pipeline_baseline, difference_metrics=PIPELINE_DIFFERENCES,
               differences="pipeline_differences"),
    ]  # fmt: skip
