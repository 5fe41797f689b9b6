"""Batched sends of a producer: SendMessageBatch, PublishBatch and multi-entry PutEvents.

Modelled:
    * One batch per target (:class:`Batcher`): a message joins the batch of the target it is
      being sent to; the batch is sent when it holds ``batch.size`` messages (at most 10, AWS's
      limit for the three APIs), when a message would take it past 262,144 bytes (the largest
      request), or ``batch.linger_s`` after its first message joined it (0.2 s: the
      ``maxBatchOpenMs`` default of the AWS SDK for Java's buffered SQS client). A batch
      request is one call against a FIFO queue's throughput limit, so batching lifts a FIFO
      queue's 300 calls per second to 3,000 messages per second (Amazon SQS message quotas).
    * The answer (:data:`sim.engine.ports.BatchReply`): a request error (an outage, the
      request throttled) is retried by the SDK as any request is: the same request, after the
      retry policy's backoff, drawing on the retry quota (``sdk_retries``). A successful
      response lists each entry's outcome; the SDK does not resend failed entries (AWS:
      SendMessageBatch, PublishBatch and PutEvents pages). With ``resend_failed_entries``
      (AWS's advice) the producer sends the failed entries of a response again, together, in a
      request of their own after the backoff its retry policy would use, taking a retry's
      tokens from the quota (``entries_resent``); an entry is sent at most
      ``retry.max_attempts`` times. A message whose entry succeeds moves on to its next
      ``send_to`` target (sequential fan-out); one that is given up is lost there, with its
      later targets.

Not modelled:
    * The SDKs' limits on batches in flight (the buffered client's 5 outbound batches), batch
      entry ids, the per-message size limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simpy.events import Event

from sim.config.producer import BatchSpec
from sim.engine.faults import THROTTLED
from sim.engine.ports import CLIENT_ERROR, MAX_BATCH_BYTES, BatchPort
from sim.engine.schedule import call_after

if TYPE_CHECKING:
    from sim.services.producer import Producer, _Send

__all__ = ["BatchRequest", "Batcher"]


class Batcher:
    """The batch being filled for one target of a producer."""

    __slots__ = ("gen", "linger_s", "nbytes", "port", "producer", "sends", "size")

    def __init__(self, producer: Producer, port: BatchPort, spec: BatchSpec) -> None:
        self.producer = producer
        self.port = port
        self.size = spec.size
        self.linger_s = spec.linger_s
        self.sends: list[_Send] = []
        self.nbytes = 0
        self.gen = 0  # numbers the batches: a linger timer of a batch already sent does nothing

    def add(self, send: _Send) -> None:
        """``send``'s message joins the batch (sent now if that fills it)."""
        size = send.msg.size_bytes
        if self.sends and self.nbytes + size > MAX_BATCH_BYTES:
            self.flush()
        self.sends.append(send)
        self.nbytes += size
        if len(self.sends) >= self.size:
            self.flush()
        elif len(self.sends) == 1:
            gen = self.gen
            call_after(self.producer.env, self.linger_s, lambda _: self._linger_over(gen))

    def _linger_over(self, gen: int) -> None:
        if gen == self.gen and self.sends:
            self.flush()

    def flush(self) -> None:
        """Send the batch now."""
        self.gen += 1
        sends, self.sends, self.nbytes = self.sends, [], 0
        BatchRequest(self, sends, 1, 0, 0.0).step()


class BatchRequest:
    """One batch request and its SDK retries (see the module docstring)."""

    __slots__ = ("attempt", "batcher", "cost", "sends", "slept")

    def __init__(
        self, batcher: Batcher, sends: list[_Send], attempt: int, cost: int, slept: float
    ) -> None:
        self.batcher = batcher
        self.sends = sends
        self.attempt = attempt  # the entries' attempt number (every entry here has had as many)
        self.cost = cost  # tokens the retry that made this request took from the quota
        self.slept = slept  # the backoff before it

    def step(self, _: Event | None = None) -> None:
        """Send the request (once the adaptive limiter, if any, lets it go)."""
        limiter = self.batcher.producer.limiter
        if limiter is not None:
            limiter.acquire(self._go)
        else:
            self._go()

    def _go(self) -> None:
        self.batcher.port.accept_batch([s.entry() for s in self.sends], self.reply)

    def _retry(self, sends: list[_Send], counter: str) -> bool:
        """Schedule ``sends`` again as the next attempt, if the policy and quota allow."""
        p = self.batcher.producer
        if self.attempt >= p.max_attempts:
            return False
        quota = p.quota
        cost = quota.acquire(False) if quota is not None else -1
        if not cost:
            p.ledger.count("sdk_retries_refused")
            if p.trace is not None:
                for s in sends:
                    p.ledger.log(p.env.now, p.name, "quota_empty", s.msg.id)
            return False
        delay = p.backoff.delay(self.attempt, self.slept)
        nxt = BatchRequest(self.batcher, sends, self.attempt + 1, max(cost, 0), delay)
        p.ledger.count(counter, 1 if counter == "sdk_retries" else len(sends))
        call_after(p.env, delay, nxt.step)
        return True

    def reply(self, error: str | None, errors: list[str | None]) -> None:
        """The answer: a request error, or each entry's outcome."""
        p = self.batcher.producer
        if p.limiter is not None:
            p.limiter.update(p.env.now, error == THROTTLED)
        if error is not None:
            if error == THROTTLED:
                p.send_stats.throttled += len(self.sends)
            if error == CLIENT_ERROR or not self._retry(self.sends, "sdk_retries"):
                for s in self.sends:
                    s.give_up()
            return
        if p.quota is not None:
            p.quota.succeeded(self.cost)
        failed: list[_Send] = []
        for s, e in zip(self.sends, errors, strict=True):
            if e is None:
                s.advance()
                continue
            if e == THROTTLED:
                p.send_stats.throttled += 1
            if e != CLIENT_ERROR and p.resend_failed_entries:
                failed.append(s)
            else:
                s.give_up()
        if failed and not self._retry(failed, "entries_resent"):
            for s in failed:
                s.give_up()
