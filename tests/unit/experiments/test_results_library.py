"""The results library (one Parquet dataset, atomic rows) and the statistics over it: stitching,
trials that miss a fold, the best trial, DSR / PBO, baselines, spread over seeds."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.dataset as ds
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.experiments.analysis import analyse, stitch
from nautilus_ai.experiments.config import parse_experiment
from nautilus_ai.experiments.plan import RunSpec, baseline_runs, grid_trials, runs_for_trials
from nautilus_ai.experiments.store import RESULT_COLUMNS, ResultsStore
from nautilus_ai.experiments.tasks import PreparedModel, RunResult

BAR = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
DAY = 86_400 * 10**9
DOC: dict[str, Any] = {
    "name": "library",
    "data": {"catalog": "catalogs/demo", "instruments": ["EUR/USD.SIM"], "bar_types": [BAR],
             "start": "2017-01-02", "end": "2017-07-01"},
    "walk_forward": {"train": "4w", "validation": "2w", "test": "3w", "max_folds": 3},
    "families": [{"family": "lightgbm", "params": {"num_leaves": [7, 15]}}],
    "strategy": {"stop_loss_atr": [2.0, 3.0]},
    "seeds": [1, 2],
}  # fmt: skip


def _result(spec: RunSpec, daily_drift: float, seed_noise: float) -> RunResult:
    """Hourly equity over the fold's test window with a drift and some noise."""
    assert spec.fold.test is not None
    ts = np.arange(spec.fold.test.start_ns, spec.fold.test.end_ns, 3_600 * 10**9, dtype=np.int64)
    rng = np.random.default_rng(abs(hash((spec.key, seed_noise))) % 2**32)
    steps = daily_drift / 24 + rng.normal(0.0, 20.0, ts.size)
    equity = 100_000.0 + np.cumsum(steps)
    trades = {"ts_opened": [int(ts[0])], "ts_closed": [int(ts[5])], "side": ["long"],
              "quantity": [1000.0], "avg_px_open": [1.05], "avg_px_close": [1.051],
              "realized_pnl": [float(equity[-1] - 100_000.0)], "exit_reason": ["stop"],
              "decision_ts": [int(ts[0])], "confidence": [0.6], "gross": [5.0],
              "commission": [4.0], "spread": [1.0]}  # fmt: skip
    figures = {"pnl": float(equity[-1] - 100_000.0), "return_pct": 0.0, "trades": 1,
               "win_rate": 1.0, "starting_equity": 100_000.0, "final_equity": float(equity[-1]),
               "currency": "USD", "bars": int(ts.size), "gross": 5.0, "commission": 4.0,
               "spread_cost": 1.0, "min_confidence": 0.55, "notes": ["a note"]}  # fmt: skip
    return RunResult(spec.key, "ok", [], figures, ts, equity, trades, 0.1, "host:1")


@pytest.fixture
def library(tmp_path: Path) -> tuple[ResultsStore, list[RunSpec], list[RunSpec]]:
    experiment = parse_experiment(DOC)
    base = {"run": {"venues": [], "engine": {"strategies": [{"config": {}}]}}}
    runs = runs_for_trials(experiment, grid_trials(experiment), base, {BAR: "d"}, "c")
    baselines = baseline_runs(experiment, base, {BAR: "d"}, "c")
    return ResultsStore(tmp_path / "results"), runs, baselines


def test_rows_are_written_whole_and_read_back_as_one_dataset(library: Any) -> None:
    store, runs, baselines = library
    for spec in runs + baselines:
        drift = 100.0 if spec.strategy_params.get("stop_loss_atr") == 3.0 else -50.0
        store.write_run(spec, _result(spec, drift, spec.seed or 0), data_fingerprint="d",
                        code_version="c")  # fmt: skip
    assert store.stored_keys("library") == {r.key for r in runs + baselines}
    assert not [p for p in store.root.rglob("*") if p.name.startswith(".")]  # no temp files
    table = store.table("library")
    assert table.num_rows == len(runs) + len(baselines) == 4 * 3 * 2 + 3
    assert set(RESULT_COLUMNS) < set(table.column_names)
    row = table.to_pylist()[0]
    assert row["trade_log"][0]["gross"] == 5.0 and row["notes"] == ["a note"]
    assert len(row["equity"]) == len(row["equity_ts"]) == 21 * 24
    # the same dataset through pyarrow and DuckDB
    assert ds.dataset(store.root / "runs").count_rows() == table.num_rows
    per_trial = duckdb.sql(
        f"SELECT trial, count(*) AS n FROM '{store.runs_dir('library')}/*.parquet' "
        "WHERE role = 'trial' GROUP BY trial ORDER BY trial"
    ).fetchall()
    assert per_trial == [(f"lightgbm#0{i}", 6) for i in range(4)]
    # a stored row is never rewritten
    path = store.runs_dir("library") / f"{runs[0].key}.parquet"
    before = path.stat().st_mtime_ns
    store.write_run(runs[0], _result(runs[0], 0.0, 9), data_fingerprint="d", code_version="c")
    assert path.stat().st_mtime_ns == before


def test_the_best_trial_baselines_seeds_dsr_and_pbo(library: Any) -> None:
    store, runs, baselines = library
    for spec in runs + baselines:
        drift = 150.0 if spec.strategy_params.get("stop_loss_atr") == 3.0 else -80.0
        store.write_run(spec, _result(spec, drift, spec.seed or 0), data_fingerprint="d",
                        code_version="c")  # fmt: skip
    analysis = analyse(store.table("library"), experiment="library", folds=[0, 1, 2])
    assert len(analysis.trials) == 4 and set(analysis.baselines) == {"rule"}
    best = analysis.best
    assert best is not None and best.strategy_params == {"stop_loss_atr": 3.0}
    assert best.seeds == [1, 2] and best.sharpe is not None and best.sharpe.n == 2
    assert best.folds == [0, 1, 2] and len(best.per_fold) == 6
    assert analysis.dsr is not None and analysis.dsr.n_trials == 4
    assert analysis.pbo is not None and 0.0 <= analysis.pbo.pbo <= 1.0
    assert analysis.returns.shape[1] == 4
    assert analysis.split is not None and len(analysis.split) == 6  # one trade per run
    assert set(analysis.intervals) == {"sharpe", "pnl_per_trade", "win_rate"}


def test_each_market_keeps_its_own_baselines(tmp_path: Path) -> None:
    """Two instruments: both markets' rule and buy & hold baselines were keyed by family alone,
    so the report and `experiment show` compared every trial with the last market's (the
    other's silently dropped)."""
    other = "GBP/USD.SIM-1-MINUTE-BID-EXTERNAL"
    doc = {**DOC, "data": {**DOC["data"], "instruments": ["EUR/USD.SIM", "GBP/USD.SIM"],
                           "bar_types": [BAR, other]}}  # fmt: skip
    experiment = parse_experiment(doc)
    base = {"run": {"venues": [], "engine": {"strategies": [{"config": {}}]}}}
    data = {BAR: "d", other: "d"}
    store = ResultsStore(tmp_path / "results")
    for spec in baseline_runs(experiment, base, data, "c"):
        drift = 100.0 if spec.market.bar_type == BAR else -100.0
        store.write_run(spec, _result(spec, drift, 0), data_fingerprint="d", code_version="c")
    analysis = analyse(store.table("library"), experiment="library", folds=[0, 1, 2])
    assert set(analysis.baselines) == {"rule EUR/USD.SIM", "rule GBP/USD.SIM"}
    eur, gbp = analysis.baselines["rule EUR/USD.SIM"], analysis.baselines["rule GBP/USD.SIM"]
    assert eur.instrument == "EUR/USD.SIM" and gbp.instrument == "GBP/USD.SIM"
    assert eur.pnl.mean > 0 > gbp.pnl.mean


def test_a_key_named_twice_is_read_once(library: Any) -> None:
    """Optuna can propose the same parameters twice: the same run, named twice, must not count
    twice in the stitched result (twice the trades, twice the days)."""
    store, runs, _ = library
    for spec in runs:
        store.write_run(spec, _result(spec, 10.0, 0), data_fingerprint="d", code_version="c")
    keys = [r.key for r in runs]
    table = store.table("library", keys=keys + keys[:6])
    assert table.num_rows == len(runs)
    once = analyse(store.table("library", keys=keys), experiment="library", folds=[0, 1, 2])
    twice = analyse(table, experiment="library", folds=[0, 1, 2])
    assert [(t.trial_id, t.trades, t.pnl.mean) for t in twice.trials] == [
        (t.trial_id, t.trades, t.pnl.mean) for t in once.trials
    ]


def test_an_unreadable_manifest_is_one_line_naming_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    from nautilus_ai.experiments.store import ResultsStoreError

    store = ResultsStore(tmp_path / "results")
    path = store.write_manifest("cut", {"name": "cut", "runs": [], "folds": []})
    path.write_text(path.read_text()[:20])  # a disk that filled up, a copy cut short
    with pytest.raises(ResultsStoreError, match=f"^{path}: unreadable"):
        store.manifest("cut")
    for verb in (["list"], ["show", "cut"]):
        result = subprocess.run(
            [sys.executable, "-m", "nautilus_ai.cli", "experiment", *verb, "--store",
             str(store.root)], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"nautilus-ai: error: {path}: unreadable (")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_an_unreadable_run_file_is_named_and_recomputed(
    library: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # A run file cut short (a copy, a full disk) made every read fail with a bare ArrowInvalid,
    # and it counted as stored: running the experiment again skipped it, so the library stayed
    # unreadable until the user found and deleted the file by hand.
    from nautilus_ai.experiments.store import ResultsStoreError

    store, runs, _ = library
    paths = [
        store.write_run(s, _result(s, 10.0, 0), data_fingerprint="d", code_version="c")
        for s in runs[:3]
    ]
    cut = paths[1]
    cut.write_bytes(cut.read_bytes()[:200])
    with pytest.raises(ResultsStoreError, match=f"^{cut}: unreadable \\(.*recomputes that run"):
        store.table("library")
    assert [p for p, _ in store.unreadable_runs("library")] == [cut]
    assert store.stored_keys("library") == {runs[0].key, runs[2].key}  # the run is due again
    # `experiment list` counted it as not run, without a word
    from nautilus_ai.cli import main

    assert main(["experiment", "list", "--store", str(store.root)]) == 0
    assert "1 run file unreadable (experiment show names them" in capsys.readouterr().out
    store.write_run(runs[1], _result(runs[1], 10.0, 0), data_fingerprint="d", code_version="c")
    assert store.table("library").num_rows == 3 and store.unreadable_runs("library") == []
    kept = list(cut.parent.glob(f"{cut.name}.unreadable-*"))
    assert len(kept) == 1 and len(kept[0].read_bytes()) == 200  # moved aside, not deleted


def test_a_trial_missing_a_fold_is_left_out(library: Any) -> None:
    store, runs, _ = library
    missing = runs[0]
    for spec in runs:
        if spec.key != missing.key:
            store.write_run(spec, _result(spec, 10.0, 0), data_fingerprint="d", code_version="c")
    analysis = analyse(store.table("library"), experiment="library", folds=[0, 1, 2])
    assert missing.trial_id not in {t.trial_id for t in analysis.trials}
    assert len(analysis.trials) == 3


def test_failures_are_recorded_until_the_run_is_stored(library: Any) -> None:
    store, runs, _ = library
    store.write_failure(runs[0], ["raised ValueError: boom"], worker="host:9")
    (record,) = store.failures("library")
    assert record["reasons"] == ["raised ValueError: boom"] and record["trial"] == "lightgbm#00"
    store.write_run(runs[0], _result(runs[0], 0.0, 0), data_fingerprint="d", code_version="c")
    assert store.failures("library") == []


def test_a_model_round_trips_through_the_library(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path)
    model = PreparedModel("k1", "lightgbm", {"model.txt": b"tree", "sub/x.bin": b"\x00\x01"},
                          {"temperature": 1.2}, {"0.03": 0.61}, {"kind": "lightgbm"}, 0, 1.5,
                          {"train_rows": 10})  # fmt: skip
    store.write_model(model)
    again = store.load_model("k1")
    assert again == model and store.load_model("nope") is None


@given(st.lists(st.lists(st.floats(0.5, 2.0), min_size=2, max_size=20), min_size=1, max_size=6))
def test_stitching_chains_each_fold_from_where_the_last_ended(folds: list[list[float]]) -> None:
    parts = []
    start_ns = 0
    for index, factors in enumerate(folds):
        equity = 1000.0 * np.asarray(factors)
        ts = start_ns + np.arange(len(factors), dtype=np.int64) * DAY
        parts.append((index, ts, equity, 1000.0))
        start_ns = int(ts[-1]) + DAY
    curve = stitch(list(reversed(parts)))  # any order in, fold order out
    growth = math.prod(f[-1] for f in folds)  # each fold starts from 1000 of equity
    assert curve.equity[-1] == pytest.approx(1000.0 * growth, rel=1e-9)
    assert curve.fold_starts == tuple(int(p[1][0]) for p in parts)
    assert np.all(np.diff(curve.ts) > 0)


def test_a_second_driver_of_a_running_experiment_is_refused(
    tmp_path: Path, demo_catalog: Path
) -> None:
    # Two `experiment run` of one name into one library at once each ran every run and wrote
    # the manifest (an edited file's plan) and the report over the other's, both exit 0
    from nautilus_ai.experiments import run_experiment
    from nautilus_ai.experiments.config import load_experiment
    from nautilus_ai.experiments.store import ExperimentBusyError
    from tests.fixtures.experiments import write_experiment

    store = ResultsStore(tmp_path / "results")
    path = write_experiment(tmp_path / "busy.yaml", catalog=demo_catalog, store=store.root,
                            name="busy", folds=1, families=[{"family": "rule"}],
                            stops=[2.0])  # fmt: skip
    with store.running("busy"):
        with pytest.raises(ExperimentBusyError) as caught:
            run_experiment(load_experiment(path), in_process=True, write_report=False)
        message = str(caught.value)
        assert message.startswith(
            f"experiment busy is being run into {store.root} by another driver (pid "
        )
        assert f"lock {store.root / 'experiments' / 'busy' / '.lock'}" in message
        assert not list((store.root / "runs").rglob("*.parquet"))  # it ran nothing
        assert not (store.root / "experiments" / "busy" / "experiment.json").exists()
        with store.running("other"):  # another experiment of the library is free
            pass
    with store.running("busy"):  # released on exit
        pass


@pytest.mark.parametrize("blocker", [".", "runs", "failures", "experiments/x"])
def test_a_store_with_a_file_where_a_folder_goes_is_refused_before_any_run(
    tmp_path: Path, blocker: str
) -> None:
    # A store that was a file (or held a file named runs) stopped the driver after its first
    # backtest, that run's work lost, with a bare "NotADirectoryError: [Errno 20]" (exit 1)
    from nautilus_ai.experiments.store import ResultsStoreError

    root = tmp_path / "results"
    if blocker != ".":
        (root / blocker).parent.mkdir(parents=True)
    (root / blocker).write_text("not a folder")
    store = ResultsStore(root)
    with pytest.raises(ResultsStoreError) as caught, store.running("x"):
        raise AssertionError("the driver went on")
    blocked = (root / blocker).absolute()
    assert str(caught.value).startswith(f"results library {store.root}: cannot make ")
    assert f"({blocked} is a file): the store must be a folder" in str(caught.value)


def test_a_running_status_whose_driver_is_gone_reads_interrupted(tmp_path: Path) -> None:
    # A driver killed (SIGKILL, SIGTERM, Ctrl-C, a reboot) left 'running' in experiment.json,
    # and `experiment list` / `show` said 'running' for good
    store = ResultsStore(tmp_path / "results")
    store.write_manifest("gone", {"name": "gone", "status": "running"})
    manifest = store.manifest("gone")
    assert manifest is not None
    assert manifest["status"] == ("interrupted (its driver stopped: run the file again to finish)")
    with store.running("gone"):
        assert store.is_running("gone")
        assert (store.manifest("gone") or {})["status"] == "running"
    assert not store.is_running("gone")
    store.write_manifest("done", {"name": "done", "status": "complete"})
    assert (store.manifest("done") or {})["status"] == "complete"


def test_a_model_another_driver_stores_meanwhile_is_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two experiments of one library share a fold's model (same key). When the other driver's
    # folder landed while this one was writing, this one deleted it and then failed on the
    # rename with 'OSError: [Errno 39] Directory not empty', ending the experiment in a traceback
    store, other = ResultsStore(tmp_path), ResultsStore(tmp_path)
    model = PreparedModel("k1", "lightgbm", {"model.txt": b"tree"}, {"temperature": 1.2},
                          {"0.03": 0.61}, {"kind": "lightgbm"}, 0, 1.5, {})  # fmt: skip
    folder = store.model_dir("k1")
    rename = Path.rename
    raced: list[Path] = []

    def rename_after_the_other_driver(self: Path, target: Any) -> Any:
        if Path(target) == folder and not raced:
            raced.append(self)
            other.write_model(model)  # the other driver's folder lands first
        return rename(self, target)

    monkeypatch.setattr(Path, "rename", rename_after_the_other_driver)
    assert store.write_model(model) == folder
    assert raced and not raced[0].exists()  # this driver's staging copy is gone
    assert store.load_model("k1") == model
    assert [p.name for p in folder.parent.iterdir()] == ["k1"]


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_best_fails_when_no_trial_completed_every_fold(
    library: Any, json_flag: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Text and --json alike: `experiment best --json` printed [] with exit 0."""
    from nautilus_ai.cli import main

    store, runs, _ = library
    trials = sorted({spec.trial_id for spec in runs})
    folds = sorted({spec.fold.index for spec in runs})
    for spec in runs:  # the first trial misses the last fold, the others have only that fold
        if (spec.trial_id == trials[0]) == (spec.fold.index != folds[-1]):
            store.write_run(spec, _result(spec, 10.0, spec.seed or 0), data_fingerprint="d",
                            code_version="c")  # fmt: skip
    code = main(["experiment", "best", "library", "--store", str(store.root), *json_flag])
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert captured.out == ""
    assert "experiment library: no trial completed every fold" in captured.err


def test_a_trial_wiped_out_at_a_day_end_has_no_sharpe_and_the_analysis_goes_on(
    library: Any,
) -> None:
    """Equity ending a day at exactly zero (an account wiped out on margin) made the next day's
    return infinite and the analysis raised ("values must be finite") after every run, which
    stopped the experiment's report and `experiment show / best / report`."""
    from nautilus_ai.experiments.stats import sharpe_ci
    from nautilus_ai.reporting import daily_returns

    store, runs, _ = library
    wiped_trial = sorted({spec.trial_id for spec in runs})[0]
    for spec in runs:
        result = _result(spec, 100.0, spec.seed or 0)
        if spec.trial_id == wiped_trial:
            day = result.equity_ts // DAY
            first = day == day[0]
            result.equity[first] = np.linspace(100_000.0, 0.0, int(first.sum()))
            result.equity[~first] = 5.0
        store.write_run(spec, result, data_fingerprint="d", code_version="c")
    analysis = analyse(store.table("library"), experiment="library", folds=[0, 1, 2])
    by_id = {t.trial_id: t for t in analysis.trials}
    assert math.isnan(by_id[wiped_trial].curves[1].sharpe())
    assert analysis.best is not None and analysis.best.trial_id != wiped_trial
    assert "1 wiped out (equity at or below zero), left out" in analysis.dsr_note
    assert analysis.dsr is not None and analysis.dsr.n_trials == 3
    returns = daily_returns(np.array([0, DAY, 2 * DAY]), np.array([100.0, 0.0, 5.0]))
    assert returns[:2].tolist() == [0.0, -1.0] and math.isnan(returns[2])  # first, then per day
    assert math.isnan(sharpe_ci(returns, 252.0).estimate)
