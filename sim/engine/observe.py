"""The time-series recorder: what happened when, one sample per component and metric.

Every ``interval_s`` of simulated time one scheduled callback takes a sample of the whole
model: each component's :meth:`~sim.engine.component.Component.observe` gives its states
(values now: a queue's visible messages, a function's concurrency) and its counts so far
(messages sent, invocations); the recorder keeps the states as they are and turns each count
into a rate, (count now − count at the previous sample) ÷ the interval's length. Every sink
adds ``delivered_per_s`` and the 50th and 99th percentiles of the latencies of the pairs
delivered in the interval, and the run adds its cumulative ``cost_usd`` (component ``"run"``).
The metrics of each component type are listed in ``docs/metrics.md``.

The recording covers the counted period, like the run's metrics: it starts at ``warmup_s``
(or 0) and samples at ``start + k × interval_s`` for k = 1, 2, ... and at the end of the run
(the last interval may be shorter). Memory grows with the number of samples, never with the
number of messages: counts are read from counters the components keep anyway, and the
latencies of an interval are the difference of two snapshots of each sink's latency histogram
(no latency is stored twice). Taking a sample changes nothing in the model, so a run gives the
same metrics with or without recording.
"""

from __future__ import annotations

import math
import time
from array import array
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from sim.engine.fates import DELIVERED
from sim.engine.ledger import Ledger
from sim.engine.schedule import Environment, Timer
from sim.engine.stats import Mark

__all__ = ["RUN", "Observable", "Recorder", "default_interval_s"]

#: The component name of the run-level series (``cost_usd``).
RUN = "run"

#: Samples in a run at the default interval.
_DEFAULT_SAMPLES = 600


def default_interval_s(horizon_s: float) -> float:
    """The default interval: ``horizon_s`` ÷ 600 to the nearest whole second, at least 1 s."""
    return float(max(1, math.floor(horizon_s / _DEFAULT_SAMPLES + 0.5)))


class Observable(Protocol):
    """A component the recorder samples."""

    name: str

    def observe(self) -> tuple[dict[str, float], dict[str, float]] | None:
        """``(states, counts)`` now, or None when there is nothing to record."""
        ...


class _Series:
    """What the recorder keeps between two samples of one sink's latencies."""

    __slots__ = ("delivered", "mark")

    def __init__(self, delivered: int, mark: Mark) -> None:
        self.delivered = delivered
        self.mark = mark


class Recorder:
    """Samples a model every ``interval_s`` of simulated time (see the module docstring).

    Args:
        env: The run's environment.
        interval_s: Time between two samples (seconds, > 0).
        horizon_s: The end of the run: no scheduled sample at or after it (:meth:`finish`
            takes the last one).
        components: The components to sample, in the order of the output.
        ledger: The run's ledger (its sinks' delivered counts and latency histograms).
        cost: The run's cumulative cost now (USD).
    """

    def __init__(
        self,
        env: Environment,
        interval_s: float,
        horizon_s: float,
        components: Mapping[str, Observable],
        ledger: Ledger,
        cost: Callable[[], float],
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, not {interval_s!r}")
        self.env = env
        self.interval_s = interval_s
        self.horizon_s = horizon_s
        self._components = list(components.values())
        self._ledger = ledger
        self._cost = cost
        self._start = 0.0
        self._k = 0
        self._last_t: float | None = None
        self._prev: dict[tuple[str, str], float] = {}
        self._sinks: dict[str, _Series] = {}
        self._keys: dict[tuple[str, str], int] = {}
        #: CPU seconds spent taking samples so far (what recording adds to a run)
        self.sample_cpu_s = 0.0
        #: one row per (sample, component, metric): time, key index, value
        self.t_s = array("d")
        self.key = array("q")
        self.value = array("d")

    # -- the schedule -------------------------------------------------------------------------

    def begin(self) -> None:
        """Start recording now: read every count, and schedule the first sample."""
        now = self.env.now
        self._start = now
        self._last_t = now
        for c in self._components:
            obs = c.observe()
            if obs is not None:
                for metric, count in obs[1].items():
                    self._prev[(c.name, metric)] = float(count)
        for name, stats in self._ledger.sinks.items():
            self._sinks[name] = _Series(stats.fates[DELIVERED], stats.hist.mark())
        self._schedule()

    def _schedule(self) -> None:
        self._k += 1
        t = self._start + self._k * self.interval_s
        if t < self.horizon_s:
            Timer(self.env, max(0.0, t - self.env.now), self._tick)

    def _tick(self, _: Timer) -> None:
        self._timed_sample(self._start + self._k * self.interval_s)
        self._schedule()

    def finish(self) -> None:
        """Take the last sample, at the end of the run (now), unless one was taken now."""
        if self._last_t is not None and self.env.now > self._last_t:
            self._timed_sample(self.env.now)

    def _timed_sample(self, t: float) -> None:
        start = time.process_time()
        self._sample(t)
        self.sample_cpu_s += time.process_time() - start

    # -- one sample ---------------------------------------------------------------------------

    def _sample(self, t: float) -> None:
        assert self._last_t is not None
        dt = t - self._last_t
        self._last_t = t
        prev = self._prev
        for c in self._components:
            obs = c.observe()
            if obs is None:
                continue
            states, counts = obs
            name = c.name
            for metric, value in states.items():
                self._row(t, name, metric, float(value))
            for metric, count in counts.items():
                key = (name, metric)
                now_count = float(count)
                before = prev.get(key, 0.0)
                prev[key] = now_count
                self._row(t, name, metric, (now_count - before) / dt)
        for name, stats in self._ledger.sinks.items():
            self._sample_sink(t, dt, name, stats)
        self._row(t, RUN, "cost_usd", self._cost())

    def _sample_sink(self, t: float, dt: float, name: str, stats: Any) -> None:
        hist = stats.hist
        series = self._sinks.get(name)
        if series is None:  # a sink that appeared during the run
            empty: list[float] = []
            series = self._sinks[name] = _Series(0, (empty, 0, np.zeros_like(hist.buckets)))
        delivered = stats.fates[DELIVERED]
        new = delivered - series.delivered
        p50: float | None = None
        p99: float | None = None
        if new:
            (p50, p99), series.mark = hist.quantiles_since(series.mark, (0.50, 0.99))
            series.delivered = delivered
        self._row(t, name, "delivered_per_s", new / dt)
        self._row(t, name, "latency_p50_s", math.nan if p50 is None else p50)
        self._row(t, name, "latency_p99_s", math.nan if p99 is None else p99)

    def _row(self, t: float, component: str, metric: str, value: float) -> None:
        k = self._keys.get((component, metric))
        if k is None:
            k = self._keys[(component, metric)] = len(self._keys)
        self.t_s.append(t)
        self.key.append(k)
        self.value.append(value)

    # -- the result ---------------------------------------------------------------------------

    def columns(self) -> dict[str, Any]:
        """The samples as columns: ``t_s``, ``component``, ``metric`` and ``value``.

        ``component`` and ``metric`` are ``(codes, categories)`` pairs (numpy arrays of
        integer codes into the list of names), in order of first appearance.
        """
        keys = list(self._keys)
        components = list(dict.fromkeys(c for c, _ in keys))
        metrics = list(dict.fromkeys(m for _, m in keys))
        c_index = {c: i for i, c in enumerate(components)}
        m_index = {m: i for i, m in enumerate(metrics)}
        key = np.frombuffer(self.key, dtype=np.int64) if len(self.key) else np.zeros(0, np.int64)
        c_of_key = np.array([c_index[c] for c, _ in keys], dtype=np.int32)
        m_of_key = np.array([m_index[m] for _, m in keys], dtype=np.int32)
        return {
            "t_s": np.frombuffer(self.t_s, dtype=float).copy(),
            "component": (c_of_key[key] if len(keys) else np.zeros(0, np.int32), components),
            "metric": (m_of_key[key] if len(keys) else np.zeros(0, np.int32), metrics),
            "value": np.frombuffer(self.value, dtype=float).copy(),
        }
