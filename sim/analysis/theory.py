"""Closed-form results that the validation tests compare the simulator against.

Every function is pure: plain numbers in, a float out, no SimPy. Rates are per second
(`_per_s`), times are seconds (`_s`), offered load is in erlangs (arrival rate divided by
the service rate of one server). Parameters that are invalid, or that describe an unstable
queue (utilisation ρ ≥ 1), raise ``ValueError`` rather than returning ``inf`` or a negative
number.

Queueing formulas (steady state of a stable queue):

- ``mm1_mean_sojourn_s``: M/M/1. Poisson arrivals at rate λ, one server, exponential service
  at rate μ, FIFO, infinite buffer, λ < μ. Mean time in system W = 1/(μ − λ).
- ``erlang_b``: M/M/c/c (Erlang loss system). Poisson arrivals, c servers, no waiting room,
  blocked customers are lost. Insensitive to the service-time distribution beyond its mean.
  Computed with the recursion B(0) = 1, B(k) = a·B(k−1)/(k + a·B(k−1)), which never forms
  a^c or c! and so neither overflows nor loses precision for large c.
- ``erlang_c``: M/M/c. Poisson arrivals, c identical exponential servers, infinite buffer,
  work-conserving discipline, a < c. Probability that an arrival has to wait,
  C = c·B/(c − a(1 − B)) with B the Erlang B value above.
- ``mmc_mean_wait_s``, ``mmc_mean_sojourn_s``, ``mmc_mean_in_system``: M/M/c under FIFO.
  Wq = C/(cμ − λ), W = Wq + 1/μ, and L = λ·W by Little's law (Little's law itself needs only
  stationarity, but W here is the M/M/c value).
- ``erlang_a_wait_probability``, ``erlang_a_abandon_probability``, ``erlang_a_mean_wait_s``:
  M/M/c+M, the Erlang A queue (Garnett, Mandelbaum and Reiman, "Designing a Call Center with
  Impatient Customers", Manufacturing & Service Operations Management 4(3), 2002). Poisson
  arrivals λ, c exponential servers of rate μ, an unlimited FIFO line, and every customer
  leaves the line if its service has not started within an exponential patience of rate θ
  (mean 1/θ); a customer in service stays. Stable for every λ. With a = λ/μ, ρ = λ/(cμ),
  B = Erlang B(c, a) and A = A(cμ/θ, λ/θ), where A(x, y) = x·e^y·y^(−x)·γ(x, y) and γ is the
  lower incomplete gamma function: P(wait > 0) = A·B / (1 + (A − 1)·B),
  P(abandon | wait > 0) = 1/(ρA) + 1 − 1/ρ, P(abandon) is their product, and the mean time
  in the line over all arrivals (abandoners' included) is P(abandon)/θ (abandonments leave
  at rate θ per waiting customer, so θ·E[queue] = λ·P(abandon), and E[queue] = λ·E[wait] by
  Little's law). A is computed from its series A(x, y) = Σ_{k≥0} Π_{j=1..k} y/(x + j),
  which is Σ_k π(c + k)/π(c) of the birth-death chain, in log space.

Retry and fan-out formulas (each attempt fails independently with a fixed probability, and
failures do not change the probability of later attempts; no timeouts, throttling or
partial batches):

- ``dead_letter_probability``: an SQS message is received up to ``max_receive_count`` times
  and each processing attempt fails with probability p; it is redriven to the dead-letter
  queue when all k receives fail: p^k.
- ``mean_attempts``: expected number of receives of such a message, counting the one that
  succeeds: 1 + p + … + p^(k−1) = (1 − p^k)/(1 − p), which is k when p = 1 and 1 when p = 0.
- ``sequential_fanout_all_delivered``: a producer sends one message to N targets one after
  another, each send failing with probability q and not retried: all N arrive with
  probability (1 − q)^N.
- ``async_lambda_loss``: an asynchronous Lambda invocation is tried once and retried up to
  ``retries`` times (AWS allows 0–2) with no on-failure destination or DLQ: the event is lost
  with probability p^(retries + 1).
- ``sdk_send_failure``: an SDK call made up to ``max_attempts`` times (first try included)
  fails for good with probability q^max_attempts.
- ``eventbridge_target_loss``: an EventBridge target tried once and retried up to ``retries``
  times (MaximumRetryAttempts, 0–185), each attempt failing with probability q, before the
  maximum event age ends and without a DLQ: the event is lost with probability q^(retries + 1).
"""

from __future__ import annotations

import math
import operator

__all__ = [
    "async_lambda_loss",
    "dead_letter_probability",
    "erlang_a_abandon_probability",
    "erlang_a_mean_wait_s",
    "erlang_a_wait_probability",
    "erlang_b",
    "erlang_c",
    "eventbridge_target_loss",
    "mean_attempts",
    "mm1_mean_sojourn_s",
    "mmc_mean_in_system",
    "mmc_mean_sojourn_s",
    "mmc_mean_wait_s",
    "sdk_send_failure",
    "sequential_fanout_all_delivered",
]


def _check_int(name: str, value: int, minimum: int) -> int:
    """Return ``value`` as an int, or raise ValueError if it is not an integer ≥ minimum."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got bool {value!r}")
    try:
        as_int = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if as_int < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {as_int}")
    return as_int


def _check_probability(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise ValueError if it is not in [0, 1]."""
    as_float = float(value)
    if not 0.0 <= as_float <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return as_float


def _check_rate(name: str, value: float, *, allow_zero: bool) -> float:
    """Return ``value`` as a float, or raise ValueError if it is not a finite rate."""
    as_float = float(value)
    if not math.isfinite(as_float) or as_float < 0.0 or (as_float == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")
    return as_float


def _check_stable(arrival_rate_per_s: float, capacity_per_s: float) -> None:
    """Raise ValueError unless arrivals are strictly slower than total service capacity."""
    if arrival_rate_per_s >= capacity_per_s:
        rho = arrival_rate_per_s / capacity_per_s
        raise ValueError(
            f"unstable queue: utilisation rho = {rho:.6g} >= 1 "
            f"(arrival rate {arrival_rate_per_s:g}/s, capacity {capacity_per_s:g}/s)"
        )


def mm1_mean_sojourn_s(arrival_rate_per_s: float, service_rate_per_s: float) -> float:
    """Mean time in system of an M/M/1 FIFO queue, 1/(μ − λ).

    Args:
        arrival_rate_per_s: Poisson arrival rate λ, per second (≥ 0).
        service_rate_per_s: Exponential service rate μ, per second (> 0).

    Returns:
        Mean sojourn time (waiting plus service) in seconds.

    Raises:
        ValueError: If a rate is negative or not finite, μ is 0, or λ ≥ μ.
    """
    lam = _check_rate("arrival_rate_per_s", arrival_rate_per_s, allow_zero=True)
    mu = _check_rate("service_rate_per_s", service_rate_per_s, allow_zero=False)
    _check_stable(lam, mu)
    return 1.0 / (mu - lam)


def erlang_b(servers: int, offered_load_erlangs: float) -> float:
    """Blocking probability of an M/M/c/c loss system (Erlang B formula).

    Args:
        servers: Number of servers c (≥ 0; with no servers every arrival is blocked).
        offered_load_erlangs: Offered load a = λ/μ in erlangs (finite, ≥ 0; any value is
            stable because blocked customers leave).

    Returns:
        Probability that an arrival finds all c servers busy and is lost.

    Raises:
        ValueError: If ``servers`` is not a non-negative integer or the load is negative
            or not finite.
    """
    c = _check_int("servers", servers, 0)
    a = _check_rate("offered_load_erlangs", offered_load_erlangs, allow_zero=True)
    blocking = 1.0
    for k in range(1, c + 1):
        blocking = a * blocking / (k + a * blocking)
    return blocking


def erlang_c(servers: int, offered_load_erlangs: float) -> float:
    """Probability of waiting in an M/M/c queue (Erlang C formula).

    Args:
        servers: Number of servers c (≥ 1).
        offered_load_erlangs: Offered load a = λ/μ in erlangs (0 ≤ a < c).

    Returns:
        Probability that an arrival finds all servers busy and has to queue.

    Raises:
        ValueError: If ``servers`` < 1, the load is negative or not finite, or a ≥ c.
    """
    c = _check_int("servers", servers, 1)
    a = _check_rate("offered_load_erlangs", offered_load_erlangs, allow_zero=True)
    if a >= c:
        raise ValueError(
            f"unstable queue: utilisation rho = a/c = {a / c:.6g} >= 1 "
            f"(offered load {a:g} erlangs, {c} servers)"
        )
    blocking = erlang_b(c, a)
    return c * blocking / (c - a * (1.0 - blocking))


def _erlang_a_terms(
    arrival_rate_per_s: float, service_rate_per_s: float, servers: int, abandon_rate_per_s: float
) -> tuple[float, float, float]:
    """``(B, 1/A, ρ)`` of the Erlang A formulas (see the module docstring), validated."""
    lam = _check_rate("arrival_rate_per_s", arrival_rate_per_s, allow_zero=False)
    mu = _check_rate("service_rate_per_s", service_rate_per_s, allow_zero=False)
    c = _check_int("servers", servers, 1)
    theta = _check_rate("abandon_rate_per_s", abandon_rate_per_s, allow_zero=False)
    x, y = c * mu / theta, lam / theta
    # log of the terms t_k = Π_{j=1..k} y/(x + j); they rise while x + j < y, then fall.
    log_terms = [0.0]
    top = 0.0
    k = 0
    while True:
        k += 1
        nxt = log_terms[-1] + math.log(y / (x + k))
        log_terms.append(nxt)
        top = max(top, nxt)
        if x + k > y and nxt < top - 40.0:  # falling geometrically: the rest is negligible
            break
    log_a = top + math.log(math.fsum(math.exp(t - top) for t in log_terms))
    return erlang_b(c, lam / mu), math.exp(-log_a), lam / (c * mu)


def erlang_a_wait_probability(
    arrival_rate_per_s: float, service_rate_per_s: float, servers: int, abandon_rate_per_s: float
) -> float:
    """Probability that an arrival waits in an M/M/c+M (Erlang A) queue.

    Args:
        arrival_rate_per_s: Poisson arrival rate λ, per second (> 0).
        service_rate_per_s: Exponential service rate μ of one server, per second (> 0).
        servers: Number of servers c (≥ 1).
        abandon_rate_per_s: Rate θ of the exponential patience (1 / mean patience, > 0).

    Returns:
        P(wait > 0) = A·B / (1 + (A − 1)·B) (Garnett, Mandelbaum and Reiman 2002).

    Raises:
        ValueError: If a parameter is invalid.
    """
    b, inv_a, _ = _erlang_a_terms(
        arrival_rate_per_s, service_rate_per_s, servers, abandon_rate_per_s
    )
    return b / (inv_a + b - b * inv_a)  # A·B / (1 + (A − 1)·B), divided through by A


def erlang_a_abandon_probability(
    arrival_rate_per_s: float, service_rate_per_s: float, servers: int, abandon_rate_per_s: float
) -> float:
    """Probability that an arrival abandons (leaves the line unserved) in an Erlang A queue.

    Args:
        arrival_rate_per_s: Poisson arrival rate λ, per second (> 0).
        service_rate_per_s: Exponential service rate μ of one server, per second (> 0).
        servers: Number of servers c (≥ 1).
        abandon_rate_per_s: Rate θ of the exponential patience (1 / mean patience, > 0).

    Returns:
        P(abandon) = P(wait > 0) · (1/(ρA) + 1 − 1/ρ), with ρ = λ/(cμ).

    Raises:
        ValueError: If a parameter is invalid.
    """
    _, inv_a, rho = _erlang_a_terms(
        arrival_rate_per_s, service_rate_per_s, servers, abandon_rate_per_s
    )
    wait = erlang_a_wait_probability(
        arrival_rate_per_s, service_rate_per_s, servers, abandon_rate_per_s
    )
    return wait * (inv_a / rho + 1.0 - 1.0 / rho)


def erlang_a_mean_wait_s(
    arrival_rate_per_s: float, service_rate_per_s: float, servers: int, abandon_rate_per_s: float
) -> float:
    """Mean time in the line of an Erlang A queue, over all arrivals (abandoners included).

    Args:
        arrival_rate_per_s: Poisson arrival rate λ, per second (> 0).
        service_rate_per_s: Exponential service rate μ of one server, per second (> 0).
        servers: Number of servers c (≥ 1).
        abandon_rate_per_s: Rate θ of the exponential patience (1 / mean patience, > 0).

    Returns:
        E[wait] = P(abandon)/θ, in seconds (zero for those served at once).

    Raises:
        ValueError: If a parameter is invalid.
    """
    p = erlang_a_abandon_probability(
        arrival_rate_per_s, service_rate_per_s, servers, abandon_rate_per_s
    )
    return p / float(abandon_rate_per_s)


def mmc_mean_wait_s(arrival_rate_per_s: float, service_rate_per_s: float, servers: int) -> float:
    """Mean time spent queueing (before service) in an M/M/c FIFO queue, C/(cμ − λ).

    Args:
        arrival_rate_per_s: Poisson arrival rate λ, per second (≥ 0).
        service_rate_per_s: Exponential service rate μ of one server, per second (> 0).
        servers: Number of servers c (≥ 1).

    Returns:
        Mean waiting time in the queue, in seconds (service excluded).

    Raises:
        ValueError: If a parameter is invalid or λ ≥ cμ.
    """
    lam = _check_rate("arrival_rate_per_s", arrival_rate_per_s, allow_zero=True)
    mu = _check_rate("service_rate_per_s", service_rate_per_s, allow_zero=False)
    c = _check_int("servers", servers, 1)
    _check_stable(lam, c * mu)
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_mean_sojourn_s(arrival_rate_per_s: float, service_rate_per_s: float, servers: int) -> float:
    """Mean time in system of an M/M/c FIFO queue, Wq + 1/μ.

    Args:
        arrival_rate_per_s: Poisson arrival rate λ, per second (≥ 0).
        service_rate_per_s: Exponential service rate μ of one server, per second (> 0).
        servers: Number of servers c (≥ 1).

    Returns:
        Mean sojourn time (waiting plus service) in seconds.

    Raises:
        ValueError: If a parameter is invalid or λ ≥ cμ.
    """
    wait_s = mmc_mean_wait_s(arrival_rate_per_s, service_rate_per_s, servers)
    return wait_s + 1.0 / float(service_rate_per_s)


def mmc_mean_in_system(arrival_rate_per_s: float, service_rate_per_s: float, servers: int) -> float:
    """Mean number of customers in an M/M/c system (queued plus in service), L = λ·W.

    Args:
        arrival_rate_per_s: Poisson arrival rate λ, per second (≥ 0).
        service_rate_per_s: Exponential service rate μ of one server, per second (> 0).
        servers: Number of servers c (≥ 1).

    Returns:
        Time-average number in system (dimensionless count).

    Raises:
        ValueError: If a parameter is invalid or λ ≥ cμ.
    """
    sojourn_s = mmc_mean_sojourn_s(arrival_rate_per_s, service_rate_per_s, servers)
    return float(arrival_rate_per_s) * sojourn_s


def dead_letter_probability(p_fail: float, max_receive_count: int) -> float:
    """Probability that a message is redriven to the DLQ after every receive fails, p^k.

    Args:
        p_fail: Probability p that one processing attempt fails, independently.
        max_receive_count: The SQS redrive policy's ``maxReceiveCount`` k (≥ 1).

    Returns:
        Probability that all k receives fail.

    Raises:
        ValueError: If p is outside [0, 1] or k < 1.
    """
    p = _check_probability("p_fail", p_fail)
    k = _check_int("max_receive_count", max_receive_count, 1)
    return p**k


def mean_attempts(p_fail: float, max_receive_count: int) -> float:
    """Expected number of receives of a message under an SQS redrive policy.

    Counts every receive, including the successful one or the last failed one before
    redrive: (1 − p^k)/(1 − p), with the limits 1 at p = 0 and k at p = 1.

    Args:
        p_fail: Probability p that one processing attempt fails, independently.
        max_receive_count: The SQS redrive policy's ``maxReceiveCount`` k (≥ 1).

    Returns:
        Mean number of processing attempts per message, between 1 and k.

    Raises:
        ValueError: If p is outside [0, 1] or k < 1.
    """
    p = _check_probability("p_fail", p_fail)
    k = _check_int("max_receive_count", max_receive_count, 1)
    if p == 0.0:
        return 1.0
    if p == 1.0:
        return float(k)
    if k <= 64:
        # the finite sum 1 + p + ... + p^(k-1): exact at k = 1, accurate for small k
        return math.fsum(p**i for i in range(k))
    # 1 - p is exact for p in [0.5, 1), and -expm1(k*log p) avoids cancellation in 1 - p^k.
    return -math.expm1(k * math.log(p)) / (1.0 - p)


def sequential_fanout_all_delivered(q_fail: float, n_targets: int) -> float:
    """Probability that sequential, unretried sends reach all N targets, (1 − q)^N.

    Args:
        q_fail: Probability q that one send fails, independently.
        n_targets: Number of targets N (≥ 0; with none, delivery is trivially complete).

    Returns:
        Probability that every one of the N sends succeeds.

    Raises:
        ValueError: If q is outside [0, 1] or N < 0.
    """
    q = _check_probability("q_fail", q_fail)
    n = _check_int("n_targets", n_targets, 0)
    return (1.0 - q) ** n


def async_lambda_loss(p_fail: float, retries: int) -> float:
    """Probability that an asynchronous Lambda event is lost, p^(retries + 1).

    Assumes no on-failure destination or DLQ, and that the event does not expire
    (``MaximumEventAgeInSeconds``) before its retries are used.

    Args:
        p_fail: Probability p that one invocation fails, independently.
        retries: ``MaximumRetryAttempts`` (≥ 0; AWS allows 0, 1 or 2).

    Returns:
        Probability that the first attempt and every retry fail.

    Raises:
        ValueError: If p is outside [0, 1] or retries < 0.
    """
    p = _check_probability("p_fail", p_fail)
    r = _check_int("retries", retries, 0)
    return p ** (r + 1)


def eventbridge_target_loss(q_fail: float, retries: int) -> float:
    """Probability that an EventBridge target never gets an event, q^(retries + 1).

    Assumes no target DLQ, retriable failures only, and that the retries end before the
    maximum event age.

    Args:
        q_fail: Probability q that one delivery attempt fails, independently.
        retries: ``MaximumRetryAttempts`` (≥ 0; AWS allows 0–185).

    Returns:
        Probability that the first attempt and every retry fail.

    Raises:
        ValueError: If q is outside [0, 1] or retries < 0.
    """
    q = _check_probability("q_fail", q_fail)
    r = _check_int("retries", retries, 0)
    return q ** (r + 1)


def sdk_send_failure(q_fail: float, max_attempts: int) -> float:
    """Probability that an SDK send fails after all its attempts, q^max_attempts.

    Args:
        q_fail: Probability q that one attempt fails, independently.
        max_attempts: Total attempts including the first (the SDK's ``max_attempts``, ≥ 1).

    Returns:
        Probability that every attempt fails.

    Raises:
        ValueError: If q is outside [0, 1] or max_attempts < 1.
    """
    q = _check_probability("q_fail", q_fail)
    n = _check_int("max_attempts", max_attempts, 1)
    return q**n
