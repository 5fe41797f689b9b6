"""AWS Lambda functions and their SQS event source mappings.

Modelled:
    * Execution: one invocation runs ``duration_s`` (whatever its batch size) plus
      ``duration_per_message_s`` per message; a run longer than ``timeout_s`` is cut at the
      timeout and fails as a whole. A cold start adds ``cold_start.duration_s`` before the run
      (not counted toward the timeout).
    * Cold starts: an execution environment stays warm for ``keep_alive_s`` after it finishes;
      an invocation reuses the most recently released warm environment, else starts a new one.
      AWS documents neither number: both are parameters.
    * Concurrency: executions of a function are limited by its ``reserved_concurrency``, or else
      by the account's unreserved pool (``account_concurrency`` minus all reservations, which
      must leave at least 100: "Configuring reserved concurrency for a function"). An
      invocation over the limit is throttled.
    * Scaling rate (AWS, "Lambda scaling behavior"): a function adds at most 1,000 new
      execution environments every 10 s, refilled continuously and not accrued: a token
      bucket of 1,000, full at the start, refilled at 100 per second (:class:`ScalingRate`).
      An invocation that needs a new environment when it is empty is throttled; reusing a
      warm environment takes none. Throttled work waiting for concurrency (the internal queue,
      throttled batches) is woken when the next new environment is allowed, as when
      concurrency frees up (an assumption: AWS does not say how soon throttled work retries).
    * Billing: one request per invocation; GB-seconds of the run and of its cold start (the
      INIT phase, billed since 1 August 2025: "AWS Lambda standardizes billing for INIT
      Phase", AWS Compute Blog; ``cold_start.billed: false`` turns it off), rounded up to the
      millisecond together; a timed-out run is billed up to ``timeout_s``.
    * Errors: each message of an invocation fails independently with probability
      ``errors.rate`` per attempt; a poison message (drawn with the workload: the message's
      ``poison_u`` < ``poison_rate``) fails every attempt. Outages: ``unavailable`` fails the
      invocation, ``throttled`` throttles it, ``slow`` multiplies its duration by ``factor``.
    * SQS event source mapping: polls its queue whenever messages are available and a batch
      slot is free; batches of up to ``batch_size`` messages; a batching window waits up to
      ``batching_window_s`` to fill a batch; ``poll_delay_s`` between receive and invoke;
      scaling from ``initial_concurrency`` (5) concurrent batches by ``scale_up_per_min`` (300)
      per minute while a backlog remains, up to ``max_concurrency`` (or ``max_batches``), and
      back towards ``initial_concurrency`` when traffic falls (``scale_down_after_s``).
      Its pollers that hold no batch long-poll the queue, one billed ReceiveMessage per
      ``long_poll_wait_s`` each (:mod:`sim.services.lambda_esm`).
      Back-off (AWS: on throttles and function errors the mapping reduces its concurrency;
      with ``report_batch_item_failures`` function errors do not scale it down): each
      throttled invoke and each failed invocation lowers the level by ``backoff_batches``,
      not below ``min_concurrency`` (2); the sizes are assumptions
      (:mod:`sim.services.lambda_esm`).
      A batch fails if any of its messages fails or it times out; then every message returns to
      the queue after the visibility timeout, including those processed successfully (later
      duplicates), unless ``report_batch_item_failures`` returns only the failed ones.
      Messages of a batch are processed in order; from a FIFO source processing stops at the
      first failure and the rest of the batch is returned unprocessed (AWS's guidance for FIFO
      partial batch responses), so per-group order holds. A throttled batch gives its slot
      up and keeps its messages; it is retried, oldest first, with the next concurrency that
      frees up (one of the mapping's invocations ending, or any execution of the function's
      pool) or by the mapping's retry 1 s, 2 s, 4 s, ... (at most ``backoff_cap_s``) later,
      until its visibility timeout ends, when its messages return to the queue (AWS: "keeps
      retrying until the timestamp passes the visibility timeout"; the schedule is an
      assumption). While throttled batches wait the mapping receives no new batch and does
      not scale up. An invoke that fails because the function is unavailable (an outage) is
      handled the same way; it is not an attempt.
    * Synchronous invocation (:meth:`LambdaFunction.invoke_sync`, behind API Gateway): the
      caller gets the answer when the run ends: success, a function error (the whole
      invocation fails on the message's error draw or the timeout), throttling when no
      concurrency is free, unavailable during an outage. No retry on the function's side.
    * ``max_message_age_s``: when the handler starts (after the cold start) an input older
      than this is dropped unprocessed: deleted from the queue (it counts as processed
      there), its pair ``expired``, counted in ``dropped_too_old``. The age of an SQS message
      runs from its send to the trigger queue (its ``SentTimestamp``; the queue's enqueue time,
      kept by a standard dead-letter queue); of an asynchronous event, from Lambda's accepting
      the invoke (the clock of ``max_event_age_s``). Dropping takes no time: a batch of stale
      messages runs 0 s; otherwise ``duration_s`` is drawn as usual and
      ``duration_per_message_s`` only for the fresh messages. A synchronous invocation is
      never too old (its caller is waiting for it).

Not modelled:
    * The event source mapping's optimisation to as few as 2 batches at low traffic (AWS gives
      no rule for it; evsim keeps at least ``initial_concurrency`` pollers, whose idle long
      polls it bills: :mod:`sim.services.lambda_esm`); provisioned pollers; the 6 MB batch
      payload cap; the 10 s limit of the INIT phase.
    * Asynchronous invocation is in :mod:`sim.services.lambda_async`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Protocol

from simpy.events import Event

from sim.config.lambda_ import LambdaFunctionSpec
from sim.engine.component import Component
from sim.engine.context import Context
from sim.engine.faults import THROTTLED, UNAVAILABLE
from sim.engine.message import Message, Pair
from sim.engine.ports import Plan, Reply
from sim.engine.samplers import is_zero, make_sampler
from sim.engine.schedule import call_after, call_at
from sim.services.handler import FAILED, SKIPPED, Handler
from sim.services.lambda_async import AsyncInvoker
from sim.services.lambda_esm import EventSourceMapping

if TYPE_CHECKING:
    from sim.engine.wiring import Wiring

__all__ = [
    "SCALING_ENVIRONMENTS", "SCALING_WINDOW_S", "CapacityWaiter", "ConcurrencyPool",
    "FunctionPort", "LambdaFunction", "ScalingRate", "SyncFunctionPort",
]  # fmt: skip

#: AWS Lambda's concurrency scaling rate: each function adds at most 1,000 execution
#: environments every 10 seconds ("Lambda scaling behavior", AWS Lambda developer guide).
SCALING_ENVIRONMENTS: Final = 1000
SCALING_WINDOW_S: Final = 10.0


class CapacityWaiter(Protocol):
    """Work waiting for concurrency: an asynchronous invoker or an event source mapping."""

    def on_capacity(self) -> None:
        """Concurrency freed up (or the function may scale again): take what it can now."""
        ...


class ScalingRate:
    """The concurrency scaling rate of one function: how fast it may add new environments.

    AWS: each function can add at most 1,000 execution environments every 10 seconds, the
    allowance is refilled continuously rather than 1,000 at a time, and what goes unused is
    not accrued (never more than 1,000 at once). So: a token bucket of ``environments``
    tokens, full at the start, refilled at ``environments / window_s`` per second; a new
    environment (a cold start) takes one; an invocation that needs a new environment when the
    bucket is empty is throttled. Reusing a warm environment takes none.

    The bucket is kept as the time it was last empty (``anchor + taken × step``), so that no
    refill events are needed and the arithmetic does not drift.
    """

    __slots__ = ("anchor", "full_s", "step", "taken", "wake_pending")

    def __init__(
        self, environments: int = SCALING_ENVIRONMENTS, window_s: float = SCALING_WINDOW_S
    ) -> None:
        self.step = window_s / environments  # seconds per token
        self.full_s = window_s  # an empty bucket is full again after this long
        self.anchor = -window_s  # full at time 0
        self.taken = 0
        #: a wake-up of the function's waiters at the next token is scheduled
        self.wake_pending = False

    def _empty_at(self, now: float) -> float:
        """When the bucket was last empty (``now − full_s`` at the latest: no accrual)."""
        base = self.anchor + self.taken * self.step
        if now - base > self.full_s:
            self.anchor, self.taken = now - self.full_s, 0
            return self.anchor
        return base

    def ready(self, now: float) -> bool:
        """Whether a new environment may start at ``now``."""
        return now - self._empty_at(now) >= self.step - 1e-9

    def take(self, now: float) -> bool:
        """Take one token for a new environment at ``now``; False when there is none."""
        if not self.ready(now):
            return False
        self.taken += 1
        return True

    def next_at(self, now: float) -> float:
        """When the next token arrives (after ``now`` when the bucket is empty)."""
        return self._empty_at(now) + self.step


class ConcurrencyPool:
    """A concurrency limit shared by the functions that draw from it.

    Work that was throttled and waits for concurrency (an internal queue of asynchronous
    events, throttled batches of an event source mapping) registers with :meth:`wait`; when an
    execution ends, :meth:`wake` offers the freed concurrency to the waiters in turn, the
    longest-waiting first, so that no concurrency idles while throttled work waits.
    """

    __slots__ = ("busy", "limit", "peak", "waiters")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.busy = 0
        #: the most executions running at once since the start of the counted period
        self.peak = 0
        self.waiters: list[CapacityWaiter] = []

    def take(self) -> None:
        """One more execution runs (the limit is the caller's to check)."""
        n = self.busy = self.busy + 1
        if n > self.peak:
            self.peak = n

    def restart_peak(self) -> None:
        """The counted period starts: the peak starts from what runs now."""
        self.peak = self.busy

    def wait(self, waiter: CapacityWaiter) -> None:
        """``waiter`` has work waiting for concurrency (registered once)."""
        if waiter not in self.waiters:
            self.waiters.append(waiter)

    def unwait(self, waiter: CapacityWaiter) -> None:
        """``waiter`` has no more work waiting."""
        if waiter in self.waiters:
            self.waiters.remove(waiter)

    def wake(self) -> None:
        """Offer free concurrency to the waiters, in turn; one that still waits goes last."""
        for waiter in list(self.waiters):
            if self.busy >= self.limit:
                return
            waiter.on_capacity()
            if waiter in self.waiters:
                self.waiters.remove(waiter)
                self.waiters.append(waiter)


def _unreserved(wiring: Wiring) -> ConcurrencyPool:
    """The pool the functions without a reservation share: the account's unreserved rest."""
    specs = wiring.scenario.components.values()
    reserved = sum(s.reserved_concurrency or 0 for s in specs if isinstance(s, LambdaFunctionSpec))
    return ConcurrencyPool(max(0, wiring.scenario.account_concurrency - reserved))


class LambdaFunction(Component):
    """A Lambda function: execution environments, concurrency, durations and errors."""

    def __init__(self, ctx: Context, name: str, spec: LambdaFunctionSpec) -> None:
        super().__init__(ctx, name)
        self.spec = spec
        streams = ctx.streams
        self._duration = make_sampler(spec.duration_s, streams.get(name, "duration"))
        self._per_message = (
            None
            if is_zero(spec.duration_per_message_s)
            else make_sampler(spec.duration_per_message_s, streams.get(name, "per_message"))
        )
        self._cold_duration = make_sampler(
            spec.cold_start.duration_s, streams.get(name, "cold_start")
        )
        self._keep_alive_s = spec.cold_start.keep_alive_s
        self.timeout_s = spec.timeout_s
        #: the handler drops inputs older than this when it starts (None: no limit)
        self.max_age_s = spec.max_message_age_s
        self.error_rate = spec.errors.rate
        self.poison_rate = spec.errors.poison_rate
        self._error_draw = streams.uniform(name, "errors")
        #: an invocation's run time is one draw of duration_s (no per-message part, no outages)
        self.plain_run = (
            ctx.fast and is_zero(spec.duration_per_message_s) and not ctx.faults.has_outages(name)
        )
        self._warm: list[float] = []  # release times of idle environments, latest last
        self.pool = ConcurrencyPool(0)  # replaced by the builder
        # Counts kept besides the pool's, only where the pool's do not tell (chosen in
        # connect): this function's executions when it shares its pool with other functions
        # (``_own``), and the account's when the account has more than one pool (``_account``).
        # One tuple of both, empty in the common case (one pool), keeps the instance within
        # 30 attributes (see :class:`sim.services.sqs.queue.Queue` on why that matters).
        self._counts: tuple[ConcurrencyPool | None, ConcurrencyPool | None] | tuple[()] = ()
        #: the SQS event source mapping, when the function has a ``trigger``
        self.esm: EventSourceMapping | None = None
        self.stats = ctx.ledger.function(name)
        self._has_outages = ctx.faults.has_outages(name)
        self._gb = spec.memory_mb / 1024.0
        self._bill_requests = ctx.cost.counter(name, "lambda_requests")
        self._bill_gb_s = ctx.cost.counter(name, "lambda_gb_s")
        self._scaling = ScalingRate()
        self.async_invoker = AsyncInvoker(self, spec.async_)
        self.handler = Handler(self, spec)
        #: True when an invocation runs the handler's calls and outputs after its duration
        self.effects = self.handler.active
        # execution environments by id, only when calls hold a connection per environment
        self._env_ids: list[int] | None = [] if self.handler.per_environment else None
        self._next_env = 0
        #: the environment of the latest acquire (when environments are tracked)
        self.current_env: tuple[str, int] | None = None

    @property
    def concurrency_in_use(self) -> int:
        """Executions of this function's pool currently running."""
        return self.pool.busy

    @property
    def _own(self) -> ConcurrencyPool | None:
        return self._counts[0] if self._counts else None

    @property
    def _account(self) -> ConcurrencyPool | None:
        return self._counts[1] if self._counts else None

    @property
    def running(self) -> int:
        """Executions of this function running now."""
        return (self._own or self.pool).busy

    @property
    def concurrency_max(self) -> int:
        """The most executions of this function running at once (counted period)."""
        return (self._own or self.pool).peak

    @property
    def account_concurrency_max(self) -> int:
        """The most executions of all functions running at once (counted period)."""
        return (self._account or self.pool).peak

    def port(self, wiring: Wiring) -> FunctionPort:
        """An asynchronous Invoke (the function's internal queue); the function is the sink."""
        return FunctionPort(self)

    def connect(self, wiring: Wiring) -> None:
        """Take a concurrency pool, attach the SQS trigger, wire the on-failure queue.

        A function with ``reserved_concurrency`` has a pool of its own; the others share what
        the reservations leave of ``account_concurrency``.
        """
        rc = self.spec.reserved_concurrency
        if rc is not None:
            self.pool = ConcurrencyPool(rc)
        else:
            self.pool = wiring.shared("unreserved concurrency", lambda: _unreserved(wiring))
        specs = wiring.scenario.of_type(LambdaFunctionSpec).values()
        unreserved = sum(1 for f in specs if f.reserved_concurrency is None)
        pools = sum(1 for f in specs if f.reserved_concurrency is not None) + (unreserved > 0)
        own = ConcurrencyPool(0) if rc is None and unreserved > 1 else None
        account = None
        if pools > 1:
            limit = wiring.scenario.account_concurrency
            account = wiring.shared("account concurrency", lambda: ConcurrencyPool(limit))
        self._counts = (own, account) if own is not None or account is not None else ()
        trigger = self.spec.trigger
        if trigger is not None:
            self.esm = EventSourceMapping(self, wiring.components[trigger.source], trigger)
        dest = self.spec.async_.on_failure
        if dest is not None:
            if wiring.is_type(dest, "sqs_queue"):
                self.async_invoker.destination_queue = wiring.components[dest]
            else:
                self.async_invoker.failure_port = wiring.ports[dest]
        dest = self.spec.async_.on_success
        if dest is not None:
            self.async_invoker.success_port = wiring.ports[dest]
        self.handler.connect(wiring)

    def message_fails(self, poison_u: float) -> bool:
        """Draw whether processing one message fails (poison messages always fail)."""
        if poison_u < self.poison_rate:
            return True
        return self.error_rate > 0.0 and self._error_draw() < self.error_rate

    def acquire(self, now: float) -> str | bool:
        """Start an execution: ``THROTTLED``/``UNAVAILABLE``, else whether it is a cold start."""
        if self._has_outages:
            w = self.ctx.faults.window_at(self.name, now)
            if w is not None and w.mode != "slow":
                return THROTTLED if w.mode == THROTTLED else UNAVAILABLE
        pool = self.pool
        if pool.busy >= pool.limit:
            return THROTTLED
        warm = self._warm
        reuse = bool(warm) and now - warm[-1] <= self._keep_alive_s
        if not reuse and not self._scaling.take(now):
            self._wake_at_next_environment(now)
            return THROTTLED  # the function may not add an environment yet (scaling rate)
        n = pool.busy = pool.busy + 1
        if n > pool.peak:
            pool.peak = n
        if self._counts:
            for counter in self._counts:
                if counter is not None:
                    counter.take()
        if self._env_ids is not None:
            cold = self._acquire_tracked(now)
        elif reuse:
            warm.pop()
            cold = False
        else:
            warm.clear()  # the most recent one is too old, so are all the others
            cold = True
        self._bill_requests[0] += 1
        self.ledger.invocation(self.stats, cold)
        return cold

    def can_start(self, now: float) -> bool:
        """Whether an execution could start now: concurrency, and a warm environment or scaling.

        Work waiting for concurrency asks this before it tries, so that a hand-over does not
        count a throttle. When only the scaling rate stops it, the function's waiters are
        woken when the next new environment is allowed. Outages are not checked.
        """
        pool = self.pool
        if pool.busy >= pool.limit:
            return False
        warm = self._warm
        if (warm and now - warm[-1] <= self._keep_alive_s) or self._scaling.ready(now):
            return True
        self._wake_at_next_environment(now)
        return False

    def _wake_at_next_environment(self, now: float) -> None:
        """Wake this function's waiting work when its scaling rate allows a new environment."""
        scaling = self._scaling
        if not scaling.wake_pending:
            scaling.wake_pending = True
            call_at(self.env, scaling.next_at(now), self._on_next_environment)

    def _on_next_environment(self) -> None:
        self._scaling.wake_pending = False
        waiters = self.pool.waiters
        for waiter in (self.async_invoker, self.esm):
            if waiter is not None and waiter in waiters:
                waiter.on_capacity()

    def _acquire_tracked(self, now: float) -> bool:
        """:meth:`acquire` of an environment by id (connections held per environment)."""
        warm = self._warm
        ids = self._env_ids
        assert ids is not None
        if warm and now - warm[-1] <= self._keep_alive_s:
            warm.pop()
            self.current_env = (self.name, ids.pop())
            return False
        for env_id in ids:
            self._reclaim(env_id)
        warm.clear()
        ids.clear()
        self._next_env += 1
        self.current_env = (self.name, self._next_env)
        return True

    def _reclaim(self, env_id: int) -> None:
        """Environment ``env_id`` is reclaimed: the connections it holds close."""
        for call in self.handler.calls:
            if call.per_environment:
                call.dependency.release_holder((self.name, env_id))

    def _idle_check(self, env_id: int, released_s: float) -> None:
        """Reclaim environment ``env_id`` if it stayed idle since ``released_s``."""
        ids = self._env_ids
        assert ids is not None
        for j, e in enumerate(ids):
            if e == env_id:
                if self._warm[j] == released_s:
                    del ids[j]
                    del self._warm[j]
                    self._reclaim(env_id)
                return

    def release(
        self, now: float, ran_s: float, env: tuple[str, int] | None = None, cold_s: float = 0.0
    ) -> None:
        """End an execution that ran ``ran_s`` seconds; its environment stays warm.

        ``env`` is the environment it ran in, when environments are tracked; ``cold_s`` the
        cold start (INIT phase) before the run, billed with it unless ``cold_start.billed`` is
        false. The billed duration is rounded up to the millisecond.
        """
        pool = self.pool
        pool.busy -= 1
        if self._counts:
            for counter in self._counts:
                if counter is not None:
                    counter.busy -= 1
        self._warm.append(now)
        if self._env_ids is not None:
            assert env is not None
            env_id = env[1]
            self._env_ids.append(env_id)
            call_after(
                self.env, self._keep_alive_s, lambda _: self._idle_check(env_id, now)
            )
        if cold_s and self.spec.cold_start.billed:
            ran_s += cold_s
        self._bill_gb_s[0] += self._gb * math.ceil(ran_s * 1000.0 - 1e-9) / 1000.0  # 1 ms
        if pool.waiters:
            pool.wake()  # throttled work waits: it gets the freed concurrency at once

    def run_time(self, n_messages: int, now: float) -> float:
        """Draw the run time of one invocation with ``n_messages`` messages (seconds)."""
        run = self._duration()
        if self._per_message is not None:
            for _ in range(n_messages):
                run += self._per_message()
        if self._has_outages:
            run *= self.ctx.faults.slow_factor(self.name, now)
        return run

    def invoke_sync(self, pair: Pair, reply: Callable[[str | None], None]) -> None:
        """A synchronous (RequestResponse) invoke with one message; see the module docstring.

        On success the function has processed ``pair`` (and consumed the caller's unit); on
        an error answer the caller keeps its unit.
        """
        now = self.env.now
        got = self.acquire(now)
        if got == THROTTLED:
            self.ledger.throttle(self.stats)
            reply(THROTTLED)
            return
        if got == UNAVAILABLE:
            reply(UNAVAILABLE)
            return
        cold_s, ran_s, timed_out = self.plan_run(got is True, 1, now)
        trace = self.ledger.trace
        holder = self.current_env
        outcome: list[int] = []

        def done(_: Event | None) -> None:
            ledger = self.ledger
            self.release(self.env.now, ran_s, holder, cold_s)
            ledger.attempt(pair)
            if timed_out:
                ledger.timeout(self.stats)
            if outcome:
                fails = outcome[0] == FAILED
                if outcome[0] == SKIPPED:
                    ledger.release(pair)
                    reply(None)
                    return
            else:
                fails = timed_out or self.message_fails(pair.msg.poison_u)
            if fails:
                ledger.function_error(self.stats)
                if trace is not None:
                    ledger.log(self.env.now, self.name, "failure", pair.msg.id)
                reply("server_error")
                return
            if trace is not None:
                ledger.log(self.env.now, self.name, "success", pair.msg.id)
            ledger.success(pair)
            ledger.release(pair)
            reply(None)

        if self.effects and not timed_out:

            def effects_done(outcomes: list[int] | None, run_s: float) -> None:
                nonlocal ran_s, timed_out
                ran_s = run_s
                if outcomes is None:
                    timed_out = True
                else:
                    outcome.extend(outcomes)
                done(None)

            run_start = now + cold_s
            call_after(
                self.env,
                cold_s + ran_s,
                lambda _: self.handler.execute([pair], False, holder, run_start, effects_done),
            )
            return
        call_after(self.env, cold_s + ran_s, done)

    def end_warmup(self) -> None:
        """The counted period starts: the concurrency peaks start from what runs now.

        The event source's idle long polls are billed from now on.
        """
        for pool in (self.pool, self._own, self._account):
            if pool is not None:
                pool.restart_peak()
        if self.esm is not None:
            self.esm.restart_idle_polls()

    def finalize(self) -> None:
        """The run ends: bill the event source's idle long polls."""
        esm = self.esm
        if esm is not None:
            esm.bill_idle_polls()
            self.ctx.cost.set_pending(esm.queue.name, esm.bill_item, 0.0)

    def observe(self) -> tuple[dict[str, float], dict[str, float]]:
        """States now and counts so far, for the time series (``docs/metrics.md``).

        The event source's idle long polls so far are shown to the cost meter as pending, so
        that the run's cumulative ``cost_usd``, sampled after the components, includes them.
        """
        stats = self.stats
        states: dict[str, float] = {"concurrency": self.running}
        esm = self.esm
        if esm is not None:
            self.ctx.cost.set_pending(esm.queue.name, esm.bill_item, esm.idle_polls_so_far())
            states["pollers"] = esm.level
        return states, {
            "invocations_per_s": stats.invocations,
            "errors_per_s": stats.errors,
            "throttles_per_s": stats.throttles,
            "timeouts_per_s": stats.timeouts,
            "cold_starts_per_s": stats.cold_starts,
        }

    def plan_run(self, cold: bool, n_messages: int, now: float) -> tuple[float, float, bool]:
        """Draw one invocation: ``(cold start s, run s capped at the timeout, timed out)``."""
        cold_s = self._cold_duration() if cold else 0.0
        run = self._duration() if self.plain_run else self.run_time(n_messages, now)
        if run > self.timeout_s:
            return cold_s, self.timeout_s, True
        return cold_s, run, False

    def plan_aged_run(
        self, cold: bool, sent_s: list[float], now: float
    ) -> tuple[float, float, bool, list[bool] | None]:
        """:meth:`plan_run` with ``max_message_age_s``: also which inputs are too old.

        ``sent_s`` holds, per input, the time its age counts from. An input is too old when
        its age when the handler starts (after the cold start) exceeds ``max_message_age_s``.
        Dropping one takes no time: ``duration_s`` is drawn only when some input is fresh, and
        ``duration_per_message_s`` only for the fresh ones. The last item is the list of
        flags, or None when every input is fresh.
        """
        cold_s = self._cold_duration() if cold else 0.0
        start = now + cold_s
        limit = self.max_age_s
        assert limit is not None
        stale = [start - t > limit for t in sent_s]
        fresh = stale.count(False)
        if fresh == 0:
            return cold_s, 0.0, False, stale
        run = self._duration() if self.plain_run else self.run_time(fresh, now)
        flags = stale if fresh < len(stale) else None
        if run > self.timeout_s:
            return cold_s, self.timeout_s, True, flags
        return cold_s, run, False, flags


# --------------------------------------------------------------------------- port


class FunctionPort:
    """A Lambda function invoked asynchronously (its internal queue); it is the sink."""

    #: the SNS subscription protocol of a function target
    protocol = "lambda"

    def __init__(self, fn: LambdaFunction) -> None:
        self.fn = fn
        self.name = fn.name
        self.sink: str | None = fn.name
        self._invoker = fn.async_invoker
        self._plan = Plan((fn.name,))

    def plan(self, msg: Message, body: dict[str, Any] | None = None) -> Plan:
        """One pair: the function."""
        return self._plan

    def reachable(self) -> list[str]:
        """The function."""
        return [self.name]

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
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

    def accept(self, msg: Message, plan: Plan, pairs: list[Pair], reply: Reply) -> None:
        """Invoke (RequestResponse): answered when the function finishes."""
        self.fn.invoke_sync(pairs[0], reply)
