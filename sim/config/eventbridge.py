"""The EventBridge bus spec.

Rules with event patterns, targets with retry policies and DLQs, the archive and replays.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from sim.config.common import DeliveryRetrySpec, ErrorsSpec
from sim.config.fields import (
    DistSpec,
    NonNegFloat,
    PosFloat,
    Prob,
    Spec,
    const_dist,
    dist_from_dict,
)
from sim.config.problems import (
    ASSUMPTION,
    AWS,
    AWS_RANGE,
    CHOICE,
    RelProblem,
    Source,
    invalid_all_error,
    show,
)

__all__ = [
    "ARCHIVE_LAG_S",
    "ArchiveSpec",
    "EventBusSpec",
    "ReplaySpec",
    "RuleSpec",
    "TargetDeadLetterSpec",
    "TargetSpec",
]


class TargetDeadLetterSpec(Spec):
    """A target's dead-letter queue: a standard SQS queue (AWS)."""

    target: Annotated[str, CHOICE]


class TargetSpec(Spec):
    """One target of a rule: a queue, a function, a topic or an HTTP endpoint.

    A function is invoked asynchronously; an endpoint is an API destination.
    ``client_error_rate`` is the probability that a delivery meets a non-retriable error
    (missing permission, deleted target): no retry, straight to the DLQ, else lost.
    """

    fields_source: ClassVar[Source] = AWS

    target: str
    retry: DeliveryRetrySpec = Field(default_factory=DeliveryRetrySpec)
    dead_letter: TargetDeadLetterSpec | None = None
    client_error_rate: Annotated[Prob, ASSUMPTION] = 0.0


class RuleSpec(Spec):
    """A rule: an event pattern (the EventBridge matching language) and up to 5 targets."""

    name: Annotated[str, Field(min_length=1), CHOICE]
    pattern: Annotated[dict[str, Any], CHOICE]
    targets: Annotated[tuple[TargetSpec, ...], Field(min_length=1, max_length=5), AWS_RANGE]


#: The archive lag's default: uniform over [0, 600] s (AWS documents a lag and advises waiting
#: 10 minutes before replaying a time range, with no distribution: an assumption).
ARCHIVE_LAG_S = {"uniform": {"low": 0.0, "high": 600.0}}


class ArchiveSpec(Spec):
    """An archive of the bus: every event (or those matching ``pattern``) for ``retention_s``.

    ``retention_s`` null keeps events indefinitely (AWS's default). ``lag_s`` is the delay,
    drawn per event, between its arrival on the bus and its landing in the archive: AWS
    documents that there can be one and advises waiting 10 minutes before replaying a time
    range ("Archiving and replaying events in Amazon EventBridge"), without a number. The
    default, uniform over 0–10 minutes, is an assumption that makes AWS's advice exactly
    sufficient: a replay started 10 minutes after its window finds every event of it, an
    earlier one misses some of the latest.
    """

    fields_source: ClassVar[Source] = AWS

    retention_s: PosFloat | None = None
    pattern: dict[str, Any] | None = None
    lag_s: Annotated[DistSpec, ASSUMPTION] = Field(
        default_factory=lambda: dist_from_dict(ARCHIVE_LAG_S)
    )


class ReplaySpec(Spec):
    """At ``at_s``, replay the archived events that reached the bus in ``[from_s, to_s)``.

    Replayed events go back onto the bus with a ``replay-name`` field (``name``, default
    ``replay-N``); AWS walks the window in 1-minute slices of event time, unordered within a
    slice, at ``rate_per_s`` events per second (AWS does not document the throughput:
    unconfirmed, default 10,000).
    """

    fields_source: ClassVar[Source] = CHOICE

    at_s: NonNegFloat
    from_s: NonNegFloat
    to_s: NonNegFloat
    name: Annotated[str | None, AWS] = None
    rate_per_s: Annotated[PosFloat, ASSUMPTION] = 10_000.0

    @model_validator(mode="after")
    def _check(self) -> ReplaySpec:
        problems: list[RelProblem] = []
        if self.to_s <= self.from_s:
            problems.append((("to_s",), self.to_s, f"must be > from_s ({show(self.from_s)})"))
        if self.at_s < self.to_s:
            problems.append((("at_s",), self.at_s,
                             f"must be ≥ to_s ({show(self.to_s)}): a replay window must end "
                             "before the replay starts"))  # fmt: skip
        if problems:
            raise invalid_all_error(problems)
        return self


class EventBusSpec(Spec):
    """An EventBridge event bus (the classic rules-and-targets bus).

    ``errors.rate`` and outages apply to each PutEvents; ``latency_s`` is the time from
    PutEvents to the target invocation (AWS: "near-real-time", no distribution published:
    unconfirmed, default 0). ``invocations_per_s`` is the invocations quota (18,750/s in
    us-east-1): over it, first invocations are delayed, not dropped. ``duplicate_rate`` is the
    probability that a target receives an event twice (AWS: at-least-once, no rate; default 0).
    """

    fields_source: ClassVar[Source] = AWS

    type: Literal["event_bus"]
    errors: Annotated[ErrorsSpec, ASSUMPTION] = Field(default_factory=ErrorsSpec)
    latency_s: Annotated[DistSpec, ASSUMPTION] = const_dist(0.0)
    invocations_per_s: PosFloat = 18_750.0
    duplicate_rate: Annotated[Prob, ASSUMPTION] = 0.0
    rules: Annotated[tuple[RuleSpec, ...], Field(max_length=300), AWS_RANGE] = ()
    archive: ArchiveSpec | None = None
    replays: tuple[ReplaySpec, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> EventBusSpec:
        problems: list[RelProblem] = []
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
            raise invalid_all_error(problems)
        return self
