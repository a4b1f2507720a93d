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


def test_a_node_that_loses_its_trader_id_mid_run_stops_and_fails_the_run(
    tmp_path: Path,
    replay_catalog: Path,
    redis_server: LocalRedisServer,
    control_secret: bytes,
    monkeypatch: Any,
) -> None:
    """Another node took the trader id while this one could not refresh its claim: the control
    plane stopped reading commands and the node traded on, out of reach of pause and flatten,
    until its run ended 'ok'. Now the node stops and the run fails, naming the new holder."""
    import threading

    monkeypatch.setenv("NAUTILUS_AI_REDIS_URL", redis_server.url)
    path = live_config(
        tmp_path, replay_catalog, speed=30.0, control={"listen": True, "block_ms": 200},
        run={"max_runtime_secs": 40.0},
    )  # fmt: skip
    redis = connect(RedisSettings(redis_server.url))
    key = StreamNames(TRADER).presence
    usurper = Holder("trading-box-2", 4242, None, time.time_ns())

    def take_over_once_claimed(node: object) -> None:
        def run() -> None:
            deadline = time.monotonic() + 20
            while redis.get(key) is None and time.monotonic() < deadline:
                time.sleep(0.05)
            redis.set(key, usurper.to_json(), px=60_000)

        threading.Thread(target=run, daemon=True).start()

    outcome = run_live(load_live_config(path), on_built=take_over_once_claimed)
    redis.close()
    assert outcome.status == "failed", outcome
    assert outcome.stopped_by == "control plane refused"
    assert outcome.seconds < 36  # the max runtime (40 s) is what ended it before
    assert any(
        r.startswith(f"control plane refused: trader {TRADER} was claimed by a node on "
                     "trading-box-2 (pid 4242")
        for r in outcome.reasons
    ), outcome.reasons  # fmt: skip
