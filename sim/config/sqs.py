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

__all__ = ["DeadLetterSpec", "RedriveSpec", "SqsQueueSpec"]


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


class SqsQueueSpec(Spec):
    """An SQS queue (standard, or FIFO with ``fifo: true``).

    ``max_calls_per_s`` limits API calls per second per action; ``None`` means the AWS default
    for the queue type (see :attr:`calls_per_s_limit`).
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
    max_calls_per_s: Annotated[float, Field(gt=0)] | None = None
    redrives: tuple[RedriveSpec, ...] = ()

    @property
    def calls_per_s_limit(self) -> float | None:
        """API calls per second per action: 300 for FIFO, unlimited (None) for standard."""
        if self.max_calls_per_s is not None:
            return self.max_calls_per_s
        return 300.0 if self.fifo else None

    @model_validator(mode="after")
    def _check(self) -> SqsQueueSpec:
        problems: list[RelProblem] = []
        if self.content_based_dedup and not self.fifo:
            problems.append((("content_based_dedup",), True,
                             "only allowed on a FIFO queue (fifo: true); AWS rejects it on a "
                             "standard queue"))  # fmt: skip
        for name in ("duplicate_rate", "reorder_rate"):
            if self.fifo and getattr(self, name) > 0:
                problems.append(((name,), getattr(self, name),
                                 "must be 0 on a FIFO queue: FIFO queues deliver exactly once, "
                                 "in order"))  # fmt: skip
        if problems:
            raise invalid_all_error(problems)
        return self
