"""A live control schedule whose entries are already due when the node starts (a restart, a slow
start) is applied in its own order. The live clock fires every past-due alert at once, in no set
order: a pause / resume pair was seen applied resume, pause (a loaded box, 2 of 5 runs), leaving
the strategy paused for the whole session though the schedule ended with a resume."""

from __future__ import annotations

import time
from pathlib import Path

from fixtures.live_configs import STRATEGY, live_config

from nautilus_ai.live import load_live_config, run_live


def test_past_due_entries_apply_in_schedule_order(tmp_path: Path, replay_catalog: Path) -> None:
    past = time.time_ns() - 60_000_000_000
    # Five pause / resume pairs, all due a minute ago: the last entry is a resume.
    schedule = []
    for i in range(5):
        schedule.append({"at": past + 2 * i, "type": "pause", "strategy_id": STRATEGY,
                         "reason": f"pause {i}"})  # fmt: skip
        schedule.append({"at": past + 2 * i + 1, "type": "resume", "strategy_id": STRATEGY})
    path = live_config(
        tmp_path, replay_catalog, speed=20_000, limit=300,
        control={"listen": False, "schedule": schedule},
    )  # fmt: skip
    outcome = run_live(load_live_config(path, env={}))
    assert [r["command_type"] for r in outcome.control] == ["pause", "resume"] * 5
    assert [r["status"] for r in outcome.control] == ["applied"] * 10
    state = outcome.strategies[STRATEGY]
    assert state["paused"] is False and state["bars"] == 300
    assert state["last_decision"]["intent"] != "paused"
