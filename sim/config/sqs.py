"""The SQS queue spec (standard and FIFO).

Visibility timeout, retention, delays, deduplication, dead-letter queue and redrive.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
    model_validator,
)

from sim.config.common import ErrorsSpec
from sim.config.fields import (
    DistSpec,
    NonNegFloat,
    PosFloat,
    Prob,
    Spec,
    const_dist,
)
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
    "FIFO_CALLS_PER_S",
    "HIGH_THROUGHPUT_CALLS_PER_S",
    "DeadLetterSpec",
    "RedriveSpec",
    "SqsQueueSpec",
]


class DeadLetterSpec(Spec):
    """Redrive policy: after ``max_receive_count`` receives a message moves to ``target``."""

    target: Annotated[str, CHOICE]
    max_receive_count: Annotated[int, Field(ge=1, le=1000), AWS_RANGE]


class RedriveSpec(Spec):
    """A DLQ redrive (StartMessageMoveTask) back to the source queue(s), starting at ``at_s``."""

    at_s: Annotated[NonNegFloat, CHOICE]
    rate_per_s: Annotated[
        float, Field(gt=0, le=500), AWS_RANGE,
        Source("AWS", "the range; the default, AWS's maximum, is an assumption"),
    ] = 500.0  # fmt: skip


#: SendMessage, ReceiveMessage calls per second of a FIFO queue (per partition in
#: high-throughput mode): "300 transactions per second, per API action" (Amazon SQS message
#: quotas; Troubleshoot FIFO throttling issues in Amazon SQS).
FIFO_CALLS_PER_S = 300.0
#: Calls per second per action of a high-throughput FIFO queue in us-east-1, us-west-2 and
#: eu-west-1: 70,000 without batching (700,000 messages/s with batches of 10). The quotas page
#: has a per-Region table that could not be read: the number is from secondary summaries, an
#: unconfirmed default.
HIGH_THROUGHPUT_CALLS_PER_S = 70_000.0


class SqsQueueSpec(Spec):
    """An SQS queue (standard, or FIFO with ``fifo: true``).

    ``max_calls_per_s`` limits API calls per second per action (SendMessage or
    SendMessageBatch, ReceiveMessage) for the whole queue; ``None`` means the AWS default for
    the queue type (see :attr:`calls_per_s_limit`). A batch of up to 10 messages is one call.

    ``high_throughput`` is FIFO high-throughput mode (AWS: ``DeduplicationScope:
    messageGroup`` and ``FifoThroughputLimit: perMessageGroupId``): SQS spreads message
    groups over partitions by hashing the group id, each partition taking
    ``partition_calls_per_s`` (300) calls per second per action, and deduplicates per message
    group. evsim gives every message group its own partition (AWS adds partitions as traffic
    grows and does not document how many): a group, or a producer with one group, still tops
    out at 300 calls per second, and the queue as a whole at ``max_calls_per_s``.
    """

    fields_source: ClassVar[Source] = AWS

    type: Literal["sqs_queue"]
    fifo: bool = False
    visibility_timeout_s: Annotated[float, Field(ge=0, le=43_200), AWS_RANGE] = 30.0
    retention_s: Annotated[float, Field(ge=60, le=1_209_600), AWS_RANGE] = 345_600.0
    delay_s: Annotated[float, Field(ge=0, le=900), AWS_RANGE] = 0.0
    dead_letter: DeadLetterSpec | None = None
    content_based_dedup: bool = False
    duplicate_rate: Annotated[Prob, ASSUMPTION] = 0.0
    reorder_rate: Annotated[Prob, ASSUMPTION] = 0.0
    errors: Annotated[ErrorsSpec, ASSUMPTION] = Field(default_factory=ErrorsSpec)
    latency_s: Annotated[DistSpec, ASSUMPTION] = const_dist(0.0)
    max_calls_per_s: Annotated[
        float, Field(gt=0),
        Source("AWS", "300 on a FIFO queue; 70,000 in high-throughput mode: unconfirmed"),
    ] | None = None  # fmt: skip
    high_throughput: bool = False
    partition_calls_per_s: PosFloat = FIFO_CALLS_PER_S
    redrives: tuple[RedriveSpec, ...] = ()

    @property
    def calls_per_s_limit(self) -> float | None:
        """API calls per second per action for the whole queue (None: unlimited).

        300 on a FIFO queue, 70,000 on a high-throughput FIFO queue, unlimited on a standard
        queue, unless ``max_calls_per_s`` says otherwise.
        """
        if self.max_calls_per_s is not None:
            return self.max_calls_per_s
        if not self.fifo:
            return None
        return HIGH_THROUGHPUT_CALLS_PER_S if self.high_throughput else FIFO_CALLS_PER_S

    @property
    def group_calls_per_s_limit(self) -> float | None:
        """SendMessage calls per second per message group (high-throughput mode only)."""
        return self.partition_calls_per_s if self.fifo and self.high_throughput else None

    @model_validator(mode="after")
    def _check(self) -> SqsQueueSpec:
        problems: list[RelProblem] = []
        if self.content_based_dedup and not self.fifo:
            problems.append((("content_based_dedup",), True,
                             "only allowed on a FIFO queue (fifo: true); AWS rejects it on a "
                             "standard queue"))  # fmt: skip
        if self.high_throughput and not self.fifo:
            problems.append((("high_throughput",), True,
                             "only allowed on a FIFO queue (fifo: true): high throughput is a "
                             "FIFO queue mode"))  # fmt: skip
        for name in ("duplicate_rate", "reorder_rate"):
            if self.fifo and getattr(self, name) > 0:
                problems.append(((name,), getattr(self, name),
                                 "must be 0 on a FIFO queue: FIFO queues deliver exactly once, "
                                 "in order"))  # fmt: skip
        if problems:
            raise invalid_all_error(problems)
        return self
