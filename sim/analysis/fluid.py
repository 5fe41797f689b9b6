r"""A fluid (mean-field) model of a queue → function → database loop, for metastability.

The loop: messages arrive at rate λ(t) in a queue (an SQS queue read by an event source
mapping, or asynchronous Lambda's internal queue); each message a function takes calls a
database once, through an SDK client with a client timeout τ and retries; a message whose
call still fails after its retries fails its receive and comes back after a redelivery delay
(the visibility timeout, or asynchronous Lambda's 1 and 2 minute retries), until its
``max_receives``-th failure sends it to the dead-letter queue (or loses it). Every quantity
is a continuous mean (a *fluid*), so the model is a set of ordinary differential equations,
integrated with explicit Euler steps (:func:`step`).

State (see :class:`FluidState`):

* ``queued[k]``: messages waiting in the queue after k failed receives (k = 0 .. K − 1);
* ``returning[k]``: messages that failed their k-th receive and are not yet visible again;
* ``at_db``: requests at the database, waiting for a connection or in service, including the
  *dead* ones whose client has already timed out (they keep their connection: wasted work);
* ``backoff[i]``: callers sleeping before their (i + 2)-th attempt (the retry load);
* ``tokens``: the SDK client's retry quota (a token bucket);
* ``level``: the event source's concurrency level (how many messages it may have in hand).

The database (the Universal Scalability Law): with n = min(at_db, c) requests in service,
each takes s(n) = S · (1 + σ(n − 1) + κ n(n − 1)) seconds on average and the server completes
X(n) = n / s(n) per second; the rest wait (FIFO, fluid wait w = waiting / X). A request that
waited w completes inside its client's timeout τ with probability 1 − exp(−(τ − w)/s(n))
(exponential service); the others time out *in service* and their work is wasted, and the
waiting line never holds more than τ · X(n) requests: the excess times out while waiting and
leaves without work (the client cancels a request still waiting). Every client timeout is
retried after the mean backoff of its attempt (full jitter: half of min(base · 2^(i−1),
cap); no jitter: all of it) while attempts remain and the quota has tokens (a timeout retry
costs ``timeout_retry_cost`` tokens, a success at the first attempt refunds
``success_refund``, a success after retries the cost of its retry).

The callers: every message in hand holds one caller (a function execution), whether its
request is at the database or it sleeps in backoff, so the database sees at most ``level``
requests from the live callers; the event source takes messages from the queue while it has
fewer in hand than its level. The SQS event source's level grows by ``scale_up_per_s`` while
messages wait and falls by ``backoff_per_failure`` for every failed invocation (AWS:
"Lambda ... gradually reduces concurrency allocated to the event source mapping" after
function errors); asynchronous invocation has a fixed level (the concurrency available).

Modelled: USL contention, the connection limit, client timeouts (wasted work in service,
cancelled waits), SDK retries with backoff and the retry quota, redelivery after a delay,
the dead-letter queue, the event source's scale-up and back-off, a load spike (λ × m) and a
database slowdown (S × f) during a window.

Not modelled (differences from the simulator, in evsim's findings): randomness (a fluid
model has no fluctuations, so it cannot leave a stable state by chance: its basin
boundaries are sharp), the distribution of waits (a fluid FIFO line has one wait, so a
collapse starts all at once), dead requests holding callers (a caller whose request timed out
in service is freed at once), the function's own duration and timeout, cold starts, the
event source's scale-down every minute, per-environment connections, maximum message age
and circuit breakers.

Equilibria: :func:`equilibrium_branches` integrates the model at a constant load from an
empty system (the *low* branch) and from a saturated one (the *high* branch); where both
end in the same state the load has one stable equilibrium, where they differ the loop is
bistable (metastable: the low state holds until a trigger pushes it across). With no retries
and no client timeout (τ = ∞) and λ < max X(n) the model has one stable equilibrium.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

__all__ = [
    "FluidParams",
    "FluidRun",
    "FluidState",
    "Trigger",
    "collapses",
    "equilibrium_branches",
    "mean_backoffs_s",
    "recovery_s",
    "run",
    "service_time_s",
    "step",
    "throughput_per_s",
]

#: The client timeout standing for "no client timeout" (seconds).
NO_TIMEOUT_S = math.inf


@dataclass(frozen=True)
class FluidParams:
    """The loop's parameters (units in the names; rates per second).

    Attributes:
        rate_per_s: Base arrival rate λ.
        connections: The database's connection limit c.
        service_s: Mean service time S of one request alone on the database.
        sigma: USL contention σ.
        kappa: USL coherency κ.
        client_timeout_s: The client timeout τ of one attempt (``math.inf``: none).
        max_attempts: SDK attempts per receive (1 = no retries).
        backoff_base_s: SDK backoff base.
        backoff_cap_s: SDK backoff cap.
        jitter: ``"full"`` (mean sleep half the backoff), ``"equal"`` (three quarters) or
            ``"none"`` (all of it).
        quota_tokens: The retry quota's bucket (None: no quota).
        timeout_retry_cost: Tokens a retry after a client timeout costs.
        success_refund: Tokens a success at its first attempt puts back.
        max_receives: Receives (invocations) before the dead-letter queue (K).
        redelivery_s: Delay before the k-th redelivery (k = 1 .. K − 1): the visibility
            timeout for SQS, 60 and 120 s for asynchronous Lambda.
        max_level: Most messages in hand at once (event source maximum, reserved or account
            concurrency).
        initial_level: The event source's starting level.
        min_level: The lowest level back-off can reach.
        scale_up_per_s: Level added per second while messages wait (0: fixed level).
        backoff_per_failure: Level removed per failed invocation.
    """

    rate_per_s: float
    connections: int = 20
    service_s: float = 0.4
    sigma: float = 0.05
    kappa: float = 0.01
    client_timeout_s: float = 10.0
    max_attempts: int = 3
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 20.0
    jitter: str = "full"
    quota_tokens: float | None = 500.0
    timeout_retry_cost: float = 10.0
    success_refund: float = 1.0
    max_receives: int = 3
    redelivery_s: tuple[float, ...] = (360.0, 360.0)
    max_level: float = 1000.0
    initial_level: float = 5.0
    min_level: float = 2.0
    scale_up_per_s: float = 5.0
    backoff_per_failure: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_receives < 1 or self.connections < 1:
            raise ValueError("max_attempts, max_receives and connections must be ≥ 1")
        if len(self.redelivery_s) != self.max_receives - 1:
            raise ValueError(f"redelivery_s needs {self.max_receives - 1} delays (one per "
                             f"redelivery), not {len(self.redelivery_s)}")  # fmt: skip
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError(f"jitter must be full, equal or none, not {self.jitter!r}")


class Trigger(NamedTuple):
    """A trigger during [start_s, start_s + duration_s): a load spike or a slowdown.

    ``kind`` is ``"spike"`` (arrivals × ``size``), ``"slow"`` (service time × ``size``) or
    ``"none"``.
    """

    kind: str
    size: float
    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        """When the trigger ends (seconds)."""
        return self.start_s + self.duration_s


def service_time_s(p: FluidParams, n: float, factor: float = 1.0) -> float:
    """Mean service time with ``n`` requests in service (USL; n below 1 counts as 1), s."""
    m = max(n, 1.0)
    return p.service_s * factor * (1.0 + p.sigma * (m - 1.0) + p.kappa * m * (m - 1.0))


def throughput_per_s(p: FluidParams, n: float, factor: float = 1.0) -> float:
    """Requests per second the database completes with ``n`` in service: X(n) = n / s(n)."""
    if n <= 0:
        return 0.0
    return n / service_time_s(p, n, factor)


def mean_backoffs_s(p: FluidParams) -> list[float]:
    """Mean sleep before retry i (i = 1 .. max_attempts − 1), seconds."""
    share = {"full": 0.5, "equal": 0.75, "none": 1.0}[p.jitter]
    return [share * min(p.backoff_base_s * 2.0 ** (i - 1), p.backoff_cap_s)
            for i in range(1, p.max_attempts)]  # fmt: skip


@dataclass
class FluidState:
    """The state of the loop (see the module docstring); running totals at the end."""

    queued: list[float]  # by failed receives so far, 0 .. K − 1
    returning: list[float]  # after failed receive k = 1 .. K − 1, not yet visible
    at_db: float  # requests at the database, waiting or in service, live or dead
    backoff: list[float]  # callers sleeping before attempt 2 .. A
    tokens: float
    level: float
    delivered: float = 0.0
    failed_out: float = 0.0
    wasted_s: float = 0.0
    attempts: float = 0.0
    timeouts: float = 0.0

    @classmethod
    def empty(cls, p: FluidParams, backlog: float = 0.0) -> FluidState:
        """An empty loop, or one with ``backlog`` messages in hand (up to the level) and queued."""
        level = p.initial_level
        at_db = 0.0
        if backlog > 0:
            level = max(p.initial_level, p.max_level if p.scale_up_per_s == 0
                        else min(p.max_level, backlog))  # fmt: skip
            at_db = min(backlog, level)
        queued = [backlog - at_db] + [0.0] * (p.max_receives - 1)
        return cls(queued, [0.0] * (p.max_receives - 1), at_db, [0.0] * (p.max_attempts - 1),
                   p.quota_tokens or 0.0, level)  # fmt: skip


@dataclass
class FluidRun:
    """A trajectory of the fluid model, sampled every ``step_s``.

    Attributes:
        t_s: Sample times.
        offered_per_s: Arrival rate λ(t) over the interval ending at the sample.
        goodput_per_s: Requests completed inside their client timeout per second over the
            interval (each ends a message's processing).
        backlog: Messages in the system (queued, returning, in hand).
        latency_s: Little's-law estimate of a message's time in the system: backlog ÷ λ.
        at_db: Requests at the database (waiting or in service, live or dead).
        retrying: Callers sleeping before a retry.
        level: The event source's level.
        utilization: Connections in service ÷ c.
        wasted_s: Running total of connection-seconds spent on requests whose client had
            timed out.
        failed_out: Running total of messages dead-lettered (or lost).
        delivered: Running total of messages processed.
        attempts: Running total of attempts (first ones and retries).
    """

    t_s: np.ndarray
    offered_per_s: np.ndarray
    goodput_per_s: np.ndarray
    backlog: np.ndarray
    latency_s: np.ndarray
    at_db: np.ndarray
    retrying: np.ndarray
    level: np.ndarray
    utilization: np.ndarray
    wasted_s: np.ndarray
    failed_out: np.ndarray
    delivered: np.ndarray
    attempts: np.ndarray


def step(p: FluidParams, y: FluidState, rate: float, factor: float, dt: float) -> None:
    """Advance ``y`` by ``dt`` seconds at arrival rate ``rate`` and slowdown ``factor``.

    Operator splitting: the fast moves are done at once (the event source fills its free
    level from the queue; the waiting line is cut to τ · X, the excess timing out without
    work), then every flow runs for ``dt`` (explicit Euler).
    """
    tau = p.client_timeout_s
    k, a = p.max_receives, p.max_attempts
    backoffs = _BACKOFFS.get(p) or _BACKOFFS.setdefault(p, mean_backoffs_s(p))
    # arrivals
    y.queued[0] += rate * dt
    # the event source takes messages while it has room (oldest class first is immaterial)
    in_hand = y.at_db + sum(y.backoff)
    room = max(min(y.level, p.max_level) - in_hand, 0.0)
    total_q = sum(y.queued)
    pull = min(total_q, room)
    mix = [q / total_q for q in y.queued] if total_q > 0 else [1.0] + [0.0] * (k - 1)
    if pull > 0:
        for j in range(k):
            y.queued[j] -= pull * mix[j]
        y.at_db += pull
    # the database
    n = min(y.at_db, float(p.connections))
    s = service_time_s(p, n, factor)
    x = n / s if n > 0 else 0.0
    waiting = y.at_db - n
    abandoned = 0.0
    if math.isinf(tau):
        p_ok = 1.0
    else:
        if waiting > tau * x:  # the excess times out while waiting: no work done
            abandoned = waiting - tau * x
            y.at_db -= abandoned
            waiting = tau * x
        w = waiting / x if x > 0 else 0.0
        p_ok = 1.0 - math.exp(-(tau - w) / s) if w < tau else 0.0
    done = min(x * dt, y.at_db)
    good, dead = done * p_ok, done * (1.0 - p_ok)
    y.at_db -= done
    y.wasted_s += n * (1.0 - p_ok) * dt
    # who failed and who succeeded, by attempt number (in the proportions of the inflow)
    retry_in = [b * min(dt / m, 1.0) for b, m in zip(y.backoff, backoffs, strict=True)]
    inflow = [pull, *retry_in]
    flow = sum(inflow)
    share = [f / flow for f in inflow] if flow > 0 else [1.0] + [0.0] * (a - 1)
    timeouts = dead + abandoned
    fail = [timeouts * sh for sh in share]
    succ = [good * sh for sh in share]
    asked = fail[:-1]
    grant = 1.0 if p.quota_tokens is None else min(1.0, y.tokens / p.timeout_retry_cost)
    for i in range(a - 1):
        y.backoff[i] += grant * asked[i] - retry_in[i]
    y.at_db += sum(retry_in)
    if p.quota_tokens is not None:
        refill = p.success_refund * succ[0] + p.timeout_retry_cost * sum(succ[1:])
        y.tokens = min(p.quota_tokens,
                       max(0.0, y.tokens + refill - p.timeout_retry_cost * grant * sum(asked)))
    failed = fail[-1] + (1.0 - grant) * sum(asked)  # receives that fail
    # failed receives come back after their redelivery delay, or leave after the K-th
    for j in range(k - 1):
        back = y.returning[j] * min(dt / p.redelivery_s[j], 1.0)
        y.returning[j] += failed * mix[j] - back
        y.queued[j + 1] += back
    y.failed_out += failed * mix[k - 1]
    y.delivered += good
    y.attempts += flow
    y.timeouts += timeouts
    # the event source's level: up while messages wait and it is full, down per failure
    if p.scale_up_per_s > 0:
        full = sum(y.queued) > 1e-9 and room <= pull + 1e-9
        d_level = (p.scale_up_per_s * dt if full else 0.0) - p.backoff_per_failure * failed
        y.level = min(max(y.level + d_level, p.min_level), p.max_level)


_BACKOFFS: dict[FluidParams, list[float]] = {}


def run(
    p: FluidParams,
    trigger: Trigger | None = None,
    horizon_s: float = 3600.0,
    step_s: float = 10.0,
    *,
    backlog: float = 0.0,
    rate_profile: tuple[tuple[float, float], ...] | None = None,
    dt: float = 0.05,
) -> FluidRun:
    """Integrate the model from an empty system (or ``backlog`` messages) over the horizon.

    Args:
        p: The parameters.
        trigger: A spike or slowdown window (None: none).
        horizon_s: Length of the run, seconds.
        step_s: Output sample interval, seconds (a multiple of ``dt``).
        backlog: Messages in the system at time 0 (a saturated start).
        rate_profile: ``(start_s, rate_per_s)`` steps replacing the constant base rate (the
            trigger's spike multiplies it).
        dt: Integration step, seconds.

    Returns:
        The trajectory, sampled every ``step_s`` (rates are means over each interval).
    """
    steps = tuple(rate_profile) if rate_profile else ((0.0, p.rate_per_s),)
    y = FluidState.empty(p, backlog)
    per = max(1, round(step_s / dt))
    n_out = round(horizon_s / (per * dt))
    cols: dict[str, list[float]] = {c: [] for c in (
        "t", "offered", "good", "backlog", "at_db", "retrying", "level", "util", "wasted",
        "out", "delivered", "attempts")}  # fmt: skip
    t = 0.0
    si = 0

    def sample(offered: float, good: float) -> None:
        cols["t"].append(t)
        cols["offered"].append(offered)
        cols["good"].append(good)
        cols["backlog"].append(sum(y.queued) + sum(y.returning) + y.at_db + sum(y.backoff))
        cols["at_db"].append(y.at_db)
        cols["retrying"].append(sum(y.backoff))
        cols["level"].append(y.level)
        cols["util"].append(min(y.at_db, p.connections) / p.connections)
        cols["wasted"].append(y.wasted_s)
        cols["out"].append(y.failed_out)
        cols["delivered"].append(y.delivered)
        cols["attempts"].append(y.attempts)

    sample(steps[0][1], 0.0)
    for _ in range(n_out):
        d0, arrived = y.delivered, 0.0
        for _ in range(per):
            while si + 1 < len(steps) and t >= steps[si + 1][0]:
                si += 1
            rate, factor = steps[si][1], 1.0
            if trigger is not None and trigger.start_s <= t < trigger.end_s:
                if trigger.kind == "spike":
                    rate *= trigger.size
                elif trigger.kind == "slow":
                    factor = trigger.size
            step(p, y, rate, factor, dt)
            arrived += rate * dt
            t += dt
        span = per * dt
        sample(arrived / span, (y.delivered - d0) / span)
    arr = {name: np.asarray(v) for name, v in cols.items()}
    return FluidRun(
        t_s=arr["t"], offered_per_s=arr["offered"], goodput_per_s=arr["good"],
        backlog=arr["backlog"], latency_s=arr["backlog"] / np.maximum(arr["offered"], 1e-9),
        at_db=arr["at_db"], retrying=arr["retrying"], level=arr["level"],
        utilization=arr["util"], wasted_s=arr["wasted"], failed_out=arr["out"],
        delivered=arr["delivered"], attempts=arr["attempts"],
    )  # fmt: skip


def recovery_s(fr: FluidRun, after_s: float, slo_s: float, threshold: float = 0.9,
               hold_s: float = 300.0) -> float:  # fmt: skip
    """Seconds from ``after_s`` until the fluid loop is back, as the study measures it.

    Each sample covers the interval before it (a bin). Back: from the first bin that ends
    after ``after_s`` on, goodput ≥ ``threshold`` × λ with the latency estimate ≤ ``slo_s``
    in every bin for ``hold_s``; the recovery time is from ``after_s`` to that bin's start
    (0 if it started earlier). NaN when no such bin starts early enough for its hold to end
    inside the run.
    """
    ok = (fr.goodput_per_s >= threshold * fr.offered_per_s) & (fr.latency_s <= slo_s)
    t = fr.t_s
    width = float(t[1] - t[0]) if len(t) > 1 else 0.0
    end = float(t[-1])
    for i in np.flatnonzero(t > after_s):
        start = float(t[i]) - width
        if start + hold_s > end + 1e-9:
            break
        window = (t > start) & (t <= start + hold_s + 1e-9)
        if ok[window].all():
            return max(start - after_s, 0.0)
    return math.nan


def collapses(p: FluidParams, trigger: Trigger, horizon_s: float = 3600.0, slo_s: float = 30.0,
              dt: float = 0.1) -> tuple[bool, float]:  # fmt: skip
    """Whether the loop stays collapsed after ``trigger`` (not back within the horizon).

    Returns:
        ``(collapsed, recovery_s)``: recovery is NaN when collapsed.
    """
    fr = run(p, trigger, horizon_s, step_s=60.0, dt=dt)
    rec = recovery_s(fr, trigger.end_s, slo_s)
    return math.isnan(rec), rec


def equilibrium_branches(p: FluidParams, rates: list[float], settle_s: float = 3600.0,
                         saturated_backlog: float = 2000.0, dt: float = 0.05
                         ) -> list[dict[str, float]]:  # fmt: skip
    """The low and high branches at each constant arrival rate.

    For each rate, integrates ``settle_s`` from an empty system (low branch) and from
    ``saturated_backlog`` messages in the system (high branch), and reports the goodput
    (messages per second processed, over the last 10% of the run) and the requests at the
    database at the end of each.

    Returns:
        One dict per rate: ``rate_per_s``, ``low_goodput_per_s``, ``high_goodput_per_s``,
        ``low_at_db``, ``high_at_db``, ``bistable`` (1.0 when the high branch's goodput is
        below 90% of the low branch's, else 0.0).
    """
    out = []
    for rate in rates:
        q = replace(p, rate_per_s=rate)
        row: dict[str, float] = {"rate_per_s": rate}
        for name, backlog in (("low", 0.0), ("high", saturated_backlog)):
            fr = run(q, None, settle_s, backlog=backlog, dt=dt)
            tail = fr.t_s >= 0.9 * settle_s
            done = fr.delivered[tail]
            span = float(fr.t_s[tail][-1] - fr.t_s[tail][0])
            row[f"{name}_goodput_per_s"] = float(done[-1] - done[0]) / span if span > 0 else 0.0
            row[f"{name}_at_db"] = float(fr.at_db[-1])
        row["bistable"] = float(row["high_goodput_per_s"] < 0.9 * row["low_goodput_per_s"])
        out.append(row)
    return out
