"""Replications of a scenario, serially or in worker processes.

Replication ``r`` of root seed ``s`` draws from ``RandomStreams(s, r)``, so its results do
not depend on which process runs it or on how many workers there are; results come back
ordered by replication.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

from tqdm import tqdm

from sim.build import run_once
from sim.config import Scenario
from sim.metrics import RunResult

__all__ = ["default_workers", "run_replications"]


def default_workers() -> int:
    """All cores of this machine."""
    return os.cpu_count() or 1


def _task(args: tuple[Scenario, int, int]) -> RunResult:
    scenario, rep, seed = args
    return run_once(scenario, rep, seed)


def run_replications(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = 1,
    progress: bool = False,
) -> list[RunResult]:
    """Run ``replications`` (default: the scenario's) replications of ``scenario``.

    Args:
        scenario: The validated scenario.
        replications: Number of replications (default ``scenario.replications``).
        seed: Root seed (default ``scenario.seed``).
        workers: Worker processes (1 = serial in this process; None = all cores).
        progress: Show a progress bar on stderr.

    Returns:
        One :class:`RunResult` per replication, ordered by replication.
    """
    n = scenario.replications if replications is None else replications
    root = scenario.seed if seed is None else seed
    workers = default_workers() if workers is None else max(1, workers)
    tasks = [(scenario, rep, root) for rep in range(n)]
    bar = tqdm(total=n, desc=scenario.name, unit="rep", file=sys.stderr, disable=not progress)
    try:
        if workers == 1 or n == 1:
            out = []
            for t in tasks:
                out.append(_task(t))
                bar.update()
            return out
        with ProcessPoolExecutor(max_workers=min(workers, n)) as pool:
            results: list[RunResult] = []
            it: Iterator[RunResult] = pool.map(_task, tasks)
            for r in it:
                results.append(r)
                bar.update()
            return results
    finally:
        bar.close()
