"""Test helpers that drive a dependency directly through its call interface (no Lambda).

* :func:`dependency` builds a one-component scenario (plus outages) and returns the model and
  the dependency, ready for calls scheduled with :func:`at` on ``model.env``.
* :class:`Answers` records every answer ``(t_s, tag, error)``.
* :class:`PoissonCaller` makes calls at Poisson times with the project's named random streams
  (arrivals and client timeouts on their own streams), each one a scheduled callback.
* :class:`ClosedLoop` keeps N requests outstanding: each answer makes the next call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from conftest import model

from sim.build import Model
from sim.engine.schedule import call_after
from sim.engine.streams import RandomStreams
from sim.services.dependency import CallHandle, CallRequest, Dependency


def dependency(
    spec: Mapping[str, Any],
    *,
    outages: list[dict[str, Any]] | None = None,
    duration_s: float = 1000.0,
    warmup_s: float = 0.0,
    seed: int = 0,
    rep: int = 0,
    name: str = "dep",
) -> tuple[Model, Dependency]:
    """A model holding one dependency ``name`` (``spec``), built but not run."""
    data: dict[str, Any] = {
        "name": "dep-test",
        "seed": seed,
        "duration_s": duration_s,
        "drain_s": 0,
        "warmup_s": warmup_s,
        "components": {name: dict(spec)},
        "outages": outages or [],
    }
    m = model(data, rep=rep, trace=False)
    dep = m.dependencies[name]
    return m, dep


class Answers:
    """Every answer a dependency gave: ``(t_s, tag, error)`` in order."""

    def __init__(self, m: Model) -> None:
        self.env = m.env
        self.rows: list[tuple[float, Any, str | None]] = []

    def reply(self, tag: Any) -> Callable[[str | None], None]:
        """A reply callback that records the answer under ``tag`` (at most once)."""

        def answer(error: str | None) -> None:
            assert all(t != tag for _, t, _ in self.rows), f"{tag} answered twice"
            self.rows.append((round(self.env.now, 9), tag, error))

        return answer

    def of(self, tag: Any) -> tuple[float, str | None] | None:
        """The answer of ``tag`` as ``(t_s, error)``, or None if it has none."""
        for t, g, e in self.rows:
            if g == tag:
                return t, e
        return None


def at(
    m: Model,
    t_s: float,
    dep: Dependency,
    answers: Answers,
    tag: Any,
    handles: dict[Any, CallHandle] | None = None,
    **req: Any,
) -> None:
    """Schedule one call of ``dep`` at ``t_s`` (``req``: the CallRequest fields)."""

    def go(_: Any) -> None:
        h = dep.call(CallRequest(**req), answers.reply(tag))
        if handles is not None:
            handles[tag] = h

    call_after(m.env, t_s - m.env.now, go)


class PoissonCaller:
    """Calls ``dep`` at Poisson times of rate ``rate_per_s`` until ``until_s``.

    Args:
        m: The model (its seed and replication key the streams).
        dep: The dependency called.
        rate_per_s: Arrival rate.
        until_s: No call at or after this time.
        mean_patience_s: Mean of an exponential client timeout per call (None: no timeout).
        req: Other CallRequest fields, the same for every call.
    """

    def __init__(
        self,
        m: Model,
        dep: Dependency,
        rate_per_s: float,
        until_s: float,
        mean_patience_s: float | None = None,
        **req: Any,
    ) -> None:
        self.m, self.dep, self.until_s = m, dep, until_s
        streams = RandomStreams(m.seed, m.rep)
        self._gaps: np.random.Generator = streams.get("caller", "arrivals")
        self._patience: np.random.Generator = streams.get("caller", "patience")
        self.mean_gap = 1.0 / rate_per_s
        self.mean_patience_s = mean_patience_s
        self.req = req
        self.answers: dict[str, int] = {}
        self.made = 0
        call_after(m.env, float(self._gaps.exponential(self.mean_gap)), self._arrive)

    def _arrive(self, _: Any) -> None:
        env = self.m.env
        if env.now >= self.until_s:
            return
        timeout = (
            None
            if self.mean_patience_s is None
            else float(self._patience.exponential(self.mean_patience_s))
        )
        self.made += 1
        self.dep.call(CallRequest(timeout_s=timeout, **self.req), self._answer)
        call_after(env, float(self._gaps.exponential(self.mean_gap)), self._arrive)

    def _answer(self, error: str | None) -> None:
        key = "ok" if error is None else error
        self.answers[key] = self.answers.get(key, 0) + 1


class ClosedLoop:
    """``n`` requests outstanding at all times: each answer makes the next call at once."""

    def __init__(self, m: Model, dep: Dependency, n: int, **req: Any) -> None:
        self.m, self.dep, self.req = m, dep, req
        self.completions: list[float] = []
        for _ in range(n):
            call_after(m.env, 0.0, lambda _: self._call())

    def _call(self) -> None:
        self.dep.call(CallRequest(**self.req), self._answer)

    def _answer(self, error: str | None) -> None:
        assert error is None
        self.completions.append(self.m.env.now)
        self._call()


class Periodic:
    """Calls ``dep`` at ``start_s + k / rate_per_s`` for k = 0, 1, ... while before ``until_s``.

    Records per call whether it was admitted: ``admitted_at`` and ``refused_at`` hold the call
    times (a refusal is answered inside ``call()``; any later answer counts as admitted).
    """

    def __init__(
        self,
        m: Model,
        dep: Dependency,
        rate_per_s: float,
        start_s: float,
        until_s: float,
        **req: Any,
    ) -> None:
        self.m, self.dep, self.req = m, dep, req
        self.rate_per_s, self.start_s, self.until_s = rate_per_s, start_s, until_s
        self.admitted_at: list[float] = []
        self.refused_at: list[tuple[float, str]] = []
        self._k = 0
        call_after(m.env, start_s - m.env.now, self._go)

    def _go(self, _: Any) -> None:
        env = self.m.env
        now = env.now
        refused: list[str | None] = []
        self.dep.call(CallRequest(**self.req), refused.append)
        if refused and refused[0] is not None and refused[0] != "timeout":
            self.refused_at.append((now, refused[0]))
        else:
            self.admitted_at.append(now)
        self._k += 1
        t = self.start_s + self._k / self.rate_per_s
        if t < self.until_s:
            call_after(env, max(0.0, t - now), self._go)

    def admitted_before(self, t_s: float) -> int:
        """Calls admitted at times < ``t_s``."""
        return sum(1 for t in self.admitted_at if t < t_s)

    def refused_in(self, lo_s: float, hi_s: float) -> int:
        """Calls refused at times in [lo_s, hi_s)."""
        return sum(1 for t, _ in self.refused_at if lo_s <= t < hi_s)
