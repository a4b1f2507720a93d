"""A failure is a failure: real ``BacktestNode`` runs on the shared EUR/USD data that did not do
their job end with ``status == "failed"`` and say which strategy and why; the CLI exits 1 and
``--json`` carries the status. A run that legitimately made no trade is ok, with a note."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nautilus_ai.backtest.config import ConfigError, parse_run_file
from nautilus_ai.backtest.preflight import preflight
from nautilus_ai.backtest.runner import BacktestOutcome, run_backtest

REPO = Path(__file__).resolve().parents[3]
DEMO = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
STRATEGY = "AIPatternStrategy-000"


def demo_variant(catalog: Path, edit: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """The packaged demo on 2017-01-02 .. 2017-01-13 (fast), edited by ``edit``."""
    raw = copy.deepcopy(DEMO)
    raw["run"]["data"][0].update(catalog_path=str(catalog), end_time="2017-01-13T00:00:00Z")
    strategy = raw["run"]["engine"]["strategies"][0]["config"]
    strategy["catalog_path"] = str(catalog)
    if edit is not None:
        edit(raw)
    return raw


def strategy_config(raw: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = raw["run"]["engine"]["strategies"][0]["config"]
    return config


def run(raw: dict[str, Any], tmp_path: Path) -> BacktestOutcome:
    return run_backtest(parse_run_file(raw, tmp_path / "run.yaml"), write=False)


def only_reason(outcome: BacktestOutcome) -> str:
    assert outcome.status == "failed", outcome.status_dict()
    assert len(outcome.reasons) == 1, outcome.reasons
    return outcome.reasons[0]


def test_a_good_run_is_ok(demo_catalog: Path, tmp_path: Path) -> None:
    outcome = run(demo_variant(demo_catalog), tmp_path)
    assert outcome.ok and outcome.reasons == [] and outcome.summary.trades > 0
    status = outcome.strategies[STRATEGY]
    assert status.status == "ok" and status.filled > 0 and status.bars and status.bars > 8000
    assert outcome.summary.extra["status"] == "ok"  # also in stats.json


def without_model(catalog: Path, tmp_path: Path) -> dict[str, Any]:
    """The demo with a model folder that does not exist: the strategy stops in on_start."""
    return demo_variant(  # type: ignore[no-any-return]
        catalog,
        lambda r: strategy_config(r).update(
            predictor={"kind": "torch", "path": str(tmp_path / "no-model")},
            feature_source="incremental",
        ),
    )


def test_a_strategy_that_fails_to_start(demo_catalog: Path, tmp_path: Path) -> None:
    # A valid config whose model cannot be built: on_start logs it and stops the strategy.
    raw = without_model(demo_catalog, tmp_path)
    reason = only_reason(run(raw, tmp_path))
    assert reason.startswith(f"{STRATEGY}: failed to start: it stopped before its first bar")
    assert "its predictor could not be built: ArtifactError" in reason


def test_a_comparison_run_carries_the_runners_verdict(demo_catalog: Path, tmp_path: Path) -> None:
    # The out-of-sample comparisons (`train --backtest`, `patterns evaluate`, the demo) read
    # every run's summary without its status: a run whose strategy never started went into the
    # report as a flat line with 0 trades, exit 0.
    from nautilus_ai.backtest.runner import BacktestFailedError
    from nautilus_ai.workflows.oos import OosComparison, run_window

    raw = without_model(demo_catalog, tmp_path)
    failed = run_window(parse_run_file(raw, tmp_path / "run.yaml"), "trained mlp", write=False)
    assert failed.status == "failed" and failed.failure is not None
    assert failed.failure.startswith(f"trained mlp: {STRATEGY}: failed to start")
    assert "its predictor could not be built: ArtifactError" in failed.failure
    with pytest.raises(BacktestFailedError, match=r"^backtest failed: trained mlp: "):
        failed.raise_if_failed()
    ok = run_window(
        parse_run_file(demo_variant(demo_catalog), tmp_path / "ok.yaml"), "rule", write=False
    )
    assert ok.status == "ok" and ok.failure is None and ok.summary.trades > 0
    comparison = OosComparison(window=None, runs={"trained": failed, "rule": ok})  # type: ignore[arg-type]
    assert comparison.failures == [failed.failure]
    assert "FAILED trained mlp: " in comparison.table_text()


def test_check_refuses_the_model_the_run_could_not_build(
    demo_catalog: Path, tmp_path: Path, capsys: Any
) -> None:
    # `backtest --check` said OK for a run whose strategy then stopped before its first bar
    # (no model there): the run failed, the check had passed. Both now name the cause.
    from nautilus_ai.cli import main

    missing = tmp_path / "no-model"
    raw = demo_variant(
        demo_catalog,
        lambda r: strategy_config(r).update(predictor={"kind": "torch", "path": str(missing)}),
    )
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["backtest", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"nautilus-ai: error: {path}: run.engine.strategies[0].config.predictor: cannot be "
        f"built: ArtifactError: no model_card.json in {missing} (is it a model artifact?)"
    )
    path.write_text(yaml.safe_dump(demo_variant(demo_catalog)))
    assert main(["backtest", str(path), "--check"]) == 0
    assert "model(s) built: rule-trend-momentum/" in capsys.readouterr().out
    # --json with --check printed the text line above: a script's json.loads failed.
    assert main(["backtest", str(path), "--check", "--json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["status"] == "ok" and checked["ran"] is False and checked["strategies"] == 1
    assert checked["models"][0].startswith("rule-trend-momentum/")


def test_check_refuses_a_model_of_another_bar_period(
    demo_catalog: Path, tmp_path: Path, capsys: Any
) -> None:
    # A LightGBM model whose card says hour bars passed `backtest --check` and then traded the
    # demo's minute bars. The check (and the strategy's start) now refuse it, naming both.
    from fixtures.stored_models import HOUR_BID, lightgbm_model

    from nautilus_ai.cli import main

    model = {"kind": "lightgbm", "path": str(lightgbm_model(tmp_path, "gbt", HOUR_BID))}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(demo_variant(
        demo_catalog, lambda r: strategy_config(r).update(predictor=model))))  # fmt: skip
    assert main(["backtest", str(path), "--check"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(
        f"nautilus-ai: error: {path}: run.engine.strategies[0].config.predictor: cannot be "
        f"built: BarTypeMismatchError: model gbt/1 was trained on {HOUR_BID} bars (1 h), the "
        "strategy's bar type is EUR/USD.SIM-1-MINUTE-BID-EXTERNAL (1 min)"
    ), err
    assert len(err.splitlines()) == 1


def faulty(fault: str) -> Callable[[dict[str, Any]], None]:
    def edit(raw: dict[str, Any]) -> None:
        raw["run"]["engine"]["strategies"] = [
            {
                "strategy_path": "fixtures.faulty_strategy:FaultyStrategy",
                "config_path": "fixtures.faulty_strategy:FaultyConfig",
                "config": {
                    "instrument_id": "EUR/USD.SIM",
                    "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
                    "fault": fault,
                    "at_bar": 3000,
                },
            }
        ]

    return edit


def test_a_strategy_that_raises_mid_run(demo_catalog: Path, tmp_path: Path) -> None:
    reason = only_reason(run(demo_variant(demo_catalog, faulty("raise")), tmp_path))
    assert reason == (
        "FaultyStrategy-000: raised RuntimeError during the run: the model exploded at bar 3000"
    )


def test_a_strategy_that_stops_on_an_error_mid_run(demo_catalog: Path, tmp_path: Path) -> None:
    reason = only_reason(run(demo_variant(demo_catalog, faulty("stop")), tmp_path))
    assert reason.startswith("FaultyStrategy-000: stopped before the data ended (state STOPPED")


class _FailsAfter:
    """The rule model until its ``after``-th call, then a fault: an exception or a NaN answer."""

    batch_exact = False

    def __init__(self, spec: Any, after: int, fault: str) -> None:
        from nautilus_ai.models.registry import build_predictor

        self.inner = build_predictor({"kind": "rule"}, spec)
        self.after, self.fault, self.calls = after, fault, 0
        self.model_id, self.spec_hash = "fails-after/1", self.inner.spec_hash

    def predict(self, features: Any, context: Any) -> Any:
        import dataclasses

        self.calls += 1
        answer = self.inner.predict(features, context)
        if self.calls <= self.after:
            return answer
        if self.fault == "raise":
            raise RuntimeError(f"model server gone at call {self.calls}")
        return dataclasses.replace(answer, confidence=float("nan"))

    def predict_batch(self, features: Any, contexts: Any = None) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


@pytest.mark.parametrize("fault", ["raise", "nan"])
@pytest.mark.parametrize("after", [0, 2000])
def test_a_model_that_fails_mid_run_fails_the_run(
    demo_catalog: Path, tmp_path: Path, fault: str, after: int
) -> None:
    # Every fault is a hold (the strategy never crashes), but holds standing in for the model's
    # answers are not a backtest of the model: the run used to be "ok" (with all calls failing,
    # noted as "no entry signal ... nothing reached min_confidence"), exit 0.
    from pydantic import BaseModel, ConfigDict

    from nautilus_ai.models.registry import register_backend

    class FailsAfterConfig(BaseModel):
        model_config = ConfigDict(extra="forbid")
        kind: str = "test_fails_after"

    register_backend(
        "test_fails_after", FailsAfterConfig,
        lambda config, spec: _FailsAfter(spec, after, fault), replace=True,
    )  # fmt: skip
    raw = demo_variant(
        demo_catalog,
        lambda r: strategy_config(r).update(
            predictor={"kind": "test_fails_after"}, feature_source="incremental"
        ),
    )
    outcome = run(raw, tmp_path)
    reason = only_reason(outcome)
    assert reason.startswith(f"{STRATEGY}: its model failed ")
    assert "times and each decision was a hold (first at 2017-01-" in reason
    assert ("model server gone at call" if fault == "raise" else "confidence") in reason
    assert outcome.summary.extra["status"] == "failed"  # stats.json says it too
    assert outcome.notes == []  # not "no entry signal"
    if after:
        assert outcome.summary.trades > 0  # it traded until the model failed


def test_a_window_in_a_gap_of_the_data_is_refused_by_the_check_and_the_run(
    demo_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A weekend inside the stored span passed `backtest --check` (only the first / last stored
    bar were compared) and the run then failed on zero bars. The check counts the window's
    bars; the run (which runs the same preflight) refuses it too, before loading anything."""
    from nautilus_ai.cli import main

    raw = demo_variant(
        demo_catalog,
        lambda r: r["run"]["data"][0].update(
            start_time="2017-01-07T00:00:00Z", end_time="2017-01-08T12:00:00Z"
        ),
    )
    expected = (
        "run.data[0].start_time: the window (2017-01-07 00:00 to 2017-01-08 12:00 UTC) holds no "
        "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL bars: the catalog holds them from 2017-01-02 07:01 to "
        "2017-06-30 20:59 UTC; the window falls in a gap of the data (a weekend?), the nearest "
        "bars are at 2017-01-06 22:00 and 2017-01-08 22:01 UTC"
    )
    raw["report_dir"] = str(tmp_path / "reports")
    path = tmp_path / "weekend.yaml"
    path.write_text(yaml.safe_dump(raw))
    for args in (["backtest", "--check", str(path)], ["backtest", str(path)]):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and expected in err, err
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    ("window", "key"),
    [
        ({"start_time": "2018-01-01T00:00:00Z", "end_time": "2018-02-01T00:00:00Z"}, "start_time"),
        ({"start_time": "2019-01-01", "end_time": None}, "start_time"),
        ({"start_time": None, "end_time": "2016-12-01"}, "end_time"),
    ],
)
def test_a_window_outside_the_stored_bars_is_refused_by_the_check(
    demo_catalog: Path, tmp_path: Path, window: dict[str, Any], key: str
) -> None:
    """`backtest --check` said OK for a window after (or before) every stored bar, and the run
    then failed on zero bars: the check now names the key and the span the catalog holds."""
    raw = demo_variant(demo_catalog, lambda r: r["run"]["data"][0].update(window))
    with pytest.raises(
        ConfigError,
        match=rf"run.data\[0\].{key}: the window \(.* UTC\) holds no "
        r"EUR/USD.SIM-1-MINUTE-BID-EXTERNAL bars: the catalog holds them from 2017-01-02 07:01 "
        r"to 2017-06-30 20:59 UTC \(received",
    ):
        preflight(parse_run_file(raw, tmp_path / "run.yaml"))


@pytest.mark.parametrize("balances", [["0 USD"], ["100000 EUR"]])
def test_no_balance_in_the_account_currency_is_refused_by_the_check(
    demo_catalog: Path, tmp_path: Path, balances: list[str]
) -> None:
    """`backtest --check` said OK for `0 USD` (or only EUR on the USD account), and the run then
    failed with every entry "sized to zero: drawdown". An observe-only run needs no balance."""
    raw = demo_variant(
        demo_catalog, lambda r: r["run"]["venues"][0].update(starting_balances=balances)
    )
    with pytest.raises(
        ConfigError,
        match=r"run.venues\[0\].starting_balances: holds no USD: run.engine.strategies\[0\] "
        r"sizes its orders from the account's USD balance \(the venue's base_currency\)",
    ):
        preflight(parse_run_file(raw, tmp_path / "run.yaml"))
    strategy_config(raw)["observe_only"] = True
    preflight(parse_run_file(raw, tmp_path / "run.yaml"))


def test_a_decision_log_run_id_already_used_for_these_bars_is_refused_by_the_check(
    demo_catalog: Path, tmp_path: Path
) -> None:
    """`backtest --check` said OK for a `feature_log.run_id` whose log already held rows of
    these bars (a re-run); the run then wrote none of its rows and failed at the end. A later
    window under the same id (a resumed run) still passes."""
    from nautilus_ai.catalog.schema import SNAPSHOT_DIR, parquet_file_name
    from nautilus_ai.datasets import to_ns

    log = tmp_path / "log"
    part = log / "data" / SNAPSHOT_DIR / "r1"
    part.mkdir(parents=True)
    first, last = to_ns("2017-01-02T08:00:00Z"), to_ns("2017-01-06T00:00:00Z")
    (part / parquet_file_name(first, last)).touch()  # the writer reads the span from the name

    def edit(start: str) -> Callable[[dict[str, Any]], None]:
        def change(r: dict[str, Any]) -> None:
            r["run"]["data"][0]["start_time"] = start
            strategy_config(r)["feature_log"] = {"catalog_path": str(log), "run_id": "r1"}

        return change

    with pytest.raises(
        ConfigError,
        match=r"config.feature_log.run_id: the catalog .* already holds a decision log of run "
        r"'r1' up to 2017-01-06 00:00 UTC, and this run's bars start before that",
    ):
        preflight(parse_run_file(demo_variant(demo_catalog, edit("2017-01-04")), tmp_path / "r"))
    preflight(parse_run_file(demo_variant(demo_catalog, edit("2017-01-06T00:01")), tmp_path / "r"))


def test_a_decision_log_into_a_catalog_that_cannot_be_written_is_refused_by_the_check(
    demo_catalog: Path, tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    """`backtest --check` said OK for a `feature_log.catalog_path` that cannot be written; the
    run then kept every decision in memory, failed each write and ended 'feature log
    incomplete'. A catalog still to be made under a writable folder passes (nothing made)."""
    log = tmp_path / "log"
    (log / "data").mkdir(parents=True)
    read_only(log)

    def edit(catalog: Path) -> Callable[[dict[str, Any]], None]:
        def change(r: dict[str, Any]) -> None:
            strategy_config(r)["feature_log"] = {"catalog_path": str(catalog)}

        return change

    with pytest.raises(
        ConfigError,
        match=r"config.feature_log.catalog_path: cannot write into .*log/data \(.*\): every "
        r"decision of the run would be lost at its end",
    ):
        preflight(parse_run_file(demo_variant(demo_catalog, edit(log)), tmp_path / "r"))
    fresh = tmp_path / "new" / "catalog"
    preflight(parse_run_file(demo_variant(demo_catalog, edit(fresh)), tmp_path / "r"))
    assert not (tmp_path / "new").exists()


def test_balances_in_two_currencies_on_a_single_currency_account_are_refused_by_the_check(
    demo_catalog: Path, tmp_path: Path
) -> None:
    """`backtest --check` said OK; Nautilus then refused to build the engine ("single-currency
    account has multiple starting currencies")."""
    balances = ["100000 USD", "5000 EUR"]
    raw = demo_variant(
        demo_catalog, lambda r: r["run"]["venues"][0].update(starting_balances=balances)
    )
    with pytest.raises(
        ConfigError,
        match=r"run.venues\[0\].starting_balances: holds USD, EUR, but the venue's "
        r"base_currency USD makes a single-currency account",
    ):
        preflight(parse_run_file(raw, tmp_path / "run.yaml"))


def test_a_second_venue_is_refused_by_the_check(demo_catalog: Path, tmp_path: Path) -> None:
    """The run's report reads one account (venues[0]'s starting balance and account report):
    with a second venue its fills were marked against the first one's equity, exit 0."""

    def add_venue(r: dict[str, Any]) -> None:
        r["run"]["venues"].append({**r["run"]["venues"][0], "name": "IDEALPRO"})

    raw = demo_variant(demo_catalog, add_venue)
    with pytest.raises(
        ConfigError,
        match=r"run.venues\[1\]: a second venue \(SIM, IDEALPRO\): the run's report .* reads "
        r"one account, SIM's",
    ):
        preflight(parse_run_file(raw, tmp_path / "run.yaml"))


def test_a_balance_too_small_to_size_any_position(demo_catalog: Path, tmp_path: Path) -> None:
    raw = demo_variant(
        demo_catalog, lambda r: r["run"]["venues"][0].update(starting_balances=["10 USD"])
    )
    outcome = run(raw, tmp_path)
    reason = only_reason(outcome)
    assert reason.startswith(f"{STRATEGY}: could not trade: all ")
    assert "entry signals were sized to zero" in reason and "balances and leverage" in reason
    assert outcome.strategies[STRATEGY].entries_sized == 0


def test_a_balance_too_small_for_any_order_the_venue_accepts(
    demo_catalog: Path, tmp_path: Path
) -> None:
    # 100 USD sizes positions of ~100 units: every entry is denied (EUR/USD trades in 1,000s).
    def edit(raw: dict[str, Any]) -> None:
        raw["run"]["venues"][0].update(starting_balances=["100 USD"])
        strategy_config(raw)["sizing"].update(lot_step=1.0, min_quantity=1.0)

    outcome = run(demo_variant(demo_catalog, edit), tmp_path)
    reason = only_reason(outcome)
    assert reason.startswith(f"{STRATEGY}: could not trade: none of its ")
    assert "DENIED" in reason and "minimum trade size" in reason
    status = outcome.strategies[STRATEGY]
    assert status.filled == 0 and status.denied > 10


def test_observe_only_makes_no_trade_and_says_so(demo_catalog: Path, tmp_path: Path) -> None:
    raw = demo_variant(demo_catalog, lambda r: strategy_config(r).update(observe_only=True))
    outcome = run(raw, tmp_path)
    assert outcome.ok and outcome.summary.trades == 0
    assert outcome.notes == [
        f"{STRATEGY}: no trade: observe-only (decisions recorded, no orders sent by design)"
    ]


def test_a_precomputed_run_that_fell_back_to_incremental_features_says_so(
    demo_catalog: Path, tmp_path: Path
) -> None:
    # The precompute ends before the run does: the rest is decided bar by bar (same
    # decisions), which only a WARNING line said, hidden at the demo's log level ERROR.
    raw = demo_variant(
        demo_catalog,
        lambda r: strategy_config(r).update(
            observe_only=True, precompute_end_time="2017-01-10T00:00:00Z"
        ),
    )
    outcome = run(raw, tmp_path)
    assert outcome.ok and outcome.strategies[STRATEGY].status == "ok"
    assert outcome.notes[0] == (
        f"{STRATEGY}: feature_source precomputed fell back to incremental features 1 time: the "
        f"bars of its catalog_path {demo_catalog} did not match the bars the run fed (another "
        "catalog, not all of the window, or precompute_end_time before the end); same "
        "decisions, slower"
    )


def test_no_signal_is_not_a_failure(demo_catalog: Path, tmp_path: Path) -> None:
    never = {"kind": "rule", "trend_min_atr": 40.0, "trend_full_atr": 50.0}  # no bar is so far
    raw = demo_variant(demo_catalog, lambda r: strategy_config(r).update(predictor=never))
    outcome = run(raw, tmp_path)
    assert outcome.ok and outcome.summary.trades == 0
    assert outcome.notes[0].startswith(f"{STRATEGY}: no trade: no entry signal in ")


def test_a_decision_log_not_written_fails_the_run(
    demo_catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every part is refused (here: the log's catalog is under a file, as a disk that fills or
    # vanishes after the start would refuse it; the check before the run refuses such a
    # catalog now, so it is skipped here; a reused run id is refused before the run too, see
    # test_a_decision_log_run_id_already_used_for_these_bars_is_refused_by_the_check).
    # The run used to be 'ok' (exit 0) with the log missing, its ERROR lines the only trace.
    from nautilus_ai.backtest import preflight as preflight_module

    monkeypatch.setattr(preflight_module, "_feature_log_writable", lambda *_args: None)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    log = {"catalog_path": str(blocker / "log"), "run_id": "again"}
    raw = demo_variant(demo_catalog, lambda r: strategy_config(r).update(feature_log=log))
    reason = only_reason(run(raw, tmp_path))
    assert reason.startswith(f"{STRATEGY}: its feature log (run again) is incomplete: 0 of ")
    assert "decision rows and 0 of " in reason and "last error:" in reason


def test_preflight_refuses_before_loading_anything(demo_catalog: Path, tmp_path: Path) -> None:
    raw = demo_variant(
        demo_catalog,
        lambda r: strategy_config(r).update(bar_type="EUR/USD.SIM-5-MINUTE-BID-EXTERNAL"),
    )
    with pytest.raises(ConfigError, match=r"strategies\[0\].config.bar_type: no data config loads"):
        run(raw, tmp_path)
    raw = demo_variant(demo_catalog, lambda r: r["run"]["data"][0].update(catalog_path="/nope"))
    with pytest.raises(ConfigError, match=r"run.data\[0\].catalog_path: no catalog at this path"):
        run(raw, tmp_path)


def _cli(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "backtest", str(path), "--json"],
        env=dict(os.environ, NAUTILUS_AI_REPORTS=str(tmp_path)),
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip


def test_the_cli_exits_1_and_the_json_carries_the_status(
    demo_catalog: Path, tmp_path: Path
) -> None:
    raw = demo_variant(
        demo_catalog, lambda r: r["run"]["venues"][0].update(starting_balances=["10 USD"])
    )
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = _cli(path, tmp_path)
    assert result.returncode == 1, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed"
    assert summary["reasons"][0].startswith(f"{STRATEGY}: could not trade")
    assert summary["strategies"][STRATEGY]["status"] == "failed"
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("nautilus-ai: error: backtest failed: AIPatternStrategy-000: could")
    assert "Traceback" not in result.stderr
    # the report folder still records what happened
    stats = json.loads((Path(summary["report_dir"]) / "stats.json").read_text())
    assert stats["extra"]["status"] == "failed"


@pytest.mark.parametrize("strategies", [[], None])
def test_a_run_with_no_strategy_is_refused(
    demo_catalog: Path, tmp_path: Path, strategies: list[Any] | None
) -> None:
    # The strategies list emptied (or dedented out of run.engine): the run replayed the data,
    # traded nothing and said "status: ok", exit 0.
    def edit(raw: dict[str, Any]) -> None:
        if strategies is None:
            del raw["run"]["engine"]["strategies"]
        else:
            raw["run"]["engine"]["strategies"] = strategies

    with pytest.raises(ConfigError, match=r"run.engine.strategies: no strategy and no actor"):
        run(demo_variant(demo_catalog, edit), tmp_path)


def test_a_report_dir_that_is_a_file_is_refused_before_the_run(
    demo_catalog: Path, tmp_path: Path, capsys: Any
) -> None:
    # --check said OK, the run ran, then "NotADirectoryError: [Errno 20] ..." and no summary.
    from nautilus_ai.cli import main

    (tmp_path / "a-file").write_text("x")
    for report_dir in (tmp_path / "a-file", tmp_path / "a-file" / "reports"):
        raw = demo_variant(demo_catalog)
        raw["report_dir"] = str(report_dir)
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(raw))
        line = (
            f"nautilus-ai: error: {path}: report_dir: {tmp_path / 'a-file'} is a file, not a "
            f"folder (received '{report_dir}')"
        )
        for extra in (["--check"], []):
            assert main(["backtest", str(path), *extra]) == 2
            assert capsys.readouterr().err.strip() == line
        assert main(["backtest", str(path), "--no-report", "--json"]) == 0  # no report: no need
        capsys.readouterr()
