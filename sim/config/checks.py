"""Rules that span components: what each reference may name, and what AWS forbids together.

References (``send_to``, ``dead_letter.target``, ``trigger.source``, subscriptions, rule
targets, notifications, integrations, outages), one consumer function per queue, DLQ type =
source type, FIFO trigger limits, overlapping S3 notification filters, event patterns and
filter policies, Lambda reservations that leave fewer than 100 executions unreserved.
:func:`cross_checks` returns every problem at once, relative to the scenario.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from sim.config.apigateway import ApiGatewaySpec
from sim.config.cloudtrail import CloudTrailSpec
from sim.config.common import OutageSpec
from sim.config.components import ComponentSpec
from sim.config.endpoint import EndpointSpec
from sim.config.eventbridge import EventBusSpec
from sim.config.lambda_ import LambdaFunctionSpec
from sim.config.pipeline_checks import handler_checks
from sim.config.prices import DEFAULT_PRICES
from sim.config.problems import (
    NO_VALUE,
    RelProblem,
    show,
)
from sim.config.producer import ProducerSpec
from sim.config.s3 import S3BucketSpec
from sim.config.sns import DeliveryPolicySpec, SnsTopicSpec
from sim.config.sqs import SqsQueueSpec
from sim.patterns import validate_filter_policy, validate_pattern

__all__ = ["ScenarioFields", "cross_checks"]


_C = TypeVar("_C", bound=BaseModel)


class ScenarioFields(Protocol):
    """What the checks read of a scenario (:class:`sim.config.scenario.Scenario` has it)."""

    @property
    def components(self) -> Mapping[str, ComponentSpec]:
        """The components by name."""
        ...

    @property
    def outages(self) -> Sequence[OutageSpec]:
        """The outage windows."""
        ...

    @property
    def prices(self) -> Mapping[str, float]:
        """Price overrides by name."""
        ...

    @property
    def duration_s(self) -> float:
        """Seconds of arrivals."""
        ...

    @property
    def warmup_s(self) -> float:
        """Seconds of warm-up."""
        ...

    @property
    def account_concurrency(self) -> int:
        """The account's concurrency quota for Lambda."""
        ...

    @property
    def max_hops(self) -> int | None:
        """Bound on the hops of derived messages (output loops), if any."""
        ...

    def of_type(self, cls: type[_C]) -> dict[str, _C]:
        """The components of one spec class, by name, in file order."""
        ...


def _a(component_type: str) -> str:
    """A component type with its indefinite article (``an sns_topic``, ``a producer``)."""
    return f"{'an' if component_type[0] in 'aeios' else 'a'} {component_type}"


def cross_checks(s: ScenarioFields) -> list[RelProblem]:
    """The rules that span components (references, FIFO/standard combinations)."""
    out: list[RelProblem] = []
    comps = s.components
    unknown = f"no component of that name (components: {', '.join(comps)})"

    def ref(path: tuple[str | int, ...], target: str) -> SqsQueueSpec | None:
        spec = comps.get(target)
        if spec is None:
            out.append((path, target, unknown))
        elif not isinstance(spec, SqsQueueSpec):
            out.append((path, target, f"must name an sqs_queue; {target!r} is {_a(spec.type)}"))
        else:
            return spec
        return None

    if s.warmup_s >= s.duration_s:
        out.append((("warmup_s",), s.warmup_s, f"must be < duration_s ({show(s.duration_s)})"))
    for price in s.prices:
        if price not in DEFAULT_PRICES:
            out.append((("prices", price), price,
                        f"unknown price name; allowed: {', '.join(DEFAULT_PRICES)}"))  # fmt: skip
    dlq_targets = set()
    consumer: dict[str, str] = {}
    for name, c in comps.items():
        here = ("components", name)
        if isinstance(c, ProducerSpec):
            for i, target in enumerate(c.send_to):
                spec = comps.get(target)
                if c.batch is not None and spec is not None and not isinstance(
                    spec, SqsQueueSpec | SnsTopicSpec | EventBusSpec
                ):
                    out.append(((*here, "batch"), c.batch,
                                f"batched sends go to an sqs_queue (SendMessageBatch), an "
                                f"sns_topic (PublishBatch) or an event_bus (PutEvents); send_to "
                                f"{target!r} is {_a(spec.type)}"))  # fmt: skip
                if isinstance(spec, SnsTopicSpec):
                    if spec.fifo and c.dedup_ids == "content" and not spec.content_based_dedup:
                        out.append(((*here, "dedup_ids"), c.dedup_ids,
                                    f"FIFO topic {target!r} has no content_based_dedup; AWS "
                                    "rejects a FIFO publish with neither a deduplication id nor "
                                    "content-based deduplication"))  # fmt: skip
                    continue  # a publish
                if isinstance(spec, LambdaFunctionSpec):
                    continue  # an asynchronous invocation
                if isinstance(spec, EventBusSpec | S3BucketSpec | ApiGatewaySpec | CloudTrailSpec):
                    continue  # PutEvents, PutObject, an HTTP request, a recorded API call
                if spec is not None and not isinstance(spec, SqsQueueSpec):
                    why = (f"must name an sqs_queue, an sns_topic, a lambda_function "
                           f"(asynchronous invoke), an event_bus, an s3_bucket, an api_gateway "
                           f"or a cloudtrail; {target!r} is {_a(spec.type)}")
                    out.append(((*here, "send_to", i), target, why))
                    continue
                q = ref((*here, "send_to", i), target)
                content = c.dedup_ids == "content"
                if q is not None and q.fifo and content and not q.content_based_dedup:
                    out.append(((*here, "dedup_ids"), c.dedup_ids,
                                f"FIFO queue {target!r} has no content_based_dedup; AWS rejects a "
                                "FIFO send with neither a deduplication id nor content-based "
                                "deduplication"))  # fmt: skip
        elif isinstance(c, SqsQueueSpec) and c.dead_letter is not None:
            path, target = (*here, "dead_letter", "target"), c.dead_letter.target
            dlq_targets.add(target)
            if target == name:
                out.append((path, target, "a queue cannot be its own dead-letter queue"))
            elif (dlq := ref(path, target)) is not None and dlq.fifo != c.fifo:
                kind = "FIFO" if c.fifo else "standard"
                out.append((path, target, f"must be a {kind} queue like {name!r}; AWS requires "
                            "the DLQ to be the same type as the source queue"))  # fmt: skip
        elif isinstance(c, SnsTopicSpec):
            out.extend(_topic_checks(name, c, comps, unknown))
        elif isinstance(c, EventBusSpec):
            out.extend(_bus_checks(name, c, comps, unknown))
        elif isinstance(c, S3BucketSpec):
            out.extend(_bucket_checks(name, c, comps, unknown))
        elif isinstance(c, ApiGatewaySpec):
            integ = comps.get(c.integration)
            if integ is None:
                out.append(((*here, "integration"), c.integration, unknown))
            elif not isinstance(integ, S3BucketSpec | LambdaFunctionSpec):
                out.append(((*here, "integration"), c.integration,
                            f"must name an s3_bucket (PutObject) or a lambda_function "
                            f"(synchronous invoke); it is {_a(integ.type)}"))  # fmt: skip
        elif isinstance(c, CloudTrailSpec):
            bus = comps.get(c.bus)
            if bus is None:
                out.append(((*here, "bus"), c.bus, unknown))
            elif not isinstance(bus, EventBusSpec):
                out.append(((*here, "bus"), c.bus, f"must name an event_bus; it is {_a(bus.type)}"))
        elif isinstance(c, LambdaFunctionSpec):
            if c.async_.on_failure is not None:
                dest_path = (*here, "async", "on_failure")
                dest = comps.get(c.async_.on_failure)
                if dest is None:
                    out.append((dest_path, c.async_.on_failure, unknown))
                elif not isinstance(
                    dest, SqsQueueSpec | SnsTopicSpec | LambdaFunctionSpec | EventBusSpec
                ):
                    why = ("must name a standard sqs_queue, a standard sns_topic, a "
                           f"lambda_function or an event_bus; it is {_a(dest.type)}")  # fmt: skip
                    out.append((dest_path, c.async_.on_failure, why))
                elif isinstance(dest, SqsQueueSpec | SnsTopicSpec) and dest.fifo:
                    out.append((dest_path, c.async_.on_failure,
                                "must not be FIFO: AWS on-failure destinations are standard "
                                "queues and topics"))  # fmt: skip
            if c.trigger is None:
                continue
            t, tp = c.trigger, (*here, "trigger")
            q = ref((*tp, "source"), t.source)
            if q is not None and t.source in consumer:
                out.append(((*tp, "source"), t.source,
                            f"evsim models one consumer function per queue; "
                            f"{consumer[t.source]} already consumes {t.source}"))  # fmt: skip
            consumer.setdefault(t.source, name)
            if q is not None and q.fifo:
                if t.batch_size > 10:
                    out.append(((*tp, "batch_size"), t.batch_size,
                                "a FIFO source allows batch_size 1–10"))  # fmt: skip
                if t.batching_window_s != 0:
                    out.append(((*tp, "batching_window_s"), t.batching_window_s,
                                "must be 0: a batching window is not supported for FIFO "
                                "sources"))  # fmt: skip
            elif t.batch_size > 10 and t.batching_window_s < 1:
                out.append(((*tp, "batch_size"), t.batch_size,
                            f"above 10 requires batching_window_s ≥ 1 (it is "
                            f"{show(t.batching_window_s)}); AWS rule for SQS event "
                            "sources"))  # fmt: skip
            if q is not None and c.timeout_s > q.visibility_timeout_s:
                out.append(((*here, "timeout_s"), c.timeout_s,
                            f"must be ≤ the source queue's visibility_timeout_s "
                            f"({show(q.visibility_timeout_s)}); AWS rejects a function timeout "
                            "above the queue's visibility timeout"))  # fmt: skip
    for name, q in s.of_type(SqsQueueSpec).items():
        if q.redrives and name not in dlq_targets:
            out.append((("components", name, "redrives"), NO_VALUE,
                        f"only allowed on a dead-letter queue; no queue names {name!r} as "
                        "dead_letter.target"))  # fmt: skip
    for i, outage in enumerate(s.outages):
        if outage.component not in comps:
            out.append((("outages", i, "component"), outage.component, unknown))
    out.extend(_reservation_checks(s))
    out.extend(handler_checks(comps, s.max_hops))
    return out


#: Lambda keeps this many executions of the account unreserved, for the functions without a
#: reservation ("Configuring reserved concurrency for a function", AWS Lambda guide).
UNRESERVED_FLOOR = 100


def _reservation_checks(s: ScenarioFields) -> list[RelProblem]:
    """Reservations must leave at least 100 of the account's concurrency unreserved (AWS).

    AWS rejects a reserved concurrency that would leave fewer than 100 executions unreserved:
    a function can reserve at most the unreserved concurrency minus 100. A reservation of 0
    (a function switched off) takes nothing from the pool and is always allowed. The problem
    is reported at the first function whose reservation crosses the floor, in file order.
    """
    account = s.account_concurrency
    reserved = 0
    for name, f in s.of_type(LambdaFunctionSpec).items():
        rc = f.reserved_concurrency
        if not rc:
            continue
        reserved += rc
        if account - reserved < UNRESERVED_FLOOR:
            others = reserved - rc
            so_far = f" (with {others} reserved by functions before it)" if others else ""
            allowed = max(0, account - UNRESERVED_FLOOR - others)
            return [(("components", name, "reserved_concurrency"), rc,
                     f"would leave {account - reserved} of account_concurrency ({account}) "
                     f"unreserved{so_far}; AWS requires at least {UNRESERVED_FLOOR} unreserved "
                     f"executions, so this function can reserve at most {allowed}: lower it or "
                     "raise account_concurrency")]  # fmt: skip
    return []


def _topic_checks(
    name: str, topic: SnsTopicSpec, comps: Mapping[str, Any], unknown: str
) -> list[RelProblem]:
    """Subscription rules of one topic: targets, protocols, FIFO wirings, DLQs, policies."""
    out: list[RelProblem] = []
    for i, sub in enumerate(topic.subscriptions):
        here = ("components", name, "subscriptions", i)
        target = comps.get(sub.target)
        if target is None:
            out.append(((*here, "target"), sub.target, unknown))
            continue
        expected: str | None = None
        if isinstance(target, SqsQueueSpec):
            expected = "sqs"
        elif isinstance(target, LambdaFunctionSpec):
            expected = "lambda"
        elif isinstance(target, EndpointSpec):
            expected = target.protocol
        if expected is None:
            out.append(((*here, "target"), sub.target,
                        f"must name an sqs_queue, a lambda_function or an endpoint; it is "
                        f"{_a(target.type)}"))  # fmt: skip
            continue
        if sub.protocol is not None and sub.protocol != expected:
            out.append(((*here, "protocol"), sub.protocol,
                        f"{sub.target!r} is reached with protocol {expected!r}"))  # fmt: skip
        if topic.fifo and not isinstance(target, SqsQueueSpec):
            out.append(((*here, "target"), sub.target,
                        "only SQS queues can subscribe to a FIFO topic (AWS)"))  # fmt: skip
        if not topic.fifo and isinstance(target, SqsQueueSpec) and target.fifo:
            out.append(((*here, "target"), sub.target,
                        "a standard topic cannot deliver to a FIFO queue (AWS)"))  # fmt: skip
        if sub.retry is not None and expected not in ("http", "https"):
            out.append(((*here, "retry"), NO_VALUE,
                        "AWS lets you customise the delivery policy of HTTP/S subscriptions "
                        f"only; this one is {expected}"))  # fmt: skip
        elif sub.retry is not None:
            out.extend(_http_policy_checks((*here, "retry"), sub.retry))
        if sub.dead_letter is not None:
            dlq = comps.get(sub.dead_letter.target)
            path = (*here, "dead_letter", "target")
            if dlq is None:
                out.append((path, sub.dead_letter.target, unknown))
            elif not isinstance(dlq, SqsQueueSpec):
                out.append((path, sub.dead_letter.target, f"must name an sqs_queue; it is "
                            f"{_a(dlq.type)}"))  # fmt: skip
            elif dlq.fifo != topic.fifo:
                kind = "FIFO" if topic.fifo else "standard"
                out.append((path, sub.dead_letter.target,
                            f"must be a {kind} queue, like the topic (AWS)"))  # fmt: skip
        if sub.filter_policy is not None:
            for problem in validate_filter_policy(sub.filter_policy, scope=sub.filter_policy_scope):
                out.append(((*here, "filter_policy"), NO_VALUE, problem))
    return out


def _standard_queue(
    path: tuple[str | int, ...], target: str, comps: Mapping[str, Any], unknown: str, who: str
) -> list[RelProblem]:
    """``target`` must be a standard SQS queue (a dead-letter queue of ``who``)."""
    spec = comps.get(target)
    if spec is None:
        return [(path, target, unknown)]
    if not isinstance(spec, SqsQueueSpec):
        return [(path, target, f"must name an sqs_queue; it is {_a(spec.type)}")]
    if spec.fifo:
        return [(path, target, f"must be a standard queue: {who} (AWS)")]
    return []


_BUS_TARGETS = (SqsQueueSpec, LambdaFunctionSpec, SnsTopicSpec, EndpointSpec)


def _bus_checks(
    name: str, bus: EventBusSpec, comps: Mapping[str, Any], unknown: str
) -> list[RelProblem]:
    """Rules of one bus: patterns, targets and their dead-letter queues; the archive pattern."""
    out: list[RelProblem] = []
    for i, rule in enumerate(bus.rules):
        here = ("components", name, "rules", i)
        for problem in validate_pattern(rule.pattern):
            out.append(((*here, "pattern"), NO_VALUE, problem))
        for j, t in enumerate(rule.targets):
            tp = (*here, "targets", j)
            spec = comps.get(t.target)
            if spec is None:
                out.append(((*tp, "target"), t.target, unknown))
            elif isinstance(spec, EndpointSpec) and spec.protocol not in ("http", "https"):
                out.append(((*tp, "target"), t.target,
                            f"an endpoint target is an API destination and must be http or "
                            f"https; {t.target!r} is {spec.protocol}"))  # fmt: skip
            elif not isinstance(spec, _BUS_TARGETS):
                out.append(((*tp, "target"), t.target,
                            f"must name an sqs_queue, a lambda_function, an sns_topic or an http "
                            f"endpoint (API destination); it is {_a(spec.type)}"))  # fmt: skip
            if t.dead_letter is not None:
                out.extend(_standard_queue((*tp, "dead_letter", "target"), t.dead_letter.target,
                                           comps, unknown, "EventBridge target DLQs are standard "
                                           "queues"))  # fmt: skip
    if bus.archive is not None and bus.archive.pattern is not None:
        for problem in validate_pattern(bus.archive.pattern):
            out.append((("components", name, "archive", "pattern"), NO_VALUE, problem))
    return out


def _s3_types_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    def one(x: str, y: str) -> bool:
        return x == y or (x.endswith(":*") and y.startswith(x[:-1])) or (
            y.endswith(":*") and x.startswith(y[:-1]))  # fmt: skip

    return any(one(x, y) for x in a for y in b)


def _bucket_checks(
    name: str, bucket: S3BucketSpec, comps: Mapping[str, Any], unknown: str
) -> list[RelProblem]:
    """Notification targets (standard queue or topic, or a function) and overlapping filters."""
    out: list[RelProblem] = []
    here = ("components", name)
    for i, n in enumerate(bucket.notifications):
        tp = (*here, "notifications", i, "target")
        spec = comps.get(n.target)
        if spec is None:
            out.append((tp, n.target, unknown))
        elif not isinstance(spec, SqsQueueSpec | SnsTopicSpec | LambdaFunctionSpec):
            out.append((tp, n.target, f"must name an sqs_queue, an sns_topic or a "
                        f"lambda_function; it is {_a(spec.type)}"))  # fmt: skip
        elif isinstance(spec, SqsQueueSpec | SnsTopicSpec) and spec.fifo:
            out.append((tp, n.target, "must be standard: S3 cannot notify a FIFO queue or "
                        "topic (AWS)"))  # fmt: skip
        for j, m in enumerate(bucket.notifications[:i]):
            prefixes = n.prefix.startswith(m.prefix) or m.prefix.startswith(n.prefix)
            suffixes = n.suffix.endswith(m.suffix) or m.suffix.endswith(n.suffix)
            if prefixes and suffixes and _s3_types_overlap(n.events, m.events):
                out.append(((*here, "notifications", i), NO_VALUE,
                            f"overlaps notification {j} (prefix {m.prefix!r}, suffix "
                            f"{m.suffix!r}) for the same event types; AWS rejects overlapping "
                            "prefixes and suffixes for one event type"))  # fmt: skip
    if bucket.eventbridge is not None:
        spec = comps.get(bucket.eventbridge)
        if spec is None:
            out.append(((*here, "eventbridge"), bucket.eventbridge, unknown))
        elif not isinstance(spec, EventBusSpec):
            out.append(((*here, "eventbridge"), bucket.eventbridge,
                        f"must name an event_bus; it is {_a(spec.type)}"))  # fmt: skip
    return out


def _http_policy_checks(path: tuple[str | int, ...], p: DeliveryPolicySpec) -> list[RelProblem]:
    """AWS's limits on a custom HTTP/S delivery policy."""
    out: list[RelProblem] = []
    if p.min_delay_s < 1:
        out.append(((*path, "min_delay_s"), p.min_delay_s, "must be ≥ 1 s (AWS HTTP/S limit)"))
    if p.max_delay_s >= 3600:
        out.append(((*path, "max_delay_s"), p.max_delay_s, "must be < 3600 s (AWS HTTP/S limit)"))
    if p.retries > 100:
        out.append(((*path,), p.retries, "at most 100 retries in all (AWS HTTP/S limit)"))
    total = p.total_s()
    if total > 3600:
        out.append(((*path,), NO_VALUE,
                    f"the retries span {total:g} s; AWS limits an HTTP/S delivery policy to "
                    "3600 s in all"))  # fmt: skip
    return out
