"""The SQS standard queue: at-least-once duplicates, best-effort order.

Semantics in :mod:`sim.services.sqs`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from sim.config.sqs import SqsQueueSpec
from sim.engine.context import Context
from sim.engine.cost import SQS_CHUNK_BYTES
from sim.engine.message import Pair
from sim.services.sqs.queue import INFLIGHT, VISIBLE, Queue, QueueCopy

__all__ = ["StandardQueue"]


class StandardQueue(Queue):
    """A standard queue: at-least-once, best-effort order."""

    def __init__(self, ctx: Context, name: str, spec: SqsQueueSpec) -> None:
        super().__init__(ctx, name, spec)
        self._visible: deque[QueueCopy] = deque()
        self._n_visible = 0
        self._dup_rate = spec.duplicate_rate
        self._reorder_rate = spec.reorder_rate
        self._dup_draw = ctx.streams.uniform(name, "duplicates") if self._dup_rate > 0 else None
        self._reorder_draw = (
            ctx.streams.uniform(name, "reorder") if self._reorder_rate > 0 else None
        )
        #: storing needs more than an append (delay, reordering)
        self._slow_store = self.delay_s > 0.0 or self._reorder_draw is not None or not ctx.fast

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
        self._visible.append(QueueCopy(pair, now))
        stats = self.stats
        stats.sent += 1
        n = self._n_visible = self._n_visible + 1
        if n > stats.backlog_max:
            stats.backlog_max = n
        if self.consumer is not None:
            self.consumer.on_available()

    def _push(self, copy: QueueCopy) -> None:
        copy.state = VISIBLE
        q = self._visible
        if self._reorder_draw is not None and q and self._reorder_draw() < self._reorder_rate:
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
        # a copy enqueued before this has waited longer than any so far (oldest_age_max_s)
        record = now - stats.oldest_max_s
        while q and len(batch) < max_n:
            copy = q.popleft()
            if copy.state != VISIBLE:
                continue  # deleted or moved while visible (lazy removal)
            self._n_visible -= 1
            # the same test as _admit_receive's, so tracing never changes which copy expires
            enqueued = copy.enqueue_s
            if simple and now < enqueued + retention:
                if enqueued < record:
                    stats.oldest_max_s = now - enqueued
                    record = enqueued
                copy.receive_count += 1
                copy.receipt += 1
                copy.state = INFLIGHT
                batch.append((copy, copy.receipt))
            else:
                if self._admit_receive(copy, now):
                    batch.append((copy, copy.receipt))
                # it counted its age, even when it expired or moved to the DLQ instead
                record = now - stats.oldest_max_s
        return batch

    def _survives_delete(self) -> bool:
        return self._dup_draw is not None and self._dup_draw() < self._dup_rate

    def _snapshot_redrivable(self) -> list[QueueCopy]:
        return [c for c in self._visible if c.state == VISIBLE and c.source is not None]

    def stored(self) -> Iterable[QueueCopy]:
        """Every stored visible copy."""
        return (c for c in self._visible if c.state == VISIBLE)

    def oldest_age_s(self, now: float) -> float:
        """Age of the first visible message of the line (0 when none is visible)."""
        for copy in self._visible:
            if copy.state == VISIBLE:
                return now - copy.enqueue_s
        return 0.0

    @property
    def depth(self) -> int:
        """Number of visible messages."""
        return self._n_visible

    def has_available(self) -> bool:
        """True if a receive now could return a message."""
        return self._n_visible > 0
