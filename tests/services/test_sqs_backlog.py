"""The compact backlog of standard queues (:mod:`sim.services.sqs.backlog`).

Packing must be invisible: each scenario runs twice on the same seed, once never packing
(``pack_after`` huge) and once packing every packable copy (``pack_after = 0``), and every
output must be the same: metrics, per-sink metrics (fates), queue metrics, diagnostics, the
time series (``visible``, ``oldest_age_s``, ...), the latency samples in delivery order, and
what is still stored at the end. Each identity test also checks that packing happened.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import conserved, pipeline, scenario

from sim.analysis.metrics import RunResult
from sim.build import Model, build
from sim.engine.wiring import Wiring
from sim.services.sqs import StandardQueue
from sim.services.sqs.backlog import CHUNK_SIZE

NEVER = 10**18


def _run(data: dict[str, Any], pack_after: int, trace: bool = False) -> tuple[Model, RunResult]:
    m = build(scenario(data), keep_samples=True, trace=trace, observe=True)
    for q in m.queues.values():
        if isinstance(q, StandardQueue):
            q.pack_after = pack_after
    return m, m.run()


def _stored(m: Model) -> dict[str, list[tuple[Any, ...]]]:
    """What each standard queue still stores, in line order, by value."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for name, q in m.queues.items():
        if isinstance(q, StandardQueue):
            out[name] = []
            for c in q.stored():
                msg = c.pair.msg
                out[name].append((
                    msg.id, msg.producer, msg.created_s, msg.group, msg.seq, msg.poison_u,
                    msg.size_bytes, msg.dedup_id, msg.counted, msg.n_sinks, c.enqueue_s,
                    c.pair.stats.name, c.receive_count,
                ))  # fmt: skip
    return out


def _outputs(m: Model, r: RunResult) -> dict[str, Any]:
    assert r.timeseries is not None
    return {
        "metrics": json.dumps(r.metrics, sort_keys=True),
        "sinks": json.dumps(r.sinks, sort_keys=True),
        "queues": json.dumps(r.queues, sort_keys=True),
        "diagnostics": json.dumps(r.diagnostics, sort_keys=True),
        "timeseries": r.timeseries.to_csv(),
        "samples": {s: st.samples for s, st in m.ledger.sinks.items()},
        "stored": _stored(m),
        "depth": {n: q.depth for n, q in m.queues.items()},
    }


def _packed(m: Model) -> dict[str, int]:
    return {n: q.packed for n, q in m.queues.items() if isinstance(q, StandardQueue)}


def same_with_and_without_packing(data: dict[str, Any]) -> tuple[dict[str, int], RunResult]:
    """Run ``data`` never packing and packing all it can; assert equal outputs."""
    m0, r0 = _run(data, NEVER)
    m1, r1 = _run(data, 0)
    assert sum(_packed(m0).values()) == 0
    out0, out1 = _outputs(m0, r0), _outputs(m1, r1)
    for key in out0:
        assert out1[key] == out0[key], key
    return _packed(m1), r1


def _load(rate: float = 20.0, duration_s: float = 300.0, **kw: Any) -> dict[str, Any]:
    """Poisson arrivals into q → fn, the function down from 20 s to 120 s."""
    data = pipeline(
        arrivals={"profile": [{"start_s": 0, "rate_per_s": rate}]},
        function={"duration_s": {"exponential": {"mean": 0.05}}, **kw.pop("function", {})},
        duration_s=duration_s,
        drain_s=kw.pop("drain_s", 600.0),
        outages=kw.pop("outages", [{"component": "fn", "start_s": 20, "duration_s": 100}]),
        **kw,
    )
    data["seed"] = 7
    return data


BATCHES = [1, 10]


@pytest.mark.parametrize("batch", BATCHES)
def test_outage_then_recovery_is_identical_packed(batch):
    packed, r = same_with_and_without_packing(_load(trigger={"batch_size": batch}))
    assert packed["q"] > 1000
    conserved(r)
    assert r.metrics["delivered"] == r.metrics["messages_produced"]


@pytest.mark.parametrize("batch", BATCHES)
def test_retention_expiring_during_the_run_and_at_the_end_is_identical_packed(batch):
    # the backlog of the first outage expires on receive (retention 60 s < the 100 s outage);
    # the second outage lasts past the end: the run ends with part of it expired at finalize
    data = _load(
        queue={"retention_s": 60},
        trigger={"batch_size": batch},
        drain_s=0.0,
        outages=[
            {"component": "fn", "start_s": 20, "duration_s": 100},
            {"component": "fn", "start_s": 200, "duration_s": 1000},
        ],
    )
    packed, r = same_with_and_without_packing(data)
    assert packed["q"] > 1000
    assert r.metrics["expired"] > 1000  # both expiries happened
    assert r.metrics["in_flight"] > 0  # and the run ended with a backlog


@pytest.mark.parametrize("batch", BATCHES)
def test_failures_and_a_dlq_are_identical_packed(batch):
    data = _load(
        function={"errors": {"rate": 0.3, "poison_rate": 0.05}},
        trigger={"batch_size": batch},
        dlq=True,
        max_receive_count=3,
    )
    packed, r = same_with_and_without_packing(data)
    assert packed["q"] > 1000
    assert r.metrics["dead_lettered"] > 0
    conserved(r)


@pytest.mark.parametrize("batch", BATCHES)
def test_duplicates_and_failed_sends_are_identical_packed(batch):
    data = _load(
        queue={"duplicate_rate": 0.05, "errors": {"rate": 0.1}, "latency_s": 0.01},
        function={"errors": {"rate": 0.2}},
        trigger={"batch_size": batch},
    )
    packed, r = same_with_and_without_packing(data)
    assert packed["q"] > 1000
    assert r.metrics["duplicates"] > 0
    conserved(r)


def test_warmup_crossing_the_outage_is_identical_packed():
    data = _load(warmup_s=60.0)
    packed, r = same_with_and_without_packing(data)
    assert packed["q"] > 1000
    conserved(r)


def _several(batch: int, **kw: Any) -> dict[str, Any]:
    data = _load(trigger={"batch_size": batch}, **kw)
    comps = data["components"]
    # another producer into q (groups, content dedup, other sizes, batched sends with retries)
    comps["other"] = {
        "type": "producer",
        "rate_per_s": 15.0,
        "send_to": ["q"],
        "groups": 4,
        "dedup_ids": "content",
        "size_bytes": 70_000,
        "batch": {"size": batch},
    }
    # one more into q that differs from prod by its name only
    comps["third"] = {"type": "producer", "rate_per_s": 5.0, "send_to": ["q"]}
    # a queue nobody consumes (a pair with no sink) fed by a fourth producer
    comps["idle"] = {"type": "sqs_queue"}
    comps["fourth"] = {"type": "producer", "rate_per_s": 5.0, "send_to": ["idle"]}
    return data


@pytest.mark.parametrize("batch", BATCHES)
def test_several_producers_groups_and_sinks_are_identical_packed(batch):
    # the run ends in a second outage: what is stored at the end mixes both producers
    data = _several(
        batch,
        drain_s=0.0,
        warmup_s=10.0,
        outages=[
            {"component": "fn", "start_s": 20, "duration_s": 100},
            {"component": "fn", "start_s": 250, "duration_s": 1000},
        ],
    )
    packed, r = same_with_and_without_packing(data)
    assert packed["q"] > 1000 and packed["idle"] > 1000
    assert r.metrics["ordering_violations"] > 0  # the groups' order is observed, and kept
    assert r.metrics["in_flight"] > 1000


def test_interleaved_producers_share_chunks():
    data = _several(1, outages=[])
    del data["components"]["fn"]  # nothing receives: the line is only what was sent
    m, _ = _run(data, 0)
    q = m.queues["q"]
    assert isinstance(q, StandardQueue) and q._packer is not None
    assert q.packed == q.depth > CHUNK_SIZE
    assert q._packer.chunks == -(-q.packed // CHUNK_SIZE)  # full chunks, whatever the sender
    assert len(q._packer.templates) == 3


def test_tracing_turns_packing_off_and_the_trace_is_the_same():
    data = _load(rate=5.0)
    _, r0 = _run(data, NEVER, trace=True)
    m1, r1 = _run(data, 0, trace=True)
    assert _packed(m1) == {"q": 0}
    assert r0.trace is not None and r1.trace is not None
    assert r1.trace.equals(r0.trace)
    # and the untraced packed run has the traced run's metrics
    m2, r2 = _run(data, 0)
    assert _packed(m2)["q"] > 0
    assert json.dumps(r2.metrics, sort_keys=True) == json.dumps(r0.metrics, sort_keys=True)


# -- queues that must never pack ----------------------------------------------------------------


def _never_packs(data: dict[str, Any], queue: str = "q") -> None:
    m, r = _run(data, 0)
    q = m.queues[queue]
    assert isinstance(q, StandardQueue)
    assert q.packed == 0
    assert r.metrics["messages_produced"] > 0


def test_a_queue_fed_by_a_resending_producer_never_packs():
    _never_packs(_load(producer={"resend": {"rate": 0.1, "delay_s": 1.0}}))


def test_a_queue_fed_by_a_two_target_producer_never_packs():
    data = _load()
    data["components"]["prod"]["send_to"] = ["q", "q2"]
    data["components"]["q2"] = {"type": "sqs_queue"}  # no consumer: n_sinks cannot tell
    _never_packs(data)
    _never_packs(data, "q2")


def test_a_queue_subscribed_to_a_topic_never_packs():
    data = _load()
    data["components"]["prod"]["send_to"] = ["t"]
    data["components"]["t"] = {"type": "sns_topic", "subscriptions": [{"target": "q"}]}
    _never_packs(data)


def test_a_queue_fed_by_a_handler_never_packs():
    data = _load()
    data["components"]["fn"]["outputs"] = [{"to": "q2"}]
    data["components"]["q2"] = {"type": "sqs_queue"}
    m, _ = _run(data, 0)
    assert _packed(m) == {"q": m.queues["q"].packed, "q2": 0}
    assert m.queues["q"].packed > 0  # its own sender is a lone producer


def test_a_dlq_and_its_source_pack_only_what_producers_send():
    data = _load(function={"errors": {"poison_rate": 0.2}}, dlq=True)
    m, r = _run(data, 0)
    packed = _packed(m)
    assert packed["q"] > 0 and packed["dlq"] == 0  # moved copies are stored as objects
    assert r.metrics["dead_lettered"] > 0


def test_wiring_mentions_finds_every_field_that_names_a_component():
    data = _load(dlq=True)
    comps = data["components"]
    comps["fn"]["outputs"] = [{"to": "q"}]
    comps["t"] = {"type": "sns_topic", "subscriptions": [{"target": "q"}]}
    comps["prod"]["send_to"] = ["t", "q"]
    m = build(scenario(data))
    wiring = Wiring(m.scenario, m.ledger, m.components)
    assert sorted(wiring.mentions("q")) == [
        ("fn", ("outputs", "0", "to")),
        ("fn", ("trigger", "source")),
        ("prod", ("send_to", "1")),
        ("t", ("subscriptions", "0", "target")),
    ]
    assert wiring.mentions("dlq") == [("q", ("dead_letter", "target"))]
    assert wiring.mentions("nobody") == []
    assert m.queues["q"].packed == 0 and m.queues["q"]._packer is None
