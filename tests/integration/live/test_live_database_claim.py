"""A node that keeps Nautilus' own state in Redis (``node.cache.database``) claims its trader id
there, whether or not it listens for control commands: two nodes of one trader id on one cache
database would load and overwrite each other's orders, positions and strategy state. Before,
only a listening node claimed its trader (on the control plane's Redis), so two nodes without
a control plane, or with control planes on other servers, both ran on one state."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures.live_configs import TRADER, live_config

from nautilus_ai.control import LocalRedisServer, RedisSettings, connect
from nautilus_ai.control.presence import Holder, database_claim_key
from nautilus_ai.live import LiveConfigError, load_live_config, run_live


def test_the_node_holds_its_trader_on_the_cache_database_and_releases_it(
    tmp_path: Path, replay_catalog: Path, redis_server: LocalRedisServer
) -> None:
    path = live_config(tmp_path, replay_catalog, redis_port=redis_server.port, limit=50)
    redis = connect(RedisSettings(redis_server.url))
    key = database_claim_key(TRADER)
    seen: list[Any] = []
    outcome = run_live(
        load_live_config(path, env={}), on_built=lambda node: seen.append(redis.get(key))
    )
    assert outcome.status == "ok", outcome.reasons
    assert seen and seen[0] is not None, "the trader must be claimed before the node runs"
    holder = Holder.from_json(seen[0])
    assert holder is not None and holder.pid == Holder.this_process().pid
    assert redis.get(key) is None, "the claim must be released when the node stops"
    redis.close()


def test_a_second_node_on_the_same_cache_database_is_refused_before_it_is_built(
    tmp_path: Path, replay_catalog: Path, redis_server: LocalRedisServer
) -> None:
    path = live_config(tmp_path, replay_catalog, redis_port=redis_server.port, limit=50)
    redis = connect(RedisSettings(redis_server.url))
    running = Holder("trading-box-2", 4242, None, time.time_ns())
    redis.set(database_claim_key(TRADER), running.to_json(), px=60_000)
    built: list[Any] = []
    with pytest.raises(LiveConfigError) as refused:
        run_live(load_live_config(path, env={}), on_built=built.append)
    message = str(refused.value)
    assert not built, "the node must not be built (it would load the other node's state)"
    assert "\n" not in message
    assert message.startswith(f"{path}: node.cache.database: trader {TRADER} is already live")
    assert f"redis://127.0.0.1:{redis_server.port}" in message
    assert "trading-box-2 (pid 4242" in message
    assert redis.get(database_claim_key(TRADER)) == running.to_json(), "theirs is untouched"
    redis.close()


def test_a_node_that_loses_its_trader_on_the_cache_database_stops_and_fails(
    tmp_path: Path, replay_catalog: Path, redis_server: LocalRedisServer
) -> None:
    path = live_config(
        tmp_path, replay_catalog, redis_port=redis_server.port, speed=30.0,
        run={"max_runtime_secs": 40.0},
    )  # fmt: skip
    redis = connect(RedisSettings(redis_server.url))
    key = database_claim_key(TRADER)
    usurper = Holder("trading-box-2", 4242, None, time.time_ns())

    def take_over(node: object) -> None:
        def run() -> None:
            redis.set(key, usurper.to_json(), px=60_000)  # as if ours lapsed and they took it

        threading.Timer(0.5, run).start()

    outcome = run_live(load_live_config(path, env={}), on_built=take_over)
    assert outcome.status == "failed", outcome
    assert outcome.stopped_by == "trader claim lost"
    assert outcome.seconds < 30  # the keeper looks every 5 s; the max runtime is 40 s
    assert any(
        r.startswith(f"trader claim lost: trader {TRADER} was claimed by a node on "
                     "trading-box-2 (pid 4242")
        for r in outcome.reasons
    ), outcome.reasons  # fmt: skip
    assert redis.get(key) == usurper.to_json(), "the new holder's claim is not released"
    redis.close()
