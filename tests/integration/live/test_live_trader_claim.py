"""A second live node with a trader id already live on the control plane's Redis is refused
before it is built: two nodes would read one command stream as one consumer and split the
commands between them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fixtures.live_configs import TRADER, live_config

from nautilus_ai.control import LocalRedisServer, RedisSettings, StreamNames, connect
from nautilus_ai.control.presence import Holder
from nautilus_ai.live import LiveConfigError, load_live_config, run_live


def test_a_node_whose_trader_id_is_live_elsewhere_is_refused_at_start(
    tmp_path: Path,
    replay_catalog: Path,
    redis_server: LocalRedisServer,
    control_secret: bytes,
    monkeypatch: Any,
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_REDIS_URL", redis_server.url)
    path = live_config(
        tmp_path, replay_catalog, limit=50, control={"listen": True, "block_ms": 200}
    )
    redis = connect(RedisSettings(redis_server.url))
    running = Holder("trading-box-2", 4242, None, time.time_ns())
    redis.set(StreamNames(TRADER).presence, running.to_json(), px=60_000)
    built: list[Any] = []
    with pytest.raises(LiveConfigError) as refused:
        run_live(load_live_config(path), on_built=built.append)
    message = str(refused.value)
    assert not built, "the node must not be built"
    assert "\n" not in message
    assert f"trader {TRADER} is already live on {redis_server.url}" in message
    assert "trading-box-2 (pid 4242" in message and "expires in" in message
    redis.close()
