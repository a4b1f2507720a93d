"""A live config whose strategy decides on bars from a live feed (not a replay) sets
``max_bar_age_secs``: without it, bars that arrive late after a feed stall are acted on at
prices that are gone. The packaged IB configs set it; ``live --check`` (and the start) refuse a
config that leaves it out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from nautilus_ai.live import LiveConfigError, load_live_config
from nautilus_ai.live.runner import prepare_live

PACKAGED = Path(__file__).resolve().parents[3] / "live"
ENV = {
    "NAUTILUS_AI_CONTROL_SECRET": "s" * 32,
    "NAUTILUS_AI_LIVE_TRADING_ACK": "yes",
    "IB_GATEWAY_HOST": "127.0.0.1",
    "IB_GATEWAY_PORT": "4002",
    "IB_ACCOUNT_ID": "DU1234567",
}
IB_CONFIGS = ["ib_idealpro_eurusd", "paper_ib_eurusd"]


def config(tmp_path: Path, name: str, **strategy: Any) -> Path:
    data = yaml.safe_load((PACKAGED / f"{name}.yaml").read_text())
    data["run"]["trade_log"] = str(tmp_path / "trades.jsonl")
    settings = data["node"]["strategies"][0]["config"]
    settings.update(strategy)
    for key in [k for k, v in settings.items() if v is None]:
        del settings[key]  # left out, as a user would
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("name", IB_CONFIGS)
def test_the_packaged_ib_configs_refuse_stale_bars(name: str, tmp_path: Path) -> None:
    run_file = load_live_config(config(tmp_path, name), env=ENV)
    age = run_file.node.strategies[0].config.get("max_bar_age_secs")
    # IB stamps a 1-minute bar with its start and sends it after the next one begins: ~65 s
    assert age is not None and 60 < age <= 180, age
    prepare_live(run_file, env=ENV)


@pytest.mark.parametrize("name", IB_CONFIGS)
def test_a_live_feed_without_a_bar_age_limit_is_refused(name: str, tmp_path: Path) -> None:
    path = config(tmp_path, name, max_bar_age_secs=None)
    with pytest.raises(LiveConfigError) as refused:
        prepare_live(load_live_config(path, env=ENV), env=ENV)
    message = str(refused.value)
    assert message.startswith(f"{path}: node.strategies[0].config.max_bar_age_secs: not set")
    assert "EUR/USD.IDEALPRO-1-MINUTE-BID-EXTERNAL" in message and "e.g. 120" in message
    assert "\n" not in message
