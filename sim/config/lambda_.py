"""The Lambda function spec.

Duration, errors, timeout, concurrency, cold starts, the SQS trigger (event source mapping)
and asynchronous invocation.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
)

from sim.config.fields import (
    DistSpec,
    NonNegFloat,
    PosFloat,
    PosInt,
    Prob,
    Spec,
    const_dist,
)
from sim.config.handler import CallSpec, IdempotencySpec, OutputSpec
from sim.config.problems import ASSUMPTION, AWS, AWS_RANGE, CHOICE, Source, Why

__all__ = ["AsyncSpec", "ColdStartSpec", "FunctionErrorsSpec", "LambdaFunctionSpec", "TriggerSpec"]


class FunctionErrorsSpec(Spec):
    """``rate``: a message fails, per message and attempt; ``poison_rate``: fails every attempt.

    ``after_side_effects`` (default true): the failure is decided after the handler's calls and
    sends (an exception after its side effects, so a retried message calls and emits again);
    false decides it before them (a failing attempt makes no calls and emits nothing).
    """

    fields_source: ClassVar[Source] = CHOICE

    rate: Prob = 0.0
    poison_rate: Prob = 0.0
    after_side_effects: bool = True


class TriggerSpec(Spec):
    """An SQS event source mapping (the Lambda poller of queue ``source``).

    ``initial_concurrency``, ``scale_up_per_min`` and ``max_batches`` describe the poller
    scaling AWS documents: 5 concurrent batches at first, up to 300 more per minute, at most
    1000 (or ``max_concurrency`` when set); at low traffic back to 5. AWS documents that the
    mapping backs off on throttles and function errors (not on function errors with
    ``report_batch_item_failures``) by reducing its concurrency, to as few as 2, without the
    numbers of that back-off: ``backoff_batches`` (batches lost per throttled or failed
    invocation), ``backoff_cap_s`` (the longest wait between retries of throttled batches) and
    ``scale_down_after_s`` (how long the level must go unused before it falls to the use plus
    one) are assumptions; ``min_concurrency`` is AWS's lowest level.

    ``long_poll_wait_s``: Lambda long-polls the queue; each of the mapping's pollers that holds
    no batch waits on the queue in long polls of this length, each a billed ReceiveMessage (AWS
    bills empty receives). AWS does not document the wait its pollers use: 20 s, the longest
    long poll SQS allows and the wait AWS recommends, is an assumption.
    """

    fields_source: ClassVar[Source] = AWS

    source: Annotated[str, CHOICE]
    batch_size: Annotated[int, Field(ge=1, le=10_000), AWS_RANGE] = 10
    batching_window_s: Annotated[float, Field(ge=0, le=300), AWS_RANGE] = 0.0
    max_concurrency: Annotated[
        int, Field(ge=1, le=1000),
        Why("AWS range is 2–1000; 1 is accepted, with a warning, as an idealised setting"),
    ] | None = None  # fmt: skip
    report_batch_item_failures: bool = False
    poll_delay_s: Annotated[DistSpec, ASSUMPTION] = const_dist(0.0)
    initial_concurrency: PosInt = 5
    scale_up_per_min: PosFloat = 300.0
    max_batches: PosInt = 1000
    min_concurrency: PosInt = 2
    backoff_batches: PosInt = 1
    backoff_cap_s: PosFloat = 60.0
    scale_down_after_s: PosFloat = 60.0
    long_poll_wait_s: Annotated[float, Field(ge=1, le=20), ASSUMPTION] = 20.0


class ColdStartSpec(Spec):
    """Cold start of a new execution environment, kept warm ``keep_alive_s`` after use.

    AWS documents cold starts from under 100 ms to over 1 s and no keep-alive time: both
    defaults are unconfirmed modelling parameters. ``billed``: the cold start (the INIT phase)
    is billed at the duration rate with the invocation it starts, as AWS bills it since
    1 August 2025 for on-demand functions (ZIP packages with managed runtimes included; "AWS
    Lambda standardizes billing for INIT Phase", AWS Compute Blog); ``billed: false`` gives the
    earlier billing of ZIP functions with managed runtimes, whose INIT phase was free.
    """

    fields_source: ClassVar[Source] = ASSUMPTION

    duration_s: DistSpec = const_dist(0.25)
    keep_alive_s: NonNegFloat = 600.0
    billed: Annotated[bool, AWS] = True


class AsyncSpec(Spec):
    """Asynchronous invocation: retries, maximum event age and the on-failure destination.

    ``duplicate_rate`` is the probability that an event is invoked once more after a success
    (AWS documents duplicates but no rate: 0 by default).
    """

    fields_source: ClassVar[Source] = AWS

    max_retries: Annotated[int, Field(ge=0, le=2), AWS_RANGE] = 2
    max_event_age_s: Annotated[float, Field(ge=60, le=21_600), AWS_RANGE] = 21_600.0
    on_failure: str | None = None
    on_success: str | None = None
    duplicate_rate: Annotated[Prob, ASSUMPTION] = 0.0


class LambdaFunctionSpec(Spec):
    """A Lambda function; ``trigger`` makes it the consumer of an SQS queue.

    ``duration_s`` is one invocation whatever its batch size; ``duration_per_message_s`` is added
    per message of the batch. ``reserved_concurrency`` values must together leave at least 100
    of the scenario's ``account_concurrency`` unreserved (AWS, "Configuring reserved concurrency
    for a function"; checked in :mod:`sim.config.checks`). ``outputs`` (derived messages),
    ``calls`` (dependencies), ``idempotent`` and ``max_message_age_s`` describe the handler
    (:mod:`sim.config.handler`).
    ``max_message_age_s``: an input older than this when the handler starts (since it was sent
    to the trigger queue, or since Lambda accepted the asynchronous invoke) is dropped at once,
    unprocessed, and counted ``expired`` (the Builders' Library's "Avoiding insurmountable
    queue backlogs"); none by default.
    """

    fields_source: ClassVar[Source] = CHOICE

    type: Literal["lambda_function"]
    trigger: TriggerSpec | None = None
    duration_s: Annotated[DistSpec, ASSUMPTION] = const_dist(0.1)
    duration_per_message_s: Annotated[DistSpec, ASSUMPTION] = const_dist(0.0)
    timeout_s: Annotated[float, Field(ge=1, le=900), AWS_RANGE] = 3.0
    reserved_concurrency: Annotated[int, Field(ge=0, le=1000), AWS_RANGE] | None = None
    memory_mb: Annotated[int, Field(ge=128, le=10_240), AWS_RANGE] = 128
    cold_start: Annotated[ColdStartSpec, ASSUMPTION] = Field(default_factory=ColdStartSpec)
    errors: FunctionErrorsSpec = Field(default_factory=FunctionErrorsSpec)
    async_: Annotated[AsyncSpec, AWS] = Field(default_factory=AsyncSpec, alias="async")
    outputs: tuple[OutputSpec, ...] = ()
    calls: tuple[CallSpec, ...] = ()
    idempotent: IdempotencySpec | None = None
    max_message_age_s: PosFloat | None = None
