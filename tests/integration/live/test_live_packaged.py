"""The packaged offline paper config runs end to end: ``nautilus-ai live paper_replay_eurusd``
on the demo catalog, with Nautilus' Redis cache and the control plane on a real redis-server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nautilus_ai.cli import main
from nautilus_ai.control import LocalRedisServer
from nautilus_ai.live import read_trade_log


@pytest.mark.slow
def test_packaged_paper_replay_config_runs(
    demo_catalog: Path,
    redis_server: LocalRedisServer,
    control_secret: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(demo_catalog))
    monkeypatch.setenv("NAUTILUS_AI_REPORTS", str(tmp_path))
    monkeypatch.setenv("NAUTILUS_AI_REDIS_PORT", str(redis_server.port))
    monkeypatch.setenv("NAUTILUS_AI_REDIS_URL", redis_server.url)
    assert main(["live", "paper_replay_eurusd", "--check"]) == 0
    capsys.readouterr()
    assert main(["live", "paper_replay_eurusd", "--max-runtime", "4", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["stopped_by"] == "max runtime"
    status = outcome["strategies"]["AIPatternStrategy-001"]
    # Bars reached the strategy (how many in 4 s depends on the box: 7 seen under load 3 on
    # two cores, where start-up took most of the run).
    assert status["bars"] > 0 and status["model_id"].startswith("rule-trend-momentum/")
    log = read_trade_log(tmp_path / "live" / "paper-replay-eurusd-trades.jsonl")
    assert [log[0]["event"], log[-1]["event"]] == ["start", "stop"]
