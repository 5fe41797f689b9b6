"""Amazon SQS queues: standard and FIFO, with visibility timeouts, redrive and retention.

The package: :mod:`~sim.services.sqs.queue` (the base: copies, send, receive, delete,
visibility, redrive, retention, and the queue's port), :mod:`~sim.services.sqs.standard`,
:mod:`~sim.services.sqs.backlog` (a standard queue's compact backlog) and
:mod:`~sim.services.sqs.fifo`; :func:`make_queue` picks the class for a spec.

A queue stores :class:`QueueCopy` objects, each one stored copy of a (message, sink) pair.
A standard queue with more than ``pack_after`` (4,096) visible copies stores the new copies
that only it holds (sent by producers whose only target it is, never resent) as columns of
numbers, about 60 bytes each instead of about 480 for the three objects, and rebuilds the
objects when a copy leaves the line (received, expired): a consumer outage's backlog of
millions of messages fits in memory, and results are the same as without packing.

Modelled:
    * SendMessage (:meth:`Queue.accept`): per-request error rate and outages (a failed send is a
      retriable server error for the caller), ``latency_s`` before the reply and before the
      message is stored, queue-level ``delay_s``; SQS billing in 64 KB chunks.
    * ReceiveMessage of up to N messages (:meth:`Queue.receive`); each receive increments the
      receive count and starts the visibility timeout. A batch of B messages is ⌈B/10⌉
      billed requests (AWS: a ReceiveMessage returns at most 10 messages), each billed per
      64 KB chunk of what it returns. The idle long polls of a consumer's pollers are billed
      by the event source mapping (:mod:`sim.services.lambda_esm`). A message whose receive
      count has reached ``max_receive_count`` is moved to the dead-letter queue by the next
      receive instead of being delivered (AWS: "when ReceiveCount exceeds maxReceiveCount").
    * DeleteMessage (:meth:`Queue.delete`) with the latest receipt only; a delete during an
      outage fails and the message reappears after its visibility timeout (a duplicate).
    * Visibility timeout: a message neither deleted nor returned becomes visible again at
      receive time + ``visibility_timeout_s``; callers schedule this only when it can happen.
    * Retention: a message older than ``retention_s`` is deleted (fate ``expired``), checked
      when it would be delivered or become visible again and at the end of the run.
    * Dead-letter queues: a standard DLQ keeps the original enqueue time (a message can expire
      early there), a FIFO DLQ resets it; FIFO moves bypass deduplication. Redrive (a move task)
      sends DLQ messages back to their source queue, oldest first, at up to ``rate_per_s``,
      resetting retention and the receive count.
    * Standard queues: ``duplicate_rate`` — a delete misses a replica and the message is
      delivered again after the visibility timeout; ``reorder_rate`` — a message is stored
      behind the message sent after it; returned messages go to the back of the queue.
    * FIFO queues: strict order per message group, head-of-line blocking (no message of a group
      is delivered while another of the group is in flight; a receive takes as many as possible
      from the first available group, then from the next), the 5-minute deduplication window
      (explicit ids, or content-based: the body is unique per message in evsim, so a resend of
      the same message is the only content duplicate), and the throughput limit of
      ``max_calls_per_s`` calls per second per action (SendMessage or SendMessageBatch,
      ReceiveMessage; 300 by default: Amazon SQS message quotas). A throttled send fails with
      a throttling error that its sender retries under its own policy: the producer's SDK,
      a handler's send, SNS's delivery policy, EventBridge's or S3's retries
      (:meth:`Queue.try_delivery`: attempts made at their own times).
    * FIFO high-throughput mode (``high_throughput``; AWS: "High throughput for FIFO queues"):
      each message group gets a partition's ``partition_calls_per_s`` (300) SendMessage calls
      per second, the queue ``max_calls_per_s`` (70,000 by default: unconfirmed) in all, and
      deduplication is per message group.

Not modelled:
    * Short-polling false empty receives, the ~120,000 in-flight limit, message size limits.
    * How many partitions a high-throughput queue has (AWS adds them with traffic, no number):
      each group is given its own; the receive and delete limits per partition.
    * The 120,000-message backlog scan window of FIFO queues.
"""

from __future__ import annotations

from sim.config.sqs import SqsQueueSpec
from sim.engine.context import Context
from sim.services.sqs.fifo import FifoQueue
from sim.services.sqs.queue import DEDUP_WINDOW_S, Queue, QueueCopy, QueuePort
from sim.services.sqs.standard import StandardQueue

__all__ = [
    "DEDUP_WINDOW_S",
    "FifoQueue",
    "Queue",
    "QueueCopy",
    "QueuePort",
    "StandardQueue",
    "make_queue",
]


def make_queue(ctx: Context, name: str, spec: SqsQueueSpec) -> Queue:
    """A :class:`FifoQueue` or :class:`StandardQueue` for ``spec``."""
    return FifoQueue(ctx, name, spec) if spec.fifo else StandardQueue(ctx, name, spec)
