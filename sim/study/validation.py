"""Theory checks: idealised scenarios whose answers are known in closed form.

Each :class:`Case` is a scenario with the AWS overheads zeroed (queue latency, poll delay and
cold start 0; batch size 1), a closed form from :mod:`sim.analysis.theory`, and a function that
reads the simulated quantity off one replication. A case passes when the theoretical value lies
inside the simulation's confidence interval (t-based, 99% by default) over seeded
replications.

Cases: M/M/1 and M/M/c (Erlang C) mean sojourn; Little's law (time-average number in the
system from the integral of the in-flight count, against λ·W of theory); P(dead-lettered) = p^k
and mean attempts (1 − p^k)/(1 − p); SDK retries (loss = q^m); sequential fan-out without
retries (all delivered = (1 − q)^N); EventBridge target retries (loss = q^(r+1), mean
attempts (1 − q^(r+1))/(1 − q) at an HTTP endpoint target).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.analysis import theory
from sim.analysis.metrics import RunResult, ci_stats
from sim.config import EvsimWarning, Scenario, scenario_from_dict
from sim.study.design import Design
from sim.study.runner import measure

__all__ = [
    "COLUMNS",
    "DEFAULT_SEED",
    "Case",
    "cases",
    "check_case",
    "check_cases",
    "designs",
    "run_checks",
]

#: Root seed of the theory checks.
DEFAULT_SEED = 20261127

_IDEAL_FN: dict[str, Any] = {
    "cold_start": {"duration_s": 0},
    "timeout_s": 900,
}


@dataclass(frozen=True)
class Case:
    """One theory check: a scenario, its closed-form answer and how to read the simulation."""

    name: str
    scenario: Scenario
    theory: float
    measure: Callable[[RunResult], float | None]
    replications: int
    unit: str = ""


def _scenario(data: dict[str, Any]) -> Scenario:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvsimWarning)  # max_concurrency 1 is idealised on purpose
        return scenario_from_dict(data, source=f"<validation:{data['name']}>")


def mmc_scenario(rho: float, servers: int, messages: int, mean_s: float = 1.0) -> Scenario:
    """SQS → Lambda as an M/M/c queue: Poisson arrivals, exponential durations, no overheads."""
    lam = rho * servers / mean_s
    duration = messages / lam
    return _scenario(
        {
            "name": f"mmc-c{servers}-rho{rho}",
            "duration_s": duration,
            "warmup_s": 0.1 * duration,
            "drain_s": 0.2 * duration + 200 * mean_s,
            "components": {
                "arrivals": {"type": "producer", "rate_per_s": lam, "send_to": ["queue"]},
                "queue": {"type": "sqs_queue", "visibility_timeout_s": 43200},
                "server": {
                    "type": "lambda_function",
                    "trigger": {"source": "queue", "batch_size": 1, "max_concurrency": servers},
                    "duration_s": {"exponential": {"mean": mean_s}},
                    **_IDEAL_FN,
                },
            },
        }
    )


def tandem_scenario(
    lam: float, stages: Sequence[tuple[int, float]], messages: int
) -> Scenario:
    """SQS → Lambda → SQS → Lambda ...: each stage an M/M/c queue (``(c, mean_s)``) in tandem.

    Each function emits one derived message to the next stage's queue, with no overheads.
    """
    duration = messages / lam
    longest = max(mean for _, mean in stages)
    comps: dict[str, Any] = {
        "arrivals": {"type": "producer", "rate_per_s": lam, "send_to": ["queue0"]},
    }
    for i, (c, mean) in enumerate(stages):
        comps[f"queue{i}"] = {"type": "sqs_queue", "visibility_timeout_s": 43200}
        fn: dict[str, Any] = {
            "type": "lambda_function",
            "trigger": {"source": f"queue{i}", "batch_size": 1, "max_concurrency": c},
            "duration_s": {"exponential": {"mean": mean}},
            **_IDEAL_FN,
        }
        if i + 1 < len(stages):
            fn["outputs"] = [{"to": f"queue{i + 1}"}]
        comps[f"stage{i}"] = fn
    name = "tandem-" + "-".join(f"c{c}m{m}" for c, m in stages)
    return _scenario(
        {
            "name": name,
            "duration_s": duration,
            "warmup_s": 0.1 * duration,
            "drain_s": 0.2 * duration + 200 * longest,
            "components": comps,
        }
    )


def database_scenario(
    rate: float,
    connections: int,
    waiting: int | None,
    mean_service_s: float,
    mean_patience_s: float | None,
    duration_s: float,
) -> Scenario:
    """Poisson arrivals → a function (no duration, no overheads) that calls one database.

    The producer invokes the function asynchronously (no retries), the function makes one call
    (no SDK retry, client timeout exponential with ``mean_patience_s``, if given): the
    database with ``connections`` connections and a line of ``waiting`` sees Poisson calls.
    """
    call: dict[str, Any] = {"dependency": "db", "retry": {"max_attempts": 1}}
    if mean_patience_s is not None:
        call["timeout_s"] = {"exponential": {"mean": mean_patience_s}}
    return _scenario(
        {
            "name": f"db-c{connections}-w{waiting}-l{rate}-p{mean_patience_s}",
            "duration_s": duration_s,
            "warmup_s": 0.1 * duration_s,
            "drain_s": 600,
            "components": {
                "arrivals": {"type": "producer", "rate_per_s": rate, "send_to": ["caller"]},
                "caller": {
                    "type": "lambda_function",
                    "duration_s": 0,
                    "async": {"max_retries": 0},
                    "calls": [call],
                    **_IDEAL_FN,
                },
                "db": {
                    "type": "database",
                    "max_connections": connections,
                    "waiting": waiting,
                    "service_time_s": {"exponential": {"mean": mean_service_s}},
                },
            },
        }
    )


def dynamodb_scenario(rate: float, units: int, duration_s: float, warmup_s: float) -> Scenario:
    """Poisson writes (1 KB, no SDK retry) at ``rate`` against ``units`` provisioned WCU."""
    return _scenario(
        {
            "name": f"dynamodb-wcu{units}-l{rate}",
            "duration_s": duration_s,
            "warmup_s": warmup_s,
            "drain_s": 60,
            "components": {
                "arrivals": {"type": "producer", "rate_per_s": rate, "send_to": ["caller"]},
                "caller": {
                    "type": "lambda_function",
                    "duration_s": 0,
                    "async": {"max_retries": 0},
                    "calls": [{"dependency": "table", "op": "write", "size_kb": 1,
                               "retry": {"max_attempts": 1}}],
                    **_IDEAL_FN,
                },
                "table": {
                    "type": "dynamodb_table",
                    "capacity_mode": "provisioned",
                    "read_capacity_units": units,
                    "write_capacity_units": units,
                    "latency_s": 0,
                },
            },
        }
    )


def dlq_scenario(p_fail: float, max_receive_count: int, messages: int) -> Scenario:
    """SQS → Lambda → DLQ with independent attempt failures of probability ``p_fail``."""
    rate = 5.0
    vt = 2.0
    return _scenario(
        {
            "name": f"dlq-p{p_fail}-k{max_receive_count}",
            "duration_s": messages / rate,
            "drain_s": (max_receive_count + 2) * vt + 30,
            "components": {
                "arrivals": {"type": "producer", "rate_per_s": rate, "send_to": ["queue"]},
                "queue": {
                    "type": "sqs_queue",
                    "visibility_timeout_s": vt,
                    "dead_letter": {"target": "dlq", "max_receive_count": max_receive_count},
                },
                "dlq": {"type": "sqs_queue"},
                "worker": {
                    "type": "lambda_function",
                    "trigger": {"source": "queue", "batch_size": 1},
                    "duration_s": 0.01,
                    "errors": {"rate": p_fail},
                    "cold_start": {"duration_s": 0},
                    "timeout_s": 1,
                },
            },
        }
    )


def fanout_scenario(q_fail: float, targets: int, max_attempts: int, messages: int) -> Scenario:
    """A producer sending to ``targets`` queues in turn, each send failing with ``q_fail``."""
    rate = 10.0
    comps: dict[str, Any] = {
        "producer": {
            "type": "producer",
            "rate_per_s": rate,
            "send_to": [f"q{i}" for i in range(targets)],
            "retry": {"max_attempts": max_attempts, "base_s": 0.05, "cap_s": 1.0},
        }
    }
    for i in range(targets):
        comps[f"q{i}"] = {"type": "sqs_queue", "errors": {"rate": q_fail}}
        comps[f"f{i}"] = {
            "type": "lambda_function",
            "trigger": {"source": f"q{i}", "batch_size": 1},
            "duration_s": 0.01,
            "cold_start": {"duration_s": 0},
        }
    return _scenario(
        {
            "name": f"fanout-q{q_fail}-n{targets}-m{max_attempts}",
            "duration_s": messages / rate,
            "drain_s": 60,
            "components": comps,
        }
    )


def eventbridge_scenario(q_fail: float, retries: int, events: int) -> Scenario:
    """Events on a bus whose one rule targets an HTTP endpoint failing with ``q_fail``.

    The target is retried ``retries`` times (backoff from 0.1 s, cap 1 s), without a DLQ.
    """
    rate = 10.0
    return _scenario(
        {
            "name": f"eventbridge-q{q_fail}-r{retries}",
            "duration_s": events / rate,
            "drain_s": 120,
            "components": {
                "producer": {"type": "producer", "rate_per_s": rate, "send_to": ["bus"]},
                "bus": {
                    "type": "event_bus",
                    "rules": [{
                        "name": "all",
                        "pattern": {"source": ["producer"]},
                        "targets": [{"target": "api", "retry": {
                            "max_attempts": retries, "base_s": 0.1, "cap_s": 1.0}}],
                    }],
                },
                "api": {"type": "endpoint", "protocol": "https", "errors": {"rate": q_fail}},
            },
        }
    )  # fmt: skip


@dataclass(frozen=True)
class _Metric:
    """Run metric ``name`` as a float (picklable: it runs in the worker)."""

    name: str

    def __call__(self, r: RunResult) -> float | None:
        v = r.metrics[self.name]
        return None if v is None else float(v)


@dataclass(frozen=True)
class _SinkMetric:
    """Metric ``name`` of sink ``sink`` as a float."""

    sink: str
    name: str

    def __call__(self, r: RunResult) -> float | None:
        v = r.sinks[self.sink][self.name]
        return None if v is None else float(v)


@dataclass(frozen=True)
class _Dependency:
    """Metric ``name`` of dependency ``dep``; divided by its ``calls`` when ``per_call``."""

    dep: str
    name: str
    per_call: bool = False

    def __call__(self, r: RunResult) -> float | None:
        m = r.dependencies[self.dep]
        v = m[self.name]
        if v is None:
            return None
        if self.per_call:
            return float(v) / m["calls"] if m["calls"] else None
        return float(v)


@dataclass(frozen=True)
class _Ratio:
    """Run metric ``num`` ÷ run metric ``den`` (None where ``den`` is 0)."""

    num: str
    den: str

    def __call__(self, r: RunResult) -> float | None:
        d = r.metrics[self.den]
        return float(r.metrics[self.num]) / d if d else None


@dataclass(frozen=True)
class _LittlesL:
    """Time-average number in the system at ``sink``: the in-flight integral ÷ the window."""

    sink: str

    def __call__(self, r: RunResult) -> float | None:
        area = r.diagnostics["in_flight_area"][self.sink]
        return float(area) / float(r.diagnostics["arrival_window_s"])


def cases(quick: bool = False) -> list[Case]:
    """Every theory check; ``quick`` shortens runs (same cases, wider intervals)."""
    scale = 0.25 if quick else 1.0
    reps = 10 if quick else 20
    out: list[Case] = []
    for rho in (0.3, 0.6, 0.9):
        n = int((8000 if rho < 0.9 else 30000) * scale)
        s = mmc_scenario(rho, 1, n)
        lam = rho
        out.append(
            Case(f"M/M/1 mean sojourn, rho={rho}", s, theory.mm1_mean_sojourn_s(lam, 1.0),
                 _Metric("latency_mean_s"), reps, "s")
        )
    for c, rho in ((2, 0.5), (4, 0.9), (8, 0.7), (8, 0.3)):
        n = int((10000 if rho < 0.9 else 30000) * scale)
        s = mmc_scenario(rho, c, n)
        lam = rho * c
        out.append(
            Case(f"M/M/{c} mean sojourn (Erlang C), rho={rho}", s,
                 theory.mmc_mean_sojourn_s(lam, 1.0, c), _Metric("latency_mean_s"), reps, "s")
        )
        if (c in (4, 8) and rho == 0.7) or c == 4:
            out.append(
                Case(f"Little's law L=λW, M/M/{c}, rho={rho}", s,
                     theory.mmc_mean_in_system(lam, 1.0, c), _LittlesL("server"), reps,
                     "messages")
            )
    for lam, stages in ((0.7, ((1, 1.0), (2, 1.2))), (3.0, ((4, 1.0), (2, 0.5)))):
        n = int(12000 * scale)
        s = tandem_scenario(lam, stages, n)
        (c1, m1), (c2, m2) = stages
        out.append(
            Case(f"tandem M/M/{c1} → M/M/{c2} end-to-end sojourn (Jackson), λ={lam}", s,
                 theory.mmc_mean_sojourn_s(lam, 1 / m1, c1)
                 + theory.mmc_mean_sojourn_s(lam, 1 / m2, c2),
                 _SinkMetric("stage1", "latency_mean_s"), reps, "s")
        )
    for c, lam, mean in ((5, 4.0, 1.0), (2, 2.0, 0.5)):
        s = database_scenario(lam, c, 0, mean, None, 4000 * scale)
        out.append(
            Case(f"database, {c} connections, no line: refused = Erlang B, a={lam * mean:g}", s,
                 theory.erlang_b(c, lam * mean), _Dependency("db", "throttled", True), reps,
                 "probability")
        )
    for c, lam, patience in ((5, 6.0, 2.0), (3, 2.7, 5.0)):
        s = database_scenario(lam, c, None, 1.0, patience, 4000 * scale)
        theta = 1.0 / patience
        out.append(
            Case(f"database + client timeouts: left the line = Erlang A, c={c}, λ={lam:g}, "
                 f"θ={theta:g}", s, theory.erlang_a_abandon_probability(lam, 1.0, c, theta),
                 _Dependency("db", "left_line", True), reps, "probability")
        )
        out.append(
            Case(f"database + client timeouts: mean wait = Erlang A, c={c}, λ={lam:g}, "
                 f"θ={theta:g}", s, theory.erlang_a_mean_wait_s(lam, 1.0, c, theta),
                 _Dependency("db", "wait_mean_s"), reps, "s")
        )
    for units, lam in ((10, 5.0), (10, 20.0)):
        s = dynamodb_scenario(lam, units, 600 + 2000 * scale, 600)
        out.append(
            Case(f"DynamoDB {units} WCU at λ={lam:g}/s: throttled = max(0, 1 − R/λ) once the "
                 "burst credit is spent", s, max(0.0, 1.0 - units / lam),
                 _Dependency("table", "throttled", True), reps, "probability")
        )
    for p, k in ((0.05, 1), (0.2, 2), (0.5, 4), (0.3, 3), (0.5, 10)):
        n = int((4000 if p**k > 0.01 else 20000) * scale)
        s = dlq_scenario(p, k, n)
        out.append(
            Case(f"P(dead-lettered)=p^k, p={p}, k={k}", s, theory.dead_letter_probability(p, k),
                 _Ratio("dead_lettered", "deliveries_expected"), reps, "probability")
        )
        out.append(
            Case(f"mean attempts (1-p^k)/(1-p), p={p}, k={k}", s, theory.mean_attempts(p, k),
                 _Ratio("attempts", "deliveries_expected"), reps, "attempts per message")
        )
    s = fanout_scenario(0.1, 3, 1, int(4000 * scale))
    out.append(
        Case("sequential fan-out all delivered=(1-q)^N, q=0.1, N=3", s,
             theory.sequential_fanout_all_delivered(0.1, 3), _Metric("all_delivered_fraction"),
             reps, "probability")
    )
    s = fanout_scenario(0.3, 1, 3, int(4000 * scale))
    out.append(
        Case("SDK retries: send lost=q^m, q=0.3, m=3", s, theory.sdk_send_failure(0.3, 3),
             _Ratio("lost", "deliveries_expected"), reps, "probability")
    )
    for q, r in ((0.5, 0), (0.5, 2), (0.3, 3)):
        s = eventbridge_scenario(q, r, int((4000 if q ** (r + 1) > 0.05 else 12000) * scale))
        out.append(
            Case(f"EventBridge target lost=q^(r+1), q={q}, r={r}", s,
                 theory.eventbridge_target_loss(q, r), _Ratio("lost", "deliveries_expected"),
                 reps, "probability")
        )
        out.append(
            Case(f"EventBridge mean attempts (1-q^(r+1))/(1-q), q={q}, r={r}", s,
                 theory.mean_attempts(q, r + 1), _Ratio("attempts", "deliveries_expected"),
                 reps, "attempts per event")
        )
    return out


#: The columns of the theory-check table, in order.
COLUMNS: tuple[str, ...] = ("case", "theory", "sim_mean", "ci_low", "ci_high", "inside_ci",
                            "replications", "level", "unit")  # fmt: skip


def _measure_cases(cases: Sequence[Case], point: int, r: RunResult) -> dict[str, float | None]:
    """What each case reads off one replication (in the worker), by case name."""
    return {c.name: c.measure(r) for c in cases}


def _case_rows(
    cases: Sequence[Case], level: float, point: int, per_rep: Sequence[Mapping[str, float | None]]
) -> list[dict[str, Any]]:
    rows = []
    for case in cases:
        s = ci_stats([m.get(case.name) for m in per_rep], level)
        lo, hi = s["ci_low"], s["ci_high"]
        rows.append({
            "case": case.name, "theory": case.theory, "sim_mean": s["mean"], "ci_low": lo,
            "ci_high": hi, "inside_ci": lo is not None and hi is not None
            and lo <= case.theory <= hi, "replications": s["n"], "level": level,
            "unit": case.unit,
        })  # fmt: skip
    return rows


def _same_scenario(scenario: Scenario, point: int) -> Scenario:
    return scenario


def _groups(selected: Sequence[Case]) -> list[tuple[Case, ...]]:
    """Consecutive cases on the same scenario object with the same number of replications."""
    groups: list[list[Case]] = []
    for case in selected:
        last = groups[-1][0] if groups else None
        if last is not None and last.scenario is case.scenario and (
            last.replications == case.replications
        ):
            groups[-1].append(case)
        else:
            groups.append([case])
    return [tuple(g) for g in groups]


def designs(selected: Sequence[Case], level: float = 0.99) -> list[Design[int]]:
    """The theory checks as study designs: one per run of consecutive cases on one scenario.

    Cases on the same scenario object with the same number of replications, one after the
    other, share one set of runs (one design, one point); the table ``validation`` has one
    row per case, in order (:data:`COLUMNS`).
    """
    groups = _groups(selected)
    return [
        Design(f"{i + 1}/{len(groups)} {g[0].scenario.name}", [i],
               functools.partial(_same_scenario, g[0].scenario),
               functools.partial(_measure_cases, g), g[0].replications, "validation",
               lambda i: {"group": i}, rows=functools.partial(_case_rows, g, level),
               level=level, seed_column=False)
        for i, g in enumerate(groups)
    ]  # fmt: skip


def check_case(
    case: Case, level: float = 0.99, workers: int | None = 1, seed: int = DEFAULT_SEED
) -> dict[str, Any]:
    """Run ``case`` and compare.

    Returns:
        ``{case, theory, sim_mean, ci_low, ci_high, inside_ci, replications, level, unit}``.
    """
    return _check_rows([case], level, workers, seed)[0]


def _check_rows(selected: Sequence[Case], level: float, workers: int | None, seed: int,
                progress: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    ds = designs(selected, level)
    run = measure(ds, seed, workers=workers, progress=progress, label="validation")
    return [row for i, g in enumerate(_groups(selected))
            for row in _case_rows(g, level, i, run.measures[i])]  # fmt: skip


def check_cases(
    selected: Sequence[Case],
    level: float = 0.99,
    workers: int | None = None,
    seed: int = DEFAULT_SEED,
    progress: bool = False,
) -> pd.DataFrame:
    """Run ``selected`` cases; one row per case, in order (see :func:`check_case`).

    Consecutive cases built on the same scenario object with the same number of replications
    share one set of runs (:func:`designs`); each row is identical to what
    :func:`check_case` gives for its case alone.
    """
    return pd.DataFrame(_check_rows(selected, level, workers, seed, progress),
                        columns=list(COLUMNS))  # fmt: skip


def run_checks(
    quick: bool = False,
    level: float = 0.99,
    workers: int | None = None,
    progress: bool = False,
    seed: int = DEFAULT_SEED,
) -> pd.DataFrame:
    """Run every case; one row per case (see :func:`check_case`)."""
    return check_cases(cases(quick), level, workers, seed, progress)
