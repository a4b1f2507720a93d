"""Fixtures for the live tests: a real redis-server, a control client for the test trader and a
small real-data catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.live_configs import TRADER
from fixtures.redis_server import control_secret, redis_server
from fixtures.replay_catalog import build_replay_catalog

from nautilus_ai.control import ControlClient, LocalRedisServer, RedisSettings, StreamNames, connect

__all__ = ["control_secret", "redis_server"]


@pytest.fixture
def client(redis_server: LocalRedisServer, control_secret: bytes) -> Iterator[ControlClient]:
    """The operator's client for the live configs' trader (200 ms polls)."""
    redis_client = connect(RedisSettings(redis_server.url), extra_socket_timeout=0.5)
    yield ControlClient(redis_client, StreamNames(TRADER), control_secret, poll_ms=200)
    redis_client.close()


@pytest.fixture(scope="session")
def replay_catalog(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3,000 real EUR/USD 1-minute bars (HistData, January 2017) with a 0.3 pip ASK side."""
    return build_replay_catalog(data_dir, tmp_path_factory.mktemp("catalog"), rows=3000)
