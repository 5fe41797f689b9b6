"""Overload mitigations in a function's handler: circuit breakers, a maximum message age and
the adaptive retry mode of its SDK client.

Exact timelines with zero overheads: functions run 1 s unless stated (no cold start), HTTP
APIs answer at once (``latency_s: 0``) unless stated, outages decide which calls fail.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import NO_COLD, events, model, rows, run

from sim.config import EvsimWarning, ScenarioError, load_scenario
from sim.engine.message import Pair
from sim.services.handler import FAILED, OK, STALE
from sim.services.sdk import AdaptiveLimiter


def fn(**kw: Any) -> dict[str, Any]:
    """A function with zero overheads: 1 s constant duration, 10 s timeout, no cold start."""
    spec: dict[str, Any] = {
        "type": "lambda_function", "duration_s": 1, "timeout_s": 10, "cold_start": dict(NO_COLD),
    }  # fmt: skip
    spec.update(kw)
    return spec


def at(*times: float) -> dict[str, Any]:
    """Arrivals: one message at each of ``times``."""
    return {"bursts": [{"at_s": t, "count": 1} for t in times]}


def guarded(times: tuple[float, ...], breaker: dict[str, Any], *,
            retry: dict[str, Any] | None = None, api: dict[str, Any] | None = None,
            outages: list[dict[str, Any]] | None = None, duration_s: float = 40,
            drain_s: float = 60, warmup_s: float = 0, **f: Any) -> dict[str, Any]:  # fmt: skip
    """prod → f (asynchronous, no retries), one message at each of ``times``; f calls ``api``
    once per message through the circuit breaker ``breaker`` (no SDK retries by default)."""
    call = {"dependency": "api", "retry": retry or {"max_attempts": 1}, "circuit_breaker": breaker}
    return {
        "name": "breaker", "duration_s": duration_s, "drain_s": drain_s, "warmup_s": warmup_s,
        "components": {
            "prod": {"type": "producer", "send_to": ["f"], "arrivals": at(*times)},
            "f": fn(calls=[call], **{"async": {"max_retries": 0}}, **f),
            "api": {"type": "http_api", "latency_s": 0, **(api or {})},
        },
        "outages": outages or [],
    }  # fmt: skip


def down(start_s: float, duration_s: float) -> dict[str, Any]:
    """An ``unavailable`` outage of the API: every call in it fails at once."""
    return {"component": "api", "start_s": start_s, "duration_s": duration_s}


# == circuit breaker ==============================================================================


def test_a_breaker_opens_at_its_failure_ratio_and_refuses_calls_until_a_probe_succeeds():
    # the API is down until t = 30; messages at 0..9, 20, 32 and 34 call it 1 s later
    breaker = {"window_s": 60, "min_calls": 3, "failure_ratio": 0.5, "open_s": 10}
    r = run(guarded((*range(10), 20, 32, 34), breaker, outages=[down(0, 30)]))
    # three failures (t = 1, 2, 3) fill the window: it opens at 3 for 10 s; the calls at
    # 4..10 never reach the API; the probe at 21 fails (re-open until 31); the one at 33 succeeds
    assert events(r, "f", "breaker_opened") == [3.0, 21.0]
    assert events(r, "f", "short_circuited") == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    assert events(r, "f", "breaker_closed") == [33.0]
    assert events(r, "f", "success") == [33.0, 35.0]
    assert events(r, "f", "failure") == [*range(1, 11), 21.0]  # a refused call fails its input
    api = r.dependencies["api"]
    assert api["calls"] == 3 + 1 + 1 + 1  # no load while open
    m = r.metrics
    assert (m["breaker_rejected"], m["breaker_opened"], m["breaker_open_s"]) == (7, 2, 20.0)
    assert (api["breaker_rejected"], api["breaker_opened"], api["breaker_open_s"]) == (7, 2, 20.0)
    assert (m["delivered"], m["lost"]) == (2, 11)


def test_the_time_series_shows_the_breakers_open_and_their_refusals():
    breaker = {"window_s": 60, "min_calls": 3, "failure_ratio": 0.5, "open_s": 10}
    data = guarded((*range(10), 20, 32, 34), breaker, outages=[down(0, 30)])
    data["observe"] = {"interval_s": 1}
    ts = run(data).timeseries
    api = ts[ts["component"] == "api"]
    state = api[api["metric"] == "breakers_open"].set_index("t_s")["value"]
    # open [3, 13) and [21, 31)
    assert [state[t] for t in (2, 5, 12, 14, 20, 22, 30, 31)] == [0, 1, 1, 0, 0, 1, 1, 0]
    rate = api[api["metric"] == "breaker_rejected_per_s"]
    assert (rate["value"] * rate["t_s"].diff().fillna(rate["t_s"].iloc[0])).sum() == 7


def test_a_breaker_does_not_open_below_its_minimum_number_of_calls():
    breaker = {"window_s": 60, "min_calls": 4, "failure_ratio": 0.5, "open_s": 10}
    r = run(guarded((0, 1, 2), breaker, outages=[down(0, 30)]))
    assert events(r, "f", "breaker_opened") == []
    assert r.dependencies["api"]["calls"] == 3


@pytest.mark.parametrize(
    ("window_s", "opened"), [(5, [8.0]), (6, [8.0]), (6.5, [7.0]), (10, [7.0])]
)
def test_the_window_slides_over_the_last_window_s_seconds(window_s, opened):
    # calls fail at t = 1, 7 and 8 (the API is down then) and succeed at 4; the breaker opens
    # at 60% failed of 2 calls at least. The window is (now − window_s, now]: at 7 it holds
    # (1, 4, 7), 2 of 3 failed, when it reaches back past 1 (6.5, 10), else (4, 7), 1 of 2;
    # at 8 it holds (4, 7, 8) at least: 2 of 3
    breaker = {"window_s": window_s, "min_calls": 2, "failure_ratio": 0.6, "open_s": 100}
    outages = [down(1, 0.5), down(7, 0.5), down(8, 0.5)]
    r = run(guarded((0, 3, 6, 7), breaker, outages=outages))
    assert events(r, "f", "breaker_opened") == opened


def test_every_half_open_probe_must_succeed_and_extra_calls_are_refused_meanwhile():
    # opens at 1 (one failure is enough) for 5 s; at 7 three calls arrive together while the
    # API takes 2 s: two probes go through, the third is refused; both succeed at 9: closed
    breaker = {"window_s": 60, "min_calls": 1, "failure_ratio": 1, "open_s": 5,
               "half_open_probes": 2}  # fmt: skip
    data = guarded((0, 6, 6, 6, 10), breaker, api={"latency_s": 2}, outages=[down(0, 2)])
    r = run(data)
    assert events(r, "f", "breaker_opened") == [1.0]
    assert events(r, "f", "short_circuited") == [7.0]
    assert events(r, "f", "breaker_closed") == [9.0]
    assert events(r, "f", "success") == [9.0, 9.0, 13.0]
    assert r.dependencies["api"]["calls"] == 1 + 2 + 1


def test_a_probe_abandoned_by_its_function_lets_another_call_probe():
    # opens at 1 for 5 s; the probe at 7 waits for an API that takes 20 s and its function
    # times out at 9 (run start 6 + timeout 3): the probe's place is free again for the call
    # at 11, which reaches the API instead of being refused
    breaker = {"window_s": 60, "min_calls": 1, "failure_ratio": 1, "open_s": 5}
    data = guarded((0, 6, 10), breaker, api={"latency_s": 20}, outages=[down(0, 2)], timeout_s=3)
    r = run(data)
    assert events(r, "f", "timeout") == [9.0, 13.0]
    assert events(r, "f", "short_circuited") == []
    assert r.dependencies["api"]["calls"] == 3
    assert r.dependencies["api"]["abandoned"] == 2


def test_the_breaker_sees_every_sdk_attempt_and_a_refused_retry_is_not_retried():
    # the call fails at 1 and its retry at 2 (no jitter, 1 s backoff): two failures open the
    # breaker; the second retry, due at 4, is refused and the input fails without more tries
    breaker = {"window_s": 60, "min_calls": 2, "failure_ratio": 1, "open_s": 100}
    retry = {"max_attempts": 5, "base_s": 1, "cap_s": 1, "jitter": "none", "quota": False}
    r = run(guarded((0,), breaker, retry=retry, outages=[down(0, 100)]))
    assert events(r, "f", "breaker_opened") == [2.0]
    assert events(r, "f", "short_circuited") == [3.0]
    assert events(r, "f", "failure") == [3.0]
    assert r.dependencies["api"]["calls"] == 2
    assert r.metrics["sdk_retries"] == 2  # the retry the breaker refused was still decided


def test_open_time_is_counted_within_the_run_only():
    # opens at 1 for 100 s; the run ends at 40
    breaker = {"window_s": 60, "min_calls": 1, "failure_ratio": 1, "open_s": 100}
    r = run(guarded((0,), breaker, outages=[down(0, 2)], duration_s=10, drain_s=30))
    assert r.metrics["breaker_open_s"] == 39.0


def test_breaker_metrics_count_from_the_warm_up_on():
    # opens at 1 (before warmup_s = 5) until 11: it refuses at 3 (not counted) and at 7
    breaker = {"window_s": 60, "min_calls": 1, "failure_ratio": 1, "open_s": 10}
    data = guarded((0, 2, 6), breaker, outages=[down(0, 2)], warmup_s=5)
    r = run(data)
    assert events(r, "f", "short_circuited") == [3.0, 7.0]
    m = r.metrics
    assert (m["breaker_rejected"], m["breaker_opened"], m["breaker_open_s"]) == (1, 0, 6.0)


def test_each_call_entry_of_each_function_has_its_own_breaker():
    # f calls api (always up) then api2 (down until 2), each entry behind its own breaker: the
    # failure at 1 opens api2's breaker only; at 6 the call to api goes through, api2's is refused
    breaker = {"window_s": 60, "min_calls": 1, "failure_ratio": 1, "open_s": 100}
    data = guarded((0, 5), breaker)
    call = data["components"]["f"]["calls"][0]
    data["components"]["f"]["calls"] = [call, {**call, "dependency": "api2"}]
    data["components"]["api2"] = {"type": "http_api", "latency_s": 0}
    data["outages"] = [{"component": "api2", "start_s": 0, "duration_s": 2}]
    m = model(data)
    breakers = m.functions["f"].handler.breakers()
    assert [d for d, _ in breakers] == ["api", "api2"] and breakers[0][1] is not breakers[1][1]
    r = m.run()
    assert events(r, "f", "short_circuited") == [6.0]
    assert (r.dependencies["api"]["calls"], r.dependencies["api2"]["calls"]) == (2, 1)
    assert r.dependencies["api"]["breaker_rejected"] == 0
    assert r.dependencies["api2"]["breaker_rejected"] == 1


BREAKER_ERRORS = [
    ({}, "circuit_breaker.window_s: missing — required: the breaker counts call outcomes"),
    ({"window_s": 0}, r"circuit_breaker.window_s: 0 — must be > 0"),
    ({"window_s": 10, "failure_ratio": 0}, r"failure_ratio: 0 — must be > 0 and ≤ 1"),
    ({"window_s": 10, "failure_ratio": 1.5}, r"failure_ratio: 1.5 — must be > 0 and ≤ 1"),
    ({"window_s": 10, "open_s": -1}, r"circuit_breaker.open_s: -1 — must be > 0"),
    ({"window_s": 10, "half_open_probes": 0}, r"half_open_probes: 0 — must be ≥ 1"),
    ({"window_s": 10, "min_calls": 0}, r"circuit_breaker.min_calls: 0 — must be ≥ 1"),
    ({"window_s": 10, "probes": 2}, r"circuit_breaker.probes: 2 — unknown field"),
]


@pytest.mark.parametrize(("breaker", "why"), BREAKER_ERRORS)
def test_bad_circuit_breakers_are_rejected_with_one_line(tmp_path, breaker, why):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(guarded((0,), breaker)), encoding="utf-8")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{path}: components.f.calls.0.circuit_breaker")
    assert why.replace("\\", "") in line or pytest.fail(line)


# == maximum message age ==========================================================================


def aged(times: tuple[float, ...], max_age_s: float, *, trigger: dict[str, Any] | None = None,
         queue: dict[str, Any] | None = None, **f: Any) -> dict[str, Any]:  # fmt: skip
    """prod → q → f (one batch at a time), one message at each of ``times``."""
    return {
        "name": "aged", "duration_s": 20, "drain_s": 100,
        "components": {
            "prod": {"type": "producer", "send_to": ["q"], "arrivals": at(*times)},
            "q": {"type": "sqs_queue", "visibility_timeout_s": 60, **(queue or {})},
            "f": fn(trigger={"source": "q", "batch_size": 1, "max_concurrency": 1,
                             **(trigger or {})},
                    max_message_age_s=max_age_s, timeout_s=30, **f),
        },
    }  # fmt: skip


def test_a_message_too_old_when_the_handler_starts_is_dropped_in_no_time():
    # 2 s runs, one at a time: the third message of t = 0 starts at 4, aged 4 > 3: dropped
    # (deleted, expired) at once, so the message of t = 3.5 starts at 4 too, aged 0.5
    r = run(aged((0, 0, 0, 3.5), 3, duration_s=2))
    assert events(r, "f", "success") == [2.0, 4.0, 6.0]
    assert events(r, "f", "too_old") == [4.0]
    m = r.metrics
    assert (m["delivered"], m["expired"], m["in_flight"]) == (3, 1, 0)
    assert m["dropped_too_old"] == r.sinks["f"]["dropped_too_old"] == 1
    assert (m["invocations"], m["attempts"]) == (4, 4)  # the drop is an invocation and attempt
    assert events(r, "q", "visible") == []  # deleted: it never comes back


def test_a_batch_drops_its_stale_messages_and_processes_the_rest():
    # batches of 3: the message of 0 runs alone 0–8 (7 s + 1 s per message); then the batch
    # (2, 5, 6) starts at 8 aged (6, 3, 2): the first is dropped, the others take 7 + 2 s
    data = aged((0, 2, 5, 6), 4, trigger={"batch_size": 3}, duration_s=7,
                duration_per_message_s=1)  # fmt: skip
    r = run(data)
    assert events(r, "f", "success") == [8.0, 17.0, 17.0]
    assert events(r, "f", "too_old") == [17.0]  # settled with its batch
    assert (r.metrics["delivered"], r.metrics["expired"]) == (3, 1)


@pytest.mark.parametrize("partial", [True, False])
def test_a_failed_batch_returns_its_stale_messages_unless_partial_responses_are_on(partial):
    # 2 s runs, batches of 2, a 1 s limit, every processed message fails. The message of 0
    # runs alone 0–2 and returns at 60. At 2 the batch (0.5, 1.5) starts aged (1.5, 0.5): the
    # first is dropped, the second fails. With partial batch responses the dropped one is
    # deleted (at 4); without, it returns with the failed one at 62 and is dropped then
    data = aged((0, 0.5, 1.5), 1, trigger={"batch_size": 2, "report_batch_item_failures": partial},
                duration_s=2, errors={"rate": 1.0})  # fmt: skip
    r = run(data)
    assert events(r, "f", "failure") == [2.0, 4.0]
    # the message of 0 returns aged 60 and is dropped; the one of 1.5 returns aged 60.5
    assert events(r, "f", "too_old") == ([4.0, 60.0, 62.0] if partial else [60.0, 62.0, 62.0])
    m = r.metrics
    assert (m["expired"], m["dropped_too_old"], m["in_flight"]) == (3, 3, 0)
    assert m["invocations"] == 4


def test_stale_messages_keep_fifo_order_after_a_failure():
    h = model(aged((0,), 1, errors={"rate": 1.0})).functions["f"].handler
    ledger = h.ledger
    stats = ledger.sink("f")
    pairs = [Pair(ledger.new_message(0.0, "prod", 0, i, 1.0, None, 1), stats) for i in range(3)]
    got: list[list[int] | None] = []

    def outcomes(stale: list[bool], fifo: bool) -> list[int] | None:
        got.clear()
        h.execute(pairs, fifo, None, 0.0, lambda o, _: got.append(o), stale)
        return got[0]

    # every fresh message fails: from a FIFO source a stale one after a failure is returned
    assert outcomes([True, False, True], fifo=True) == [STALE, FAILED, FAILED]
    assert outcomes([True, False, True], fifo=False) == [STALE, FAILED, STALE]
    assert outcomes([True, True, True], fifo=True) == [STALE, STALE, STALE]
    h.fn.error_rate = 0.0
    assert outcomes([False, True, False], fifo=True) == [OK, STALE, OK]


def test_an_asynchronous_event_too_old_when_the_handler_starts_is_dropped():
    # one execution at a time, 2 s runs: the third event of t = 0 starts at 4, aged 4 > 3
    data = {
        "name": "aged-async", "duration_s": 1, "drain_s": 100,
        "components": {
            "prod": {"type": "producer", "send_to": ["f"], "arrivals": {"bursts": [
                {"at_s": 0, "count": 3}]}},
            "f": fn(duration_s=2, max_message_age_s=3, reserved_concurrency=1,
                    **{"async": {"on_success": "q2"}}),
            "q2": {"type": "sqs_queue"},
        },
    }  # fmt: skip
    r = run(data)
    assert events(r, "f", "success") == [2.0, 4.0]
    assert events(r, "f", "too_old") == [4.0]
    assert (r.sinks["f"]["delivered"], r.sinks["f"]["expired"]) == (2, 1)
    assert r.metrics["dropped_too_old"] == 1
    # a successful invocation for Lambda: no retry, and its on-success record is sent
    assert r.metrics["messages_derived"] == 3
    assert r.metrics["function_timeouts"] == r.metrics["throttles"] - 3 == 0


@pytest.mark.parametrize("invoked", ["sqs", "async"])
def test_a_maximum_age_that_never_acts_is_the_same_model(invoked):
    # the path that checks ages (and runs every input through the handler) draws the same
    # numbers and decides the same outcomes as the plain path when no input is too old
    base = aged((), 1e6, trigger={"batch_size": 3, "batching_window_s": 1}, queue={"delay_s": 0},
                duration_s={"exponential": {"mean": 0.5}}, errors={"rate": 0.3},
                duration_per_message_s={"exponential": {"mean": 0.1}},
                cold_start={"duration_s": 0.2, "keep_alive_s": 3})  # fmt: skip
    base["drain_s"] = 400
    comps = base["components"]
    comps["prod"]["arrivals"] = {"bursts": [{"at_s": 0, "count": 40, "spread_s": 20}]}
    comps["q"]["visibility_timeout_s"] = 30
    comps["q"]["dead_letter"] = {"target": "dlq", "max_receive_count": 2}
    comps["dlq"] = {"type": "sqs_queue"}
    comps["f"]["trigger"]["max_concurrency"] = 3
    if invoked == "async":
        comps["prod"]["send_to"] = ["f"]
        del comps["f"]["trigger"]
        comps["f"]["reserved_concurrency"] = 2
    plain = {**base, "components": {**comps, "f": {**comps["f"]}}}
    del plain["components"]["f"]["max_message_age_s"]
    a, b = run(plain, trace=False), run(base, trace=False)
    assert a.metrics == b.metrics and a.sinks == b.sinks
    # the scenario goes through failures, retries and cold starts, not only the happy path
    m = a.metrics
    assert m["delivered"] > 0 and m["cold_starts"] > 1 and m["in_flight"] == 0
    assert m["attempts"] > m["deliveries_expected"]


def _write(tmp_path, data: dict[str, Any]) -> Any:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_maximum_age_not_below_the_queue_retention_gets_a_warning(tmp_path):
    path = _write(tmp_path, aged((0,), 120, queue={"retention_s": 120},
                                 trigger={"max_concurrency": 2}))  # fmt: skip
    with pytest.warns(EvsimWarning, match=r"s\.yaml: components\.f\.max_message_age_s: 120 — "
                                          r"not below the retention_s of its queue 'q' \(120\)"):
        load_scenario(path)


def test_a_maximum_age_not_below_the_maximum_event_age_gets_a_warning(tmp_path):
    data = aged((0,), 60, **{"async": {"max_event_age_s": 60}})
    data["components"]["prod"]["send_to"] = ["f"]
    del data["components"]["f"]["trigger"], data["components"]["q"]
    with pytest.warns(EvsimWarning, match=r"max_message_age_s: 60 — not below "
                                          r"async\.max_event_age_s \(60\)"):
        load_scenario(_write(tmp_path, data))


@pytest.mark.parametrize("value", [0, -5])
def test_a_maximum_age_must_be_positive(tmp_path, value):
    path = _write(tmp_path, aged((0,), value))
    with pytest.raises(ScenarioError, match=rf"s\.yaml: components\.f\.max_message_age_s: {value} "
                                            r"— must be > 0$"):
        load_scenario(path)


# == the adaptive retry mode of a handler's SDK client ============================================


def throttled_calls(mode: str, api: dict[str, Any], retry: dict[str, Any], *,
                    n: int = 200, **top: Any) -> dict[str, Any]:  # fmt: skip
    """prod → f (asynchronous, no retries) at 10 messages/s; f calls ``api`` in ``mode``."""
    return {
        "name": f"calls-{mode}", "duration_s": n / 10, "drain_s": 60,
        "components": {
            "prod": {"type": "producer", "send_to": ["f"],
                     "arrivals": at(*(i / 10 for i in range(n)))},
            "f": fn(calls=[{"dependency": "api", "retry": {**retry, "mode": mode}}],
                    **{"async": {"max_retries": 0}}),
            "api": {"type": "http_api", "latency_s": 0, **api},
        },
        **top,
    }  # fmt: skip


def test_adaptive_calls_slow_down_against_a_dependency_that_always_throttles():
    # every call is throttled; no SDK retries. Standard mode makes every call (200). Adaptive
    # mode: the first throttle (t = 1, the only answer so far: measured rate 0.8/s) sets the
    # rate to 0.7 × 0.8 = 0.56/s, and every later throttle only lowers it (to 0.5/s at least):
    # at most the first call, one bucketful and 0.56/s until the end of the run reach the API
    outage = [{"component": "api", "start_s": 0, "duration_s": 1000, "mode": "throttled"}]
    out = {}
    for mode in ("standard", "adaptive"):
        m = model(throttled_calls(mode, {}, {"max_attempts": 1}, outages=outage), trace=False)
        r = m.run()
        out[mode] = (r.dependencies["api"]["calls"], r.metrics["function_timeouts"])
        limiter = m.functions["f"].handler.calls[0].retry.limiter
        assert (limiter is None) == (mode == "standard")
    assert out["standard"] == (200, 0)
    calls, timeouts = out["adaptive"]
    horizon = 20 + 60
    bound = 1 + 1 + AdaptiveLimiter.BETA * AdaptiveLimiter.SMOOTH * (horizon - 1)
    assert calls <= bound
    assert calls < 200 / 5
    # the others waited for a token until their function timed out (the wait counts)
    assert timeouts == 200 - calls
    assert limiter is not None and limiter.fill_rate == AdaptiveLimiter.MIN_RATE


def test_adaptive_calls_reach_a_rate_limited_dependency_less_often_than_standard_ones():
    # the API admits 5 calls/s; 10 messages/s call it, with 3 attempts each
    api = {"rate_limit": {"rate_per_s": 5, "burst": 5}}
    retry = {"max_attempts": 3, "base_s": 0.1}
    per_s = {}
    for mode in ("standard", "adaptive"):
        r = run(throttled_calls(mode, api, retry, n=400), trace=False)
        d = r.dependencies["api"]
        per_s[mode] = (d["calls"] / 40, d["throttled"] / 40)
    # standard: every message's attempts reach it; adaptive: about the API's own rate, and
    # few of them throttled
    assert per_s["standard"][0] > 10
    assert per_s["adaptive"][0] < per_s["standard"][0] / 1.5
    assert per_s["adaptive"][1] < per_s["standard"][1] / 5


def test_calls_and_sends_of_a_function_share_one_adaptive_limiter():
    data = throttled_calls("adaptive", {}, {"max_attempts": 1})
    comps = data["components"]
    comps["f"]["outputs"] = [{"to": "q2", "retry": {"mode": "adaptive"}}, {"to": "q2"}]
    comps["q2"] = {"type": "sqs_queue"}
    h = model(data).functions["f"].handler
    limiter = h.calls[0].retry.limiter
    assert limiter is not None and h.outputs[0].retry.limiter is limiter
    assert h.outputs[1].retry.limiter is None  # standard mode


def test_a_send_waits_for_the_adaptive_token_before_each_attempt():
    # the queue q2 throttles every send until t = 5; inputs come every 0.1 s and each sends one
    # message after its 1 s run, adaptive, no retries
    data = throttled_calls("adaptive", {}, {"max_attempts": 1}, n=30)
    comps = data["components"]
    comps["f"]["calls"] = []
    comps["f"]["outputs"] = [{"to": "q2", "retry": {"max_attempts": 1, "mode": "adaptive"}}]
    comps["q2"] = {"type": "sqs_queue"}
    data["outages"] = [{"component": "q2", "start_s": 0, "duration_s": 5, "mode": "throttled"}]
    r = run(data)
    sends = [(t, e) for t, c, e in rows(r) if c == "q2" and e in ("send", "send_failed")]
    # t = 1: throttled, the first answer (measured rate 0.8/s): the rate becomes 0.56/s with
    # 0.5 token in the bucket (filled at 0.5/s since 0). The send of 1.1 waits for a token
    # until 1.1 + (1 − 0.5 − 0.056) / 0.56; throttled again (measured 1.76/s), the rate falls
    # to its floor 0.5/s: one send every 2 s until one succeeds after the outage
    t2 = 1.1 + (1 - 0.5 - 0.56 * 0.1) / 0.56
    assert sends[:4] == [(1.0, "send_failed"), (pytest.approx(t2), "send_failed"),
                         (pytest.approx(t2 + 2), "send_failed"), (pytest.approx(t2 + 4), "send")]
    # without the limiter they would have left at 1.0, 1.1, 1.2 and 1.3
    assert r.sinks.get("q2") is None and r.metrics["function_timeouts"] == 0
