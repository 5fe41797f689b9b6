"""The metastability study's design: the loop, the policies, the triggers, points and designs.

The question and the method are stated in :mod:`experiments.metastability`; the per-run
measures are in :mod:`experiments.metastability_measures`, the fluid model in
:mod:`sim.analysis.fluid`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NamedTuple

from experiments.metastability_measures import DB, SINK, measure
from sim.analysis import fluid
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Options

# --------------------------------------------------------------------------- the loop

MAX_CONNECTIONS = 20
SERVICE_MEAN_S = 0.4  # one query alone on the database (exponential)
SIGMA = 0.05  # USL contention
KAPPA = 0.01  # USL coherency: throughput peaks near √((1 − σ)/κ) ≈ 9.7 requests in service
CLIENT_TIMEOUT_S = 10.0
FUNCTION_DURATION_S = 0.01
FUNCTION_TIMEOUT_S = 60.0  # above 3 attempts × the client timeout and their backoffs
VISIBILITY_TIMEOUT_S = 6 * FUNCTION_TIMEOUT_S  # AWS: at least 6 × the function timeout
MAX_RECEIVE_COUNT = 3
ASYNC_RETRY_DELAYS_S = (60.0, 120.0)  # asynchronous Lambda's retries of a function error
BASE_LOAD = 0.7  # offered load ÷ capacity outside the trigger
ACCOUNT_CONCURRENCY = 1000  # AWS's default account concurrency (asynchronous invocation)
ESM_MAX_BATCHES = 1000  # the event source's own ceiling without max_concurrency

# --------------------------------------------------------------------------- the measures

SLO_S = 30.0  # a message is processed "in time" when its end-to-end latency is at most this
BIN_S = 60.0  # goodput and offered load are counted per bin of this length
RECOVERY_SHARE = 0.9  # recovered: goodput ≥ this share of the offered load ...
HOLD_S = 300.0  # ... in every bin for this long
TRIGGER_START_S = 300.0
OBSERVE_S = 10.0
FLUID_DT_S = 0.2  # the fluid model's integration step (0.05 and 0.1 give the same boundaries)


def _fluid_base(rate: float) -> fluid.FluidParams:
    return fluid.FluidParams(
        rate_per_s=rate, connections=MAX_CONNECTIONS, service_s=SERVICE_MEAN_S, sigma=SIGMA,
        kappa=KAPPA, client_timeout_s=CLIENT_TIMEOUT_S, max_receives=MAX_RECEIVE_COUNT,
        redelivery_s=(VISIBILITY_TIMEOUT_S,) * (MAX_RECEIVE_COUNT - 1),
    )  # fmt: skip


def usl_throughput(n: float, factor: float = 1.0) -> float:
    """Queries per second the database completes with ``n`` in service (USL), × slowdown."""
    return fluid.throughput_per_s(_fluid_base(1.0), n, factor)


#: The concurrency at which the database completes most work (N ≤ max_connections).
KNEE = max(range(1, MAX_CONNECTIONS + 1), key=usl_throughput)
#: The database's capacity: max over N ≤ max_connections of X(N), queries per second.
CAPACITY_PER_S = usl_throughput(KNEE)
BASE_RATE_PER_S = BASE_LOAD * CAPACITY_PER_S


# --------------------------------------------------------------------------- policies

#: The circuit breaker of the ``circuit_breaker`` policy: half of the last 30 s of calls failed
#: (at least 10) opens it for 30 s; one probe closes it (an assumption: AWS gives no numbers).
BREAKER: dict[str, float] = {"window_s": 30.0, "failure_ratio": 0.5, "min_calls": 10,
                             "open_s": 30.0, "half_open_probes": 1}  # fmt: skip
#: An input older than this cannot be processed within the SLO (it may wait a client timeout
#: at the database): the ``max_message_age`` policy drops it unprocessed (``expired``).
MAX_MESSAGE_AGE_S = SLO_S - CLIENT_TIMEOUT_S


class Policy(NamedTuple):
    """A retry policy or mitigation: what it changes in the scenario and in the fluid model.

    ``retry`` updates the call's SDK retry (AWS's default: standard mode, 3 attempts, full
    jitter, the retry quota); ``connection``, ``max_concurrency`` (SQS event source) and
    ``reserved_concurrency`` (the function) as the scenario fields; ``call`` and ``function``
    add fields to the call and the function. ``fluid`` updates :class:`FluidParams` (None:
    the fluid model has no counterpart, no prediction). ``pipelines``: where it applies.
    """

    name: str
    label: str
    retry: Mapping[str, Any] = {}
    connection: str = "per_call"
    max_concurrency: int | None = None
    reserved_concurrency: int | None = None
    call: Mapping[str, Any] = {}
    function: Mapping[str, Any] = {}
    fluid: Mapping[str, Any] | None = {}
    pipelines: tuple[str, ...] = ("sqs", "sns")


POLICIES: tuple[Policy, ...] = (
    Policy("default", "SDK standard retries: 3 attempts, full jitter, retry quota"),
    Policy("no_quota", "3 attempts, no retry quota (legacy)", retry={"quota": False},
           fluid={"quota_tokens": None}),
    Policy("no_retries", "no SDK retries (1 attempt)", retry={"max_attempts": 1},
           fluid={"max_attempts": 1}),
    Policy("attempts_5", "5 attempts, full jitter, retry quota", retry={"max_attempts": 5},
           fluid={"max_attempts": 5}),
    Policy("attempts_5_no_jitter", "5 attempts, no jitter, no quota",
           retry={"max_attempts": 5, "jitter": "none", "quota": False},
           fluid={"max_attempts": 5, "jitter": "none", "quota_tokens": None}),
    Policy("max_concurrency", f"event source max_concurrency {KNEE} (the knee)",
           max_concurrency=KNEE, fluid={"max_level": float(KNEE)}, pipelines=("sqs",)),
    Policy("reserved", f"reserved concurrency {KNEE}", reserved_concurrency=KNEE,
           fluid={"max_level": float(KNEE)}),
    Policy("per_environment", "a connection per execution environment (no pool)",
           connection="per_environment", fluid=None),
    Policy("circuit_breaker",
           f"circuit breaker on the call: opens for {BREAKER['open_s']:g} s when half the "
           f"calls of the last {BREAKER['window_s']:g} s failed",
           call={"circuit_breaker": BREAKER}, fluid=None),
    Policy("max_message_age", f"drop inputs older than {MAX_MESSAGE_AGE_S:g} s "
           "(function max_message_age_s)",
           function={"max_message_age_s": MAX_MESSAGE_AGE_S}, fluid=None),
)  # fmt: skip
POLICY_BY_NAME = {p.name: p for p in POLICIES}


def policies_for(pipeline: str, names: tuple[str, ...] | None = None) -> list[Policy]:
    """The policies that apply to ``pipeline`` (only ``names``, in POLICIES order, if given)."""
    return [p for p in POLICIES
            if pipeline in p.pipelines and (names is None or p.name in names)]  # fmt: skip


# --------------------------------------------------------------------------- grids


class Grid(NamedTuple):
    """The sizes of one invocation of the study (full or ``--quick``)."""

    horizon_s: float
    spike_sizes: tuple[float, ...]  # × the base load
    slow_factors: tuple[float, ...]  # × the service time
    lengths_s: tuple[float, ...]
    map_policies: Mapping[tuple[str, str], tuple[str, ...] | None]  # (pipeline, kind) → names
    map_replications: int
    reference: tuple[str, float, float]  # the headline trigger: kind, size, length
    headline_policies: tuple[str, ...] | None  # None: every policy
    headline_replications: int
    steady_replications: int
    ramp_peak: float  # × capacity at the top of the triangle
    ramp_policies: Mapping[str, tuple[str, ...]]
    ramp_replications: int
    branch_loads: tuple[float, ...]  # × capacity, for the fluid model's branches


FULL = Grid(
    horizon_s=3600.0, spike_sizes=(1.5, 2.0, 3.0), slow_factors=(1.5, 2.0, 3.0),
    lengths_s=(10.0, 30.0, 90.0),
    map_policies={("sqs", "spike"): None,
                  ("sqs", "slow"): ("default", "no_retries", "max_concurrency",
                                    "circuit_breaker", "max_message_age"),
                  ("sns", "spike"): ("default", "no_retries", "reserved", "circuit_breaker",
                                     "max_message_age")},
    map_replications=1, reference=("spike", 2.0, 30.0), headline_policies=None,
    headline_replications=3,
    steady_replications=5, ramp_peak=1.3,
    ramp_policies={"sqs": ("default", "max_concurrency"), "sns": ("default", "reserved")},
    ramp_replications=2,
    branch_loads=(0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3),
)  # fmt: skip
QUICK = Grid(
    horizon_s=1200.0, spike_sizes=(1.5, 3.0), slow_factors=(), lengths_s=(10.0, 90.0),
    map_policies={("sqs", "spike"): ("default", "max_concurrency")},
    map_replications=1, reference=("spike", 3.0, 90.0),
    headline_policies=("default", "max_concurrency"), headline_replications=2,
    steady_replications=1, ramp_peak=1.3,
    ramp_policies={"sqs": ("default",)}, ramp_replications=1,
    branch_loads=(0.5, 0.9),
)  # fmt: skip


# --------------------------------------------------------------------------- points


class Point(NamedTuple):
    """One configuration: a sub-study, a pipeline, a policy and a trigger."""

    study: str  # "map", "headline", "steady" or "ramp"
    pipeline: str  # "sqs" or "sns"
    policy: str
    trigger: str = "none"  # "spike", "slow", "none" (or "ramp")
    size: float = 1.0
    length_s: float = 0.0

    @property
    def name(self) -> str:
        """The variant's scenario name (unique per point)."""
        return (f"{self.study} {self.pipeline} {self.policy} {self.trigger} "
                f"size={self.size:g} length={self.length_s:g}")  # fmt: skip

    @property
    def end_s(self) -> float:
        """When the trigger ends (seconds)."""
        return TRIGGER_START_S + self.length_s


def map_points(grid: Grid) -> list[Point]:
    """Trigger size × length for each (pipeline, trigger kind) and its policies."""
    out = []
    for (pipeline, kind), names in grid.map_policies.items():
        sizes = grid.spike_sizes if kind == "spike" else grid.slow_factors
        for pol in policies_for(pipeline, names):
            out += [Point("map", pipeline, pol.name, kind, size, length)
                    for size in sizes for length in grid.lengths_s]  # fmt: skip
    return out


def headline_points(grid: Grid, study: str = "headline") -> list[Point]:
    """Every policy of both pipelines at the reference trigger (or none: ``steady``)."""
    kind, size, length = grid.reference if study == "headline" else ("none", 1.0, 0.0)
    pipelines = sorted({p for (p, _) in grid.map_policies} | set(grid.ramp_policies))
    return [Point(study, pipeline, pol.name, kind, size, length)
            for pipeline in pipelines
            for pol in policies_for(pipeline, grid.headline_policies)]  # fmt: skip


def ramp_points(grid: Grid) -> list[Point]:
    """The triangle profile for the ramp's policies."""
    return [Point("ramp", pipeline, name, "ramp", grid.ramp_peak, grid.horizon_s)
            for pipeline, names in grid.ramp_policies.items() for name in names]  # fmt: skip


def ramp_profile(grid: Grid) -> list[tuple[float, float]]:
    """A triangle of ``(start_s, rate_per_s)`` steps of BIN_S.

    From 0.1 × capacity up to the peak at half the horizon and back down.
    """
    n = int(grid.horizon_s // BIN_S)
    low, peak = 0.1 * CAPACITY_PER_S, grid.ramp_peak * CAPACITY_PER_S
    out = []
    for i in range(n):
        mid = (i + 0.5) / n
        frac = 1.0 - abs(2.0 * mid - 1.0)
        out.append((i * BIN_S, low + (peak - low) * frac))
    return out


# --------------------------------------------------------------------------- scenarios


def _profile(p: Point, grid: Grid) -> list[dict[str, float]]:
    if p.trigger == "ramp":
        return [{"start_s": s, "rate_per_s": r} for s, r in ramp_profile(grid)]
    steps = [{"start_s": 0.0, "rate_per_s": BASE_RATE_PER_S}]
    if p.trigger == "spike":
        steps += [{"start_s": TRIGGER_START_S, "rate_per_s": BASE_RATE_PER_S * p.size},
                  {"start_s": p.end_s, "rate_per_s": BASE_RATE_PER_S}]  # fmt: skip
    return steps


def scenario(p: Point, grid: Grid, seed: int) -> Scenario:
    """The pipeline of ``p`` with its policy and trigger, observed every 10 s, for the horizon."""
    pol = POLICY_BY_NAME[p.policy]
    call: dict[str, Any] = {"dependency": DB, "timeout_s": CLIENT_TIMEOUT_S,
                            "connection": pol.connection, **pol.call}  # fmt: skip
    if pol.retry:
        call["retry"] = dict(pol.retry)
    worker: dict[str, Any] = {"type": "lambda_function", "duration_s": FUNCTION_DURATION_S,
                              "timeout_s": FUNCTION_TIMEOUT_S, "calls": [call],
                              **pol.function}  # fmt: skip
    if pol.reserved_concurrency is not None:
        worker["reserved_concurrency"] = pol.reserved_concurrency
    producer: dict[str, Any] = {"type": "producer", "arrivals": {"profile": _profile(p, grid)}}
    components: dict[str, Any] = {
        DB: {"type": "database", "max_connections": MAX_CONNECTIONS,
             "service_time_s": {"exponential": {"mean": SERVICE_MEAN_S}},
             "contention": {"sigma": SIGMA, "kappa": KAPPA}},
        "dlq": {"type": "sqs_queue"},
    }  # fmt: skip
    if p.pipeline == "sqs":
        trigger: dict[str, Any] = {"source": "jobs", "batch_size": 1}
        if pol.max_concurrency is not None:
            trigger["max_concurrency"] = pol.max_concurrency
        worker["trigger"] = trigger
        components["jobs"] = {
            "type": "sqs_queue", "visibility_timeout_s": VISIBILITY_TIMEOUT_S,
            "dead_letter": {"target": "dlq", "max_receive_count": MAX_RECEIVE_COUNT}}
        producer["send_to"] = ["jobs"]
    else:
        worker["async"] = {"on_failure": "dlq"}
        components["topic"] = {"type": "sns_topic",
                               "subscriptions": [{"target": SINK, "protocol": "lambda"}]}
        producer["send_to"] = ["topic"]
    components["orders"] = producer
    components[SINK] = worker
    outages = []
    if p.trigger == "slow":
        outages.append({"component": DB, "mode": "slow", "factor": p.size,
                        "start_s": TRIGGER_START_S, "duration_s": p.length_s})  # fmt: skip
    return scenario_from_dict({
        "name": p.name, "seed": seed, "duration_s": grid.horizon_s, "drain_s": 0.0,
        "observe": {"interval_s": OBSERVE_S}, "components": components, "outages": outages,
    })  # fmt: skip


# --------------------------------------------------------------------------- the fluid model


def fluid_params(pipeline: str, policy: str, rate: float = BASE_RATE_PER_S
                 ) -> fluid.FluidParams | None:  # fmt: skip
    """The fluid model of ``pipeline`` under ``policy`` (None where it has no counterpart).

    SQS: the event source scales up by 5 batches a second while messages wait (300 a minute)
    and backs off by one per failed invocation, up to 1,000 (or max_concurrency); failed
    messages return after the visibility timeout. Asynchronous invocation: a fixed level
    (the account's 1,000 or the reserved concurrency), function errors retried after 60 and
    120 s.
    """
    pol = POLICY_BY_NAME[policy]
    if pol.fluid is None:
        return None
    p = _fluid_base(rate)
    if pipeline == "sns":
        p = replace(p, redelivery_s=ASYNC_RETRY_DELAYS_S, scale_up_per_s=0.0,
                    max_level=float(ACCOUNT_CONCURRENCY),
                    initial_level=float(ACCOUNT_CONCURRENCY))  # fmt: skip
    else:
        p = replace(p, max_level=float(ESM_MAX_BATCHES))
    changes = dict(pol.fluid)
    if "max_level" in changes and pipeline == "sns":
        changes["initial_level"] = changes["max_level"]
    return replace(p, **changes)


def fluid_trigger(p: Point) -> fluid.Trigger | None:
    """The fluid model's trigger for a point (None without one)."""
    if p.trigger not in ("spike", "slow"):
        return None
    return fluid.Trigger(p.trigger, p.size, TRIGGER_START_S, p.length_s)


@functools.cache
def fluid_outcome(p: Point, horizon_s: float) -> tuple[float, float] | None:
    """``(collapsed 0/1, recovery_s)`` the fluid model predicts for ``p`` (None: no model)."""
    params = fluid_params(p.pipeline, p.policy)
    trig = fluid_trigger(p)
    if params is None or trig is None:
        return None
    fr = fluid.run(params, trig, horizon_s, step_s=BIN_S, dt=FLUID_DT_S)
    rec = fluid.recovery_s(fr, trig.end_s, SLO_S, RECOVERY_SHARE, HOLD_S)
    return (float(math.isnan(rec)), rec)


def fluid_closed_forms(p: Point, horizon_s: float) -> dict[str, float]:
    """The fluid model's prediction as closed forms of ``collapsed`` and ``recovery_s``."""
    out = fluid_outcome(p, horizon_s)
    if out is None:
        return {}
    collapsed, rec = out
    forms = {"collapsed": collapsed}
    if not math.isnan(rec):
        forms["recovery_s"] = rec
    return forms


# --------------------------------------------------------------------------- designs

MAP_METRICS = ("collapsed", "recovery_s")


def _columns(p: Point) -> dict[str, Any]:
    return {"pipeline": p.pipeline, "policy": p.policy, "trigger": p.trigger, "size": p.size,
            "length_s": p.length_s}  # fmt: skip


def _default_baseline(p: Point) -> Point | None:
    return p._replace(policy="default") if p.policy != "default" else None


HEADLINE_DIFFERENCES = ("goodput_fraction", "recovery_capped_s", "latency_p99_s",
                        "dead_lettered_fraction", "cost_per_million_usd",
                        "sdk_retries_per_message", "db_wasted_s")  # fmt: skip


def designs(o: Options) -> list[Design[Point]]:
    """The map, the headline trigger, the steady state and the ramp (common random numbers)."""
    grid = QUICK if o.quick else FULL
    seed = o.seed

    def scen(p: Point) -> Scenario:
        return scenario(p, grid, seed)

    meas = functools.partial(measure, slo_s=SLO_S, bin_s=BIN_S, share=RECOVERY_SHARE,
                             hold_s=HOLD_S, start_s=TRIGGER_START_S)  # fmt: skip
    forms = functools.partial(fluid_closed_forms, horizon_s=grid.horizon_s)
    return [
        Design("map", map_points(grid), scen, meas, grid.map_replications, "map", _columns,
               trace=True, closed_forms=forms),
        Design("headline", headline_points(grid), scen, meas, grid.headline_replications,
               "headline", _columns, trace=True, closed_forms=forms,
               baseline=_default_baseline, difference_metrics=HEADLINE_DIFFERENCES,
               differences="headline_differences"),
        Design("steady", headline_points(grid, "steady"), scen, meas,
               grid.steady_replications, "steady", _columns, trace=True),
        Design("ramp", ramp_points(grid), scen, meas, grid.ramp_replications, "ramp_summary",
               _columns, trace=True),
    ]  # fmt: skip
