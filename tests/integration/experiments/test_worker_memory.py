"""Many backtests in one Ray worker process do not grow its memory: RSS after 20 runs is at most
RSS after 2 runs + 50 MB (each run backtests the rule on its own fold of real bars). Before the
fix every run kept its strategy (the whole catalog's precomputed features, the decisions), about
+55 MB a run in this test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from nautilus_ai.experiments.config import parse_experiment
from nautilus_ai.experiments.execution import RaySession
from nautilus_ai.experiments.plan import RunSpec, baseline_runs
from nautilus_ai.experiments.runner import load_base_run
from nautilus_ai.experiments.tasks import run_backtest_task

#: Ray / Optuna / DuckDB: the full test leg only (the core leg has no experiments extra).
pytestmark = pytest.mark.extra("experiments")

RUNS = 20


@pytest.fixture
def ray_one_cpu() -> Any:
    """Ray as experiments start it (the workers' environment included), with one worker."""
    with RaySession(workers=1) as session:
        yield session.ray


def test_rss_after_20_runs_in_one_worker_is_within_50_mb_of_rss_after_2(
    demo_catalog: Path, tmp_path: Path, ray_one_cpu: Any
) -> None:
    experiment = parse_experiment({
        "name": "memory", "store": str(tmp_path / "results"),
        "data": {"catalog": str(demo_catalog), "instruments": ["EUR/USD.SIM"],
                 "bar_types": ["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"],
                 "start": "2017-01-02", "end": "2017-04-01"},
        "walk_forward": {"train": "3d", "validation": "1d", "test": "3d", "max_folds": RUNS},
        "families": [{"family": "rule"}],
    })  # fmt: skip
    base = load_base_run("demo")
    runs = baseline_runs(experiment, base, {experiment.markets[0].bar_type: "d"}, "c")
    assert len(runs) == RUNS

    def backtest_and_measure(spec: RunSpec) -> tuple[int, int, str, int]:
        """In the worker (a local function: shipped by value): one run, then (pid, RSS,
        status, trades)."""
        results = run_backtest_task(spec, None)
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        rss = pages * os.sysconf("SC_PAGE_SIZE")
        return os.getpid(), rss, results[0].status, int(results[0].figures.get("trades", 0))

    remote = ray_one_cpu.remote(num_cpus=1, max_retries=0)(backtest_and_measure)
    measured = [ray_one_cpu.get(remote.remote(spec), timeout=300) for spec in runs]
    pids = {pid for pid, _, _, _ in measured}
    assert len(pids) == 1  # one worker process ran them all
    assert all(status == "ok" for _, _, status, _ in measured)
    assert sum(trades for _, _, _, trades in measured) > 100  # real runs, not empty ones
    rss = [r for _, r, _, _ in measured]
    growth = (rss[RUNS - 1] - rss[1]) / 1e6
    assert growth <= 50.0, f"RSS grew {growth:.1f} MB from run 2 to run {RUNS}: {rss}"


def test_a_single_local_worker_gets_the_machines_threads(ray_one_cpu: Any) -> None:
    def environment() -> tuple[str, str]:
        return os.environ.get("OMP_NUM_THREADS", ""), os.environ.get("MALLOC_ARENA_MAX", "")

    remote = ray_one_cpu.remote(num_cpus=1, max_retries=0)(environment)
    assert ray_one_cpu.get(remote.remote(), timeout=120) == (str(os.cpu_count() or 1), "2")
