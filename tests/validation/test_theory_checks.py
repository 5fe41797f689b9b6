"""Theory checks (DESIGN §7): the simulator against closed forms, one test per case.

Each case of :func:`sim.study.validation.cases` (quick size) runs its seeded replications and passes
when the theoretical value lies inside the simulation's 99% t-interval. These are statistical
checks of the whole simulator and take seconds each: marked ``slow``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import assert_theory_inside_ci

from sim.build import build
from sim.config import (
    ConstantDist,
    EndpointSpec,
    EventBusSpec,
    LambdaFunctionSpec,
    SqsQueueSpec,
)
from sim.services.dependency import CallHandle, CallRequest, Dependency, Reply
from sim.study.validation import Case, cases

CASES = cases(quick=True)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_theory_lies_inside_the_99_percent_ci(case: Case) -> None:
    assert_theory_inside_ci(case)


def _zero(dist: object) -> bool:
    return isinstance(dist, ConstantDist) and dist.value == 0


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_case_has_the_aws_overheads_zeroed(case: Case) -> None:
    s = case.scenario
    queues = s.of_type(SqsQueueSpec)
    functions = s.of_type(LambdaFunctionSpec)
    buses = s.of_type(EventBusSpec)
    dependencies = {n: c for n, c in s.components.items()
                    if c.type in ("database", "dynamodb_table", "http_api")}  # fmt: skip
    assert (queues and functions) or buses or dependencies
    for name, dep in dependencies.items():
        assert _zero(dep.latency_s), (name, dep.latency_s)
    for name, bus in buses.items():
        assert _zero(bus.latency_s), (name, bus.latency_s)
        for ep_name, ep in s.of_type(EndpointSpec).items():
            assert _zero(ep.latency_s), (ep_name, ep.latency_s)
    for name, q in queues.items():
        assert _zero(q.latency_s), (name, q.latency_s)
        assert q.delay_s == 0, (name, q.delay_s)
    for name, fn in functions.items():
        assert _zero(fn.cold_start.duration_s), (name, fn.cold_start.duration_s)
        if fn.trigger is None:  # a pass-through to its calls, invoked asynchronously
            assert dependencies and _zero(fn.duration_s), (name, fn.duration_s)
            continue
        assert fn.trigger.batch_size == 1, (name, fn.trigger.batch_size)
        assert _zero(fn.trigger.poll_delay_s), (name, fn.trigger.poll_delay_s)
    assert s.outages == ()


def test_cases_have_unique_names_and_valid_theory() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 15
    assert all(c.theory >= 0 and c.replications >= 2 for c in CASES)
    assert [c.name for c in cases(quick=False)] == names  # quick = same cases, shorter runs


#: The cases whose caller is a function invoked asynchronously, one per scenario.
DEPENDENCY_SCENARIOS = {
    c.scenario.name: c.scenario
    for c in CASES
    if any(comp.type in ("database", "dynamodb_table") for comp in c.scenario.components.values())
}


class _RecordingDependency:
    """Stands in for a dependency in a function's call entries: notes when each call is made.

    Wraps the built dependency rather than patching its class (the compiled build's classes
    cannot be patched); everything but :meth:`call` goes to the dependency unchanged.
    """

    def __init__(self, dep: Dependency, called: list[float]) -> None:
        self._dep = dep
        self._called = called

    def call(self, req: CallRequest, reply: Reply) -> CallHandle:
        self._called.append(self._dep.env.now)
        return self._dep.call(req, reply)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dep, name)


@pytest.mark.parametrize("name", sorted(DEPENDENCY_SCENARIOS))
def test_dependency_cases_see_the_producers_poisson_arrivals_unchanged(name: str) -> None:
    """Erlang B and A need Poisson calls independent of the dependency's state.

    Between the producer and the dependency are the function's internal event queue, its
    concurrency, SDK retries (with the retry quota) and asynchronous retries; none of them may
    delay, drop, repeat or add a call. So every call reaches the dependency at the very instant
    its event was queued, one call per event, and the function is never throttled.
    """
    scenario = DEPENDENCY_SCENARIOS[name].model_copy(update={"duration_s": 300.0, "warmup_s": 0.0})
    called: list[float] = []
    model = build(scenario, rep=0, seed=1, trace=True)
    wrapped = 0
    for fn in model.functions.values():
        for call in fn.handler.calls:
            assert isinstance(call.dependency, Dependency)
            call.dependency = _RecordingDependency(call.dependency, called)
            wrapped += 1
    assert wrapped >= 1
    r = model.run()
    trace: Any = r.trace
    queued = np.sort(trace.loc[trace["event"] == "queued", "t_s"].to_numpy())
    assert len(queued) == r.metrics["messages_produced"] > 300
    assert np.array_equal(np.sort(np.array(called)), queued)
    assert r.metrics["dependency_calls"] == len(queued)
    assert r.metrics["sdk_retries"] == 0
    assert r.sinks["caller"]["throttles"] == 0
    assert r.sinks["caller"]["attempts"] == len(queued)  # no asynchronous retry
