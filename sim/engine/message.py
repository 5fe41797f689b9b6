"""Messages and the (message, intended sink) pairs the ledger accounts for.

A :class:`Message` is one logical message created by a producer. Its workload randomness
(arrival time, group, attributes, the uniform that decides whether it is poison for a
function) is drawn when it is created, so that system variants see the same workload.

A :class:`Pair` is one (message, intended sink) pair: the unit that ends a run in exactly one
fate. ``live`` counts the copies of the pair that are on their way (held by a sender, stored in
a queue, being processed), ``parked`` the copies sitting in a dead-letter queue. A queue's
stored copy refers to its pair; when the last copy goes, the pair settles into its fate and the
message is freed (only counters remain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.engine.stats import SinkStats
from sim.engine.fates import FATES, IN_FLIGHT, LOST

__all__ = ["Lineage", "Message", "Pair"]


class Lineage:
    """The counts of a root message's lineage (its pairs and those of its derived messages).

    A root message keeps them itself until a message is derived from it; from then on they live
    here, shared by the root and its derived messages. Derived messages refer to this object,
    not to their root, so that a root (whose ``children`` refer to its derived messages) and
    its lineage form no reference cycle: each is freed as soon as nothing holds it, without
    waiting for the cycle collector.

    Attributes:
        counted: Whether the root was created after ``warmup_s``.
        n_sinks: Number of intended sinks of every pair of the lineage.
        n_delivered: Number of those pairs delivered so far.
        created_s: The root's creation time (the latency clock of the lineage).
    """

    __slots__ = ("counted", "created_s", "n_delivered", "n_sinks")

    def __init__(self, counted: bool, created_s: float, n_sinks: int, n_delivered: int) -> None:
        self.counted = counted
        self.created_s = created_s
        self.n_sinks = n_sinks
        self.n_delivered = n_delivered


class Message:
    """One logical message created by a producer.

    Attributes:
        id: Run-unique integer id.
        created_s: Creation time (simulated seconds).
        producer: Name of the producer that created it.
        group: Run-unique integer key of its (producer, message group).
        seq: Sequence number within its group (0, 1, 2, ...).
        poison_u: Uniform draw; the message is poison for a function whose
            ``poison_rate`` exceeds it.
        attrs: Message attributes (for filters and patterns), or None.
        dedup_id: FIFO deduplication id (explicit), or None for content-based dedup.
        size_bytes: Payload size (for billing in 64 KB chunks).
        counted: False for messages created before ``warmup_s`` (simulated, not counted).
        n_sinks: Number of intended sinks of a root's lineage (while ``lineage`` is None).
        n_delivered: Number of its lineage's pairs delivered so far (while ``lineage`` is
            None).
        lineage: The shared counts of its root's lineage once a message was derived from the
            root (always set for a derived message), else None.
        hops: Number of handler emissions between its root and it (0 for a root).
        children: Derived messages emitted while processing it, by their identity within it
            (``(function, output index, k)``), so that a re-emission is the same message; None
            until it has any.
    """

    __slots__ = (
        "attrs",
        "children",
        "counted",
        "created_s",
        "dedup_id",
        "group",
        "hops",
        "id",
        "lineage",
        "n_delivered",
        "n_sinks",
        "poison_u",
        "producer",
        "seq",
        "size_bytes",
    )

    def __init__(
        self,
        id: int,
        created_s: float,
        producer: str,
        group: int,
        seq: int,
        poison_u: float,
        attrs: dict[str, Any] | None,
        size_bytes: int,
        counted: bool,
    ) -> None:
        self.id = id
        self.created_s = created_s
        self.producer = producer
        self.group = group
        self.seq = seq
        self.poison_u = poison_u
        self.attrs = attrs
        self.dedup_id: int | None = None
        self.size_bytes = size_bytes
        self.counted = counted
        self.n_sinks = 0
        self.n_delivered = 0
        self.lineage: Lineage | None = None
        self.hops = 0
        self.children: dict[Any, Any] | None = None

    def __repr__(self) -> str:
        return f"Message(id={self.id}, created_s={self.created_s:.6g}, seq={self.seq})"


class Pair:
    """One (message, intended sink) pair and its current fate."""

    __slots__ = ("last_drop", "live", "msg", "parked", "state", "stats")

    def __init__(self, msg: Message, stats: SinkStats) -> None:
        self.msg = msg
        self.stats = stats
        self.state = IN_FLIGHT
        self.live = 1
        self.parked = 0
        self.last_drop = LOST

    def __repr__(self) -> str:
        return (
            f"Pair(msg={self.msg.id}, sink={self.stats.name!r}, state={FATES[self.state]}, "
            f"live={self.live}, parked={self.parked})"
        )
