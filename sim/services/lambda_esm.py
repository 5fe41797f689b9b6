"""The SQS event source mapping: Lambda's pollers that read a queue in batches and invoke.

The semantics (batching window, concurrency scaling and back-off, partial batch responses,
FIFO order) are stated in the docstring of :mod:`sim.services.lambda_`. In short, the
mapping's *level* is how many batches it may have in hand at once:

* it starts at ``initial_concurrency`` and grows by one batch every ``60 / scale_up_per_min``
  seconds while messages wait and every slot is busy, up to ``max_concurrency`` (or
  ``max_batches``);
* a throttled invoke releases its slot and lowers the level by ``backoff_batches`` (not below
  ``min_concurrency``); the throttled batch keeps its messages and is retried, oldest first,
  with the next slot one of the mapping's invocations frees (or any concurrency freed in the
  function's pool), or by the mapping's retry after ``1, 2, 4, ... s`` (at most
  ``backoff_cap_s``), until its visibility timeout ends and its messages return to the queue.
  While throttled batches wait, the mapping receives no new batches and does not scale up;
  after a throttle it adds no batch before its next retry, and the retry interval starts over
  when a batch tried to probe for concurrency (a retry or a scale-up step) is invoked;
* a failed invocation (function error or timeout) lowers the level by ``backoff_batches``,
  unless ``report_batch_item_failures`` is on (AWS: failures then do not scale polling down);
* every ``scale_down_after_s``, a level above ``initial_concurrency`` that was not fully used
  falls to the most batches in use meanwhile plus one (traffic fell), not below
  ``initial_concurrency``.

Idle long polls: the mapping keeps ``level`` pollers; each one holding no batch waits on the
queue in long polls of ``long_poll_wait_s`` (20 s), each a billed ReceiveMessage. While
throttled batches wait the mapping receives nothing and makes none. They are counted
analytically, without events: the free pollers (``level`` minus the batches in hand) are
constant between two changes of the level, of the batches in hand or of the throttled
batches; at every such change the mapping adds free pollers × elapsed time to its idle
poller-seconds, and at the end of the run it bills them ÷ ``long_poll_wait_s`` as requests
to its queue (a time-series sample shows the requests so far as pending cost, without
touching the count, so recording changes no metric). The count is exact for that model; it
is fractional (a spell of 5 s with one free poller counts a quarter of a request) where AWS
bills whole requests: a poller's long poll that ends early with a message is billed as that
receive, not as an empty one, so per idle spell AWS bills up to one request less.

Without throttles or failures only the last rule moves the level down, and only below a level
that went unused for a whole ``scale_down_after_s``: with ``max_concurrency`` c ≤ 5 the level
stays c, so SQS → Lambda with the overheads zeroed stays an M/M/c queue.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

from simpy.events import Event

from sim.config.lambda_ import TriggerSpec
from sim.engine.faults import THROTTLED, UNAVAILABLE
from sim.engine.samplers import is_zero, make_sampler
from sim.engine.schedule import Tick, Timer, call_after, call_at
from sim.services.handler import FAILED, OK, STALE
from sim.services.sqs.queue import Queue, QueueCopy

if TYPE_CHECKING:
    from sim.services.lambda_ import LambdaFunction

__all__ = ["EventSourceMapping"]

#: The first wait before a retry of throttled batches (seconds; doubles up to backoff_cap_s).
_RETRY_FIRST_S: Final = 1.0


class _Batch(Tick):
    """One batch in the hands of an event source mapping.

    It is its own heap entry for the end of its run (:meth:`fire`): no timer per invocation.
    """

    __slots__ = (
        "cold_s",
        "entries",
        "env",
        "esm",
        "finished",
        "outcomes",
        "probe",
        "ran_s",
        "received_s",
        "retries",
        "returning",
        "run_effects",
        "stale",
        "timed_out",
    )

    def __init__(
        self, esm: EventSourceMapping, entries: list[tuple[QueueCopy, int]], received_s: float
    ) -> None:
        self.esm = esm
        self.entries = entries
        self.received_s = received_s
        self.retries = 0
        self.timed_out = False
        self.ran_s = 0.0
        self.cold_s = 0.0
        self.outcomes: list[int] | None = None
        self.env: tuple[str, int] | None = None
        self.finished = False
        self.probe = False  # invoked to probe for concurrency (a retry, a scale-up step)
        self.returning = False  # its return to the queue at the visibility timeout is set
        self.stale: list[bool] | None = None  # inputs too old when the handler started
        self.run_effects = False  # its run ends into the handler's calls and outputs

    def invoke(self, _: Timer | None = None) -> None:
        self.esm._invoke(self)

    def fire(self) -> None:
        """The invocation's run ended."""
        if self.run_effects:
            self.effects(None)
        else:
            self.esm._complete(self)

    def effects(self, _: Timer | None) -> None:
        """The invocation's own run ended: now the handler's calls and outputs."""
        esm = self.esm
        run_start = esm.env.now - self.ran_s
        pairs = [copy.pair for copy, _ in self.entries]
        esm.fn.handler.execute(
            pairs, esm._fifo, self.env, run_start, self.effects_done, self.stale
        )

    def effects_done(self, outcomes: list[int] | None, ran_s: float) -> None:
        self.ran_s = ran_s
        self.outcomes = outcomes
        self.timed_out = outcomes is None
        self.finished = True
        self.esm._complete(self)

    def visibility_ended(self) -> None:
        """The visibility timeout ended while the handler still runs: the batch is visible."""
        if not self.finished:
            self.esm.queue.return_after_timeout(list(self.entries), self.received_s)


class EventSourceMapping:
    """An SQS event source mapping: polls ``queue`` and invokes ``fn`` with batches."""

    def __init__(self, fn: LambdaFunction, queue: Queue, spec: TriggerSpec) -> None:
        self.fn = fn
        self.queue = queue
        self.env = fn.env
        self.ledger = fn.ledger
        self.spec = spec
        self.batch_size = spec.batch_size
        self.window_s = spec.batching_window_s
        self.report_failures = spec.report_batch_item_failures
        self.cap = min(spec.max_concurrency or spec.max_batches, spec.max_batches)
        self.level = min(spec.initial_concurrency, self.cap)
        self._idle_floor = self.level
        self._backoff_floor = min(spec.min_concurrency, self.level)
        self._backoff_step = spec.backoff_batches
        self._retry_cap_s = spec.backoff_cap_s
        self._idle_s = spec.scale_down_after_s
        self._scale_step_s = 60.0 / spec.scale_up_per_min
        self._poll_delay = (
            None
            if is_zero(spec.poll_delay_s)
            else make_sampler(spec.poll_delay_s, fn.ctx.streams.get(fn.name, "poll_delay"))
        )
        self.in_use = 0
        self._scale_pending = False
        self._retry_pending = False
        self._window_timer: Timer | None = None
        self._window_open = False
        self._fifo = queue.fifo
        self.fast = fn.ctx.fast  # the one-message completion's fast path may be taken
        self._trace = fn.ledger.trace
        self._aged = fn.max_age_s is not None  # the handler drops inputs that are too old
        #: throttled batches waiting to be invoked again, oldest receive first
        self._throttled: deque[_Batch] = deque()
        self._probe_timer: Timer | None = None  # the next retry of throttled batches
        self._interval_s = _RETRY_FIRST_S  # the wait before the retry after the next throttle
        self._no_scale_until = 0.0  # no scale-up step before (after a throttle)
        self._probing = False  # the next batch received probes for concurrency
        self._peak = self.level  # the most batches in use since the last scale-down check
        self._idle_pending = False
        # idle long polls (module docstring): free poller-seconds counted up to _idle_t
        self._wait_s = spec.long_poll_wait_s
        self._idle_poller_s = 0.0
        self._idle_t = self.env.now
        self._cost = fn.ctx.cost
        self.bill_item = "sqs_fifo_requests" if queue.fifo else "sqs_standard_requests"
        queue.attach_consumer(self)

    # -- idle long polls ------------------------------------------------------------------------

    def count_idle_polls(self) -> None:
        """Count the idle poller-seconds up to now (before the free pollers change)."""
        now = self.env.now
        free = self.level - self.in_use
        if free > 0 and not self._throttled:
            self._idle_poller_s += free * (now - self._idle_t)
        self._idle_t = now

    def idle_polls_so_far(self) -> float:
        """The idle long polls of the counted period up to now (requests), counting nothing."""
        free = self.level - self.in_use
        pending = free * (self.env.now - self._idle_t) if free > 0 and not self._throttled else 0
        return (self._idle_poller_s + pending) / self._wait_s

    def restart_idle_polls(self) -> None:
        """The counted period starts now: idle polls before it are not billed."""
        self._idle_poller_s = 0.0
        self._idle_t = self.env.now

    def bill_idle_polls(self) -> None:
        """The run ends: bill the idle long polls of the counted period to the queue."""
        self.count_idle_polls()
        self._cost.add(self.queue.name, self.bill_item, self._idle_poller_s / self._wait_s)
        self._idle_poller_s = 0.0

    # -- polling --------------------------------------------------------------------------------

    def on_available(self) -> None:
        """The source queue has new visible messages (or a group was unblocked)."""
        if self.in_use < self.level:
            self._dispatch()
        elif self.level < self.cap and not self._scale_pending:
            self._schedule_scale()

    def _dispatch(self) -> None:
        if self._throttled and not self._drop_expired():
            return  # throttled batches wait for concurrency: no new batches meanwhile
        queue = self.queue
        env = self.env
        gated = queue.gated_receive
        while self.in_use < self.level and queue.has_available():
            now = env.now
            if gated:
                ready = queue.receive_ready_at(now)
                if ready > now:
                    if not self._retry_pending:
                        self._retry_pending = True
                        call_after(env, ready - now, self._on_retry)
                    return
            if self.window_s > 0.0 and not self._window_open and queue.depth < self.batch_size:
                if self._window_timer is None:
                    self._window_timer = call_after(env, self.window_s, self._on_window)
                return
            entries = queue.receive(self.batch_size)
            if self._window_timer is not None or self._window_open:
                # a batch was taken: a pending window is over, the next batch waits anew
                self._window_timer = None
                self._window_open = False
            if not entries:
                continue
            self.count_idle_polls()
            self.in_use += 1
            if self.in_use > self._peak:
                self._peak = self.in_use
            batch = _Batch(self, entries, now)
            if self._probing:
                batch.probe = True
                self._probing = False
            if self._poll_delay is not None:
                call_after(env, self._poll_delay(), batch.invoke)
            else:
                self._invoke(batch)
            if self._throttled:
                return  # it was throttled
        if self.level < self.cap and self.in_use >= self.level and queue.has_available():
            self._schedule_scale()

    def _on_retry(self, _: Event) -> None:
        self._retry_pending = False
        self._dispatch()

    def _on_window(self, ev: Timer) -> None:
        if ev is not self._window_timer:
            return  # the window it timed ended early, when a batch was taken
        self._window_timer = None
        self._window_open = True
        self._dispatch()

    def _schedule_scale(self) -> None:
        if not self._scale_pending:
            self._scale_pending = True
            wait = max(self._scale_step_s, self._no_scale_until - self.env.now)
            call_after(self.env, wait, self._on_scale)

    def _on_scale(self, _: Event) -> None:
        self._scale_pending = False
        if self._throttled or not (self.queue.has_available() and self.in_use >= self.level):
            return
        if self.env.now < self._no_scale_until:
            self._schedule_scale()  # backing off after a throttle
            return
        self.count_idle_polls()
        self.level = min(self.cap, self.level + 1)
        if self.level > self._idle_floor and not self._idle_pending:
            self._idle_pending = True
            call_after(self.env, self._idle_s, self._on_idle_check)
        self._probing = True
        self._dispatch()
        self._probing = False

    def _on_idle_check(self, _: Event) -> None:
        """Scale down a level that went unused: traffic fell (module docstring)."""
        self.count_idle_polls()
        if self._peak < self.level:
            # never up: a back-off may have taken the level below the floor meanwhile
            self.level = min(self.level, max(self._idle_floor, self._peak + 1))
        self._peak = self.in_use
        if self.level > self._idle_floor:
            call_after(self.env, self._idle_s, self._on_idle_check)
        else:
            self._idle_pending = False

    # -- throttled batches ----------------------------------------------------------------------

    def _back_off(self) -> None:
        """A throttled or failed invocation: the mapping gives up concurrency."""
        self.count_idle_polls()
        self.level = max(self._backoff_floor, self.level - self._backoff_step)

    def _drop_expired(self) -> bool:
        """Forget throttled batches whose visibility timeout has ended; True if none are left.

        Their messages are back in the queue already (:meth:`_blocked` set their return).
        """
        throttled = self._throttled
        limit = self.env.now - self.queue.visibility_timeout_s
        if throttled and throttled[0].received_s <= limit:
            self.count_idle_polls()
            while throttled and throttled[0].received_s <= limit:
                throttled.popleft()
        if throttled:
            return False
        self.fn.pool.unwait(self)
        return True

    def _retry_throttled(self, probe: bool) -> None:
        """Invoke throttled batches again, oldest first, while the mapping has free slots.

        A hand-over (``probe`` false: concurrency was freed, or the function may scale again)
        tries only while the function could start an execution, so it counts no throttle; a
        probe (the retry timer) tries regardless.
        """
        fn = self.fn
        throttled = self._throttled
        while self.in_use < self.level and not self._drop_expired():
            if not probe and not fn.can_start(self.env.now):
                return
            self.count_idle_polls()
            batch = throttled.popleft()
            batch.probe = probe
            self.in_use += 1
            if self.in_use > self._peak:
                self._peak = self.in_use
            self._invoke(batch)
            if throttled and throttled[0] is batch:
                return  # throttled again
        if not throttled:
            self._dispatch()

    def _on_probe(self, _: Event) -> None:
        self._probe_timer = None
        if self._throttled:
            self._retry_throttled(True)

    def on_capacity(self) -> None:
        """Concurrency freed up (or the function may scale again): throttled batches first."""
        if self._throttled:
            self._retry_throttled(False)

    # -- invocation -----------------------------------------------------------------------------

    def _invoke(self, batch: _Batch) -> None:
        fn = self.fn
        env = self.env
        now = env.now
        got = fn.acquire(now)
        if got in (THROTTLED, UNAVAILABLE):
            self._blocked(batch, got == THROTTLED)
            return
        if batch.probe:
            self._interval_s = _RETRY_FIRST_S  # the function had concurrency to spare
        if self._aged:
            sent = [copy.enqueue_s for copy, _ in batch.entries]  # SentTimestamp
            cold_s, run, batch.timed_out, batch.stale = fn.plan_aged_run(got is True, sent, now)
        else:
            cold_s, run, batch.timed_out = fn.plan_run(got is True, len(batch.entries), now)
        batch.ran_s = run
        batch.cold_s = cold_s
        batch.env = fn.current_env  # released with the run, whether it times out or not
        if fn.effects and not batch.timed_out:
            visible_s = batch.received_s + self.queue.visibility_timeout_s
            if now + cold_s + fn.timeout_s > visible_s:
                call_at(env, visible_s, batch.visibility_ended)
            batch.run_effects = True
            env.push_at(env.now + (cold_s + run), batch)
            return
        if now + cold_s + run > batch.received_s + self.queue.visibility_timeout_s:
            # the function outlives the visibility timeout: the batch becomes visible again
            self.queue.return_after_timeout(list(batch.entries), batch.received_s)
        batch.run_effects = False
        env.push_at(env.now + (cold_s + run), batch)

    def _complete(self, batch: _Batch) -> None:
        fn = self.fn
        now = self.env.now
        fn.release(now, batch.ran_s, batch.env, batch.cold_s)
        ledger = self.ledger
        trace = self._trace
        timed_out = batch.timed_out
        if timed_out:
            ledger.timeout(fn.stats)
        entries = batch.entries
        outcomes = batch.outcomes
        if (
            len(entries) == 1
            and self.fast
            and not timed_out
            and trace is None
            and (outcomes is None or outcomes[0] <= FAILED)
        ):
            # fast path: one message
            copy = entries[0][0]
            if outcomes is not None:
                fails = outcomes[0] == FAILED
            else:
                fails = fn.message_fails(copy.pair.msg.poison_u)
            if copy.parked:
                if fails and not self.report_failures:
                    ledger.function_error(fn.stats)
                self._finish(batch, None if fails else entries, entries if fails else None)
                return
            pair = copy.pair
            if fails:
                if not self.report_failures:
                    ledger.function_error(fn.stats)
                ledger.attempt(pair)
                self._finish(batch, None, entries)
                return
            ledger.success(pair, 1)  # the attempt and its success
            queue = self.queue
            if queue.delete_processed(copy, entries[0][1]):
                self.count_idle_polls()
                self.in_use -= 1
                if self._throttled:
                    self._retry_throttled(False)
                elif self.in_use < self.level and queue.has_available():
                    self._dispatch()
                return
            self._finish(batch, entries, None)
            return
        ok: list[tuple[QueueCopy, int]] = []
        failed: list[tuple[QueueCopy, int]] = []
        stale: list[tuple[QueueCopy, int]] | None = None
        for i, entry in enumerate(entries):
            copy = entry[0]
            pair = copy.pair
            intended = not copy.parked
            if outcomes is not None:
                outcome = outcomes[i]
                fails = outcome == FAILED
            else:
                outcome = OK
                fails = timed_out or fn.message_fails(pair.msg.poison_u)
            if intended:
                ledger.attempt(pair)
            if fails:
                failed.append(entry)
                if trace is not None:
                    ledger.log(now, fn.name, "failure", pair.msg.id)
                if self._fifo and not timed_out:
                    failed.extend(entries[i + 1 :])  # FIFO: stop at the first failure
                    break
            else:
                ok.append(entry)
                if outcome == STALE:
                    stale = stale or []
                    stale.append(entry)
                    continue
                if intended and outcome == OK:
                    ledger.success(pair)
                if trace is not None:
                    ledger.log(now, fn.name, "success", pair.msg.id)
        if timed_out or (failed and not self.report_failures):
            ledger.function_error(fn.stats)  # the handler raised (a partial response did not)
        if failed and not self.report_failures:
            self._finish(batch, None, entries)  # the stale ones return with the others
            return
        if stale:
            # dropped unprocessed: deleted like a success, the pair expires with its copy
            for copy, _ in stale:
                if not copy.parked:
                    ledger.too_old(copy.pair)
                if trace is not None:
                    ledger.log(now, fn.name, "too_old", copy.pair.msg.id)
        self._finish(batch, ok, failed)

    def _finish(
        self,
        batch: _Batch,
        delete: list[tuple[QueueCopy, int]] | None,
        back: list[tuple[QueueCopy, int]] | None,
    ) -> None:
        queue = self.queue
        self.count_idle_polls()
        if delete:
            queue.delete(delete, batch.received_s)
        if back:
            queue.return_after_timeout(back, batch.received_s)
            if not self.report_failures:
                self._back_off()  # AWS: function errors scale polling down
        self.in_use -= 1
        if self._throttled:
            self._retry_throttled(False)  # the slot freed goes to a throttled batch first
        else:
            self._dispatch()

    def _blocked(self, batch: _Batch, throttled: bool) -> None:
        """The invoke was throttled or failed with a service error: release the slot, back off.

        The batch keeps its messages and waits to be retried (module docstring) until its
        visibility timeout ends, when they return to the queue.
        """
        fn = self.fn
        now = self.env.now
        self.count_idle_polls()
        if throttled:
            fn.ledger.throttle(fn.stats)
        if self._trace is not None:
            event = "throttled" if throttled else "invoke_failed"
            self.ledger.log(now, fn.name, event, batch.entries[0][0].pair.msg.id)
        self.in_use -= 1
        self._back_off()
        if not batch.returning:
            batch.returning = True
            self.queue.return_after_timeout(list(batch.entries), batch.received_s)
        waiting = self._throttled
        if batch.retries:
            waiting.appendleft(batch)  # a retry: back at the head
        elif not waiting or waiting[-1].received_s <= batch.received_s:
            waiting.append(batch)
        else:  # received before a batch throttled earlier (a poll delay): keep receive order
            i = len(waiting)
            while i > 0 and waiting[i - 1].received_s > batch.received_s:
                i -= 1
            waiting.insert(i, batch)
        batch.retries += 1
        self.fn.pool.wait(self)
        if self._probe_timer is None:
            wait = self._interval_s
            self._interval_s = min(self._retry_cap_s, 2.0 * wait)
            self._probe_timer = Timer(self.env, wait, self._on_probe)
            self._no_scale_until = now + wait
