"""The registry: which class builds each component ``type`` of a scenario file.

Adding a service is adding its spec module under ``sim/config/``, its module here under
``sim/services/`` and one line below; :mod:`sim.build` constructs every component through this
table as ``SERVICES[spec.type](ctx, name, spec)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.engine.component import Component
from sim.engine.context import Context
from sim.services.apigateway import ApiGateway
from sim.services.cloudtrail import Trail
from sim.services.database import Database
from sim.services.dynamodb import Table
from sim.services.endpoint import Endpoint
from sim.services.eventbridge import EventBus
from sim.services.http_api import HttpApi
from sim.services.lambda_ import LambdaFunction
from sim.services.producer import Producer
from sim.services.s3 import Bucket
from sim.services.sns import Topic
from sim.services.sqs import make_queue

__all__ = ["SERVICES"]

#: Component ``type`` -> the class (or factory) built from ``(ctx, name, spec)``.
SERVICES: dict[str, Callable[[Context, str, Any], Component]] = {
    "api_gateway": ApiGateway,
    "cloudtrail": Trail,
    "database": Database,
    "dynamodb_table": Table,
    "endpoint": Endpoint,
    "event_bus": EventBus,
    "http_api": HttpApi,
    "lambda_function": LambdaFunction,
    "producer": Producer,
    "s3_bucket": Bucket,
    "sns_topic": Topic,
    "sqs_queue": make_queue,
}
