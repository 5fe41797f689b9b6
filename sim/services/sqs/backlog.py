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

A chunk holds up to :data:`CHUNK_SIZE` copies stored one after another (about 58 bytes each:
seven 8-byte numbers and a 2-byte kind, see :class:`Packer`); it is one element of the
queue's line, its entries in enqueue order.
"""

from __future__ import annotations

from array import array
from collections import deque
from typing import Final

from sim.config.producer import ProducerSpec
from sim.engine.fates import IN_FLIGHT, LOST
from sim.engine.message import Message, Pair
from sim.engine.stats import SinkStats
from sim.engine.wiring import Wiring
from sim.services.sqs.queue import GONE, QueueCopy

__all__ = ["CHUNK_SIZE", "PACKED", "PACK_AFTER", "PackedChunk", "Packer", "fresh", "packable_queue"]

#: The state of a :class:`PackedChunk` in a queue's line (next to the copies' states).
PACKED: Final = 4
#: Entries per chunk.
CHUNK_SIZE: Final = 2048
#: Kinds of entries a queue can tell apart (the ``H`` column); more are stored as objects.
_MAX_KINDS: Final = 65536
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
        and msg.lineage is None
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

    Its ``state`` is :data:`PACKED` while it holds entries, ``GONE`` once emptied. Each entry
    keeps its message's numbers and its *kind*: an index into ``templates`` (shared by the
    queue's chunks), the pair whose sink counters and per-producer message values the entry
    shares. ``pair`` is its first entry's template (no entry's pair).

    Attributes:
        start: Index of the first entry still in the line (those before it have left).
    """

    __slots__ = (
        "created", "enqueued", "groups", "ids", "kinds", "poison", "seqs", "sizes", "start",
        "templates",
    )  # fmt: skip

    def __init__(self, templates: list[Pair], kind: int, enqueue_s: float) -> None:
        super().__init__(templates[kind], enqueue_s)
        self.state = PACKED
        self.templates = templates
        self.start = 0
        self.ids: array[int] = array("q")
        self.created: array[float] = array("d")
        self.groups: array[int] = array("q")
        self.seqs: array[int] = array("q")
        self.poison: array[float] = array("d")
        self.sizes: array[int] = array("q")
        self.enqueued: array[float] = array("d")
        self.kinds: array[int] = array("H")

    def accepts(self, enqueue_s: float) -> bool:
        """True when a copy stored at ``enqueue_s`` can join the end of this chunk."""
        return (
            self.state == PACKED
            and len(self.ids) < CHUNK_SIZE
            and enqueue_s >= self.enqueued[-1]  # so that expired entries come first
        )

    def add(self, pair: Pair, kind: int, enqueue_s: float) -> None:
        """Append ``pair``'s copy (a :func:`fresh` one of kind ``kind``) stored at ``enqueue_s``."""
        msg = pair.msg
        self.ids.append(msg.id)
        self.created.append(msg.created_s)
        self.groups.append(msg.group)
        self.seqs.append(msg.seq)
        self.poison.append(msg.poison_u)
        self.sizes.append(msg.size_bytes)
        self.enqueued.append(enqueue_s)
        self.kinds.append(kind)

    @property
    def remaining(self) -> int:
        """Entries still in the line."""
        return len(self.ids) - self.start

    def first_enqueue_s(self) -> float:
        """Enqueue time of the first entry still in the line (the oldest of the chunk)."""
        return self.enqueued[self.start]

    def entry(self, i: int) -> QueueCopy:
        """Entry ``i`` rebuilt as the copy it was stored as (new objects, same values)."""
        tp = self.templates[self.kinds[i]]
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
    """A packable standard queue's packing: the kinds of its entries, and counts.

    A kind is what a packed copy shares with others beyond its own numbers: its pair's sink
    counters, its message's producer, ``counted`` and ``n_sinks``, and whether its
    deduplication id is its id. Kinds are per entry, so copies of several producers
    interleaved in the line fill the same chunks.

    Attributes:
        packed: Copies stored packed so far.
        chunks: Chunks started so far.
        templates: One pair per kind, made for the purpose (no copy's), by kind index.
    """

    __slots__ = ("_index", "_last", "chunks", "packed", "templates")

    def __init__(self) -> None:
        self.packed = 0
        self.chunks = 0
        self.templates: list[Pair] = []
        self._index: dict[tuple[str, SinkStats, bool, int, bool], int] = {}
        self._last = -1

    def _kind(self, pair: Pair) -> int:
        """The kind of ``pair``'s copy (registered on first sight), or -1 if there are too many."""
        msg = pair.msg
        k = self._last
        if k >= 0:
            tp = self.templates[k]
            tm = tp.msg
            if (
                pair.stats is tp.stats
                and msg.producer == tm.producer
                and msg.counted == tm.counted
                and msg.n_sinks == tm.n_sinks
                and (msg.dedup_id is None) == (tm.dedup_id is None)
            ):
                return k
        key = (msg.producer, pair.stats, msg.counted, msg.n_sinks, msg.dedup_id is not None)
        found = self._index.get(key)
        if found is None:
            if len(self.templates) >= _MAX_KINDS:
                return -1
            found = self._index[key] = len(self.templates)
            tm = Message(0, 0.0, msg.producer, 0, 0, 0.0, None, 0, msg.counted)
            tm.dedup_id = None if msg.dedup_id is None else 0
            tm.n_sinks = msg.n_sinks
            self.templates.append(Pair(tm, pair.stats))
        self._last = found
        return found

    def store(self, line: deque[QueueCopy], pair: Pair, enqueue_s: float) -> None:
        """Append ``pair``'s new copy to ``line``: packed if it is :func:`fresh`, else as is."""
        kind = self._kind(pair) if fresh(pair) else -1
        if kind < 0:
            line.append(QueueCopy(pair, enqueue_s))
            return
        last = line[-1] if line else None
        if isinstance(last, PackedChunk) and last.accepts(enqueue_s):
            chunk = last
        else:
            chunk = PackedChunk(self.templates, kind, enqueue_s)
            line.append(chunk)
            self.chunks += 1
        chunk.add(pair, kind, enqueue_s)
        self.packed += 1
