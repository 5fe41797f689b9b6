"""Scenario → wired model → one run (one replication).

The phases follow a fixed order: construct every component from its spec, connect the edges
(dead-letter queues, event source mappings, producer targets and the intended sinks behind
them), start the standing processes, run for ``duration_s + drain_s``, finalize (retention
expiry of what is still stored), check conservation, collect the metrics.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import simpy

from sim.analysis.metrics import RunResult
from sim.config.scenario import Scenario
from sim.engine.component import Component
from sim.engine.context import Context
from sim.engine.cost import CostMeter
from sim.engine.faults import Faults
from sim.engine.ledger import Ledger
from sim.engine.streams import RandomStreams
from sim.services.apigateway import ApiGateway
from sim.services.cloudtrail import Trail
from sim.services.endpoint import Endpoint, EndpointPort
from sim.services.eventbridge import EventBus
from sim.services.lambda_ import ConcurrencyPool, FunctionPort, LambdaFunction, SyncFunctionPort
from sim.services.lambda_esm import EventSourceMapping
from sim.services.producer import Producer
from sim.services.registry import SERVICES
from sim.services.s3 import Bucket
from sim.services.sns import DeliveryTarget, Subscription, Topic, TopicPort
from sim.services.sqs import Queue, QueuePort

__all__ = ["Model", "RunResult", "build", "run_once"]

#: Component type -> the attribute of :class:`Model` that holds those components by name.
_BY_TYPE = {
    "sqs_queue": "queues", "lambda_function": "functions", "producer": "producers",
    "sns_topic": "topics", "endpoint": "endpoints", "event_bus": "buses", "s3_bucket": "buckets",
    "api_gateway": "apis", "cloudtrail": "trails",
}  # fmt: skip


class Model:
    """A scenario built into SimPy components for one replication."""

    def __init__(
        self,
        scenario: Scenario,
        rep: int = 0,
        seed: int | None = None,
        keep_samples: bool = False,
        trace: bool = False,
    ) -> None:
        self.scenario = scenario
        self.rep = rep
        self.seed = scenario.seed if seed is None else seed
        env = simpy.Environment()
        self.env = env
        streams = RandomStreams(self.seed, rep)
        ledger = Ledger(env, scenario.warmup_s, keep_samples, trace)
        cost = CostMeter()
        self.ctx = Context(env, streams, ledger, Faults(scenario.outages, streams), cost, scenario)
        self.ledger = ledger
        self.queues: dict[str, Queue] = {}
        self.functions: dict[str, LambdaFunction] = {}
        self.producers: dict[str, Producer] = {}
        self.topics: dict[str, Topic] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.buses: dict[str, EventBus] = {}
        self.buckets: dict[str, Bucket] = {}
        self.apis: dict[str, ApiGateway] = {}
        self.trails: dict[str, Trail] = {}
        self.ports: dict[str, Any] = {}  # name -> Port (and RetryTarget where it is one)
        self._construct()
        self._connect()

    @property
    def components(self) -> dict[str, Component]:
        """Every component by name."""
        return {
            **self.queues, **self.functions, **self.topics, **self.endpoints, **self.buses,
            **self.buckets, **self.apis, **self.trails, **self.producers,
        }  # fmt: skip

    def _construct(self) -> None:
        """Build every component through the registry; producers last, in file order."""
        ctx = self.ctx
        specs = self.scenario.components
        order = [n for n, s in specs.items() if s.type != "producer"]
        order += [n for n, s in specs.items() if s.type == "producer"]
        for name in order:
            spec = specs[name]
            component = SERVICES[spec.type](ctx, name, spec)
            getattr(self, _BY_TYPE[spec.type])[name] = component

    def _connect(self) -> None:
        scenario = self.scenario
        for queue in self.queues.values():
            dl = queue.spec.dead_letter
            if dl is not None:
                queue.connect_dead_letter(self.queues[dl.target], dl.max_receive_count)
        reserved = sum(
            f.spec.reserved_concurrency or 0 for f in self.functions.values()
        )
        shared = ConcurrencyPool(max(0, scenario.account_concurrency - reserved))
        consumer_of: dict[str, str] = {}
        for name, fn in self.functions.items():
            rc = fn.spec.reserved_concurrency
            fn.pool = ConcurrencyPool(rc) if rc is not None else shared
            trigger = fn.spec.trigger
            if trigger is not None:
                EventSourceMapping(fn, self.queues[trigger.source], trigger)
                consumer_of[trigger.source] = name
        for fn in self.functions.values():
            dest = fn.spec.async_.on_failure
            if dest is not None and dest in self.queues:
                fn.async_invoker.destination_queue = self.queues[dest]
        for name, topic in self.topics.items():
            self._subscribe(name, topic, consumer_of)
        self._connect_ports(consumer_of)
        for producer in self.producers.values():
            send_to = producer.spec.send_to
            if all(t in self.queues for t in send_to) and producer.limiter is None:
                targets = [self.queues[t] for t in send_to]
                sinks = [consumer_of.get(t) for t in send_to]
                producer.connect(targets, self.ledger.route(sinks))
                continue
            ports = [self.ports[t] for t in send_to]
            for port in ports:
                for sink in port.reachable():
                    self.ledger.sink(sink)
            producer.connect_ports(ports)

    def _connect_ports(self, consumer_of: dict[str, str]) -> None:
        """A port for every addressable component; wire buses, buckets, APIs and trails."""
        ports = self.ports
        for name, queue in self.queues.items():
            ports[name] = QueuePort(queue, consumer_of.get(name))
        for name, fn in self.functions.items():
            ports[name] = FunctionPort(fn)
        for name, topic in self.topics.items():
            ports[name] = TopicPort(topic)
        for name, endpoint in self.endpoints.items():
            ports[name] = EndpointPort(endpoint)
        ports.update(self.buses)
        ports.update(self.buckets)
        ports.update(self.apis)
        ports.update(self.trails)
        for bus in self.buses.values():
            bus.connect(ports, self.queues)
        for bucket in self.buckets.values():
            eb = bucket.spec.eventbridge
            bucket.connect(ports, self.buses[eb] if eb is not None else None)
        for trail in self.trails.values():
            trail.connect(self.buses[trail.spec.bus])
        for api in self.apis.values():
            target = api.spec.integration
            sync = self.functions.get(target)
            api.connect(SyncFunctionPort(sync) if sync is not None else ports[target])

    def _subscribe(self, name: str, topic: Topic, consumer_of: dict[str, str]) -> None:
        """Wire ``topic``'s subscriptions to their targets and register their sinks."""
        for i, spec in enumerate(topic.spec.subscriptions):
            target: DeliveryTarget
            sink: str | None
            if spec.target in self.queues:
                target, protocol = self.queues[spec.target], "sqs"
                sink = consumer_of.get(spec.target)
            elif spec.target in self.functions:
                target, protocol = self.functions[spec.target].async_invoker, "lambda"
                sink = spec.target
            else:
                endpoint = self.endpoints[spec.target]
                target, protocol, sink = endpoint, endpoint.protocol, spec.target
            if sink is not None:
                self.ledger.sink(sink)
            dlq = self.queues[spec.dead_letter.target] if spec.dead_letter else None
            draw = (
                self.ctx.streams.uniform(name, f"client_errors:{i}")
                if spec.client_error_rate > 0
                else None
            )
            topic.subscribe(Subscription(spec, protocol, target, dlq, sink, draw))

    def run(self) -> RunResult:
        """Start, run to ``duration_s + drain_s``, finalize and collect the metrics."""
        scenario = self.scenario
        env = self.env
        if scenario.warmup_s > 0:
            env.process(self._run_warmup())
        for c in self.components.values():
            c.start()
        horizon = scenario.duration_s + scenario.drain_s
        env.run(until=horizon)
        for c in self.components.values():
            c.finalize()
        ledger = self.ledger
        ledger.check_conservation()
        out = ledger.results()
        metrics = out["metrics"]
        by_component = self.ctx.cost.cost_by_component(scenario.prices)
        metrics["cost_usd"] = sum(by_component.values())
        metrics.update(ledger.counters)
        produced = metrics["messages_produced"]
        metrics["cost_per_million_usd"] = (
            metrics["cost_usd"] / produced * 1e6 if produced else None
        )
        for sink, m in out["sinks"].items():
            fn = self.functions.get(sink)
            source = fn.spec.trigger.source if fn is not None and fn.spec.trigger else None
            m["cost_usd"] = by_component.get(sink, 0.0) + (
                by_component.get(source, 0.0) if source else 0.0
            )
        trace = None
        if ledger.trace is not None:
            trace = pd.DataFrame(ledger.trace, columns=["t_s", "component", "event", "msg_id"])
            trace["component"] = trace["component"].astype("category")
            trace["event"] = trace["event"].astype("category")
        diagnostics = {
            "in_flight_area": {s: ledger.in_flight_area(s, horizon) for s in ledger.sinks},
            "horizon_s": horizon,
            "arrival_window_s": scenario.duration_s - scenario.warmup_s,
        }
        return RunResult(
            scenario.name, self.rep, self.seed, metrics, out["sinks"], trace, diagnostics
        )

    def _run_warmup(self) -> Any:
        yield self.env.timeout(self.scenario.warmup_s)
        self.ledger.counting = True
        self.ctx.cost.reset()


def build(
    scenario: Scenario,
    rep: int = 0,
    seed: int | None = None,
    keep_samples: bool = False,
    trace: bool = False,
) -> Model:
    """Build ``scenario`` for replication ``rep`` (root seed ``seed``, default the scenario's)."""
    return Model(scenario, rep, seed, keep_samples, trace)


def run_once(
    scenario: Scenario,
    rep: int = 0,
    seed: int | None = None,
    keep_samples: bool = False,
    trace: bool = False,
) -> RunResult:
    """Build and run one replication of ``scenario``."""
    return build(scenario, rep, seed, keep_samples, trace).run()


