"""The SQS standard queue: at-least-once duplicates, best-effort order.

Semantics in :mod:`sim.services.sqs`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from sim.config.sqs import SqsQueueSpec
from sim.engine.context import Context
from sim.engine.cost import SQS_CHUNK_BYTES
from sim.engine.message import Pair
from sim.services.sqs.backlog import PACK_AFTER, PACKED, PackedChunk, Packer, packable_queue
from sim.services.sqs.queue import INFLIGHT, VISIBLE, Queue, QueueCopy

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring

__all__ = ["StandardQueue"]


class StandardQueue(Queue):
    """A standard queue: at-least-once, best-effort order."""

    def __init__(self, ctx: Context, name: str, spec: SqsQueueSpec) -> None:
        super().__init__(ctx, name, spec)
        #: the line of visible copies; a :class:`PackedChunk` stands for its entries in order
        self._visible: deque[QueueCopy] = deque()
        self._n_visible = 0
        #: a delete misses a replica (``duplicate_rate``); None: never
        self._duplicate = _chance(ctx, name, "duplicates", spec.duplicate_rate)
        #: a returned or new copy goes behind the last one (``reorder_rate``); None: never
        self._reorder = _chance(ctx, name, "reorder", spec.reorder_rate)
        #: storing needs more than an append (delay, reordering, or the fast paths are off)
        self._slow_store = self.delay_s > 0.0 or self._reorder is not None or not ctx.fast
        #: new copies are packed (:mod:`sim.services.sqs.backlog`) while more than this many
        #: are visible, if the queue is packable (decided in :meth:`connect`)
        self.pack_after = PACK_AFTER
        self._packer: Packer | None = None

    def connect(self, wiring: Wiring) -> None:
        """Wire the redrive policy; pack long backlogs if only lone producers send here."""
        super().connect(wiring)
        if not self._slow_store and self._trace is None and packable_queue(wiring, self.name):
            self._packer = Packer()

    @property
    def packed(self) -> int:
        """Copies stored packed so far (0 for a queue that never packs)."""
        return self._packer.packed if self._packer is not None else 0

    def send_now(self, pair: Pair) -> str | None:
        """SendMessage answered at once (see :meth:`Queue.send_now`)."""
        if self._gated_send or self._trace is not None or self._slow_store:
            return super().send_now(pair)
        size = pair.msg.size_bytes
        self._bill[0] += (size + SQS_CHUNK_BYTES - 1) // SQS_CHUNK_BYTES
        self._store_new(pair, self.env.now)
        return None

    def _store_new(self, pair: Pair, now: float, logged: bool = False) -> None:
        if self._trace is not None or self._slow_store:
            super()._store_new(pair, now, logged)
            return
        n = self._n_visible = self._n_visible + 1
        if n > self.pack_after and self._packer is not None:
            self._packer.store(self._visible, pair, now)
        else:
            self._visible.append(QueueCopy(pair, now))
        stats = self.stats
        stats.sent += 1
        if n > stats.backlog_max:
            stats.backlog_max = n
        if self.consumer is not None:
            self.consumer.on_available()

    def _push(self, copy: QueueCopy) -> None:
        copy.state = VISIBLE
        q = self._visible
        if self._reorder is not None and q and self._reorder():
            q.insert(len(q) - 1, copy)
        else:
            q.append(copy)
        n = self._n_visible = self._n_visible + 1
        if n > self.stats.backlog_max:
            self.stats.backlog_max = n

    def _requeue(self, copies: list[QueueCopy]) -> None:
        for copy in copies:
            self._push(copy)

    def _forget_visible(self, copy: QueueCopy) -> None:
        self._n_visible -= 1

    def _take(self, max_n: int, now: float) -> list[tuple[QueueCopy, int]]:
        q = self._visible
        batch: list[tuple[QueueCopy, int]] = []
        simple = self.dlq is None and self._trace is None and self.ctx.fast
        retention = self.retention_s
        stats = self.stats
        while q and len(batch) < max_n:
            copy = q.popleft()
            if copy.state != VISIBLE:
                if copy.state != PACKED:
                    continue  # deleted or moved while visible (lazy removal)
                copy = self._unpack_first(copy)
            self._n_visible -= 1
            # the same test as _admit_receive's, so tracing never changes which copy expires
            enqueued = copy.enqueue_s
            if simple and now < enqueued + retention:
                age = now - enqueued  # as left_visible counts it (the same rounding)
                if age > stats.oldest_max_s:
                    stats.oldest_max_s = age
                copy.receive_count += 1
                copy.receipt += 1
                copy.state = INFLIGHT
                batch.append((copy, copy.receipt))
            elif self._admit_receive(copy, now):
                batch.append((copy, copy.receipt))
        return batch

    def _unpack_first(self, chunk: QueueCopy) -> QueueCopy:
        """The first entry of ``chunk``, just taken from the head of the line, as a copy."""
        assert isinstance(chunk, PackedChunk)
        copy = chunk.pop_first()
        if chunk.state == PACKED:
            self._visible.appendleft(chunk)  # the rest of it stays at the head
        return copy

    def _survives_delete(self) -> bool:
        return self._duplicate is not None and self._duplicate()

    def _snapshot_redrivable(self) -> list[QueueCopy]:
        # packed copies have no source queue: they were sent here, not moved
        return [c for c in self._visible if c.state == VISIBLE and c.source is not None]

    def stored(self) -> Iterator[QueueCopy]:
        """Every stored visible copy, in line order (packed ones rebuilt one at a time).

        A rebuilt copy is a view: changing it does not change the one stored.
        """
        for c in self._visible:
            if c.state == VISIBLE:
                yield c
            elif c.state == PACKED:
                assert isinstance(c, PackedChunk)
                for i in range(c.start, len(c.ids)):
                    yield c.entry(i)

    def finalize(self) -> None:
        """Expire what retention ended before the end of the run (see :meth:`Queue.finalize`).

        Packed copies are rebuilt only to expire: a chunk is in enqueue order, so its expired
        copies are its first ones, and its first copy still stored is its oldest.
        """
        now = self.env.now
        retention = self.retention_s
        for c in list(self._visible):
            if c.state == VISIBLE:
                self.left_visible(c, now)
                if now >= c.enqueue_s + retention:
                    self._forget_visible(c)
                    self._expire(c)
            elif c.state == PACKED:
                assert isinstance(c, PackedChunk)
                age = now - c.first_enqueue_s()
                if age > self.stats.oldest_max_s:
                    self.stats.oldest_max_s = age
                while c.state == PACKED and now >= c.first_enqueue_s() + retention:
                    copy = c.pop_first()
                    self._forget_visible(copy)
                    self._expire(copy)

    def oldest_age_s(self, now: float) -> float:
        """Age of the first visible message of the line (0 when none is visible)."""
        for copy in self._visible:
            if copy.state == VISIBLE:
                return now - copy.enqueue_s
            if copy.state == PACKED:
                assert isinstance(copy, PackedChunk)
                return now - copy.first_enqueue_s()
        return 0.0

    @property
    def depth(self) -> int:
        """Number of visible messages."""
        return self._n_visible

    def has_available(self) -> bool:
        """True if a receive now could return a message."""
        return self._n_visible > 0


def _chance(ctx: Context, name: str, purpose: str, rate: float) -> Callable[[], bool] | None:
    """A draw that is True with probability ``rate`` on stream ``(name, purpose)``; None if 0."""
    if rate <= 0:
        return None
    draw = ctx.streams.uniform(name, purpose)
    return lambda: bool(draw() < rate)
