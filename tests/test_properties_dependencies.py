"""Property-based invariants of the dependencies under random scripts of calls, client timeouts,
abandons and environment releases (hypothesis):

* a database never has more requests in service, or connections open, than
  ``max_connections``, nor more requests waiting than ``waiting``; an HTTP API never more in
  flight than ``max_concurrency``;
* every call is answered exactly once, or abandoned before its answer and then never
  answered; every call that is not abandoned is answered once the script is over;
* the counts add up (each call ends in exactly one of succeeded, throttled, unavailable,
  timeouts, abandoned) and ``wasted_s`` ≥ 0.
"""

from __future__ import annotations

from typing import Any

from depcallers import dependency
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.engine.schedule import call_after
from sim.services.database import Database
from sim.services.dependency import CallHandle, CallRequest, Dependency
from sim.services.http_api import HttpApi

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TIMES = st.integers(0, 40).map(lambda k: k / 4)  # quarter seconds: many ties


@st.composite
def database_specs(draw: Any) -> dict[str, Any]:
    service = draw(st.sampled_from([0.5, 1.0, {"exponential": {"mean": 1.0}}, 0.0]))
    return {
        "type": "database",
        "max_connections": draw(st.integers(1, 4)),
        "waiting": draw(st.one_of(st.none(), st.integers(0, 3))),
        "service_time_s": service,
        "contention": {
            "sigma": draw(st.sampled_from([0.0, 0.3])),
            "kappa": draw(st.sampled_from([0.0, 0.05])),
        },
        "latency_s": draw(st.sampled_from([0.0, 0.25])),
        "errors": {"rate": draw(st.sampled_from([0.0, 0.3]))},
    }


@st.composite
def http_specs(draw: Any) -> dict[str, Any]:
    rate = draw(st.one_of(st.none(), st.just({"rate_per_s": 2.0, "burst": 3})))
    return {
        "type": "http_api",
        "max_concurrency": draw(st.one_of(st.none(), st.integers(1, 3))),
        "rate_limit": rate,
        "latency_s": draw(st.sampled_from([0.5, 1.0, {"exponential": {"mean": 1.0}}])),
        "errors": {"rate": draw(st.sampled_from([0.0, 0.3]))},
    }


OPS = st.lists(
    st.tuples(
        TIMES,
        st.sampled_from(["call", "call", "call", "abandon", "release"]),
        st.integers(0, 30),  # which call to abandon / which holder
        st.sampled_from([None, None, 0.25, 0.75, 2.0]),  # client timeout
        st.sampled_from([None, None, "h0", "h1", "h2"]),  # connection holder
    ),
    min_size=1,
    max_size=40,
)


class Script:
    """Runs ``ops`` against ``dep`` and checks the invariants at every step."""

    def __init__(self, m: Any, dep: Dependency, ops: list[tuple[Any, ...]]) -> None:
        self.m, self.dep = m, dep
        self.handles: list[CallHandle] = []
        self.answers: list[list[tuple[float, str | None]]] = []
        self.abandoned_at: dict[int, float] = {}
        for op in ops:
            call_after(m.env, op[0], lambda _, op=op: self.do(op))

    def check(self) -> None:
        d = self.dep
        if isinstance(d, Database):
            assert d.n_in_service <= d.max_connections
            assert d.open_connections <= d.max_connections
            if d.waiting_limit is not None:
                assert d.waiting <= d.waiting_limit
            assert d.waiting >= 0
        if isinstance(d, HttpApi) and d.max_concurrency is not None:
            assert d.in_flight.level <= d.max_concurrency

    def do(self, op: tuple[Any, ...]) -> None:
        _, kind, which, timeout, holder = op
        if kind == "call":
            i = len(self.handles)
            self.answers.append([])
            req = CallRequest(timeout_s=timeout, holder=holder)
            self.handles.append(self.dep.call(req, lambda e, i=i: self.answer(i, e)))
        elif kind == "abandon" and self.handles:
            i = which % len(self.handles)
            if not self.handles[i].answered:
                self.abandoned_at.setdefault(i, self.m.env.now)
            self.handles[i].abandon()
        elif kind == "release":
            self.dep.release_holder(f"h{which % 3}")
        self.check()

    def answer(self, i: int, error: str | None) -> None:
        assert i not in self.abandoned_at, f"call {i} answered after it was abandoned"
        self.answers[i].append((self.m.env.now, error))
        self.check()

    def verify(self) -> None:
        for i, got in enumerate(self.answers):
            if i in self.abandoned_at:
                assert got == [], i
            else:
                assert len(got) == 1, (i, got)
        s = self.dep.stats
        assert s.calls == len(self.handles)
        ended = s.succeeded + s.throttled + s.unavailable + s.timeouts + s.abandoned
        assert ended == s.calls
        assert s.abandoned == len(self.abandoned_at)
        assert s.wasted_s >= 0.0
        assert s.left_line <= s.timeouts + s.abandoned
        metrics = self.dep.metrics()
        assert metrics["wasted_s"] >= 0.0
        for name in ("utilization_mean", "utilization_max"):
            assert metrics[name] is None or 0.0 <= metrics[name] <= 1.0 + 1e-12, name


def run_script(spec: dict[str, Any], ops: list[tuple[Any, ...]], seed: int) -> Script:
    """Run the script; at 100 s every environment is reclaimed, so that held connections free."""
    m, dep = dependency(spec, seed=seed)
    script = Script(m, dep, ops)
    m.env.run(until=100)
    for holder in ("h0", "h1", "h2"):
        dep.release_holder(holder)
    script.check()
    m.env.run(until=1_000)
    script.check()
    return script


@PROPS
@given(spec=database_specs(), ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_database_invariants_under_random_scripts(
    spec: dict[str, Any], ops: list[tuple[Any, ...]], seed: int
) -> None:
    script = run_script(spec, ops, seed)
    script.verify()
    d = script.dep
    assert isinstance(d, Database)
    assert d.open_connections == 0 and d.n_in_service == 0 and d.waiting == 0


@PROPS
@given(spec=http_specs(), ops=OPS, seed=st.integers(0, 2**32 - 1))
def test_http_api_invariants_under_random_scripts(
    spec: dict[str, Any], ops: list[tuple[Any, ...]], seed: int
) -> None:
    script = run_script(spec, ops, seed)
    script.verify()
    assert isinstance(script.dep, HttpApi)
    assert script.dep.in_flight.level == 0
