"""The library commands on a small stored experiment: a mistaken option says what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nautilus_ai.experiments import load_experiment, run_experiment
from tests.fixtures.experiments import write_experiment

#: Ray / Optuna / DuckDB: the full test leg only (the core leg has no experiments extra).
pytestmark = pytest.mark.extra("experiments")


def test_best_of_a_family_the_experiment_did_not_run_names_its_families(
    tmp_path: Path, demo_catalog: Path
) -> None:
    store = tmp_path / "results"
    path = write_experiment(tmp_path / "rule.yaml", catalog=demo_catalog, store=store,
                            name="rule-only", folds=1, families=[{"family": "rule"}])  # fmt: skip
    assert run_experiment(load_experiment(path), in_process=True, write_report=False).ok

    def best(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nautilus_ai.cli", "experiment", "best", "rule-only",
             "--store", str(store), *extra],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    wrong = best("--family", "lightgbm")
    assert wrong.returncode == 2, wrong.stdout
    assert wrong.stderr.strip() == (
        "nautilus-ai: error: --family lightgbm: no such trial in experiment rule-only (its "
        "families: rule)"
    )
    right = best("--family", "rule", "--top", "1")
    assert right.returncode == 0, right.stderr
    assert right.stdout.startswith("rule-only: best 1 of 2 trials by sharpe")


def test_report_of_an_edited_file_is_refused_until_it_runs(
    tmp_path: Path, demo_catalog: Path
) -> None:
    """The report takes its windows from the file and its runs from the library: with other
    folds in the file it would label the stored runs with windows they never ran on."""
    import yaml

    store = tmp_path / "results"
    path = write_experiment(tmp_path / "edit.yaml", catalog=demo_catalog, store=store,
                            name="edited", folds=1, families=[{"family": "rule"}])  # fmt: skip
    assert run_experiment(load_experiment(path), in_process=True, write_report=False).ok

    def report() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nautilus_ai.cli", "experiment", "report", str(path)],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    unchanged = report()
    assert unchanged.returncode == 0, unchanged.stderr[-2000:]
    document = yaml.safe_load(path.read_text())
    document["walk_forward"]["test"] = "4d"
    path.write_text(yaml.safe_dump(document))
    edited = report()
    assert edited.returncode == 2, edited.stdout[-2000:]
    assert edited.stderr.strip() == (
        f"nautilus-ai: error: {path}: its folds differ from those experiment edited last ran on "
        f"in {store} (from {path}); run it first: nautilus-ai experiment run {path}"
    )
