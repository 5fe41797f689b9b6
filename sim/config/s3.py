"""The S3 bucket spec.

Object keys, sizes and metadata, direct notifications with filters, EventBridge events.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from sim.config.common import DeliveryRetrySpec, ErrorsSpec
from sim.config.fields import DistSpec, Prob, Spec, const_dist, dist_from_dict
from sim.config.problems import ASSUMPTION, AWS, Source

__all__ = ["NOTIFICATION_DELAY_S", "S3_EVENT_TYPES", "NotificationSpec", "S3BucketSpec"]


#: The default delay of a notification (and of an event to EventBridge): lognormal, median 1 s,
#: sigma 1.5 (an assumption; see :class:`S3BucketSpec`).
NOTIFICATION_DELAY_S = {"lognormal": {"median": 1.0, "sigma": 1.5}}

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


class NotificationSpec(Spec):
    """A direct event notification: events of ``events`` whose key matches prefix and suffix."""

    fields_source: ClassVar[Source] = AWS

    target: str
    events: Annotated[
        tuple[Literal[S3_EVENT_TYPES], ...], Field(min_length=1)  # type: ignore[valid-type]
    ] = ("s3:ObjectCreated:*",)
    prefix: Annotated[str, Field(max_length=1024)] = ""
    suffix: Annotated[str, Field(max_length=1024)] = ""


class S3BucketSpec(Spec):
    """An S3 bucket: object puts and the events they produce.

    A put's object key and size come from the message's ``key`` and ``size_bytes`` attributes
    (else ``obj-<id>`` and the producer's ``size_bytes``); its other attributes become object
    metadata. ``errors.rate``/outages fail a PUT (a 5xx); ``latency_s`` is the PUT's latency.
    Notifications are at-least-once after ``notification_delay_s`` with an extra copy at
    probability ``duplicate_rate`` (default 0), unordered. AWS: notifications are "typically
    delivered in seconds but can sometimes take a minute or longer" (Amazon S3 Event
    Notifications), without a distribution. The default is an assumption with that shape: a
    lognormal of median 1 s and sigma 1.5, so 94% arrive within 10 s, the mean is 3.1 s, the
    99th percentile 33 s, and 0.32% take longer than a minute. S3 retries a
    notification or an EventBridge delivery that fails with ``delivery_retry`` (AWS documents
    at-least-once and, for EventBridge, "durable, retried up to 24 h", not the schedule). With
    ``eventbridge`` every event also goes to that bus. A bucket with neither notifications nor
    ``eventbridge`` is itself the sink of its puts.
    """

    fields_source: ClassVar[Source] = ASSUMPTION

    type: Literal["s3_bucket"]
    errors: ErrorsSpec = Field(default_factory=ErrorsSpec)
    latency_s: DistSpec = const_dist(0.0)
    notifications: Annotated[tuple[NotificationSpec, ...], AWS] = ()
    eventbridge: Annotated[str | None, AWS] = None
    notification_delay_s: DistSpec = Field(
        default_factory=lambda: dist_from_dict(NOTIFICATION_DELAY_S)
    )
    duplicate_rate: Prob = 0.0
    delivery_retry: DeliveryRetrySpec = Field(default_factory=DeliveryRetrySpec)
