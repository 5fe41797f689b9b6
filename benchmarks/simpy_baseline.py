"""Hand-written SimPy M/M/c models: the baseline evsim's throughput is compared against.

Both models simulate the same FIFO M/M/c queue (Poisson arrivals, exponential service,
c identical servers, infinite buffer) from an empty start until ``n_messages`` customers
have arrived and all of them have left, and report the mean sojourn time (queueing plus
service) and the wall-clock speed.

- ``run_deque_mmc``: the fast way. One source process and c standing server processes.
  Waiting customers are arrival times in a ``collections.deque``; a server with nothing to do
  parks a plain ``env.event()`` on an idle stack, and the source hands the next arrival to it
  directly by succeeding that event. About two SimPy events per customer (arrival timeout,
  service timeout), plus a wake-up event only when a server was idle.
- ``run_resource_mmc``: the idiomatic way. One process per customer, which requests a
  ``simpy.Resource(capacity=c)``, holds it for its service time and releases it.

Randomness: a ``SeedSequence(seed)`` is spawned into an arrival stream and a service stream,
and both are drawn in blocks of ``BLOCK_SIZE`` for speed. Under FIFO the k-th customer to
arrive is the k-th to start service, so both models give customer k the same inter-arrival
gap and the same service time: with the same seed they simulate the same sample path and
their mean sojourn times agree (to rounding), which is a cheap cross-check between them.

Run ``python benchmarks/simpy_baseline.py`` (with evsim installed, e.g. ``make bench``'s
environment) to time both at c = 4, rho = 0.9 and compare with the Erlang C mean.
"""

from __future__ import annotations

import argparse
import time
from collections import deque
from collections.abc import Generator as PyGenerator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

BLOCK_SIZE = 4096

ProcessGen = PyGenerator[simpy.Event, Any, None]


@dataclass(frozen=True, slots=True)
class BaselineResult:
    """Outcome of one baseline run.

    Attributes:
        messages: Customers that completed service.
        wall_s: Wall-clock seconds for environment setup plus ``env.run()``.
        mean_sojourn_s: Mean simulated time from arrival to departure, in seconds.
        sim_time_s: Simulated time at the end of the run (the last departure), in seconds.
    """

    messages: int
    wall_s: float
    mean_sojourn_s: float
    sim_time_s: float

    @property
    def messages_per_s(self) -> float:
        """Customers simulated per wall-clock second."""
        return self.messages / self.wall_s


def _check(arrival_rate_per_s: float, service_mean_s: float, servers: int, n_messages: int) -> None:
    if not arrival_rate_per_s > 0.0:
        raise ValueError(f"arrival_rate_per_s must be > 0, got {arrival_rate_per_s!r}")
    if not service_mean_s > 0.0:
        raise ValueError(f"service_mean_s must be > 0, got {service_mean_s!r}")
    if servers < 1:
        raise ValueError(f"servers must be >= 1, got {servers!r}")
    if n_messages < 1:
        raise ValueError(f"n_messages must be >= 1, got {n_messages!r}")


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent arrival and service generators spawned from one seed."""
    arrival_seq, service_seq = np.random.SeedSequence(seed).spawn(2)
    return (
        np.random.Generator(np.random.PCG64(arrival_seq)),
        np.random.Generator(np.random.PCG64(service_seq)),
    )


def _exponential_blocks(rng: np.random.Generator, mean_s: float, n: int) -> Iterator[float]:
    """Yield ``n`` exponential variates with mean ``mean_s``, drawn ``BLOCK_SIZE`` at a time."""
    remaining = n
    while remaining > 0:
        size = min(BLOCK_SIZE, remaining)
        yield from rng.exponential(mean_s, size).tolist()
        remaining -= size


def run_deque_mmc(
    arrival_rate_per_s: float, service_mean_s: float, servers: int, n_messages: int, seed: int
) -> BaselineResult:
    """Simulate a FIFO M/M/c queue with a source, c server processes and a deque.

    Args:
        arrival_rate_per_s: Poisson arrival rate, per second.
        service_mean_s: Mean of the exponential service time, in seconds.
        servers: Number of servers c.
        n_messages: Customers to generate; the run ends when all have departed.
        seed: Root seed for ``numpy.random.SeedSequence``.

    Returns:
        Completed customers, wall time, mean sojourn time and final simulated time.
    """
    _check(arrival_rate_per_s, service_mean_s, servers, n_messages)
    arrival_rng, service_rng = _streams(seed)
    gaps = _exponential_blocks(arrival_rng, 1.0 / arrival_rate_per_s, n_messages)
    service_times = _exponential_blocks(service_rng, service_mean_s, n_messages)
    next_service_s = service_times.__next__

    start = time.perf_counter()
    env = simpy.Environment()
    timeout = env.timeout
    waiting: deque[float] = deque()  # arrival times of queued customers, FIFO
    idle: list[simpy.Event] = []  # wake-up events of idle servers
    sojourn_sum_s = 0.0  # running sum over completed customers
    completed = 0

    def _run_source() -> ProcessGen:
        for gap_s in gaps:
            yield timeout(gap_s)
            if idle:
                # An idle server implies an empty queue: hand this arrival over directly.
                idle.pop().succeed(env.now)
            else:
                waiting.append(env.now)

    def _run_server() -> ProcessGen:
        nonlocal sojourn_sum_s, completed
        while True:
            if waiting:
                arrived_s = waiting.popleft()
            else:
                wake = env.event()
                idle.append(wake)
                arrived_s = yield wake
            yield timeout(next_service_s())
            sojourn_sum_s += env.now - arrived_s
            completed += 1

    env.process(_run_source())
    for _ in range(servers):
        env.process(_run_server())
    # Ends when the event queue is empty: all arrivals made, all servers parked idle.
    env.run()
    wall_s = time.perf_counter() - start

    return BaselineResult(completed, wall_s, sojourn_sum_s / completed, env.now)


def run_resource_mmc(
    arrival_rate_per_s: float, service_mean_s: float, servers: int, n_messages: int, seed: int
) -> BaselineResult:
    """Simulate a FIFO M/M/c queue idiomatically: a process per customer and a Resource.

    Args:
        arrival_rate_per_s: Poisson arrival rate, per second.
        service_mean_s: Mean of the exponential service time, in seconds.
        servers: Number of servers c.
        n_messages: Customers to generate; the run ends when all have departed.
        seed: Root seed for ``numpy.random.SeedSequence``.

    Returns:
        Completed customers, wall time, mean sojourn time and final simulated time.
    """
    _check(arrival_rate_per_s, service_mean_s, servers, n_messages)
    arrival_rng, service_rng = _streams(seed)
    gaps = _exponential_blocks(arrival_rng, 1.0 / arrival_rate_per_s, n_messages)
    service_times = _exponential_blocks(service_rng, service_mean_s, n_messages)

    start = time.perf_counter()
    env = simpy.Environment()
    counter = simpy.Resource(env, capacity=servers)
    sojourn_sum_s = 0.0  # running sum over completed customers
    completed = 0

    def customer(service_s: float) -> ProcessGen:
        nonlocal sojourn_sum_s, completed
        arrived_s = env.now
        with counter.request() as request:
            yield request
            yield env.timeout(service_s)
        sojourn_sum_s += env.now - arrived_s
        completed += 1

    def _run_source() -> ProcessGen:
        for gap_s, service_s in zip(gaps, service_times, strict=True):
            yield env.timeout(gap_s)
            env.process(customer(service_s))

    env.process(_run_source())
    env.run()
    wall_s = time.perf_counter() - start

    return BaselineResult(completed, wall_s, sojourn_sum_s / completed, env.now)


def main(argv: list[str] | None = None) -> int:
    """Time both baselines on M/M/4 at rho = 0.9 and compare with Erlang C."""
    from sim.analysis.theory import mmc_mean_sojourn_s

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--arrival-rate-per-s", type=float, default=3.6)
    parser.add_argument("--service-mean-s", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args(argv)

    theory_s = mmc_mean_sojourn_s(args.arrival_rate_per_s, 1.0 / args.service_mean_s, args.servers)
    rho = args.arrival_rate_per_s * args.service_mean_s / args.servers
    print(
        f"M/M/{args.servers}, rho = {rho:.3f}, {args.messages:,} messages, seed {args.seed}; "
        f"Erlang C mean sojourn = {theory_s:.4f} s"
    )
    for name, run in (("deque", run_deque_mmc), ("resource", run_resource_mmc)):
        result = run(
            args.arrival_rate_per_s, args.service_mean_s, args.servers, args.messages, args.seed
        )
        error_pct = 100.0 * (result.mean_sojourn_s / theory_s - 1.0)
        print(
            f"{name:>8}: {result.messages_per_s:>10,.0f} msgs/s  "
            f"wall {result.wall_s:6.2f} s  mean sojourn {result.mean_sojourn_s:.4f} s "
            f"({error_pct:+.2f}% vs Erlang C)  sim time {result.sim_time_s:,.0f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
