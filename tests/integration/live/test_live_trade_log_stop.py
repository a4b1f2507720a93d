"""The trade log keeps the orders a stop sends: the strategy closes its position as the node
stops (``close_positions_on_stop``), after Nautilus has already stopped the node's actors.

Before, the log actor closed its file in its own ``on_stop``, which Nautilus runs before the
strategies' (a SIGINT, ``max_runtime_secs``, the end of a replay): the closing fill and the
position's close were never written, so the log of every stopped run showed a position opened
and never closed, while the run said it ended flat (exit 0).
"""

from __future__ import annotations

from pathlib import Path

from fixtures.live_configs import STRATEGY, live_config

from nautilus_ai.live import load_live_config, read_trade_log, run_live


def test_the_fills_of_the_close_at_stop_are_in_the_trade_log(
    tmp_path: Path, replay_catalog: Path
) -> None:
    path = live_config(
        tmp_path, replay_catalog, speed=600, strategy={"hold_bars": 1_000_000},
        run={"stop_after_replay": False, "max_runtime_secs": 3.0},
    )  # fmt: skip
    outcome = run_live(load_live_config(path, env={}))
    assert outcome.status == "ok", outcome.reasons
    assert outcome.strategies[STRATEGY]["position"] == 0.0  # flat at the end ...
    log = read_trade_log(tmp_path / "trades.jsonl")
    events = [r["event"] for r in log]
    opened, closed = events.count("position_opened"), events.count("position_closed")
    assert opened >= 1
    assert closed == opened, events  # ... and the log says so
    assert any("exit=stop" in r["tags"] for r in log if r["event"] == "fill")
    assert [events[0], events[-1]] == ["start", "stop"]
