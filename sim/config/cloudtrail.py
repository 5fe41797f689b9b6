"""The CloudTrail spec.

Recorded API calls, delivered to an EventBridge bus after a delay, best effort.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from sim.config.fields import DistSpec, Prob, Spec, dist_from_dict
from sim.config.problems import ASSUMPTION, CHOICE, Source

__all__ = ["CloudTrailSpec"]


class CloudTrailSpec(Spec):
    """CloudTrail: recorded API calls become "AWS API Call via CloudTrail" events on ``bus``.

    Best effort: each event is lost with probability ``loss_rate`` (AWS documents rare loss but
    no rate: default 0), and one that the bus rejects is not retried. ``delivery_delay_s`` is the
    time from the API call to the bus (not documented by AWS: an unconfirmed default,
    lognormal with median 30 s).
    """

    fields_source: ClassVar[Source] = ASSUMPTION

    type: Literal["cloudtrail"]
    bus: Annotated[str, CHOICE]
    delivery_delay_s: DistSpec = Field(
        default_factory=lambda: dist_from_dict({"lognormal": {"median": 30.0, "sigma": 1.0}})
    )
    loss_rate: Prob = 0.0
