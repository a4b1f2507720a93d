"""Optuna search over ranges (seeded TPE, ask-and-tell): the trials stay inside their ranges, a
re-run proposes the same trials and finds every run stored."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest
import yaml

from nautilus_ai.experiments import load_experiment, run_experiment
from tests.fixtures.experiments import write_experiment

#: Ray / Optuna / DuckDB: the full test leg only (the core leg has no experiments extra).
pytestmark = pytest.mark.extra("experiments")


def test_an_optuna_search_samples_the_ranges_and_resumes_to_the_same_trials(
    tmp_path: Path, demo_catalog: Path
) -> None:
    path = write_experiment(
        tmp_path / "optuna.yaml", catalog=demo_catalog, store=tmp_path / "results",
        name="optuna", families=[{"family": "lightgbm", "params": {
            "num_leaves": {"low": 4, "high": 16},
            "learning_rate": {"low": 0.02, "high": 0.2, "log": True},
            "max_iterations": [40]}}],
    )  # fmt: skip
    document = yaml.safe_load(path.read_text())
    document["strategy"]["stop_loss_atr"] = {"low": 1.5, "high": 4.0}
    document["search"] = {"method": "optuna", "trials": 3, "seed": 3}
    path.write_text(yaml.safe_dump(document))
    experiment = load_experiment(path)

    first = run_experiment(experiment, in_process=True, write_report=False, progress=print)
    assert first.ok and first.trials == 3 and first.stats.ran == 3 * 2 + 2
    trials = first.analysis.trials
    assert len(trials) == 3
    for t in trials:
        assert isinstance(t.model_params["num_leaves"], int)
        assert 4 <= t.model_params["num_leaves"] <= 16
        assert 0.02 <= t.model_params["learning_rate"] <= 0.2
        assert 1.5 <= t.strategy_params["stop_loss_atr"] <= 4.0
    assert len({(t.model_params["num_leaves"], t.strategy_params["stop_loss_atr"])
                for t in trials}) == 3  # fmt: skip

    again = run_experiment(experiment, in_process=True, write_report=False, progress=print)
    assert again.stats.ran == 0 and again.stats.skipped == 3 * 2 + 2
    assert {t.trial_id for t in again.analysis.trials} == {t.trial_id for t in trials}


def test_a_trial_proposed_twice_is_planned_and_counted_once(
    tmp_path: Path, demo_catalog: Path
) -> None:
    """Three trials over two values: Optuna proposes one twice; those are the same runs, which
    the plan, the library commands and the stitched result count once."""
    path = write_experiment(tmp_path / "twice.yaml", catalog=demo_catalog,
                            store=tmp_path / "results", name="twice", folds=1,
                            families=[{"family": "rule"}])  # fmt: skip
    document = yaml.safe_load(path.read_text())
    document["strategy"]["stop_loss_atr"] = {"low": 2.0, "high": 2.5, "step": 0.5}
    document["search"] = {"method": "optuna", "trials": 3, "seed": 3}
    path.write_text(yaml.safe_dump(document))
    outcome = run_experiment(load_experiment(path), in_process=True, write_report=False)
    assert outcome.ok and outcome.runs == 3  # two distinct trials' runs and the baseline's
    runs = ds.dataset(tmp_path / "results" / "runs" / "twice").to_table().to_pylist()
    stored = {r["trial_id"]: r for r in runs if r["role"] == "trial"}
    assert len(outcome.analysis.trials) == len(stored) == 2
    for trial in outcome.analysis.trials:
        assert trial.trades == stored[trial.trial_id]["trades"]
        assert trial.pnl.mean == stored[trial.trial_id]["pnl"]
    manifest = outcome.store.manifest("twice")
    assert len(manifest["runs"]) == len(set(manifest["runs"])) == 3


def test_a_log_range_of_integers_samples_integers() -> None:
    """``{low: 4, high: 64, log: true}`` for an integer setting: Optuna's log-int sampler, not
    floats that fail every run of the trial."""
    import optuna

    from nautilus_ai.experiments.config import ParamRange
    from nautilus_ai.experiments.search import suggest

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    values = [suggest(study.ask(), "num_leaves", ParamRange(low=4, high=64, log=True))
              for _ in range(20)]  # fmt: skip
    assert all(type(v) is int and 4 <= v <= 64 for v in values), values


def test_the_trials_do_not_depend_on_the_cores_it_runs_on(
    tmp_path: Path, demo_catalog: Path
) -> None:
    """Optuna was asked for as many trials at once as Ray had CPUs: past TPE's 10 random
    start-up trials, a trial is proposed from the results told before it, so the same file
    planned other trials in process (1 at a time) than on 2 cores (the 12th trial differed), and
    a resume with other --workers left the stored runs unused. The batch is the file's
    (search.batch), whatever the cores: the same file resumed on Ray with 2 workers proposes
    the trials it ran in process and finds every run stored (the values told come from the
    stored runs, the ones a fresh run computes: the backtests are deterministic)."""
    path = write_experiment(tmp_path / "cores.yaml", catalog=demo_catalog,
                            store=tmp_path / "results", name="cores", folds=1,
                            families=[{"family": "rule"}])  # fmt: skip
    document = yaml.safe_load(path.read_text())
    document["strategy"]["stop_loss_atr"] = {"low": 1.0, "high": 5.0}
    document["search"] = {"method": "optuna", "trials": 12, "seed": 5}
    path.write_text(yaml.safe_dump(document))
    results = {}
    for how in ("in-process", "ray"):
        outcome = run_experiment(load_experiment(path), in_process=how == "in-process",
                                 workers=None if how == "in-process" else 2,
                                 write_report=False, progress=lambda _: None)  # fmt: skip
        assert outcome.ok
        assert outcome.stats.ran == (13 if how == "in-process" else 0)  # 12 trials + baseline
        results[how] = sorted(
            (t.trial_id, t.strategy_params["stop_loss_atr"]) for t in outcome.analysis.trials
        )
    assert "Ray (2 CPUs" in outcome.backend
    assert len(results["ray"]) == 12
    assert results["ray"] == results["in-process"]
