"""A live run in which the strategy stops itself is a failed run: exit 1, the reason, and the
node does not idle on with nothing trading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fixtures.live_configs import live_config

from nautilus_ai.cli import main


def _faulty(path: Path, fault: str) -> None:
    data = yaml.safe_load(path.read_text())
    strategy = data["node"]["strategies"][0]
    strategy["strategy_path"] = "fixtures.faulty_strategy:FaultyStrategy"
    strategy["config_path"] = "fixtures.faulty_strategy:FaultyConfig"
    strategy["config"] = {
        "instrument_id": strategy["config"]["instrument_id"],
        "bar_type": strategy["config"]["bar_type"],
        "order_id_tag": "001",
        "fault": fault,
        "at_bar": 20,
    }
    path.write_text(yaml.safe_dump(data))


def test_a_strategy_that_stops_itself_fails_the_live_run(
    replay_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = live_config(tmp_path, replay_catalog, run={"max_runtime_secs": 60})
    _faulty(path, "stop")
    assert main(["live", str(path), "--json"]) == 1
    captured = capsys.readouterr()
    outcome = json.loads(captured.out)
    assert outcome["status"] == "failed"
    assert outcome["stopped_by"] == "every strategy stopped"  # not the 60 s max runtime
    assert outcome["seconds"] < 30
    [reason] = outcome["reasons"]
    assert reason.startswith("FaultyStrategy-001 stopped while the node was running")
    assert "live run failed: FaultyStrategy-001 stopped" in captured.err


def test_a_healthy_live_run_is_ok(
    replay_catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = live_config(tmp_path, replay_catalog, limit=200)
    assert main(["live", str(path), "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["status"] == "ok" and outcome["reasons"] == []
    assert outcome["stopped_by"] == "replay finished"
