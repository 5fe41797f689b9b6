"""The SNS → Lambda study's design: grids, points, scenarios, closed forms and per-run measures.

The question and the method are stated in :mod:`experiments.sns_lambda`. A fourth design,
``drills``, runs replication 0 of the timelines' configurations with the per-event trace; its
measure returns their rows of ``timelines.csv`` as its detail.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import numpy as np
import pandas as pd
from scipy import stats as sps

from sim.analysis.metrics import RunResult
from sim.analysis.theory import async_lambda_loss
from sim.config import Scenario, scenario_from_dict
from sim.study import Design, Detailed, Options
from sim.study import run_metric as _m

DEFAULT_SEED = 20260603
LEVEL = 0.95

DURATION = {"lognormal": {"median": 0.1, "sigma": 0.5}}
MEAN_DURATION_S = 0.1 * math.exp(0.5**2 / 2)
TIMEOUT_S = 3.0
RETRY_GAPS_S = (60.0, 120.0)  # AWS: 1 minute before the 2nd attempt, 2 minutes before the 3rd
RETRIES = (0, 1, 2)
AGES_S = (60.0, 600.0, 3600.0, 21600.0)
DEFAULT_AGE_S = 21600.0
DRAIN_S = DEFAULT_AGE_S + 900.0  # every event is resolved, whatever its maximum age

ERROR_RATES = (0.01, 0.1, 0.3)
ERROR_AGES_S = (60.0, 120.0, 21600.0)
ERROR_RATE_PER_S = 10.0

BACKGROUND_ERROR_RATE = 0.05
RESERVED_CONCURRENCY = 2
CAPACITY_PER_S = RESERVED_CONCURRENCY / MEAN_DURATION_S
BURST_AT_S = 120.0
BURST_SPREAD_S = 10.0
THROTTLE_RATE_PER_S = 1.0

OUTAGE_RATE_PER_S = 1.0
OUTAGE_START_S = 900.0
OUTAGE_LENGTH_S = 1800.0
OUTAGE_SLOW_FACTOR = 1000.0
OUTAGE_MODES = ("unavailable", "failing")
TIMELINE_BIN_S = 20.0
ARRIVAL_BIN_S = 60.0


class Grid(NamedTuple):
    """The configurations and run lengths of one invocation of the script."""

    error_rates: tuple[float, ...]
    retries: tuple[int, ...]  # errors study
    other_retries: tuple[int, ...]  # throttling and outage studies
    error_ages_s: tuple[float, ...]
    ages_s: tuple[float, ...]
    error_duration_s: float
    burst: int
    throttle_duration_s: float
    outage_duration_s: float
    outage_rate_per_s: float
    replications: dict[str, int]


FULL = Grid(ERROR_RATES, RETRIES, RETRIES, ERROR_AGES_S, AGES_S, 400.0, 3000, 900.0, 3600.0,
            OUTAGE_RATE_PER_S, {"errors": 8, "throttling": 5, "outage": 6})  # fmt: skip
QUICK = Grid((0.1, 0.3), (0, 1, 2), (0, 2), (60.0, 21600.0), (60.0, 21600.0), 150.0, 500,
             300.0, 3600.0, 0.25, {"errors": 3, "throttling": 3, "outage": 3})  # fmt: skip


# --------------------------------------------------------------------------- scenarios


def _function(error_rate: float, reserved: int | None = None) -> dict[str, Any]:
    fn: dict[str, Any] = {
        "type": "lambda_function",
        "duration_s": DURATION,
        "timeout_s": TIMEOUT_S,
        "errors": {"rate": error_rate},
        "async": {"max_retries": 2, "max_event_age_s": DEFAULT_AGE_S},
    }
    if reserved is not None:
        fn["reserved_concurrency"] = reserved
    return fn


def _scenario(name: str, seed: int, duration_s: float, producer: dict[str, Any],
              function: dict[str, Any]) -> Scenario:  # fmt: skip
    return scenario_from_dict({
        "name": name, "seed": seed, "duration_s": duration_s, "drain_s": DRAIN_S,
        "components": {
            "publisher": {"type": "producer", "send_to": ["topic"], **producer},
            "topic": {"type": "sns_topic", "subscriptions": [{"target": "worker"}]},
            "worker": function,
            "failures": {"type": "sqs_queue"},  # the on-failure destination, when configured
        },
    })  # fmt: skip


def errors_base(grid: Grid, seed: int) -> Scenario:
    """Poisson publishes at 10/s → topic → function (no throttling: account concurrency)."""
    return _scenario("sns-lambda-errors", seed, grid.error_duration_s,
                     {"rate_per_s": ERROR_RATE_PER_S}, _function(0.0))  # fmt: skip


def throttle_base(grid: Grid, seed: int) -> Scenario:
    """A background of 1/s plus a burst far above the reserved concurrency's capacity."""
    producer = {"rate_per_s": THROTTLE_RATE_PER_S, "arrivals": {"bursts": [
        {"at_s": BURST_AT_S, "count": grid.burst, "spread_s": BURST_SPREAD_S}]}}  # fmt: skip
    return _scenario("sns-lambda-throttling", seed, grid.throttle_duration_s, producer,
                     _function(BACKGROUND_ERROR_RATE, RESERVED_CONCURRENCY))  # fmt: skip


def outage_base(grid: Grid, seed: int) -> Scenario:
    """Poisson publishes at 2/s for an hour; the outage comes with the variant."""
    return _scenario("sns-lambda-outage", seed, grid.outage_duration_s,
                     {"rate_per_s": grid.outage_rate_per_s},
                     _function(BACKGROUND_ERROR_RATE))  # fmt: skip


def outage_spec(mode: str) -> dict[str, Any]:
    """The function's 30-minute outage in ``mode`` (``failing``: every run hits the timeout)."""
    spec: dict[str, Any] = {"component": "worker", "start_s": OUTAGE_START_S,
                            "duration_s": OUTAGE_LENGTH_S}  # fmt: skip
    if mode == "failing":
        spec |= {"mode": "slow", "factor": OUTAGE_SLOW_FACTOR}
    return spec


class Point(NamedTuple):
    """One configuration: its study, parameters and the variant name that carries them."""

    study: str  # "errors", "throttling" or "outage"
    error_rate: float
    max_retries: int
    max_event_age_s: float
    on_failure: bool = False
    outage_mode: str = ""
    check: bool = False  # an identity check, not written to the tables
    drill: bool = False  # a traced drill-down (replication 0), for timelines.csv

    @property
    def name(self) -> str:
        """The variant's scenario name (unique per point)."""
        return (f"{self.study} p={self.error_rate:g} r={self.max_retries} "
                f"age={self.max_event_age_s:g} dest={int(self.on_failure)} "
                f"mode={self.outage_mode or '-'}{' drill' if self.drill else ''}")  # fmt: skip

    def updates(self) -> dict[str, Any]:
        """Dotted-path updates that turn the study's base scenario into this point."""
        out: dict[str, Any] = {
            "name": self.name,
            "components.worker.async.max_retries": self.max_retries,
            "components.worker.async.max_event_age_s": self.max_event_age_s,
            "components.worker.async.on_failure": "failures" if self.on_failure else None,
        }
        if self.study == "errors":
            out["components.worker.errors.rate"] = self.error_rate
        if self.outage_mode:
            out["outages"] = [outage_spec(self.outage_mode)]
        return out


BASES = {"errors": errors_base, "throttling": throttle_base, "outage": outage_base}


def scenario(grid: Grid, seed: int, p: Point) -> Scenario:
    """The scenario of ``p``: its study's base scenario with the point's updates."""
    return BASES[p.study](grid, seed).with_updates(p.updates())


def points(grid: Grid) -> dict[str, list[Point]]:
    """Every configuration of ``grid``, per study (destination variants and checks last)."""
    err = [Point("errors", p, r, age) for p in grid.error_rates for r in grid.retries
           for age in grid.error_ages_s]  # fmt: skip
    err += [Point("errors", p, max(grid.retries), DEFAULT_AGE_S, on_failure=True)
            for p in grid.error_rates]  # fmt: skip
    err.append(Point("errors", max(grid.error_rates), max(grid.retries), 600.0, check=True))
    rs, r_hi = grid.other_retries, max(grid.other_retries)
    thr = [Point("throttling", BACKGROUND_ERROR_RATE, r, age)
           for r in rs for age in grid.ages_s]  # fmt: skip
    thr += [Point("throttling", BACKGROUND_ERROR_RATE, r_hi, age, on_failure=True)
            for age in grid.ages_s]  # fmt: skip
    out = [Point("outage", BACKGROUND_ERROR_RATE, r, age, outage_mode=mode)
           for mode in OUTAGE_MODES for r in rs for age in grid.ages_s]  # fmt: skip
    out += [Point("outage", BACKGROUND_ERROR_RATE, r_hi, DEFAULT_AGE_S, on_failure=True,
                  outage_mode=mode) for mode in OUTAGE_MODES]  # fmt: skip
    return {"errors": err, "throttling": thr, "outage": out}


def drill_points(grid: Grid) -> list[Point]:
    """The drill-downs: throttling at the largest retries, each outage mode at both ends."""
    r_max = max(grid.other_retries)
    drills = [Point("throttling", BACKGROUND_ERROR_RATE, r_max, DEFAULT_AGE_S, drill=True)]
    drills += [Point("outage", BACKGROUND_ERROR_RATE, r, DEFAULT_AGE_S, outage_mode=mode,
                     drill=True)
               for mode in OUTAGE_MODES for r in sorted({min(grid.other_retries), r_max})]
    return drills


# --------------------------------------------------------------------------- measures


def measure(p: Point, r: RunResult) -> dict[str, float]:
    """Per-replication metrics of one run (fractions of the (message, function) pairs)."""
    n = _m(r, "deliveries_expected")
    lost, expired, dl = (_m(r, k) for k in ("lost", "expired", "dead_lettered"))
    return {
        "messages": n,
        "delivered_fraction": _m(r, "delivered") / n,
        "lost_fraction": lost / n,
        "expired_fraction": expired / n,
        "dead_lettered_fraction": dl / n,
        "failed_fraction": (lost + expired + dl) / n,
        "lost": lost,
        "expired": expired,
        "dead_lettered": dl,
        "in_flight": _m(r, "in_flight"),
        "latency_p50_s": _m(r, "latency_p50_s"),
        "latency_p99_s": _m(r, "latency_p99_s"),
        "latency_mean_s": _m(r, "latency_mean_s"),
        "latency_max_s": _m(r, "latency_max_s"),
        "attempts_per_message": _m(r, "attempts") / n,
        "throttles_per_message": _m(r, "throttles") / n,
        "cost_per_million_usd": _m(r, "cost_per_million_usd"),
    }


def _same_run(a: Mapping[str, float | None], b: Mapping[str, float | None]) -> bool:
    """``b`` is ``a`` with (some of) its failures sent to the destination (same events)."""
    keys = ("messages", "delivered_fraction", "attempts_per_message", "latency_p99_s")
    fails = ("lost", "expired", "dead_lettered")
    same = np.array([a[k] for k in keys], float), np.array([b[k] for k in keys], float)
    return bool(np.array_equal(*same, equal_nan=True)
                and sum(a[k] or 0.0 for k in fails) == sum(b[k] or 0.0 for k in fails))


def checked(p: Point, measured: Mapping[Hashable, Sequence[Mapping[str, float | None]]]
            ) -> list[Mapping[str, float | None]]:  # fmt: skip
    """A point's measures, after checking a destination or age variant against its twin.

    An ``on_failure`` variant must be the run without the destination, its lost and expired
    events dead-lettered instead; the ``check`` point (10 minutes) the run at 6 hours.

    Raises:
        RuntimeError: when a replication is not the run of its twin.
    """
    if p.on_failure or p.check:
        twin = p._replace(on_failure=False, check=False,
                          max_event_age_s=DEFAULT_AGE_S if p.check else p.max_event_age_s)
        for rep, (a, b) in enumerate(zip(measured[twin], measured[p], strict=True)):
            if not _same_run(a, b) or (p.on_failure and (b["lost"] or 0.0) + (
                    b["expired"] or 0.0) != 0):  # fmt: skip
                raise RuntimeError(f"{p.name} rep {rep} is not the run of {twin.name}: "
                                   f"{a} vs {b}")  # fmt: skip
    return list(measured[p])


def _fates(trace: pd.DataFrame) -> pd.DataFrame:
    """Per message: arrival (publish) time, time and kind of its end at the function."""
    tr = trace[["t_s", "component", "event", "msg_id"]]
    arrival = tr[(tr["component"] == "topic") & (tr["event"] == "publish")].groupby("msg_id")[
        "t_s"].min()  # fmt: skip
    fn = tr[(tr["component"] == "worker") & tr["event"].isin(["success", "failure", "expired"])]
    first_ok = fn[fn["event"] == "success"].groupby("msg_id")["t_s"].min()
    last = fn.groupby("msg_id").agg(end_s=("t_s", "max"), last=("event", "last"))
    df = pd.DataFrame({"arrival_s": arrival}).join(last).join(first_ok.rename("success_s"))
    df["delivered"] = df["success_s"].notna()
    df["end_s"] = df["success_s"].where(df["delivered"], df["end_s"])
    return df


def drill_measure(p: Point, r: RunResult) -> Detailed:
    """The timeline rows of a traced drill-down run (its detail; no measures).

    * throttling: deliveries per second and events waiting, per 20 s bin;
    * outage: by arrival minute, the share of events delivered and their median latency.
    """
    assert r.trace is not None
    f = _fates(r.trace)
    common = {"drill": p.study, "outage_mode": p.outage_mode, "max_retries": p.max_retries,
              "max_event_age_s": p.max_event_age_s}  # fmt: skip
    if p.study == "throttling":
        edges = np.arange(0.0, float(f["end_s"].max()) + TIMELINE_BIN_S, TIMELINE_BIN_S)
        ok = np.histogram(f.loc[f["delivered"], "end_s"], edges)[0]
        arrived = np.cumsum(np.histogram(f["arrival_s"], edges)[0])
        resolved = np.cumsum(np.histogram(f["end_s"], edges)[0])
        return Detailed({}, [
            {**common, "t_s": float(t), "delivered_per_s": ok[i] / TIMELINE_BIN_S,
             "waiting": int(arrived[i] - resolved[i]), "delivered_share": math.nan,
             "latency_median_s": math.nan} for i, t in enumerate(edges[:-1])])  # fmt: skip
    f["bin"] = (f["arrival_s"] // ARRIVAL_BIN_S) * ARRIVAL_BIN_S
    f["latency_s"] = f["success_s"] - f["arrival_s"]
    return Detailed({}, [
        {**common, "t_s": float(cast(float, t)), "delivered_per_s": math.nan, "waiting": math.nan,
         "delivered_share": float(g["delivered"].mean()),
         "latency_median_s": float(g["latency_s"].median())}
        for t, g in f.groupby("bin")])  # fmt: skip


# --------------------------------------------------------------------------- theory


def retries_that_fit(max_event_age_s: float, duration_s: float = MEAN_DURATION_S) -> int:
    """Function-error retries that come before the event's maximum age (no throttling)."""
    t, fit = duration_s, 0
    for gap in RETRY_GAPS_S:
        t += gap
        if t >= max_event_age_s:
            break
        fit += 1
        t += duration_s
    return fit


def error_theory(p: float, r: int, age_s: float) -> dict[str, float]:
    """Lost, expired and failed shares for independent errors p, r retries, maximum age."""
    fit = retries_that_fit(age_s)
    failed = async_lambda_loss(p, min(r, fit))
    lost = failed if r <= fit else 0.0
    return {"lost_fraction": lost, "expired_fraction": failed - lost, "failed_fraction": failed}


def outage_approximation(mode: str, p: float, r: int, age_s: float, horizon_s: float,
                         step_s: float = 1.0) -> float:  # fmt: skip
    """Share of events that fail for good around the outage (see :mod:`experiments.sns_lambda`).

    Deterministic attempt times for each arrival time on a ``step_s`` grid over
    [0, ``horizon_s``): a run takes the mean duration (the timeout inside a failing window);
    an attempt inside the failing window fails, elsewhere with probability ``p``; an event
    arriving during an unavailable window enters the function's queue at its end (SNS retries
    the hand-over, at most 20 s apart), and an event whose next attempt falls inside it waits
    for its end, expiring if that is beyond its maximum age.
    """
    start, end = OUTAGE_START_S, OUTAGE_START_S + OUTAGE_LENGTH_S
    total = 0.0
    arrivals = np.arange(0.0, horizon_s, step_s) + step_s / 2
    for a in arrivals:
        t = end if mode == "unavailable" and start <= a < end else float(a)
        enq, p_all = t, 1.0
        for k in range(r + 1):
            if mode == "unavailable" and start <= t < end:
                if end - enq >= age_s:
                    break  # expires while waiting for the end of the outage
                t = end
            inside = mode == "failing" and start <= t < end
            p_all *= 1.0 if inside else p
            if k == r:
                break
            t += (TIMEOUT_S if inside else MEAN_DURATION_S) + RETRY_GAPS_S[k]
            if t - enq >= age_s:
                break  # the retry would come too late: expired
        total += p_all
    return total / len(arrivals)


def exact_interval(count: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Clopper–Pearson interval of a binomial proportion."""
    alpha = 1.0 - level
    lo = 0.0 if count == 0 else float(sps.beta.ppf(alpha / 2, count, n - count + 1))
    hi = 1.0 if count == n else float(sps.beta.ppf(1 - alpha / 2, count + 1, n - count))
    return lo, hi


# --------------------------------------------------------------------------- design


def columns(p: Point) -> dict[str, Any] | None:
    """The columns identifying a point in its study's table (None: a check or drill-down)."""
    if p.check or p.drill:
        return None
    mode: dict[str, Any] = {"outage_mode": p.outage_mode} if p.study == "outage" else {}
    return mode | {"error_rate": p.error_rate, "max_retries": p.max_retries,
                   "max_event_age_s": p.max_event_age_s, "on_failure": p.on_failure}  # fmt: skip


def grid_of(o: Options) -> Grid:
    """The grid of an invocation: ``QUICK`` with ``--quick``, else ``FULL``."""
    return QUICK if o.quick else FULL


def designs(o: Options) -> list[Design[Point]]:
    """The three studies (destination variants checked against their twins), then the drills.

    The drill-downs name the ``timelines`` table but tabulate nothing: its rows are their
    details, gathered after the runs (:func:`experiments.sns_lambda.extra_tables`).
    """
    grid = grid_of(o)
    scenario_of = functools.partial(scenario, grid, o.seed)
    studies = [
        Design(study, pts, scenario_of, measure, grid.replications[study], study, columns,
               derive=checked, level=LEVEL)
        for study, pts in points(grid).items()
    ]  # fmt: skip
    drills = Design("drills", drill_points(grid), scenario_of, drill_measure, 1, "timelines",
                    columns, rep_indices=lambda n: [0], trace=True)  # fmt: skip
    return [*studies, drills]
