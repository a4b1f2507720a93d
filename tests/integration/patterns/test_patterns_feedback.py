"""Issue 15, part 4 end to end: the pattern memory trades in a real BacktestEngine and every
closed position's decision pattern joins the memory through the feedback sink (the memory does
not learn live here, so feedback is all it learns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fixtures.strategy_engine import run_engine

from nautilus_ai.catalog import read_bars
from nautilus_ai.features import accepted_bars_mask
from nautilus_ai.patterns import PatternMemory, build_from_bars, save_memory

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
HISTORY = 8_000  # bars the memory starts with; the run trades the bars after them


def test_closed_positions_teach_the_pattern_memory_in_a_backtest(
    january_bars: tuple[Any, list[Any]], demo_catalog: Path, tmp_path: Path
) -> None:
    instrument, bars = january_bars
    ts, ohlcv = read_bars(demo_catalog, BAR_TYPE)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    ts, ohlcv = ts[keep][:HISTORY], ohlcv[keep][:HISTORY]
    history = build_from_bars(ts, ohlcv, instrument_id="EUR/USD.SIM")
    save_memory(PatternMemory(history), tmp_path)
    later = [bar for bar in bars if bar.ts_event > ts[-1]][:12_000]  # bid + ask: 6,000 minutes
    predictor = {"kind": "pattern_memory", "path": str(tmp_path), "learn_live": False, "k": 20}
    strategy, _engine, _log = run_engine(
        instrument, later, predictor=predictor, context_bars=64, min_confidence=0.45,
        max_holding_bars=30, feedback={},
    )  # fmt: skip
    trades = strategy.trades
    assert len(trades) >= 3, "the pattern memory did not trade"
    status = strategy.feedback.status()
    model = strategy.feedback.model()
    assert status["outcomes"] == len(trades) and status["unlinked"] == 0
    assert status["to_model"] == model.feedback_added == len(trades)
    memory = model.memory
    assert len(memory) == len(history) + len(trades)
    joined = slice(len(history), None)
    assert memory.ts_event[joined].tolist() == sorted(t.decision_ts for t in trades)
    # each joined only once its position had closed (no decision before then could use it)
    closed = {t.decision_ts: t.ts_closed for t in trades}
    for ts_event, available in zip(memory.ts_event[joined], memory.available_ns[joined],
                                   strict=True):  # fmt: skip
        assert available >= closed[int(ts_event)]
    # and the strategy's status says what the memory holds and learned (control status)
    shown = strategy.control_status()["models"][model.model_id]
    assert shown["patterns"] == len(memory) and shown["learned"] == len(trades)
    assert shown["stored"] == len(history) and shown["learned_save_error"] is None
