"""Ports: how a sender reaches any component, whatever its kind.

A message's intended sinks are fixed when it is created (``docs/metrics.md``) by following the
wiring and evaluating filters and event patterns on it. Every component a sender can address is
reached through its *port* (the component itself, or a small adapter in the service's module),
which offers:

* ``plan(msg) -> Plan``: the sinks behind the port for ``msg``, as a tree of branches (an
  EventBridge rule's targets, an S3 bucket's notifications, an SNS topic's subscriptions);
* ``accept(msg, plan, pairs, reply)``: the one inbound request (SendMessage, Publish,
  PutEvents, PutObject, an HTTP request, Invoke). ``pairs`` are the message's pairs for
  ``plan.sinks``, in order. ``reply(None)`` means the port took one live unit of each pair;
  ``reply(error)`` leaves them with the sender, which may retry. ``error`` is one of
  :data:`RETRIABLE` or :data:`CLIENT_ERROR` (never retried). An answer that is known at once
  is given at once, with no SimPy event;
* for the targets of batch APIs (SQS queues: SendMessageBatch; SNS topics: PublishBatch;
  EventBridge buses: PutEvents), a :class:`BatchPort` also offers ``accept_batch(entries,
  reply)``: one request of several messages, answered per entry (:data:`BatchReply`);
* for senders that decide a whole retry schedule ahead (SNS subscriptions, EventBridge and S3
  targets), a :class:`RetryTarget` also offers ``attempt_fails(t)``, ``failing_until(t)``,
  ``always_fails()`` and ``hand_over(msg, plan, pairs)``: the successful attempt, now;
* a :class:`RetryTarget` whose answer depends on the requests made just before (a rate limit:
  a FIFO queue's throughput, an API destination's invocation rate) sets ``live`` and offers
  ``try_deliver(msg, plan, pairs) -> Attempt``: one attempt made now, handed over if it
  succeeds. Retrying senders then make each attempt at its own time (still skipping known
  outages arithmetically with ``failing_until``) instead of deciding the schedule ahead.

The scheduling of retried deliveries is :mod:`sim.engine.retry`; the sender never needs to know
what kind of component is behind a port.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

from sim.engine.message import Message, Pair

__all__ = [
    "CLIENT_ERROR",
    "FAILED_ENTRY",
    "MAX_BATCH_BYTES",
    "RETRIABLE",
    "TIMEOUT",
    "Attempt",
    "BatchEntry",
    "BatchPort",
    "BatchReply",
    "LiveTarget",
    "Plan",
    "Port",
    "Reply",
    "RetryTarget",
    "is_live",
]

#: A non-retriable error answer (a 4xx other than 429: permission, payload too large).
CLIENT_ERROR: Final = "client_error"
#: No answer within the caller's timeout (the request may still have been processed).
TIMEOUT: Final = "timeout"
#: A successful response reporting the request's one entry as failed (PutEvents'
#: ``FailedEntryCount``): the SDK does not retry it, the caller may send it again.
FAILED_ENTRY: Final = "failed_entry"
#: Error answers a client retries: server errors, throttling, timeouts, failed entries.
RETRIABLE = frozenset({"unavailable", "throttled", TIMEOUT, "server_error", FAILED_ENTRY})
#: The largest batch request (SendMessageBatch, PublishBatch, PutEvents): 262,144 bytes.
MAX_BATCH_BYTES: Final = 262_144

#: A reply to a request: None on success, else the error kind.
Reply = Callable[[str | None], None]
#: One attempt of a live delivery: ``(error or None, seconds until the sender has the answer)``
#: (an API destination's timeout answers after ``timeout_s``; other answers come at once).
Attempt = tuple[str | None, float]


class Plan:
    """What a port will do with one message.

    Attributes:
        sinks: The intended sinks behind the port, flattened in branch order (``None``: a path
            nobody consumes).
        parts: ``(key, lo, hi, child)`` per branch: the branch's key (a subscription index, a
            ``(rule, target)`` pair, ...), its pairs ``[lo:hi]`` and its own plan (or None).
        event: The event the plan was made for (EventBridge, S3), if any.
    """

    __slots__ = ("event", "parts", "sinks")

    def __init__(
        self,
        sinks: tuple[str | None, ...],
        parts: list[tuple[Any, int, int, Plan | None]] | None = None,
        event: dict[str, Any] | None = None,
    ) -> None:
        self.sinks = sinks
        self.parts = parts if parts is not None else []
        self.event = event

    @classmethod
    def join(
        cls, branches: Sequence[tuple[Any, Plan]], event: dict[str, Any] | None = None
    ) -> Plan:
        """A plan whose branches are ``(key, child plan)`` in order."""
        sinks: list[str | None] = []
        parts: list[tuple[Any, int, int, Plan | None]] = []
        for key, child in branches:
            lo = len(sinks)
            sinks.extend(child.sinks)
            parts.append((key, lo, len(sinks), child))
        return cls(tuple(sinks), parts, event)


#: The answer to a batch request: ``(error, per-entry errors)``. A request error (an outage,
#: the request throttled) fails every entry and the SDK may retry the request; otherwise each
#: entry's error, None for an entry that succeeded (the port took one live unit of its pairs).
BatchReply = Callable[[str | None, list[str | None]], None]
#: One entry of a batch request: the message, its plan behind the port, and its pairs.
BatchEntry = tuple[Message, Plan, list[Pair]]


class Port(Protocol):
    """What a sender needs from the component it addresses (see the module docstring)."""

    name: str

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """The intended sinks behind this port for ``msg``.

        ``body`` is the JSON an AWS service sends on (an EventBridge event, an S3
        notification), for ports that filter on it (SNS body-scope filter policies).
        """
        ...

    def reachable(self) -> list[str]:
        """Every sink this port can lead to (for registering sinks at build time)."""
        ...

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """A request with an answer; see the module docstring."""
        ...


class RetryTarget(Port, Protocol):
    """A port that a retrying sender (EventBridge, S3) delivers to on its own schedule."""

    def attempt_fails(self, t_s: float) -> bool:
        """Whether one delivery attempt at ``t_s`` fails."""
        ...

    def failing_until(self, t_s: float) -> float | None:
        """End of an outage that makes every attempt at ``t_s`` fail, if any."""
        ...

    def always_fails(self) -> bool:
        """True if every attempt fails whatever the time."""
        ...

    def hand_over(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        """The successful attempt of a retried delivery, now."""
        ...


class BatchPort(Port, Protocol):
    """A port that takes batch requests (see the module docstring)."""

    def accept_batch(self, entries: list[BatchEntry], reply: BatchReply) -> None:
        """One batch request of ``entries``; answered per entry."""
        ...


class LiveTarget(Protocol):
    """A retry target whose attempts are made at their own times (see the module docstring)."""

    def failing_until(self, t_s: float) -> float | None:
        """End of an outage that makes every attempt at ``t_s`` fail, if any."""
        ...

    def always_fails(self) -> bool:
        """True if every attempt fails whatever the time."""
        ...

    def try_deliver(self, msg: Message, plan: Plan, pairs: list[Pair]) -> Attempt:
        """One delivery attempt now; on success the message is handed over."""
        ...


def is_live(port: RetryTarget) -> bool:
    """True when ``port`` must be tried attempt by attempt (a :class:`LiveTarget`)."""
    return bool(getattr(port, "live", False))
