"""Replications, comparisons with common random numbers, sweeps, and the executors that run them.

A *task* is one replication: ``(scenario, rep, root_seed)``. Replication ``r`` of root seed
``s`` draws from ``RandomStreams(s, r)``, so a task's result does not depend on which process
or machine runs it: serial, worker-process and Dask executors give identical results, always
returned in task order, i.e. ordered by (scenario, replication).

Common random numbers. Workload randomness (arrival times, groups, attributes, poison draws) is
drawn on each producer's own named streams, so every variant run with the same root seed and
replication index sees the same messages, message by message, as long as its producers are
unchanged. :func:`compare` and :func:`sweep` pair replications across variants and report
differences against the first with t-based CIs; a scenario compared with itself differs by
exactly zero.

Per-run reduce hook (``reduce``): a function applied to each replication's
:class:`RunResult` in the worker that ran it, so that only what it returns travels
back (a trace of millions of events need not). With ``trace=True`` the replications keep their
per-event trace for the hook to read. The hook must be picklable (a module-level function, or
a ``functools.partial`` / instance of one); worker processes are forked where the platform
allows it, so a hook defined in a script loaded from its file path is found in the workers.

Sequential stopping (``precision``): replications are added in rounds until every headline
metric's CI half-width is within ``precision × |mean|`` in every variant, or a cap is reached.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from tqdm import tqdm

from sim.analysis.metrics import METRICS, RunResult, ci_stats, summary_block
from sim.build import run_once
from sim.config.problems import ScenarioError
from sim.config.scenario import Scenario

__all__ = [
    "HEADLINE_METRICS",
    "CompareResult",
    "SweepResult",
    "compare",
    "default_workers",
    "paired_differences",
    "paired_stats",
    "run_replications",
    "run_tasks",
    "sweep",
]

Task = tuple[Scenario, int, int]
T = TypeVar("T")

#: Metrics whose precision ``precision`` asks for (when they have a value).
HEADLINE_METRICS: tuple[str, ...] = (
    "delivered_fraction",
    "latency_mean_s",
    "latency_p99_s",
    "cost_per_million_usd",
)


#: Seconds to wait for a Dask scheduler (``dask="tcp://..."``) before giving up.
DASK_CONNECT_TIMEOUT_S = 5.0


def default_workers() -> int:
    """All cores of this machine."""
    return os.cpu_count() or 1


def _run_task(
    task: Task,
    reduce: Callable[[RunResult], Any] | None = None,
    trace: bool = False,
    observe: bool = False,
) -> Any:
    scenario, rep, seed = task
    result = run_once(scenario, rep, seed, trace=trace, observe=observe)
    return result if reduce is None else reduce(result)


@contextmanager
def _mapper(
    workers: int | None,
    dask: str | None,
    n_tasks: int,
    work: Callable[[Task], Any] = _run_task,
    fork: bool = False,
) -> Iterator[Callable[[Sequence[Task]], Iterator[Any]]]:
    """A function mapping tasks to ``work(task)``, in order, on the chosen executor."""
    if dask is not None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ScenarioError(
                "--dask", [("", dask, "needs the dask extra: pip install 'evsim[dask]'")]
            ) from exc
        if dask == "local":
            n = default_workers() if workers is None else max(1, workers)
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            )
            client = Client(cluster)
        else:
            cluster = None
            client = _connect(Client, dask)
        try:

            def dask_map(tasks: Sequence[Task]) -> Iterator[Any]:
                futures = client.map(work, list(tasks), pure=False)
                for fut in futures:
                    yield fut.result()

            yield dask_map
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    n = default_workers() if workers is None else max(1, workers)
    if n == 1 or n_tasks <= 1:
        yield lambda tasks: (work(t) for t in tasks)
        return
    context = (
        multiprocessing.get_context("fork")
        if fork and "fork" in multiprocessing.get_all_start_methods()
        else None
    )
    with ProcessPoolExecutor(max_workers=min(n, n_tasks), mp_context=context) as pool:
        yield lambda tasks: pool.map(work, tasks)


def _connect(client_class: Any, address: str) -> Any:
    """A Dask client of the scheduler at ``address``, or a clear error within a few seconds."""
    try:
        return client_class(address, timeout=DASK_CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        why = (f"no Dask scheduler answered within {DASK_CONNECT_TIMEOUT_S:g} s ({exc}); start "
               "one (dask scheduler) or use --dask local")
    except (ValueError, TypeError) as exc:
        why = f"not a scheduler address ({exc}); expected tcp://HOST:PORT or local"
    raise ScenarioError("--dask", [("", address, why)]) from None


@overload
def run_tasks(
    tasks: Sequence[Task],
    workers: int | None = ...,
    dask: str | None = ...,
    progress: bool = ...,
    desc: str = ...,
    *,
    reduce: None = ...,
    trace: bool = ...,
    observe: bool = ...,
) -> list[RunResult]: ...


@overload
def run_tasks(
    tasks: Sequence[Task],
    workers: int | None = ...,
    dask: str | None = ...,
    progress: bool = ...,
    desc: str = ...,
    *,
    reduce: Callable[[RunResult], T],
    trace: bool = ...,
    observe: bool = ...,
) -> list[T]: ...


def run_tasks(
    tasks: Sequence[Task],
    workers: int | None = 1,
    dask: str | None = None,
    progress: bool = False,
    desc: str = "replications",
    *,
    reduce: Callable[[RunResult], Any] | None = None,
    trace: bool = False,
    observe: bool = False,
) -> list[Any]:
    """Run ``tasks`` on the chosen executor; results in task order.

    Args:
        tasks: ``(scenario, rep, root_seed)`` triples.
        workers: Worker processes (1 = serially in this process; None = all cores); with
            ``dask="local"``, the number of Dask workers.
        dask: None, ``"local"`` (start a LocalCluster) or a scheduler address
            (``"tcp://HOST:PORT"``).
        progress: Show a tqdm progress bar on stderr.
        desc: Label of the progress bar.
        reduce: The per-run reduce hook (see the module docstring): applied to each result in
            the worker, which returns what it returns instead of the result. None returns the
            results themselves.
        trace: Run every replication with its per-event trace (for ``reduce`` to read).
        observe: Record every replication's time series (``RunResult.timeseries``).

    Returns:
        One item per task, in task order: the :class:`RunResult`, or what ``reduce`` made of it.
    """
    work = functools.partial(_run_task, reduce=reduce, trace=trace, observe=observe)
    out: list[Any] = []
    with (
        tqdm(total=len(tasks), desc=desc, unit="rep", file=sys.stderr, disable=not progress) as bar,
        _mapper(workers, dask, len(tasks), work, fork=reduce is not None) as run_all,
    ):
        for r in run_all(tasks):
            out.append(r)
            bar.update()
    return out


def run_replications(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = 1,
    progress: bool = False,
    dask: str | None = None,
    precision: float | None = None,
    max_replications: int = 200,
    *,
    observe: bool = False,
) -> list[RunResult]:
    """Run replications ``0 .. n-1`` of ``scenario`` (default n: the scenario's).

    With ``precision``, more replications follow until the headline metrics are that precise
    (see the module docstring), at most ``max_replications`` in all. With ``observe`` every
    replication records its time series.
    """
    return compare(
        [scenario], replications, seed, workers, progress, dask, precision, max_replications,
        observe=observe,
    ).runs[_names([scenario])[0]]


def _names(scenarios: Sequence[Scenario]) -> list[str]:
    """Variant names: the scenario names, a repeated name getting ``#2``, ``#3``, ..."""
    seen: dict[str, int] = {}
    out = []
    for s in scenarios:
        k = seen.get(s.name, 0) + 1
        seen[s.name] = k
        out.append(s.name if k == 1 else f"{s.name}#{k}")
    return out


def _precise(results: Sequence[RunResult], precision: float) -> bool:
    for name in HEADLINE_METRICS:
        s = ci_stats([r.metrics.get(name) for r in results])
        mean, lo, hi = s["mean"], s["ci_low"], s["ci_high"]
        if mean is None:
            continue
        if lo is None or hi is None:
            return False
        if (hi - lo) / 2 > precision * abs(mean):
            return False
    return True


def paired_stats(
    base: Mapping[int, Mapping[str, Any]],
    other: Mapping[int, Mapping[str, Any]],
    metrics: Sequence[str],
    level: float = 0.95,
) -> dict[str, dict[str, float | None]]:
    """Per metric: :func:`ci_stats` of ``other − base``, paired by replication.

    Args:
        base: Per replication index, the baseline's values (a missing or None value, or a
            replication missing from ``base``, gives no difference).
        other: Per replication index, the variant's values, in the order to pair them.
        metrics: The metrics to difference.
        level: Confidence level of the t-based interval.

    Returns:
        ``{metric: {"mean", "ci_low", "ci_high", "std", "n"}}``.
    """
    out: dict[str, dict[str, float | None]] = {}
    for name in metrics:
        diffs: list[float | None] = []
        for rep, values in other.items():
            b = base.get(rep)
            if b is None:
                continue
            x, y = values.get(name), b.get(name)
            diffs.append(None if x is None or y is None else float(x) - float(y))
        out[name] = ci_stats(diffs, level)
    return out


def paired_differences(
    base: Sequence[RunResult], other: Sequence[RunResult]
) -> dict[str, dict[str, float | None]]:
    """Per metric: mean and t-based 95% CI of ``other − base``, paired by replication."""
    stats = paired_stats(
        {r.rep: r.metrics for r in base}, {r.rep: r.metrics for r in other}, METRICS
    )
    return {
        name: {"mean": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"]}
        for name, s in stats.items()
    }


@dataclass
class CompareResult:
    """Replications of several variants under common random numbers."""

    names: list[str]
    scenarios: list[Scenario]
    seed: int
    runs: dict[str, list[RunResult]] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        """Name of the first variant (the one differences are taken against)."""
        return self.names[0]

    def differences(self) -> dict[str, dict[str, dict[str, float | None]]]:
        """Paired differences (variant minus baseline) for every variant but the baseline."""
        base = self.runs[self.baseline]
        return {n: paired_differences(base, self.runs[n]) for n in self.names[1:]}

    def to_json(self) -> dict[str, Any]:
        """The ``evsim compare --json`` object (README: comparing designs)."""
        return {
            "baseline": self.baseline,
            "variants": {n: summary_block(self.runs[n]) for n in self.names},
            "differences": self.differences(),
        }


def compare(
    scenarios: Sequence[Scenario],
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = 1,
    progress: bool = False,
    dask: str | None = None,
    precision: float | None = None,
    max_replications: int = 200,
    *,
    reduce: Callable[[RunResult], RunResult] | None = None,
    trace: bool = False,
    observe: bool = False,
) -> CompareResult:
    """Run every variant with the same root seed and replication indices (common random numbers).

    Args:
        scenarios: The variants; the first is the baseline.
        replications: Replications per variant (default: the baseline scenario's).
        seed: Root seed (default: the baseline scenario's).
        workers: Worker processes (1 = serial; None = all cores).
        progress: Show a progress bar on stderr.
        dask: Dask executor (None, ``"local"`` or a scheduler address).
        precision: Relative CI half-width to reach on the headline metrics (sequential
            stopping); None runs exactly ``replications``.
        max_replications: Cap on replications per variant when ``precision`` is set.
        reduce: Per-run reduce hook, applied in the worker (see the module docstring); it
            returns a slimmer :class:`RunResult` (e.g. its trace summarised into
            ``diagnostics`` and dropped).
        trace: Run the replications with their per-event trace (for ``reduce`` to read).
        observe: Record every replication's time series (``RunResult.timeseries``).
    """
    if not scenarios:
        raise ValueError("compare needs at least one scenario")
    base = scenarios[0]
    n = base.replications if replications is None else replications
    if precision is not None:
        n = min(n, max_replications)
    root = base.seed if seed is None else seed
    names = _names(scenarios)
    result = CompareResult(names, list(scenarios), root, {name: [] for name in names})
    done = 0
    target = n
    while True:
        tasks = [(s, rep, root) for s in scenarios for rep in range(done, target)]
        if reduce is None:
            runs = run_tasks(
                tasks, workers, dask, progress, desc=base.name, trace=trace, observe=observe
            )
        else:
            runs = run_tasks(
                tasks, workers, dask, progress, base.name, reduce=reduce, trace=trace,
                observe=observe,
            )  # fmt: skip
        per = target - done
        for i, name in enumerate(names):
            result.runs[name].extend(runs[i * per : (i + 1) * per])
        done = target
        if precision is None or done >= max_replications:
            break
        if all(_precise(result.runs[name], precision) for name in names):
            break
        target = min(max_replications, done + max(2, done // 2))
    return result


@dataclass
class SweepResult:
    """Replications at each point of a parameter grid, under common random numbers."""

    points: list[dict[str, Any]]
    scenarios: list[Scenario]
    seed: int
    runs: list[list[RunResult]]

    def to_json(self) -> dict[str, Any]:
        """The ``evsim sweep --json`` object (rows in grid order)."""
        return {
            "rows": [
                {"params": dict(p), **summary_block(r)}
                for p, r in zip(self.points, self.runs, strict=True)
            ]
        }


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The cartesian product of ``grid`` in grid order (the first path varies slowest)."""
    paths = list(grid)
    return [dict(zip(paths, values, strict=True)) for values in itertools.product(*grid.values())]


def sweep(
    scenario: Scenario,
    grid: Mapping[str, Sequence[Any]],
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = 1,
    progress: bool = False,
    dask: str | None = None,
    precision: float | None = None,
    max_replications: int = 200,
    *,
    observe: bool = False,
) -> SweepResult:
    """Run ``scenario`` at each point of ``grid`` (dotted path → values), common random numbers.

    With ``observe`` every replication records its time series.
    """
    points = grid_points(grid)
    variants = [scenario.with_updates(p) for p in points]
    res = compare(
        variants, replications, seed, workers, progress, dask, precision, max_replications,
        observe=observe,
    )
    return SweepResult(points, variants, res.seed, [res.runs[n] for n in res.names])
