"""Tests for :mod:`sim.experiment`: executors, common random numbers and sequential stopping.

Scenarios are small (a few hundred simulated seconds, a few hundred messages) so that every
test runs in well under a second, except the Dask part of the executor test (a LocalCluster
starts in a few seconds).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sim.analysis.metrics import METRICS, RunResult, ci_stats
from sim.config import Scenario, scenario_from_dict
from sim.experiment import (
    HEADLINE_METRICS,
    compare,
    paired_differences,
    run_replications,
    run_tasks,
    sweep,
)


def pipeline(
    name: str = "base",
    *,
    seed: int = 11,
    replications: int = 4,
    duration_s: float = 200.0,
    drain_s: float = 300.0,
    rate_per_s: float = 2.0,
    mean_s: float = 0.2,
    error_rate: float = 0.0,
    poison_rate: float = 0.0,
    batch_size: int = 1,
    max_concurrency: int = 4,
    max_receive_count: int = 3,
    duration: Any = None,
) -> dict[str, Any]:
    """Producer → queue ``q`` (→ DLQ ``dlq``) → function ``fn``, zero AWS overheads.

    The function's duration is exponential with mean ``mean_s`` unless ``duration`` is given.
    """
    return {
        "name": name,
        "seed": seed,
        "duration_s": duration_s,
        "drain_s": drain_s,
        "replications": replications,
        "components": {
            "prod": {"type": "producer", "rate_per_s": rate_per_s, "send_to": ["q"]},
            "q": {
                "type": "sqs_queue",
                "visibility_timeout_s": 10,
                "dead_letter": {"target": "dlq", "max_receive_count": max_receive_count},
            },
            "dlq": {"type": "sqs_queue"},
            "fn": {
                "type": "lambda_function",
                "trigger": {
                    "source": "q",
                    "batch_size": batch_size,
                    "max_concurrency": max_concurrency,
                },
                "duration_s": ({"exponential": {"mean": mean_s}} if duration is None else duration),
                "timeout_s": 5,
                "cold_start": {"duration_s": 0},
                "errors": {"rate": error_rate, "poison_rate": poison_rate},
            },
        },
    }


def scen(**kw: Any) -> Scenario:
    return scenario_from_dict(copy.deepcopy(pipeline(**kw)))


def column(runs: list[RunResult], metric: str) -> list[Any]:
    return [r.metrics[metric] for r in runs]


# --- executors ---------------------------------------------------------------------------


def _key(r: RunResult) -> tuple[Any, ...]:
    return (r.scenario, r.rep, r.seed, r.metrics, r.sinks)


def test_serial_processes_and_dask_give_identical_results_in_task_order() -> None:
    a = scen(name="a", error_rate=0.1, duration_s=60, drain_s=60)
    b = scen(name="b", error_rate=0.3, batch_size=3, duration_s=60, drain_s=60)
    reps = 3
    tasks = [(s, rep, 5) for s in (a, b) for rep in range(reps)]

    serial = run_tasks(tasks, workers=1)
    procs = run_tasks(tasks, workers=2)

    # ordered by (scenario, replication), whatever the executor
    expected_order = [(s.name, rep) for s, rep, _ in tasks]
    assert [(r.scenario, r.rep) for r in serial] == expected_order
    assert [(r.scenario, r.rep) for r in procs] == expected_order
    # the variants differ (so that equality below is not trivially true)
    assert serial[0].metrics != serial[reps].metrics
    assert [_key(r) for r in procs] == [_key(r) for r in serial]

    # compare groups the flat task list per variant; on Dask too
    for kw in ({"workers": 2}, {"dask": "local", "workers": 2}):
        res = compare([a, b], replications=reps, seed=5, **kw)  # type: ignore[arg-type]
        assert res.names == ["a", "b"]
        for name in res.names:
            assert [r.rep for r in res.runs[name]] == list(range(reps)), kw
            assert {r.scenario for r in res.runs[name]} == {name}, kw
        flat = [r for name in res.names for r in res.runs[name]]
        assert [_key(r) for r in flat] == [_key(r) for r in serial], kw


# --- common random numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"error_rate": 0.1},  # most metrics have a value
        {"poison_rate": 1.0},  # nothing delivered: latencies are null
    ],
)
def test_a_scenario_compared_with_itself_differs_by_exactly_zero(kw: dict[str, Any]) -> None:
    s = scen(**kw)
    res = compare([s, s], replications=4)
    assert res.names == ["base", "base#2"]
    diffs = res.differences()
    assert list(diffs) == ["base#2"]
    d = diffs["base#2"]
    assert list(d) == list(METRICS)
    base = res.runs["base"]
    n_null = 0
    for name in METRICS:
        if all(r.metrics[name] is None for r in base):
            n_null += 1
            assert d[name] == {"mean": None, "ci_low": None, "ci_high": None}, name
        else:
            assert d[name] == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}, name
    if kw.get("poison_rate") == 1.0:
        assert n_null >= 5  # the latencies
        assert column(base, "delivered") == [0, 0, 0, 0]
    else:
        assert n_null == 0


def test_repeated_names_get_numbered_suffixes() -> None:
    s = scen(duration_s=20, drain_s=20)
    other = scen(name="other", duration_s=20, drain_s=20)
    res = compare([s, other, s, s], replications=1)
    assert res.names == ["base", "other", "base#2", "base#3"]
    assert list(res.to_json()["variants"]) == res.names
    assert list(res.to_json()["differences"]) == res.names[1:]


@pytest.mark.parametrize(
    "change",
    [
        {"mean_s": 1.0},
        {"error_rate": 0.3},
        {"batch_size": 5},
        {"max_concurrency": 2, "mean_s": 0.6},
    ],
    ids=["duration", "errors", "batch_size", "concurrency"],
)
def test_changing_only_the_consumer_keeps_the_workload(change: dict[str, Any]) -> None:
    base = scen(name="base", poison_rate=0.05)
    variant = scen(name="variant", poison_rate=0.05, **change)
    res = compare([base, variant], replications=5)
    produced = column(res.runs["base"], "messages_produced")
    assert column(res.runs["variant"], "messages_produced") == produced
    assert len(set(produced)) > 1  # replications do differ from each other
    diff = res.differences()["variant"]["messages_produced"]
    assert diff == {"mean": 0.0, "ci_low": 0.0, "ci_high": 0.0}


def test_same_poison_messages_in_variants_that_differ_only_in_duration() -> None:
    # errors.rate 0: a message is dead-lettered iff it is poison, so the counts must match
    runs = compare(
        [scen(name=f"d{m}", poison_rate=0.05, mean_s=m) for m in (0.1, 0.5, 1.5)],
        replications=5,
    ).runs
    dl = column(runs["d0.1"], "dead_lettered")
    assert all(x > 0 for x in dl)
    assert column(runs["d0.5"], "dead_lettered") == dl
    assert column(runs["d1.5"], "dead_lettered") == dl
    # and no message is left in flight that could hide a difference
    for rs in runs.values():
        assert column(rs, "in_flight") == [0] * 5
    # latency does change: the variants really ran differently
    assert column(runs["d0.1"], "latency_mean_s") != column(runs["d1.5"], "latency_mean_s")


def test_poison_messages_are_dead_lettered_whatever_max_receive_count() -> None:
    runs = compare(
        [scen(name=f"k{k}", poison_rate=0.05, max_receive_count=k) for k in (1, 2, 5)],
        replications=4,
    ).runs
    dl = column(runs["k1"], "dead_lettered")
    assert column(runs["k2"], "dead_lettered") == dl
    assert column(runs["k5"], "dead_lettered") == dl
    assert column(runs["k1"], "attempts") != column(runs["k5"], "attempts")


def test_a_different_root_seed_changes_the_workload() -> None:
    s = scen()
    one = run_replications(s, replications=4, seed=1)
    two = run_replications(s, replications=4, seed=2)
    again = run_replications(s, replications=4, seed=1)
    assert column(one, "messages_produced") != column(two, "messages_produced")
    assert [r.metrics for r in again] == [r.metrics for r in one]
    assert [r.seed for r in one] == [1] * 4


def test_a_variants_results_do_not_depend_on_the_other_variants() -> None:
    s = scen(error_rate=0.1)
    alone = run_replications(s, replications=3)
    with_others = compare([scen(name="x", mean_s=1.0), s], replications=3).runs["base"]
    assert [r.metrics for r in with_others] == [r.metrics for r in alone]


def test_paired_differences_are_variant_minus_baseline_by_replication() -> None:
    res = compare([scen(name="lo"), scen(name="slow", mean_s=1.0)], replications=4)
    lo, slow = res.runs["lo"], res.runs["slow"]
    d = res.differences()["slow"]["latency_mean_s"]
    per_rep = [b.metrics["latency_mean_s"] - a.metrics["latency_mean_s"] for a, b in zip(
        lo, slow, strict=True)]  # fmt: skip
    s = ci_stats(per_rep)
    assert d == {"mean": s["mean"], "ci_low": s["ci_low"], "ci_high": s["ci_high"]}
    assert d["mean"] is not None and d["mean"] > 0
    # pairing is by replication index, not by position
    shuffled = paired_differences(list(reversed(lo)), slow)["latency_mean_s"]
    assert shuffled == d


def test_sweep_points_are_in_grid_order_with_common_random_numbers() -> None:
    s = scen(poison_rate=0.05)
    res = sweep(
        s,
        {"components.fn.errors.rate": [0.0, 0.2], "components.fn.trigger.batch_size": [1, 4]},
        replications=3,
    )
    assert res.points == [
        {"components.fn.errors.rate": 0.0, "components.fn.trigger.batch_size": 1},
        {"components.fn.errors.rate": 0.0, "components.fn.trigger.batch_size": 4},
        {"components.fn.errors.rate": 0.2, "components.fn.trigger.batch_size": 1},
        {"components.fn.errors.rate": 0.2, "components.fn.trigger.batch_size": 4},
    ]
    for p, sc in zip(res.points, res.scenarios, strict=True):
        fn = sc.components["fn"]
        assert fn.errors.rate == p["components.fn.errors.rate"]  # type: ignore[union-attr]
        assert fn.trigger.batch_size == p["components.fn.trigger.batch_size"]  # type: ignore[union-attr]
    produced = [column(rs, "messages_produced") for rs in res.runs]
    assert all(p == produced[0] for p in produced)
    rows = res.to_json()["rows"]
    assert [r["params"] for r in rows] == res.points


# --- sequential stopping -----------------------------------------------------------------


def _rounds(initial: int, cap: int) -> list[int]:
    """Replication counts after each round: n, then + max(2, n // 2), capped."""
    out = [initial]
    while out[-1] < cap:
        out.append(min(cap, out[-1] + max(2, out[-1] // 2)))
    return out


def _half_width_ok(runs: list[RunResult], precision: float) -> bool:
    for name in HEADLINE_METRICS:
        s = ci_stats([r.metrics.get(name) for r in runs])
        if s["mean"] is None:
            continue
        if s["ci_low"] is None or s["ci_high"] is None:
            return False
        if (s["ci_high"] - s["ci_low"]) / 2 > precision * abs(s["mean"]):
            return False
    return True


#: Noisy enough that 3 replications are not precise to 5%, quiet enough to get there by 60.
NOISY = {"duration_s": 100.0, "drain_s": 100.0, "error_rate": 0.05, "mean_s": 0.5}


@pytest.mark.parametrize(
    ("precision", "cap", "stops_early"),
    [(0.05, 60, True), (1e-6, 8, False)],
    ids=["reaches-precision", "hits-cap"],
)
def test_sequential_stopping_stops_at_the_first_precise_round_or_the_cap(
    precision: float, cap: int, stops_early: bool
) -> None:
    s = scen(**NOISY)
    runs = run_replications(s, replications=3, precision=precision, max_replications=cap)
    n = len(runs)
    assert [r.rep for r in runs] == list(range(n))
    rounds = _rounds(3, cap)
    assert n in rounds
    assert n <= cap
    # no earlier round was precise enough (else the loop should have stopped there)
    for k in rounds[: rounds.index(n)]:
        assert not _half_width_ok(runs[:k], precision), k
    if stops_early:
        assert n < cap
        assert n > 3  # the initial replications were not enough: the loop added some
        assert _half_width_ok(runs, precision)
    else:
        assert n == cap
        assert not _half_width_ok(runs, precision)
    # the replications added later are the same as a plain run of that many
    assert [r.metrics for r in runs] == [r.metrics for r in run_replications(s, n)]


def test_sequential_stopping_waits_for_every_variant() -> None:
    # constant durations, no errors, little queueing: precise from the first round
    quiet = scen(name="quiet", **{**NOISY, "error_rate": 0.0}, duration=0.05)
    noisy = scen(name="noisy", **NOISY)
    precision, cap = 0.05, 60
    alone = run_replications(quiet, replications=3, precision=precision, max_replications=cap)
    assert len(alone) == 3
    res = compare([quiet, noisy], replications=3, precision=precision, max_replications=cap)
    n = len(res.runs["quiet"])
    assert len(res.runs["noisy"]) == n
    assert 3 < n < cap  # the noisy variant kept the quiet one going
    assert _half_width_ok(res.runs["quiet"], precision)
    assert _half_width_ok(res.runs["noisy"], precision)
    for k in _rounds(3, cap)[: _rounds(3, cap).index(n)]:
        assert not _half_width_ok(res.runs["noisy"][:k], precision), k


def test_without_precision_exactly_the_requested_replications_run() -> None:
    s = scen(duration_s=20, drain_s=20)
    assert len(run_replications(s, replications=2, max_replications=1)) == 2
    assert len(run_replications(s)) == s.replications


def test_max_replications_caps_the_initial_replications_too() -> None:
    s = scen(duration_s=20, drain_s=20)
    runs = run_replications(s, replications=10, precision=0.05, max_replications=6)
    assert len(runs) <= 6
