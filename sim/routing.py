"""Routing of one message through forwarding components: plans, ports and retried deliveries.

A message's intended sinks are fixed when it is created (DESIGN §3) by following the wiring and
evaluating filters and event patterns on it. Every component a sender can address is reached
through a *port*, which offers:

* ``plan(msg) -> Plan``: the sinks behind the port for ``msg``, as a tree of branches (an
  EventBridge rule's targets, an S3 bucket's notifications, an SNS topic's subscriptions);
* ``send(msg, plan, pairs, reply)``: a request with an answer (PutEvents, PutObject, an HTTP
  request, SendMessage, Publish, Invoke). ``pairs`` are the message's pairs for ``plan.sinks``,
  in order. ``reply(None)`` means the port took one live unit of each pair; ``reply(error)``
  leaves them with the sender, which may retry. ``error`` is one of :data:`RETRIABLE` or
  :data:`CLIENT_ERROR` (never retried);
* for senders that retry on their own schedule (EventBridge, S3): ``attempt_fails(t)``,
  ``failing_until(t)``, ``always_fails()`` and ``hand_over(msg, plan, pairs)`` (the successful
  attempt, now).

:class:`Retrier` decides a whole retried delivery when it starts (EventBridge's exponential
backoff with jitter, a maximum age, a maximum number of retries), attempt by attempt but with
one scheduled event at its outcome, so that a 185-attempt schedule across a two-day outage costs
one SimPy event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sim.context import call_at
from sim.message import LOST, Message, Pair

if TYPE_CHECKING:
    import simpy

    from sim.ledger import Ledger
    from sim.services.endpoint import Endpoint
    from sim.services.lambda_ import LambdaFunction
    from sim.services.sns import Topic
    from sim.services.sqs import Queue
    from sim.specs_eb import DeliveryRetrySpec

__all__ = [
    "CLIENT_ERROR",
    "RETRIABLE",
    "EndpointPort",
    "FunctionPort",
    "Plan",
    "Port",
    "QueuePort",
    "Retrier",
    "RetryTarget",
    "TokenBucket",
    "TopicPort",
]

#: A non-retriable error answer (a 4xx other than 429: permission, payload too large).
CLIENT_ERROR = "client_error"
#: Error answers a client retries: server errors, throttling, timeouts.
RETRIABLE = frozenset({"unavailable", "throttled", "timeout", "server_error"})

#: A reply to a request: None on success, else the error kind.
Reply = Callable[[str | None], None]


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

    def send(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
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


class QueuePort:
    """An SQS queue as a target; its sink is the queue's consumer function, if any."""

    def __init__(self, queue: Queue, sink: str | None) -> None:
        self.queue = queue
        self.name = queue.name
        self._plan = Plan((sink,))

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """One pair: the queue's consumer (None if nobody consumes the queue)."""
        return self._plan

    def reachable(self) -> list[str]:
        """The consumer function, if any."""
        return [s for s in self._plan.sinks if s is not None]

    def send(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """SendMessage."""
        self.queue.accept(pairs[0], reply)

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


class FunctionPort:
    """A Lambda function invoked asynchronously (its internal queue); it is the sink."""

    def __init__(self, fn: LambdaFunction) -> None:
        self.fn = fn
        self.name = fn.name
        self._invoker = fn.async_invoker
        self._plan = Plan((fn.name,))

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """One pair: the function."""
        return self._plan

    def reachable(self) -> list[str]:
        """The function."""
        return [self.name]

    def send(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """Invoke (asynchronous)."""
        self._invoker.accept(pairs[0], reply)

    def attempt_fails(self, t_s: float) -> bool:
        """An Invoke at ``t_s`` fails (only during an outage)."""
        return self._invoker.attempt_fails(t_s)

    def failing_until(self, t_s: float) -> float | None:
        """End of the function's outage at ``t_s``."""
        return self._invoker.failing_until(t_s)

    def always_fails(self) -> bool:
        """Asynchronous invokes are accepted outside outages."""
        return False

    def hand_over(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        """The event enters the function's internal queue now."""
        self._invoker.take_delivery(pairs[0])


class SyncFunctionPort(FunctionPort):
    """A Lambda function invoked synchronously (behind API Gateway)."""

    def send(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """Invoke (RequestResponse): answered when the function finishes."""
        self.fn.invoke_sync(pairs[0], reply)


class EndpointPort:
    """An endpoint (an EventBridge API destination): the sink."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.name = endpoint.name
        self._plan = Plan((endpoint.name,))

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """One pair: the endpoint."""
        return self._plan

    def reachable(self) -> list[str]:
        """The endpoint."""
        return [self.name]

    def send(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """An HTTP request answered at once."""
        now = self.endpoint.env._now
        until = self.endpoint.failing_until(now)
        if until is not None or self.endpoint.attempt_fails(now):
            reply("unavailable")
            return
        reply(None)
        self.endpoint.take_delivery(pairs[0])

    def attempt_fails(self, t_s: float) -> bool:
        """A request at ``t_s`` fails."""
        return self.endpoint.attempt_fails(t_s)

    def failing_until(self, t_s: float) -> float | None:
        """End of the endpoint's outage at ``t_s``."""
        return self.endpoint.failing_until(t_s)

    def always_fails(self) -> bool:
        """Every request fails."""
        return self.endpoint.always_fails()

    def hand_over(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        """The request succeeds now."""
        self.endpoint.take_delivery(pairs[0])


class TopicPort:
    """An SNS topic: Publish, then each subscription with its own delivery policy."""

    def __init__(self, topic: Topic) -> None:
        self.topic = topic
        self.name = topic.name

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """One branch per subscription whose filter policy accepts ``msg`` (or ``body``)."""
        entries = self.topic.plan(msg, body)
        return Plan(
            tuple(sink for _, sink in entries),
            [(i, k, k + 1, None) for k, (i, _) in enumerate(entries)],
        )

    def reachable(self) -> list[str]:
        """The sinks of every subscription."""
        return [s.sink for s in self.topic.subscriptions if s.sink is not None]

    def send(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """Publish."""
        self.topic.publish(msg, _by_key(plan, pairs), reply)

    def attempt_fails(self, t_s: float) -> bool:
        """A Publish at ``t_s`` fails."""
        return self.topic.attempt_fails(t_s)

    def failing_until(self, t_s: float) -> float | None:
        """End of the topic's outage at ``t_s``."""
        return self.topic.failing_until(t_s)

    def always_fails(self) -> bool:
        """Every Publish fails."""
        return self.topic.always_fails()

    def hand_over(self, msg: Message, plan: Plan, pairs: list[Pair]) -> None:
        """The Publish succeeds now: deliveries start."""
        self.topic.accept_published(msg, _by_key(plan, pairs))


def _by_key(plan: Plan, pairs: list[Pair]) -> list[tuple[int, Pair]]:
    return [(key, pairs[lo]) for key, lo, _, _ in plan.parts]


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` stored (full at time 0)."""

    __slots__ = ("capacity", "rate", "t", "tokens")

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.t = 0.0

    def refill(self, now: float) -> None:
        """Add the tokens accrued since the last refill, up to ``capacity``."""
        if now > self.t:
            self.tokens = min(self.capacity, self.tokens + (now - self.t) * self.rate)
            self.t = now

    def take(self, now: float) -> bool:
        """Take a token if one is there (else nothing happens)."""
        self.refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def ready_at(self, now: float) -> float:
        """When the next token will be there (``now`` if one is)."""
        self.refill(now)
        return now if self.tokens >= 1.0 else now + (1.0 - self.tokens) / self.rate

    def reserve(self, now: float) -> float:
        """Take the next token, waiting in line if needed: the time it is granted."""
        self.refill(now)
        self.tokens -= 1.0
        return now if self.tokens >= 0.0 else now + -self.tokens / self.rate


class Retrier:
    """A retry policy with exponential backoff and jitter, decided ahead (module docstring).

    Retry ``i`` (1, 2, ...) comes ``d/2 + U(0, d/2)`` after the previous attempt, with
    ``d = min(base_s × 2^(i−1), cap_s)``; at most ``max_attempts`` retries, and none after the
    event is ``max_age_s`` old (counted from the first attempt). Attempts inside an outage of the
    target fail without drawing its error stream.
    """

    def __init__(
        self, env: simpy.Environment, policy: DeliveryRetrySpec, jitter: Callable[[], float]
    ) -> None:
        self.env = env
        self.max_retries = policy.max_attempts
        self.max_age_s = policy.max_age_s
        self.base_s = policy.base_s
        self.cap_s = policy.cap_s
        self.jitter = jitter

    def decide(self, port: RetryTarget, t0: float) -> tuple[bool, float, int]:
        """``(succeeded, time of the outcome, attempts made)`` of a delivery starting at ``t0``."""
        t = t0
        attempts = 1
        always = port.always_fails()
        end_of_age = t0 + self.max_age_s
        while True:
            if not always and port.failing_until(t) is None and not port.attempt_fails(t):
                return True, t, attempts
            if attempts > self.max_retries:
                return False, t, attempts
            d = min(self.base_s * 2.0 ** (attempts - 1), self.cap_s)
            nxt = t + 0.5 * d * (1.0 + self.jitter())
            if nxt > end_of_age:
                return False, end_of_age, attempts
            t = nxt
            attempts += 1


def give_up(ledger: Ledger, pairs: list[Pair], dead_letter: Queue | None, now: float) -> None:
    """A delivery given up: its pairs to ``dead_letter``, else lost."""
    for pair in pairs:
        if dead_letter is not None:
            dead_letter.store_parked(pair, now)
        else:
            ledger.drop(pair, LOST)


def at(env: simpy.Environment, t_s: float, fn: Callable[[], None]) -> None:
    """Call ``fn`` at time ``t_s`` (now if that is not in the future)."""
    delay = t_s - env._now
    if delay <= 0.0:
        fn()
    else:
        call_at(env, delay, lambda _: fn())
