"""The component union: every component spec, discriminated on ``type``.

The dependencies (``database``, ``dynamodb_table``, ``http_api``) are components too: nothing
sends messages to them, a function's handler calls them.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from sim.config.apigateway import ApiGatewaySpec
from sim.config.cloudtrail import CloudTrailSpec
from sim.config.database import DatabaseSpec
from sim.config.dynamodb import DynamoDbTableSpec
from sim.config.endpoint import EndpointSpec
from sim.config.eventbridge import EventBusSpec
from sim.config.http_api import HttpApiSpec
from sim.config.lambda_ import LambdaFunctionSpec
from sim.config.producer import ProducerSpec
from sim.config.s3 import S3BucketSpec
from sim.config.sns import SnsTopicSpec
from sim.config.sqs import SqsQueueSpec

__all__ = ["COMPONENT_TYPES", "ComponentSpec"]


#: Any component, chosen by its ``type``.
ComponentSpec = Annotated[
    Union[  # noqa: UP007
        ProducerSpec,
        SqsQueueSpec,
        LambdaFunctionSpec,
        SnsTopicSpec,
        EndpointSpec,
        EventBusSpec,
        S3BucketSpec,
        ApiGatewaySpec,
        CloudTrailSpec,
        DatabaseSpec,
        DynamoDbTableSpec,
        HttpApiSpec,
    ],
    Field(discriminator="type"),
]
COMPONENT_TYPES = (
    "api_gateway",
    "cloudtrail",
    "database",
    "dynamodb_table",
    "endpoint",
    "event_bus",
    "http_api",
    "lambda_function",
    "producer",
    "s3_bucket",
    "sns_topic",
    "sqs_queue",
)
