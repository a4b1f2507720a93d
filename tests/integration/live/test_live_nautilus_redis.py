"""Nautilus' own Redis integrations from a live config: the cache database (state, orders,
positions) and the message bus streamed to Redis, next to our control plane on the same server.
Also drives the controller's live schedule (clock alerts hopping onto the loop)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import redis
import yaml
from fixtures.live_configs import STRATEGY, TRADER, live_config

from nautilus_ai.control import LocalRedisServer
from nautilus_ai.live import load_live_config, read_trade_log, run_live


def test_cache_database_and_message_bus_streams(
    tmp_path: Path, replay_catalog: Path, redis_server: LocalRedisServer
) -> None:
    path = live_config(
        tmp_path, replay_catalog, redis_port=redis_server.port, speed=20_000, limit=600
    )
    data = yaml.safe_load(path.read_text())
    data["node"]["message_bus"] = {
        "database": {"type": "redis", "host": "127.0.0.1", "port": redis_server.port},
        "encoding": "json",
        "timestamps_as_iso8601": True,
        "buffer_interval_ms": 20,
        "stream_per_topic": False,
        # ExecutionMassStatus must be filtered: in 1.221 the Sandbox's (account_id None) crashes
        # the stream serialiser during reconciliation.
        "types_filter": [
            "nautilus_trader.model.data:QuoteTick",
            "nautilus_trader.model.data:Bar",
            "nautilus_trader.execution.reports:ExecutionMassStatus",
        ],
    }
    start_ns = time.time_ns() + 1_000_000_000
    data["control"] = {
        "listen": False,
        "schedule": [
            {"at": start_ns, "type": "pause", "strategy_id": STRATEGY, "reason": "scheduled"},
            {"at": start_ns + 300_000_000, "type": "resume", "strategy_id": STRATEGY},
        ],
    }
    path.write_text(yaml.safe_dump(data))
    outcome = run_live(load_live_config(path, env={}))

    client = redis.Redis(port=redis_server.port, decode_responses=True, socket_timeout=2)
    try:
        keys = set(client.keys(f"trader-{TRADER}:*"))
        assert f"trader-{TRADER}:strategies:{STRATEGY}:state" in keys
        assert any(key.startswith(f"trader-{TRADER}:positions:") for key in keys)
        assert any(key.startswith(f"trader-{TRADER}:orders:") for key in keys)
        stream = client.xrange(f"trader-{TRADER}:stream")
        topics = Counter(".".join(fields["topic"].split(".")[:2]) for _id, fields in stream)
        assert topics["events.order"] > 0 and topics["events.position"] > 0
        assert topics["nautilus_ai.control"] == 2  # our control outcomes ride the bus too
        assert not any(fields["topic"].startswith("data.quotes") for _id, fields in stream)
    finally:
        client.close()

    control = [r for r in read_trade_log(tmp_path / "trades.jsonl") if r["event"] == "control"]
    assert [(r["command_type"], r["status"]) for r in control] == [
        ("pause", "applied"),
        ("resume", "applied"),
    ]
    assert [r["command_type"] for r in outcome.control] == ["pause", "resume"]
