"""The SQS event source mapping: Lambda's pollers that read a queue in batches and invoke.

The semantics (batching window, concurrency scaling, throttle back-off, partial batch
responses, FIFO order) are stated in the docstring of :mod:`sim.services.lambda_`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simpy.events import Event

from sim.config.lambda_ import TriggerSpec
from sim.engine.faults import THROTTLED, UNAVAILABLE
from sim.engine.samplers import is_zero, make_sampler
from sim.engine.schedule import Timer, call_after, call_at
from sim.services.handler import FAILED, OK, SKIPPED
from sim.services.sqs.queue import Queue, QueueCopy

if TYPE_CHECKING:
    from sim.services.lambda_async import Function

__all__ = ["EventSourceMapping"]

#: Maximum backoff between retries of a throttled batch (seconds; an assumption).
_THROTTLE_BACKOFF_CAP_S = 60.0


class _Batch:
    """One batch in the hands of an event source mapping."""

    __slots__ = (
        "entries",
        "env",
        "esm",
        "finished",
        "outcomes",
        "ran_s",
        "received_s",
        "retries",
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
        self.outcomes: list[int] | None = None
        self.env: tuple[str, int] | None = None
        self.finished = False

    def invoke(self, _: Event | None = None) -> None:
        self.esm._invoke(self)

    def done(self, _: Event) -> None:
        self.esm._complete(self)

    def effects(self, _: Event) -> None:
        """The invocation's own run ended: now the handler's calls and outputs."""
        esm = self.esm
        run_start = esm.env.now - self.ran_s
        pairs = [copy.pair for copy, _ in self.entries]
        esm.fn.handler.execute(pairs, esm._fifo, self.env, run_start, self.effects_done)

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

    def __init__(self, fn: Function, queue: Queue, spec: TriggerSpec) -> None:
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
        self._scale_step_s = 60.0 / spec.scale_up_per_min
        self._poll_delay = (
            None
            if is_zero(spec.poll_delay_s)
            else make_sampler(spec.poll_delay_s, fn.ctx.streams.get(fn.name, "poll_delay"))
        )
        self.in_use = 0
        self._scale_pending = False
        self._retry_pending = False
        self._window_timer: Event | None = None
        self._window_open = False
        self._fifo = queue.fifo
        self._trace = fn.ledger.trace
        queue.attach_consumer(self)

    # -- polling --------------------------------------------------------------------------------

    def on_available(self) -> None:
        """The source queue has new visible messages (or a group was unblocked)."""
        if self.in_use < self.level:
            self._dispatch()
        elif self.level < self.cap and not self._scale_pending:
            self._schedule_scale()

    def _dispatch(self) -> None:
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
            self.in_use += 1
            batch = _Batch(self, entries, now)
            if self._poll_delay is not None:
                call_after(env, self._poll_delay(), batch.invoke)
            else:
                self._invoke(batch)
        if self.level < self.cap and self.in_use >= self.level and queue.has_available():
            self._schedule_scale()

    def _on_retry(self, _: Event) -> None:
        self._retry_pending = False
        self._dispatch()

    def _on_window(self, ev: Event) -> None:
        if ev is not self._window_timer:
            return  # the window it timed ended early, when a batch was taken
        self._window_timer = None
        self._window_open = True
        self._dispatch()

    def _schedule_scale(self) -> None:
        if not self._scale_pending:
            self._scale_pending = True
            call_after(self.env, self._scale_step_s, self._on_scale)

    def _on_scale(self, _: Event) -> None:
        self._scale_pending = False
        if self.queue.has_available() and self.in_use >= self.level:
            self.level = min(self.cap, self.level + 1)
            self._dispatch()

    # -- invocation -----------------------------------------------------------------------------

    def _invoke(self, batch: _Batch) -> None:
        fn = self.fn
        env = self.env
        now = env.now
        got = fn.acquire(now)
        if got in (THROTTLED, UNAVAILABLE):
            self._blocked(batch, got == THROTTLED)
            return
        cold_s, run, batch.timed_out = fn.plan_run(got is True, len(batch.entries), now)
        batch.ran_s = run
        batch.env = fn.current_env  # released with the run, whether it times out or not
        if fn.effects and not batch.timed_out:
            visible_s = batch.received_s + self.queue.visibility_timeout_s
            if now + cold_s + fn.timeout_s > visible_s:
                call_at(env, visible_s, batch.visibility_ended)
            Timer(env, cold_s + run, batch.effects)
            return
        if now + cold_s + run > batch.received_s + self.queue.visibility_timeout_s:
            # the function outlives the visibility timeout: the batch becomes visible again
            self.queue.return_after_timeout(list(batch.entries), batch.received_s)
        Timer(env, cold_s + run, batch.done)

    def _complete(self, batch: _Batch) -> None:
        fn = self.fn
        now = self.env.now
        fn.release(now, batch.ran_s, batch.env)
        ledger = self.ledger
        trace = self._trace
        timed_out = batch.timed_out
        if timed_out:
            ledger.timeout(fn.stats)
        entries = batch.entries
        outcomes = batch.outcomes
        if (
            len(entries) == 1
            and not timed_out
            and trace is None
            and (outcomes is None or outcomes[0] != SKIPPED)
        ):
            # fast path: one message
            copy = entries[0][0]
            if outcomes is not None:
                fails = outcomes[0] == FAILED
            else:
                fails = fn.message_fails(copy.pair.msg.poison_u)
            if copy.parked:
                self._finish(batch, None if fails else entries, entries if fails else None)
                return
            pair = copy.pair
            if fails:
                ledger.attempt(pair)
                self._finish(batch, None, entries)
                return
            ledger.success(pair, 1)  # the attempt and its success
            queue = self.queue
            if queue.delete_processed(copy, entries[0][1]):
                self.in_use -= 1
                if self.in_use < self.level and queue.has_available():
                    self._dispatch()
                return
            self._finish(batch, entries, None)
            return
        ok: list[tuple[QueueCopy, int]] = []
        failed: list[tuple[QueueCopy, int]] = []
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
                if intended and outcome != SKIPPED:
                    ledger.success(pair)
                if trace is not None:
                    ledger.log(now, fn.name, "success", pair.msg.id)
        if failed and not self.report_failures:
            self._finish(batch, None, entries)
        else:
            self._finish(batch, ok, failed)

    def _finish(
        self,
        batch: _Batch,
        delete: list[tuple[QueueCopy, int]] | None,
        back: list[tuple[QueueCopy, int]] | None,
    ) -> None:
        queue = self.queue
        if delete:
            queue.delete(delete, batch.received_s)
        if back:
            queue.return_after_timeout(back, batch.received_s)
        self.in_use -= 1
        self._dispatch()

    def _blocked(self, batch: _Batch, throttled: bool) -> None:
        """The invoke was throttled or failed with a service error: back off and retry."""
        fn = self.fn
        if throttled:
            fn.ledger.throttle(fn.stats)
        if self._trace is not None:
            event = "throttled" if throttled else "invoke_failed"
            self.ledger.log(self.env.now, fn.name, event, batch.entries[0][0].pair.msg.id)
        wait = min(2.0**batch.retries, _THROTTLE_BACKOFF_CAP_S)
        batch.retries += 1
        expiry = batch.received_s + self.queue.visibility_timeout_s
        if self.env.now + wait >= expiry:
            # give up: the messages return to the queue when their visibility timeout ends
            self.queue.return_after_timeout(list(batch.entries), batch.received_s)
            call_after(self.env, max(0.0, expiry - self.env.now), lambda _: self._release_slot())
            return
        call_after(self.env, wait, batch.invoke)

    def _release_slot(self) -> None:
        self.in_use -= 1
        self._dispatch()
