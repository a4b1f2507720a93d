"""The ``redis_server`` fixture runs the server nautilus_ai.services located (the services extra's
Valkey unless overridden), and that server has what the control plane and Nautilus need."""

from __future__ import annotations

from pathlib import Path

import redis

from nautilus_ai.control import LocalRedisServer
from nautilus_ai.services import require


def test_the_fixture_runs_the_located_server(redis_server: LocalRedisServer) -> None:
    located = require("redis-server")
    assert redis_server.pid is not None
    running = Path(f"/proc/{redis_server.pid}/exe").resolve()
    assert running == located.executable.resolve()
    client = redis.Redis.from_url(redis_server.url)
    try:
        version = tuple(int(p) for p in str(client.info("server")["redis_version"]).split("."))
        # SET NX GET (our replay guard) is Redis 7.0; Nautilus' own floor is 6.2.
        assert version >= (7, 0)
        assert client.set("k", "a", nx=True, get=True) is None
        assert client.set("k", "b", nx=True, get=True) == b"a"
    finally:
        client.close()
