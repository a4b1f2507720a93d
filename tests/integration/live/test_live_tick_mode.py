"""Tick mode in a live TradingNode (issue 15.1): replayed real EUR/USD quotes and bars, Sandbox
fills. Every decision is made on a quote tick through the strategy's model and decision core;
they place orders with their protective exits, and pause / resume applies to them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from fixtures.live_configs import AI_STRATEGY, ai_pattern_strategy, live_config

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
