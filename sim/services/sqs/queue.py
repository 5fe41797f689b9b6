"""The SQS queue base: stored copies, send, receive, delete, visibility, redrive, retention.

What is and is not modelled is stated in :mod:`sim.services.sqs`. One class holds the queue's
state machine (visible, delayed, in flight, gone) because send, receive, delete, visibility
expiry, redrive and retention all act on the same structures; the standard and FIFO
behaviours are in :mod:`sim.services.sqs.standard` and :mod:`sim.services.sqs.fifo`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from simpy.events import Event

from sim.config.sqs import SqsQueueSpec
from sim.engine.component import RequestTarget
from sim.engine.context import Context
from sim.engine.cost import SQS_CHUNK_BYTES, sqs_chunks, sqs_receive_requests
from sim.engine.fates import DEAD_LETTERED, DELIVERED, EXPIRED, LOST
from sim.engine.faults import THROTTLED
from sim.engine.message import Message, Pair
from sim.engine.ports import Attempt, BatchEntry, BatchReply, Plan, Reply
from sim.engine.schedule import ProcessGen, call_after
from sim.engine.tokens import TokenBucket

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring
    from sim.services.lambda_esm import EventSourceMapping

__all__ = [
    "DEDUP_WINDOW_S",
    "DELAYED",
    "GONE",
    "INFLIGHT",
    "VISIBLE",
    "Queue",
    "QueueCopy",
    "QueuePort",
    "QueueStats",
]

#: A send's reply: None on success, else the error kind ("unavailable" or "throttled").

VISIBLE: Final = 0
DELAYED: Final = 1
INFLIGHT: Final = 2
GONE: Final = 3

_CHUNK: Final = SQS_CHUNK_BYTES

#: FIFO deduplication interval (seconds).
DEDUP_WINDOW_S: Final = 300.0


class QueueCopy:
    """One stored copy of a pair in a queue.

    Attributes:
        pair: The (message, sink) pair this copy carries.
        enqueue_s: Enqueue time used by retention.
        receive_count: Receives so far in this queue.
        receipt: Number of the latest receive (a delete must quote it).
        state: VISIBLE, DELAYED, INFLIGHT or GONE.
        parked: True for a copy moved into a dead-letter queue (not live for its pair).
        source: For a parked copy, the queue it was moved from (redrive target).
        origin: In a dead-letter queue that has a consumer, the pair that was dead-lettered
            (parked while this copy exists); ``pair`` is then the new (message, DLQ consumer)
            pair.
    """

    __slots__ = (
        "enqueue_s",
        "origin",
        "pair",
        "parked",
        "receipt",
        "receive_count",
        "source",
        "state",
    )

    def __init__(self, pair: Pair, enqueue_s: float, parked: bool = False) -> None:
        self.pair = pair
        self.enqueue_s = enqueue_s
        self.receive_count = 0
        self.receipt = 0
        self.state = VISIBLE
        self.parked = parked
        self.source: Queue | None = None
        self.origin: Pair | None = None


class QueueStats:
    """What a queue counts for the time series and its peaks (one object: see :class:`Queue`).

    Attributes:
        sent: Copies stored (sends, deliveries, dead letters moved or parked here, redrives).
        in_flight: Copies received and neither deleted nor visible again.
        delayed: Copies waiting for the queue's ``delay_s``.
        expired: Copies dropped by retention.
        dead_lettered: Copies moved from here to the dead-letter queue.
        backlog_max: The most visible copies at once (counted period).
        oldest_max_s: The oldest age a visible copy reached (counted period; −1: none was).
    """

    __slots__ = (
        "backlog_max", "dead_lettered", "delayed", "expired", "in_flight", "oldest_max_s",
        "sent",
    )  # fmt: skip

    def __init__(self) -> None:
        self.sent = 0
        self.in_flight = 0
        self.delayed = 0
        self.expired = 0
        self.dead_lettered = 0
        self.backlog_max = 0
        self.oldest_max_s = -1.0


class Queue(RequestTarget):
    """Behaviour shared by standard and FIFO queues; subclasses own the storage order.

    Attribute reads are the hot path's main cost, and CPython reads the attributes of an
    instance fastest while it has at most 30 of them (its keys are shared with the other
    instances of the class), which a standard queue just has: new state goes into
    :attr:`stats` or a property rather than a new attribute.
    """

    fifo = False

    def __init__(self, ctx: Context, name: str, spec: SqsQueueSpec) -> None:
        super().__init__(ctx, name, spec.errors.rate, spec.latency_s)
        self.spec = spec
        self.visibility_timeout_s = spec.visibility_timeout_s
        self.retention_s = spec.retention_s
        self.dlq: Queue | None = None
        self.max_receive_count = 0
        #: the event source mapping reading this queue (its class, not a Protocol: the
        #: compiled build then calls it directly)
        self.consumer: EventSourceMapping | None = None
        #: the function consuming this queue: a sink of the dead letters stored here
        self.consumer_sink: str | None = None
        limit = spec.calls_per_s_limit
        self._send_bucket = TokenBucket(limit, limit) if limit else None
        self._receive_bucket = TokenBucket(limit, limit) if limit else None
        #: True when a send or receive must consult faults or a throughput limit
        self._gated_send = self._has_faults or self._send_bucket is not None
        self.gated_receive = self._has_faults or self._receive_bucket is not None
        item = "sqs_fifo_requests" if spec.fifo else "sqs_standard_requests"
        self._bill = ctx.cost.counter(name, item)
        self._trace = ctx.ledger.trace
        #: True when a delete needs the slow path (FIFO groups, duplicates, tracing, or the
        #: fast paths are off: see :class:`~sim.engine.context.Context`)
        self._has_delete_hooks = (
            spec.fifo or spec.duplicate_rate > 0 or self._trace is not None or not ctx.fast
        )
        #: a delete after success is just that (no outage, duplicates, FIFO groups, trace)
        self.plain_delete = not (self._has_delete_hooks or self._has_faults)
        #: counts since the start and peaks of the counted period, for observation
        self.stats = QueueStats()

    # -- wiring ---------------------------------------------------------------------------------

    def port(self, wiring: Wiring) -> QueuePort:
        """SendMessage; the queue's consumer function is the sink behind it."""
        return QueuePort(self, wiring.consumer_of.get(self.name))

    def connect(self, wiring: Wiring) -> None:
        """Redrive to the dead-letter queue after ``max_receive_count`` receives, if one is set."""
        self.consumer_sink = wiring.consumer_of.get(self.name)
        dl = self.spec.dead_letter
        if dl is not None:
            self.dlq = wiring.components[dl.target]
            self.max_receive_count = dl.max_receive_count

    def attach_consumer(self, consumer: EventSourceMapping) -> None:
        """Notify ``consumer`` whenever messages become available."""
        self.consumer = consumer

    def start(self) -> None:
        """Start the DLQ redrive tasks of the scenario."""
        for r in self.spec.redrives:
            self.env.process(self._run_redrive(r.at_s, r.rate_per_s))

    # -- SendMessage ----------------------------------------------------------------------------

    def accept(self, pair: Pair, reply: Reply) -> None:
        """SendMessage of ``pair``: calls ``reply(None)`` or ``reply(error)`` when answered.

        On success the queue owns the pair's live unit from then on; on failure the caller
        keeps it (and retries or drops it).
        """
        if self._latency is None:
            reply(self.send_now(pair))
            return
        now = self.env.now
        error = self._send_error(pair, now)
        latency = self._latency()
        if latency > 0.0 and self._has_faults:
            latency *= self.ctx.faults.slow_factor(self.name, now)
        if latency <= 0.0:
            if error is None:
                self._store_new(pair, now)
            reply(error)
            return

        def answer(_: Event) -> None:
            if error is None:
                self._store_new(pair, self.env.now)
            reply(error)

        call_after(self.env, latency, answer)

    def send_now(self, pair: Pair) -> str | None:
        """SendMessage answered at once (only for a queue with zero latency, see ``instant``).

        Returns None on success (the queue now owns the pair's live unit), else the error.
        """
        now = self.env.now
        error = self._send_error(pair, now) if self._gated_send else None
        if error is None:
            size = pair.msg.size_bytes
            self._bill[0] += (size + _CHUNK - 1) // _CHUNK
            self._store_new(pair, now)
        elif self._trace is not None:
            self.ledger.log(now, self.name, "send_failed", pair.msg.id)
        return error

    def _send_error(self, pair: Pair, now: float) -> str | None:
        error = None
        if self._has_faults:
            error = self.ctx.faults.request_fails(self.name, now, self._error_rate)
        if error is None and self._send_bucket is not None and not self._admit_call(pair, now):
            error = THROTTLED
        if error is None and self._latency is not None:
            self._bill[0] += sqs_chunks(pair.msg.size_bytes)
        if self._trace is not None and self._latency is not None:
            self.ledger.log(now, self.name, "send" if error is None else "send_failed", pair.msg.id)
        return error

    def accept_batch(self, pairs: list[Pair], reply: BatchReply) -> None:
        """SendMessageBatch of one pair per entry: ``reply(error, entry errors)`` when answered.

        One call against the throughput limit (throttled: the whole request fails), billed by
        its total payload in 64 KB chunks; an outage fails the whole request; ``errors.rate``
        fails each entry independently (a failed entry in a successful response). The entries
        that succeed are stored in order when the answer comes, after ``latency_s``.
        """
        now = self.env.now
        faults = self.ctx.faults
        error = faults.request_fails(self.name, now, 0.0) if self._has_faults else None
        entries: list[str | None] = []
        if error is None:
            entries = self._batch_calls(pairs, now)
            if entries and all(e == THROTTLED for e in entries):
                error, entries = THROTTLED, []
        if error is None:
            size = sum(pair.msg.size_bytes for pair in pairs)
            self._bill[0] += (size + _CHUNK - 1) // _CHUNK
            if self._error_rate > 0.0:
                entries = [
                    e if e is not None else faults.request_fails(self.name, now, self._error_rate)
                    for e in entries
                ]
        if self._trace is not None:
            for i, pair in enumerate(pairs):
                failed = error is not None or entries[i] is not None
                self.ledger.log(now, self.name, "send_failed" if failed else "send", pair.msg.id)
        latency = self.request_latency(now) if self._latency is not None else 0.0

        def answer() -> None:
            if error is None:
                t = self.env.now
                for pair, e in zip(pairs, entries, strict=True):
                    if e is None:
                        self._store_new(pair, t, logged=True)
            reply(error, entries)

        if latency <= 0.0:
            answer()
        else:
            call_after(self.env, latency, lambda _: answer())

    def _batch_calls(self, pairs: list[Pair], now: float) -> list[str | None]:
        """One batch call against the throughput limit: per entry, None or ``THROTTLED``."""
        if self._send_bucket is None or self._send_bucket.take(now):
            return [None] * len(pairs)
        return [THROTTLED] * len(pairs)

    def _admit_call(self, pair: Pair, now: float) -> bool:
        """Take a call from the throughput limit (True), or find it spent (False)."""
        assert self._send_bucket is not None
        return self._send_bucket.take(now)

    @property
    def rate_limited(self) -> bool:
        """True when sends meet a throughput limit (a FIFO queue).

        Whether a send is admitted then depends on the calls made just before it, so a
        retried delivery must try it at its own time (:meth:`try_delivery`), not decide it
        ahead.
        """
        return self._send_bucket is not None

    def try_delivery(self, pair: Pair) -> str | None:
        """A SendMessage by a retrying sender (SNS, EventBridge, S3), now.

        Returns its error, or None when it succeeded and ``pair`` is stored (after
        ``latency_s``).
        """
        now = self.env.now
        error = self.request_error(now)
        if error is None and self._send_bucket is not None and not self._admit_call(pair, now):
            error = THROTTLED
        if error is not None:
            if self._trace is not None:
                self.ledger.log(now, self.name, "send_failed", pair.msg.id)
            return error
        self.take_delivery(pair)
        return None

    @property
    def delay_s(self) -> float:
        """The queue's delivery delay (seconds)."""
        return self.spec.delay_s

    @property
    def backlog_max(self) -> int:
        """The most visible messages at once in the counted period."""
        return self.stats.backlog_max

    @property
    def instant(self) -> bool:
        """True when a send is answered at once (no latency)."""
        return self._latency is None

    def _store_new(self, pair: Pair, now: float, logged: bool = False) -> None:
        if self.fifo and not self._dedup_admit(pair, now):
            return
        if self._trace is not None and self._latency is None and not logged:
            self.ledger.log(now, self.name, "send", pair.msg.id)
        copy = QueueCopy(pair, now)
        self.stats.sent += 1
        if self.delay_s > 0.0:
            copy.state = DELAYED
            self.stats.delayed += 1
            call_after(self.env, self.delay_s, lambda _: self._make_visible([copy]))
        else:
            self._push(copy)
            self._notify()

    def _dedup_admit(self, pair: Pair, now: float) -> bool:
        """FIFO deduplication; overridden by :class:`FifoQueue`."""
        return True

    # -- ReceiveMessage -------------------------------------------------------------------------

    def receive_ready_at(self, now: float) -> float:
        """Earliest time ≥ ``now`` at which a ReceiveMessage call can succeed."""
        t = now
        if self._has_faults:
            t = self.ctx.faults.clear_at(self.name, now, ("unavailable", "throttled"))
        if self._receive_bucket is not None:
            t = self._receive_bucket.ready_at(t)
        return t

    def receive(self, max_n: int) -> list[tuple[QueueCopy, int]]:
        """Receive up to ``max_n`` messages: ``[(copy, receipt), ...]`` (maybe empty).

        More than 10 messages take several ReceiveMessage requests (10 at most each), all
        billed. Callers check :meth:`receive_ready_at` first; this call consumes a throughput
        token (a FIFO source's batches hold at most 10 messages: one request).
        """
        now = self.env.now
        if self._receive_bucket is not None:
            self._receive_bucket.take(now)
        batch = self._take(max_n, now)
        if batch:
            n = len(batch)
            self.stats.in_flight += n
            if n == 1:
                size = batch[0][0].pair.msg.size_bytes
                self._bill[0] += (size + _CHUNK - 1) // _CHUNK
            else:  # at most 10 messages per ReceiveMessage request
                self._bill[0] += sqs_receive_requests([c.pair.msg.size_bytes for c, _ in batch])
        return batch

    def _admit_receive(self, copy: QueueCopy, now: float) -> bool:
        """Check retention and redrive for a copy about to be delivered; True to deliver."""
        self.left_visible(copy, now)
        if now >= copy.enqueue_s + self.retention_s:
            self._expire(copy)
            return False
        if self.dlq is not None and copy.receive_count >= self.max_receive_count:
            copy.state = GONE
            self.stats.dead_lettered += 1
            self.dlq.store_moved(copy, self, now)
            return False
        copy.receive_count += 1
        copy.receipt += 1
        copy.state = INFLIGHT
        if self._trace is not None:
            self.ledger.log(now, self.name, "receive", copy.pair.msg.id)
        return True

    def left_visible(self, copy: QueueCopy, now: float) -> None:
        """A visible copy leaves the visible set now: its age counts toward the oldest age."""
        age = now - copy.enqueue_s
        stats = self.stats
        if age > stats.oldest_max_s:
            stats.oldest_max_s = age

    @property
    def oldest_age_max_s(self) -> float | None:
        """The oldest age a visible message reached in the counted period (None: none was)."""
        age = self.stats.oldest_max_s
        return age if age >= 0.0 else None

    def _expire(self, copy: QueueCopy) -> None:
        copy.state = GONE
        self.stats.expired += 1
        if self._trace is not None:
            self.ledger.log(self.env.now, self.name, "expired", copy.pair.msg.id)
        if copy.parked:
            self.ledger.unpark_drop(copy.pair, EXPIRED)
        else:
            self.ledger.drop(copy.pair, EXPIRED)
        if copy.origin is not None:
            self.ledger.unpark_drop(copy.origin, EXPIRED)

    # -- DeleteMessage and visibility -----------------------------------------------------------

    def delete(self, entries: list[tuple[QueueCopy, int]], received_s: float) -> None:
        """DeleteMessageBatch of ``entries`` received at ``received_s``.

        A stale receipt is ignored. During an outage the delete fails and the messages
        reappear after their visibility timeout.
        """
        now = self.env.now
        self._bill[0] += 1
        if self._has_faults and self.ctx.faults.request_fails(self.name, now, 0.0) is not None:
            self.return_after_timeout(list(entries), received_s)
            return
        survivors = []
        for copy, receipt in entries:
            if copy.receipt != receipt or copy.state == GONE:
                continue
            pair = copy.pair
            if (
                copy.state == INFLIGHT
                and pair.state == DELIVERED
                and not copy.parked
                and not self._has_delete_hooks
            ):
                # fast path: the usual delete after a successful processing
                copy.state = GONE
                pair.live -= 1
                self.stats.in_flight -= 1
                continue
            if self._survives_delete():
                survivors.append((copy, receipt))
                continue
            was_inflight = copy.state == INFLIGHT
            if was_inflight:
                self.stats.in_flight -= 1
            elif copy.state == VISIBLE:
                self.left_visible(copy, now)
                self._forget_visible(copy)
            copy.state = GONE
            if self._trace is not None:
                self.ledger.log(now, self.name, "delete", copy.pair.msg.id)
            if copy.parked:
                self.ledger.unpark_drop(copy.pair, DEAD_LETTERED)
            else:
                self.ledger.release(copy.pair)
            if copy.origin is not None:
                self.ledger.unpark_drop(copy.origin, DEAD_LETTERED)
            if was_inflight:
                self._after_delete(copy)
        if survivors:
            self.return_after_timeout(survivors, received_s)

    def _survives_delete(self) -> bool:
        return False

    def delete_processed(self, copy: QueueCopy, receipt: int) -> bool:
        """DeleteMessage of one copy its consumer processed, when that is all it takes.

        Returns False (doing nothing) when the delete needs :meth:`delete`: a stale receipt,
        an outage, duplicates, FIFO groups, a trace or a parked copy.
        """
        if (
            self.plain_delete
            and copy.receipt == receipt
            and copy.state == INFLIGHT
            and not copy.parked
        ):
            self._bill[0] += 1
            copy.state = GONE
            copy.pair.live -= 1
            self.stats.in_flight -= 1
            return True
        return False

    def _after_delete(self, copy: QueueCopy) -> None:
        """Hook: a FIFO queue unblocks the copy's group."""

    def _forget_visible(self, copy: QueueCopy) -> None:
        """Hook: account for a visible copy removed by a late delete."""

    def return_after_timeout(
        self, entries: list[tuple[QueueCopy, int]], received_s: float
    ) -> None:
        """Make ``entries`` visible again when their visibility timeout ends."""
        delay = received_s + self.visibility_timeout_s - self.env.now
        if delay <= 0.0:
            self._return(entries)
        else:
            call_after(self.env, delay, lambda _: self._return(entries))

    def _return(self, entries: list[tuple[QueueCopy, int]]) -> None:
        now = self.env.now
        back = []
        for copy, receipt in entries:
            if copy.receipt != receipt or copy.state != INFLIGHT:
                continue
            self.stats.in_flight -= 1
            if now >= copy.enqueue_s + self.retention_s:
                self._expire(copy)
                self._after_delete(copy)
                continue
            if self._trace is not None:
                self.ledger.log(now, self.name, "visible", copy.pair.msg.id)
            back.append(copy)
        if back:
            self._requeue(back)
            self._notify()

    def _make_visible(self, copies: list[QueueCopy]) -> None:
        self.stats.delayed -= len(copies)
        for copy in copies:
            copy.state = VISIBLE
            self._push(copy)
        self._notify()

    def _notify(self) -> None:
        if self.consumer is not None:
            self.consumer.on_available()

    # -- as a delivery target of SNS and of Lambda destinations ---------------------------------

    def take_delivery(self, pair: Pair) -> None:
        """Store ``pair`` sent now by SNS (the successful attempt) after ``latency_s``."""
        now = self.env.now
        self._bill[0] += sqs_chunks(pair.msg.size_bytes)
        if self._trace is not None:
            self.ledger.log(now, self.name, "send", pair.msg.id)
        latency = self._latency() if self._latency is not None else 0.0
        if latency > 0.0 and self._has_faults:
            latency *= self.ctx.faults.slow_factor(self.name, now)
        if latency <= 0.0:
            self._store_new(pair, now, logged=True)
        else:
            call_after(self.env, latency, lambda _: self._store_new(pair, self.env.now, True))

    def store_parked(self, pair: Pair, now: float) -> None:
        """Store ``pair`` as a dead letter of a non-SQS source (SNS DLQ, Lambda on-failure)."""
        if self._trace is not None:
            self.ledger.log(now, self.name, "dead_letter", pair.msg.id)
        self._bill[0] += sqs_chunks(pair.msg.size_bytes)
        self.ledger.park(pair)
        self.stats.sent += 1
        self._push(self._dead_letter_copy(pair, now))
        self._notify()

    def _dead_letter_copy(self, pair: Pair, enqueue_s: float) -> QueueCopy:
        """The copy stored for the parked ``pair``: a new pair when the DLQ has a consumer.

        The consumer of a dead-letter queue is a sink of every message that arrives here: the
        pair ``(message, consumer)`` starts now, with its own fate, while ``pair`` stays
        ``dead_lettered``.
        """
        if self.consumer_sink is None:
            return QueueCopy(pair, enqueue_s, parked=True)
        new = self.ledger.arrival_pairs(pair.msg, (self.consumer_sink,))[0]
        copy = QueueCopy(new, enqueue_s)
        copy.origin = pair
        self._has_delete_hooks = True  # deletes now settle the origin pair too
        self.plain_delete = False
        return copy

    # -- dead-letter queues ---------------------------------------------------------------------

    def store_moved(self, copy: QueueCopy, source: Queue, now: float) -> None:
        """Store a copy moved here by ``source``'s redrive policy (this queue is its DLQ)."""
        if self._trace is not None:
            self.ledger.log(now, source.name, "dead_letter", copy.pair.msg.id)
        enqueue_s = now if self.fifo else copy.enqueue_s
        if copy.origin is not None:
            # it leaves a consumed DLQ: the pair dead-lettered there settles for good
            self.ledger.unpark_drop(copy.origin, DEAD_LETTERED)
        if not copy.parked:
            self.ledger.park(copy.pair)
        moved = self._dead_letter_copy(copy.pair, enqueue_s)
        moved.source = source
        self.stats.sent += 1
        self._push(moved)
        self._notify()

    def _run_redrive(self, at_s: float, rate_per_s: float) -> ProcessGen:
        """A DLQ move task: send stored messages back to their sources, oldest first."""
        if at_s > self.env.now:
            yield self.env.timeout(at_s - self.env.now)
        gap = 1.0 / rate_per_s
        for copy in self._snapshot_redrivable():
            if copy.state != VISIBLE:
                continue
            now = self.env.now
            if now >= copy.enqueue_s + self.retention_s:
                self.left_visible(copy, now)
                self._forget_visible(copy)
                self._expire(copy)  # its DLQ retention ended before the move reached it
                continue
            copy.state = GONE
            self.left_visible(copy, now)
            self._forget_visible(copy)
            source = copy.source
            assert source is not None
            if self._trace is not None:
                self.ledger.log(now, self.name, "redrive", copy.pair.msg.id)
            back = copy.pair
            if copy.origin is not None:
                # the message leaves before this DLQ's consumer got it: lost for that consumer
                self.ledger.drop(copy.pair, LOST)
                back = copy.origin
            self.ledger.unpark(back)
            source.stats.sent += 1
            source._push(QueueCopy(back, now))
            source._notify()
            yield self.env.timeout(gap)

    # -- storage order (subclasses) -------------------------------------------------------------

    def _push(self, copy: QueueCopy) -> None:
        raise NotImplementedError

    def _requeue(self, copies: list[QueueCopy]) -> None:
        raise NotImplementedError

    def _take(self, max_n: int, now: float) -> list[tuple[QueueCopy, int]]:
        raise NotImplementedError

    def _snapshot_redrivable(self) -> list[QueueCopy]:
        raise NotImplementedError

    def stored(self) -> Iterable[QueueCopy]:
        """Every copy currently stored and visible (for the end-of-run sweep)."""
        raise NotImplementedError

    @property
    def depth(self) -> int:
        """Number of visible messages."""
        raise NotImplementedError

    def has_available(self) -> bool:
        """True if a receive now could return a message."""
        raise NotImplementedError

    def finalize(self) -> None:
        """Expire stored messages whose retention ended before the end of the run.

        Every message still visible counts its age at the end toward ``oldest_age_max_s``.
        """
        now = self.env.now
        for copy in list(self.stored()):
            if copy.state != VISIBLE:
                continue
            self.left_visible(copy, now)
            if now >= copy.enqueue_s + self.retention_s:
                self._forget_visible(copy)
                self._expire(copy)

    def end_warmup(self) -> None:
        """The counted period starts: the peaks start again from the current state."""
        self.stats.backlog_max = self.depth
        self.stats.oldest_max_s = -1.0  # messages visible now count their age when they leave

    def oldest_age_s(self, now: float) -> float:
        """Age of the message at the head of the line (0 when no message is visible).

        Messages are stored in enqueue order, so the head is the oldest, except for messages
        made visible again after a failed receive, which go to the back of the line.
        """
        raise NotImplementedError

    def observe(self) -> tuple[dict[str, float], dict[str, float]]:
        """States now and counts so far, for the time series (``docs/metrics.md``)."""
        stats = self.stats
        return (
            {
                "visible": self.depth,
                "in_flight": stats.in_flight,
                "delayed": stats.delayed,
                "oldest_age_s": self.oldest_age_s(self.env.now),
            },
            {
                "sent_per_s": stats.sent,
                "expired_per_s": stats.expired,
                "dead_lettered_per_s": stats.dead_lettered,
            },
        )


# --------------------------------------------------------------------------- port


class QueuePort:
    """An SQS queue as a target; its sink is the queue's consumer function, if any."""

    #: the SNS subscription protocol of a queue target
    protocol = "sqs"

    def __init__(self, queue: Queue, sink: str | None) -> None:
        self.queue = queue
        self.name = queue.name
        self.sink = sink
        self._plan = Plan((sink,))

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """One pair: the queue's consumer (None if nobody consumes the queue)."""
        return self._plan

    def reachable(self) -> list[str]:
        """The consumer function, if any."""
        return [s for s in self._plan.sinks if s is not None]

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """SendMessage."""
        self.queue.accept(pairs[0], reply)

    def accept_batch(self, entries: list[BatchEntry], reply: BatchReply) -> None:
        """SendMessageBatch."""
        self.queue.accept_batch([pairs[0] for _, _, pairs in entries], reply)

    def attempt_fails(self, t_s: float) -> bool:
        """A SendMessage at ``t_s`` fails."""
        return self.queue.attempt_fails(t_s)

    def failing_until(self, t_s: float) -> float | None:
        """End of the queue's outage at ``t_s``."""
        return self.queue.failing_until(t_s)

    def always_fails(self) -> bool:
        """Every SendMessage fails."""
        return self.queue.always_fails()

    def hand_over(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        """The message is sent now."""
        self.queue.take_delivery(pairs[0])

    @property
    def live(self) -> bool:
        """A rate-limited queue's sends are tried at their own times (:meth:`try_deliver`)."""
        return self.queue.rate_limited

    def try_deliver(self, msg: Message, plan: Plan, pairs: list[Pair]) -> Attempt:
        """One SendMessage now: ``(error or None, seconds until the answer)``."""
        return self.queue.try_delivery(pairs[0]), 0.0
