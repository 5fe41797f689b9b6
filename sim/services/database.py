"""A database: connections, a FIFO waiting line, and speed that depends on load (USL).

``max_connections`` connections serve one request each at a time. A request is made either
on a connection of its own (``CallRequest.holder`` None: a *per-call* connection, taken from a
pool for the request and given back after it) or on the connection its execution environment
holds (*per environment*: opened by the environment's first call, kept until
:meth:`Database.release_holder`). Open connections, per call and per environment together,
never exceed ``max_connections``.

Load dependence (the Universal Scalability Law): work is measured in "alone seconds" (a
request's ``service_time_s`` draw S is its time when it is alone). While N requests are in
service, each progresses at rate 1 / (1 + σ(N − 1) + κN(N − 1)), so a request takes
S·(1 + σ(N − 1) + κN(N − 1)) if N stays constant, and throughput is
X(N) = N / (S·(1 + σ(N − 1) + κN(N − 1))). It is computed with a virtual clock V that advances
at that rate: a request that starts service at V₀ finishes when V reaches V₀ + S. Finish
points wait in a heap, and one scheduled wake-up (for the earliest) is moved whenever N
changes. With σ = κ = 0, every request takes exactly its S: exponential service times make the
database with per-call connections an M/M/c queue (c = ``max_connections``) with ``waiting``
places in its line (M/M/c/c with ``waiting: 0``, and M/M/c+M, Erlang A, with exponential client
timeouts).

Modelled:
    * Per-call connections: a request starts at once if a connection is free; else it waits
      in one FIFO line, of at most ``waiting`` requests (null: unlimited). A request that finds
      the line full is refused at once with ``"throttled"``. A connection that frees (a request
      ends, an environment closes its connection) goes to the head of the line.
    * Per-environment connections: an environment's first call opens its connection if fewer
      than ``max_connections`` are open (else it is refused at once with ``"throttled"``: too
      many connections) and the connection stays open, idle or not, until the environment is
      reclaimed (:meth:`Database.release_holder`). Its requests run on it one at a time, at
      once when it is idle (a request made while the connection still serves an earlier one,
      for example a call its function abandoned, waits for it). An environment reclaimed with
      a request still in service closes its connection when that request ends.
    * Client timeouts while waiting leave the line (no work); while in service, the request
      keeps its connection to the end and its service time is wasted.
    * ``errors.rate``: an errored request is served as any other and answered
      ``"unavailable"``. ``slow`` outages multiply the service time (``service_time_s``, drawn
      when the request starts service) and the answer's ``latency_s``.

Not modelled:
    * The time to open a connection, idle-connection timeouts at the server, connection
      limits per user, read replicas, locks and deadlocks (beyond what σ and κ stand for).
    * RDS Proxy's ``ConnectionBorrowTimeout`` (the caller's client timeout plays that part).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from typing import Any

from sim.config.database import DatabaseSpec
from sim.engine.context import Context
from sim.engine.faults import THROTTLED, UNAVAILABLE
from sim.engine.samplers import make_sampler
from sim.engine.schedule import call_after
from sim.services.dependency import SERVING, WAITING, CallHandle, Dependency, Level

__all__ = ["Connection", "Database"]


class Connection:
    """A connection held by one execution environment."""

    __slots__ = ("busy", "closed", "line")

    def __init__(self) -> None:
        self.busy: CallHandle | None = None
        self.line: deque[CallHandle] = deque()
        self.closed = False


class Database(Dependency):
    """A database with a connection limit, a waiting line and load-dependent service."""

    def __init__(self, ctx: Context, name: str, spec: DatabaseSpec) -> None:
        super().__init__(ctx, name, spec.errors.rate, spec.latency_s)
        self.spec = spec
        self.max_connections = spec.max_connections
        self.waiting_limit = spec.waiting
        self._service = make_sampler(spec.service_time_s, ctx.streams.get(name, "service"))
        self._sigma = spec.contention.sigma
        self._kappa = spec.contention.kappa
        self._line: deque[CallHandle] = deque()  # per-call requests waiting (lazily cleaned)
        self._n_waiting = 0
        self._holders: dict[object, Connection] = {}
        self._open = 0  # open connections: per-call in service + held by environments
        self._heap: list[tuple[float, int, CallHandle]] = []  # (V at finish, seq, request)
        self._seq = itertools.count()
        self._v = 0.0  # the virtual clock: alone-seconds of work per request since time 0
        self._v_t = 0.0
        self._rate = 1.0  # dV/dt with the current number in service
        self._wake_gen = 0
        self._wake_at = math.inf
        self._batch = False
        self.connections = Level(self.warmup_s)
        self.in_service = Level(self.warmup_s)
        self._wait_total = 0.0
        self._wait_n = 0

    # -- observation ------------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """Requests waiting in the line for a per-call connection."""
        return self._n_waiting

    @property
    def n_in_service(self) -> int:
        """Requests in service (the N of the scalability law)."""
        return len(self._heap)

    @property
    def open_connections(self) -> int:
        """Connections open: per-call ones in use plus those held by environments."""
        return self._open

    def n_serving(self) -> int:
        """Requests in service now."""
        return len(self._heap)

    def n_waiting(self) -> int:
        """Requests waiting in the line for a per-call connection now."""
        return self._n_waiting

    def capacity_used_s(self, now: float) -> float:
        """Connection-seconds open since ``warmup_s``, ÷ ``max_connections``."""
        return self.connections.area_at(now) / self.max_connections

    # -- admission --------------------------------------------------------------------------

    def _refusal(self, h: CallHandle, now: float) -> str | None:
        holder = h.req.holder
        if holder is None:
            if self._open < self.max_connections:
                return None
            limit = self.waiting_limit
            return THROTTLED if limit is not None and self._n_waiting >= limit else None
        if holder in self._holders or self._open < self.max_connections:
            return None
        return THROTTLED  # too many connections

    def _enter(self, h: CallHandle, now: float) -> None:
        holder = h.req.holder
        if holder is None:
            if self._open < self.max_connections:
                self._open_one(now)
                self._start(h, now)
            else:
                self._line.append(h)
                self._n_waiting += 1
            return
        conn = self._holders.get(holder)
        if conn is None:
            conn = self._holders[holder] = Connection()
            self._open_one(now)
        h.conn = conn
        if conn.busy is None:
            conn.busy = h
            self._start(h, now)
        else:
            conn.line.append(h)

    def _leave_line(self, h: CallHandle) -> None:
        self._waited(h, self.env.now)
        if h.conn is None:
            self._n_waiting -= 1  # it stays in the deque, skipped when reached

    def release_holder(self, holder: object) -> None:
        """Close the connection of the environment ``holder`` (it was reclaimed).

        A request still in service keeps the connection until it ends; requests queued behind
        it on that connection are answered ``"unavailable"`` (the connection is gone).
        """
        conn = self._holders.pop(holder, None)
        if conn is None:
            return
        conn.closed = True
        line = conn.line
        while line:
            h = line.popleft()
            if h.state == WAITING:
                self._waited(h, self.env.now)
                h.error = UNAVAILABLE
                h.t_start = h.t_end = self.env.now
                self._served(h)
        if conn.busy is None:
            self._close_one(self.env.now)

    # -- connections ------------------------------------------------------------------------

    def _open_one(self, now: float) -> None:
        self._open += 1
        self.connections.change(now, 1)

    def _close_one(self, now: float) -> None:
        """A connection closes (per call: returns to the pool): the line's head gets it."""
        self._open -= 1
        self.connections.change(now, -1)
        self._fill(now)

    def _fill(self, now: float) -> None:
        line = self._line
        while line and self._open < self.max_connections:
            h = line.popleft()
            if h.state != WAITING:
                continue  # its caller gave up
            self._n_waiting -= 1
            self._open_one(now)
            self._start(h, now)

    def _release(self, h: CallHandle, now: float) -> None:
        """``h`` has finished: its connection goes back (per call) or serves the next request."""
        conn = h.conn
        if conn is None:
            self._close_one(now)
            return
        conn.busy = None
        if conn.closed:
            self._close_one(now)
            return
        line = conn.line
        while line:
            nxt = line.popleft()
            if nxt.state == WAITING:
                conn.busy = nxt
                self._start(nxt, now)
                return

    # -- service: the virtual clock -----------------------------------------------------------

    def _rate_of(self, n: int) -> float:
        if n <= 1:
            return 1.0
        return 1.0 / (1.0 + self._sigma * (n - 1) + self._kappa * n * (n - 1))

    def _advance(self, now: float) -> None:
        if now > self._v_t:
            self._v += (now - self._v_t) * self._rate
            self._v_t = now

    def _waited(self, h: CallHandle, now: float) -> None:
        if self.ledger.counting:
            self._wait_total += now - h.t_call
            self._wait_n += 1

    def _start(self, h: CallHandle, now: float) -> None:
        """``h`` starts service now on its connection."""
        self._waited(h, now)
        self._advance(now)
        work = self._service()
        if self._has_outages:
            work *= self._slow(now)
        h.state = SERVING
        h.t_start = now
        heapq.heappush(self._heap, (self._v + work, next(self._seq), h))
        self._rate = self._rate_of(len(self._heap))
        self.in_service.change(now, 1)
        self._reschedule(now)

    def _reschedule(self, now: float) -> None:
        """Point the one wake-up at the earliest finish under the current rate."""
        if self._batch:
            return
        heap = self._heap
        if not heap:
            self._wake_at = math.inf
            self._wake_gen += 1
            return
        at = now + max(0.0, heap[0][0] - self._v) / self._rate
        if at == self._wake_at:
            return
        self._wake_gen += 1
        gen = self._wake_gen
        self._wake_at = at
        call_after(self.env, at - now, lambda _: self._wake(gen))

    def _wake(self, gen: int) -> None:
        if gen != self._wake_gen:
            return  # N changed since this wake-up was scheduled
        now = self.env.now
        self._advance(now)
        heap = self._heap
        self._wake_at = math.inf
        if heap[0][0] > self._v:
            self._v = heap[0][0]  # the wake-up is for it: absorb the clock's rounding
        done: list[CallHandle] = []
        while heap and heap[0][0] <= self._v:
            done.append(heapq.heappop(heap)[2])
        self._rate = self._rate_of(len(heap))
        self.in_service.change(now, -len(done))
        self._batch = True
        for h in done:
            self._release(h, now)
        self._batch = False
        self._reschedule(now)
        for h in done:
            self._served(h)

    def _transit(self, h: CallHandle) -> float:
        return self._latency_at(self.env.now)

    # -- results ----------------------------------------------------------------------------

    def metrics(self) -> dict[str, Any]:
        """Calls, refusals, timeouts, wasted time, utilisation, waits (``docs/metrics.md``)."""
        now = self.env.now
        c = self.max_connections
        mean_open = self.connections.mean(now)
        return {
            **self.call_metrics(),
            "utilization_mean": None if mean_open is None else mean_open / c,
            "utilization_max": self.connections.peak / c,
            "left_line": self.stats.left_line,
            "wait_mean_s": self._wait_total / self._wait_n if self._wait_n else None,
            "in_service_mean": self.in_service.mean(now),
            "in_service_max": self.in_service.peak,
            "connections_max": self.connections.peak,
        }
