"""Faults: per-request error rates and scheduled outages, asked at explicit decision points.

Every component may have an error rate (the probability that one request to it fails with a
retriable server error) and scheduled outage windows (``outages`` of the scenario):

* ``unavailable`` — every request fails with a retriable server error during the window;
* ``slow`` — latencies (and, for a function, durations) are multiplied by ``factor``;
* ``throttled`` — every request is rejected with a throttling error during the window.

Callers react with their own retry policies; a caller that would only retry into a known
outage can ask :meth:`Faults.clear_at` for the end of the window and skip ahead.

Each component's error draws come from its own stream ``(component, "errors")``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Final

from sim.config.common import OutageSpec
from sim.engine.streams import RandomStreams, Stream

__all__ = ["SLOW", "THROTTLED", "UNAVAILABLE", "Faults", "Window"]

UNAVAILABLE: Final = "unavailable"
SLOW: Final = "slow"
THROTTLED: Final = "throttled"


class Window:
    """One outage window ``[start_s, end_s)`` of a component."""

    __slots__ = ("end_s", "factor", "mode", "start_s")

    def __init__(self, start_s: float, end_s: float, mode: str, factor: float) -> None:
        self.start_s = start_s
        self.end_s = end_s
        self.mode = mode
        self.factor = factor


class Faults:
    """Error draws and outage windows of every component of one run."""

    def __init__(self, outages: Sequence[OutageSpec], streams: RandomStreams) -> None:
        self._streams = streams
        self._errors: dict[str, Stream] = {}
        self._windows: dict[str, list[Window]] = {}
        for o in sorted(outages, key=lambda o: o.start_s):
            self._windows.setdefault(o.component, []).append(
                Window(o.start_s, o.start_s + o.duration_s, o.mode, o.factor)
            )
        self._starts = {c: [w.start_s for w in ws] for c, ws in self._windows.items()}

    def has_outages(self, component: str) -> bool:
        """True if ``component`` has any scheduled outage."""
        return component in self._windows

    def windows(self, component: str) -> list[Window]:
        """The outage windows of ``component``, sorted by start."""
        return self._windows.get(component, [])

    def window_at(self, component: str, t_s: float) -> Window | None:
        """The outage of ``component`` active at ``t_s``, if any (the latest-starting one)."""
        starts = self._starts.get(component)
        if starts is None:
            return None
        i = bisect.bisect_right(starts, t_s) - 1
        ws = self._windows[component]
        while i >= 0:
            w = ws[i]
            if w.end_s > t_s:
                return w
            i -= 1
        return None

    def clear_at(self, component: str, t_s: float, modes: tuple[str, ...]) -> float:
        """The first time ≥ ``t_s`` at which no outage of the given modes is active."""
        t = t_s
        moved = True
        while moved:
            moved = False
            for w in self._windows.get(component, ()):
                if w.mode in modes and w.start_s <= t < w.end_s:
                    t = w.end_s
                    moved = True
        return t

    def down_until(
        self, component: str, t_s: float, modes: tuple[str, ...] = (UNAVAILABLE, THROTTLED)
    ) -> float | None:
        """End of the outage (of ``modes``) that makes every request at ``t_s`` fail, if any."""
        if component not in self._starts:
            return None
        end = self.clear_at(component, t_s, modes)
        return end if end > t_s else None

    def slow_factor(self, component: str, t_s: float) -> float:
        """The latency multiplier of ``component`` at ``t_s`` (1 outside slow windows)."""
        w = self.window_at(component, t_s)
        return w.factor if w is not None and w.mode == SLOW else 1.0

    def request_fails(self, component: str, t_s: float, rate: float) -> str | None:
        """Whether one request to ``component`` at ``t_s`` fails, and how.

        Returns None on success, ``"unavailable"`` (server error: an unavailable window or an
        error draw below ``rate``) or ``"throttled"`` (a throttled window).
        """
        if component in self._starts:
            w = self.window_at(component, t_s)
            if w is not None and w.mode != SLOW:
                return w.mode
        if rate > 0.0:
            draw = self._errors.get(component)
            if draw is None:
                draw = self._errors[component] = self._streams.uniform(component, "errors")
            if draw() < rate:
                return UNAVAILABLE
        return None
