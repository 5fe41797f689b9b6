"""What every component gets: the SimPy environment, streams, ledger, faults and cost meter.

Also the :class:`Component` base class: the small surface every service offers
(``__init__(ctx, name, spec)`` stores and takes its streams, ``start()`` registers standing
processes once all edges exist, ``finalize()`` settles what the end of the run decides, such as
retention expiry of messages still stored).
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.scenario import Scenario
from sim.engine.cost import CostMeter
from sim.engine.faults import Faults
from sim.engine.ledger import Ledger
from sim.engine.schedule import Environment
from sim.engine.streams import RandomStreams

__all__ = ["Context"]


@dataclass(slots=True)
class Context:
    """Shared services of one run (one replication).

    ``fast`` lets components take their fast paths: code for the common case (a producer
    sending to queues directly, a queue storing and handing out a copy, a one-message batch
    completing) chosen at build time when the scenario allows it. Each fast path gives exactly
    what the general path gives (``tests/test_fast_paths.py`` checks it on random
    scenarios); ``fast=False`` (``build(..., fast_paths=False)``) runs the general path only.
    """

    env: Environment
    streams: RandomStreams
    ledger: Ledger
    faults: Faults
    cost: CostMeter
    scenario: Scenario
    fast: bool = True
