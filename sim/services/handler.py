"""What a function's handler does besides running: synchronous calls and derived messages.

Modelled:
    * One attempt at one input message runs, after the cold start and the function's own
      duration: its ``calls`` in order (``count`` each), then its ``outputs`` in order (``count``
      derived messages each), then the ``errors.rate`` decision — after the side effects by
      default, so a retried input calls and emits again; ``errors.after_side_effects: false``
      decides it first (a failing attempt then has no side effects). The messages of a batch
      are processed in order; from a FIFO source processing stops at the first failure.
    * Each call and each send takes the time its target answers in, counts against the
      function's ``timeout_s`` and is retried with the AWS SDK's policy (``retry``:
      ``max_attempts`` in all, jittered backoff from ``min(base_s × 2^(i−1), cap_s)``, full
      jitter by default) on any retriable answer (throttling, server error, client timeout).
      A call or send that still fails fails the processing of that input message.
    * The SDK retry quota: one token bucket per function (one SDK client, shared by all its
      execution environments) for all its calls and sends with the same ``quota`` setting. A
      retry takes 5 tokens, 10 after a call's own client timeout; with too few left the
      request fails at once, unretried. A simplification: in AWS each execution environment
      builds its own clients, so a function with many environments holds more tokens in all.
    * A call's client timeout (``timeout_s``, drawn per attempt) is enforced by the dependency
      (:mod:`sim.services.dependency`): the request leaves the line, or, in service, runs on
      (wasted work). When the function times out, it stops: the call it waits on is abandoned
      (it runs to completion at the dependency), sends already made stay sent.
    * Derived messages (lineage): the ``k``-th message of output ``i`` emitted while
      processing message ``P`` is the same logical message every time ``P`` is processed (a
      retry, a duplicate delivery), so a re-emission is a duplicate downstream, not a new
      message. Everything drawn for it (how many, attributes, group, poison draw) is drawn once,
      at its first emission, and kept with ``P`` while ``P`` is in flight. It exists, with its
      intended sinks, once a send of it first succeeds; a send that fails for good leaves no
      trace of it. Its latency is measured from its root's creation. Derived messages carry
      their input's message group (or one of ``groups`` drawn) with their own per-group
      sequence numbers, and no deduplication id: a FIFO queue deduplicates a re-sent copy only
      with ``content_based_dedup`` (the body is the same), otherwise each send is new.
    * ``idempotent``: an input processed successfully within ``window_s`` is skipped (no calls,
      no sends; not counted as a processing).
    * Circuit breakers (``calls[i].circuit_breaker``, :mod:`sim.services.breaker`): each attempt
      of the entry asks its breaker first; a refused attempt fails at once without reaching the
      dependency and is not retried, so the input fails.
    * The adaptive retry mode (``retry.mode: adaptive``): the function's SDK client has one
      client-side rate limiter (:class:`~sim.services.sdk.AdaptiveLimiter`) for all its calls and
      sends in adaptive mode, as it has one retry quota. Once a throttling answer has reached
      it, every attempt waits for a token first (the wait counts against ``timeout_s``; a
      function that times out while waiting makes no request), and every answer updates it.
    * ``max_message_age_s``: an input older than this when the handler starts (the caller
      decides which and passes ``stale``) is dropped at once: no calls, no sends, no error
      decision; its outcome is :data:`STALE` (deleted from its queue, counted ``expired``).
    * ``max_hops``: a message that is already ``max_hops`` emissions away from its root emits
      nothing.

Not modelled:
    * Concurrency inside a handler (calls and sends run one after another), and the cost of
      the idempotency record.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from simpy.events import Event

from sim.config.common import RetryQuotaSpec, RetrySpec
from sim.config.handler import CallSpec, CountChoice, OutputSpec
from sim.engine.fates import LOST
from sim.engine.faults import THROTTLED
from sim.engine.message import Message, Pair
from sim.engine.ports import CLIENT_ERROR, Plan
from sim.engine.samplers import attribute_sampler, choice_sampler, make_sampler
from sim.engine.schedule import Timer, call_after
from sim.engine.streams import buffered
from sim.services.breaker import SHORT_CIRCUITED, CircuitBreaker
from sim.services.dependency import TIMEOUT
from sim.services.sdk import AdaptiveLimiter, Backoff, RetryQuota

if TYPE_CHECKING:
    from sim.config.lambda_ import LambdaFunctionSpec
    from sim.engine.wiring import Wiring
    from sim.services.lambda_ import LambdaFunction

__all__ = ["FAILED", "OK", "SKIPPED", "STALE", "Handler"]

#: Outcomes of one input message: processed, failed, skipped (idempotent, already processed),
#: dropped as too old (``max_message_age_s``). Callers rely on the order: OK and FAILED first.
OK: Final = 0
FAILED: Final = 1
SKIPPED: Final = 2
STALE: Final = 3

#: Derived message groups get keys below this (producers use non-negative keys).
_DERIVED_GROUP_BASE: Final = -1


def _count_sampler(count: Any, rng: np.random.Generator) -> Callable[[], int]:
    if isinstance(count, int):
        return lambda: count
    if isinstance(count, CountChoice):
        return choice_sampler([int(v) for v in count.choice.values], count.choice.weights, rng)
    draw = make_sampler(count, rng)
    return lambda: max(0, round(draw()))


class _Retry:
    """The SDK client policy of one call or output entry.

    Its backoff, its client's retry quota and adaptive rate limiter (shared by the function's
    entries), and the entry's circuit breaker (calls only). ``observed``: some of them must
    see every answer (decided here, once).
    """

    __slots__ = ("backoff", "breaker", "limiter", "max_attempts", "observed", "quota")

    def __init__(
        self, spec: RetrySpec, handler: Handler, breaker: CircuitBreaker | None = None
    ) -> None:
        self.max_attempts = spec.max_attempts
        self.backoff = Backoff(spec, handler.jitter)
        self.quota = handler.quota(spec.quota)
        self.limiter = handler.limiter() if spec.mode == "adaptive" else None
        self.breaker = breaker
        self.observed = breaker is not None or self.limiter is not None


def _request_for(retry: _Retry, attempt: Callable[..., Any]) -> Callable[..., Any]:
    """How the run makes one attempt of an entry: ``attempt`` itself, or through its checks."""
    return _Run._request_checked if retry.observed else attempt


class _Output:
    """One resolved output of a handler."""

    def __init__(self, handler: Handler, i: int, spec: OutputSpec) -> None:
        streams = handler.fn.ctx.streams
        name = handler.fn.name
        self.i = i
        #: its key among a parent message's children: the list of its derived messages
        self.key = (handler.fn.name, i)
        self.to = spec.to
        self.port: Any = None
        self.count = _count_sampler(spec.count, streams.get(name, f"output{i}:count"))
        self.attrs = [
            (k, attribute_sampler(v, streams.get(name, f"output{i}:attr:{k}")))
            for k, v in spec.attributes.items()
        ]
        self.from_input = spec.from_input
        groups = spec.groups
        self.group_draw = (
            None
            if groups is None
            else buffered(
                streams.get(name, f"output{i}:group"), lambda g, n: g.integers(groups, size=n)
            )
        )
        self.poison = streams.uniform(name, f"output{i}:poison")
        self.size = spec.size_bytes
        self.retry = _Retry(spec.retry, handler)
        self.attempt = _Run._request_send
        self.request = _request_for(self.retry, self.attempt)


class _Call:
    """One resolved call of a handler."""

    def __init__(self, handler: Handler, i: int, spec: CallSpec) -> None:
        self.spec = spec
        self.dependency: Any = None
        self.timeout = (
            None
            if spec.timeout_s is None
            else make_sampler(
                spec.timeout_s, handler.fn.ctx.streams.get(handler.fn.name, f"call{i}:timeout")
            )
        )
        self.per_environment = spec.connection == "per_environment"
        cb = spec.circuit_breaker
        scenario = handler.fn.ctx.scenario
        breaker = (
            None
            if cb is None
            else CircuitBreaker(
                cb, handler.ledger, scenario.warmup_s, scenario.duration_s + scenario.drain_s
            )
        )
        self.retry = _Retry(spec.retry, handler, breaker)
        self.attempt = _Run._request_call
        self.request = _request_for(self.retry, self.attempt)


class _Derived:
    """A derived message and what its sends share: its plan and its pairs once it exists."""

    __slots__ = ("msg", "pairs", "plan", "sent")

    def __init__(self, msg: Message, plan: Plan) -> None:
        self.msg = msg
        self.plan = plan
        self.pairs: list[Pair] | None = None
        self.sent = False


class Handler:
    """The calls and outputs of one function's handler (module docstring)."""

    def __init__(self, fn: LambdaFunction, spec: LambdaFunctionSpec) -> None:
        self.fn = fn
        self.env = fn.env
        self.ledger = fn.ledger
        streams = fn.ctx.streams
        self.jitter = streams.uniform(fn.name, "handler:retry")
        self._quotas: dict[RetryQuotaSpec, RetryQuota] = {}
        self._limiter: AdaptiveLimiter | None = None
        self.outputs = [_Output(self, i, o) for i, o in enumerate(spec.outputs)]
        self.calls = [_Call(self, i, c) for i, c in enumerate(spec.calls)]
        self.after_side_effects = spec.errors.after_side_effects
        self.max_hops = fn.ctx.scenario.max_hops
        self.per_environment = any(c.per_environment for c in self.calls)
        idem = spec.idempotent
        self.idem_window_s = idem.window_s if idem is not None else None
        self._seen: dict[int, float] = {}
        self._seen_order: deque[tuple[float, int]] = deque()
        self._groups: dict[tuple[int, int], list[int]] = {}
        self._trace = fn.ledger.trace
        #: True when the handler does anything besides running (calls, outputs, idempotency,
        #: a maximum message age)
        self.active = bool(
            self.outputs or self.calls or idem is not None or spec.max_message_age_s is not None
        )

    def quota(self, spec: RetryQuotaSpec | None) -> RetryQuota | None:
        """The function's SDK retry quota for ``spec``: one bucket per function and setting.

        The calls and sends of a function share one SDK client's quota (the same bucket for
        every call and output with the same ``quota`` setting); None when it is turned off.
        """
        if spec is None:
            return None
        q = self._quotas.get(spec)
        if q is None:
            q = self._quotas[spec] = RetryQuota(spec)
        return q

    def limiter(self) -> AdaptiveLimiter:
        """The function's SDK client's adaptive rate limiter (one per function, made once)."""
        if self._limiter is None:
            self._limiter = AdaptiveLimiter(self.env)
        return self._limiter

    def breakers(self) -> list[tuple[str, CircuitBreaker]]:
        """``(dependency name, breaker)`` of every call entry with a circuit breaker."""
        return [
            (c.spec.dependency, c.retry.breaker) for c in self.calls if c.retry.breaker is not None
        ]

    def connect(self, wiring: Wiring) -> None:
        """Resolve the ports of the outputs and the dependencies of the calls."""
        for o in self.outputs:
            o.port = wiring.ports[o.to]
        for c in self.calls:
            c.dependency = wiring.components[c.spec.dependency]
            if c.retry.breaker is not None:
                c.dependency.breakers.append(c.retry.breaker)

    def reachable(self) -> list[str]:
        """Sinks the outputs can lead to (registered at build time)."""
        out: list[str] = []
        for o in self.outputs:
            out.extend(o.port.reachable())
        return out

    # -- idempotency --------------------------------------------------------------------------

    def already_processed(self, msg: Message, now: float) -> bool:
        """True when ``msg`` was processed successfully within the idempotency window."""
        if self.idem_window_s is None:
            return False
        order = self._seen_order
        while order and order[0][0] <= now:
            _, key = order.popleft()
            t = self._seen.get(key)
            if t is not None and t <= now:
                del self._seen[key]
        return msg.id in self._seen

    def processed(self, msg: Message, now: float) -> None:
        """Record a successful processing of ``msg`` (idempotent handlers)."""
        if self.idem_window_s is not None:
            expiry = now + self.idem_window_s
            self._seen[msg.id] = expiry
            self._seen_order.append((expiry, msg.id))

    # -- derived messages ---------------------------------------------------------------------

    def _next_in_group(self, key: tuple[int, int]) -> tuple[int, int]:
        """The message-group key behind ``key`` and the next sequence number in that group."""
        entry = self._groups.get(key)
        if entry is None:
            entry = self._groups[key] = [self.ledger.new_group_key(), 0]
        seq = entry[1]
        entry[1] = seq + 1
        return entry[0], seq

    def _group(self, out: _Output, parent: Message) -> tuple[int, int]:
        """The group key and next sequence number of a new derived message of ``out``."""
        if out.group_draw is None:
            return self._next_in_group((out.i, parent.group))
        return self._next_in_group((out.i, -1 - int(out.group_draw())))

    def derived(self, out: _Output, parent: Message, k: int) -> _Derived:
        """The ``k``-th derived message of ``out`` for ``parent`` (made on first emission).

        :meth:`count` made the parent's list of them first.
        """
        assert parent.children is not None
        slots: list[_Derived | None] = parent.children[out.key]
        d = slots[k]
        if d is None:
            attrs: dict[str, Any] | None = None
            if out.from_input and parent.attrs:
                attrs = {a: parent.attrs[a] for a in out.from_input if a in parent.attrs}
            if out.attrs:
                attrs = dict(attrs or {})
                for a, draw in out.attrs:
                    attrs[a] = draw()
            group, seq = self._group(out, parent)
            size = out.size if out.size is not None else parent.size_bytes
            msg = self.ledger.new_derived(
                parent, self.fn.name, group, seq, out.poison(), attrs or None, size
            )
            d = slots[k] = _Derived(msg, out.port.plan(msg))
        return d

    def count(self, out: _Output, parent: Message) -> int:
        """How many messages ``out`` emits for ``parent`` (drawn once per parent)."""
        if self.max_hops is not None and parent.hops >= self.max_hops:
            return 0
        children = parent.children
        if children is None:
            children = parent.children = {}
        slots = children.get(out.key)
        if slots is None:
            slots = children[out.key] = [None] * out.count()
        return len(slots)

    # -- asynchronous destinations ------------------------------------------------------------

    def send_destination(self, parent: Message, kind: str, port: Any) -> None:
        """Send the ``on_success`` record of ``parent`` (a derived message, identity ``kind``)."""
        children = parent.children
        if children is None:
            children = parent.children = {}
        key = (self.fn.name, kind, 0)
        d: _Derived | None = children.get(key)
        ledger = self.ledger
        if d is None:
            group, seq = self._next_in_group((-1 if kind == "success" else -2, parent.group))
            msg = ledger.new_derived(
                parent, self.fn.name, group, seq, 1.0, parent.attrs, parent.size_bytes
            )
            d = children[key] = _Derived(msg, port.plan(msg))
        if d.pairs is None:
            d.pairs = ledger.lineage_pairs(d.msg, d.plan.sinks)
        else:
            for pair in d.pairs:
                ledger.copy(pair)
        port.accept(d.msg, d.plan, d.pairs, _DestinationReply(self, d, d.pairs))

    def forward(self, msg: Message, port: Any) -> None:
        """Hand ``msg`` itself to an ``on_failure`` destination: new pairs start there."""
        plan = port.plan(msg)
        pairs = self.ledger.arrival_pairs(msg, plan.sinks)
        ledger = self.ledger

        def reply(error: str | None) -> None:
            if error is not None:
                for pair in pairs:
                    ledger.drop(pair, LOST)  # the destination refused the record

        port.accept(msg, plan, pairs, reply)

    # -- one invocation -----------------------------------------------------------------------

    def execute(
        self,
        pairs: list[Pair],
        fifo: bool,
        holder: object | None,
        run_start_s: float,
        done: Callable[[list[int] | None, float], None],
        stale: list[bool] | None = None,
    ) -> None:
        """Process ``pairs`` (one invocation, whose own run ended now); see :class:`_Run`.

        ``stale`` marks the inputs found too old when the handler started
        (``max_message_age_s``): they get the outcome :data:`STALE` without being processed.
        """
        if stale is None:
            _Run(self, pairs, fifo, holder, run_start_s, done).start()
        else:
            self._execute_fresh(pairs, fifo, holder, run_start_s, done, stale)

    def _execute_fresh(
        self,
        pairs: list[Pair],
        fifo: bool,
        holder: object | None,
        run_start_s: float,
        done: Callable[[list[int] | None, float], None],
        stale: list[bool],
    ) -> None:
        """:meth:`execute` of the fresh inputs only; the stale ones are dropped in their place.

        From a FIFO source a stale input after the first failure is returned with the rest of
        the batch (:data:`FAILED`), as every input after the first failure is.
        """

        def merged(outcomes: list[int] | None, ran_s: float) -> None:
            if outcomes is None:
                done(None, ran_s)  # the function timed out: the whole batch failed
                return
            out: list[int] = []
            fresh = iter(outcomes)
            failed = False
            for old in stale:
                if old:
                    out.append(FAILED if failed and fifo else STALE)
                else:
                    outcome = next(fresh)
                    failed = failed or outcome == FAILED
                    out.append(outcome)
            done(out, ran_s)

        fresh = [p for p, old in zip(pairs, stale, strict=True) if not old]
        if fresh:
            _Run(self, fresh, fifo, holder, run_start_s, merged).start()
        else:
            merged([], self.env.now - run_start_s)


class _Run:
    """The side effects of one invocation, step by step, with its timeout.

    ``done(outcomes, ran_s)`` is called once: ``outcomes`` per input (:data:`OK`,
    :data:`FAILED`, :data:`SKIPPED`), or None when the function timed out; ``ran_s`` is the
    billed run time (``timeout_s`` after a timeout).
    """

    __slots__ = (
        "attempt",
        "calls_left",
        "cost",
        "current",
        "done",
        "fifo",
        "finished",
        "handle",
        "handler",
        "holder",
        "holding",
        "i",
        "k",
        "n",
        "outcomes",
        "pairs",
        "run_start_s",
        "slept",
        "step",
        "sync",
        "ticket",
        "timer",
        "token",
        "waiting",
    )

    def __init__(
        self,
        handler: Handler,
        pairs: list[Pair],
        fifo: bool,
        holder: object | None,
        run_start_s: float,
        done: Callable[[list[int] | None, float], None],
    ) -> None:
        self.handler = handler
        self.pairs = pairs
        self.fifo = fifo
        self.holder = holder
        self.run_start_s = run_start_s
        self.done = done
        self.outcomes: list[int] = []
        self.i = -1  # the input being processed
        self.step = 0  # its step: index into calls, then outputs
        self.k = 0  # the repetition within the step (call count, derived message index)
        self.n = -1  # messages the current output emits (-1: not drawn yet)
        self.attempt = 1
        self.cost = 0  # tokens the latest retry of the current request took from the quota
        self.slept = 0.0  # the sleep before that retry
        self.calls_left = 0
        self.finished = False
        self.handle: Any = None
        self.current: _Derived | None = None  # the derived message being sent
        self.holding: _Derived | None = None  # a send waiting to be retried holds its units
        self.sync: Any = None  # a reply received while its request was being made
        self.waiting = False  # a request is out and its reply will resume the run
        self.timer: Timer | None = None  # the timeout, armed on the first wait
        self.ticket = -1  # the circuit breaker's ticket of the current attempt (-1: none)
        self.token = _NO_TOKEN  # the adaptive limiter's token for the current attempt

    def start(self) -> None:
        self._next_input()

    def _wait(self) -> None:
        """The run waits (for an answer or a backoff): from now on the timeout can strike.

        The timeout timer is made on the first wait only, so a run whose requests are all
        answered at once costs no event; it is disarmed when the run finishes.
        """
        if self.timer is None:
            h = self.handler
            deadline = self.run_start_s + h.fn.timeout_s
            self.timer = call_after(h.env, max(0.0, deadline - h.env.now), self._on_deadline)

    # -- flow -----------------------------------------------------------------------------------

    def _next_input(self) -> None:
        h = self.handler
        fn = h.fn
        while True:
            self.i += 1
            if self.i >= len(self.pairs):
                self._finish()
                return
            msg = self.pairs[self.i].msg
            now = h.env.now
            if h.already_processed(msg, now):
                self.outcomes.append(SKIPPED)
                continue
            if not h.after_side_effects and fn.message_fails(msg.poison_u):
                if self._input_failed():
                    return
                continue
            self.step = 0
            self.k = 0
            self.n = -1
            self.attempt = 1
            self.cost = 0
            self.slept = 0.0
            self._advance()
            return

    def _input_failed(self) -> bool:
        """The current input failed; True when the run stops (FIFO: at the first failure)."""
        self.outcomes.append(FAILED)
        if self.fifo:
            self.outcomes.extend([FAILED] * (len(self.pairs) - len(self.outcomes)))
            self._finish()
            return True
        return False

    def _input_done(self) -> None:
        """Every side effect of the current input succeeded: the error decision, next input."""
        h = self.handler
        msg = self.pairs[self.i].msg
        if h.after_side_effects and h.fn.message_fails(msg.poison_u):
            if self._input_failed():
                return
        else:
            self.outcomes.append(OK)
            h.processed(msg, h.env.now)
        self._next_input()

    def _advance(self) -> None:
        """Make requests for the current input until one is answered later, or it is done."""
        h = self.handler
        n_calls = len(h.calls)
        while not self.finished:
            step = self.step
            if step < n_calls:
                call = h.calls[step]
                if self.k >= call.spec.count:
                    self.step += 1
                    self.k = 0
                    continue
                error = call.request(self, call, None)
            else:
                j = step - n_calls
                if j >= len(h.outputs):
                    self._input_done()
                    return
                out = h.outputs[j]
                parent = self.pairs[self.i].msg
                if self.n < 0:
                    self.n = h.count(out, parent)
                if self.k >= self.n:
                    self.step += 1
                    self.k = 0
                    self.n = -1
                    continue
                error = out.request(self, out, parent)
            if error is _LATER:
                return
            if not self._answered(error):
                return

    def _answered(self, error: Any) -> bool:
        """Handle the answer to the current request; True to go on with the next one now."""
        h = self.handler
        step = self.step
        n_calls = len(h.calls)
        policy = h.calls[step].retry if step < n_calls else h.outputs[step - n_calls].retry
        if policy.observed and error != SHORT_CIRCUITED:
            self._observe(policy, error)
        quota = policy.quota
        if error is None:
            if quota is not None:
                quota.succeeded(self.cost)
            self.k += 1
            self.attempt = 1
            self.cost = 0
            self.slept = 0.0
            return True
        is_send = step >= n_calls
        retriable = error != CLIENT_ERROR and error != SHORT_CIRCUITED
        if retriable and self.attempt < policy.max_attempts:
            # a call's own client timeout costs more of the quota (a send has no client timeout)
            cost = quota.acquire(not is_send and error == TIMEOUT) if quota is not None else -1
            if cost:
                delay = policy.backoff.delay(self.attempt, self.slept)
                self.attempt += 1
                self.cost = cost if cost > 0 else 0
                self.slept = delay
                h.ledger.count("sdk_retries")
                if is_send:
                    self.holding = self.current
                self._wait()
                call_after(h.env, delay, self._resume)
                return False
            h.ledger.count("sdk_retries_refused")
        if is_send:
            d = self.current
            assert d is not None
            _drop_units(h, d, d.pairs)
        if not self._input_failed():
            self._next_input()
        return False

    def _resume(self, _: Event | None = None) -> None:
        if not self.finished:
            self._advance()

    # -- circuit breakers and the adaptive limiter ----------------------------------------------

    def _request_checked(self, item: Any, parent: Message | None) -> Any:
        """One attempt of an entry with a circuit breaker or an adaptive limiter.

        The breaker decides first (a refused attempt needs no token: it never leaves the
        client); then the attempt waits for the limiter's token, and is made.
        """
        policy: _Retry = item.retry
        breaker = policy.breaker
        h = self.handler
        if breaker is not None and self.ticket < 0:
            ticket = breaker.admit(h.env.now)
            if ticket < 0:
                if h._trace is not None:
                    msg_id = self.pairs[self.i].msg.id
                    h.ledger.log(h.env.now, h.fn.name, "short_circuited", msg_id)
                return SHORT_CIRCUITED
            self.ticket = ticket
        limiter = policy.limiter
        if limiter is not None:
            if self.token != _GRANTED:
                self.token = _ASKING
                limiter.acquire(self._on_token)
                if self.token == _ASKING:  # no token yet: the limiter calls back
                    self.token = _WAITING
                    self._wait()
                    return _LATER
            self.token = _NO_TOKEN
        return item.attempt(self, item, parent)

    def _on_token(self) -> bool:
        """The adaptive limiter grants the current attempt's token; False: no longer wanted."""
        if self.token == _ASKING:
            self.token = _GRANTED  # at once, inside :meth:`_request_checked`
            return True
        if self.finished:
            return False  # the function timed out while it waited: it leaves the line
        self.token = _GRANTED
        self._advance()
        return True

    def _observe(self, policy: _Retry, error: str | None) -> None:
        """An attempt was answered: tell the limiter and the breaker that watch it."""
        h = self.handler
        now = h.env.now
        limiter = policy.limiter
        if limiter is not None:
            limiter.update(now, error == THROTTLED)
        breaker = policy.breaker
        if breaker is not None:
            ticket = self.ticket
            self.ticket = -1
            event = breaker.record(ticket, error is not None, now)
            if event is not None and h._trace is not None:
                h.ledger.log(now, h.fn.name, event, self.pairs[self.i].msg.id)

    # -- calls ----------------------------------------------------------------------------------

    def _request_call(self, call: _Call, parent: Message | None) -> Any:
        from sim.services.dependency import CallRequest

        spec = call.spec
        req = CallRequest(
            spec.op,
            spec.consistent,
            spec.size_kb,
            call.timeout() if call.timeout is not None else None,
            self.holder if call.per_environment else None,
        )
        self.sync = _LATER
        self.waiting = False
        self.handle = call.dependency.call(req, self._on_call_reply)
        if self.sync is not _LATER:
            error, self.sync = self.sync, _LATER
            self.handle = None
            return error
        self.waiting = True
        self._wait()
        return _LATER

    def _on_call_reply(self, error: str | None) -> None:
        if not self.waiting:
            self.sync = error  # answered during the request
            return
        self.waiting = False
        self.handle = None
        if self.finished:
            return
        if self._answered(error):
            self._advance()

    # -- sends ----------------------------------------------------------------------------------

    def _request_send(self, out: _Output, parent: Message) -> Any:
        h = self.handler
        d = h.derived(out, parent, self.k)
        ledger = h.ledger
        if self.attempt == 1:
            if d.pairs is None:
                d.pairs = ledger.lineage_pairs(d.msg, d.plan.sinks)
            else:
                for pair in d.pairs:
                    ledger.copy(pair)
        pairs = d.pairs
        assert pairs is not None
        self.current = d
        self.holding = None
        self.sync = _LATER
        self.waiting = False
        out.port.accept(d.msg, d.plan, pairs, self._on_send_reply)
        if self.sync is not _LATER:
            error, self.sync = self.sync, _LATER
            return error
        self.waiting = True
        self._wait()
        return _LATER

    def _on_send_reply(self, error: str | None) -> None:
        """The answer to the send of :attr:`current` (it may come after the run has ended)."""
        d = self.current
        assert d is not None
        if error is None and not d.sent:
            d.sent = True
            self.handler.ledger.derived_sent(d.msg)
        if not self.waiting:
            self.sync = error  # answered during the request
            return
        self.waiting = False
        if self.finished:
            # the function timed out while this send was out: nobody retries it
            if error is not None:
                _drop_units(self.handler, d, d.pairs)
            return
        if self._answered(error):
            self._advance()

    # -- the end --------------------------------------------------------------------------------

    def _on_deadline(self, _: Event) -> None:
        if self.finished:
            return
        self.finished = True
        if self.handle is not None:
            self.handle.abandon()  # the call runs on at the dependency
            self.handle = None
        h = self.handler
        if self.ticket >= 0:  # an attempt its breaker let through will record nothing
            breaker = h.calls[self.step].retry.breaker
            assert breaker is not None
            breaker.abandon(self.ticket)
            self.ticket = -1
        if self.holding is not None:
            _drop_units(h, self.holding, self.holding.pairs)  # a send that was to be retried
            self.holding = None
        if h._trace is not None:
            h.ledger.log(h.env.now, h.fn.name, "timeout", self.pairs[0].msg.id)
        self.done(None, h.fn.timeout_s)

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()  # the run is not kept alive until its deadline
            self.timer = None
        h = self.handler
        self.done(self.outcomes, h.env.now - self.run_start_s)


#: Marks a request whose answer has not come yet.
_LATER: Any = object()

#: The adaptive limiter's token for the current attempt: none asked, being asked (a grant now
#: is synchronous), waited for (a grant resumes the run), granted.
_NO_TOKEN: Final = 0
_ASKING: Final = 1
_WAITING: Final = 2
_GRANTED: Final = 3


def _drop_units(h: Handler, d: _Derived, pairs: list[Pair] | None) -> None:
    """A send of ``d`` failed for good: give its units back, or unmake a message never sent."""
    if pairs is None:
        return
    ledger = h.ledger
    if not d.sent and all(p.live == 1 and p.parked == 0 for p in pairs):
        ledger.retract(pairs)
        d.pairs = None
    else:
        for pair in pairs:
            ledger.release(pair)


class _DestinationReply:
    """The answer to a destination record sent by Lambda (not by the handler)."""

    __slots__ = ("d", "handler", "pairs")

    def __init__(self, handler: Handler, d: _Derived, pairs: list[Pair]) -> None:
        self.handler = handler
        self.d = d
        self.pairs = pairs

    def __call__(self, error: str | None) -> None:
        if error is None:
            if not self.d.sent:
                self.d.sent = True
                self.handler.ledger.derived_sent(self.d.msg)
        else:
            _drop_units(self.handler, self.d, self.pairs)
