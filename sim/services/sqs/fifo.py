"""The SQS FIFO queue: per-group order, head-of-line blocking, deduplication, call limits.

Semantics in :mod:`sim.services.sqs`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from sim.config.sqs import SqsQueueSpec
from sim.engine.context import Context
from sim.engine.fates import LOST
from sim.engine.faults import THROTTLED
from sim.engine.message import Pair
from sim.engine.tokens import TokenBucket
from sim.services.sqs.queue import DEDUP_WINDOW_S, VISIBLE, Queue, QueueCopy

__all__ = ["FifoQueue"]


class FifoQueue(Queue):
    """A FIFO queue: exactly-once within the dedup window, strict order per message group."""

    fifo = True

    def __init__(self, ctx: Context, name: str, spec: SqsQueueSpec) -> None:
        super().__init__(ctx, name, spec)
        self._groups: dict[int, deque[QueueCopy]] = {}
        self._inflight: dict[int, int] = {}
        self._ready: deque[int] = deque()
        self._is_ready: set[int] = set()
        self._n_visible = 0
        self._dedup: dict[tuple[int, int], tuple[float, Pair]] = {}
        self._dedup_order: deque[tuple[float, tuple[int, int]]] = deque()
        self._content_based = spec.content_based_dedup
        # high-throughput mode: deduplication per group, a partition's call limit per group
        self._dedup_by_group = spec.high_throughput
        self._group_limit = spec.group_calls_per_s_limit
        self._group_buckets: dict[int, TokenBucket] = {}

    # throughput --------------------------------------------------------------------------------

    def _admit_call(self, pair: Pair, now: float) -> bool:
        """One call against the queue's limit and, in high-throughput mode, its group's."""
        if self._group_limit is None:
            return super()._admit_call(pair, now)
        return self._admit_groups((pair.msg.group,), now)

    def _batch_calls(self, pairs: list[Pair], now: float) -> list[str | None]:
        """One batch call against the queue's limit: per entry, None or ``THROTTLED``.

        In high-throughput mode also one call per message group of the batch against its
        partition; the entries of a group whose partition is spent fail as throttled (an
        assumption: AWS documents per-partition limits, not how a batch spanning partitions
        fails).
        """
        if self._group_limit is None:
            return super()._batch_calls(pairs, now)
        queue = self._send_bucket
        assert queue is not None
        if not queue.take(now):
            return [THROTTLED] * len(pairs)
        admitted: dict[int, bool] = {}
        for pair in pairs:
            g = pair.msg.group
            if g not in admitted:
                admitted[g] = self._group_bucket(g, now).take(now)
        return [None if admitted[pair.msg.group] else THROTTLED for pair in pairs]

    def _group_bucket(self, group: int, now: float) -> TokenBucket:
        bucket = self._group_buckets.get(group)
        if bucket is None:
            assert self._group_limit is not None
            bucket = self._group_buckets[group] = TokenBucket(self._group_limit, self._group_limit)
        return bucket

    def _admit_groups(self, groups: Iterable[int], now: float) -> bool:
        """One call against the queue's limit and one against each group's partition.

        Returns True when all were there (and are taken), False when one was spent (then none
        is taken).
        """
        queue = self._send_bucket
        assert queue is not None and self._group_limit is not None
        buckets = []
        for g in groups:
            bucket = self._group_bucket(g, now)
            bucket.refill(now)
            buckets.append(bucket)
        queue.refill(now)
        if queue.tokens < 1.0 or any(b.tokens < 1.0 for b in buckets):
            return False
        queue.tokens -= 1.0
        for b in buckets:
            b.tokens -= 1.0
        return True

    # dedup --------------------------------------------------------------------------------------

    def _dedup_admit(self, pair: Pair, now: float) -> bool:
        order = self._dedup_order
        while order and order[0][0] <= now:
            _, old = order.popleft()
            entry = self._dedup.get(old)
            if entry is not None and entry[0] <= now:
                del self._dedup[old]
        msg = pair.msg
        if msg.dedup_id is None and msg.hops > 0 and not self._content_based:
            # a handler's derived message carries no deduplication id: without content-based
            # deduplication every send of it is new
            return True
        # explicit id, else content-based: a hash of the body, unique per logical message
        key = (0, msg.dedup_id) if msg.dedup_id is not None else (1, msg.id)
        if self._dedup_by_group:
            key = (key[0] + 2 * msg.group, key[1])  # one deduplication scope per group
        entry = self._dedup.get(key)
        if entry is not None:
            if self._trace is not None:
                self.ledger.log(now, self.name, "deduplicated", msg.id)
            if entry[1] is pair:
                self.ledger.release(pair)
            else:
                self.ledger.drop(pair, LOST)
            return False
        expiry = now + DEDUP_WINDOW_S
        self._dedup[key] = (expiry, pair)
        order.append((expiry, key))
        return True

    # groups -------------------------------------------------------------------------------------

    def _mark_ready(self, g: int) -> None:
        if g not in self._is_ready and not self._inflight.get(g) and self._groups.get(g):
            self._is_ready.add(g)
            self._ready.append(g)

    def _push(self, copy: QueueCopy) -> None:
        copy.state = VISIBLE
        g = copy.pair.msg.group
        dq = self._groups.get(g)
        if dq is None:
            dq = self._groups[g] = deque()
        dq.append(copy)
        n = self._n_visible = self._n_visible + 1
        if n > self.stats.backlog_max:
            self.stats.backlog_max = n
        self._mark_ready(g)

    def _requeue(self, copies: list[QueueCopy]) -> None:
        by_group: dict[int, list[QueueCopy]] = {}
        for copy in copies:
            by_group.setdefault(copy.pair.msg.group, []).append(copy)
        for g, cs in by_group.items():
            dq = self._groups.setdefault(g, deque())
            for copy in reversed(cs):
                copy.state = VISIBLE
                dq.appendleft(copy)
            n = self._n_visible = self._n_visible + len(cs)
            if n > self.stats.backlog_max:
                self.stats.backlog_max = n
            self._inflight[g] -= len(cs)
            self._mark_ready(g)

    def _forget_visible(self, copy: QueueCopy) -> None:
        self._n_visible -= 1

    def _after_delete(self, copy: QueueCopy) -> None:
        g = copy.pair.msg.group
        n = self._inflight.get(g, 0)
        if n > 0:
            self._inflight[g] = n - 1
            if n == 1:
                self._mark_ready(g)
                self._notify()

    def _take(self, max_n: int, now: float) -> list[tuple[QueueCopy, int]]:
        batch: list[tuple[QueueCopy, int]] = []
        ready = self._ready
        while ready and len(batch) < max_n:
            g = ready[0]
            dq = self._groups[g]
            taken = 0
            while dq and len(batch) < max_n:
                copy = dq[0]
                if copy.state != VISIBLE:
                    dq.popleft()
                    continue
                dq.popleft()
                self._n_visible -= 1
                if self._admit_receive(copy, now):
                    batch.append((copy, copy.receipt))
                    taken += 1
            ready.popleft()
            self._is_ready.discard(g)
            if taken:
                self._inflight[g] = self._inflight.get(g, 0) + taken
            elif not dq:
                del self._groups[g]
        return batch

    def _snapshot_redrivable(self) -> list[QueueCopy]:
        copies = [c for dq in self._groups.values() for c in dq]
        return sorted(
            (c for c in copies if c.state == VISIBLE and c.source is not None),
            key=lambda c: c.enqueue_s,
        )

    def stored(self) -> Iterable[QueueCopy]:
        """Every stored visible copy."""
        return (c for dq in self._groups.values() for c in dq if c.state == VISIBLE)

    def oldest_age_s(self, now: float) -> float:
        """Age of the oldest message at the head of a group (0 when none is visible)."""
        oldest = now
        for dq in self._groups.values():
            for copy in dq:
                if copy.state == VISIBLE:
                    oldest = min(oldest, copy.enqueue_s)
                    break
        return now - oldest

    @property
    def depth(self) -> int:
        """Number of visible messages (blocked groups included)."""
        return self._n_visible

    def has_available(self) -> bool:
        """True if some group is unblocked and has a visible message."""
        return bool(self._ready)
