"""The experiment file is strict: every mistake is one line naming the file and the key path."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from nautilus_ai.datasets import Window
from nautilus_ai.experiments.config import (
    ExperimentConfigError,
    ParamRange,
    load_experiment,
    parse_duration,
    parse_experiment,
)
from nautilus_ai.paths import repo_root

BASE: dict[str, Any] = {
    "name": "unit",
    "data": {
        "catalog": "catalogs/demo",
        "instruments": ["EUR/USD.SIM"],
        "bar_types": ["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"],
        "start": "2017-01-02",
        "end": "2017-07-01",
    },
    "walk_forward": {"train": "8w", "validation": "2w", "test": "2w", "max_folds": 3},
    "families": [
        {"family": "lightgbm", "params": {"num_leaves": [7, 15]}},
        {"family": "rule"},
    ],
    "strategy": {"min_confidence": [{"signal_rate": 0.03}, 0.6], "stop_loss_atr": [2.0, 3.0]},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    target: Any = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target.setdefault(key, {})
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return data


def test_the_packaged_demo_experiment_loads_with_its_folds() -> None:
    experiment = load_experiment(repo_root() / "backtests" / "experiment_demo.yaml")
    assert experiment.name == "demo-walk-forward"
    assert [f.family for f in experiment.families] == ["lightgbm", "pattern_memory", "rule"]
    assert len(experiment.folds) == 3
    first, last = experiment.folds[0], experiment.folds[-1]
    assert first.train == Window.parse("2017-01-30", "2017-03-27")
    assert first.validation == Window.parse("2017-03-27", "2017-04-10")
    assert first.test == Window.parse("2017-04-10", "2017-04-24")
    assert last.test == Window.parse("2017-05-08", "2017-05-22")  # tests tile: step = test
    assert experiment.embargo_bars == experiment.label.horizon == 30
    assert experiment.strategy_space["min_confidence"] == [{"signal_rate": 0.03}]
    walk = load_experiment(repo_root() / "backtests" / "experiment_walk_forward.yaml")
    assert len(walk.folds) == 6 and [f.family for f in walk.families] == ["mlp", "lightgbm"]


def test_a_valid_mapping_resolves_spaces_and_defaults() -> None:
    experiment = parse_experiment(BASE)
    assert experiment.families[0].space == {"num_leaves": [7, 15]}
    assert experiment.strategy_space["min_confidence"] == [{"signal_rate": 0.03}, 0.6]
    assert experiment.seeds == (7,) and experiment.retries == 1
    assert experiment.costs.commission == {"bps": 0.2, "minimum": "2.00 USD"}
    assert experiment.search.method == "grid"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("famillies", [], r"famillies: unknown key.*did you mean 'families'"),
        ("families.0.params.num_leaves", [1, 15],
         r"families\[0\]\.params\.num_leaves\[0\]: .*greater than or equal to 2.*received 1"),
        ("families.0.params.numleaves", [7], r"families\[0\]\.params\.numleaves: unknown lightgbm "
         r"parameter; did you mean 'num_leaves'"),
        ("families.0.params.seed", [1], r"families\[0\]\.params\.seed: cannot be searched: set "
         r"the seeds in `seeds`"),
        ("families.0.params.num_leaves", [7, 7], r"num_leaves: lists a candidate twice"),
        ("families.0.params.num_leaves", {"low": 2, "high": 9},
         r"families\[0\]\.params\.num_leaves: a \{low, high\} range needs search.method optuna"),
        ("families.1.family", "lightgbm", r"families\[1\]\.family: listed twice"),
        ("families.1.family", "xgboost", r"families\[1\]\.family: .*'xgboost'"),
        ("strategy.stop_loss_atr", [0.0], r"strategy\.stop_loss_atr\[0\]: must be > 0"),
        ("strategy.min_confidence", [{"signal_rate": 0.0}],
         r"strategy\.min_confidence\[0\]\.signal_rate: must be > 0"),
        ("strategy.min_confidence", [1.5], r"strategy\.min_confidence\[0\]: must be < 1"),
        ("strategy.sizing", [{"base_fraction": 0.5, "lot_stepp": 1}],
         r"strategy\.sizing\[0\]\.lot_stepp: unknown key.*did you mean 'lot_step'"),
        ("strategy.stop_loss", [2.0], r"strategy\.stop_loss: unknown key.*'stop_loss_atr'"),
        ("walk_forward.train", "8x", r"walk_forward\.train: expected a duration like '8w'"),
        ("walk_forward.test", 0, r"walk_forward\.test: must be a positive duration"),
        ("walk_forward.embargo_bars", 5, r"walk_forward\.embargo_bars: must be >= the label "
         r"horizon \(30 bars\)"),
        ("walk_forward.train", "30w", r"walk_forward: no fold fits"),
        ("walk_forward.step", "1w", r"walk_forward\.step: must be >= walk_forward\.test \(2w\).*"
         r"overlap"),
        ("data.bar_types", ["GBP/USD.SIM-1-MINUTE-BID-EXTERNAL"],
         r"data\.bar_types\[0\]: is not a bar type of EUR/USD\.SIM"),
        ("data.end", "2016-12-01", r"data\.end: must be after data\.start"),
        ("data", {**BASE["data"], "instruments": ["EUR/USD.SIM"] * 2,  # type: ignore[dict-item]
                  "bar_types": ["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"] * 2},
         r"data\.instruments\[1\]: listed twice \(also data\.instruments\[0\]\)"),
        ("data.start", "Jan 2nd", r"data\.start: not an ISO date"),
        ("data.catalog", KeyError, r"data\.catalog: missing required key"),
        ("seeds", [7, 7], r"seeds: lists a seed twice"),
        ("seeds", [-1], r"seeds\[0\]: must be >= 0"),
        ("search", {"method": "optuna"}, r"search\.trials: optuna needs a number of trials"),
        ("search", {"method": "grid", "trials": 4}, r"search\.trials: only for method optuna"),
        ("costs.commission.bps", -1, r"costs\.commission\.bps: must be >= 0"),
        # accepted by the file check, refused by the venue's fee / fill model in every run
        # (after each fold's model was trained), or never charged without a word
        ("costs.commission.bps", 100, r"costs\.commission\.bps: must be < 100"),
        ("costs.fills.depth_ticks", 0, r"costs\.fills\.depth_ticks: must be >= 1"),
        ("costs.commission.minimum", "two USD",
         r"costs\.commission\.minimum: expected an amount and a currency like '2\.00 USD'"),
        ("costs.commission.minimum", "2.00 EUR",
         r"costs\.commission\.minimum: is in EUR, but EUR/USD\.SIM is quoted in USD"),
        ("execution.retries", 9, r"execution\.retries: must be <= 3"),
        ("execution.max_runs", 0, r"execution\.max_runs: must be >= 1"),
        ("report", {"trades_window": ["2017-04-12", "2017-04-11"]},
         r"report\.trades_window\[1\]: must be after 2017-04-12"),
        ("report", {"trades_window": ["2018-01-02", "2018-01-03"]},
         r"report\.trades_window: outside every fold's test window"),
    ],
)  # fmt: skip
def test_each_mistake_names_its_key_path(path: str, value: Any, message: str) -> None:
    with pytest.raises(ExperimentConfigError, match=message) as caught:
        parse_experiment(_with(path, value), Path("exp.yaml"))
    text = str(caught.value)
    assert text.startswith("exp.yaml: ") and "\n" not in text


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("strategy.stop_loss_atr", {"low": 1.0, "high": 3.0, "log": True, "step": 0.5},
         r"strategy\.stop_loss_atr: a log range takes no step \(received 0\.5\)"),
        ("strategy.max_holding_bars", {"low": 10, "high": 20, "step": 0.5},
         r"strategy\.max_holding_bars\.step: expected an integer \(received 0\.5\)"),
        ("families.0.params.num_leaves", {"low": 4, "high": 16, "step": 1.5},
         r"families\[0\]\.params\.num_leaves\.step: .*integer.*\(received 1\.5\)"),
    ],
)  # fmt: skip
def test_a_range_that_would_sample_invalid_values_is_refused(
    path: str, value: Any, message: str
) -> None:
    document = _with(path, value)
    document["search"] = {"method": "optuna", "trials": 4}
    with pytest.raises(ExperimentConfigError, match=message):
        parse_experiment(document, Path("exp.yaml"))


@pytest.mark.parametrize(
    ("base_run", "message"),
    [
        ("demoo", r"^exp\.yaml: base_run: no packaged run file 'demoo'"),
        ("missing.yaml", r"^exp\.yaml: base_run: .*missing\.yaml"),
    ],
)
def test_a_bad_base_run_names_the_experiment_file(base_run: str, message: str) -> None:
    from nautilus_ai.experiments import run_experiment

    experiment = parse_experiment(_with("base_run", base_run), Path("exp.yaml"))
    with pytest.raises(ExperimentConfigError, match=message):
        run_experiment(experiment, in_process=True, write_report=False)


def test_a_base_run_with_a_control_schedule_is_refused_naming_the_key(tmp_path: Path) -> None:
    # Schedule entries are absolute times and each fold runs its own test window: a pause due
    # before a later fold's window applied at its first bar (the fold flat, 0 trades, 'ok'),
    # and a command after a fold's window failed every run of that fold
    run = yaml.safe_load((repo_root() / "backtests" / "demo.yaml").read_text())
    run["run"]["engine"]["controller"] = {
        "controller_path": "nautilus_ai.strategies.controller:RemoteController",
        "config_path": "nautilus_ai.strategies.controller:RemoteControllerConfig",
        "config": {"schedule": [{"at": "2017-01-16T10:00:00Z", "type": "pause",
                                 "strategy_id": "AIPatternStrategy-000"}]},
    }  # fmt: skip
    base = tmp_path / "scheduled.yaml"
    base.write_text(yaml.safe_dump(run, sort_keys=False))
    from nautilus_ai.experiments import run_experiment

    experiment = parse_experiment(_with("base_run", str(base)), Path("exp.yaml"))
    with pytest.raises(ExperimentConfigError) as caught:
        run_experiment(experiment, in_process=True, write_report=False)
    message = str(caught.value)
    assert message.startswith(
        f"exp.yaml: base_run {base}: run.engine.controller.config.schedule has 1 command(s) "
        "at absolute times"
    )
    assert "\n" not in message


@pytest.mark.parametrize("search", [None, {"method": "optuna", "trials": 5}])
def test_an_experiment_planning_more_runs_than_max_runs_is_refused_before_it_runs(
    search: dict[str, Any] | None,
) -> None:
    """A stray candidate list multiplied the grid: 60 x 100 x 100 values planned 1.2 million
    runs (minutes of planning, gigabytes of specs, after Ray had started) with no word. The
    file check counts the runs the planner makes (without enumerating them) and refuses more
    than ``execution.max_runs`` in one line."""
    from nautilus_ai.experiments.plan import baseline_runs, grid_trials, runs_for_trials

    document = _with("seeds", [7, 8])
    if search is not None:
        document["search"] = search
    experiment = parse_experiment(document, Path("exp.yaml"))
    if search is None:
        data = {m.bar_type: "data" for m in experiment.markets}
        planned = len(baseline_runs(experiment, {}, data, "code")) + len(
            runs_for_trials(experiment, grid_trials(experiment), {}, data, "code")
        )
    else:  # 5 trials per family, each on 3 folds: lightgbm with 2 seeds, the rule with none
        planned = 3 + 5 * 3 * 2 + 5 * 3
    assert planned > 30
    document.setdefault("execution", {})["max_runs"] = planned
    parse_experiment(document, Path("exp.yaml"))  # exactly max_runs is accepted
    document["execution"]["max_runs"] = planned - 1
    with pytest.raises(ExperimentConfigError, match=rf"^exp\.yaml: execution\.max_runs: .* plans "
                       rf"{planned} runs \(3 folds x .*\(received {planned - 1}\)$"):  # fmt: skip
        parse_experiment(document, Path("exp.yaml"))


def test_a_grid_of_a_million_runs_is_refused_without_enumerating_it() -> None:
    document = _with("strategy.stop_loss_atr", [1.0 + i / 100 for i in range(100)])
    document["strategy"]["take_profit_atr"] = [1.0 + i / 100 for i in range(100)]
    document["families"][0]["params"]["num_leaves"] = list(range(4, 64))
    with pytest.raises(ExperimentConfigError, match=r"execution\.max_runs: the grid plans "
                       r"3,660,003 runs \(3 folds x 1,220,000 trials"):  # fmt: skip
        parse_experiment(document, Path("exp.yaml"))


def test_ranges_are_accepted_for_optuna() -> None:
    data = _with("families.0.params.num_leaves", {"low": 4, "high": 31})
    data["search"] = {"method": "optuna", "trials": 8}
    data["strategy"]["stop_loss_atr"] = {"low": 1.5, "high": 4.0}
    experiment = parse_experiment(data)
    assert experiment.search.trials == 8
    bad = copy.deepcopy(data)
    bad["families"][0]["params"]["num_leaves"] = {"low": 4, "high": 99}
    with pytest.raises(ExperimentConfigError, match=r"num_leaves\.high: .*less than or equal"):
        parse_experiment(bad)


def test_environment_placeholders_are_substituted_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EXP_CATALOG", "/data/cat")
    experiment = parse_experiment(_with("data.catalog", "${EXP_CATALOG}"))
    assert str(experiment.catalog) == "/data/cat"
    with pytest.raises(ExperimentConfigError, match=r"data\.catalog: environment variable "
                       r"EXP_MISSING is not set"):  # fmt: skip
        parse_experiment(_with("data.catalog", "${EXP_MISSING}"))


@pytest.mark.parametrize(
    "duration,ns",
    [
        ("2w", 14 * 86_400 * 10**9),
        ("36h", 36 * 3_600 * 10**9),
        (1.5, 36 * 3_600 * 10**9),
        ("90m", 90 * 60 * 10**9),
    ],
)
def test_durations(duration: str | float, ns: int) -> None:
    assert parse_duration(duration, ("x",)) == ns


def test_the_cli_refuses_a_bad_file_in_one_line_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_with("families.0.params.num_leaves", [1])))
    result = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "experiment", "run", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        f"nautilus-ai: error: {path}: families[0].params.num_leaves[0]:"
    )
    assert not (tmp_path / "results").exists()


def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    # YAML keeps the last of two equal keys without a word: an experiment whose `folds` was
    # pasted twice ran on the second value. The run files' strict reader now reads these too.
    text = (repo_root() / "backtests" / "experiment_demo.yaml").read_text()
    path = tmp_path / "twice.yaml"
    path.write_text(text + "name: another-name\n")
    with pytest.raises(ExperimentConfigError) as caught:
        load_experiment(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid YAML: ") and "\n" not in message
    assert "key 'name' is given twice in one mapping (first on line " in message
    assert load_experiment(repo_root() / "backtests" / "experiment_demo.yaml").name


def test_a_range_written_with_floats_samples_floats() -> None:
    # {low: 1.0, high: 5.0} was read as the integers 1 and 5 (the checker's int | float took
    # 5.0 as an int), so Optuna sampled a float setting from 1, 2, 3, 4, 5 only (12 trials gave
    # 5 distinct ones); {low: 1, high: 5} still samples integers
    import optuna

    from nautilus_ai.experiments.search import suggest

    document = _with("strategy.stop_loss_atr", {"low": 1.0, "high": 5.0})
    document["families"][0]["params"]["learning_rate"] = {"low": 0.5, "high": 1.0}
    document["search"] = {"method": "optuna", "trials": 12}
    experiment = parse_experiment(document, Path("exp.yaml"))
    stops = experiment.strategy_space["stop_loss_atr"]
    rates = experiment.families[0].space["learning_rate"]
    assert isinstance(stops, ParamRange) and isinstance(rates, ParamRange)
    assert (stops.low, stops.high) == (1.0, 5.0)
    assert all(type(v) is float for v in (stops.low, stops.high, rates.low, rates.high))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    values = [suggest(study.ask(), "stop_loss_atr", stops) for _ in range(12)]
    assert all(type(v) is float for v in values)
    assert len(set(values)) == 12
    integers = parse_experiment(_with("strategy.stop_loss_atr", {"low": 1, "high": 5}) | {
        "search": {"method": "optuna", "trials": 4}}, Path("exp.yaml"))  # fmt: skip
    whole = integers.strategy_space["stop_loss_atr"]
    assert isinstance(whole, ParamRange) and type(whole.low) is int
