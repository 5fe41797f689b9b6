"""sim.engine.schedule: call_after, call_at and the Environment whose ``now`` is an attribute."""

from __future__ import annotations

from typing import Any

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


def _simpy_timeline(env: Any) -> list[tuple[str, float, Any]]:
    """Processes, timeouts, events, conditions, an interrupt and a failure: SimPy's own API."""
    seen: list[tuple[str, float, Any]] = []
    gate = env.event()

    def worker(name: str, delay: float) -> simpy.events.ProcessGenerator:
        try:
            yield env.timeout(delay)
            seen.append((name, env.now, env.active_process is not None))
            value = yield gate
            seen.append((f"{name} gate", env.now, value))
        except simpy.Interrupt as stop:
            seen.append((f"{name} interrupted", env.now, stop.cause))

    def opener() -> simpy.events.ProcessGenerator:
        yield env.timeout(2.0)
        gate.succeed("open")
        both = yield env.all_of([env.timeout(1.0, "a"), env.timeout(0.5, "b")])
        seen.append(("all_of", env.now, sorted(both.values())))
        first = yield env.any_of([env.timeout(3.0, "slow"), env.timeout(0.25, "fast")])
        seen.append(("any_of", env.now, list(first.values())))
        failing = env.event()
        failing.fail(ValueError("boom"))
        try:
            yield failing
        except ValueError as exc:
            seen.append(("caught", env.now, str(exc)))

    env.process(worker("w1", 1.0))
    w2 = env.process(worker("w2", 3.0))
    env.process(opener())

    def interrupter() -> simpy.events.ProcessGenerator:
        yield env.timeout(2.5)
        w2.interrupt("stop")

    env.process(interrupter())
    seen.append(("run", env.now, env.run(until=10.0)))
    seen.append(("end", env.now, None))
    return seen


def test_simpy_processes_and_events_run_as_on_simpys_own_environment() -> None:
    ours = _simpy_timeline(Environment())
    assert ours == _simpy_timeline(simpy.Environment())
    assert ("w2 interrupted", 2.5, "stop") in ours and ("caught", 3.25, "boom") in ours


def _stop_at_five(env: Any) -> list[tuple[float, list[str]]]:
    seen: list[str] = []
    urgent = env.event()
    urgent.callbacks.append(lambda _: seen.append("urgent"))
    urgent._ok, urgent._value = True, None
    env.schedule(urgent, simpy.events.URGENT, 5.0)
    normal = env.timeout(5.0)
    normal.callbacks.append(lambda _: seen.append("normal"))
    env.run(until=5.0)
    first = (env.now, list(seen))
    env.run(until=6.0)
    return [first, (env.now, seen)]


def test_run_until_a_time_stops_there_as_simpy_does() -> None:
    """Urgent events scheduled for the stop time before ``run`` run; normal ones do not."""
    ours = _stop_at_five(Environment())
    assert ours == [(5.0, ["urgent"]), (6.0, ["urgent", "normal"])]
    assert ours == _stop_at_five(simpy.Environment())


def test_run_until_an_event_returns_its_value_and_run_without_until_empties_the_heap() -> None:
    env = Environment()
    done = env.timeout(2.0, "v")
    fired: list[float] = []
    call_after(env, 3.0, lambda _: fired.append(env.now))
    assert env.run(until=done) == "v" and env.now == 2.0
    assert env.run(until=done) == "v"  # already processed
    assert env.run() is None and fired == [3.0] and env.peek() == float("inf")
    assert env.processed == 2 and env.peak_entries == 2  # the timeout (it stopped), the call
    with pytest.raises(RuntimeError, match="until"):
        env.run(until=env.event())


def test_an_unhandled_failure_crashes_the_run_and_a_cancelled_timer_calls_nothing() -> None:
    env = Environment()
    calls: list[float] = []
    timer = call_after(env, 1.0, lambda _: calls.append(env.now))
    call_after(env, 2.0, lambda _: calls.append(env.now))
    timer.cancel()
    env.run(until=3.0)
    assert calls == [2.0]
    env.event().fail(KeyError("lost"))
    with pytest.raises(KeyError, match="lost"):
        env.run(until=4.0)


def test_initial_time_and_negative_delays() -> None:
    env = Environment(initial_time=5.0)
    assert env.now == 5.0
    with pytest.raises(ValueError, match="negative delay"):
        call_after(env, -1.0, lambda _: None)
