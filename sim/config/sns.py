"""The SNS topic spec.

Subscriptions with filter policies, delivery policies per protocol, subscription DLQs.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from sim.config.common import ErrorsSpec
from sim.config.fields import DistSpec, Prob, Spec, const_dist
from sim.config.problems import (
    ASSUMPTION,
    AWS,
    AWS_RANGE,
    CHOICE,
    RelProblem,
    Source,
    invalid_all_error,
)

__all__ = [
    "DeliveryPolicySpec",
    "Protocol",
    "SnsTopicSpec",
    "SubscriptionDeadLetterSpec",
    "SubscriptionSpec",
    "default_delivery_policy",
]

Protocol = Literal["sqs", "lambda", "http", "https", "email", "email-json", "sms"]


class DeliveryPolicySpec(Spec):
    """An SNS delivery retry policy (four phases; see the module docstring)."""

    fields_source: ClassVar[Source] = AWS

    immediate: Annotated[int, Field(ge=0)] = 0
    pre_backoff: Annotated[int, Field(ge=0)] = 0
    backoff: Annotated[int, Field(ge=0)] = 3
    post_backoff: Annotated[int, Field(ge=0)] = 0
    min_delay_s: Annotated[float, Field(ge=0)] = 20.0
    max_delay_s: Annotated[float, Field(ge=0)] = 20.0
    backoff_function: Annotated[
        Literal["linear", "arithmetic", "geometric", "exponential"],
        Source("AWS", "the names; the curves are an assumption"),
    ] = "linear"

    @model_validator(mode="after")
    def _check(self) -> DeliveryPolicySpec:
        if self.max_delay_s < self.min_delay_s:
            raise invalid_all_error([(("max_delay_s",), self.max_delay_s,
                                 f"must be ≥ min_delay_s ({self.min_delay_s:g})")])  # fmt: skip
        return self

    @property
    def retries(self) -> int:
        """Retries after the first attempt."""
        return self.immediate + self.pre_backoff + self.backoff + self.post_backoff

    def runs(self) -> list[tuple[int, float]]:
        """The delays between attempts as ``(count, gap_s)`` runs, in order (empty runs dropped)."""
        lo, hi, n = self.min_delay_s, self.max_delay_s, self.backoff
        if self.backoff_function in ("exponential", "geometric") and lo > 0 and n > 0:
            backoff = [lo * (hi / lo) ** ((i + 1) / n) for i in range(n)]
        else:
            backoff = [lo + (hi - lo) * (i + 1) / n for i in range(n)]
        runs = [(self.immediate, 0.0), (self.pre_backoff, lo), *((1, g) for g in backoff),
                (self.post_backoff, hi)]  # fmt: skip
        return [(k, g) for k, g in runs if k > 0]

    def total_s(self) -> float:
        """Time from the first attempt to the last one (seconds)."""
        return sum(k * g for k, g in self.runs())


_AWS_MANAGED = DeliveryPolicySpec(
    immediate=3, pre_backoff=2, backoff=10, post_backoff=100_000,
    min_delay_s=1.0, max_delay_s=20.0, backoff_function="exponential",
)  # fmt: skip
_CUSTOMER_MANAGED = DeliveryPolicySpec(
    immediate=0, pre_backoff=2, backoff=10, post_backoff=38,
    min_delay_s=10.0, max_delay_s=600.0, backoff_function="exponential",
)  # fmt: skip
_HTTP_DEFAULT = DeliveryPolicySpec()


def default_delivery_policy(protocol: str) -> DeliveryPolicySpec:
    """AWS's delivery retry policy for a subscription protocol."""
    if protocol in ("sqs", "lambda"):
        return _AWS_MANAGED
    if protocol in ("http", "https"):
        return _HTTP_DEFAULT
    return _CUSTOMER_MANAGED


class SubscriptionDeadLetterSpec(Spec):
    """A subscription's dead-letter queue (an SQS queue of the topic's type)."""

    target: Annotated[str, CHOICE]


class SubscriptionSpec(Spec):
    """One subscription of a topic.

    ``protocol`` defaults to what the target is (sqs_queue → sqs, lambda_function → lambda,
    endpoint → its protocol). ``filter_policy`` is matched against the message attributes
    (``filter_policy_scope: MessageAttributes``) or its body. ``retry`` overrides the
    protocol's delivery policy (AWS allows this for HTTP/S only). ``client_error_rate`` is the
    probability that a delivery meets a client-side error (a deleted or forbidden endpoint),
    which SNS does not retry.
    """

    fields_source: ClassVar[Source] = AWS

    target: str
    protocol: Protocol | None = None
    filter_policy: dict[str, Any] | None = None
    filter_policy_scope: Literal["MessageAttributes", "MessageBody"] = "MessageAttributes"
    dead_letter: SubscriptionDeadLetterSpec | None = None
    retry: DeliveryPolicySpec | None = None
    client_error_rate: Annotated[Prob, ASSUMPTION] = 0.0


class SnsTopicSpec(Spec):
    """An SNS topic (standard, or FIFO with ``fifo: true``).

    ``errors.rate`` and ``latency_s`` apply to each Publish. ``email_rate_per_s`` is SNS's
    email delivery quota (10 messages per second, hard; per account in AWS, per topic here):
    email deliveries beyond it wait in line.
    """

    fields_source: ClassVar[Source] = AWS

    type: Literal["sns_topic"]
    fifo: Annotated[
        bool, Source("AWS", "the 5-minute deduplication window of a topic is an assumption")
    ] = False
    email_rate_per_s: Annotated[float, Field(gt=0, le=10), AWS_RANGE] = 10.0
    content_based_dedup: bool = False
    errors: Annotated[ErrorsSpec, ASSUMPTION] = Field(default_factory=ErrorsSpec)
    latency_s: Annotated[DistSpec, ASSUMPTION] = const_dist(0.0)
    subscriptions: Annotated[tuple[SubscriptionSpec, ...], CHOICE] = ()

    @model_validator(mode="after")
    def _check(self) -> SnsTopicSpec:
        problems: list[RelProblem] = []
        if self.content_based_dedup and not self.fifo:
            problems.append((("content_based_dedup",), True,
                             "only allowed on a FIFO topic (fifo: true)"))  # fmt: skip
        if problems:
            raise invalid_all_error(problems)
        return self
