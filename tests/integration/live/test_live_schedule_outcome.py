"""A live control schedule entry that was due while the node ran but was not applied (the
strategy refused it: a switch to a model that cannot be built) fails the run, naming the entry,
as it does in a backtest. Before, the live run said ``status ok`` and ``nautilus-ai live`` exited
0 while the strategy kept trading on the model the schedule meant to replace."""

from __future__ import annotations

import time
from pathlib import Path

from fixtures.live_configs import STRATEGY, live_config

from nautilus_ai.live import load_live_config, run_live


def test_a_scheduled_command_the_strategy_refused_fails_the_live_run(
    tmp_path: Path, replay_catalog: Path
) -> None:
    past = time.time_ns() - 60_000_000_000
    later = time.time_ns() + 3_600_000_000_000  # after the run: not a problem in a live node
    schedule = [
        {"at": past, "type": "pause", "strategy_id": STRATEGY, "reason": "ok"},
        {"at": past + 1, "type": "switch_model", "strategy_id": STRATEGY,
         "config": {"kind": "broken"}},
        {"at": later, "type": "resume", "strategy_id": STRATEGY},
    ]  # fmt: skip
    path = live_config(
        tmp_path, replay_catalog, speed=20_000, limit=200,
        control={"listen": False, "schedule": schedule},
    )  # fmt: skip
    outcome = run_live(load_live_config(path, env={}))
    assert [r["status"] for r in outcome.control] == ["applied", "failed"]
    assert outcome.status == "failed"
    assert outcome.reasons == [
        f"control schedule[1] (switch_model for {STRATEGY} at "
        f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime((past + 1) // 10**9))}Z) failed: "
        "ValueError: no predictor backend 'broken'"
    ]
