"""The compact backlog of a standard queue: fresh copies packed into columns.

A long backlog (a consumer down for hours) is mostly copies that nobody but the queue holds:
a producer sent the message to this queue alone and kept nothing of it. Such a copy's
:class:`~sim.services.sqs.queue.QueueCopy`, its :class:`~sim.engine.message.Pair` and its
:class:`~sim.engine.message.Message` are all in their initial state apart from a few numbers,
so the queue keeps only those numbers, in :class:`PackedChunk` columns, and builds the three
objects again when the copy leaves the line (received, expired). Nothing outside the queue can
tell: no other reference to the old objects exists, and the new ones carry the same values.

When a copy may be packed (all must hold, else it is stored as an object, as always):

* the queue: a standard queue without ``delay_s``, reordering or a trace (checked by the
  queue), that every sender reaches through a producer sending to it alone and never resending
  (:func:`packable_queue`: decided once from the scenario at wiring time);
* the copy: :func:`fresh` (one live copy of an in-flight pair of a root message with no
  attributes, no derived messages and no deliveries).

A chunk holds the copies stored one after another that share the per-chunk values (producer,
sink counters, ``counted``, ``n_sinks``, whether the deduplication id is the message id); it is
one element of the queue's line, its entries in enqueue order.
"""

from __future__ import annotations

from array import array
from collections import deque
from typing import Final

from sim.config.producer import ProducerSpec
from sim.engine.fates import IN_FLIGHT, LOST
from sim.engine.message import Message, Pair
from sim.engine.wiring import Wiring
from sim.services.sqs.queue import GONE, QueueCopy

__all__ = ["CHUNK_SIZE", "PACKED", "PACK_AFTER", "PackedChunk", "Packer", "fresh", "packable_queue"]

#: The state of a :class:`PackedChunk` in a queue's line (next to the copies' states).
PACKED: Final = 4
#: Entries per chunk.
CHUNK_SIZE: Final = 2048
#: Visible copies after which a packable queue packs new ones (``StandardQueue.pack_after``).
PACK_AFTER: Final = 4096


#: The other fields naming a queue that send nothing into it, or only as stored objects.
_KEEPS_NOTHING: Final = {
    ("lambda_function", ("trigger", "source")),
    ("sqs_queue", ("dead_letter", "target")),
}


def fresh(pair: Pair) -> bool:
    """True when ``pair``'s new copy can be rebuilt from the numbers a chunk keeps."""
    msg = pair.msg
    return (
        pair.live == 1
        and pair.parked == 0
        and pair.state == IN_FLIGHT
        and pair.last_drop == LOST
        and msg.root is None
        and msg.children is None
        and msg.attrs is None
        and msg.hops == 0
        and msg.n_delivered == 0
        and (msg.dedup_id is None or msg.dedup_id == msg.id)
    )


def packable_queue(wiring: Wiring, name: str) -> bool:
    """True when nothing but the queue ``name`` keeps a message once it is stored there.

    Every place the scenario names the queue must be one of: a producer's ``send_to`` that
    names it alone and never resends (a producer with several targets shares one message
    among their pairs; a resend copies the pair later), the trigger of its consumer, or the
    redrive policy of a queue it is the dead-letter queue of (moved copies are stored as
    objects). Anything else (SNS subscriptions, rule targets, destinations, handler outputs,
    ...) may hold or share what it sends: the queue does not pack.
    """
    for component, path in wiring.mentions(name):
        spec = wiring.scenario.components[component]
        if isinstance(spec, ProducerSpec) and path[0] == "send_to":
            if len(spec.send_to) != 1 or spec.resend.rate > 0:
                return False
        elif (spec.type, path) not in _KEEPS_NOTHING:
            return False
    return True


class PackedChunk(QueueCopy):
    """Packed copies in enqueue order: one element of a standard queue's line.

    Its ``state`` is :data:`PACKED` while it holds entries, ``GONE`` once emptied; ``pair``
    is its first entry's pair as stored, kept as the template of the per-chunk values.

    Attributes:
        start: Index of the first entry still in the line (those before it have left).
    """

    __slots__ = ("created", "enqueued", "groups", "ids", "poison", "seqs", "sizes", "start")

    def __init__(self, pair: Pair, enqueue_s: float) -> None:
        super().__init__(pair, enqueue_s)
        self.state = PACKED
        self.start = 0
        self.ids: array[int] = array("q")
        self.created: array[float] = array("d")
        self.groups: array[int] = array("q")
        self.seqs: array[int] = array("q")
        self.poison: array[float] = array("d")
        self.sizes: array[int] = array("q")
        self.enqueued: array[float] = array("d")

    def accepts(self, pair: Pair, enqueue_s: float) -> bool:
        """True when ``pair`` (a :func:`fresh` one) can join the end of this chunk."""
        if self.state != PACKED or len(self.ids) >= CHUNK_SIZE:
            return False
        tp = self.pair
        tm = tp.msg
        msg = pair.msg
        return (
            pair.stats is tp.stats
            and msg.producer == tm.producer
            and msg.counted == tm.counted
            and msg.n_sinks == tm.n_sinks
            and (msg.dedup_id is None) == (tm.dedup_id is None)
            and enqueue_s >= self.enqueued[-1]
        )

    def add(self, pair: Pair, enqueue_s: float) -> None:
        """Append ``pair``'s copy, stored at ``enqueue_s``."""
        msg = pair.msg
        self.ids.append(msg.id)
        self.created.append(msg.created_s)
        self.groups.append(msg.group)
        self.seqs.append(msg.seq)
        self.poison.append(msg.poison_u)
        self.sizes.append(msg.size_bytes)
        self.enqueued.append(enqueue_s)

    @property
    def remaining(self) -> int:
        """Entries still in the line."""
        return len(self.ids) - self.start

    def first_enqueue_s(self) -> float:
        """Enqueue time of the first entry still in the line (the oldest of the chunk)."""
        return self.enqueued[self.start]

    def entry(self, i: int) -> QueueCopy:
        """Entry ``i`` rebuilt as the copy it was stored as (new objects, same values)."""
        tp = self.pair
        tm = tp.msg
        msg = Message(
            self.ids[i], self.created[i], tm.producer, self.groups[i], self.seqs[i],
            self.poison[i], None, self.sizes[i], tm.counted,
        )  # fmt: skip
        if tm.dedup_id is not None:
            msg.dedup_id = msg.id
        msg.n_sinks = tm.n_sinks
        return QueueCopy(Pair(msg, tp.stats), self.enqueued[i])

    def pop_first(self) -> QueueCopy:
        """The first entry, rebuilt (:meth:`entry`); it leaves the chunk."""
        i = self.start
        copy = self.entry(i)
        self.start = i + 1
        if self.start == len(self.ids):
            self.state = GONE  # emptied: skipped as a removed copy would be
        return copy


class Packer:
    """A packable standard queue's packing: where the chunks go, and how many were packed.

    Attributes:
        packed: Copies stored packed so far.
        chunks: Chunks started so far.
    """

    __slots__ = ("chunks", "packed")

    def __init__(self) -> None:
        self.packed = 0
        self.chunks = 0

    def store(self, line: deque[QueueCopy], pair: Pair, enqueue_s: float) -> None:
        """Append ``pair``'s new copy to ``line``: packed if it is :func:`fresh`, else as is."""
        if not fresh(pair):
            line.append(QueueCopy(pair, enqueue_s))
            return
        last = line[-1] if line else None
        if isinstance(last, PackedChunk) and last.accepts(pair, enqueue_s):
            chunk = last
        else:
            chunk = PackedChunk(pair, enqueue_s)
            line.append(chunk)
            self.chunks += 1
        chunk.add(pair, enqueue_s)
        self.packed += 1
