"""Shared helpers for the simulator tests: build and run small scenarios, read traces."""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest
from hypothesis import settings

from sim.analysis.metrics import RunResult
from sim.build import Model, build, run_once
from sim.config import scenario_from_dict
from sim.engine.fates import FATES
from sim.engine.ledger import Ledger
from sim.engine.schedule import Environment
from sim.engine.streams import RandomStreams

# CI runs the property tests on a fixed set of examples (reproducible runs); a developer's
# `make test` explores new ones each time (HYPOTHESIS_PROFILE=ci to reproduce CI).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

#: Zero AWS overheads: a function with no cold start (exact timelines).
NO_COLD = {"duration_s": 0}

Row = tuple[float, str, str]


#: A value for :func:`put` that deletes the key instead.
DELETE = object()


def put(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set a dotted path in plain scenario data (list indexes as numbers; ``DELETE`` removes)."""
    *parents, last = dotted.split(".")
    node: Any = data
    for seg in parents:
        node = node[int(seg)] if isinstance(node, list) else node.setdefault(seg, {})
    if isinstance(node, list):
        node[int(last)] = value
    elif value is DELETE:
        del node[last]
    else:
        node[last] = value


def variant(base: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``updates`` (dotted path -> value) applied by :func:`put`."""
    data = copy.deepcopy(dict(base))
    for dotted, value in updates.items():
        put(data, dotted, value)
    return data


def conserved(r: RunResult) -> None:
    """Every pair has one fate, nothing is left in flight, per sink and in total."""
    m = r.metrics
    assert sum(m[f] for f in FATES) == m["deliveries_expected"]
    assert m["in_flight"] == 0
    for s in r.sinks.values():
        assert sum(s[f] for f in FATES) == s["deliveries_expected"]


def scenario(data: Mapping[str, Any]):
    """Validate a scenario dict (deep-copied, so callers may reuse their dicts)."""
    return scenario_from_dict(copy.deepcopy(dict(data)))


def run(data: Mapping[str, Any], **kw: Any) -> RunResult:
    """Run one replication of ``data`` with the trace on (``run_once`` keyword overrides)."""
    kw.setdefault("trace", True)
    return run_once(scenario(data), **kw)


def model(data: Mapping[str, Any], **kw: Any) -> Model:
    """Build (not run) ``data`` with the trace on."""
    kw.setdefault("trace", True)
    return build(scenario(data), **kw)


def rows(result: RunResult | pd.DataFrame, msg_id: int | None = None) -> list[Row]:
    """The trace rows ``(t_s, component, event)`` in order, for one message or all."""
    trace = result if isinstance(result, pd.DataFrame) else result.trace
    assert trace is not None
    if msg_id is not None:
        trace = trace[trace["msg_id"] == msg_id]
    return [
        (round(float(t), 9), str(c), str(e))
        for t, c, e in zip(trace["t_s"], trace["component"], trace["event"], strict=True)
    ]


def events(result: RunResult, component: str, event: str, msg_id: int | None = None) -> list[float]:
    """Times of ``event`` logged by ``component`` (optionally for one message)."""
    return [t for t, c, e in rows(result, msg_id) if c == component and e == event]


def msg_ids(result: RunResult) -> list[int]:
    """Message ids seen in the trace, ascending."""
    assert result.trace is not None
    return sorted(int(m) for m in result.trace["msg_id"].unique())


def pipeline(
    *,
    arrivals: Mapping[str, Any] | None = None,
    queue: Mapping[str, Any] | None = None,
    function: Mapping[str, Any] | None = None,
    trigger: Mapping[str, Any] | None = None,
    producer: Mapping[str, Any] | None = None,
    dlq: Mapping[str, Any] | bool | None = None,
    max_receive_count: int = 3,
    duration_s: float = 1.0,
    drain_s: float = 600.0,
    outages: list[Mapping[str, Any]] | None = None,
    **top: Any,
) -> dict[str, Any]:
    """A producer → queue ``q`` (→ DLQ ``dlq``) → function ``fn`` scenario with zero overheads.

    Defaults: one message at t=0, visibility timeout 30 s, batch size 1, max concurrency 1000,
    function duration 1 s and timeout 10 s, no cold start.
    """
    queue_spec: dict[str, Any] = {"type": "sqs_queue", "visibility_timeout_s": 30, **(queue or {})}
    fifo = bool(queue_spec.get("fifo", False))
    comps: dict[str, Any] = {
        "prod": {
            "type": "producer",
            "arrivals": dict(arrivals or {"bursts": [{"at_s": 0, "count": 1}]}),
            "send_to": ["q"],
            **(producer or {}),
        },
        "q": queue_spec,
        "fn": {
            "type": "lambda_function",
            "trigger": {"source": "q", "batch_size": 1, **(trigger or {})},
            "duration_s": 1,
            "timeout_s": 10,
            "cold_start": dict(NO_COLD),
            **(function or {}),
        },
    }
    if dlq is not None and dlq is not False:
        extra = dlq if isinstance(dlq, Mapping) else {}
        comps["dlq"] = {"type": "sqs_queue", "fifo": fifo, **extra}
        queue_spec["dead_letter"] = {"target": "dlq", "max_receive_count": max_receive_count}
    data: dict[str, Any] = {
        "name": "t",
        "duration_s": duration_s,
        "drain_s": drain_s,
        "components": comps,
        **top,
    }
    if outages:
        data["outages"] = [dict(o) for o in outages]
    return data


class Clock:
    """A settable clock for unit tests of the ledger (``.now``, and callable for ``now()``)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def new_pairs(ledger: Ledger, msg: Any, sinks: list[str | None]) -> list[Any]:
    """``ledger.new_pairs`` for ``sinks``, registering the sinks first (as the builder does)."""
    route = getattr(ledger, "route", None)
    if route is not None:
        return ledger.new_pairs(msg, route(sinks))
    for s in sinks:
        if s is not None:
            ledger.sink(s)
    return ledger.new_pairs(msg, sinks)  # type: ignore[arg-type]


@pytest.fixture
def env() -> Environment:
    return Environment()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> Ledger:
    return Ledger(clock)  # type: ignore[arg-type]


def poison_seed(pattern: list[bool], rate: float = 0.5, producer: str = "prod") -> int:
    """The smallest root seed whose first messages of ``producer`` are poison as in ``pattern``.

    Message ``i`` is poison for a function with ``poison_rate`` ``rate`` when the i-th draw of
    the producer's ``poison`` stream is below ``rate`` (drawn with the workload).
    """
    for seed in range(10_000):
        draw = RandomStreams(seed, 0).uniform(producer, "poison")
        if [draw() < rate for _ in pattern] == pattern:
            return seed
    raise AssertionError(f"no seed gives the poison pattern {pattern}")  # pragma: no cover


EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"


if str(EXPERIMENTS_DIR.parent) not in sys.path:
    sys.path.insert(0, str(EXPERIMENTS_DIR.parent))  # studies import each other as experiments.*


def load_experiment(name: str) -> ModuleType:
    """Import the study ``experiments/NAME.py`` (as ``experiments.NAME``)."""
    return importlib.import_module(f"experiments.{name}")


def quick_run(tmp_path_factory: pytest.TempPathFactory, name: str, workers: int = 1) -> Path:
    """One ``--quick`` run of ``experiments/NAME.py`` into a fresh ``results/NAME`` folder."""
    out = tmp_path_factory.mktemp("results") / name
    args = ["--quick", "--out", str(out), "--workers", str(workers)]
    assert load_experiment(name).main(args) == 0
    return out


def table_row(table: pd.DataFrame, metric: str, **eq: object) -> pd.Series:
    """The one row of an experiment's tidy table with ``metric`` and the given key values."""
    sel = table[table["metric"] == metric]
    for col, val in eq.items():
        sel = sel[sel[col] == val]
    assert len(sel) == 1, (metric, eq, len(sel))
    return sel.iloc[0]


def assert_theory_inside_ci(case: Any) -> None:
    """A :class:`sim.study.validation.Case`'s closed form lies inside the simulation's 99% CI."""
    from sim.study.validation import check_case

    row = check_case(case, level=0.99, workers=1)
    assert row["replications"] == case.replications
    assert row["inside_ci"], (
        f"{case.name}: theory {row['theory']:.6g} {case.unit} is outside the 99% CI "
        f"[{row['ci_low']}, {row['ci_high']}] of the simulated mean {row['sim_mean']:.6g} "
        f"over {row['replications']} replications"
    )


#: About 60 messages per replication, some failing, some dead-lettered: runs in milliseconds.
TINY = """\
name: tiny
seed: 3
duration_s: 30
drain_s: 30
replications: 3
components:
  orders: {type: producer, rate_per_s: 2, send_to: [jobs]}
  jobs:
    type: sqs_queue
    visibility_timeout_s: 5
    dead_letter: {target: jobs-dlq, max_receive_count: 2}
  jobs-dlq: {type: sqs_queue}
  worker:
    type: lambda_function
    trigger: {source: jobs, batch_size: 1, max_concurrency: 2}
    duration_s: {exponential: {mean: 0.2}}
    timeout_s: 5
    errors: {rate: 0.1}
"""


def read_table(out: Path, name: str) -> pd.DataFrame:
    """A study's table ``<out>/<name>.csv``."""
    return pd.read_csv(out / f"{name}.csv")


def table_mean(df: pd.DataFrame, metric: str, **eq: object) -> float:
    """The mean of ``metric`` in the one row of ``df`` matching ``eq``."""
    return float(table_row(df, metric, **eq)["mean"])
