"""Scenario → wired model → one run (one replication).

The phases follow a fixed order (``docs/architecture.md``): construct every component from
``(ctx, name, spec)`` through the registry (:mod:`sim.services.registry`); connect: ask each
for its port, then let each wire its own edges from one :class:`~sim.engine.wiring.Wiring`;
start the standing processes; run for ``duration_s + drain_s``; finalize (retention expiry of
what is still stored); check conservation; collect the metrics, those of the dependencies
(``database``, ``dynamodb_table``, ``http_api``: not sinks, reported by name) and of the
queues included.

Recording the time series (:mod:`sim.engine.observe`) is on when the scenario has ``observe``
or the caller asks (``observe=True``), and off otherwise: a run without it schedules nothing
more than before.
"""

from __future__ import annotations

import gc
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.metrics import RunResult
from sim.config.scenario import Scenario
from sim.engine.component import Component
from sim.engine.context import Context
from sim.engine.cost import CostMeter
from sim.engine.faults import Faults
from sim.engine.ledger import Ledger
from sim.engine.observe import Recorder, default_interval_s
from sim.engine.schedule import Environment
from sim.engine.streams import RandomStreams
from sim.engine.wiring import Wiring
from sim.services.apigateway import ApiGateway
from sim.services.cloudtrail import Trail
from sim.services.dependency import Dependency
from sim.services.endpoint import Endpoint
from sim.services.eventbridge import EventBus
from sim.services.lambda_ import LambdaFunction
from sim.services.producer import Producer
from sim.services.registry import SERVICES
from sim.services.s3 import Bucket
from sim.services.sns import Topic
from sim.services.sqs.queue import Queue

__all__ = ["Model", "RunResult", "build", "interval_s", "run_once"]

#: The order in which component types connect (see :meth:`Model._connect`).
_CONNECT_ORDER = (
    "sqs_queue", "lambda_function", "sns_topic", "event_bus", "s3_bucket", "cloudtrail",
    "api_gateway", "producer",
)  # fmt: skip

#: Component type -> the attribute of :class:`Model` that holds those components by name.
_BY_TYPE = {
    "sqs_queue": "queues", "lambda_function": "functions", "producer": "producers",
    "sns_topic": "topics", "endpoint": "endpoints", "event_bus": "buses", "s3_bucket": "buckets",
    "api_gateway": "apis", "cloudtrail": "trails", "database": "dependencies",
    "dynamodb_table": "dependencies", "http_api": "dependencies",
}  # fmt: skip

#: Run-level totals over the dependencies: run metric -> per-dependency metric summed.
_DEPENDENCY_TOTALS = {
    "dependency_calls": "calls", "dependency_throttled": "throttled",
    "dependency_timeouts": "timeouts", "dependency_wasted_s": "wasted_s",
    "breaker_rejected": "breaker_rejected", "breaker_opened": "breaker_opened",
    "breaker_open_s": "breaker_open_s",
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
        observe: bool = False,
        fast_paths: bool = True,
    ) -> None:
        self.scenario = scenario
        self.rep = rep
        self.seed = scenario.seed if seed is None else seed
        env = Environment()
        self.env = env
        streams = RandomStreams(self.seed, rep)
        ledger = Ledger(env, scenario.warmup_s, keep_samples, trace)
        cost = CostMeter()
        faults = Faults(scenario.outages, streams)
        self.ctx = Context(env, streams, ledger, faults, cost, scenario, fast_paths)
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
        self.dependencies: dict[str, Dependency] = {}
        self._construct()
        self._connect()
        self.recorder: Recorder | None = None
        if observe or scenario.observe is not None:
            self.recorder = Recorder(
                env,
                interval_s(scenario),
                scenario.duration_s + scenario.drain_s,
                self.components,
                ledger,
                lambda: cost.total(scenario.prices),
            )

    @property
    def components(self) -> dict[str, Component]:
        """Every component by name."""
        return {
            **self.queues, **self.functions, **self.topics, **self.endpoints, **self.buses,
            **self.buckets, **self.apis, **self.trails, **self.dependencies, **self.producers,
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
        """Give every component the wiring: ports first, then ``connect`` in type order.

        The order of the types is fixed (it decides the order in which sinks are registered,
        and so the order of the per-sink tables); within a type, the scenario file's order.
        """
        wiring = Wiring(self.scenario, self.ledger, self.components)
        for name, component in self.components.items():
            port = component.port(wiring)
            if port is not None:
                wiring.ports[name] = port
        for component_type in _CONNECT_ORDER:
            for component in getattr(self, _BY_TYPE[component_type]).values():
                component.connect(wiring)
        # sinks that no producer reaches directly: the consumers of dead-letter queues and
        # what handlers' outputs lead to (after the producers', so their order is kept)
        ledger = self.ctx.ledger
        for queue in self.queues.values():
            if queue.consumer_sink is not None:
                ledger.sink(queue.consumer_sink)
        for fn in self.functions.values():
            for sink in fn.handler.reachable():
                ledger.sink(sink)

    def run(self) -> RunResult:
        """Start, run to ``duration_s + drain_s``, finalize and collect the metrics."""
        scenario = self.scenario
        env = self.env
        if scenario.warmup_s > 0:
            env.process(self._run_warmup())
        for c in self.components.values():
            c.start()
        if self.recorder is not None and scenario.warmup_s <= 0:
            self.recorder.begin()
        horizon = scenario.duration_s + scenario.drain_s
        # Everything allocated so far (the imports, the model) outlives the run: out of the
        # collector's way while it runs, the collections the run's own objects trigger skip it
        # (15% of a 3-stage pipeline's time went to them). Thawed afterwards, so nothing
        # that becomes garbage later is kept.
        gc.freeze()
        try:
            env.run(until=horizon)
        finally:
            gc.unfreeze()
        for c in self.components.values():
            c.finalize()
        if self.recorder is not None:
            self.recorder.finish()
        ledger = self.ledger
        ledger.check_conservation()
        out = ledger.results()
        metrics = out["metrics"]
        by_component = self.ctx.cost.cost_by_component(scenario.prices)
        metrics["cost_usd"] = sum(by_component.values())
        for service, usd in self.ctx.cost.cost_by_service(scenario.prices).items():
            metrics[f"cost_usd_{service}"] = usd
        fns = list(self.functions.values())
        metrics["concurrency_max"] = fns[0].account_concurrency_max if fns else 0
        metrics.update(ledger.counters)
        produced = metrics["messages_produced"]
        metrics["cost_per_million_usd"] = (
            metrics["cost_usd"] / produced * 1e6 if produced else None
        )
        dependencies = {name: d.metrics() for name, d in self.dependencies.items()}
        for name, m in dependencies.items():
            m["cost_usd"] = by_component.get(name, 0.0)
            breakers = self.dependencies[name].breakers  # of the calls to it
            m["breaker_rejected"] = sum(b.rejected for b in breakers)
            m["breaker_opened"] = sum(b.opened for b in breakers)
            m["breaker_open_s"] = sum((b.open_s for b in breakers), 0.0)
        for total, name in _DEPENDENCY_TOTALS.items():
            metrics[total] = sum(m[name] for m in dependencies.values())
        for sink, m in out["sinks"].items():
            fn = self.functions.get(sink)
            m["concurrency_max"] = fn.concurrency_max if fn is not None else 0
            source = fn.spec.trigger.source if fn is not None and fn.spec.trigger else None
            m["cost_usd"] = by_component.get(sink, 0.0) + (
                by_component.get(source, 0.0) if source else 0.0
            )
        trace = None
        if ledger.trace is not None:
            trace = pd.DataFrame(ledger.trace, columns=["t_s", "component", "event", "msg_id"])
            trace["component"] = trace["component"].astype("category")
            trace["event"] = trace["event"].astype("category")
        queues = {
            name: {"backlog_max": q.backlog_max, "oldest_age_max_s": q.oldest_age_max_s}
            for name, q in self.queues.items()
        }
        diagnostics = {
            "in_flight_area": {s: ledger.in_flight_area(s, horizon) for s in ledger.sinks},
            "horizon_s": horizon,
            "arrival_window_s": scenario.duration_s - scenario.warmup_s,
            "warnings": self._warnings(out["sinks"]),
        }
        return RunResult(
            scenario.name, self.rep, self.seed, metrics, out["sinks"], trace, diagnostics,
            dependencies, queues, self._timeseries(),
        )

    def _timeseries(self) -> pd.DataFrame | None:
        """The recorded samples as a tidy frame (``rep, t_s, component, metric, value``)."""
        if self.recorder is None:
            return None
        cols = self.recorder.columns()
        codes, names = cols["component"]
        m_codes, m_names = cols["metric"]
        return pd.DataFrame(
            {
                "rep": np.full(len(cols["t_s"]), self.rep, dtype=np.int64),
                "t_s": cols["t_s"],
                "component": pd.Categorical.from_codes(codes, categories=names),
                "metric": pd.Categorical.from_codes(m_codes, categories=m_names),
                "value": cols["value"],
            }
        )

    def _warnings(self, sinks: dict[str, dict[str, Any]]) -> list[str]:
        """What makes a result of this run doubtful, one sentence each."""
        out = []
        dead_letter_queues = {
            q.dlq.name for q in self.queues.values() if q.dlq is not None
        } | {
            f.spec.async_.on_failure for f in self.functions.values() if f.spec.async_.on_failure
        }
        for q in self.queues.values():
            sink = q.consumer_sink
            if q.name in dead_letter_queues and sink is not None and sinks[sink]["in_flight"]:
                out.append(
                    f"{sink} consumes the dead-letter queue {q.name} and ends the run with "
                    "messages in flight: a consumer that keeps failing retries them until their "
                    "retention ends"
                )
        return out

    def _run_warmup(self) -> Any:
        yield self.env.timeout(self.scenario.warmup_s)
        self.ledger.counting = True
        self.ctx.cost.reset()
        for c in self.components.values():
            c.end_warmup()
        if self.recorder is not None:
            self.recorder.begin()


def interval_s(scenario: Scenario) -> float:
    """The scenario's time-series interval: ``observe.interval_s``, else the default.

    The default is (``duration_s`` + ``drain_s``) ÷ 600 to the nearest whole second, at least
    1 s.
    """
    spec = scenario.observe
    if spec is not None and spec.interval_s is not None:
        return spec.interval_s
    return default_interval_s(scenario.duration_s + scenario.drain_s)


def build(
    scenario: Scenario,
    rep: int = 0,
    seed: int | None = None,
    keep_samples: bool = False,
    trace: bool = False,
    observe: bool = False,
    fast_paths: bool = True,
) -> Model:
    """Build ``scenario`` for replication ``rep`` (root seed ``seed``, default the scenario's).

    ``observe`` records the time series even when the scenario has no ``observe`` field.
    ``fast_paths=False`` makes every component take its general path (same results, slower:
    for testing the fast paths against it).
    """
    return Model(scenario, rep, seed, keep_samples, trace, observe, fast_paths)


def run_once(
    scenario: Scenario,
    rep: int = 0,
    seed: int | None = None,
    keep_samples: bool = False,
    trace: bool = False,
    observe: bool = False,
    fast_paths: bool = True,
) -> RunResult:
    """Build and run one replication of ``scenario``.

    With ``observe`` (or an ``observe`` field in the scenario) the result carries the time
    series (:attr:`RunResult.timeseries`). ``fast_paths``: see :func:`build`.
    """
    return build(scenario, rep, seed, keep_samples, trace, observe, fast_paths).run()


