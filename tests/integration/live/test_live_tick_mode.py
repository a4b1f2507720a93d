"""Tick mode in a live TradingNode (issue 15.1): replayed real EUR/USD quotes and bars, Sandbox
fills. Every decision is made on a quote tick through the strategy's model and decision core;
they place orders with their protective exits, and pause / resume applies to them. Replaying a
catalog's recorded Dukascopy ticks, the live node decides as the pure incremental path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fixtures.live_configs import AI_STRATEGY, ai_pattern_strategy, live_config
from fixtures.tick_paths import pure_decisions, strategy_config

from nautilus_ai.cli import main
from nautilus_ai.data.catalog import read_quotes
from nautilus_ai.live import load_live_config, read_trade_log, run_live

PAUSED_TICKS = 300


@pytest.mark.slow
def test_tick_decisions_trade_on_a_live_node_and_obey_pause(
    tmp_path: Path, replay_catalog: Path
) -> None:
    path = live_config(tmp_path, replay_catalog, speed=15_000, limit=3000)
    data = yaml.safe_load(path.read_text())
    strategy_config = ai_pattern_strategy()
    strategy_config["config"].update(
        tick_mode={"every_ticks": 1}, stop_loss_atr=3.0, take_profit_atr=4.5,
        max_holding_bars=30,
    )  # fmt: skip
    data["node"]["strategies"] = [strategy_config]
    path.write_text(yaml.safe_dump(data))
    seen: dict[str, Any] = {"entries": 0, "paused_ticks": -1, "window": []}

    def sink(ts: int, row: np.ndarray, p: Any, intent: str, qty: float, sent: bool) -> None:
        """The operator: pause after the third tick entry, resume PAUSED_TICKS ticks later
        (on the loop, between two ticks, as a control command would)."""
        strategy = seen["strategy"]
        if 0 <= seen["paused_ticks"] < PAUSED_TICKS:
            seen["window"].append((p.action.value, p.confidence, intent, sent))
            seen["paused_ticks"] += 1
            if seen["paused_ticks"] == PAUSED_TICKS:
                strategy.resume_trading()
            return
        if sent and intent == "enter":
            seen["entries"] += 1
            if seen["entries"] == 3 and seen["paused_ticks"] < 0:
                strategy.pause_trading("test: pause tick decisions")
                seen["paused_ticks"] = 0

    def on_built(node: Any) -> None:
        strategy = seen["strategy"] = node.trader.strategies()[0]
        strategy.add_decision_sink(sink)

    outcome = run_live(load_live_config(path), on_built=on_built)
    strategy = seen["strategy"]
    status = outcome.strategies[AI_STRATEGY]
    assert status["health"]["predictor_errors"] == 0
    records = list(strategy.tick_decisions)
    assert len(records) > 2500 and all(r.on_tick for r in records)
    assert list(strategy.decisions) == []  # bars only gave features
    entries = [r for r in records if r.order_sent and r.intent in ("enter", "reverse")]
    assert len(entries) >= 5
    # The venue filled the tick decisions' entries, and every fill came with its exits.
    log = read_trade_log(tmp_path / "trades.jsonl")
    entry_fills = [
        r for r in log
        if r["event"] == "fill" and not any(t.startswith("exit=") for t in r["tags"])
        and any(t.startswith("decision_ts=") for t in r["tags"])
    ]  # fmt: skip
    decided = {f"decision_ts={r.ts_event}" for r in entries}
    assert len(entry_fills) >= 5 and all(decided & set(r["tags"]) for r in entry_fills)
    assert [t for t in strategy.trades if t.exit_reason in ("stop_loss", "take_profit")]
    # Pause applied to the ticks: signals kept coming, no entry went out until the resume.
    window = seen["window"]
    assert len(window) == PAUSED_TICKS
    assert [w for w in window if w[0] != "hold" and w[1] >= 0.5], "no signal while paused"
    assert not [w for w in window if w[2] in ("enter", "reverse")]
    assert seen["entries"] > 3, "no entry after the resume"


MID = "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"


@pytest.fixture(scope="module")
def dukascopy_ticks(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six hours of real Dukascopy EUR/USD ticks (4 Feb 2019, 06-12h) and their MID bars."""
    hours = sorted((data_dir / "dukascopy" / "EURUSD" / "2019" / "01" / "04").glob("*.bi5"))
    catalog = tmp_path_factory.mktemp("ticks") / "catalog"
    argv = ["data", "import", "dukascopy", *map(str, hours[6:12]), "--bars", "60:MID"]
    assert main([*argv, "--catalog", str(catalog), "-q"]) == 0
    return catalog


@pytest.mark.slow
def test_recorded_ticks_replayed_live_decide_as_the_pure_path(
    tmp_path: Path, dukascopy_ticks: Path
) -> None:
    """The replay client emits the catalog's recorded quotes (``quotes: catalog``) between the
    bars; the live node's tick decisions are the pure incremental path's, record for record."""
    path = live_config(tmp_path, dukascopy_ticks)
    data = yaml.safe_load(path.read_text())
    data["data_clients"]["REPLAY"]["config"].update(bar_types=[MID], quotes="catalog")
    tick_mode = {"every_ticks": 1}
    strategy = {**ai_pattern_strategy(), "config": {
        "order_id_tag": "001", **strategy_config("EUR/USD.SIM", MID, tick_mode=tick_mode),
    }}  # fmt: skip
    data["node"]["strategies"] = [strategy]
    path.write_text(yaml.safe_dump(data))
    built: list[Any] = []
    outcome = run_live(
        load_live_config(path), on_built=lambda node: built.extend(node.trader.strategies())
    )
    live = built[0]
    assert outcome.strategies[AI_STRATEGY]["health"]["predictor_errors"] == 0
    quotes = read_quotes(dukascopy_ticks, "EUR/USD.SIM").ts_event.size
    assert live.tick_mode.ticks_seen == quotes > 20_000  # every recorded quote, once
    pure, records, _, _ = pure_decisions(dukascopy_ticks, "EUR/USD.SIM", MID, tick_mode)
    assert live.tick_mode.decider.ts == pure.ts and len(pure.ts) > 5_000
    assert list(live.tick_decisions) == records
    assert {"buy", "sell"} <= {r.action for r in records} and list(live.decisions) == []
