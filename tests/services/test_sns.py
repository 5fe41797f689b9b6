"""SNS topics: delivery retry policies (exact timelines), subscription DLQs, client errors,
filter policies and intended sinks, fan-out fractions, FIFO topics, and conservation on random
topologies with topics, subscriptions, asynchronous functions and endpoints.

Every timeline has zero AWS overheads (no cold start, constant durations, zero latencies) and
one message at t = 0 unless said otherwise. The AWS-managed policy (sqs, lambda) makes its
first attempt at publish time, the first of AWS's 3 attempts without delay, then 2 immediate
retries, 2 retries 1 s apart, 10 backoff retries from 1 s to 20 s and 100,000 retries 20 s
apart: 100,015 attempts in all, AWS's documented total. evsim's
backoff phase is geometric, the k-th delay being ``min · (max/min)^(k/10)`` (AWS documents
neither the shape nor its jitter; see sim/specs_sns.py).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from conftest import NO_COLD, events, model, rows, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config.sns import DeliveryPolicySpec, default_delivery_policy, policy_from_attempt_table
from sim.engine.fates import FATES
from sim.engine.samplers import attribute_sampler
from sim.engine.streams import RandomStreams
from sim.services.sns_schedule import Schedule

DAY = 86_400.0

# -- the AWS-managed schedule (offsets from the first attempt) ---------------------------------

AWS_BACKOFF = [1.0 * (20.0 / 1.0) ** ((i + 1) / 10) for i in range(10)]


def aws_managed_offsets(n_post: int = 0) -> list[float]:
    """Offsets of the AWS-managed policy's attempts up to the ``n_post``-th post-backoff one."""
    ts = [0.0, 0.0, 0.0, 1.0, 2.0]
    t = 2.0
    for gap in AWS_BACKOFF:
        t += gap
        ts.append(t)
    for _ in range(n_post):
        t += 20.0
        ts.append(t)
    return ts


LAST_BACKOFF_S = aws_managed_offsets()[-1]  # ≈ 75.397 s: the last backoff attempt
AWS_ATTEMPTS = 3 + 2 + 10 + 100_000  # AWS's phases, the first attempt being the first of 3
AWS_END_S = LAST_BACKOFF_S + 20.0 * 100_000  # ≈ 23.149 days: the last attempt


def first_attempt_at_or_after(t: float) -> float:
    """The first AWS-managed attempt time ≥ ``t`` (t within the policy)."""
    head = aws_managed_offsets()
    for x in head:
        if x >= t:
            return x
    return LAST_BACKOFF_S + 20.0 * math.ceil((t - LAST_BACKOFF_S) / 20.0)


# -- scenario builders ------------------------------------------------------------------------


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


def topic_scenario(
    subscriptions: list[dict[str, Any]],
    components: dict[str, Any],
    *,
    producer: dict[str, Any] | None = None,
    topic: dict[str, Any] | None = None,
    outages: list[dict[str, Any]] | None = None,
    duration_s: float = 1.0,
    drain_s: float = 600.0,
) -> dict[str, Any]:
    """Producer ``prod`` (one message at t=0) → topic ``t`` with ``subscriptions``."""
    comps: dict[str, Any] = {
        "prod": {
            "type": "producer",
            "arrivals": {"bursts": [{"at_s": 0, "count": 1}]},
            "send_to": ["t"],
            **(producer or {}),
        },
        "t": {"type": "sns_topic", "subscriptions": subscriptions, **(topic or {})},
        **components,
    }
    data: dict[str, Any] = {
        "name": "sns",
        "duration_s": duration_s,
        "drain_s": drain_s,
        "components": comps,
    }
    if outages:
        data["outages"] = outages
    return data


def to_queue(
    *,
    queue: dict[str, Any] | None = None,
    sub: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Topic → SQS queue ``q`` → function ``fn`` (its consumer, the sink)."""
    comps = {"q": {"type": "sqs_queue", **(queue or {})}, "fn": fn("q"), **(extra or {})}
    return topic_scenario([{"target": "q", **(sub or {})}], comps, **kw)


def to_endpoint(
    protocol: str = "http",
    *,
    endpoint: dict[str, Any] | None = None,
    sub: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Topic → endpoint ``ep`` (the sink)."""
    comps = {"ep": {"type": "endpoint", "protocol": protocol, **(endpoint or {})}, **(extra or {})}
    return topic_scenario([{"target": "ep", **(sub or {})}], comps, **kw)


def outage(component: str, start_s: float, duration_s: float, **kw: Any) -> dict[str, Any]:
    return {"component": component, "start_s": start_s, "duration_s": duration_s, **kw}


def run_counting_steps(data: dict[str, Any], **kw: Any) -> tuple[Any, int, Any]:
    """Run ``data``; also return the number of SimPy events processed and the model.

    ``model.peak_queue`` is the largest number of scheduled events seen during the run.
    """
    m = model(data, **kw)
    r = m.run()
    m.peak_queue = m.env.peak_entries  # type: ignore[attr-defined]
    return r, m.env.processed, m


def check_balance(result: Any) -> None:
    m = result.metrics
    assert sum(m[f] for f in FATES) == m["deliveries_expected"]
    for sink, sm in result.sinks.items():
        assert sum(sm[f] for f in FATES) == sm["deliveries_expected"], sink
        assert min(sm[f] for f in FATES) >= 0, sink
    for f in (*FATES, "deliveries_expected", "duplicates", "attempts"):
        assert m[f] == sum(sm[f] for sm in result.sinks.values()), f


# == retry phases: the AWS-managed policy (sqs, lambda) =========================================


def test_aws_managed_offsets_are_what_the_policy_says():
    ts = aws_managed_offsets(2)
    assert ts[:5] == [0, 0, 0, 1, 2]  # first attempt, 2 immediate retries, 2 × 1 s
    gaps = [b - a for a, b in itertools.pairwise(ts[4:15])]
    assert gaps[0] == pytest.approx(20**0.1) and gaps[-1] == pytest.approx(20.0)
    assert all(b > a for a, b in itertools.pairwise(gaps))  # growing 1 s → 20 s
    assert ts[16] - ts[15] == pytest.approx(20.0)
    assert pytest.approx(23.149, abs=1e-3) == AWS_END_S / DAY  # "≈ 23 days"


@pytest.mark.parametrize(
    "outage_s",
    [0.5, 1.0, 1.5, 2.5, 3.5, 30.0, 75.0, 80.0, 1000.0, 3 * 3600.0],
    ids=lambda x: f"outage-{x:g}s",
)
def test_delivery_to_a_queue_after_its_outage_is_the_first_attempt_after_the_outage(outage_s):
    r = run(to_queue(outages=[outage("q", 0, outage_s)], drain_s=outage_s + 100))
    t = first_attempt_at_or_after(outage_s)
    assert rows(r) == [
        (0.0, "t", "publish"),
        (round(t, 9), "t", "delivered"),
        (round(t, 9), "q", "send"),
        (round(t, 9), "q", "receive"),
        (round(t + 1, 9), "fn", "success"),
        (round(t + 1, 9), "q", "delete"),
    ]
    assert r.metrics["delivered"] == 1
    assert r.metrics["latency_max_s"] == pytest.approx(t + 1)
    assert r.metrics["producer_latency_mean_s"] == 0.0  # the publish itself succeeded


def test_first_attempts_explicitly():
    # spelled out rather than computed: an outage [0, 2.5) fails the attempts at 0 (×4),
    # 1 and 2; the next one comes 20^0.1 ≈ 1.349 s after t = 2
    r = run(to_queue(outages=[outage("q", 0, 2.5)]))
    assert events(r, "t", "delivered") == [pytest.approx(3.349283, abs=1e-6)]
    r = run(to_queue(outages=[outage("q", 0, 0.5)]))  # the immediate retries are all at t=0
    assert events(r, "t", "delivered") == [1.0]


def test_an_outage_ending_exactly_at_an_attempt_lets_that_attempt_through():
    # outage windows are [start, end): the attempt at t = end succeeds
    r = run(to_queue(outages=[outage("q", 0, 2.0)]))
    assert events(r, "t", "delivered") == [2.0]
    r = run(to_queue(outages=[outage("q", 0, 1.0)]))
    assert events(r, "t", "delivered") == [1.0]


def test_a_throttled_queue_is_retried_like_an_unavailable_one_and_a_slow_one_is_not():
    r = run(to_queue(outages=[outage("q", 0, 3.5, mode="throttled")]))
    assert events(r, "t", "delivered") == [pytest.approx(first_attempt_at_or_after(3.5))]
    r = run(to_queue(outages=[outage("q", 0, 3.5, mode="slow")]))
    assert events(r, "t", "delivered") == [0.0]


def test_an_outage_starting_later_does_not_delay_the_first_attempt():
    r = run(to_queue(outages=[outage("q", 0.5, 100)]))
    assert events(r, "t", "delivered") == [0.0]


def test_two_back_to_back_outages_are_skipped_as_one():
    r = run(to_queue(outages=[outage("q", 0, 50), outage("q", 50, 50)]))
    assert events(r, "t", "delivered") == [pytest.approx(first_attempt_at_or_after(100))]


def test_delivery_after_a_ten_day_outage_is_exact_and_costs_a_handful_of_events():
    end = 10 * DAY
    r, steps, _ = run_counting_steps(to_queue(outages=[outage("q", 0, end)], drain_s=11 * DAY))
    k = math.ceil((end - LAST_BACKOFF_S) / 20)
    t = LAST_BACKOFF_S + 20 * k
    assert t >= end > t - 20
    assert events(r, "t", "delivered") == [pytest.approx(t, rel=1e-12)]
    assert events(r, "fn", "success") == [pytest.approx(t + 1, rel=1e-12)]
    assert r.metrics["delivered"] == 1
    assert steps < 20  # ~43,000 failed attempts were skipped arithmetically


@pytest.mark.parametrize("with_dlq", [False, True], ids=["no-dlq", "dlq"])
def test_a_23_day_outage_exhausts_the_policy_in_constant_events(with_dlq):
    extra = {"d": {"type": "sqs_queue", "retention_s": 1_209_600}} if with_dlq else None
    sub = {"dead_letter": {"target": "d"}} if with_dlq else None
    data = to_queue(
        sub=sub,
        extra=extra,
        outages=[outage("q", 0, 30 * DAY)],
        drain_s=24 * DAY,
    )
    r, steps, m = run_counting_steps(data)
    fate = "dead_lettered" if with_dlq else "lost"
    end = round(AWS_END_S, 9)
    if with_dlq:
        assert rows(r) == [
            (0.0, "t", "publish"),
            (end, "t", "dead_letter"),
            (end, "d", "dead_letter"),
        ]
        assert m.queues["d"].depth == 1  # the message is stored in the DLQ
    else:
        assert rows(r) == [(0.0, "t", "publish"), (end, "t", "gave_up")]
    assert r.metrics[fate] == 1 and r.metrics["deliveries_expected"] == 1
    assert r.sinks["fn"][fate] == 1
    assert steps < 20  # 100,015 attempts, O(1) events
    assert m.peak_queue < 5


def test_a_run_ending_before_the_policy_is_exhausted_leaves_the_message_in_flight():
    r, steps, _ = run_counting_steps(to_queue(outages=[outage("q", 0, 30 * DAY)], drain_s=20 * DAY))
    assert rows(r) == [(0.0, "t", "publish")]
    assert r.metrics["in_flight"] == 1
    assert steps < 20


def test_an_sqs_subscription_to_a_queue_failing_every_send_gives_up_at_the_end_of_the_policy():
    r, steps, _ = run_counting_steps(to_queue(queue={"errors": {"rate": 1.0}}, drain_s=24 * DAY))
    assert rows(r) == [(0.0, "t", "publish"), (round(AWS_END_S, 9), "t", "gave_up")]
    assert r.metrics["lost"] == 1
    assert steps < 20


def test_100015_attempts_are_counted_at_an_endpoint_sink_in_constant_events():
    # AWS-managed is the policy of sqs and lambda subscriptions, whose attempts are not
    # counted at their sinks; put it on an http endpoint subscription to count them
    data = to_endpoint(outages=[outage("ep", 0, 30 * DAY)], drain_s=24 * DAY)
    m = model(data)
    m.topics["t"].subscriptions[0].schedule = Schedule(default_delivery_policy("sqs"))
    r = m.run()
    n = [m.env.processed]
    assert r.sinks["ep"]["attempts"] == AWS_ATTEMPTS == 100_015
    assert r.metrics["lost"] == 1
    assert events(r, "t", "gave_up") == [pytest.approx(AWS_END_S, rel=1e-12)]
    assert n[0] < 20
    assert m.ctx.cost.counts[("t", "sns_http_deliveries")] == AWS_ATTEMPTS


# == the Schedule / cursor arithmetic ==========================================================


@pytest.mark.parametrize(
    ("protocol", "attempts", "end_s"),
    [
        ("sqs", AWS_ATTEMPTS, AWS_END_S),
        ("lambda", AWS_ATTEMPTS, AWS_END_S),
        ("http", 4, 60.0),
        ("https", 4, 60.0),
        ("email", 50, None),
        ("email-json", 50, None),
        ("sms", 50, None),
    ],
)
def test_default_schedules_exhausted(protocol, attempts, end_s):
    c = Schedule(default_delivery_policy(protocol)).cursor(100.0)
    c.exhaust()
    assert c.attempts == attempts
    if end_s is None:  # customer-managed: 0, 10 s, 10 from 10 s to 600 s, 38 × 600 s
        end_s = 10 + sum(10 * 60 ** ((i + 1) / 10) for i in range(10)) + 38 * 600
        assert end_s / 3600 == pytest.approx(6.83, abs=0.01)  # "over 6 hours"
    assert c.t == pytest.approx(100.0 + end_s, rel=1e-12)


def _naive_offsets(p: DeliveryPolicySpec) -> list[float]:
    """Every attempt offset of ``p``, enumerated (the reference for the cursor)."""
    lo, hi, n = p.min_delay_s, p.max_delay_s, p.backoff
    gaps = [0.0] * p.immediate + [lo] * p.pre_backoff
    if p.backoff_function in ("exponential", "geometric") and lo > 0:
        gaps += [lo * (hi / lo) ** ((i + 1) / n) for i in range(n)]
    else:
        gaps += [lo + (hi - lo) * (i + 1) / n for i in range(n)]
    gaps += [hi] * p.post_backoff
    out = [0.0]
    for g in gaps:
        out.append(out[-1] + g)
    return out


@st.composite
def policies(draw: Any) -> DeliveryPolicySpec:
    lo = draw(st.sampled_from([0.0, 1.0, 2.5, 10.0]))
    return DeliveryPolicySpec(
        immediate=draw(st.integers(0, 3)),
        pre_backoff=draw(st.integers(0, 3)),
        backoff=draw(st.integers(0, 5)),
        post_backoff=draw(st.integers(0, 60)),
        min_delay_s=lo,
        max_delay_s=lo + draw(st.sampled_from([0.0, 7.5, 20.0, 33.3])),
        backoff_function=draw(
            st.sampled_from(["linear", "arithmetic", "geometric", "exponential"])
        ),
    )


@settings(max_examples=150, deadline=None)
@given(
    p=policies(),
    t0=st.sampled_from([0.0, 5.5, 1000.0]),
    moves=st.lists(st.tuples(st.booleans(), st.floats(0.0, 1.3)), min_size=1, max_size=6),
)
def test_cursor_agrees_with_enumerating_every_attempt(p, t0, moves):
    ts = [t0 + x for x in _naive_offsets(p)]
    c = Schedule(p).cursor(t0)
    idx = 0
    assert (c.t, c.attempts) == (t0, 1)
    for skip, frac in moves:
        if not skip:
            ok = c.advance()
            assert ok == (idx + 1 < len(ts))
            if not ok:
                return
            idx += 1
        else:
            until = t0 + frac * (ts[-1] - t0 + 10.0)
            if any(abs(until - t) < 1e-6 for t in ts):
                until += 1e-5  # ties at float precision may land either side
            ok = c.advance_to(until)
            later = [i for i in range(idx, len(ts)) if ts[i] >= until]
            assert ok == bool(later)
            if not ok:
                return
            idx = later[0]
        assert c.t == pytest.approx(ts[idx], rel=1e-12, abs=1e-9)
        assert c.attempts == idx + 1


def test_the_default_policies_make_the_total_attempts_aws_documents():
    # AWS's table: phases of 3, 2, 10 and 100,000 attempts, 100,015 in all (SQS, Lambda); of
    # 0, 2, 10 and 38, 50 in all (email, SMS); the first attempt is the first of the first phase
    aws = default_delivery_policy("sqs")
    phases = (aws.immediate + 1, aws.pre_backoff, aws.backoff, aws.post_backoff)
    assert phases == (3, 2, 10, 100_000)
    assert aws.retries + 1 == 3 + 2 + 10 + 100_000 == 100_015
    email = default_delivery_policy("email")
    phases = (email.immediate, email.pre_backoff + 1, email.backoff, email.post_backoff)
    assert phases == (0, 2, 10, 38)
    assert email.retries + 1 == 0 + 2 + 10 + 38 == 50
    assert default_delivery_policy("http").retries + 1 == 4  # "up to three retries"


@pytest.mark.parametrize(
    ("row", "delays", "offsets"),
    [
        # 3 attempts without delay, 1 a second later, 2 backing off 1 s → 4 s (2, 4), 2 × 4 s
        ((3, 1, 2, 2), (1.0, 4.0), [0, 0, 0, 1, 3, 7, 11, 15]),
        # no immediate phase: the first attempt opens the pre-backoff phase of 2, 10 s apart
        ((0, 2, 2, 1), (10.0, 40.0), [0, 10, 30, 70, 110]),
    ],
)
def test_an_attempt_table_row_makes_its_sum_of_attempts_to_a_failing_endpoint(row, delays, offsets):
    policy = policy_from_attempt_table(*row, lo=delays[0], hi=delays[1])
    assert policy.retries + 1 == sum(row) == len(offsets)
    m = model(to_endpoint(endpoint={"errors": {"rate": 1.0}}, drain_s=1000))
    m.topics["t"].subscriptions[0].schedule = Schedule(policy)
    r = m.run()
    assert r.sinks["ep"]["attempts"] == sum(row)
    assert rows(r) == [(0.0, "t", "publish"), (float(offsets[-1]), "t", "gave_up")]
    for end, (k, t) in [(e, (k, t)) for k, t in enumerate(offsets) if (e := t - 0.5) > 0]:
        m = model(to_endpoint(outages=[outage("ep", 0, end)], drain_s=1000))
        m.topics["t"].subscriptions[0].schedule = Schedule(policy)
        r = m.run()
        assert events(r, "t", "delivered") == [pytest.approx(t)], end
        assert r.sinks["ep"]["attempts"] == k + 1, end


# == HTTP/S, email and custom policies ========================================================


def test_http_default_policy_attempts_at_0_20_40_60_then_gives_up():
    r = run(to_endpoint(endpoint={"errors": {"rate": 1.0}}))
    assert rows(r) == [(0.0, "t", "publish"), (60.0, "t", "gave_up")]
    assert r.metrics["lost"] == 1
    assert r.sinks["ep"]["attempts"] == 4


def test_http_default_policy_exhausted_goes_to_the_subscription_dlq():
    m = model(
        to_endpoint(
            endpoint={"errors": {"rate": 1.0}},
            sub={"dead_letter": {"target": "d"}},
            extra={"d": {"type": "sqs_queue"}},
        )
    )
    r = m.run()
    assert rows(r) == [
        (0.0, "t", "publish"),
        (60.0, "t", "dead_letter"),
        (60.0, "d", "dead_letter"),
    ]
    assert (r.metrics["dead_lettered"], r.metrics["lost"]) == (1, 0)
    assert r.sinks["ep"]["attempts"] == 4
    assert m.queues["d"].depth == 1


@pytest.mark.parametrize(("outage_s", "t"), [(0.5, 20.0), (20.0, 20.0), (20.5, 40.0), (59.9, 60.0)])
def test_http_retries_are_20_s_apart(outage_s, t):
    r = run(to_endpoint(outages=[outage("ep", 0, outage_s)], endpoint={"latency_s": 2}))
    assert rows(r) == [(0.0, "t", "publish"), (t, "t", "delivered"), (t + 2, "ep", "success")]
    assert r.sinks["ep"]["attempts"] == t / 20 + 1  # failed ones + the successful one
    assert r.metrics["latency_max_s"] == t + 2


def test_http_outage_past_the_last_retry_loses_the_message():
    r = run(to_endpoint(outages=[outage("ep", 0, 60.5)]))
    assert rows(r) == [(0.0, "t", "publish"), (60.0, "t", "gave_up")]
    assert r.sinks["ep"]["attempts"] == 4


EMAIL_BACKOFF = [10.0 * 60.0 ** ((i + 1) / 10) for i in range(10)]
EMAIL_END_S = 10 + sum(EMAIL_BACKOFF) + 38 * 600


@pytest.mark.parametrize("protocol", ["email", "email-json", "sms"])
def test_customer_managed_policy_makes_50_attempts_when_the_run_is_long_enough(protocol):
    m = model(to_endpoint(protocol, endpoint={"errors": {"rate": 1.0}}, drain_s=30_000))
    r = m.run()
    assert rows(r) == [(0.0, "t", "publish"), (round(EMAIL_END_S, 9), "t", "gave_up")]
    assert r.sinks["ep"]["attempts"] == 50
    assert r.metrics["lost"] == 1
    if protocol != "sms":
        assert m.ctx.cost.counts[("t", "sns_email_deliveries")] == 50


def test_customer_managed_policy_counts_no_attempt_before_the_delivery_ends():
    m = model(to_endpoint("email", endpoint={"errors": {"rate": 1.0}}, drain_s=1000))
    r = m.run()
    assert rows(r) == [(0.0, "t", "publish")]
    assert r.metrics["in_flight"] == 1
    assert r.sinks["ep"]["attempts"] == 0
    assert m.ctx.cost.counts.get(("t", "sns_email_deliveries"), 0) == 0


@pytest.mark.parametrize(
    ("outage_s", "t", "attempts"),
    [
        (5, 10.0, 2),
        (15, 10 + EMAIL_BACKOFF[0], 3),
        (25, 10 + EMAIL_BACKOFF[0], 3),
        (40, 10 + sum(EMAIL_BACKOFF[:2]), 4),
    ],
)
def test_email_phases_exact(outage_s, t, attempts):
    r = run(to_endpoint("email", outages=[outage("ep", 0, outage_s)]))
    assert events(r, "t", "delivered") == [pytest.approx(t)]
    assert r.sinks["ep"]["attempts"] == attempts


def test_email_delivery_after_a_long_outage_lands_on_the_600_s_grid():
    last_backoff = 10 + sum(EMAIL_BACKOFF)
    end = 3 * 3600.0
    t = last_backoff + 600 * math.ceil((end - last_backoff) / 600)
    r = run(to_endpoint("email", outages=[outage("ep", 0, end)], drain_s=20_000))
    assert events(r, "t", "delivered") == [pytest.approx(t)]
    assert r.sinks["ep"]["attempts"] == 12 + math.ceil((end - last_backoff) / 600)


CUSTOM_LINEAR = {
    "immediate": 1, "pre_backoff": 1, "backoff": 2, "post_backoff": 2,
    "min_delay_s": 5, "max_delay_s": 25, "backoff_function": "linear",
}  # fmt: skip


def test_custom_http_policy_linear_phases():
    # attempts at 0, 0 (immediate), 5 (pre-backoff), 20, 45 (backoff 15, 25), 70, 95
    r = run(to_endpoint(sub={"retry": CUSTOM_LINEAR}, endpoint={"errors": {"rate": 1.0}}))
    assert rows(r) == [(0.0, "t", "publish"), (95.0, "t", "gave_up")]
    assert r.sinks["ep"]["attempts"] == 7
    for end, t, attempts in [
        (0.5, 5.0, 3),
        (6, 20.0, 4),
        (21, 45.0, 5),
        (46, 70.0, 6),
        (71, 95.0, 7),
    ]:
        r = run(to_endpoint(sub={"retry": CUSTOM_LINEAR}, outages=[outage("ep", 0, end)]))
        assert events(r, "t", "delivered") == [t], end
        assert r.sinks["ep"]["attempts"] == attempts, end


def test_custom_http_policy_exponential_backoff():
    # backoff delays 2·8^(1/3) = 4, 2·8^(2/3) = 8, 16: attempts at 0, 4, 12, 28
    retry = {"backoff": 3, "min_delay_s": 2, "max_delay_s": 16, "backoff_function": "exponential"}
    for end, t in [(1, 4.0), (5, 12.0), (13, 28.0)]:
        r = run(to_endpoint(sub={"retry": retry}, outages=[outage("ep", 0, end)]))
        assert events(r, "t", "delivered") == [pytest.approx(t)], end
    r = run(to_endpoint(sub={"retry": retry}, outages=[outage("ep", 0, 29)]))
    assert events(r, "t", "gave_up") == [pytest.approx(28.0)]


def test_custom_http_policy_with_no_retries_makes_one_attempt():
    r = run(to_endpoint(sub={"retry": {"backoff": 0}}, endpoint={"errors": {"rate": 1.0}}))
    assert rows(r) == [(0.0, "t", "publish"), (0.0, "t", "gave_up")]
    assert r.sinks["ep"]["attempts"] == 1


# == client-side errors =========================================================================


@pytest.mark.parametrize("with_dlq", [False, True], ids=["no-dlq", "dlq"])
def test_client_error_is_not_retried_on_an_endpoint(with_dlq):
    extra = {"d": {"type": "sqs_queue"}} if with_dlq else None
    sub: dict[str, Any] = {"client_error_rate": 1.0}
    if with_dlq:
        sub["dead_letter"] = {"target": "d"}
    r = run(to_endpoint(sub=sub, extra=extra))
    if with_dlq:
        assert rows(r) == [
            (0.0, "t", "publish"),
            (0.0, "t", "dead_letter"),
            (0.0, "d", "dead_letter"),
        ]
        assert r.metrics["dead_lettered"] == 1
    else:
        assert rows(r) == [(0.0, "t", "publish"), (0.0, "t", "client_error")]
        assert r.metrics["lost"] == 1
    assert r.sinks["ep"]["attempts"] == 1


@pytest.mark.parametrize("with_dlq", [False, True], ids=["no-dlq", "dlq"])
def test_client_error_is_not_retried_on_a_queue_even_during_an_outage(with_dlq):
    extra = {"d": {"type": "sqs_queue"}} if with_dlq else None
    sub: dict[str, Any] = {"client_error_rate": 1.0}
    if with_dlq:
        sub["dead_letter"] = {"target": "d"}
    r = run(to_queue(sub=sub, extra=extra, outages=[outage("q", 0, 100)]))
    assert events(r, "t", "dead_letter" if with_dlq else "client_error") == [0.0]
    assert r.metrics["dead_lettered" if with_dlq else "lost"] == 1
    assert "delivered" not in {e for _, _, e in rows(r)}


def test_client_error_rate_applies_per_delivery():
    data = to_endpoint(
        sub={"client_error_rate": 0.5},
        producer={"arrivals": {"bursts": [{"at_s": 0, "count": 400}]}},
    )
    r = run(data, trace=False)
    m = r.metrics
    assert m["delivered"] + m["lost"] == 400
    assert 140 < m["lost"] < 260
    assert r.sinks["ep"]["attempts"] == 400  # one attempt each, client error or success


# == subscription DLQ =========================================================================


def test_a_dead_lettered_message_stays_dead_lettered_when_the_dlq_consumer_processes_it():
    data = to_endpoint(
        endpoint={"errors": {"rate": 1.0}},
        sub={"dead_letter": {"target": "d"}},
        extra={"d": {"type": "sqs_queue"}, "dfn": fn("d")},
    )
    r = run(data)
    assert events(r, "dfn", "success") == [61.0]
    assert r.sinks["ep"]["dead_lettered"] == 1
    # the DLQ's consumer is a sink of what arrives there: a pair of its own, delivered
    assert set(r.sinks) == {"ep", "dfn"}
    assert r.sinks["dfn"]["delivered"] == 1
    assert r.sinks["dfn"]["latency_max_s"] == 61.0  # from the message's creation


def test_subscription_dlqs_are_per_subscription():
    comps = {
        "a": {"type": "endpoint", "errors": {"rate": 1.0}},
        "b": {"type": "endpoint", "errors": {"rate": 1.0}},
        "d": {"type": "sqs_queue"},
    }
    subs = [{"target": "a", "dead_letter": {"target": "d"}}, {"target": "b"}]
    r = run(topic_scenario(subs, comps))
    assert (r.sinks["a"]["dead_lettered"], r.sinks["a"]["lost"]) == (1, 0)
    assert (r.sinks["b"]["dead_lettered"], r.sinks["b"]["lost"]) == (0, 1)


# == publish: errors, latency, outages of the topic ==============================================


def test_publish_during_a_topic_outage_fails_and_the_producer_gives_up_without_retries():
    r = run(to_endpoint(outages=[outage("t", 0, 1)], producer={"retry": {"max_attempts": 1}}))
    assert rows(r) == [(0.0, "t", "publish_failed"), (0.0, "prod", "gave_up")]
    assert r.metrics["lost"] == 1


def test_publish_errors_are_retried_by_the_producer_sdk():
    data = to_endpoint(topic={"errors": {"rate": 1.0}}, producer={"retry": {"max_attempts": 3}})
    r = run(data)
    assert [e for _, _, e in rows(r)] == ["publish_failed"] * 3 + ["gave_up"]
    assert r.metrics["lost"] == 1


def test_topic_latency_delays_the_fan_out_and_a_slow_outage_multiplies_it():
    r = run(to_endpoint(topic={"latency_s": 3}, endpoint={"latency_s": 2}))
    assert rows(r) == [(0.0, "t", "publish"), (3.0, "t", "delivered"), (5.0, "ep", "success")]
    assert r.metrics["producer_latency_mean_s"] == 3.0
    r = run(
        to_endpoint(
            topic={"latency_s": 3},
            endpoint={"latency_s": 2},
            outages=[outage("t", 0, 1, mode="slow", factor=4)],
        )
    )
    assert rows(r) == [(0.0, "t", "publish"), (12.0, "t", "delivered"), (14.0, "ep", "success")]


# == SQS subscription details ===================================================================


def test_sns_delivery_to_a_queue_pays_the_queue_latency_like_any_send_message():
    r = run(to_queue(queue={"latency_s": 2}))
    assert events(r, "q", "send") == [0.0]
    assert events(r, "q", "receive") == [2.0]
    assert events(r, "fn", "success") == [3.0]


def test_a_subscribed_queue_without_consumer_is_no_intended_sink():
    comps = {"q": {"type": "sqs_queue"}, "ep": {"type": "endpoint"}}
    r = run(topic_scenario([{"target": "q"}, {"target": "ep"}], comps))
    assert set(r.sinks) == {"ep"}
    assert r.metrics["deliveries_expected"] == 1
    assert r.metrics["messages_unrouted"] == 0
    r = run(topic_scenario([{"target": "q"}], {"q": {"type": "sqs_queue"}}))
    assert r.metrics["messages_unrouted"] == 1
    assert r.metrics["deliveries_expected"] == 0


# == filter policies and intended sinks ===========================================================


def _colored(counts: dict[str, int], subs: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    """One producer per colour (constant attribute), all publishing to topic ``t``."""
    comps: dict[str, Any] = {}
    for color, n in counts.items():
        comps[f"p-{color}"] = {
            "type": "producer",
            "arrivals": {"bursts": [{"at_s": 0, "count": n, "spread_s": 0.5}]},
            "send_to": ["t"],
            "attributes": {"color": color, "size": 7},
        }
    comps["t"] = {"type": "sns_topic", "subscriptions": subs}
    for s in subs:
        comps.setdefault(s["target"], {"type": "endpoint"})
    return {"name": "filters", "duration_s": 1, "drain_s": 60, "components": comps, **kw}


def test_filter_policies_fix_the_intended_sinks_and_unrouted_messages():
    subs = [
        {"target": "reds", "filter_policy": {"color": ["red"]}},
        {"target": "warm", "filter_policy": {"color": ["red", "green"]}},
        {"target": "nobody", "filter_policy": {"color": ["purple"]}},
        {"target": "big", "filter_policy": {"size": [{"numeric": [">", 5]}]}},
        {"target": "small", "filter_policy": {"size": [{"numeric": ["<=", 5]}]}},
    ]
    r = run(_colored({"red": 3, "green": 5, "blue": 7}, subs))
    m, s = r.metrics, r.sinks
    assert m["messages_produced"] == 15
    assert s["reds"]["deliveries_expected"] == 3
    assert s["warm"]["deliveries_expected"] == 8
    assert s["big"]["deliveries_expected"] == 15
    assert s.get("nobody", {"deliveries_expected": 0})["deliveries_expected"] == 0
    assert s.get("small", {"deliveries_expected": 0})["deliveries_expected"] == 0
    assert m["deliveries_expected"] == 3 + 8 + 15
    assert m["messages_unrouted"] == 0
    assert m["delivered"] == m["deliveries_expected"]  # nothing filtered is "lost"
    # the trace: a rejected message never reaches the sink
    t = r.trace
    got = {c: set(t.loc[(t["component"] == c) & (t["event"] == "success"), "msg_id"])
           for c in ("reds", "warm")}  # fmt: skip
    assert len(got["reds"]) == 3 and got["reds"] < got["warm"] and len(got["warm"]) == 8


def test_a_message_no_subscription_takes_is_unrouted():
    subs = [{"target": "reds", "filter_policy": {"color": ["red"]}},
            {"target": "greens", "filter_policy": {"color": ["green"]}}]  # fmt: skip
    r = run(_colored({"red": 2, "green": 3, "blue": 4}, subs))
    m = r.metrics
    assert (m["messages_produced"], m["messages_unrouted"]) == (9, 4)
    assert m["deliveries_expected"] == 5
    assert m["all_delivered_fraction"] == 1.0  # among the 5 routed messages


def test_a_missing_attribute_does_not_match_an_exact_value_policy():
    subs = [{"target": "e", "filter_policy": {"shape": ["round"]}}]
    r = run(_colored({"red": 2}, subs))
    assert r.metrics["messages_unrouted"] == 2


def test_message_body_scope():
    subs = [
        {"target": "body-big", "filter_policy_scope": "MessageBody",
         "filter_policy": {"size": [{"numeric": [">", 5]}]}},
        {"target": "body-red", "filter_policy_scope": "MessageBody",
         "filter_policy": {"color": [{"prefix": "re"}]}},
        {"target": "body-none", "filter_policy_scope": "MessageBody",
         "filter_policy": {"color": ["blue"], "size": [7]}},
    ]  # fmt: skip
    r = run(_colored({"red": 2, "green": 1}, subs))
    s = r.sinks
    assert s["body-big"]["deliveries_expected"] == 3
    assert s["body-red"]["deliveries_expected"] == 2
    assert s.get("body-none", {"deliveries_expected": 0})["deliveries_expected"] == 0
    assert r.metrics["messages_unrouted"] == 0


def test_random_attributes_route_exactly_the_matching_messages():
    # capture every message's attributes as it is created, then recount independently
    comps: dict[str, Any] = {
        "prod": {
            "type": "producer",
            "arrivals": {"bursts": [{"at_s": 0, "count": 300, "spread_s": 10}]},
            "send_to": ["t"],
            "attributes": {
                "kind": {"choice": {"values": ["a", "b", "c", "d"], "weights": [4, 3, 2, 1]}},
                "n": {"uniform": {"low": 0, "high": 10}},
            },
        },
        "t": {"type": "sns_topic", "subscriptions": [
            {"target": "b", "filter_policy": {"kind": ["b"]}},
            {"target": "not-a", "filter_policy": {"kind": [{"anything-but": ["a"]}]}},
            {"target": "c-and-big",
             "filter_policy": {"kind": ["c"], "n": [{"numeric": [">=", 5]}]}},
            {"target": "q", "filter_policy": {"n": [{"numeric": ["<", 2]}]}},
        ]},
        "b": {"type": "endpoint"},
        "not-a": {"type": "endpoint"},
        "c-and-big": {"type": "endpoint"},
        "q": {"type": "sqs_queue"},
        "fq": fn("q"),
    }  # fmt: skip
    data = {"name": "random-attrs", "duration_s": 20, "drain_s": 60, "components": comps}
    m = model(data, seed=5)
    # each attribute is drawn on its own named stream of the producer, one draw per message, so
    # the same streams give every message's attributes again (no patching of the model)
    streams = RandomStreams(5, 0)
    draws = {k: attribute_sampler(v, streams.get("prod", f"attr:{k}"))
             for k, v in m.scenario.components["prod"].attributes.items()}  # fmt: skip
    seen = [{k: draw() for k, draw in draws.items()} for _ in range(300)]
    r = m.run()
    assert r.metrics["messages_produced"] == 300
    expect = {
        "b": sum(a["kind"] == "b" for a in seen),
        "not-a": sum(a["kind"] != "a" for a in seen),
        "c-and-big": sum(a["kind"] == "c" and a["n"] >= 5 for a in seen),
        "fq": sum(a["n"] < 2 for a in seen),
    }
    unrouted = sum(a["kind"] == "a" and a["n"] >= 2 for a in seen)
    assert {k: r.sinks[k]["deliveries_expected"] for k in expect} == expect
    assert r.metrics["messages_unrouted"] == unrouted
    assert all(v > 0 for v in expect.values()) and unrouted > 0
    assert r.metrics["delivered"] == sum(expect.values())


# == fan-out fractions ============================================================================


def _fanout_to_queues(**kw: Any) -> dict[str, Any]:
    comps = {
        "q1": {"type": "sqs_queue"},
        "f1": fn("q1"),
        "q2": {"type": "sqs_queue", **kw.pop("q2", {})},
        "f2": fn("q2"),
        **kw.pop("extra", {}),
    }
    subs = [{"target": "q1"}, {"target": "q2", **kw.pop("sub2", {})}]
    return topic_scenario(subs, comps, **kw)


def test_one_failing_queue_subscription_leaves_partial_deliveries_in_flight():
    r = run(
        _fanout_to_queues(
            q2={"errors": {"rate": 1.0}},
            producer={"arrivals": {"bursts": [{"at_s": 0, "count": 10}]}},
        )
    )
    m = r.metrics
    assert (m["all_delivered_fraction"], m["partial_fraction"]) == (0.0, 1.0)
    assert r.sinks["f1"]["delivered"] == 10
    assert r.sinks["f2"]["in_flight"] == 10  # SNS is still retrying (23 days)
    assert m["delivered_fraction"] == 0.5


@pytest.mark.parametrize("with_dlq", [False, True], ids=["lost", "dead-lettered"])
def test_one_failing_queue_subscription_after_a_long_drain(with_dlq):
    kw: dict[str, Any] = {"q2": {"errors": {"rate": 1.0}}}
    if with_dlq:
        kw["sub2"] = {"dead_letter": {"target": "d"}}
        kw["extra"] = {"d": {"type": "sqs_queue", "retention_s": 1_209_600}}
    r = run(
        _fanout_to_queues(
            **kw, producer={"arrivals": {"bursts": [{"at_s": 0, "count": 3}]}}, drain_s=24 * DAY
        )
    )
    m = r.metrics
    fate = "dead_lettered" if with_dlq else "lost"
    assert r.sinks["f2"][fate] == 3
    assert (m["all_delivered_fraction"], m["partial_fraction"]) == (0.0, 1.0)


def test_sns_retries_make_a_flaky_queue_subscription_deliver_everything():
    r = run(
        _fanout_to_queues(
            q2={"errors": {"rate": 0.5}},
            producer={"arrivals": {"bursts": [{"at_s": 0, "count": 200}]}},
        ),
        trace=False,
    )
    m = r.metrics
    assert m["all_delivered_fraction"] == 1.0
    assert m["partial_fraction"] == 0.0
    assert m["delivered"] == 400


def test_an_outage_of_one_queue_gives_partial_then_complete_delivery():
    data = _fanout_to_queues(outages=[outage("q2", 0, 3600)], drain_s=3000)
    r = run(data)
    assert r.metrics["partial_fraction"] == 1.0  # the run ends during the outage
    data = _fanout_to_queues(outages=[outage("q2", 0, 3600)], drain_s=4000)
    r = run(data)
    assert r.metrics["all_delivered_fraction"] == 1.0
    assert events(r, "f2", "success") == [pytest.approx(first_attempt_at_or_after(3600) + 1)]


# == FIFO topics ==================================================================================


def _fifo(fifo: bool, *, outages: list[dict[str, Any]] | None = None,
          queue: dict[str, Any] | None = None, producer: dict[str, Any] | None = None,
          extra: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:  # fmt: skip
    comps = {
        "q": {"type": "sqs_queue", "fifo": fifo, **(queue or {})},
        "fn": fn("q", duration_s=0.01),
        **(extra or {}),
    }
    return topic_scenario([{"target": "q"}], comps, topic={"fifo": fifo},
                          producer=producer, outages=outages, **kw)  # fmt: skip


def test_fifo_topic_keeps_group_order_through_retries():
    burst = {"arrivals": {"bursts": [{"at_s": 0, "count": 10, "spread_s": 1}]}}
    # the outage fails message 1 until 5.17 s; message 2 (0.1 s) would get through at 3.449 s
    r = run(_fifo(True, producer=burst, outages=[outage("q", 0, 3.4)]))
    t1 = first_attempt_at_or_after(3.4)
    assert events(r, "t", "delivered") == [pytest.approx(t1)] * 10
    sent = [int(i) for i in r.trace.loc[r.trace["event"] == "send", "msg_id"]]
    assert sent == sorted(sent)
    assert r.metrics["ordering_violations"] == 0
    assert r.metrics["delivered"] == 10
    # the same with a standard topic and queue: message 1 overtaken by the other nine
    r = run(_fifo(False, producer=burst, outages=[outage("q", 0, 3.4)]))
    assert r.metrics["ordering_violations"] == 1
    assert events(r, "t", "delivered")[0] == pytest.approx(0.1 + 3.349283, abs=1e-6)


def test_fifo_topic_keeps_group_order_under_random_send_errors():
    burst = {"arrivals": {"bursts": [{"at_s": 0, "count": 300, "spread_s": 30}]}}
    kw: dict[str, Any] = {"producer": burst, "queue": {"errors": {"rate": 0.5}}, "duration_s": 40}
    fifo = run(_fifo(True, **kw), seed=3)
    std = run(_fifo(False, **kw), seed=3)
    assert fifo.metrics["delivered"] == std.metrics["delivered"] == 300
    assert fifo.metrics["ordering_violations"] == 0
    assert std.metrics["ordering_violations"] > 0  # the check can fail


def test_fifo_order_is_per_group_not_per_topic():
    comps = {
        "q": {"type": "sqs_queue", "fifo": True},
        "fn": fn("q", duration_s=0.01),
        "pb": {"type": "producer", "arrivals": {"bursts": [{"at_s": 0.1, "count": 1}]},
               "send_to": ["t"]},
    }  # fmt: skip
    prod = {"arrivals": {"bursts": [{"at_s": 0, "count": 2, "spread_s": 0.4}]}}  # 0, 0.2
    r = run(topic_scenario([{"target": "q"}], comps, topic={"fifo": True}, producer=prod,
                           outages=[outage("q", 0, 3.4)]))  # fmt: skip
    by_msg = {i: events(r, "t", "delivered", i) for i in (1, 2, 3)}
    t1 = first_attempt_at_or_after(3.4)
    ids_a = [i for i in by_msg if events(r, "t", "publish", i) in ([0.0], [0.2])]
    ids_b = [i for i in by_msg if events(r, "t", "publish", i) == [0.1]]
    assert len(ids_a) == 2 and len(ids_b) == 1
    assert [by_msg[i] for i in ids_a] == [[pytest.approx(t1)]] * 2  # the second waits
    assert by_msg[ids_b[0]] == [pytest.approx(0.1 + 3.349283, abs=1e-6)]  # other group
    assert r.metrics["ordering_violations"] == 0


@pytest.mark.parametrize(
    ("delay_s", "dedup"), [(10, True), (299, True), (300, False), (400, False)]
)
def test_fifo_topic_deduplicates_a_resend_within_5_minutes(delay_s, dedup):
    r = run(_fifo(True, producer={"resend": {"rate": 1.0, "delay_s": delay_s}}))
    t = float(delay_s)
    if dedup:
        assert rows(r)[-2:] == [(t, "t", "publish"), (t, "t", "deduplicated")]
        assert events(r, "fn", "success") == [0.01]
        assert r.metrics["duplicates"] == 0
    else:
        assert (t, "t", "delivered") in rows(r)
        assert events(r, "fn", "success") == [0.01, t + 0.01]
        assert r.metrics["duplicates"] == 1
    assert r.metrics["delivered"] == 1


def test_standard_topic_does_not_deduplicate_a_resend():
    comps = {"ep": {"type": "endpoint"}}
    r = run(topic_scenario([{"target": "ep"}], comps,
                           producer={"resend": {"rate": 1.0, "delay_s": 10}}))  # fmt: skip
    assert events(r, "ep", "success") == [0.0, 10.0]
    assert r.metrics["duplicates"] == 1


def test_fifo_topic_to_a_standard_queue_is_allowed_and_delivers():
    r = run(topic_scenario([{"target": "q"}], {"q": {"type": "sqs_queue"}, "fn": fn("q")},
                           topic={"fifo": True}))  # fmt: skip
    assert r.metrics["delivered"] == 1


def test_fifo_topic_exhausted_delivery_goes_to_its_fifo_dlq():
    data = _fifo(
        True,
        queue={"errors": {"rate": 1.0}},
        drain_s=24 * DAY,
        extra={"d": {"type": "sqs_queue", "fifo": True, "retention_s": 1_209_600}},
    )
    data["components"]["t"]["subscriptions"][0]["dead_letter"] = {"target": "d"}
    r = run(data)
    assert events(r, "d", "dead_letter") == [pytest.approx(AWS_END_S, rel=1e-12)]
    assert r.metrics["dead_lettered"] == 1


# == conservation on random topologies ============================================================


def _policy_matches(policy: dict[str, Any] | None, kind: str | None) -> bool:
    """Oracle for the policies generated below: None, or ``{"kind": [exact values]}``."""
    return policy is None or (kind is not None and kind in policy["kind"])


@st.composite
def sns_topologies(draw: Any) -> tuple[dict[str, Any], dict[str, int], int, int]:
    """A random topology with topics, subscriptions (sqs, lambda, endpoints), filter policies,
    asynchronous functions, error rates and outages; and the expected pairs per sink.

    Returns ``(scenario, expected pairs per sink, messages produced, messages unrouted)``.
    """
    comps: dict[str, Any] = {}
    outages: list[dict[str, Any]] = []
    sink_of: dict[str, str | None] = {}
    rates = st.sampled_from([0.0, 0.0, 0.3, 1.0])

    n_std_queues = draw(st.integers(0, 3))
    for i in range(n_std_queues):
        q = f"q{i}"
        comps[q] = {"type": "sqs_queue", "errors": {"rate": draw(rates)},
                    "retention_s": draw(st.sampled_from([60.0, 345_600.0]))}  # fmt: skip
        if draw(st.booleans()):
            comps[f"{q}-dlq"] = {"type": "sqs_queue"}
            comps[q]["dead_letter"] = {"target": f"{q}-dlq", "max_receive_count": 2}
        if draw(st.integers(0, 4)) > 0:
            comps[f"c{i}"] = fn(q, errors={"rate": draw(st.sampled_from([0.0, 0.2]))},
                                duration_s=draw(st.sampled_from([0.1, 1.0])))  # fmt: skip
            sink_of[q] = f"c{i}"
        else:
            sink_of[q] = None
    n_fifo_queues = draw(st.integers(0, 2))
    for i in range(n_fifo_queues):
        q = f"fq{i}"
        comps[q] = {"type": "sqs_queue", "fifo": True, "errors": {"rate": draw(rates)}}
        comps[f"fc{i}"] = fn(q, duration_s=0.1)
        sink_of[q] = f"fc{i}"
    std_queues = [f"q{i}" for i in range(n_std_queues)]
    fifo_queues = [f"fq{i}" for i in range(n_fifo_queues)]

    n_eps = draw(st.integers(0, 2))
    for i in range(n_eps):
        ep = f"ep{i}"
        comps[ep] = {
            "type": "endpoint",
            "protocol": draw(st.sampled_from(["http", "https", "email", "sms"])),
            "errors": {"rate": draw(rates)},
            "latency_s": draw(st.sampled_from([0.0, 0.5, {"exponential": {"mean": 2.0}}])),
        }
        sink_of[ep] = ep
    n_fns = draw(st.integers(0, 2))
    for i in range(n_fns):
        af = f"af{i}"
        spec = fn(
            None,
            duration_s=draw(st.sampled_from([0.1, 1.0, {"exponential": {"mean": 2.0}}])),
            timeout_s=3,
            errors={"rate": draw(rates), "poison_rate": draw(st.sampled_from([0.0, 0.1]))},
            cold_start={"duration_s": draw(st.sampled_from([0.0, 0.5]))},
        )
        rc = draw(st.sampled_from([None, None, 0, 1, 2]))
        if rc is not None:
            spec["reserved_concurrency"] = rc
        spec["async"] = {
            "max_retries": draw(st.integers(0, 2)),
            "max_event_age_s": draw(st.sampled_from([60.0, 300.0, 21_600.0])),
            "duplicate_rate": draw(st.sampled_from([0.0, 0.0, 0.3])),
        }
        dest = draw(st.sampled_from([None, "queue", "function", *std_queues]))
        if dest == "queue":
            comps[f"{af}-fail"] = {"type": "sqs_queue"}
            spec["async"]["on_failure"] = f"{af}-fail"
        elif dest in std_queues:  # also a subscription target or a producer target
            spec["async"]["on_failure"] = dest
        elif dest == "function":
            comps[f"{af}-fail-fn"] = fn(None)
            spec["async"]["on_failure"] = f"{af}-fail-fn"
        comps[af] = spec
        sink_of[af] = af
    fns = [f"af{i}" for i in range(n_fns)]
    eps = [f"ep{i}" for i in range(n_eps)]

    topics: dict[str, list[dict[str, Any]]] = {}
    for i in range(draw(st.integers(1, 2))):
        name = f"t{i}"
        fifo = bool(fifo_queues) and draw(st.booleans())
        targets = (fifo_queues + std_queues) if fifo else (std_queues + fns + eps)
        subs: list[dict[str, Any]] = []
        if targets:
            chosen = draw(st.lists(st.sampled_from(targets), min_size=1, max_size=4, unique=True))
            for target in chosen:
                sub: dict[str, Any] = {"target": target}
                policy = draw(st.sampled_from([None, None, ["a"], ["b"], ["a", "b"], ["zzz"]]))
                if policy is not None:
                    sub["filter_policy"] = {"kind": policy}
                if draw(st.booleans()):
                    dlq = f"{name}-dlq{len(subs)}"
                    comps[dlq] = {"type": "sqs_queue", "fifo": fifo, "retention_s": 1_209_600}
                    sub["dead_letter"] = {"target": dlq}
                if draw(st.integers(0, 4)) == 0:
                    sub["client_error_rate"] = draw(st.sampled_from([0.2, 1.0]))
                if target in eps and comps[target]["protocol"].startswith("http") and draw(
                        st.booleans()):  # fmt: skip
                    sub["retry"] = {"backoff": draw(st.integers(0, 5)),
                                    "post_backoff": draw(st.integers(0, 3))}  # fmt: skip
                subs.append(sub)
        comps[name] = {
            "type": "sns_topic",
            "fifo": fifo,
            "errors": {"rate": draw(st.sampled_from([0.0, 0.0, 0.2]))},
            "latency_s": draw(st.sampled_from([0.0, 0.0, 0.05])),
            "subscriptions": subs,
        }
        topics[name] = subs

    direct = std_queues + fifo_queues + fns
    produced = unrouted = 0
    expected: dict[str, int] = {}
    for p in range(draw(st.integers(1, 2))):
        pool = list(topics) + direct
        send_to = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True))
        kind = draw(st.sampled_from([None, "a", "b", "c"]))
        count = draw(st.integers(1, 15))
        spec: dict[str, Any] = {
            "type": "producer",
            "arrivals": {"bursts": [{"at_s": draw(st.sampled_from([0.0, 3.0])), "count": count,
                                     "spread_s": draw(st.sampled_from([0.0, 10.0]))}]},
            "send_to": send_to,
            "groups": draw(st.integers(1, 3)),
            "retry": {"max_attempts": draw(st.integers(1, 3)), "base_s": 0.2, "cap_s": 2.0},
        }  # fmt: skip
        if kind is not None:
            spec["attributes"] = {"kind": kind}
        if draw(st.integers(0, 3)) == 0:
            spec["resend"] = {"rate": 0.5, "delay_s": draw(st.sampled_from([5.0, 400.0]))}
        comps[f"p{p}"] = spec
        produced += count
        sinks: list[str] = []
        for target in send_to:
            if target in topics:
                for sub in topics[target]:
                    if _policy_matches(sub.get("filter_policy"), kind):
                        s = sink_of[sub["target"]]
                        if s is not None:
                            sinks.append(s)
            elif sink_of[target] is not None:
                sinks.append(sink_of[target])  # type: ignore[arg-type]
        for s in sinks:
            expected[s] = expected.get(s, 0) + count
        if not sinks:
            unrouted += count

    candidates = [c for c in comps if not c.startswith("p")]
    for _ in range(draw(st.integers(0, 3))):
        outages.append(
            {
                "component": draw(st.sampled_from(candidates)),
                "start_s": draw(st.sampled_from([0.0, 2.0, 10.0])),
                "duration_s": draw(st.sampled_from([1.0, 30.0, 5000.0])),
                "mode": draw(st.sampled_from(["unavailable", "slow", "throttled"])),
            }
        )
    data: dict[str, Any] = {
        "name": "random-sns",
        "duration_s": 20.0,
        "drain_s": draw(st.sampled_from([5.0, 300.0, 7000.0, 24 * DAY])),
        "components": comps,
    }
    if outages:
        data["outages"] = outages
    return data, expected, produced, unrouted


def _dead_letter_consumers(comps: dict[str, Any]) -> set[str]:
    """Functions that consume a dead-letter queue or are an on-failure destination."""
    dead = set()
    for c in comps.values():
        if c["type"] == "sns_topic":
            dead |= {s["dead_letter"]["target"] for s in c["subscriptions"] if "dead_letter" in s}
        on_failure = c.get("async", {}).get("on_failure")
        if on_failure is not None:
            dead.add(on_failure)
    out = {n for n in dead if comps[n]["type"] == "lambda_function"}
    for name, c in comps.items():
        trigger = c.get("trigger")
        if trigger is not None and trigger["source"] in dead:
            out.add(name)
    return out


SNS_PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SNS_PROPS
@given(case=sns_topologies(), seed=st.integers(0, 2**32 - 1))
def test_conservation_and_intended_sinks_on_random_sns_topologies(case, seed):
    data, expected, produced, unrouted = case
    r = run(data, seed=seed, trace=False)  # run_once asserts conservation itself
    check_balance(r)
    m = r.metrics
    assert m["messages_produced"] == produced
    assert m["messages_unrouted"] == unrouted
    # a root's pairs are fixed at its creation; a consumer of a dead-letter queue or an
    # on-failure destination adds one pair per dead-lettered pair that reaches it
    excess = 0
    secondary = _dead_letter_consumers(data["components"])
    for sink, sm in r.sinks.items():
        assert sm["deliveries_expected"] >= expected.get(sink, 0), sink
        if sink not in secondary:
            assert sm["deliveries_expected"] == expected.get(sink, 0), sink
        excess += sm["deliveries_expected"] - expected.get(sink, 0)
    # at most one new pair per (message, dead-letter consumer)
    assert excess <= produced * len(secondary)
    assert m["deliveries_expected"] == sum(expected.values()) + excess
    for sink, sm in r.sinks.items():
        assert sm["delivered"] <= sm["deliveries_expected"]
        if sink.startswith("ep"):
            assert sm["attempts"] >= sm["delivered"] + sm["duplicates"]
    fr = (m["all_delivered_fraction"], m["partial_fraction"])
    if produced > unrouted:
        assert 0.0 <= fr[0] <= 1.0 and 0.0 <= fr[1] <= 1.0 and fr[0] + fr[1] <= 1.0 + 1e-12
    else:
        assert fr == (None, None)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=sns_topologies(), seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_results_with_or_without_the_trace(case, seed):
    data = case[0]
    plain = run(data, seed=seed, trace=False)
    traced = run(data, seed=seed, trace=True, keep_samples=True)
    assert plain.metrics == traced.metrics
    assert plain.sinks == traced.sinks


def test_a_publish_by_s3_waits_for_the_topic_latency_like_a_producers() -> None:
    # S3 hands the event to the topic (notification delay 0); the topic's 5 s latency applies
    data = {
        "duration_s": 1,
        "components": {
            "p": {"type": "producer", "arrivals": {"bursts": [{"at_s": 0, "count": 1}]},
                  "send_to": ["b"]},
            "b": {"type": "s3_bucket", "notification_delay_s": 0,
                  "notifications": [{"target": "t"}]},
            "t": {"type": "sns_topic", "latency_s": 5.0, "subscriptions": [{"target": "e"}]},
            "e": {"type": "endpoint", "protocol": "https"},
        },
    }  # fmt: skip
    r = run(data)
    assert [t for t, c, e in rows(r) if c == "e" and e == "success"] == [5.0]


def test_fifo_topic_deliveries_meet_the_fifo_queue_call_limit_and_keep_group_order():
    # one SendMessage per second: the second message of the group starts when the first is
    # stored (0 s), is throttled at the immediate phase's 3 attempts (its first delivery and 2
    # immediate retries), and is stored at the first pre-backoff retry (1 s); the third likewise
    # from 1 s, stored at 2 s
    burst = {"arrivals": {"bursts": [{"at_s": 0, "count": 3}]}}
    r = run(_fifo(True, producer=burst, queue={"max_calls_per_s": 1}))
    assert events(r, "q", "send") == [0.0, 1.0, 2.0]
    assert events(r, "q", "send_failed") == [0.0] * 3 + [1.0] * 3
    sent = [int(i) for i in r.trace.loc[r.trace["event"] == "send", "msg_id"]]
    assert sent == sorted(sent)
    m = r.metrics
    assert (m["delivered"], m["ordering_violations"], m["duplicates"]) == (3, 0, 0)
    assert m["latency_max_s"] == pytest.approx(2.01)


def test_fifo_topic_throttled_past_its_policy_goes_to_the_dlq():
    # the second message is throttled at 0 s, then the queue is throttled for 30 days: the
    # 100,015-attempt policy is exhausted (skipping the outage without simulating its attempts)
    data = _fifo(True, queue={"max_calls_per_s": 1},
                 producer={"arrivals": {"bursts": [{"at_s": 0, "count": 2}]}},
                 outages=[outage("q", 0.5, 30 * DAY, mode="throttled")], drain_s=24 * DAY,
                 extra={"d": {"type": "sqs_queue", "fifo": True, "retention_s": 1_209_600}})
    data["components"]["t"]["subscriptions"][0]["dead_letter"] = {"target": "d"}
    r = run(data)
    assert events(r, "q", "send") == [0.0]
    assert events(r, "d", "dead_letter") == [pytest.approx(AWS_END_S, rel=1e-12)]
    assert (r.metrics["delivered"], r.metrics["dead_lettered"]) == (1, 1)
