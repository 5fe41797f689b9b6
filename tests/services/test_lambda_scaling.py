"""The concurrency scaling rate of a Lambda function: 1,000 new environments per 10 s.

AWS ("Lambda scaling behavior"): each function can add at most 1,000 execution environments
every 10 seconds, the allowance is refilled continuously, and what goes unused is not
accrued. evsim: a token bucket of 1,000 new environments, full at the start, refilled at 100
per second; an invocation that needs a new environment when it is empty is throttled
(asynchronous events wait in the internal queue, event-source batches are throttled,
synchronous callers get 429); reusing a warm environment is not limited.

Every scenario has zero overheads (no cold start duration, constant 60 s runs) and ample
account concurrency, so only the scaling rate limits the running count. The running count is
sampled just after the instants of interest (``+ 0.005`` s: within half a token's 0.01 s).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NO_COLD, conserved, model, run

from sim.build import Model
from sim.engine.schedule import call_at
from sim.services.lambda_ import ScalingRate

RUN_S = 60.0


def fn(**kw: Any) -> dict[str, Any]:
    """A function of constant 60 s runs, no cold start duration, a 900 s timeout."""
    return {"type": "lambda_function", "duration_s": RUN_S, "timeout_s": 900,
            "cold_start": dict(NO_COLD), **kw}  # fmt: skip


def async_burst(bursts: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """Producer bursts invoking function ``f`` asynchronously (account concurrency 10,000)."""
    return {
        "name": "scaling", "duration_s": 200, "drain_s": 300, "account_concurrency": 10_000,
        "components": {
            "p": {"type": "producer", "send_to": ["f"], "arrivals": {"bursts": bursts}},
            "f": fn(),
        },
        **top,
    }  # fmt: skip


def running_at(m: Model, name: str, times: list[float]) -> dict[float, int]:
    """Run ``m`` and return the running executions of ``name`` at each of ``times``."""
    out: dict[float, int] = {}
    f = m.functions[name]
    for t in times:
        call_at(m.env, t, lambda t=t: out.__setitem__(t, f.running))
    m.run_result = m.run()  # type: ignore[attr-defined]
    return out


def test_a_burst_of_3000_asynchronous_events_scales_by_1000_every_10_s():
    m = model(async_burst([{"at_s": 0, "count": 3000}]), trace=False)
    got = running_at(m, "f", [0.005, 5.005, 10.005, 15.005, 20.005, 30.0])
    assert got == {0.005: 1000, 5.005: 1500, 10.005: 2000, 15.005: 2500, 20.005: 3000,
                   30.0: 3000}  # fmt: skip
    r = m.run_result  # type: ignore[attr-defined]
    assert r.metrics["delivered"] == 3000 and r.metrics["cold_starts"] == 3000
    assert r.metrics["throttles"] > 0  # the first try of event 1,001 and the reader's retries
    assert r.metrics["latency_max_s"] == pytest.approx(20.0 + RUN_S, abs=0.011)
    conserved(r)


def test_unused_scaling_is_not_accrued_and_refills_continuously():
    # 1,000 events at 0, 1,000 more at 5 s while the first still run (new environments
    # needed): 500 tokens have come back by 5 s, then 100 per second
    m = model(async_burst([{"at_s": 0, "count": 1000}, {"at_s": 5, "count": 1000}]), trace=False)
    got = running_at(m, "f", [4.0, 5.005, 7.505, 10.005, 12.0])
    assert got == {4.0: 1000, 5.005: 1500, 7.505: 1750, 10.005: 2000, 12.0: 2000}


def test_warm_environments_are_reused_without_the_scaling_limit():
    # the 3,000 environments of a first burst (done by 80 s) stay warm: a second burst of
    # 3,000 at 100 s runs at once
    m = model(async_burst([{"at_s": 0, "count": 3000}, {"at_s": 100, "count": 3000}]),
              trace=False)  # fmt: skip
    got = running_at(m, "f", [99.0, 100.005])
    assert got == {99.0: 0, 100.005: 3000}
    r = m.run_result  # type: ignore[attr-defined]
    assert (r.metrics["invocations"], r.metrics["cold_starts"]) == (6000, 3000)


def test_synchronous_invocations_beyond_the_scaling_rate_are_throttled():
    # 3,000 requests at once through API Gateway (no client retries): 1,000 run, 2,000 get 429
    data = {
        "name": "sync", "duration_s": 1, "drain_s": 120, "account_concurrency": 10_000,
        "components": {
            "u": {"type": "producer", "send_to": ["api"], "retry": {"max_attempts": 1},
                  "arrivals": {"bursts": [{"at_s": 0, "count": 3000}]}},
            "api": {"type": "api_gateway", "integration": "g", "timeout_s": 29},
            "g": fn(timeout_s=20, duration_s=10),
        },
    }  # fmt: skip
    r = run(data, trace=False)
    m = r.metrics
    assert (m["invocations"], m["throttles"], m["delivered"], m["lost"]) == (1000, 2000, 1000, 2000)


def test_an_event_source_is_throttled_by_the_scaling_rate_and_backs_off():
    # an event source allowed 1,500 batches at once: 1,000 start, the others are throttled and
    # start as the function may scale (never more than 1,000 + 100 per second)
    data = {
        "name": "esm", "duration_s": 1, "drain_s": 600, "account_concurrency": 10_000,
        "components": {
            "p": {"type": "producer", "send_to": ["q"],
                  "arrivals": {"bursts": [{"at_s": 0, "count": 1500}]}},
            "q": {"type": "sqs_queue", "visibility_timeout_s": 900},
            "f": fn(trigger={"source": "q", "batch_size": 1, "initial_concurrency": 1500,
                             "max_batches": 1500}),
        },
    }  # fmt: skip
    m = model(data, trace=False)
    times = [0.5 * k + 0.005 for k in range(40)]
    got = running_at(m, "f", times)
    assert got[0.005] == 1000
    assert all(n <= 1000 + 100 * t + 1 for t, n in got.items()), got
    r = m.run_result  # type: ignore[attr-defined]
    assert r.metrics["throttles"] > 0
    assert r.metrics["delivered"] == 1500 and r.metrics["cold_starts"] == 1500
    conserved(r)


def test_the_scaling_bucket_arithmetic():
    s = ScalingRate(environments=4, window_s=2.0)  # 4 tokens, one per 0.5 s
    assert [s.take(0.0) for _ in range(5)] == [True] * 4 + [False]
    assert s.next_at(0.0) == pytest.approx(0.5)
    assert not s.ready(0.4) and s.ready(0.5)
    assert s.take(0.5) and not s.take(0.5)
    # idle for a long time: the bucket is full again, never fuller
    assert [s.take(100.0) for _ in range(5)] == [True] * 4 + [False]
