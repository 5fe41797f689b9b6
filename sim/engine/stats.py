"""Per-sink and per-function counters, and the latency histogram.

Latencies go into a fixed-size log-bucket histogram (bucket ratio 1.01, so quantiles are
within 0.5% relative error; mean, min and max are exact), so memory does not grow with the
number of messages.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np

from sim.engine.fates import FATES

__all__ = ["FunctionStats", "LatencyHistogram", "SinkStats", "bucket_quantiles"]

_GAMMA: Final = 1.01
_LOG_GAMMA: Final = math.log(_GAMMA)
_MIN_S: Final = 1e-6
_MAX_S: Final = 1e9
_OFFSET: Final = -math.floor(math.log(_MIN_S) / _LOG_GAMMA)
_NBUCKETS: Final = _OFFSET + math.ceil(math.log(_MAX_S) / _LOG_GAMMA) + 2
_FLUSH: Final = 4096

#: A bookmark in a histogram (:meth:`LatencyHistogram.mark`): its buffer list, the length of
#: that list, and the binned counts then.
Mark = tuple[list[float], int, np.ndarray]


class LatencyHistogram:
    """Log-bucket histogram of latencies (seconds) with exact count, sum, min and max.

    Buckets have ratio 1.01 from 1 µs to 10⁹ s (values below 1 µs share bucket 0), so a
    quantile reported at its bucket's geometric midpoint is within 0.5% relative error.
    Observations are binned in blocks of 4,096 with numpy (fixed memory, cheap per value).
    """

    __slots__ = ("_buf", "_count", "_max", "_min", "_total", "buckets")

    def __init__(self) -> None:
        self.buckets = np.zeros(_NBUCKETS, dtype=np.int64)
        self._buf: list[float] = []
        self._count = 0
        self._total = 0.0
        self._min = math.inf
        self._max = -math.inf

    def add(self, x: float) -> None:
        """Record one latency ``x`` (seconds, ≥ 0)."""
        buf = self._buf
        buf.append(x)
        if len(buf) >= _FLUSH:
            self._flush()

    def _flush(self) -> None:
        if not self._buf:
            return
        xs = np.asarray(self._buf, dtype=float)
        self._buf = []
        self._count += len(xs)
        self._total += math.fsum(xs)
        self._min = min(self._min, float(xs.min()))
        self._max = max(self._max, float(xs.max()))
        self.buckets += _bincount(xs)

    def mark(self) -> Mark:
        """A bookmark of the observations so far, for :meth:`counts_since` (changes nothing)."""
        return (self._buf, len(self._buf), self.buckets.copy())

    def quantiles_since(
        self, mark: Mark, qs: tuple[float, ...]
    ) -> tuple[list[float | None], Mark]:
        """The ``qs`` quantiles of the observations added since ``mark``, and a bookmark of now.

        A quantile q is the observation of rank ⌈q·n⌉ among the n new ones: exact while they
        all still wait to be binned, else from the buckets (within 0.5% relative error). All
        are None without a new observation. Changes nothing, so the histogram's own results
        do not depend on how often this is called; the cost is proportional to the new
        observations.
        """
        buf, n, buckets = mark
        if buf is self._buf:  # nothing binned since: the new ones are the buffer's tail
            new = sorted(buf[n:])
            if not new:
                return [None] * len(qs), mark
            ranks = [max(1, math.ceil(q * len(new))) - 1 for q in qs]
            return [new[r] for r in ranks], (buf, len(buf), buckets)
        counts = self.buckets - buckets
        if n:  # already counted at ``mark``, binned since
            counts -= _bincount(np.asarray(buf[:n], dtype=float))
        if self._buf:
            counts += _bincount(np.asarray(self._buf, dtype=float))
        return bucket_quantiles(counts, qs), self.mark()

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s observations to this histogram."""
        self._flush()
        other._flush()
        self.buckets += other.buckets
        self._count += other._count
        self._total += other._total
        self._min = min(self._min, other._min)
        self._max = max(self._max, other._max)

    @property
    def count(self) -> int:
        """Number of observations."""
        return self._count + len(self._buf)

    @property
    def min(self) -> float:
        """Smallest observation (inf when empty)."""
        self._flush()
        return self._min

    @property
    def max(self) -> float:
        """Largest observation (-inf when empty)."""
        self._flush()
        return self._max

    @property
    def mean(self) -> float | None:
        """Exact mean, or None with no observations."""
        self._flush()
        return self._total / self._count if self._count else None

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile (0 < q ≤ 1) within 0.5% relative error, or None if empty."""
        self._flush()
        if not self._count:
            return None
        rank = max(1, math.ceil(q * self._count))
        i = int(np.searchsorted(np.cumsum(self.buckets), rank))
        if i == 0:
            return self._min
        mid = math.exp((i - _OFFSET + 0.5) * _LOG_GAMMA)
        return min(max(mid, self._min), self._max)


def _bincount(xs: np.ndarray) -> np.ndarray:
    """Observations ``xs`` (seconds) per bucket."""
    with np.errstate(divide="ignore"):
        idx = np.floor(np.log(np.maximum(xs, _MIN_S)) / _LOG_GAMMA).astype(np.int64)
    idx += _OFFSET
    idx[xs < _MIN_S] = 0
    np.clip(idx, 0, _NBUCKETS - 1, out=idx)
    return np.bincount(idx, minlength=_NBUCKETS)


def bucket_quantiles(counts: np.ndarray, qs: tuple[float, ...]) -> list[float | None]:
    """The ``qs`` quantiles (each 0 < q ≤ 1) of observations counted per bucket.

    Each is reported at the geometric midpoint of its bucket (within 0.5% relative error; the
    first bucket, below 1 µs, reports 0); all are None when there is no observation.
    """
    cum = np.cumsum(counts)
    n = int(cum[-1])
    if not n:
        return [None] * len(qs)
    out: list[float | None] = []
    for q in qs:
        i = int(np.searchsorted(cum, max(1, math.ceil(q * n))))
        out.append(0.0 if i == 0 else math.exp((i - _OFFSET + 0.5) * _LOG_GAMMA))
    return out


class SinkStats:
    """Counters of one intended sink (or of its warm-up shadow)."""

    __slots__ = (
        "area",
        "area_t",
        "attempts",
        "dropped_too_old",
        "duplicates",
        "expected",
        "fates",
        "hist",
        "max_seq",
        "name",
        "ordering_violations",
        "samples",
    )

    def __init__(self, name: str, max_seq: dict[int, int], keep_samples: bool) -> None:
        self.name = name
        self.expected = 0
        self.fates = [0, 0, 0, 0, 0]
        self.attempts = 0
        self.dropped_too_old = 0  # inputs a handler dropped as too old (max_message_age_s)
        self.duplicates = 0
        self.ordering_violations = 0
        self.hist = LatencyHistogram()
        self.max_seq = max_seq
        self.samples: list[float] | None = [] if keep_samples else None
        self.area = 0.0  # time integral of the in-flight count (for Little's law)
        self.area_t = 0.0


class FunctionStats:
    """Invocation counters of one Lambda function (sink or not)."""

    __slots__ = ("cold_starts", "errors", "invocations", "throttles", "timeouts")

    def __init__(self) -> None:
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        self.cold_starts = 0
        self.timeouts = 0


def latency_metrics(h: LatencyHistogram) -> dict[str, float | None]:
    return {
        "latency_mean_s": h.mean,
        "latency_p50_s": h.quantile(0.50),
        "latency_p90_s": h.quantile(0.90),
        "latency_p99_s": h.quantile(0.99),
        "latency_max_s": h.max if h.count else None,
    }


def sink_metrics(stats: SinkStats) -> dict[str, Any]:
    fates = dict(zip(FATES, stats.fates, strict=True))
    return {
        "deliveries_expected": stats.expected,
        **fates,
        "delivered_fraction": fates["delivered"] / stats.expected if stats.expected else None,
        "duplicates": stats.duplicates,
        "ordering_violations": stats.ordering_violations,
        "attempts": stats.attempts,
        "dropped_too_old": stats.dropped_too_old,
        **latency_metrics(stats.hist),
    }
