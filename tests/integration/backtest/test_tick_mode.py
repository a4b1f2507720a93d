"""Tick mode on real ticks (issue 15.2): a BacktestNode drives AIPatternStrategy with the quote
ticks and bars imported by ``nautilus-ai data import`` from ../shared/data (Dukascopy .bi5 and
LEAN FXCM zips); its tick decisions equal the pure incremental path's over the same ticks."""

from __future__ import annotations

import csv
import itertools
import json
import re
import shlex
import shutil
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow.parquet as pq
import pytest
from fixtures.spec_v1.make_spec_v1_fixtures import import_v1_bars
from fixtures.tick_paths import pure_decisions, strategy_config
from nautilus_trader.backtest.node import BacktestNode
from nautilus_trader.config import (
    BacktestDataConfig,
    BacktestEngineConfig,
    BacktestRunConfig,
    BacktestVenueConfig,
    ImportableStrategyConfig,
    LoggingConfig,
)
from nautilus_trader.model.enums import OrderType
from pydantic import BaseModel, ConfigDict

from nautilus_ai.catalog.reader import read_bars
from nautilus_ai.cli import main
from nautilus_ai.data.catalog import read_quotes
from nautilus_ai.datasets import Fold, Window
from nautilus_ai.features import FeatureSpec, TickVectorSpec
from nautilus_ai.features.ticks import compute_tick_features
from nautilus_ai.models import (
    MarketContext,
    SpecMismatchError,
    build_predictor,
    register_backend,
)
from nautilus_ai.paths import shared_data_dir
from nautilus_ai.tick_decisions import TickDecider, TickModeConfig

DATA = shared_data_dir()
MINUTE_NS = 60_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
REPO = Path(__file__).parents[3]


def run_node(
    catalog: Path,
    instrument_id: str,
    bar_type: str,
    tick_mode: dict[str, Any],
    *,
    before_run: Any = None,
    **config: Any,
) -> dict[str, Any]:
    venue = instrument_id.split(".")[1]
    strategy = ImportableStrategyConfig(
        strategy_path="nautilus_ai.strategies.ai_pattern:AIPatternStrategy",
        config_path="nautilus_ai.strategies.ai_pattern:AIPatternConfig",
        config=strategy_config(instrument_id, bar_type, tick_mode=tick_mode, **config),
    )
    run = BacktestRunConfig(
        venues=[
            BacktestVenueConfig(
                name=venue,
                oms_type="NETTING",
                account_type="MARGIN",
                base_currency="USD",
                starting_balances=["100000 USD"],
                default_leverage=30.0,
            )
        ],
        data=[
            BacktestDataConfig(
                catalog_path=str(catalog),
                data_cls="nautilus_trader.model.data:QuoteTick",
                instrument_id=instrument_id,
            ),
            BacktestDataConfig(
                catalog_path=str(catalog),
                data_cls="nautilus_trader.model.data:Bar",
                instrument_id=instrument_id,
                bar_types=[bar_type],
            ),
        ],
        engine=BacktestEngineConfig(
            strategies=[strategy], logging=LoggingConfig(log_level="ERROR")
        ),
        raise_exception=True,
        dispose_on_completion=False,
    )
    node = BacktestNode([run])
    node.build()
    engine = node.get_engine(run.id)
    strategy_obj = engine.trader.strategies()[0]
    if before_run is not None:
        before_run(strategy_obj)
    node.run()
    decider = strategy_obj.tick_mode.decider
    result = {
        "ts": list(decider.ts),
        "bar_ts": list(decider.bar_ts),
        "records": list(strategy_obj.tick_decisions),
        "bar_records": list(strategy_obj.decisions),
        "seen": strategy_obj.tick_mode.ticks_seen,
        "precomputed": strategy_obj.tick_mode.precomputed is not None,
        "fallbacks": strategy_obj.tick_mode.precomputed_fallbacks,
        "rejected": strategy_obj.health.bars_rejected_total,
        "predictor_errors": strategy_obj.health.predictor_errors,
        "held_stale": strategy_obj.health.ticks_held_stale,
        "orders": list(engine.cache.orders(strategy_id=strategy_obj.id)),
        "trades": list(strategy_obj.trades),
    }
    node.dispose()
    return result


def readme_tick_commands() -> list[str]:
    """The ``nautilus-ai`` lines of the README's quote-tick section's bash blocks, in order."""
    section = (REPO / "README.md").read_text().split("\n## Quote ticks: ", 1)[1]
    blocks = re.findall(r"```bash\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    assert blocks, "README: no bash block in ## Quote ticks"
    lines = "\n".join(blocks).splitlines()
    return [line for line in lines if line.startswith("nautilus-ai ")]


@pytest.fixture(scope="module")
def tick_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's commands, in order, on a catalog that already holds bars."""
    catalog = tmp_path_factory.mktemp("ticks") / "catalog"
    import_v1_bars(catalog)  # 300 HistData bars already stored
    before = read_bars(catalog, "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL")[0].size
    commands = readme_tick_commands()
    assert [" ".join(shlex.split(c)[1:4]) for c in commands] == [
        "data import dukascopy",
        "data import lean",
        "data import lean",
        "backtest backtests/ticks.yaml",  # run by test_the_tick_run_file_trades_...
        "train --ticks EUR/USD.SIM",  # run by test_a_model_trained_on_ticks_...
    ], "the README's tick commands changed: update this test with them"
    for index, command in enumerate(commands[:3]):
        argv = shlex.split(command.replace("../shared/data", str(DATA)))[1:]
        assert main([*argv, "--catalog", str(catalog), "-q"]) == 0, command
        if index == 0:
            quotes = read_quotes(catalog, "EUR/USD.SIM")
            assert quotes.ts_event.size == 136_741
            assert (quotes.bid_size > 0).all() and (quotes.ask_size > 0).all()
            assert read_bars(catalog, "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL")[0].size == 1_440
        elif index == 1:
            quotes = read_quotes(catalog, "EUR/USD.FXCM")
            assert quotes.ts_event.size == 58_143 + 102_682
            assert (quotes.bid_size == 0).all()  # LEAN ticks carry no sizes
            assert (quotes.bid > quotes.ask).mean() > 0.05  # crossed FXCM quotes are kept
        else:
            assert read_bars(catalog, "EUR/USD.FXCM-1-MINUTE-BID-EXTERNAL")[0].size == 2_841
    # The bars stored before are untouched.
    assert read_bars(catalog, "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL")[0].size == before == 300
    return catalog


def same_decisions(run: dict[str, Any], pure: TickDecider, records: list[Any]) -> None:
    """The node's tick decisions are the pure path's, record for record (the model's time
    aside: no record carries it)."""
    assert run["ts"] == pure.ts and run["bar_ts"] == pure.bar_ts
    assert run["records"] == records
    assert all(r.on_tick for r in records) and [r.ts_event for r in records] == pure.ts
    assert run["bar_records"] == []  # tick mode: bars give features, every decision is a tick's


@pytest.mark.parametrize("tick_mode", [{"every_ticks": 1}, {"every_ticks": 5, "every_ms": 250.0}])
def test_dukascopy_ticks_backtest_decides_like_the_pure_path(
    tick_catalog: Path, tick_mode: dict[str, Any]
) -> None:
    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    run = run_node(tick_catalog, instrument, bar_type, tick_mode)
    pure, records, _, tick_ts = pure_decisions(tick_catalog, instrument, bar_type, tick_mode)
    assert run["rejected"] == 0 and run["orders"] == []  # observe-only
    assert run["seen"] == tick_ts.size == pure.ticks_seen > 100_000  # one real day of EUR/USD
    assert len(run["ts"]) > 1000
    same_decisions(run, pure, records)
    actions = {r.action for r in records}
    assert {"buy", "sell"} <= actions  # the tick rule fires both ways on a real day
    assert {"enter"} <= {r.intent for r in records}  # and the core would enter
    if tick_mode["every_ticks"] == 1:
        assert len(run["ts"]) == sum(1 for t in tick_ts if t > pure.bar_ts[0])  # every eligible
    else:
        assert all(b - a >= 250_000_000 for a, b in itertools.pairwise(run["ts"]))


def test_fxcm_ticks_backtest_decides_like_the_pure_path(tick_catalog: Path) -> None:
    instrument, bar_type = "EUR/USD.FXCM", "EUR/USD.FXCM-1-MINUTE-BID-EXTERNAL"
    tick_mode = {"every_ticks": 3}
    run = run_node(tick_catalog, instrument, bar_type, tick_mode)
    pure, records, _, tick_ts = pure_decisions(tick_catalog, instrument, bar_type, tick_mode)
    assert run["rejected"] == 0
    assert run["seen"] == tick_ts.size == pure.ticks_seen > 100_000
    same_decisions(run, pure, records)
    assert {"buy", "sell"} <= {r.action for r in records}


def test_a_bar_model_decides_on_ticks_like_the_pure_path(tick_catalog: Path) -> None:
    """Any backend decides on ticks: the bar rule reads its features by name from the tick
    vector (the last completed bar's block)."""
    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    tick_mode = {"every_ms": 1000.0}
    run = run_node(tick_catalog, instrument, bar_type, tick_mode, predictor={"kind": "rule"})
    pure, records, _, _ = pure_decisions(
        tick_catalog, instrument, bar_type, tick_mode, {"kind": "rule"}
    )
    same_decisions(run, pure, records)
    assert records[0].model_id.startswith("rule-trend-momentum/")


def test_the_pure_decision_vectors_equal_the_vectorised_tick_features(
    tick_catalog: Path,
) -> None:
    """The decision vectors' tick block equals compute_tick_features over the catalog's ticks."""
    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    pure, _, bar_ts, _ = pure_decisions(tick_catalog, instrument, bar_type, {"every_ticks": 1})
    q = read_quotes(tick_catalog, instrument)
    tick_features, bar_row = compute_tick_features(
        bar_ts, q.ts_event, q.bid, q.ask, q.bid_size, q.ask_size
    )
    decided = np.searchsorted(q.ts_event, np.asarray(pure.ts), side="left")
    # Dukascopy repeats no timestamp within these hours: positions are exact.
    assert np.array_equal(q.ts_event[decided], np.asarray(pure.ts))
    vectors = np.asarray(pure.features)
    k = len(FeatureSpec().names)
    assert np.array_equal(vectors[:, k:], tick_features[decided])
    assert np.array_equal(bar_ts[bar_row[decided]], np.asarray(pure.bar_ts))


def test_the_tick_run_file_trades_with_protected_positions(
    tick_catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's ``nautilus-ai backtest backtests/ticks.yaml`` after its imports: tick
    decisions of the tick rule place orders, the entries fill, and every position is closed
    by its protective stop / target (or the strategy) with the decision that opened it."""
    command = readme_tick_commands()[3]
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(tick_catalog))
    monkeypatch.setenv("NAUTILUS_AI_REPORTS", str(tmp_path))
    monkeypatch.chdir(REPO)
    assert main(shlex.split(command)[1:]) == 0, command
    (report,) = tmp_path.iterdir()
    stats = json.loads((report / "stats.json").read_text())
    status = stats["extra"]["strategies"]["AIPatternStrategy-000"]
    assert status["status"] == "ok" and status["denied"] == status["rejected"] == 0
    assert stats["trades"] >= 20 and status["filled"] >= 2 * stats["trades"]
    assert status["entry_signals"] >= stats["trades"]  # counted from the tick decisions
    decisions = pq.read_table(report / "decisions.parquet").to_pylist()
    assert len(decisions) > 20_000 and all(d["on_tick"] for d in decisions)
    sent = [d for d in decisions if d["order_sent"]]
    assert {d["intent"] for d in sent} >= {"enter"}
    trades = list(csv.DictReader((report / "trades.csv").read_text().splitlines()))
    assert len(trades) == stats["trades"]
    reasons = {t["exit_reason"] for t in trades}
    assert {"stop_loss", "take_profit"} <= reasons  # the venue-side exits closed positions
    assert reasons <= {"stop_loss", "take_profit", "max_holding", "reversal", "strategy_stop"}
    entry_ts = {d["ts_event"] for d in sent if d["intent"] in ("enter", "reverse")}
    assert {int(t["decision_ts"]) for t in trades} <= entry_ts  # each trade from a tick decision
    assert all(t["model_id"].startswith("tick-rule/") for t in trades)


TRADING = {
    "observe_only": False,
    "min_confidence": 0.6,
    "stop_loss_atr": 2.0,
    "take_profit_atr": 3.0,
    "predictor": {"kind": "tick_rule", "entry_atr": 1.0},
}


def test_every_tick_entry_carries_its_stop_and_target(tick_catalog: Path) -> None:
    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    run = run_node(tick_catalog, instrument, bar_type, {"every_ticks": 5}, **TRADING)
    sent = [r for r in run["records"] if r.order_sent and r.intent in ("enter", "reverse")]

    def role(order: Any) -> str:
        tags = [t for t in order.tags or [] if t.startswith("exit=")]
        return tags[0].removeprefix("exit=") if tags else "entry"

    orders = run["orders"]
    entries = [o for o in orders if role(o) == "entry"]
    assert len(sent) >= 20 and len(entries) >= 20
    filled = [o for o in entries if o.filled_qty.as_double() > 0]
    stops = [o for o in orders if role(o) == "stop_loss"]
    targets = [o for o in orders if role(o) == "take_profit"]
    assert stops and len(stops) == len(targets) == len(filled)  # each fill got both exits
    assert {o.order_type for o in stops} == {OrderType.STOP_MARKET}
    assert len(run["trades"]) >= 20 and run["predictor_errors"] == 0


def test_pause_applies_to_tick_decisions(tick_catalog: Path) -> None:
    """Paused before the first tick: the model still says buy / sell, the core enters
    nothing and no order is sent."""
    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    run = run_node(
        tick_catalog, instrument, bar_type, {"every_ticks": 5},
        before_run=lambda strategy: strategy.pause_trading("test"), **TRADING,
    )  # fmt: skip
    records = run["records"]
    assert {"buy", "sell"} <= {r.action for r in records if r.confidence >= 0.6}
    assert {r.intent for r in records} == {"none"} and run["orders"] == []


class FaultyTickModelConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["faulty_tick_test"] = "faulty_tick_test"
    every: int = 7


class FaultyTickModel:
    """The tick rule, raising on every ``every``-th call."""

    batch_exact = False

    def __init__(self, inner: Any, every: int) -> None:
        self.inner, self.every, self.calls = inner, every, 0
        self.model_id, self.spec_hash = "faulty/1", inner.spec_hash

    def predict(self, features: np.ndarray, context: MarketContext) -> Any:
        self.calls += 1
        if self.calls % self.every == 0:
            raise RuntimeError(f"model fault on call {self.calls}")
        return self.inner.predict(features, context)

    def predict_batch(self, features: np.ndarray, contexts: Any = None) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


def test_a_model_fault_on_a_tick_holds_and_is_counted(tick_catalog: Path) -> None:
    register_backend(
        "faulty_tick_test", FaultyTickModelConfig,
        lambda config, spec: FaultyTickModel(
            build_predictor({"kind": "tick_rule", "entry_atr": 1.0}, spec), config.every),
        replace=True,
    )  # fmt: skip
    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    config = {**TRADING, "predictor": {"kind": "faulty_tick_test"}}
    run = run_node(tick_catalog, instrument, bar_type, {"every_ticks": 5}, **config)
    records = run["records"]
    failed = [r for r in records if r.error is not None]
    assert len(failed) == len(records) // 7 == run["predictor_errors"]
    assert all(r.action == "hold" and r.intent in ("none", "exit") for r in failed)
    assert "model fault on call 7" in failed[0].error
    assert len(run["trades"]) >= 10  # the other ticks still traded


@pytest.mark.extra("torch")
def test_a_model_trained_on_ticks_decides_on_ticks_in_a_backtest(
    tick_catalog: Path, tmp_path: Path
) -> None:
    """Issue 15 part 1: an MLP trained on the catalog's decision ticks (tick vectors,
    forward-mid label, purged splits) is the strategy's model in tick mode; the node decides
    exactly as the pure path with the same model; bar-only mode and Pine refuse it."""
    from nautilus_ai.models.card import read_model_card
    from nautilus_ai.pine import export_mlp_artifact
    from nautilus_ai.training import TrainConfig
    from nautilus_ai.training.ticks import load_tick_rows, train_tick_model

    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    tick_mode = {"every_ticks": 5}
    day = "2019-02-04T"
    fold = Fold(
        train=Window.parse(f"{day}00:00:00", f"{day}14:00:00"),
        validation=Window.parse(f"{day}14:00:00", f"{day}18:00:00"),
        test=Window.parse(f"{day}18:00:00", "2019-02-05T00:00:00"),
    )
    command = readme_tick_commands()[4]  # the README's, after its imports (the fixture)
    argv = [*shlex.split(command)[1:], "--catalog", str(tick_catalog), "--out", str(tmp_path)]
    assert main([*argv, "--threads", "1"]) == 0, command
    artifact = tmp_path / "mlp-ticks" / "v1"
    card = read_model_card(artifact)
    vector_spec = TickVectorSpec(FeatureSpec())
    assert card.feature_names == vector_spec.names and card.spec_hash == vector_spec.hash
    assert card.metrics["test"]["rows"] > 1_000 and card.metrics["data"]["decision_ticks"] > 20_000
    assert card.label["description"].startswith("forward_return over 20 decision ticks: buy")
    # The API the command runs, on the same rows (what the purging assertion reads).
    result = train_tick_model(
        tick_catalog, instrument_id=instrument, bar_type=bar_type, fold=fold,
        tick_mode=TickModeConfig(**tick_mode), artifacts_root=tmp_path / "api",
        config=TrainConfig(epochs=2, hidden=(8,), threads=1),
    )  # fmt: skip
    assert len(result.dataset.train) > 10_000 and len(result.dataset.test) > 1_000
    # Purged: no training row's 20-tick label reaches into the validation window.
    rows = load_tick_rows(
        tick_catalog, instrument_id=instrument, bar_type=bar_type,
        tick_mode=TickModeConfig(**tick_mode),
    )  # fmt: skip
    train_rows = result.dataset.train.rows
    assert rows.ts[train_rows.max() + 20] < fold.train.end_ns
    predictor = {"kind": "torch", "path": str(artifact)}
    pure, records, _, _ = pure_decisions(tick_catalog, instrument, bar_type, tick_mode, predictor)
    # The training rows are the tick mode's decision ticks and vectors (the bar block from the
    # vectorised features: equal up to an ulp of a log return; the tick block bit for bit).
    assert rows.ts.tolist() == pure.ts
    vectors = np.asarray(pure.features)
    k = len(FeatureSpec().names)
    assert np.array_equal(rows.features[:, k:], vectors[:, k:])
    np.testing.assert_allclose(rows.features[:, :k], vectors[:, :k], rtol=1e-12, atol=1e-15)
    run = run_node(tick_catalog, instrument, bar_type, tick_mode, predictor=predictor)
    same_decisions(run, pure, records)
    assert {r.model_id for r in records} == {card.model_id}
    assert {"buy", "sell"} <= {r.action for r in records}
    with pytest.raises(SpecMismatchError, match=r"tick feature 'tick_spread'.*tick_mode"):
        build_predictor(predictor, FeatureSpec())  # bar-only mode
    with pytest.raises(ValueError, match="reads 'tick_spread', which Pine cannot compute"):
        export_mlp_artifact(artifact)


def test_the_readme_run_file_excerpt_is_the_run_file() -> None:
    section = (REPO / "README.md").read_text().split("**Tick mode** (", 1)[1]
    excerpt = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert excerpt is not None
    run_file = (REPO / "backtests" / "ticks.yaml").read_text().splitlines()
    shown = [line for line in excerpt.group(1).splitlines() if line.strip() != "..."]
    assert all(line in run_file for line in shown), "README excerpt differs from the run file"


@pytest.mark.parametrize("trading", [False, True])
def test_precomputed_ticks_decide_like_the_incremental_path(
    tick_catalog: Path, trading: bool
) -> None:
    """``feature_source: precomputed``: the bar features read once from the catalog and, with
    a batch-exact model, every tick decision looked up: the same decisions, orders and trades
    as tick by tick."""
    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    tick_mode = {"every_ticks": 3}
    config = TRADING if trading else {}
    incremental = run_node(tick_catalog, instrument, bar_type, tick_mode, **config)
    precomputed = run_node(
        tick_catalog, instrument, bar_type, tick_mode,
        feature_source="precomputed", catalog_path=str(tick_catalog), **config,
    )  # fmt: skip
    assert precomputed["precomputed"] and precomputed["fallbacks"] == 0
    assert precomputed["seen"] == incremental["seen"] > 100_000
    assert len(precomputed["records"]) > 10_000
    assert precomputed["records"] == incremental["records"]
    assert precomputed["trades"] == incremental["trades"]
    assert len(precomputed["orders"]) == len(incremental["orders"])
    if trading:
        assert len(incremental["trades"]) >= 20


@pytest.mark.parametrize("feature_source", ["incremental", "precomputed"])
def test_ticks_on_stale_bar_features_are_held_on_both_paths(
    tick_catalog: Path, tmp_path: Path, feature_source: str
) -> None:
    """The catalog's MID bars lose 10:00-10:20 UTC (a bar feed that stopped) while the quotes
    go on: from one period after the first missing bar was due until the next bar, every quote
    is held, on the incremental and the precomputed path alike, and the rest decides as before.
    """
    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    catalog = tmp_path / "catalog"
    shutil.copytree(tick_catalog, catalog)
    (bar_file,) = (catalog / "data" / "bar" / "EURUSD.SIM-1-MINUTE-MID-EXTERNAL").glob("*.parquet")
    table = pq.read_table(bar_file)
    day = int(table["ts_event"][0].as_py()) // DAY_NS * DAY_NS
    lost = (day + 10 * HOUR_NS, day + 10 * HOUR_NS + 20 * MINUTE_NS)  # bars closing in (a, b]
    ts = table["ts_event"].to_numpy()
    pq.write_table(table.filter(~((ts > lost[0]) & (ts <= lost[1]))), bar_file)
    tick_mode = {"every_ticks": 4}
    extra = {} if feature_source == "incremental" else {"catalog_path": str(catalog)}
    clean = run_node(tick_catalog, instrument, bar_type, tick_mode)
    stale = run_node(catalog, instrument, bar_type, tick_mode, feature_source=feature_source,
                     **extra)  # fmt: skip
    if feature_source == "precomputed":
        assert stale["precomputed"] and stale["fallbacks"] == 0
    q = read_quotes(catalog, instrument).ts_event
    # Held: the quotes after the first lost bar's close plus one period (its delay allowed),
    # to the bar after the gap (closing at lost[1] + 1 minute), which takes effect after it.
    held = q[(q > lost[0] + 2 * MINUTE_NS) & (q <= lost[1] + MINUTE_NS)]
    assert stale["held_stale"] == held.size > 1_000
    assert not [t for t in stale["ts"] if lost[0] + 2 * MINUTE_NS < t <= lost[1] + MINUTE_NS]
    before = [r for r in clean["records"] if r.ts_event <= lost[0] + MINUTE_NS]
    assert stale["records"][: len(before)] == before
    assert clean["held_stale"] == 0


def test_a_tick_that_is_not_the_catalogs_falls_back_to_the_incremental_path(
    tick_catalog: Path,
) -> None:
    """A quote the catalog does not hold (here: one tick's bid changed on its way in) makes the
    tick mode replay the run into the incremental path and go on: the decisions are those of
    an incremental run over the same (changed) ticks."""
    from nautilus_ai.strategies.tick_mode import TickMode

    instrument, bar_type = "EUR/USD.SIM", "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"
    changed: dict[str, Any] = {}
    original = TickMode.on_quote_tick

    def altered(self: Any, tick: Any) -> None:
        if self.ticks_seen == 60_000:  # well after the first decision tick
            from nautilus_trader.model.objects import Price

            bid = Price(tick.bid_price.as_double() - 1e-5, tick.bid_price.precision)
            tick = type(tick)(tick.instrument_id, bid, tick.ask_price, tick.bid_size,
                              tick.ask_size, tick.ts_event, tick.ts_init)  # fmt: skip
            changed["ts"] = tick.ts_event
        original(self, tick)

    TickMode.on_quote_tick = altered  # type: ignore[method-assign]
    try:
        incremental = run_node(tick_catalog, instrument, bar_type, {"every_ticks": 2})
        precomputed = run_node(
            tick_catalog, instrument, bar_type, {"every_ticks": 2},
            feature_source="precomputed", catalog_path=str(tick_catalog),
        )  # fmt: skip
    finally:
        TickMode.on_quote_tick = original  # type: ignore[method-assign]
    assert "ts" in changed and precomputed["fallbacks"] == 1 and not precomputed["precomputed"]
    assert precomputed["records"] == incremental["records"]
    assert precomputed["seen"] == incremental["seen"]


def test_a_tick_model_in_bar_only_mode_fails_the_run_naming_the_feature(
    tick_catalog: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``backtests/ticks.yaml`` without its ``tick_mode``: the tick rule cannot be built for
    bar vectors; the run fails in one line that names the tick feature and the setting."""
    lines = (REPO / "backtests" / "ticks.yaml").read_text().splitlines()
    run_file = tmp_path / "bar_only.yaml"
    run_file.write_text("\n".join(line for line in lines if "tick_mode:" not in line))
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(tick_catalog))
    monkeypatch.setenv("NAUTILUS_AI_REPORTS", str(tmp_path / "reports"))
    assert main(["backtest", str(run_file)]) == 1  # the run failed (not a usage error)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nautilus-ai: error: backtest failed")
    assert "tick feature 'tick_mid_ret'" in err[0] and "set the strategy's tick_mode" in err[0]
