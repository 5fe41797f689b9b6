"""The five fates a (message, intended sink) pair can end a run in.

``FATES[code]`` is the fate's metric name: ``in_flight``, ``delivered``, ``dead_lettered``,
``expired``, ``lost`` (see ``docs/metrics.md``).
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEAD_LETTERED", "DELIVERED", "EXPIRED", "FATES", "IN_FLIGHT", "LOST"]

#: Fate codes; ``FATES[code]`` is the metric name.
IN_FLIGHT: Final = 0
DELIVERED: Final = 1
DEAD_LETTERED: Final = 2
EXPIRED: Final = 3
LOST: Final = 4
FATES = ("in_flight", "delivered", "dead_lettered", "expired", "lost")
