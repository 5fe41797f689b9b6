"""Scenario schema (frozen pydantic models) and YAML loading with clear errors.

A scenario file is YAML (``docs/scenario.md``). :func:`load_scenario` reads it, applies
``--set PATH=VALUE`` overrides, validates it into a frozen :class:`Scenario` and emits an
:class:`EvsimWarning` for each setting that is accepted but unrealistic. Nothing runs
half-configured: any invalid file raises one :class:`ScenarioError` whose message has one line
per problem,
``{file}: {dotted.field.path}: {offending value!r} — {what is allowed}``.

Semantics:
    * Every field defaults to AWS's documented default; numeric ranges are AWS's ranges, and a
      value outside them is an error that says so. Units are in the field names: ``_s`` seconds of
      simulated time, ``_per_s`` per second, ``_bytes``, ``_mb``; probabilities are in [0, 1].
    * A duration (:data:`DistSpec`) is a number (constant seconds) or a one-key mapping naming
      the family: ``exponential {mean}``, ``lognormal {median, sigma}``, ``uniform {low, high}``,
      ``gamma {mean, cv}``, ``empirical {file}``. Files (empirical samples, arrival traces, rate
      series) are resolved against the scenario file's directory and read once, at validation;
      the numbers are stored on the spec, so a validated scenario never reads a file again.
    * Components form a discriminated union on ``type``; references between them (``send_to``,
      ``dead_letter.target``, ``trigger.source``, ``async.on_failure``, outages) are checked, as
      are the FIFO/standard combinations AWS forbids.
    * Variants are made with :meth:`Scenario.with_updates` (dotted paths, a new validated object);
      a scenario is never mutated.

Checked beyond the field ranges:
    * References (and what each may name), event patterns, overlapping S3 notification filters,
      one consumer function per queue, DLQ type = source type, FIFO trigger limits
      (batch_size ≤ 10, no batching window), batch_size > 10 needs a batching window ≥ 1,
      timeout_s ≤ the source queue's visibility timeout, FIFO sends need a deduplication id.
    * Duplicate keys in the YAML file (a repeated component would otherwise vanish silently).

Not checked:
    * AWS recommendations (e.g. a visibility timeout of six times the function timeout); only
      hard AWS rules are errors. Numbers are coerced as pydantic's lax mode does (``"3"`` -> 3).
    * Event patterns and filter policies beyond AWS's documented syntax and limits
      (:mod:`sim.patterns.validate`).

Layout:
    The package re-exports every public name: import from :mod:`sim.config`. Inside it,
    :mod:`sim.config.problems` turns pydantic errors into lines, :mod:`sim.config.fields` holds
    the base model, field types and distributions, :mod:`sim.config.common` the parts several
    services share, one module per service holds that service's spec (``sqs``, ``lambda_``,
    ``producer``, ``sns``, ``endpoint``, ``eventbridge``, ``s3``, ``apigateway``,
    ``cloudtrail``, and the dependencies ``database``, ``dynamodb``, ``http_api``),
    :mod:`sim.config.components` the union of all of them, :mod:`sim.config.scenario` the
    :class:`Scenario` and its cross-component rules, and :mod:`sim.config.load` reading files
    and ``--set``.
"""

from __future__ import annotations

from sim.config.apigateway import ApiGatewaySpec
from sim.config.cloudtrail import CloudTrailSpec
from sim.config.common import (
    DeliveryRetrySpec,
    ErrorsSpec,
    OutageSpec,
    RetryQuotaSpec,
    RetrySpec,
)
from sim.config.components import ComponentSpec
from sim.config.database import ContentionSpec, DatabaseSpec
from sim.config.dynamodb import DynamoDbTableSpec
from sim.config.endpoint import EndpointSpec
from sim.config.eventbridge import (
    ArchiveSpec,
    EventBusSpec,
    ReplaySpec,
    RuleSpec,
    TargetDeadLetterSpec,
    TargetSpec,
)
from sim.config.fields import (
    ConstantDist,
    Distribution,
    DistSpec,
    Duration,
    EmpiricalDist,
    ExponentialDist,
    GammaDist,
    LognormalDist,
    UniformDist,
)
from sim.config.fields import NonNegFloat as NonNegFloat
from sim.config.fields import PosFloat as PosFloat
from sim.config.fields import PosInt as PosInt
from sim.config.fields import Prob as Prob
from sim.config.handler import CallSpec, CountChoice, IdempotencySpec, OutputSpec
from sim.config.http_api import HttpApiSpec, RateLimitSpec
from sim.config.lambda_ import (
    AsyncSpec,
    ColdStartSpec,
    FunctionErrorsSpec,
    LambdaFunctionSpec,
    TriggerSpec,
)
from sim.config.load import (
    apply_overrides,
    load_scenario,
    parse_value,
    scenario_from_dict,
    scenario_warnings,
)
from sim.config.problems import EvsimWarning, ScenarioError
from sim.config.problems import Problem as Problem
from sim.config.producer import (
    ArrivalsSpec,
    AttributeSpec,
    BurstSpec,
    ChoiceAttr,
    ChoiceSpec,
    ProducerSpec,
    ProfileStep,
    RateSeriesSpec,
    ResendSpec,
    TraceSpec,
)
from sim.config.producer import Scalar as Scalar
from sim.config.s3 import NotificationSpec, S3BucketSpec
from sim.config.scenario import Scenario
from sim.config.sns import (
    DeliveryPolicySpec,
    SnsTopicSpec,
    SubscriptionDeadLetterSpec,
    SubscriptionSpec,
)
from sim.config.sqs import DeadLetterSpec, RedriveSpec, SqsQueueSpec

__all__ = [
    "ApiGatewaySpec",
    "ArchiveSpec",
    "ArrivalsSpec",
    "AsyncSpec",
    "AttributeSpec",
    "BurstSpec",
    "CallSpec",
    "ChoiceAttr",
    "ChoiceSpec",
    "CloudTrailSpec",
    "ColdStartSpec",
    "ComponentSpec",
    "ConstantDist",
    "ContentionSpec",
    "CountChoice",
    "DatabaseSpec",
    "DeadLetterSpec",
    "DeliveryPolicySpec",
    "DeliveryRetrySpec",
    "DistSpec",
    "Distribution",
    "Duration",
    "DynamoDbTableSpec",
    "EmpiricalDist",
    "EndpointSpec",
    "ErrorsSpec",
    "EventBusSpec",
    "EvsimWarning",
    "ExponentialDist",
    "FunctionErrorsSpec",
    "GammaDist",
    "HttpApiSpec",
    "IdempotencySpec",
    "LambdaFunctionSpec",
    "LognormalDist",
    "NotificationSpec",
    "OutageSpec",
    "OutputSpec",
    "ProducerSpec",
    "ProfileStep",
    "RateLimitSpec",
    "RateSeriesSpec",
    "RedriveSpec",
    "ReplaySpec",
    "ResendSpec",
    "RetryQuotaSpec",
    "RetrySpec",
    "RuleSpec",
    "S3BucketSpec",
    "Scenario",
    "ScenarioError",
    "SnsTopicSpec",
    "SqsQueueSpec",
    "SubscriptionDeadLetterSpec",
    "SubscriptionSpec",
    "TargetDeadLetterSpec",
    "TargetSpec",
    "TraceSpec",
    "TriggerSpec",
    "UniformDist",
    "apply_overrides",
    "load_scenario",
    "parse_value",
    "scenario_from_dict",
    "scenario_warnings",
]  # fmt: skip


