"""The driver's own deadline: a task that never returns (here: never scheduled, on a Ray whose
nodes have no CPU, as a head started with ``--num-cpus 0`` before any worker joins) is cancelled
after ``execution.run_timeout_s`` (x attempts, plus start-up), reported as failed naming the key,
and the experiment ends. Before, ``ray.wait`` was asked again every 5 s without end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from nautilus_ai.experiments import load_experiment, run_experiment
from nautilus_ai.experiments.execution import driver_deadline_s
from tests.fixtures.experiments import write_experiment

#: Ray / Optuna / DuckDB: the full test leg only (the core leg has no experiments extra).
pytestmark = pytest.mark.extra("experiments")


@pytest.fixture
def ray_without_cpus() -> Iterator[Any]:
    import ray

    ray.init(address="local", num_cpus=0, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def test_a_run_that_never_returns_fails_after_its_deadline(
    tmp_path: Path, demo_catalog: Path, ray_without_cpus: Any
) -> None:
    store = tmp_path / "results"
    path = write_experiment(tmp_path / "hang.yaml", catalog=demo_catalog, store=store,
                            name="hang", folds=1, families=[{"family": "rule"}],
                            stops=[2.0])  # fmt: skip
    document = yaml.safe_load(path.read_text())
    document["execution"] = {"run_timeout_s": 1.0, "retries": 0}
    path.write_text(yaml.safe_dump(document))
    assert driver_deadline_s(1.0, 0) == 2.0
    started = time.monotonic()
    outcome = run_experiment(load_experiment(path), write_report=False, progress=lambda _: None)
    assert time.monotonic() - started < 60
    stats = outcome.stats
    assert (stats.planned, stats.ran, stats.failed) == (2, 0, 2)
    reasons = dict(stats.failures)
    assert reasons["fold 0 baseline-rule"].startswith(
        "the run did not return within 2 s of being started (execution.run_timeout_s = 1 s per "
        "attempt, 1 attempt(s), plus start-up)"
    )
    assert reasons["fold 0 rule#00"].startswith(
        "its model could not be built: its model build did not return within 2 s"
    )
    assert len(list((store / "failures").rglob("*.json"))) == 2
    assert not list((store / "runs").rglob("*.parquet"))  # nothing counted as done
