"""Producers' batched sends (SendMessageBatch, PublishBatch, PutEvents) and failed entries.

Exact timelines with zero AWS overheads: a batch is sent when full or ``linger_s`` after its
first message; one batch is one call against a FIFO queue's throughput limit; a request error
is retried by the SDK as one request; failed entries inside a successful response are sent
again by the producer (``resend_failed_entries``), alone, after its retry backoff.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from conftest import conserved, events, msg_ids, pipeline, rows, run, scenario

from sim.config import ScenarioError
from sim.engine.streams import RandomStreams

BATCH = {"size": 10, "linger_s": 0.2}


def _jitter(n: int, seed: int = 0, producer: str = "prod") -> list[float]:
    """The first ``n`` uniforms of ``producer``'s retry stream (full jitter: sleep U·d)."""
    draw = RandomStreams(seed, 0).uniform(producer, "retry")
    return [draw() for _ in range(n)]


def _queue(count: int, *, queue: dict[str, Any] | None = None, **producer: Any) -> dict[str, Any]:
    """``count`` messages at t = 0 → queue ``q`` → function ``fn`` (1 s), batched sends."""
    return pipeline(arrivals={"bursts": [{"at_s": 0, "count": count}]}, queue=queue,
                    producer={"batch": dict(BATCH), **producer})  # fmt: skip


def _bus(count: int, *, bus: dict[str, Any] | None = None, **producer: Any) -> dict[str, Any]:
    """``count`` events at t = 0 → bus → endpoint ``ep``."""
    return {
        "name": "put-events",
        "duration_s": 1,
        "drain_s": 600,
        "components": {
            "prod": {"type": "producer", "arrivals": {"bursts": [{"at_s": 0, "count": count}]},
                     "send_to": ["bus"], **producer},
            "bus": {"type": "event_bus", "rules": [
                {"name": "all", "pattern": {"source": ["prod"]}, "targets": [{"target": "ep"}]}],
                **(bus or {})},
            "ep": {"type": "endpoint", "protocol": "https"},
        },
    }  # fmt: skip


# -- forming batches ----------------------------------------------------------------------------


def test_a_batch_waits_linger_s_for_more_messages_then_goes_as_one_request():
    r = run(_queue(3))
    assert events(r, "q", "send") == [0.2, 0.2, 0.2]
    assert r.metrics["producer_latency_mean_s"] == pytest.approx(0.2)
    assert r.metrics["latency_max_s"] == pytest.approx(1.2)
    conserved(r)


def test_a_full_batch_goes_at_once_and_the_rest_waits():
    r = run(_queue(25))
    assert events(r, "q", "send") == [0.0] * 20 + [0.2] * 5


def test_the_linger_timer_belongs_to_its_batch():
    # a batch filled at 0.1 s goes then; the next one starts at 0.15 s and goes at 0.35 s
    data = _queue(0)
    data["components"]["prod"]["arrivals"] = {"bursts": [
        {"at_s": 0, "count": 1}, {"at_s": 0.1, "count": 9}, {"at_s": 0.15, "count": 1}]}
    r = run(data)
    assert events(r, "q", "send") == [0.1] * 10 + [0.35]


def test_a_batch_never_exceeds_262144_bytes():
    # 100 KB messages: two fit in a request, a third would take it past 256 KiB
    r = run(_queue(5, size_bytes=100_000))
    assert events(r, "q", "send") == [0.0] * 4 + [0.2]


# -- throughput and cost ----------------------------------------------------------------------


@pytest.mark.parametrize(("batch", "delivered"), [(None, 1), (0, 10)])
def test_one_batch_is_one_call_against_the_fifo_limit(batch, delivered):
    # a FIFO queue allowing one call (per second, a one-call bucket) and 10 messages at once
    producer: dict[str, Any] = {"retry": {"max_attempts": 1}}
    if batch is not None:
        producer["batch"] = {"size": 10, "linger_s": batch}
    data = pipeline(arrivals={"bursts": [{"at_s": 0, "count": 10}]},
                    queue={"fifo": True, "max_calls_per_s": 1}, producer=producer)  # fmt: skip
    r = run(data)
    assert (r.metrics["delivered"], r.metrics["lost"]) == (delivered, 10 - delivered)


def test_batches_lift_a_fifo_queue_from_300_to_3000_messages_per_second():
    # 2,000 messages/s for 5 s into a FIFO queue (300 calls/s, the bucket starting full)
    def delivered(batch: dict[str, Any] | None) -> tuple[int, int]:
        prod: dict[str, Any] = {"rate_per_s": 2000, "retry": {"max_attempts": 1}}
        if batch is not None:
            prod["batch"] = batch
        data = pipeline(queue={"fifo": True}, producer=prod, duration_s=5,
                        function={"duration_s": 0.001})  # fmt: skip
        del data["components"]["prod"]["arrivals"]
        m = run(data, trace=False).metrics
        assert m["delivered"] + m["lost"] == m["messages_produced"]
        return int(m["delivered"]), int(m["messages_produced"])

    alone, _ = delivered(None)
    # the full bucket, then 300 calls per second until the last arrival just before 5 s
    assert 300 + 5 * 300 - 1 <= alone <= 300 + 5 * 300
    batched, produced = delivered(BATCH)
    assert batched == produced  # ~10,000 < 300 + 5 × 3,000


def _sends_billed(producer: dict[str, Any], target: str) -> float:
    """The cost of sending 10 one-KB messages at once to an unconsumed queue or topic."""
    data = {
        "name": "cost", "duration_s": 1, "drain_s": 10,
        "components": {
            "prod": {"type": "producer", "arrivals": {"bursts": [{"at_s": 0, "count": 10}]},
                     "send_to": [target], **producer},
            "q": {"type": "sqs_queue"},
            "t": {"type": "sns_topic"},
        },
    }  # fmt: skip
    return float(run(data, trace=False).metrics["cost_usd"])


@pytest.mark.parametrize("target", ["q", "t"])
def test_a_batch_is_billed_as_one_request_per_64_kb(target):
    alone = _sends_billed({}, target)
    batched = _sends_billed({"batch": BATCH}, target)
    assert alone == pytest.approx(10 * batched)
    assert batched > 0


# -- request errors and failed entries ---------------------------------------------------------


def test_a_failed_batch_request_is_retried_whole_by_the_sdk():
    (u1,) = _jitter(1)
    end = 0.2 + u1 / 2  # the outage fails the request at 0.2 s, not its retry at 0.2 + u1
    data = _queue(3)
    data["outages"] = [{"component": "q", "start_s": 0, "duration_s": end}]
    r = run(data)
    assert events(r, "q", "send_failed") == [0.2] * 3
    assert events(r, "q", "send") == [round(0.2 + u1, 9)] * 3
    m = r.metrics
    assert (m["sdk_retries"], m["entries_resent"], m["delivered"]) == (1, 0, 3)


def test_put_events_failed_entries_are_resent_by_the_producer_with_its_backoff():
    # every entry fails (errors.rate 1) inside successful responses: the producer sends each
    # again after its backoff, 3 attempts in all, then gives up
    u1, u2 = _jitter(2)
    t2, t3 = u1 * 1.0, u1 * 1.0 + u2 * 2.0
    r = run(_bus(1, bus={"errors": {"rate": 1.0}}))
    assert rows(r) == [(0.0, "bus", "put_failed"), (round(t2, 9), "bus", "put_failed"),
                       (round(t3, 9), "bus", "put_failed"), (round(t3, 9), "prod", "gave_up")]
    m = r.metrics
    assert (m["entries_resent"], m["sdk_retries"], m["lost"]) == (2, 0, 1)
    conserved(r)


def test_send_message_batch_failed_entries_are_resent_together_after_the_backoff():
    # errors.rate 1 fails every entry of the request at 0.2 s; the producer resends the three
    # together after its first backoff, then its second, then gives up (3 attempts)
    u1, u2 = _jitter(2)
    t2, t3 = 0.2 + u1, 0.2 + u1 + 2 * u2
    r = run(_queue(3, queue={"errors": {"rate": 1.0}}))
    assert events(r, "q", "send_failed") == [0.2] * 3 + [round(t2, 9)] * 3 + [round(t3, 9)] * 3
    assert events(r, "prod", "gave_up") == [round(t3, 9)] * 3
    m = r.metrics
    assert (m["entries_resent"], m["sdk_retries"], m["lost"]) == (6, 0, 3)
    conserved(r)


def test_publish_batch_failed_entries_are_resent_and_delivered():
    # half the entries fail; with enough attempts every message is published exactly once
    data = {
        "name": "publish-batch", "duration_s": 1, "drain_s": 600,
        "components": {
            "prod": {"type": "producer", "arrivals": {"bursts": [{"at_s": 0, "count": 50}]},
                     "send_to": ["t"], "batch": BATCH,
                     "retry": {"max_attempts": 30, "quota": False}},
            "t": {"type": "sns_topic", "errors": {"rate": 0.5},
                  "subscriptions": [{"target": "ep"}]},
            "ep": {"type": "endpoint", "protocol": "https"},
        },
    }  # fmt: skip
    r = run(data)
    m = r.metrics
    assert m["entries_resent"] == len(events(r, "t", "publish_failed")) > 0
    assert (m["delivered"], m["duplicates"], m["lost"]) == (50, 0, 0)
    assert len(events(r, "t", "publish")) == 50
    conserved(r)


def test_a_client_ignoring_failed_entries_loses_them():
    r = run(_bus(1, bus={"errors": {"rate": 1.0}}, resend_failed_entries=False))
    assert rows(r) == [(0.0, "bus", "put_failed"), (0.0, "prod", "gave_up")]
    m = r.metrics
    assert (m["entries_resent"], m["lost"]) == (0, 1)


@pytest.mark.parametrize("resend", [True, False])
def test_only_the_failed_entries_of_a_batch_are_sent_again_together(resend):
    r = run(_bus(10, bus={"errors": {"rate": 0.5}}, batch=BATCH, resend_failed_entries=resend,
                 retry={"max_attempts": 20, "quota": False}), seed=1)  # fmt: skip
    m = r.metrics
    failed = events(r, "bus", "put_failed")
    assert 0 < len(failed) < 10 * 20
    assert events(r, "bus", "put")[:1] == [0.0]  # a full batch goes at once
    assert m["duplicates"] == 0  # an entry that succeeded is never sent again
    if resend:
        assert m["entries_resent"] == len(failed)
        assert (m["delivered"], m["lost"]) == (10, 0)
        # the failed entries of one response go again together: one time per resend request
        per_request = [len(list(g)) for _, g in itertools.groupby(failed)]
        assert per_request == sorted(per_request, reverse=True)
        assert per_request[0] == 10 - events(r, "bus", "put").count(0.0)
    else:
        assert m["entries_resent"] == 0
        assert (m["delivered"], m["lost"]) == (10 - len(failed), len(failed))
    conserved(r)


def test_entry_failures_follow_the_error_rate():
    n = 2000
    r = run(_bus(n, bus={"errors": {"rate": 0.3}}, batch=BATCH, resend_failed_entries=False),
            trace=False)  # fmt: skip
    lost = r.metrics["lost"]
    sd = (n * 0.3 * 0.7) ** 0.5
    assert abs(lost - 0.3 * n) < 4 * sd


def test_a_high_throughput_partition_spent_fails_only_its_groups_entries():
    # one call per second per message group: the message sent alone at 0 spends its group's
    # call; in the batch of 10 at 0.5 s that group's entries are throttled, the other's stored
    data = pipeline(
        arrivals={"bursts": [{"at_s": 0, "count": 1}, {"at_s": 0.5, "count": 10}]},
        queue={"fifo": True, "high_throughput": True, "partition_calls_per_s": 1},
        producer={"groups": 2, "batch": {"size": 10, "linger_s": 0},
                  "retry": {"max_attempts": 1}},
    )  # fmt: skip
    r = run(data, seed=3)
    first = msg_ids(r)[0]
    failed = events(r, "q", "send_failed")
    stored = events(r, "q", "send")
    assert events(r, "q", "send", first) == [0.0]
    assert failed == [0.5] * len(failed) and 0 < len(failed) < 10
    assert len(stored) == 1 + 10 - len(failed)
    assert r.metrics["lost"] == len(failed)
    conserved(r)


def test_sequential_fan_out_moves_each_message_to_the_next_targets_batch():
    data = pipeline(arrivals={"bursts": [{"at_s": 0, "count": 3}]},
                    producer={"send_to": ["q", "q2"], "batch": BATCH})  # fmt: skip
    data["components"]["q2"] = {"type": "sqs_queue"}
    data["components"]["fn2"] = copy.deepcopy(data["components"]["fn"])
    data["components"]["fn2"]["trigger"]["source"] = "q2"
    r = run(data)
    assert events(r, "q", "send") == [0.2] * 3
    assert events(r, "q2", "send") == [0.4] * 3
    assert r.metrics["all_delivered_fraction"] == 1.0
    assert r.metrics["producer_latency_mean_s"] == pytest.approx(0.4)


# -- validation -----------------------------------------------------------------------------------


def test_batch_is_rejected_for_a_target_without_a_batch_api():
    data = pipeline(producer={"batch": BATCH})
    data["components"]["prod"]["send_to"] = ["b"]
    data["components"]["b"] = {"type": "s3_bucket"}
    with pytest.raises(ScenarioError, match=r"components\.prod\.batch: .* batched sends go to an "
                                            r"sqs_queue .* send_to 'b' is an s3_bucket"):
        scenario(data)


@pytest.mark.parametrize("size", [0, 11])
def test_batch_size_is_within_aws_limit_of_10(size):
    with pytest.raises(ScenarioError, match=r"components\.prod\.batch\.size: .*AWS range"):
        scenario(pipeline(producer={"batch": {"size": size}}))
