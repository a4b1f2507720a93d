"""A live run in which the strategy stops itself is a failed run: exit 1, the reason, and the
node does not idle on with nothing trading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from fixtures.live_configs import live_config, use_ai_pattern
from pydantic import BaseModel, ConfigDict

from nautilus_ai.cli import main
from nautilus_ai.live import load_live_config, run_live
from nautilus_ai.models import Prediction, register_backend
from nautilus_ai.models.base import Action


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


class AlwaysBuyConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["always_buy_test"] = "always_buy_test"


class AlwaysBuy:
    """Buys on every bar: the strategy holds a position when the node stops."""

    model_id = "always-buy/1"

    def __init__(self, spec: Any) -> None:
        self.spec_hash = spec.hash

    def predict(self, features: Any, context: Any) -> Prediction:
        return Prediction(Action.BUY, 1.0, 0.0, self.model_id, reason="always")

    def predict_batch(self, features: Any, contexts: Any = None) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        pass


def test_a_position_left_open_after_a_stop_that_should_close_it_fails_the_run(
    replay_catalog: Path, tmp_path: Path
) -> None:
    """close_positions_on_stop: the closing order did not fill before the node stopped (here it
    is never sent, as when the venue refuses it): the run said "ok" (exit 0) with a position
    still open at the broker."""
    register_backend(
        "always_buy_test", AlwaysBuyConfig, lambda config, spec: AlwaysBuy(spec), replace=True
    )
    path = live_config(tmp_path, replay_catalog, limit=200)
    use_ai_pattern(path)
    data = yaml.safe_load(path.read_text())
    data["node"]["strategies"][0]["config"].update(
        predictor={"kind": "always_buy_test"}, max_holding_bars=None
    )
    path.write_text(yaml.safe_dump(data))

    def on_built(node: Any) -> None:
        strategy = node.trader.strategies()[0]
        close = strategy._close
        strategy._close = lambda why: None if why == "strategy_stop" else close(why)

    outcome = run_live(load_live_config(path), on_built=on_built)
    assert outcome.status == "failed"
    [reason] = outcome.reasons
    assert reason.startswith("AIPatternStrategy-001 still holds a position after the stop"), reason
    assert "EUR/USD.SIM" in reason and "close_positions_on_stop" in reason
    # A clean stop (the position closed) stays ok.
    assert run_live(load_live_config(path)).status == "ok"
