"""Specs of EventBridge buses, S3 buckets, API Gateway and CloudTrail (aws-semantics.md §7–11).

Defaults are AWS's documented ones. Where AWS documents a behaviour without a number the field
is a parameter and its docstring says so (the backoff shape of EventBridge retries, S3
notification delays and retries, CloudTrail's delivery delay and loss, replay throughput).
Rules that span components (what a target may be, overlapping S3 filters, pattern syntax) live
in :mod:`sim.scenario`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from sim.config_errors import _AWS, _invalid_all, _Rel, _show
from sim.dist_specs import DistSpec, NonNegFloat, PosFloat, Prob, _const, _Spec
from sim.specs import ErrorsSpec

__all__ = [
    "S3_EVENT_TYPES",
    "ApiGatewaySpec",
    "ArchiveSpec",
    "CloudTrailSpec",
    "DeliveryRetrySpec",
    "EventBusSpec",
    "NotificationSpec",
    "ReplaySpec",
    "RuleSpec",
    "S3BucketSpec",
    "TargetDeadLetterSpec",
    "TargetSpec",
]


class DeliveryRetrySpec(_Spec):
    """A retry policy of EventBridge targets (and of S3's own deliveries).

    ``max_age_s`` is AWS's MaximumEventAgeInSeconds (60–86,400 s, default 24 h) and
    ``max_attempts`` its MaximumRetryAttempts (0–185, default 185): the retries after the
    first attempt. Retry ``i`` (1, 2, ...) waits ``d/2 + U(0, d/2)`` with
    ``d = min(base_s × 2^(i−1), cap_s)`` ("exponential backoff with jitter"). AWS documents
    neither the base, the cap nor the jitter: ``base_s`` (1 s) and ``cap_s`` (600 s) are
    unconfirmed parameters, chosen so that the 185 default retries span about 22 hours, inside
    the 24 h default age.
    """

    max_age_s: Annotated[float, Field(ge=60, le=86_400), _AWS] = 86_400.0
    max_attempts: Annotated[int, Field(ge=0, le=185), _AWS] = 185
    base_s: PosFloat = 1.0
    cap_s: PosFloat = 600.0

    @model_validator(mode="after")
    def _check(self) -> DeliveryRetrySpec:
        if self.cap_s < self.base_s:
            why = f"must be ≥ base_s ({_show(self.base_s)})"
            raise _invalid_all([(("cap_s",), self.cap_s, why)])
        return self


class TargetDeadLetterSpec(_Spec):
    """A target's dead-letter queue: a standard SQS queue (AWS)."""

    target: str


class TargetSpec(_Spec):
    """One target of a rule: a queue, a function, a topic or an HTTP endpoint.

    A function is invoked asynchronously; an endpoint is an API destination.
    ``client_error_rate`` is the probability that a delivery meets a non-retriable error
    (missing permission, deleted target): no retry, straight to the DLQ, else lost.
    """

    target: str
    retry: DeliveryRetrySpec = Field(default_factory=DeliveryRetrySpec)
    dead_letter: TargetDeadLetterSpec | None = None
    client_error_rate: Prob = 0.0


class RuleSpec(_Spec):
    """A rule: an event pattern (the EventBridge matching language) and up to 5 targets."""

    name: Annotated[str, Field(min_length=1)]
    pattern: dict[str, Any]
    targets: Annotated[tuple[TargetSpec, ...], Field(min_length=1, max_length=5), _AWS]


class ArchiveSpec(_Spec):
    """An archive of the bus: every event (or those matching ``pattern``) for ``retention_s``.

    ``retention_s`` null keeps events indefinitely (AWS's default). ``lag_s`` is the delay before
    an event lands in the archive (AWS documents a lag but no number and advises waiting 10
    minutes before replaying: an unconfirmed parameter, default 0).
    """

    retention_s: PosFloat | None = None
    pattern: dict[str, Any] | None = None
    lag_s: NonNegFloat = 0.0


class ReplaySpec(_Spec):
    """At ``at_s``, replay the archived events that reached the bus in ``[from_s, to_s)``.

    Replayed events go back onto the bus with a ``replay-name`` field (``name``, default
    ``replay-N``); AWS walks the window in 1-minute slices of event time, unordered within a
    slice, at ``rate_per_s`` events per second (AWS does not document the throughput:
    unconfirmed, default 10,000).
    """

    at_s: NonNegFloat
    from_s: NonNegFloat
    to_s: NonNegFloat
    name: str | None = None
    rate_per_s: PosFloat = 10_000.0

    @model_validator(mode="after")
    def _check(self) -> ReplaySpec:
        problems: list[_Rel] = []
        if self.to_s <= self.from_s:
            problems.append((("to_s",), self.to_s, f"must be > from_s ({_show(self.from_s)})"))
        if self.at_s < self.to_s:
            problems.append((("at_s",), self.at_s,
                             f"must be ≥ to_s ({_show(self.to_s)}): a replay window must end "
                             "before the replay starts"))  # fmt: skip
        if problems:
            raise _invalid_all(problems)
        return self


class EventBusSpec(_Spec):
    """An EventBridge event bus (the classic rules-and-targets bus).

    ``errors.rate`` and outages apply to each PutEvents; ``latency_s`` is the time from
    PutEvents to the target invocation (AWS: "near-real-time", no distribution published:
    unconfirmed, default 0). ``invocations_per_s`` is the invocations quota (18,750/s in
    us-east-1): over it, first invocations are delayed, not dropped. ``duplicate_rate`` is the
    probability that a target receives an event twice (AWS: at-least-once, no rate; default 0).
    """

    type: Literal["event_bus"]
    errors: ErrorsSpec = Field(default_factory=ErrorsSpec)
    latency_s: DistSpec = _const(0.0)
    invocations_per_s: PosFloat = 18_750.0
    duplicate_rate: Prob = 0.0
    rules: Annotated[tuple[RuleSpec, ...], Field(max_length=300), _AWS] = ()
    archive: ArchiveSpec | None = None
    replays: tuple[ReplaySpec, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> EventBusSpec:
        problems: list[_Rel] = []
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.name in seen:
                why = "repeated; rule names are unique per bus"
                problems.append((("rules", i, "name"), rule.name, why))
            seen.add(rule.name)
        if self.replays and self.archive is None:
            why = "a replay needs an archive (archive: {})"
            problems.append((("replays",), len(self.replays), why))
        if problems:
            raise _invalid_all(problems)
        return self


#: S3 event types a notification may name; evsim's puts are ``s3:ObjectCreated:Put``.
S3_EVENT_TYPES = (
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
)


class NotificationSpec(_Spec):
    """A direct event notification: events of ``events`` whose key matches prefix and suffix."""

    target: str
    events: Annotated[
        tuple[Literal[S3_EVENT_TYPES], ...], Field(min_length=1)  # type: ignore[valid-type]
    ] = ("s3:ObjectCreated:*",)
    prefix: Annotated[str, Field(max_length=1024)] = ""
    suffix: Annotated[str, Field(max_length=1024)] = ""


class S3BucketSpec(_Spec):
    """An S3 bucket: object puts and the events they produce.

    A put's object key and size come from the message's ``key`` and ``size_bytes`` attributes
    (else ``obj-<id>`` and the producer's ``size_bytes``); its other attributes become object
    metadata. ``errors.rate``/outages fail a PUT (a 5xx); ``latency_s`` is the PUT's latency.
    Notifications are at-least-once after ``notification_delay_s`` (AWS: "typically within
    seconds, sometimes a minute or longer": an unconfirmed default, lognormal with median 1 s)
    with an extra copy at probability ``duplicate_rate`` (default 0), unordered. S3 retries a
    notification or an EventBridge delivery that fails with ``delivery_retry`` (AWS documents
    at-least-once and, for EventBridge, "durable, retried up to 24 h", not the schedule). With
    ``eventbridge`` every event also goes to that bus. A bucket with neither notifications nor
    ``eventbridge`` is itself the sink of its puts.
    """

    type: Literal["s3_bucket"]
    errors: ErrorsSpec = Field(default_factory=ErrorsSpec)
    latency_s: DistSpec = _const(0.0)
    notifications: tuple[NotificationSpec, ...] = ()
    eventbridge: str | None = None
    notification_delay_s: DistSpec = Field(
        default_factory=lambda: _dist({"lognormal": {"median": 1.0, "sigma": 1.0}})
    )
    duplicate_rate: Prob = 0.0
    delivery_retry: DeliveryRetrySpec = Field(default_factory=DeliveryRetrySpec)


class ApiGatewaySpec(_Spec):
    """An API Gateway REST API in front of ``integration`` (an s3_bucket or a lambda_function).

    A token bucket of ``rate_per_s`` tokens per second holding at most ``burst`` answers a
    request 429 when empty (AWS account defaults 10,000/s and 5,000). A request larger than
    ``max_payload_bytes`` (10 MB) is answered 413. The integration is called synchronously;
    when it has not answered within ``timeout_s`` (29 s) the client gets 504 while the
    integration goes on. ``errors.rate``/outages fail a request at the gateway (5xx);
    ``latency_s`` is the gateway's own overhead.
    """

    type: Literal["api_gateway"]
    integration: str
    rate_per_s: PosFloat = 10_000.0
    burst: Annotated[int, Field(ge=1)] = 5_000
    timeout_s: Annotated[float, Field(ge=0.05, le=300), _AWS] = 29.0
    max_payload_bytes: Annotated[int, Field(ge=1, le=10_485_760), _AWS] = 10_485_760
    errors: ErrorsSpec = Field(default_factory=ErrorsSpec)
    latency_s: DistSpec = _const(0.0)


class CloudTrailSpec(_Spec):
    """CloudTrail: recorded API calls become "AWS API Call via CloudTrail" events on ``bus``.

    Best effort: each event is lost with probability ``loss_rate`` (AWS documents rare loss but
    no rate: default 0), and one that the bus rejects is not retried. ``delivery_delay_s`` is the
    time from the API call to the bus (not documented by AWS: an unconfirmed default,
    lognormal with median 30 s).
    """

    type: Literal["cloudtrail"]
    bus: str
    delivery_delay_s: DistSpec = Field(
        default_factory=lambda: _dist({"lognormal": {"median": 30.0, "sigma": 1.0}})
    )
    loss_rate: Prob = 0.0


def _dist(data: dict[str, Any]) -> Any:
    """A distribution spec from its file form (for defaults)."""
    from pydantic import TypeAdapter

    return TypeAdapter(DistSpec).validate_python(data)
