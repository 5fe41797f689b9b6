"""Rules for handlers that emit and call: what they may name, and loops that amplify.

What an output, a call or a destination may name, and output loops that could amplify without
bound.

An output loop is a cycle of the wiring that passes through a function's ``outputs`` (a
function emits to a queue whose consumer emits back, say). A loop that cannot amplify (every
component on it hands each message to at most one next component on the loop, and every
output on it emits at most one message per input) is accepted; one that can is rejected
unless the scenario bounds it with the top-level ``max_hops``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.config.components import ComponentSpec
from sim.config.eventbridge import EventBusSpec
from sim.config.handler import CountChoice, CountSpec
from sim.config.lambda_ import LambdaFunctionSpec
from sim.config.problems import RelProblem, show
from sim.config.s3 import S3BucketSpec
from sim.config.sns import SnsTopicSpec
from sim.config.sqs import SqsQueueSpec

__all__ = ["DEPENDENCY_TYPES", "OUTPUT_TYPES", "handler_checks", "handler_warnings"]

#: Component types a handler's ``outputs`` may send to.
OUTPUT_TYPES = ("sqs_queue", "sns_topic", "event_bus", "lambda_function", "endpoint")
#: Component types a handler's ``calls`` may call (dependencies).
DEPENDENCY_TYPES = ("database", "dynamodb_table", "http_api")
#: Component types an asynchronous ``on_success`` destination may name.
_DESTINATION_TYPES = ("sqs_queue", "sns_topic", "event_bus", "lambda_function")


def _a(component_type: str) -> str:
    article = "an" if component_type[0] in "aeios" or component_type.startswith("http") else "a"
    return f"{article} {component_type}"


def _any_of(types: tuple[str, ...]) -> str:
    names = [_a(t) for t in types]
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]


def _max_count(count: CountSpec) -> float:
    """The largest number of messages one output can emit per input (inf if unbounded)."""
    if isinstance(count, int):
        return float(count)
    if isinstance(count, CountChoice):
        return float(max(int(v) for v in count.choice.values))
    return float("inf")


def handler_checks(
    components: Mapping[str, ComponentSpec], max_hops: int | None
) -> list[RelProblem]:
    """Problems with the outputs, calls and destinations of every function."""
    out: list[RelProblem] = []
    unknown = f"no component of that name (components: {', '.join(components)})"

    def kind(path: tuple[str | int, ...], target: str, allowed: tuple[str, ...], what: str) -> None:
        spec = components.get(target)
        if spec is None:
            out.append((path, target, unknown))
        elif spec.type not in allowed:
            out.append((path, target, f"{what} must name {_any_of(allowed)}; "
                                      f"{target!r} is {_a(spec.type)}"))  # fmt: skip

    for name, c in components.items():
        if not isinstance(c, LambdaFunctionSpec):
            continue
        here = ("components", name)
        for i, o in enumerate(c.outputs):
            kind((*here, "outputs", i, "to"), o.to, OUTPUT_TYPES, "an output")
        for i, call in enumerate(c.calls):
            path = (*here, "calls", i, "dependency")
            kind(path, call.dependency, DEPENDENCY_TYPES, "a call")
            dep = components.get(call.dependency)
            per_env = call.connection == "per_environment"
            if per_env and dep is not None and str(dep.type) != "database":
                out.append(((*here, "calls", i, "connection"), call.connection,
                            f"per_environment connections apply to a database; "
                            f"{call.dependency!r} is {_a(dep.type)}"))  # fmt: skip
        dest = c.async_.on_success
        if dest is not None:
            kind((*here, "async", "on_success"), dest, _DESTINATION_TYPES, "a destination")
    out.extend(_loop_checks(components, max_hops))
    return out


def _edges(components: Mapping[str, ComponentSpec]) -> dict[str, list[tuple[str, float]]]:
    """Who hands a message to whom: ``name -> [(next, most messages per input)]``."""
    edges: dict[str, list[tuple[str, float]]] = {n: [] for n in components}
    for name, c in components.items():
        if isinstance(c, LambdaFunctionSpec):
            for o in c.outputs:
                edges[name].append((o.to, _max_count(o.count)))
            for dest in (c.async_.on_success, c.async_.on_failure):
                if dest is not None:
                    edges[name].append((dest, 1.0))
            if c.trigger is not None and c.trigger.source in edges:
                edges[c.trigger.source].append((name, 1.0))
        elif isinstance(c, SqsQueueSpec) and c.dead_letter is not None:
            edges[name].append((c.dead_letter.target, 1.0))
        elif isinstance(c, SnsTopicSpec):
            edges[name].extend((s.target, 1.0) for s in c.subscriptions)
        elif isinstance(c, EventBusSpec):
            edges[name].extend((t.target, 1.0) for r in c.rules for t in r.targets)
        elif isinstance(c, S3BucketSpec):
            edges[name].extend((n.target, 1.0) for n in c.notifications)
            if c.eventbridge is not None:
                edges[name].append((c.eventbridge, 1.0))
    return {n: [(t, k) for t, k in es if t in components] for n, es in edges.items()}


def _cycles(edges: dict[str, list[tuple[str, float]]]) -> list[list[str]]:
    """Strongly connected components with a cycle (Tarjan), each in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _ in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1 or any(w == v for w, _ in edges[v]):
                found.append(sorted(scc))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def _emits(c: ComponentSpec) -> bool:
    return isinstance(c, LambdaFunctionSpec) and bool(c.outputs)


def _loop_checks(components: Mapping[str, ComponentSpec], max_hops: int | None) -> list[RelProblem]:
    out: list[RelProblem] = []
    edges = _edges(components)
    for scc in _cycles(edges):
        members = set(scc)
        emitters = [n for n in scc if _emits(components[n])]
        if not emitters:
            continue  # a loop of the wiring alone (AWS services do not loop on their own)
        amplifies = any(
            sum(k for t, k in edges[n] if t in members) > 1 for n in scc
        )
        if amplifies and max_hops is None:
            first = components[emitters[0]]
            assert isinstance(first, LambdaFunctionSpec)
            out.append((("components", emitters[0], "outputs"), [o.to for o in first.outputs],
                        f"the outputs form a loop through {', '.join(scc)} that can amplify "
                        "without bound (a step on it hands a message to more than one next "
                        "step on the loop); set the top-level max_hops to bound it"))  # fmt: skip
    return out


def handler_warnings(components: Mapping[str, Any]) -> list[str]:
    """Settings accepted but suspicious.

    A call's client timeout beyond the function's; a ``max_message_age_s`` that can never act
    because its source drops messages younger than that (the trigger queue's retention, or
    asynchronous Lambda's ``max_event_age_s``).
    """
    out = []
    for name, c in components.items():
        if not isinstance(c, LambdaFunctionSpec):
            continue
        out.extend(_max_age_warnings(name, c, components))
        for i, call in enumerate(c.calls):
            t = call.timeout_s
            value = getattr(t, "value", None) if t is not None else None
            if value is not None and value > c.timeout_s:
                out.append(f"components.{name}.calls.{i}.timeout_s: {show(value)} — longer than "
                           f"the function's timeout_s ({show(c.timeout_s)}): the function times "
                           "out before the client gives up")  # fmt: skip
    return out


def _max_age_warnings(
    name: str, c: LambdaFunctionSpec, components: Mapping[str, Any]
) -> list[str]:
    """A ``max_message_age_s`` no input can reach: its source drops it before that age."""
    age = c.max_message_age_s
    if age is None:
        return []
    path = f"components.{name}.max_message_age_s: {show(age)}"
    if c.trigger is not None:
        queue = components.get(c.trigger.source)
        if isinstance(queue, SqsQueueSpec) and age >= queue.retention_s:
            return [f"{path} — not below the retention_s of its queue {c.trigger.source!r} "
                    f"({show(queue.retention_s)}): messages expire before they are that old, so "
                    "the handler never drops one"]  # fmt: skip
        return []
    limit = c.async_.max_event_age_s
    if age >= limit:
        return [f"{path} — not below async.max_event_age_s ({show(limit)}): Lambda discards "
                "asynchronous events before they are that old, so the handler never drops one"]
    return []
