"""A ``{signal_rate}`` threshold that the validation window cannot give (no warm bar there, or
no buy / sell call): the trial's runs fail naming the fold, the rate and the window."""

from __future__ import annotations

from pathlib import Path

import pytest

from nautilus_ai.experiments import load_experiment, run_experiment
from tests.fixtures.experiments import write_experiment

#: Ray / Optuna / DuckDB: the full test leg only (the core leg has no experiments extra).
pytestmark = pytest.mark.extra("experiments")


def test_a_validation_window_without_bars_fails_its_signal_rate_runs_naming_the_window(
    tmp_path: Path, demo_catalog: Path
) -> None:
    # train Tue 3 .. Sat 7 January 2017, validation Saturday 7 (no bars), test Sunday 8.
    path = write_experiment(
        tmp_path / "weekend.yaml", catalog=demo_catalog, store=tmp_path / "results",
        name="weekend", folds=1, families=[{"family": "rule"}], start="2017-01-03",
        end="2017-01-09", train="4d", validation="1d", test="1d",
    )  # fmt: skip
    outcome = run_experiment(
        load_experiment(path), in_process=True, write_report=False, progress=print
    )
    assert not outcome.ok and outcome.stats.failed == 2  # the two stop distances
    for _, reason in outcome.stats.failures:
        assert (
            "fold 0: no min_confidence below 1 gives signal_rate 0.03 on the validation "
            "window [2017-01-07T00:00:00Z, 2017-01-08T00:00:00Z)" in reason
        ), reason
        assert "SizingConfig" not in reason


def test_a_fold_window_before_the_catalogs_first_bar_is_refused_before_any_run(
    tmp_path: Path, demo_catalog: Path
) -> None:
    # data.start months before the catalog's first bar (2 January 2017): the first fold's
    # windows hold nothing; each of its runs used to fail on its own, after Ray had started.
    from nautilus_ai.experiments import ExperimentConfigError

    path = write_experiment(
        tmp_path / "early.yaml", catalog=demo_catalog, store=tmp_path / "results",
        name="early", folds=2, families=[{"family": "rule"}], start="2016-12-01",
        end="2017-02-01", train="10d", validation="3d", test="3d",
    )  # fmt: skip
    with pytest.raises(ExperimentConfigError) as refused:
        run_experiment(load_experiment(path), in_process=True, write_report=False)
    assert "walk_forward: fold 1's train window ([2016-12-01T00:00:00Z, " in str(refused.value)
    assert "is outside the catalog's EUR/USD.SIM-1-MINUTE-BID-EXTERNAL bars" in str(refused.value)
    assert not (tmp_path / "results" / "runs").exists()  # nothing ran, nothing stored
