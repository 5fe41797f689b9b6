"""A DynamoDB table that handlers call: capacity units, provisioned burst, on-demand scaling.

Capacity units (AWS, "DynamoDB read and write operations"): a write of an item of ``size_kb``
costs ⌈size_kb⌉ write units (1 KB each); a strongly consistent read ⌈size_kb / 4⌉ read units
(4 KB each), an eventually consistent read half of that. Every request costs at least one
unit (half a unit for an eventually consistent read). A request consumes its units when it
is admitted; one that cannot have them is refused at once with ``"throttled"``
(``ProvisionedThroughputExceededException`` or ``ThrottlingException``, which the SDK retries).

Provisioned mode: one token bucket per kind, refilled at ``read_capacity_units`` and
``write_capacity_units`` per second, holding ``burst_s`` seconds of them (300 s: DynamoDB
retains up to five minutes of unused capacity) and full at the start of the run. So under a
steady load above capacity, the requests admitted in [0, t] number exactly
``burst_s × units + units × t`` (in units; up to one request).

On-demand mode: the table accommodates at once up to twice its *previous peak*, and scales to
a higher level some time after that level is first offered (AWS: throttling may occur if
traffic exceeds double the previous peak within 30 minutes). The mechanism: time is cut into
1 s windows; a window's *offered* level is the units its requests asked for (throttled ones
included); the previous peak at time t is the highest offered level of the windows that ended
at least ``scale_delay_s`` before t, and at least the level of a new table (2,000 write units
or 6,000 read units per second, so that a new table serves up to 4,000 write or 12,000 read
units per second at once). In each window the units admitted stay within twice the previous
peak, and within ``max_read_request_units`` and ``max_write_request_units`` (the table quota,
40,000 each by default). Reads and writes share one limit as a linear combination, as AWS
states it for a new table: a write unit counts as three read units (1,000 write or 3,000 read
units is one partition's capacity). Units are counted in sixths of a write unit (a read unit
is two, an eventually consistent 4 KB read one), so the arithmetic is exact.

Modelled:
    * Capacity units and admission, as above; ``latency_s`` (× the factor of a ``slow``
      outage) from admission to the answer; ``errors.rate``: the answer is a server error
      (the request still consumed its units; it is not billed).
    * Billing (``docs/metrics.md``): on demand, the request units of successful requests;
      provisioned, capacity-unit hours for the counted period of the run (prorated, where AWS
      bills whole hours).

Not modelled:
    * Partitions and hot keys (each partition serves at most 3,000 read or 1,000 write units
      per second), adaptive capacity, transactions (twice the units), item collections,
      secondary indexes, global tables, auto scaling of provisioned capacity, warm
      throughput (pre-warming), and burst capacity used by background maintenance.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from sim.config.dynamodb import DynamoDbTableSpec
from sim.engine.context import Context
from sim.engine.faults import THROTTLED
from sim.engine.schedule import call_after
from sim.engine.tokens import TokenBucket
from sim.services.dependency import SERVING, CallHandle, CallRequest, Dependency

__all__ = ["NEW_TABLE_PEAK_TICKS", "TICKS_PER_READ_UNIT", "TICKS_PER_WRITE_UNIT", "Table",
           "capacity_units"]  # fmt: skip

#: On-demand units are counted in sixths of a write unit: a write unit is 6, a read unit 2.
TICKS_PER_WRITE_UNIT = 6
TICKS_PER_READ_UNIT = 2
#: The previous peak of a new on-demand table: 2,000 write units (= 6,000 read units) per second.
NEW_TABLE_PEAK_TICKS = 2_000 * TICKS_PER_WRITE_UNIT


def capacity_units(req: CallRequest) -> tuple[str, float]:
    """``(kind, units)`` one request consumes: ``("write", WCU)`` or ``("read", RCU)``.

    Raises:
        ValueError: If ``req.op`` is neither ``"read"`` nor ``"write"``.
    """
    if req.op == "write":
        return "write", float(max(1, math.ceil(req.size_kb)))
    if req.op == "read":
        units = float(max(1, math.ceil(req.size_kb / 4.0)))
        return "read", units if req.consistent else units / 2.0
    raise ValueError(f"a DynamoDB call is a 'read' or a 'write', not {req.op!r}")


class Table(Dependency):
    """A DynamoDB table (a dependency), provisioned or on demand."""

    def __init__(self, ctx: Context, name: str, spec: DynamoDbTableSpec) -> None:
        super().__init__(ctx, name, spec.errors.rate, spec.latency_s)
        self.spec = spec
        self.provisioned = spec.capacity_mode == "provisioned"
        rcu = float(spec.read_capacity_units or 0)
        wcu = float(spec.write_capacity_units or 0)
        self._rcu, self._wcu = rcu, wcu
        self._buckets = {
            "read": TokenBucket(rcu, spec.burst_s * rcu),
            "write": TokenBucket(wcu, spec.burst_s * wcu),
        }
        self._delay = spec.scale_delay_s
        self._peak = NEW_TABLE_PEAK_TICKS  # the previous peak in force (ticks per second)
        self._pending: deque[tuple[float, int]] = deque()  # (in force from, offered ticks)
        self._caps = {
            "read": spec.max_read_request_units * TICKS_PER_READ_UNIT,
            "write": spec.max_write_request_units * TICKS_PER_WRITE_UNIT,
        }
        # the current 1 s window [win, win + 1)
        self._win = -1
        self._limit = 2 * self._peak
        self._offered = 0
        self._used = 0
        self._used_kind = {"read": 0, "write": 0}  # ticks (on demand)
        self._units_kind = {"read": 0.0, "write": 0.0}  # units (provisioned)
        self._util_sum = 0.0
        self._util_max = 0.0
        self.consumed = {"read": 0.0, "write": 0.0}  # units admitted, counted
        self._serving = 0  # requests admitted and not yet answered
        self._bill = {
            "read": ctx.cost.counter(name, "dynamodb_read_request_units"),
            "write": ctx.cost.counter(name, "dynamodb_write_request_units"),
        }

    # -- windows ----------------------------------------------------------------------------

    @property
    def limit_units_per_s(self) -> float:
        """On demand: the write units per second admitted now (twice the previous peak)."""
        return self._limit / TICKS_PER_WRITE_UNIT

    def _roll(self, now: float) -> None:
        """Move to the 1 s window holding ``now`` (closing the current one)."""
        k = math.floor(now)
        if k == self._win:
            return
        self._close_window()
        self._win = k
        self._offered = self._used = 0
        self._used_kind["read"] = self._used_kind["write"] = 0
        self._units_kind["read"] = self._units_kind["write"] = 0.0
        pending = self._pending
        while pending and pending[0][0] <= k:
            level = pending.popleft()[1]
            if level > self._peak:
                self._peak = level
        self._limit = 2 * self._peak

    def _window_use(self) -> float:
        """Utilisation of the current window so far (see :meth:`metrics`)."""
        if self.provisioned:
            return max(self._units_kind["read"] / self._rcu, self._units_kind["write"] / self._wcu)
        return self._used / self._limit

    def _close_window(self) -> None:
        if self._win < 0:
            return
        if not self.provisioned and self._offered > self._peak:
            self._pending.append((self._win + 1 + self._delay, self._offered))
        if self._win >= self.warmup_s:
            u = self._window_use()
            self._util_sum += u
            if u > self._util_max:
                self._util_max = u

    # -- admission --------------------------------------------------------------------------

    def _refusal(self, h: CallHandle, now: float) -> str | None:
        kind, units = capacity_units(h.req)
        h.kind, h.units = kind, units
        self._roll(now)
        if self.provisioned:
            if not self._buckets[kind].take_units(now, units):
                return THROTTLED
            self._units_kind[kind] += units
            return None
        ticks = int(units * (TICKS_PER_WRITE_UNIT if kind == "write" else TICKS_PER_READ_UNIT))
        self._offered += ticks
        if self._used + ticks > self._limit or self._used_kind[kind] + ticks > self._caps[kind]:
            return THROTTLED
        self._used += ticks
        self._used_kind[kind] += ticks
        return None

    def _enter(self, h: CallHandle, now: float) -> None:
        h.state = SERVING
        h.t_start = now
        if self.ledger.counting:
            self.consumed[h.kind] += h.units
        if not self.provisioned and h.error is None:
            self._bill[h.kind][0] += h.units
        self._serving += 1
        call_after(self.env, self._latency_at(now), h._service_done)

    def _end_service(self, h: CallHandle) -> None:
        self._serving -= 1
        self._served(h)

    # -- observation ------------------------------------------------------------------------

    def n_serving(self) -> int:
        """Requests admitted and not yet answered."""
        return self._serving

    def capacity_used_s(self, now: float) -> float:
        """The 1 s windows' utilisations summed since ``warmup_s`` (the current one so far)."""
        total = self._util_sum
        if self._win >= 0 and self._win >= self.warmup_s:
            total += self._window_use()
        return total

    # -- results ----------------------------------------------------------------------------

    def finalize(self) -> None:
        """Bill provisioned capacity for the counted period of the run (unit-hours)."""
        if not self.provisioned:
            return
        hours = max(0.0, self.env.now - self.warmup_s) / 3600.0
        self.ctx.cost.add(self.name, "dynamodb_rcu_hours", self._rcu * hours)
        self.ctx.cost.add(self.name, "dynamodb_wcu_hours", self._wcu * hours)

    def metrics(self) -> dict[str, Any]:
        """Calls, refusals, timeouts, wasted time, utilisation, units (``docs/metrics.md``).

        Utilisation is per 1 s window: units admitted ÷ capacity (provisioned: per second,
        the larger of reads and writes; it exceeds 1 while burst credit is spent), or ÷ the
        on-demand limit in force; the mean is over the counted seconds, the max over windows.
        """
        now = self.env.now
        total, peak = self._util_sum, self._util_max
        if self._win >= 0 and self._win >= self.warmup_s:  # the window still open
            u = self._window_use()
            total, peak = total + u, max(peak, u)
        seconds = math.ceil(now) - math.ceil(self.warmup_s)
        return {
            **self.call_metrics(),
            "utilization_mean": total / seconds if seconds > 0 else None,
            "utilization_max": peak,
            "read_units": self.consumed["read"],
            "write_units": self.consumed["write"],
        }
