"""Cost of a run on hand-counted scenarios (DESIGN §2 "Cost", §3 ``cost_usd``).

What evsim bills (``sim/services/sqs.py``, ``sim/services/lambda_.py``):

* SQS: one request per started 64 KB chunk of payload for each SendMessage, one per chunk of
  the *total* payload for each (batch) ReceiveMessage that returns messages, one per
  DeleteMessage(Batch); standard and FIFO queues are priced separately.
* Lambda: one request per invocation (throttled invokes are not billed) and memory × run time
  in GB-seconds (the run is cut at ``timeout_s``; cold starts are not billed).

Every scenario here has zero AWS overheads, constant durations and no errors, so each request
can be counted by hand.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sim.build import build, run_once
from sim.config import scenario_from_dict
from sim.config.prices import DEFAULT_PRICES
from sim.engine.cost import CostMeter, sqs_chunks

SQS = DEFAULT_PRICES["sqs_standard_per_million"] / 1e6
SQS_FIFO = DEFAULT_PRICES["sqs_fifo_per_million"] / 1e6
LAMBDA_REQ = DEFAULT_PRICES["lambda_requests_per_million"] / 1e6
GB_S = DEFAULT_PRICES["lambda_gb_s"]


def burst(
    count: int = 10,
    *,
    size_bytes: int = 1024,
    fifo: bool = False,
    batch_size: int = 1,
    window_s: float = 0.0,
    duration: float = 0.1,
    memory_mb: int = 128,
    **top: Any,
) -> dict[str, Any]:
    """``count`` messages at t=0 → queue ``q`` → function ``fn`` (constant duration)."""
    return {
        "name": "cost",
        "duration_s": 10,
        "drain_s": 60,
        "components": {
            "prod": {
                "type": "producer",
                "arrivals": {"bursts": [{"at_s": 0, "count": count}]},
                "send_to": ["q"],
                "size_bytes": size_bytes,
            },
            "q": {"type": "sqs_queue", "fifo": fifo},
            "fn": {
                "type": "lambda_function",
                "trigger": {"source": "q", "batch_size": batch_size, "batching_window_s": window_s},
                "duration_s": duration,
                "memory_mb": memory_mb,
                "cold_start": {"duration_s": 0},
            },
        },
        **top,
    }


def run(data: dict[str, Any]) -> Any:
    r = run_once(scenario_from_dict(copy.deepcopy(data)))
    assert r.metrics["delivered"] == r.metrics["deliveries_expected"]
    return r


def approx(x: float) -> Any:
    return pytest.approx(x, rel=1e-12, abs=0)


def test_ten_small_messages_one_at_a_time() -> None:
    r = run(burst())
    # SQS: 10 sends + 10 receives + 10 deletes; Lambda: 10 requests of 0.1 s at 0.125 GB
    expected = 30 * SQS + 10 * LAMBDA_REQ + 10 * 0.1 * 0.125 * GB_S
    assert r.metrics["messages_produced"] == 10
    assert r.metrics["invocations"] == 10
    assert r.metrics["cost_usd"] == approx(expected)
    assert r.metrics["cost_per_million_usd"] == approx(expected / 10 * 1e6)
    assert r.sinks["fn"]["cost_usd"] == approx(expected)


@pytest.mark.parametrize(
    ("size_bytes", "chunks"),
    [(1, 1), (64 * 1024, 1), (64 * 1024 + 1, 2), (100 * 1024, 2), (256 * 1024, 4)],
)
def test_sends_and_receives_bill_one_request_per_64_kb_chunk(size_bytes: int, chunks: int) -> None:
    assert sqs_chunks(size_bytes) == chunks
    r = run(burst(size_bytes=size_bytes))
    # 10 × (send + receive) of `chunks` requests each, and 10 deletes of one request
    expected = (20 * chunks + 10) * SQS + 10 * LAMBDA_REQ + 10 * 0.1 * 0.125 * GB_S
    assert r.metrics["cost_usd"] == approx(expected)


@pytest.mark.parametrize(
    ("size_bytes", "receive_requests"), [(1024, 1), (10 * 1024, 2)], ids=["10KB", "100KB"]
)
def test_a_batch_receive_bills_its_total_payload(size_bytes: int, receive_requests: int) -> None:
    # a 1 s batching window gathers the ten messages into one batch: one receive, one
    # invocation, one DeleteMessageBatch
    r = run(burst(size_bytes=size_bytes, batch_size=10, window_s=1.0))
    assert r.metrics["invocations"] == 1
    expected = (10 + receive_requests + 1) * SQS + 1 * LAMBDA_REQ + 0.1 * 0.125 * GB_S
    assert r.metrics["cost_usd"] == approx(expected)


def test_a_fifo_queue_is_priced_at_the_fifo_rate() -> None:
    r = run(burst(fifo=True))
    expected = 30 * SQS_FIFO + 10 * LAMBDA_REQ + 10 * 0.1 * 0.125 * GB_S
    assert SQS_FIFO == 0.50 / 1e6
    assert r.metrics["cost_usd"] == approx(expected)


@pytest.mark.parametrize("memory_mb", [128, 512, 1769, 10240])
def test_lambda_duration_is_billed_in_gb_seconds_of_the_configured_memory(memory_mb: int) -> None:
    r = run(burst(memory_mb=memory_mb, duration=0.25))
    expected = 30 * SQS + 10 * LAMBDA_REQ + 10 * 0.25 * (memory_mb / 1024) * GB_S
    assert r.metrics["cost_usd"] == approx(expected)


def test_prices_override_changes_the_total_as_computed_by_hand() -> None:
    prices = {
        "sqs_standard_per_million": 1.0,
        "lambda_requests_per_million": 0.5,
        "lambda_gb_s": 0.00002,
    }
    r = run(burst(prices=prices))
    expected = 30 * 1.0 / 1e6 + 10 * 0.5 / 1e6 + 10 * 0.1 * 0.125 * 0.00002
    assert r.metrics["cost_usd"] == approx(expected)
    # an override of an unused price changes nothing
    same = run(burst(prices={"sqs_fifo_per_million": 99.0}))
    assert same.metrics["cost_usd"] == approx(30 * SQS + 10 * LAMBDA_REQ + 10 * 0.0125 * GB_S)


def test_per_sink_cost_is_the_function_plus_its_source_queue() -> None:
    data = burst()
    comps = data["components"]
    # a second pipeline: 4 messages of 100 KB (2 chunks) to q2 → fn2 (0.5 s, 256 MB)
    comps["prod2"] = {
        "type": "producer",
        "arrivals": {"bursts": [{"at_s": 0, "count": 4}]},
        "send_to": ["q2"],
        "size_bytes": 100 * 1024,
    }
    comps["q2"] = {"type": "sqs_queue"}
    comps["fn2"] = {
        "type": "lambda_function",
        "trigger": {"source": "q2", "batch_size": 1},
        "duration_s": 0.5,
        "memory_mb": 256,
        "cold_start": {"duration_s": 0},
    }
    r = run(data)
    fn = 30 * SQS + 10 * LAMBDA_REQ + 10 * 0.1 * 0.125 * GB_S
    fn2 = (4 * 2 + 4 * 2 + 4) * SQS + 4 * LAMBDA_REQ + 4 * 0.5 * 0.25 * GB_S
    assert r.sinks["fn"]["cost_usd"] == approx(fn)
    assert r.sinks["fn2"]["cost_usd"] == approx(fn2)
    assert r.metrics["cost_usd"] == approx(fn + fn2)
    assert r.metrics["cost_per_million_usd"] == approx((fn + fn2) / 14 * 1e6)


def test_warmup_excludes_requests_made_before_it() -> None:
    data = burst(duration_s=40, warmup_s=20)
    data["components"]["prod"]["arrivals"] = {
        "bursts": [{"at_s": 0, "count": 10}, {"at_s": 30, "count": 5}]
    }
    r = run(data)
    # only the second burst counts: 5 × (send, receive, delete) and 5 invocations
    expected = 15 * SQS + 5 * LAMBDA_REQ + 5 * 0.1 * 0.125 * GB_S
    assert r.metrics["messages_produced"] == 5
    assert r.metrics["cost_usd"] == approx(expected)
    assert r.metrics["cost_per_million_usd"] == approx(expected / 5 * 1e6)


def test_a_timed_out_invocation_bills_the_timeout() -> None:
    # one message, a 5 s function cut at its 1 s timeout; the run ends (t = 11) before the
    # 30 s visibility timeout returns it, so there is no delete and no second receive
    data = burst(count=1, duration=5.0, drain_s=10, duration_s=1)
    data["components"]["fn"]["timeout_s"] = 1
    r = run_once(scenario_from_dict(data))
    assert r.metrics["in_flight"] == 1
    assert r.metrics["invocations"] == 1
    expected = 2 * SQS + 1 * LAMBDA_REQ + 1.0 * 0.125 * GB_S
    assert r.metrics["cost_usd"] == approx(expected)


def test_no_messages_cost_nothing_and_have_no_cost_per_million() -> None:
    data = burst(duration_s=40, warmup_s=20)  # the only burst is before the warm-up ends
    r = run_once(scenario_from_dict(data))
    assert r.metrics["messages_produced"] == 0
    assert r.metrics["cost_usd"] == 0
    assert r.metrics["cost_per_million_usd"] is None


def test_cost_meter_counts_per_component_and_resets() -> None:
    meter = CostMeter()
    meter.add("q", "sqs_standard_requests", 3)
    meter.counter("fn", "lambda_gb_s")[0] += 2.0
    assert meter.counts == {("q", "sqs_standard_requests"): 3, ("fn", "lambda_gb_s"): 2.0}
    assert meter.cost_by_component() == {"q": approx(3 * SQS), "fn": approx(2 * GB_S)}
    assert meter.total({"lambda_gb_s": 1.0}) == approx(3 * SQS + 2.0)
    meter.reset()
    assert meter.total() == 0
    with pytest.raises(KeyError, match="unknown billable item"):
        meter.add("q", "sqs_bytes")


def test_build_counts_match_the_hand_count() -> None:
    m = build(scenario_from_dict(burst(size_bytes=100 * 1024)))
    m.run()
    assert m.ctx.cost.counts == {
        ("q", "sqs_standard_requests"): 50,
        ("fn", "lambda_requests"): 10,
        ("fn", "lambda_gb_s"): pytest.approx(10 * 0.1 * 0.125, rel=1e-12),
    }


def test_lambda_duration_is_rounded_up_to_the_millisecond() -> None:
    r = run(burst(duration=0.1004))
    billed_s = 0.101  # AWS rounds each invocation's duration up to the next 1 ms
    expected = 30 * SQS + 10 * LAMBDA_REQ + 10 * billed_s * 0.125 * GB_S
    assert r.metrics["cost_usd"] == approx(expected)


# -- the INIT phase (cold starts) ----------------------------------------------------------------


def gb_s(data: dict[str, Any], fn: str = "fn") -> float:
    """The GB-seconds billed to function ``fn`` in one run of ``data``."""
    m = build(scenario_from_dict(copy.deepcopy(data)))
    m.run()
    return m.ctx.cost.counts[(fn, "lambda_gb_s")]


@pytest.mark.parametrize("billed", [True, False])
def test_cold_starts_are_billed_with_the_invocation_they_start(billed: bool) -> None:
    # 10 messages at 0, five batches at a time (max_concurrency 5): five cold starts of 0.25 s
    # (runs 0–0.35), then five warm runs of 0.1 s in the same environments (0.35–0.45)
    data = burst(count=10)
    data["components"]["fn"]["cold_start"] = {"duration_s": 0.25, "billed": billed}
    data["components"]["fn"]["trigger"]["max_concurrency"] = 5
    r = run(data)
    assert (r.metrics["invocations"], r.metrics["cold_starts"]) == (10, 5)
    init_s = 5 * 0.25 if billed else 0.0
    assert gb_s(data) == pytest.approx(0.125 * (10 * 0.1 + init_s), rel=1e-12)


def test_the_billed_duration_rounds_the_cold_start_and_the_run_together() -> None:
    # one message: 250.4 ms of INIT + 100.4 ms of run = 350.8 ms, billed as 351 ms (rounding
    # each part would bill 352 ms)
    data = burst(count=1, duration=0.1004)
    data["components"]["fn"]["cold_start"] = {"duration_s": 0.2504}
    assert gb_s(data) == pytest.approx(0.125 * 0.351, rel=1e-12)


def test_a_timed_out_invocation_bills_its_cold_start_and_the_timeout() -> None:
    # the cold start does not count toward the 1 s timeout, but it is billed
    data = burst(count=1, duration=5.0, drain_s=10, duration_s=1)
    data["components"]["fn"].update(timeout_s=1, cold_start={"duration_s": 0.5})
    assert gb_s(data) == pytest.approx(0.125 * 1.5, rel=1e-12)


def test_asynchronous_and_synchronous_cold_starts_are_billed() -> None:
    # three events invoked asynchronously at 0 (three cold starts), and one request through
    # API Gateway at 0 (one cold start): runs of 0.1 s after INIT of 0.3 s each
    cold = {"duration_s": 0.3}
    data = {
        "name": "init", "duration_s": 1, "drain_s": 10,
        "components": {
            "p": {"type": "producer", "send_to": ["f"],
                  "arrivals": {"bursts": [{"at_s": 0, "count": 3}]}},
            "f": {"type": "lambda_function", "duration_s": 0.1, "cold_start": cold},
            "u": {"type": "producer", "send_to": ["api"],
                  "arrivals": {"bursts": [{"at_s": 0, "count": 1}]}},
            "api": {"type": "api_gateway", "integration": "g"},
            "g": {"type": "lambda_function", "duration_s": 0.1, "cold_start": cold},
        },
    }  # fmt: skip
    assert gb_s(data, "f") == pytest.approx(0.125 * 3 * 0.4, rel=1e-12)
    assert gb_s(data, "g") == pytest.approx(0.125 * 0.4, rel=1e-12)
