"""Fixtures for the control-plane integration tests (a real redis-server per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fixtures.control_harness import (
    STRATEGY,
    TRADER,
    LoopHarness,
    StandInStrategy,
)
from fixtures.redis_server import control_secret, redis_server

from nautilus_ai.control import (
    ControlClient,
    ControlPlane,
    LocalRedisServer,
    RedisSettings,
    StreamNames,
    connect,
)

__all__ = ["control_secret", "redis_server"]


@pytest.fixture
def plane_factory(redis_server: LocalRedisServer, control_secret: bytes) -> Iterator[object]:
    made: list[ControlPlane] = []

    def make(**kwargs: object) -> ControlPlane:
        client = connect(
            RedisSettings(redis_server.url, socket_timeout=1.0), extra_socket_timeout=0.2
        )
        kwargs.setdefault("block_ms", 200)
        kwargs.setdefault("strategy_ids", [STRATEGY, "Other-002"])
        plane = ControlPlane(client, StreamNames(TRADER), control_secret, **kwargs)  # type: ignore[arg-type]
        made.append(plane)
        return plane

    yield make
    for plane in made:
        plane.stop(timeout=2)
        plane.close()


@pytest.fixture
def harness(plane_factory: object) -> Iterator[LoopHarness]:
    plane = plane_factory()  # type: ignore[operator]
    running = LoopHarness(plane, StandInStrategy(STRATEGY), StandInStrategy("Other-002")).start()
    assert plane.listener.wait_connected(5), "listener did not connect"
    yield running
    running.stop()


@pytest.fixture
def client(redis_server: LocalRedisServer, control_secret: bytes) -> Iterator[ControlClient]:
    redis_client = connect(
        RedisSettings(redis_server.url, socket_timeout=1.0), extra_socket_timeout=0.5
    )
    yield ControlClient(redis_client, StreamNames(TRADER), control_secret, poll_ms=100)
    redis_client.close()
