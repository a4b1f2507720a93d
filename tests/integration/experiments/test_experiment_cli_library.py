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


def test_a_second_file_with_the_same_name_is_refused_before_it_replaces_the_manifest(
    tmp_path: Path, demo_catalog: Path
) -> None:
    """Two files, one ``name:``, one store: the second replaced the first's manifest and report
    without a word (its runs stayed, but `show` / `best` / `report` read the second's plan)."""
    from nautilus_ai.experiments import ExperimentConfigError
    from nautilus_ai.experiments.store import ResultsStore

    store = tmp_path / "results"
    first = write_experiment(tmp_path / "one.yaml", catalog=demo_catalog, store=store,
                             name="shared", folds=1, families=[{"family": "rule"}])  # fmt: skip
    assert run_experiment(load_experiment(first), in_process=True, write_report=False).ok
    manifest = (store / "experiments" / "shared" / "experiment.json").read_bytes()
    second = write_experiment(tmp_path / "two.yaml", catalog=demo_catalog, store=store,
                              name="shared", folds=2, families=[{"family": "rule"}])  # fmt: skip
    with pytest.raises(ExperimentConfigError) as refused:
        run_experiment(load_experiment(second), in_process=True, write_report=False)
    assert str(refused.value) == (
        f"{second}: experiment 'shared' in {store} was run from another file, "
        f"{first.resolve()}; running this one would replace its manifest and report: give this "
        "file another name: (or store:)"
    )
    assert (store / "experiments" / "shared" / "experiment.json").read_bytes() == manifest
    assert ResultsStore(store).manifest("shared")["file"] == str(first.resolve())  # type: ignore[index]
