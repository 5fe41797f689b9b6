"""The five fates a (message, intended sink) pair can end a run in.

``FATES[code]`` is the fate's metric name: ``in_flight``, ``delivered``, ``dead_lettered``,
``expired``, ``lost`` (see ``docs/metrics.md``).
"""

from __future__ import annotations

__all__ = ["DEAD_LETTERED", "DELIVERED", "EXPIRED", "FATES", "IN_FLIGHT", "LOST"]

#: Fate codes; ``FATES[code]`` is the metric name.
IN_FLIGHT, DELIVERED, DEAD_LETTERED, EXPIRED, LOST = range(5)
FATES = ("in_flight", "delivered", "dead_lettered", "expired", "lost")
