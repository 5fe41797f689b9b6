"""Adapters (temporary home)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.engine.message import Message, Pair

if TYPE_CHECKING:

    from sim.services.endpoint import Endpoint
    from sim.services.lambda_ import LambdaFunction
    from sim.services.sns import Topic
    from sim.services.sqs import Queue
from sim.engine.ports import Plan, Reply

__all__ = ["EndpointPort", "FunctionPort", "QueuePort", "SyncFunctionPort", "TopicPort"]


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
