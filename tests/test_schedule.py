"""sim.engine.schedule: call_after, call_at and the Environment whose ``now`` is an attribute."""

from __future__ import annotations

import pytest
import simpy

from sim.engine.schedule import Environment, call_after, call_at


def _timeline(env: simpy.Environment) -> list[tuple[str, float]]:
    seen: list[tuple[str, float]] = []

    def proc() -> simpy.events.ProcessGenerator:
        yield env.timeout(1.5)
        seen.append(("process", env.now))
        call_at(env, 4.0, lambda: seen.append(("call_at 4", env.now)))
        call_at(env, 0.0, lambda: seen.append(("call_at past", env.now)))  # runs now
        yield env.timeout(0.25)
        seen.append(("process", env.now))

    env.process(proc())
    call_after(env, 0.0, lambda _: seen.append(("after 0", env.now)))
    call_after(env, 2.5, lambda _: seen.append(("after 2.5", env.now)))
    env.run(until=10.0)
    seen.append(("end", env.now))
    return seen


def test_now_is_the_time_of_the_event_being_processed() -> None:
    assert _timeline(Environment()) == [
        ("after 0", 0.0), ("process", 1.5), ("call_at past", 1.5), ("process", 1.75),
        ("after 2.5", 2.5), ("call_at 4", 4.0), ("end", 10.0),
    ]  # fmt: skip


def test_the_same_timeline_as_simpys_own_environment() -> None:
    assert _timeline(Environment()) == _timeline(simpy.Environment())


def test_initial_time_and_negative_delays() -> None:
    env = Environment(initial_time=5.0)
    assert env.now == 5.0
    with pytest.raises(ValueError, match="negative delay"):
        call_after(env, -1.0, lambda _: None)
