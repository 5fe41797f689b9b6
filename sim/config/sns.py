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
    "policy_from_attempt_table",
]

Protocol = Literal["sqs", "lambda", "http", "https", "email", "email-json", "sms"]


class DeliveryPolicySpec(Spec):
    """An SNS delivery retry policy: four phases of retries after the initial delivery attempt.

    ``immediate`` retries with no delay, ``pre_backoff`` retries ``min_delay_s`` apart,
    ``backoff`` retries whose delays grow from ``min_delay_s`` to ``max_delay_s``, and
    ``post_backoff`` retries ``max_delay_s`` apart: ``retries`` + 1 attempts in all (AWS's
    HTTP/S delivery policy, whose ``numRetries`` counts the retries of all four phases).
    """

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


def policy_from_attempt_table(
    immediate: int, pre_backoff: int, backoff: int, post_backoff: int, lo: float, hi: float
) -> DeliveryPolicySpec:
    """A policy from a row of AWS's table of SNS-defined policies, whose phases count attempts.

    AWS's "Amazon SNS message delivery retries" page lists, for AWS-managed and customer-managed
    endpoints, the attempts of each phase and a total that is their sum (3 + 2 + 10 + 100,000 =
    100,015 attempts; 0 + 2 + 10 + 38 = 50): the initial delivery is the first attempt of the
    first phase that has any. A :class:`DeliveryPolicySpec` counts retries after the initial
    delivery (as an HTTP/S policy's ``numRetries`` does), so that phase has one retry fewer.
    """
    counts = [immediate, pre_backoff, backoff, post_backoff]
    first = next(i for i, n in enumerate(counts) if n > 0)
    counts[first] -= 1
    return DeliveryPolicySpec(
        immediate=counts[0], pre_backoff=counts[1], backoff=counts[2], post_backoff=counts[3],
        min_delay_s=lo, max_delay_s=hi, backoff_function="exponential",
    )  # fmt: skip


#: AWS-managed endpoints (SQS, Lambda): 100,015 attempts over about 23 days.
_AWS_MANAGED = policy_from_attempt_table(3, 2, 10, 100_000, lo=1.0, hi=20.0)
#: Customer-managed endpoints (email, SMS): 50 attempts over about 6 hours.
_CUSTOMER_MANAGED = policy_from_attempt_table(0, 2, 10, 38, lo=10.0, hi=600.0)
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
