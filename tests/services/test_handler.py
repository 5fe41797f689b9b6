"""Handlers that emit: derived messages, lineage, duplicates downstream, sends that fail.

Exact timelines with zero overheads: functions run 1 s (no cold start), queues answer at once.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import NO_COLD, events, model, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import ScenarioError
from sim.engine.fates import FATES


def fn(source: str | None = None, **kw: Any) -> dict[str, Any]:
    """A function with zero overheads: 1 s constant duration, 10 s timeout, no cold start."""
    spec: dict[str, Any] = {
        "type": "lambda_function",
        "duration_s": 1,
        "timeout_s": 10,
        "cold_start": dict(NO_COLD),
    }
    if source is not None:
        spec["trigger"] = {"source": source, "batch_size": 1}
    spec.update(kw)
    return spec


def two_stages(f1: dict[str, Any] | None = None, q2: dict[str, Any] | None = None,
               f2: dict[str, Any] | None = None, *, count: int = 1, dlq: bool = False,
               **top: Any) -> dict[str, Any]:  # fmt: skip
    """prod → q1 → f1 → (outputs) q2 → f2, one message at t = 0."""
    q1: dict[str, Any] = {"type": "sqs_queue", "visibility_timeout_s": 30}
    comps: dict[str, Any] = {
        "prod": {"type": "producer", "arrivals": {"bursts": [{"at_s": 0, "count": 1}]},
                 "send_to": ["q1"]},
        "q1": q1,
        "f1": fn("q1", outputs=[{"to": "q2", "count": count,
                                 "retry": {"max_attempts": 1}}], **(f1 or {})),
        "q2": {"type": "sqs_queue", "visibility_timeout_s": 30, **(q2 or {})},
        "f2": fn("q2", **(f2 or {})),
    }  # fmt: skip
    if dlq:
        comps["dlq"] = {"type": "sqs_queue"}
        q1["dead_letter"] = {"target": "dlq", "max_receive_count": 3}
    return {"name": "two-stages", "duration_s": 1, "drain_s": 600, "components": comps, **top}


def test_a_derived_message_reaches_the_second_stage_with_latency_from_the_root():
    r = run(two_stages())
    assert events(r, "f1", "success") == [1.0]
    assert events(r, "f2", "success") == [2.0]
    m = r.metrics
    assert (m["messages_produced"], m["messages_derived"], m["deliveries_expected"]) == (1, 1, 2)
    assert (m["delivered"], m["duplicates"], m["all_delivered_fraction"]) == (2, 0, 1.0)
    assert r.sinks["f1"]["latency_max_s"] == 1.0
    assert r.sinks["f2"]["latency_max_s"] == 2.0  # from the root's creation, not the send


@pytest.mark.parametrize("count", [0, 1, 3])
def test_count_derived_messages_per_input(count):
    r = run(two_stages(count=count))
    assert r.metrics["messages_derived"] == count
    assert r.sinks["f2"]["deliveries_expected"] == count
    assert r.sinks["f2"]["delivered"] == count


def test_a_failure_after_the_sends_re_emits_the_same_message_a_duplicate_downstream():
    r = run(two_stages({"errors": {"rate": 1.0}}, dlq=True))
    assert events(r, "f1", "failure") == [1.0, 31.0, 61.0]
    assert events(r, "f2", "success") == [2.0, 32.0, 62.0]
    m = r.metrics
    assert m["messages_derived"] == 1  # one logical message, sent three times
    assert (r.sinks["f2"]["delivered"], r.sinks["f2"]["duplicates"]) == (1, 2)
    assert r.sinks["f1"]["dead_lettered"] == 1
    assert m["all_delivered_fraction"] == 0.0 and m["partial_fraction"] == 1.0


def test_a_failure_decided_before_the_side_effects_sends_nothing():
    r = run(two_stages({"errors": {"rate": 1.0, "after_side_effects": False}}, dlq=True))
    assert r.metrics["messages_derived"] == 0
    assert r.sinks["f2"]["deliveries_expected"] == 0


def test_a_send_that_fails_fails_the_input_and_the_message_never_existed_until_it_is_sent():
    # q2 is down for the first 20 s: f1's send at t = 1 fails (no retry), so does its input
    r = run(two_stages(outages=[{"component": "q2", "start_s": 0, "duration_s": 20}]))
    assert events(r, "f1", "failure") == [1.0]
    assert events(r, "f1", "success") == [31.0]
    assert events(r, "f2", "success") == [32.0]
    m = r.metrics
    assert (m["messages_derived"], m["deliveries_expected"], m["duplicates"]) == (1, 2, 0)
    assert r.sinks["f1"]["attempts"] == 2


def test_a_function_timeout_while_sending_leaves_the_send_made_and_retries_the_input():
    # sends take 5 s; f1 runs 1 s and times out at 3 s, while its send is still out
    r = run(two_stages({"timeout_s": 3}, q2={"latency_s": 5}, dlq=True))
    assert events(r, "f1", "timeout") == [3.0, 33.0, 63.0]
    # every send still lands (at 6, 36, 66): one logical message, delivered once, 2 duplicates
    assert events(r, "f2", "success") == [7.0, 37.0, 67.0]
    assert r.sinks["f1"]["dead_lettered"] == 1
    assert (r.sinks["f2"]["delivered"], r.sinks["f2"]["duplicates"]) == (1, 2)


@pytest.mark.parametrize(("content", "duplicates"), [(True, 0), (False, 2)])
def test_fifo_content_based_dedup_drops_a_re_emission_within_five_minutes(content, duplicates):
    q2 = {"fifo": True, "content_based_dedup": content}
    r = run(two_stages({"errors": {"rate": 1.0}}, q2=q2, dlq=True))
    assert r.sinks["f2"]["duplicates"] == duplicates
    assert r.sinks["f2"]["delivered"] == 1


def test_an_idempotent_consumer_skips_what_it_already_processed():
    plain = run(two_stages({"errors": {"rate": 1.0}}, dlq=True))
    idem = run(two_stages({"errors": {"rate": 1.0}}, f2={"idempotent": {"window_s": 600}},
                          dlq=True))  # fmt: skip
    assert plain.sinks["f2"]["duplicates"] == 2
    assert idem.sinks["f2"]["duplicates"] == 0
    assert idem.sinks["f2"]["attempts"] == 3  # received three times, processed once


def test_an_idempotent_window_that_has_passed_processes_again():
    idem = run(two_stages({"errors": {"rate": 1.0}}, f2={"idempotent": {"window_s": 10}},
                          dlq=True))  # fmt: skip
    assert idem.sinks["f2"]["duplicates"] == 2  # 30 s apart: beyond the 10 s window


def test_outputs_to_a_topic_fan_out_to_every_subscription():
    data = two_stages()
    comps = data["components"]
    comps["f1"]["outputs"] = [{"to": "t"}]
    comps["t"] = {"type": "sns_topic", "subscriptions": [{"target": "q2"}, {"target": "q3"}]}
    comps["q3"] = {"type": "sqs_queue", "visibility_timeout_s": 30}
    comps["f3"] = fn("q3")
    r = run(data)
    assert r.metrics["messages_derived"] == 1
    assert (r.sinks["f2"]["delivered"], r.sinks["f3"]["delivered"]) == (1, 1)
    assert r.metrics["all_delivered_fraction"] == 1.0


def test_outputs_copy_input_attributes_and_draw_their_own_for_filter_policies():
    data = two_stages()
    comps = data["components"]
    comps["prod"]["attributes"] = {"kind": "a"}
    comps["f1"]["outputs"] = [{"to": "t", "from_input": ["kind"], "attributes": {"x": 1}}]
    comps["t"] = {"type": "sns_topic", "subscriptions": [
        {"target": "q2", "filter_policy": {"kind": ["a"]}},
        {"target": "q3", "filter_policy": {"kind": ["b"]}},
    ]}  # fmt: skip
    comps["q3"] = {"type": "sqs_queue", "visibility_timeout_s": 30}
    comps["f3"] = fn("q3")
    r = run(data)
    assert (r.sinks["f2"]["delivered"], r.sinks["f3"]["deliveries_expected"]) == (1, 0)


def test_max_hops_bounds_an_amplifying_loop():
    data = two_stages(max_hops=3)
    data["components"]["f1"]["outputs"] = [{"to": "q1", "count": 2}]
    r = run(data)
    assert r.metrics["messages_derived"] == 2 + 4 + 8
    assert r.sinks["f1"]["delivered"] == 1 + 14


def test_an_amplifying_loop_without_max_hops_is_rejected():
    data = two_stages()
    data["components"]["f1"]["outputs"] = [{"to": "q1", "count": 2}]
    with pytest.raises(ScenarioError, match="max_hops"):
        run(data)


def test_a_loop_that_cannot_amplify_is_accepted():
    data = two_stages()
    data["components"]["f1"]["outputs"] = [{"to": "q1", "count": {"choice": {"values": [0, 1]}}}]
    r = run(data)
    assert r.metrics["in_flight"] == 0


@pytest.mark.parametrize(
    ("output", "why"),
    [
        ({"to": "prod"}, "must name an sqs_queue, an sns_topic"),
        ({"to": "nowhere"}, "no component of that name"),
        ({"to": "q2", "count": -1}, "count: -1 — must be ≥ 0"),
    ],
)
def test_bad_outputs_are_rejected_before_anything_runs(output, why):
    data = two_stages()
    data["components"]["f1"]["outputs"] = [output]
    with pytest.raises(ScenarioError, match=why):
        run(data)


def test_on_success_destination_after_an_async_invocation():
    data = two_stages()
    comps = data["components"]
    comps["prod"]["send_to"] = ["f0"]
    comps["f0"] = fn(**{"async": {"on_success": "q2"}})
    del comps["f1"], comps["q1"]
    r = run(data)
    assert events(r, "f2", "success") == [2.0]
    assert r.metrics["messages_derived"] == 1


# == conservation on random pipelines =============================================================


@st.composite
def pipelines(draw: st.DrawFn) -> dict[str, Any]:
    """Random chains of 2–4 stages with outputs, errors, FIFO queues, DLQs and outages.

    Handlers may also call dependencies (with circuit breakers and adaptive retries), keep an
    idempotency record and drop inputs older than ``max_message_age_s``.
    """
    n = draw(st.integers(2, 4))
    comps: dict[str, Any] = {}
    fifo = draw(st.booleans())
    for i in range(n):
        q = {"type": "sqs_queue", "visibility_timeout_s": 20, "fifo": fifo,
             "content_based_dedup": fifo and draw(st.booleans()),
             "retention_s": draw(st.sampled_from([120, 345_600])),
             "latency_s": draw(st.sampled_from([0, 0, 0.5]))}  # fmt: skip
        if draw(st.booleans()):
            q["dead_letter"] = {"target": f"d{i}", "max_receive_count": draw(st.integers(1, 3))}
            comps[f"d{i}"] = {"type": "sqs_queue", "fifo": fifo}
            if draw(st.booleans()):
                comps[f"dfn{i}"] = fn(f"d{i}", errors={"rate": draw(st.sampled_from([0, 1.0]))})
        comps[f"q{i}"] = q
        f = fn(f"q{i}", duration_s=draw(st.sampled_from([0.1, 1, {"exponential": {"mean": 1}}])),
               errors={"rate": draw(st.sampled_from([0, 0.2, 0.5])),
                       "after_side_effects": draw(st.booleans())})  # fmt: skip
        f["trigger"]["batch_size"] = draw(st.integers(1, 3))
        f["trigger"]["report_batch_item_failures"] = draw(st.booleans())
        if i + 1 < n:
            count = draw(st.sampled_from([0, 1, 2, {"choice": {"values": [0, 1, 3]}}]))
            f["outputs"] = [{"to": f"q{i + 1}", "count": count,
                             "retry": {"max_attempts": draw(st.integers(1, 3)), "base_s": 0.1}}]
            if draw(st.booleans()):
                f["timeout_s"] = 3
        if draw(st.integers(0, 3)) == 0:
            f["idempotent"] = {"window_s": 60}
        if draw(st.integers(0, 2)) == 0:
            f["max_message_age_s"] = draw(st.sampled_from([0.5, 3, 30]))
        if draw(st.booleans()):
            dep = draw(st.sampled_from(["db", "table", "api"]))
            call: dict[str, Any] = {
                "dependency": dep, "count": draw(st.integers(1, 2)),
                "retry": {"max_attempts": draw(st.integers(1, 3)), "base_s": 0.2},
            }  # fmt: skip
            if draw(st.booleans()):
                call["timeout_s"] = draw(st.sampled_from([0.3, 2, {"exponential": {"mean": 1}}]))
            if dep == "db" and draw(st.booleans()):
                call["connection"] = "per_environment"
            if dep == "table":
                call["op"] = draw(st.sampled_from(["read", "write"]))
            if draw(st.booleans()):
                call["circuit_breaker"] = {
                    "window_s": draw(st.sampled_from([2, 30])),
                    "min_calls": draw(st.integers(1, 4)),
                    "failure_ratio": draw(st.sampled_from([0.2, 0.5, 1])),
                    "open_s": draw(st.sampled_from([0.5, 5])),
                    "half_open_probes": draw(st.integers(1, 2)),
                }
            if draw(st.booleans()):
                call["retry"]["mode"] = "adaptive"
            f["calls"] = [call]
            f["timeout_s"] = draw(st.sampled_from([3, 10]))
        comps[f"f{i}"] = f
    comps["db"] = {"type": "database", "max_connections": draw(st.integers(1, 3)),
                   "waiting": draw(st.sampled_from([None, 0, 2])),
                   "service_time_s": {"exponential": {"mean": 0.5}},
                   "contention": {"sigma": 0.1, "kappa": draw(st.sampled_from([0, 0.05]))}}
    comps["table"] = {"type": "dynamodb_table", "capacity_mode": "provisioned",
                      "read_capacity_units": 1, "write_capacity_units": 1, "burst_s": 2}
    comps["api"] = {"type": "http_api", "max_concurrency": 1,
                    "rate_limit": {"rate_per_s": 1, "burst": 1}}  # fmt: skip
    comps["prod"] = {"type": "producer", "send_to": ["q0"], "groups": 2,
                     "arrivals": {"bursts": [{"at_s": 0, "count": draw(st.integers(1, 12)),
                                              "spread_s": 5}]}}  # fmt: skip
    outages = [{"component": draw(st.sampled_from([c for c in comps if c != "prod"])),
                "start_s": draw(st.sampled_from([0, 3])), "duration_s": draw(st.sampled_from(
                    [2, 40])), "mode": draw(st.sampled_from(["unavailable", "slow", "throttled"]))}
               for _ in range(draw(st.integers(0, 2)))]  # fmt: skip
    return {"name": "random-pipeline", "duration_s": 10, "drain_s": draw(st.sampled_from([5, 400])),
            "components": comps, "outages": outages}  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=pipelines(), seed=st.integers(0, 2**32 - 1))
def test_conservation_on_random_pipelines(data, seed):
    r = run(data, seed=seed, trace=False)  # run_once checks conservation itself
    m = r.metrics
    assert sum(m[f] for f in FATES) == m["deliveries_expected"]
    for s in r.sinks.values():
        assert sum(s[f] for f in FATES) == s["deliveries_expected"]
        assert s["delivered"] <= s["deliveries_expected"]
    fr = (m["all_delivered_fraction"], m["partial_fraction"])
    assert 0.0 <= fr[0] <= 1.0 and 0.0 <= fr[1] <= 1.0 and fr[0] + fr[1] <= 1.0 + 1e-12
    # the same seed gives the same results, with or without the trace
    again = run(data, seed=seed, trace=True)
    assert again.metrics == m and again.sinks == r.sinks


# == calls to dependencies, through the handler ===================================================


def with_db(f: dict[str, Any], db: dict[str, Any], count: int = 2, **top: Any) -> dict[str, Any]:
    """prod (``count`` messages at t = 0) → q → f, which calls the database ``db``."""
    return {
        "name": "calls", "duration_s": 1, "drain_s": 600,
        "components": {
            "prod": {"type": "producer", "arrivals": {"bursts": [{"at_s": 0, "count": count}]},
                     "send_to": ["q"]},
            "q": {"type": "sqs_queue", "visibility_timeout_s": 30},
            "f": fn("q", **f),
            "db": {"type": "database", **db},
        },
        **top,
    }  # fmt: skip


ONE_CONN = {"max_connections": 1, "service_time_s": 2}


def test_calls_run_after_the_duration_and_wait_for_a_connection():
    r = run(with_db({"calls": [{"dependency": "db"}]}, ONE_CONN))
    # both run 0–1; the first query 1–3, the second waits for the connection, 3–5
    assert events(r, "f", "success") == [3.0, 5.0]
    assert r.dependencies["db"]["calls"] == 2
    assert r.metrics["dependency_calls"] == 2


def test_client_timeouts_leave_the_line_or_leave_the_query_running_as_wasted_work():
    call = {"dependency": "db", "timeout_s": 3.5, "retry": {"max_attempts": 1}}
    r = run(with_db({"calls": [call]}, ONE_CONN, count=3, drain_s=9))  # ends at t = 10
    # one connection, 2 s queries, all three ask at t = 1: the first is served 1–3; the second
    # 3–5 but its client gives up at 4.5 (in service: the query runs on); the third gives up
    # at 4.5 while still waiting (it leaves the line, no work)
    assert events(r, "f", "success")[:1] == [3.0]
    assert events(r, "f", "failure")[:2] == [4.5, 4.5]
    d = r.dependencies["db"]
    assert (d["timeouts"], d["left_line"]) == (2, 1)
    assert d["wasted_s"] == 2.0
    assert (r.metrics["delivered"], r.metrics["in_flight"]) == (1, 2)  # back at t = 31


def test_a_function_timeout_during_a_call_leaves_the_query_running_as_wasted_work():
    f = {"timeout_s": 2, "calls": [{"dependency": "db"}]}
    q = {"max_connections": 1, "service_time_s": 5}
    data = with_db(f, q, count=1)
    data["components"]["q"]["dead_letter"] = {"target": "dlq", "max_receive_count": 1}
    data["components"]["dlq"] = {"type": "sqs_queue"}
    r = run(data)
    assert events(r, "f", "timeout") == [2.0]
    assert r.metrics["function_timeouts"] == 1
    assert r.sinks["f"]["dead_lettered"] == 1
    d = r.dependencies["db"]
    assert d["wasted_s"] == 5.0  # the query ran 1–6 for a caller that left at 2


def test_a_retried_call_succeeds_once_the_connection_frees():
    call = {"dependency": "db", "retry": {"max_attempts": 5, "base_s": 1, "cap_s": 1}}
    r = run(with_db({"calls": [call]}, {**ONE_CONN, "waiting": 0}))
    # the second query is refused at once (no waiting room) and retried until the first ends
    assert r.sinks["f"]["delivered"] == 2
    assert r.dependencies["db"]["throttled"] >= 1
    assert r.metrics["dependency_throttled"] == r.dependencies["db"]["throttled"]


def test_per_environment_connections_exhaust_the_database_with_concurrent_environments():
    call = {"dependency": "db", "connection": "per_environment", "retry": {"max_attempts": 1}}
    r = run(with_db({"calls": [call]}, {"max_connections": 1, "service_time_s": 0.5}))
    # two environments run at once; the second cannot open a connection: refused
    assert events(r, "f", "failure")[:1] == [1.0]
    assert r.dependencies["db"]["throttled"] == 1
    assert r.sinks["f"]["delivered"] == 2  # retried later in the warm environment


def test_per_call_connections_share_the_database_across_environments():
    call = {"dependency": "db", "retry": {"max_attempts": 1}}
    r = run(with_db({"calls": [call]}, {"max_connections": 1, "service_time_s": 0.5}))
    assert events(r, "f", "success") == [1.5, 2.0]  # the second waits in line
    assert r.dependencies["db"]["throttled"] == 0


def test_a_call_count_makes_sequential_calls():
    r = run(with_db({"calls": [{"dependency": "db", "count": 3}]},
                    {"max_connections": 10, "service_time_s": 1}, count=1))  # fmt: skip
    assert events(r, "f", "success") == [4.0]
    assert r.dependencies["db"]["calls"] == 3


def test_calls_come_before_outputs_and_a_failed_call_sends_nothing():
    f = {"calls": [{"dependency": "db", "retry": {"max_attempts": 1}}],
         "outputs": [{"to": "q2"}]}  # fmt: skip
    data = with_db(f, ONE_CONN, count=1,
                   outages=[{"component": "db", "start_s": 0, "duration_s": 10}])  # fmt: skip
    data["components"]["q2"] = {"type": "sqs_queue", "visibility_timeout_s": 30}
    data["components"]["f2"] = fn("q2")
    r = run(data)
    assert events(r, "f", "failure") == [1.0]
    assert events(r, "f", "success") == [33.0]  # redelivered at 30: run, query, send
    assert events(r, "f2", "success") == [34.0]
    assert r.metrics["messages_derived"] == 1


def test_dynamodb_provisioned_throttling_is_retried_by_the_sdk():
    data = with_db({"calls": [{"dependency": "t", "op": "write", "size_kb": 1,
                               "retry": {"max_attempts": 10, "base_s": 1, "cap_s": 1}}]},
                   {"max_connections": 1}, count=20)  # fmt: skip
    data["components"]["t"] = {"type": "dynamodb_table", "capacity_mode": "provisioned",
                               "write_capacity_units": 1, "read_capacity_units": 1,
                               "burst_s": 5, "latency_s": 0}  # fmt: skip
    data["components"]["f"]["trigger"]["max_concurrency"] = 20
    r = run(data)
    d = r.dependencies["t"]
    assert d["throttled"] > 0
    assert r.sinks["f"]["delivered"] == 20


def test_a_call_to_something_that_is_not_a_dependency_is_rejected():
    data = with_db({"calls": [{"dependency": "q"}]}, ONE_CONN)
    with pytest.raises(ScenarioError, match="a call must name a database, a dynamodb_table or "
                                            "an http_api; 'q' is an sqs_queue"):  # fmt: skip
        run(data)


def test_per_environment_connections_only_for_a_database():
    data = with_db({"calls": [{"dependency": "api", "connection": "per_environment"}]}, ONE_CONN)
    data["components"]["api"] = {"type": "http_api"}
    with pytest.raises(ScenarioError, match="per_environment connections apply to a database"):
        run(data)


def test_a_client_timeout_longer_than_the_function_timeout_gets_a_warning(tmp_path):
    import yaml

    from sim.config import EvsimWarning, load_scenario

    path = tmp_path / "s.yaml"
    data = with_db({"timeout_s": 3, "calls": [{"dependency": "db", "timeout_s": 5}]}, ONE_CONN)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    expected = r"s\.yaml: components\.f\.calls\.0\.timeout_s: 5 — longer than the function's"
    with pytest.warns(EvsimWarning, match=expected + r" timeout_s \(3\)"):
        load_scenario(path)


@pytest.mark.parametrize("target", ["bus", "endpoint", "function"])
def test_outputs_to_a_bus_an_endpoint_or_a_function(target):
    data = two_stages()
    comps = data["components"]
    comps["f1"]["outputs"] = [{"to": "out", "attributes": {"kind": "order"}}]
    if target == "bus":
        comps["out"] = {"type": "event_bus", "rules": [
            {"name": "orders", "pattern": {"detail": {"kind": ["order"]}},
             "targets": [{"target": "q2"}]}]}  # fmt: skip
    elif target == "endpoint":
        comps["out"] = {"type": "endpoint", "latency_s": 0.5}
    else:
        comps["out"] = fn()
    r = run(data)
    sink = "f2" if target == "bus" else "out"
    assert r.sinks[sink]["delivered"] == 1
    assert r.metrics["messages_derived"] == 1
    assert r.metrics["all_delivered_fraction"] == 1.0


def test_on_failure_to_a_bus_routes_the_failed_event_by_its_rules():
    data = two_stages()
    comps = data["components"]
    comps["prod"]["send_to"] = ["f0"]
    comps["f0"] = fn(errors={"rate": 1.0}, **{"async": {"max_retries": 0, "on_failure": "b"}})
    comps["b"] = {"type": "event_bus", "rules": [
        {"name": "all", "pattern": {"source": [{"prefix": ""}]}, "targets": [{"target": "q2"}]}]}
    del comps["f1"], comps["q1"]
    r = run(data)
    assert (r.sinks["f0"]["dead_lettered"], r.sinks["f2"]["delivered"]) == (1, 1)


def test_a_run_that_times_out_before_its_calls_releases_its_environment():
    # per-environment connections track environments; a run longer than the timeout never
    # reaches its calls, and its environment must still be released (and reused)
    f = {"duration_s": 5, "timeout_s": 3, "calls": [{"dependency": "db",
                                                    "connection": "per_environment"}]}  # fmt: skip
    data = with_db(f, ONE_CONN, count=1, drain_s=100)
    r = run(data)
    assert events(r, "f", "failure") == [3.0, 33.0, 63.0, 93.0]
    assert r.metrics["function_timeouts"] == 4
    assert r.metrics["cold_starts"] == 1  # one environment, released and reused each time


def test_adaptive_retries_in_a_handler_slow_its_calls_to_a_throttling_database():
    # (this was a warning that adaptive mode acted as standard mode in handlers)
    # one connection, no waiting room: a query that finds it busy is refused (throttled); 40
    # messages every 0.25 s, 0.5 s queries, 3 attempts each. Standard mode retries into the
    # database at once; adaptive mode's limiter holds the function's calls back once refused
    out = {}
    for mode in ("standard", "adaptive"):
        call = {"dependency": "db", "retry": {"mode": mode, "base_s": 0.05}}
        db = {"max_connections": 1, "waiting": 0, "service_time_s": 0.5}
        data = with_db({"calls": [call]}, db, count=1, duration_s=10)
        data["components"]["prod"]["arrivals"] = {"bursts": [{"at_s": 0, "count": 40,
                                                              "spread_s": 10}]}  # fmt: skip
        data["components"]["f"]["trigger"]["max_concurrency"] = 20
        m = model(data, trace=False)
        r = m.run()
        out[mode] = r.dependencies["db"]
        limiter = m.functions["f"].handler.calls[0].retry.limiter
        assert (limiter is None) == (mode == "standard")
    std, ada = out["standard"], out["adaptive"]
    # over the same 10 s of arrivals: fewer than half the calls, a fifth of the refusals
    assert ada["calls"] < std["calls"] / 2 and ada["throttled"] < std["throttled"] / 5
    assert ada["succeeded"] == std["succeeded"] == 40  # every message got its query, in time


# == the SDK retry quota of a function's calls and sends ==========================================


def _quota_calls(api: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    """prod → f (asynchronous, no retries), messages at t = 0 and 100; f calls ``api`` once."""
    return {
        "name": "quota", "duration_s": 101, "drain_s": 100,
        "components": {
            "prod": {"type": "producer", "send_to": ["f"],
                     "arrivals": {"bursts": [{"at_s": 0, "count": 1}, {"at_s": 100, "count": 1}]}},
            "f": fn(calls=[{"dependency": "api", **call}], **{"async": {"max_retries": 0}}),
            "api": {"type": "http_api", **api},
        },
    }  # fmt: skip


def test_a_retried_client_timeout_costs_ten_tokens_of_the_quota():
    # every attempt times out after 0.5 s (the API takes 2 s); the bucket of 25 tokens pays for
    # two retried timeouts (10 each) of the first message; the second finds 5 tokens: no retry
    call = {"timeout_s": 0.5, "retry": {"base_s": 0.1, "jitter": "none", "quota": 25}}
    r = run(_quota_calls({"latency_s": 2}, call))
    # 1 + 0.5 (timeout) + 0.1 (sleep) + 0.5 + 0.2 + 0.5 = 2.8; the second: 101 + 0.5
    assert events(r, "f", "failure") == [pytest.approx(2.8), 101.5]
    m = r.metrics
    assert (m["sdk_retries"], m["sdk_retries_refused"]) == (2, 1)
    assert r.dependencies["api"]["calls"] == 4


def test_a_retried_server_error_costs_five_tokens_of_the_quota():
    # 5xx answers: the same 25 tokens pay for 5 retries; max_attempts 4 → 3 + 2 (then refused)
    call = {"retry": {"max_attempts": 4, "base_s": 0.1, "jitter": "none", "quota": 25}}
    r = run(_quota_calls({"latency_s": 0, "errors": {"rate": 1.0}}, call))
    m = r.metrics
    assert (m["sdk_retries"], m["sdk_retries_refused"]) == (5, 1)
    assert r.dependencies["api"]["calls"] == 4 + 3


def test_calls_and_sends_of_a_function_share_one_quota():
    # one bucket of 10 tokens for the function's SDK client: the call fails twice (two
    # retries, 10 tokens), succeeds at 1.3 and refunds its last retry (5); the send to the
    # queue, down, then retries once with those 5 tokens and finds the bucket empty
    retry = {"max_attempts": 3, "base_s": 0.1, "jitter": "none", "quota": 10}
    data = _quota_calls({"latency_s": 0}, {"retry": retry})
    data["components"]["f"]["outputs"] = [{"to": "q2", "retry": retry}]
    data["components"]["q2"] = {"type": "sqs_queue"}
    data["outages"] = [{"component": "api", "start_s": 0, "duration_s": 1.25},
                       {"component": "q2", "start_s": 0, "duration_s": 50}]  # fmt: skip
    m = model(data)
    f = m.functions["f"]
    assert f.handler.calls[0].retry.quota is f.handler.outputs[0].retry.quota
    r = m.run()
    assert events(r, "q2", "send_failed") == [pytest.approx(1.3), pytest.approx(1.4)]
    assert events(r, "f", "failure")[0] == pytest.approx(1.4)
    assert (r.metrics["sdk_retries"], r.metrics["sdk_retries_refused"]) == (3, 1)


@pytest.mark.parametrize("invoked", ["sqs", "async"])
def test_a_run_that_times_out_before_its_calls_releases_its_tracked_environment(invoked):
    # regression: with connections held per environment, a run longer than its timeout (so the
    # handler's calls never start) was released without its environment
    f = {"duration_s": 20, "timeout_s": 10,
         "calls": [{"dependency": "db", "connection": "per_environment"}]}  # fmt: skip
    data = with_db(f, ONE_CONN, count=1)
    if invoked == "async":
        data["components"]["prod"]["send_to"] = ["f"]
        data["components"]["f"].pop("trigger")
        data["components"]["f"]["async"] = {"max_retries": 0}
    r = run(data)
    assert events(r, "f", "failure")[:1] == [10.0]
    assert r.metrics["function_timeouts"] >= 1
    assert r.dependencies["db"]["calls"] == 0


def test_a_pipelines_messages_are_freed_without_the_cycle_collector() -> None:
    """Derived messages share their root's counts (a Lineage), not the root itself: a root,
    its children and theirs form no reference cycle, so each is freed once nothing holds it."""
    import gc

    from sim.engine.message import Message

    data = {
        "name": "chain", "duration_s": 50.0, "drain_s": 100.0,
        "components": {
            "prod": {"type": "producer", "rate_per_s": 2.0, "send_to": ["q0"]},
            "q0": {"type": "sqs_queue"}, "q1": {"type": "sqs_queue"}, "q2": {"type": "sqs_queue"},
            "f0": {"type": "lambda_function", "trigger": {"source": "q0"}, "duration_s": 0.1,
                   "outputs": [{"to": "q1"}]},
            "f1": {"type": "lambda_function", "trigger": {"source": "q1"}, "duration_s": 0.1,
                   "outputs": [{"to": "q2"}]},
            "f2": {"type": "lambda_function", "trigger": {"source": "q2"}, "duration_s": 0.1},
        },
    }  # fmt: skip
    gc.collect()
    gc.disable()
    try:
        m = model(data, trace=False)
        r = m.run()
        alive = sum(1 for o in gc.get_objects() if type(o) is Message)
    finally:
        gc.enable()
    assert r.metrics["messages_produced"] > 50
    assert r.metrics["delivered"] == r.metrics["deliveries_expected"] == 3 * r.metrics[
        "messages_produced"]
    assert alive == 0
