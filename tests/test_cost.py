"""Cost of a run on hand-counted scenarios (the ``cost_usd`` metrics).

What evsim bills (``sim/services/sqs``, ``sim/services/lambda_esm.py``,
``sim/services/lambda_.py``):

* SQS: one request per started 64 KB chunk of payload for each SendMessage; a receive of B
  messages is ⌈B/10⌉ ReceiveMessage requests (10 messages at most each), each one request per
  chunk of the payload it returns; one per DeleteMessage(Batch); the idle long polls of the
  event source's pollers: each poller holding no batch makes one request per 20 s, counted as
  free pollers × time ÷ 20 s (``idle``); standard and FIFO queues are priced separately.
* Lambda: one request per invocation (throttled invokes are not billed) and memory × (cold
  start + run time) in GB-seconds (the run is cut at ``timeout_s``; the cold start, the INIT
  phase, is billed since 1 August 2025).

Every scenario here has zero AWS overheads, constant durations and no errors, so each request
can be counted by hand. :func:`burst` fixes the event source at 5 pollers (``max_concurrency``
5, AWS's initial level), so the free pollers are known at every instant.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sim.build import build, run_once
from sim.config import scenario_from_dict
from sim.config.prices import DEFAULT_PRICES
from sim.engine.cost import CostMeter, sqs_chunks


def idle(poller_s: float) -> float:
    """The idle long polls of ``poller_s`` seconds of free pollers (one request per 20 s)."""
    return poller_s / 20.0


#: The run of :func:`burst`: duration 10 s + drain 60 s.
HORIZON_S = 70.0
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
                "trigger": {"source": "q", "batch_size": batch_size, "batching_window_s": window_s,
                            "max_concurrency": 5},
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
    # SQS: 10 sends + 10 receives + 10 deletes, and the 5 pollers' idle long polls once the
    # two waves of five (0–0.1, 0.1–0.2) are done; Lambda: 10 requests of 0.1 s at 0.125 GB
    sqs = 30 + idle(5 * (HORIZON_S - 0.2))
    assert sqs == pytest.approx(47.45)
    expected = sqs * SQS + 10 * LAMBDA_REQ + 10 * 0.1 * 0.125 * GB_S
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
    # 10 × (send + receive) of `chunks` requests each, 10 deletes of one request, idle polls
    sqs = 20 * chunks + 10 + idle(5 * (HORIZON_S - 0.2))
    expected = sqs * SQS + 10 * LAMBDA_REQ + 10 * 0.1 * 0.125 * GB_S
    assert r.metrics["cost_usd"] == approx(expected)


@pytest.mark.parametrize(
    ("size_bytes", "receive_requests"), [(1024, 1), (10 * 1024, 2)], ids=["10KB", "100KB"]
)
def test_a_batch_receive_bills_its_total_payload(size_bytes: int, receive_requests: int) -> None:
    # the ten messages make one batch (batch size 10): one receive, one invocation (0–0.1,
    # while the 4 other pollers poll), one DeleteMessageBatch
    r = run(burst(size_bytes=size_bytes, batch_size=10, window_s=1.0))
    assert r.metrics["invocations"] == 1
    sqs = 10 + receive_requests + 1 + idle(4 * 0.1 + 5 * (HORIZON_S - 0.1))
    expected = sqs * SQS + 1 * LAMBDA_REQ + 0.1 * 0.125 * GB_S
    assert r.metrics["cost_usd"] == approx(expected)


def test_a_fifo_queue_is_priced_at_the_fifo_rate() -> None:
    r = run(burst(fifo=True))
    # one message group: one batch at a time, 0–1 s, while the 4 other pollers poll
    sqs = 30 + idle(4 * 1.0 + 5 * (HORIZON_S - 1.0))
    expected = sqs * SQS_FIFO + 10 * LAMBDA_REQ + 10 * 0.1 * 0.125 * GB_S
    assert SQS_FIFO == 0.50 / 1e6
    assert r.metrics["cost_usd"] == approx(expected)


@pytest.mark.parametrize("memory_mb", [128, 512, 1769, 10240])
def test_lambda_duration_is_billed_in_gb_seconds_of_the_configured_memory(memory_mb: int) -> None:
    r = run(burst(memory_mb=memory_mb, duration=0.25))
    sqs = 30 + idle(5 * (HORIZON_S - 0.5))
    expected = sqs * SQS + 10 * LAMBDA_REQ + 10 * 0.25 * (memory_mb / 1024) * GB_S
    assert r.metrics["cost_usd"] == approx(expected)


def test_prices_override_changes_the_total_as_computed_by_hand() -> None:
    prices = {
        "sqs_standard_per_million": 1.0,
        "lambda_requests_per_million": 0.5,
        "lambda_gb_s": 0.00002,
    }
    r = run(burst(prices=prices))
    sqs = 30 + idle(5 * (HORIZON_S - 0.2))
    expected = sqs * 1.0 / 1e6 + 10 * 0.5 / 1e6 + 10 * 0.1 * 0.125 * 0.00002
    assert r.metrics["cost_usd"] == approx(expected)
    # an override of an unused price changes nothing
    same = run(burst(prices={"sqs_fifo_per_million": 99.0}))
    assert same.metrics["cost_usd"] == approx(sqs * SQS + 10 * LAMBDA_REQ + 10 * 0.0125 * GB_S)


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
    fn = (30 + idle(5 * (HORIZON_S - 0.2))) * SQS + 10 * LAMBDA_REQ + 10 * 0.1 * 0.125 * GB_S
    # fn2's event source (5 pollers) takes the 4 messages at once: 1 poller idle until 0.5
    sqs2 = 4 * 2 + 4 * 2 + 4 + idle(1 * 0.5 + 5 * (HORIZON_S - 0.5))
    fn2 = sqs2 * SQS + 4 * LAMBDA_REQ + 4 * 0.5 * 0.25 * GB_S
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
    # only the second burst counts: 5 × (send, receive, delete) and 5 invocations, and the
    # idle polls from 20 s on (5 pollers, all busy 30–30.1), to the end at 100 s
    sqs = 15 + idle(5 * 10 + 5 * (100 - 30.1))
    expected = sqs * SQS + 5 * LAMBDA_REQ + 5 * 0.1 * 0.125 * GB_S
    assert r.metrics["messages_produced"] == 5
    assert r.metrics["cost_usd"] == approx(expected)
    assert r.metrics["cost_per_million_usd"] == approx(expected / 5 * 1e6)


def test_a_timed_out_invocation_bills_the_timeout() -> None:
    # one message, a 5 s function cut at its 1 s timeout; the run ends (t = 11) before the
    # 30 s visibility timeout returns it, so there is no delete and no second receive. The
    # failure backs the event source off from 5 pollers to 4: 4 poll idle all along
    data = burst(count=1, duration=5.0, drain_s=10, duration_s=1)
    data["components"]["fn"]["timeout_s"] = 1
    r = run_once(scenario_from_dict(data))
    assert r.metrics["in_flight"] == 1
    assert r.metrics["invocations"] == 1
    expected = (2 + idle(4 * 11)) * SQS + 1 * LAMBDA_REQ + 1.0 * 0.125 * GB_S
    assert r.metrics["cost_usd"] == approx(expected)


def test_no_messages_cost_only_the_idle_polls_and_have_no_cost_per_million() -> None:
    data = burst(duration_s=40, warmup_s=20)  # the only burst is before the warm-up ends
    r = run_once(scenario_from_dict(data))
    assert r.metrics["messages_produced"] == 0
    # 5 pollers long-polling the empty queue from 20 s to 100 s: 5 × 80 / 20 = 20 requests
    assert r.metrics["cost_usd"] == approx(20 * SQS)
    assert r.metrics["cost_usd_sqs"] == approx(20 * SQS)
    assert r.metrics["cost_per_million_usd"] is None


def test_cost_meter_counts_per_component_and_resets() -> None:
    meter = CostMeter()
    meter.add("q", "sqs_standard_requests", 3)
    meter.counter("fn", "lambda_gb_s")[0] += 2.0
    assert meter.counts == {("q", "sqs_standard_requests"): 3, ("fn", "lambda_gb_s"): 2.0}
    assert meter.cost_by_component() == {"q": approx(3 * SQS), "fn": approx(2 * GB_S)}
    assert meter.total({"lambda_gb_s": 1.0}) == approx(3 * SQS + 2.0)
    # pending units count in the costs, not in the counts, until they are counted
    meter.set_pending("q", "sqs_standard_requests", 2.5)
    assert meter.counts[("q", "sqs_standard_requests")] == 3
    assert meter.cost_by_component()["q"] == approx(5.5 * SQS)
    assert meter.cost_by_service()["sqs"] == approx(5.5 * SQS)
    meter.set_pending("q", "sqs_standard_requests", 0.0)
    assert meter.total() == approx(3 * SQS + 2 * GB_S)
    meter.set_pending("q", "sqs_standard_requests", 1.0)
    meter.reset()
    assert meter.total() == 0
    with pytest.raises(KeyError, match="unknown billable item"):
        meter.add("q", "sqs_bytes")


def test_build_counts_match_the_hand_count() -> None:
    m = build(scenario_from_dict(burst(size_bytes=100 * 1024)))
    m.run()
    assert m.ctx.cost.counts == {
        ("q", "sqs_standard_requests"): pytest.approx(50 + idle(5 * 69.8), rel=1e-12),
        ("fn", "lambda_requests"): 10,
        ("fn", "lambda_gb_s"): pytest.approx(10 * 0.1 * 0.125, rel=1e-12),
    }


def test_lambda_duration_is_rounded_up_to_the_millisecond() -> None:
    r = run(burst(duration=0.1004))
    billed_s = 0.101  # AWS rounds each invocation's duration up to the next 1 ms
    sqs = 30 + idle(5 * (HORIZON_S - 2 * 0.1004))
    expected = sqs * SQS + 10 * LAMBDA_REQ + 10 * billed_s * 0.125 * GB_S
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


# -- ReceiveMessage requests and idle long polls --------------------------------------------------


@pytest.mark.parametrize(
    ("size_bytes", "receive_requests"),
    [(1024, 3), (10 * 1024, 5)],
    ids=["1KB", "10KB"],
)
def test_a_batch_of_25_takes_3_receive_requests_each_billed_by_its_payload(
    size_bytes: int, receive_requests: int
) -> None:
    # a batch of 25 is received in requests of 10, 10 and 5 messages; of 10 KB messages they
    # return 100, 100 and 50 KB: 2 + 2 + 1 chunks (the batch's 250 KB would be 4)
    r = run(burst(count=25, size_bytes=size_bytes, batch_size=25, window_s=1.0))
    assert r.metrics["invocations"] == 1
    sends = 25 * sqs_chunks(size_bytes)
    sqs = sends + receive_requests + 1 + idle(4 * 0.1 + 5 * (HORIZON_S - 0.1))
    assert r.metrics["cost_usd_sqs"] == approx(sqs * SQS)


@pytest.mark.parametrize("wait_s", [20.0, 10.0])
def test_idle_pollers_make_one_request_per_long_poll_while_the_queue_is_empty(
    wait_s: float,
) -> None:
    # one 1 s message at 0 and one at 100; 200 s in all. The 5 pollers: one busy 0–1 and
    # 100–101, so 4 + 99 × 5 + 4 + 99 × 5 = 998 poller-seconds of long polls
    data = burst(count=1, duration=1.0, duration_s=101, drain_s=99)
    data["components"]["prod"]["arrivals"] = {
        "bursts": [{"at_s": 0, "count": 1}, {"at_s": 100, "count": 1}]
    }
    data["components"]["fn"]["trigger"]["long_poll_wait_s"] = wait_s
    m = build(scenario_from_dict(data))
    r = m.run()
    requests = 2 * 3 + 998 / wait_s  # send, receive, delete per message; the idle polls
    assert m.ctx.cost.counts[("q", "sqs_standard_requests")] == approx(requests)
    assert requests == pytest.approx(55.9 if wait_s == 20 else 105.8)
    assert r.metrics["cost_usd_sqs"] == approx(requests * SQS)
    assert r.sinks["fn"]["cost_usd"] == approx(requests * SQS + 2 * LAMBDA_REQ + 2 * 0.125 * GB_S)


def test_pollers_holding_throttled_batches_make_no_idle_polls() -> None:
    # reserved concurrency 0: the one message is received, throttled and held until its
    # visibility timeout ends, received again, and so on: the event source never polls idle
    data = burst(count=1, duration_s=1, drain_s=99)
    data["components"]["fn"]["reserved_concurrency"] = 0
    m = build(scenario_from_dict(data), trace=True)
    r = m.run()
    receives = int(((r.trace["component"] == "q") & (r.trace["event"] == "receive")).sum())
    assert receives == 4  # at 0, 30, 60 and 90 s
    assert m.ctx.cost.counts[("q", "sqs_standard_requests")] == 1 + receives


def test_the_cost_series_includes_the_idle_polls_so_far() -> None:
    # the run's cumulative cost sampled every 10 s: the 10 messages' requests, then 5 idle
    # pollers from 0.2 s on
    data = burst(observe={"interval_s": 10})
    r = run_once(scenario_from_dict(data))
    ts = r.timeseries
    cost = ts[(ts["component"] == "run") & (ts["metric"] == "cost_usd")].set_index("t_s")["value"]
    lam = 10 * LAMBDA_REQ + 10 * 0.1 * 0.125 * GB_S
    for t in (10.0, 40.0, 70.0):
        assert cost[t] == approx((30 + idle(5 * (t - 0.2))) * SQS + lam)
    assert cost[70.0] == approx(r.metrics["cost_usd"])
