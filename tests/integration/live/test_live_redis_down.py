"""A live start whose Nautilus Redis (cache database) is down or refuses the credentials fails
at once, in one line naming the file, the key path and the address. Nautilus itself would retry
inside ``TradingNode(...)`` without end, in native code that ignores Ctrl-C and SIGTERM, so the
CLI runs in a subprocess here: before the check this test hung until its timeout."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nautilus_ai.control import LocalRedisServer


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _live(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "nautilus_ai.cli", "live", "paper_replay_eurusd",
               "--max-runtime", "3"]  # fmt: skip
    return subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )


def _env(demo_catalog: Path, tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        NAUTILUS_AI_CATALOG=str(demo_catalog),
        NAUTILUS_AI_REPORTS=str(tmp_path),
        NAUTILUS_AI_REDIS_HOST="127.0.0.1",
        NAUTILUS_AI_REDIS_PORT=str(port),
        NAUTILUS_AI_CONTROL_SECRET="test-secret-" + "0123456789abcdef" * 2,
        **extra,
    )
    return env


@pytest.mark.slow
def test_a_live_start_with_its_cache_redis_down_fails_in_one_line(
    demo_catalog: Path, tmp_path: Path
) -> None:
    port = _closed_port()
    done = _live(_env(demo_catalog, tmp_path, port), tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "paper_replay_eurusd.yaml: node.cache.database: Redis at " in lines[0]
    assert f"127.0.0.1:{port} cannot be reached" in lines[0]
    assert not (tmp_path / "live").exists()  # nothing started, no trade log opened


@pytest.mark.slow
def test_a_live_start_refused_by_its_cache_redis_fails_in_one_line(
    demo_catalog: Path, tmp_path: Path
) -> None:
    server = LocalRedisServer(tmp_path / "redis", password="not-the-config's")
    server.start()
    try:
        done = _live(_env(demo_catalog, tmp_path, server.port), tmp_path)
    finally:
        server.stop()
    assert done.returncode == 2, done.stderr[-2000:]
    assert "node.cache.database: Redis at " in done.stderr
    assert f":{server.port} refused the credentials" in done.stderr


@pytest.mark.slow
def test_a_live_node_whose_cache_redis_goes_away_exits_and_says_what_was_lost(
    demo_catalog: Path, tmp_path: Path
) -> None:
    """Before: the node stopped at its max runtime, then hung in ``dispose`` for good."""
    server = LocalRedisServer(tmp_path / "redis")
    server.start()
    env = _env(demo_catalog, tmp_path, server.port, NAUTILUS_AI_REDIS_URL=server.url)
    command = [sys.executable, "-m", "nautilus_ai.cli", "live", "paper_replay_eurusd",
               "--max-runtime", "8"]  # fmt: skip
    run = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        trade_log = tmp_path / "live" / "paper-replay-eurusd-trades.jsonl"
        give_up = time.monotonic() + 60
        while not (trade_log.exists() and trade_log.stat().st_size) and run.poll() is None:
            assert time.monotonic() < give_up, "the node did not start"
            time.sleep(0.2)
        server.stop()  # mid-session
        out, err = run.communicate(timeout=90)
    finally:
        if run.poll() is None:
            run.kill()
        server.stop()
    assert run.returncode == 1, err[-2000:]
    assert "stopped by max runtime" in out
    assert "Traceback" not in err
    assert f"node.cache.database: Redis at 127.0.0.1:{server.port} cannot be reached" in err
    assert "when the node stopped" in err and "is lost" in err
