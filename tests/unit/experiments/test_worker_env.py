"""Each local Ray worker's thread budget is its share of the cores: one thread when every core
runs a worker (the default), all of them for a single worker."""

from __future__ import annotations

import pytest

from nautilus_ai.experiments.execution import WORKER_ENV, local_worker_env


@pytest.mark.parametrize(
    ("workers", "cores", "threads"),
    [(2, 2, "1"), (1, 2, "2"), (3, 2, "1"), (4, 16, "4"), (1, 1, "1"), (0, 2, "2")],
)
def test_threads_per_worker_are_the_workers_share_of_the_cores(
    workers: int, cores: int, threads: str
) -> None:
    env = local_worker_env(workers, cores)
    assert env["OMP_NUM_THREADS"] == threads
    assert env["MALLOC_ARENA_MAX"] == WORKER_ENV["MALLOC_ARENA_MAX"] == "2"
    assert WORKER_ENV["OMP_NUM_THREADS"] == "1"  # a joined cluster's workers: one thread each
