"""A paused node that crashes comes back paused: ``nautilus-ai live`` in a subprocess, with
Nautilus' Redis cache database holding the strategy state (written after every control change)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fixtures.control_harness import wait_for
from fixtures.live_configs import AI_STRATEGY, STRATEGY, live_config, use_ai_pattern

from nautilus_ai.control import CommandReply, ControlClient, LocalRedisServer, ReplyTimeoutError
from nautilus_ai.live import read_trade_log

TESTS = Path(__file__).resolve().parents[2]


def start_node(config: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "nautilus_ai.cli", "live", str(config)],
            env={**os.environ, **env, "PYTHONPATH": str(TESTS)},
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
        )


def status_when_up(
    client: ControlClient, process: subprocess.Popen[bytes], strategy: str = STRATEGY
) -> CommandReply:
    """The first status reply once the node listens (fails fast if the node died)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "node exited early"
        try:
            reply = client.request(client.command("status", strategy), timeout=1)
        except ReplyTimeoutError:
            continue
        if reply.ok and reply.result["bars"] > 0:
            return reply
        time.sleep(0.05)
    raise AssertionError("node did not come up")


def stop(process: subprocess.Popen[bytes], sig: int) -> None:
    process.send_signal(sig)
    process.wait(30)


def node_env(redis_server: LocalRedisServer, control_secret: bytes) -> dict[str, str]:
    return {
        "NAUTILUS_AI_CONTROL_SECRET": control_secret.decode(),
        "NAUTILUS_AI_REDIS_URL": redis_server.url,
    }


def restart_config(
    folder: Path, catalog: Path, redis_server: LocalRedisServer, speed: float
) -> tuple[Path, Path]:
    """A listening config in a fresh ``folder`` whose state lives in Redis; (config, trade log)."""
    folder.mkdir()
    config = live_config(
        folder,
        catalog,
        redis_port=redis_server.port,
        speed=speed,
        control={"listen": True, "block_ms": 200},
        run={"stop_after_replay": False, "max_runtime_secs": 60},
    )
    return config, folder / "trades.jsonl"


def test_paused_state_survives_a_crash_and_restart(
    tmp_path: Path,
    replay_catalog: Path,
    redis_server: LocalRedisServer,
    control_secret: bytes,
    client: ControlClient,
) -> None:
    env = node_env(redis_server, control_secret)

    def run(name: str) -> tuple[Path, Path]:
        return restart_config(tmp_path / name, replay_catalog, redis_server, speed=6_000)

    # Run 1: trade, pause, then crash (SIGKILL: no on_stop, no save_state).
    config, trades_1 = run("run1")
    process = start_node(config, env, tmp_path / "run1.log")
    try:
        status_when_up(client, process)
        assert wait_for(lambda: any(r["event"] == "fill" for r in _log(trades_1)), timeout=20)
        paused = client.request(client.command("pause", STRATEGY, reason="before crash"))
        assert paused.ok and paused.result["paused"] is True
        # Let the exits finish first: the Sandbox keeps no memory across processes, so an order
        # in flight at the crash could never be reconciled (a real venue would report it).
        assert wait_for(lambda: _flat_and_idle(client), timeout=20)
    finally:
        stop(process, signal.SIGKILL)

    # Run 2: comes back paused, enters nothing until resumed.
    config, trades_2 = run("run2")
    process = start_node(config, env, tmp_path / "run2.log")
    try:
        first = status_when_up(client, process)
        assert first.result["paused"] is True, first.result
        bars = first.result["bars"]
        assert wait_for(lambda: _status(client)["bars"] >= bars + 30, timeout=20)
        assert not [r for r in _log(trades_2) if r["event"] == "fill" and r["side"] == "buy"]
        assert client.request(client.command("resume", STRATEGY)).ok
        assert wait_for(
            lambda: any(r["event"] == "fill" and r["side"] == "buy" for r in _log(trades_2)),
            timeout=20,
        ), "resume after restart must restart entries"
    finally:
        stop(process, signal.SIGTERM)
    assert process.returncode == 0, (tmp_path / "run2.log").read_text()[-3000:]
    control = [r["command_type"] for r in _log(trades_2) if r["event"] == "control"]
    assert "pause" not in control  # run 2 was paused by the restored state alone


def _log(path: Path) -> list[dict[str, Any]]:
    return read_trade_log(path) if path.exists() else []


def _flat_and_idle(client: ControlClient) -> bool:
    status = _status(client)
    return status["position"] == 0.0 and (status["last_decision"] or {}).get("intent") == "paused"


def _status(client: ControlClient) -> dict[str, Any]:
    return client.request(client.command("status", STRATEGY), timeout=5).result


@pytest.mark.slow
def test_ai_pattern_comes_back_flat_and_paused_after_a_crash(
    tmp_path: Path,
    replay_catalog: Path,
    redis_server: LocalRedisServer,
    control_secret: bytes,
    client: ControlClient,
) -> None:
    env = node_env(redis_server, control_secret)

    def run(name: str) -> tuple[Path, Path]:
        config, trades = restart_config(tmp_path / name, replay_catalog, redis_server, speed=12_000)
        use_ai_pattern(config)
        return config, trades

    def status() -> dict[str, Any]:
        return client.request(client.command("status", AI_STRATEGY), timeout=5).result

    config, _trades_1 = run("run1")
    process = start_node(config, env, tmp_path / "run1.log")
    try:
        status_when_up(client, process, AI_STRATEGY)
        switched = client.request(
            client.command(
                "switch_model", AI_STRATEGY, config={"kind": "rule", "trend_min_atr": 2.5}
            )
        )
        assert switched.ok, switched.reason
        flattened = client.request(client.command("flatten", AI_STRATEGY, reason="before crash"))
        assert flattened.ok and flattened.result["paused"] is True
        bars = flattened.result["bars"]
        assert wait_for(lambda: status()["position"] == 0.0 and status()["bars"] > bars + 5)
    finally:
        stop(process, signal.SIGKILL)

    config, trades_2 = run("run2")
    process = start_node(config, env, tmp_path / "run2.log")
    try:
        first = status_when_up(client, process, AI_STRATEGY)
        assert first.result["paused"] is True
        assert first.result["model_id"] == switched.result["model_id"]  # the model came back too
        assert wait_for(lambda: status()["bars"] >= 400, timeout=20)
        entries = [
            r
            for r in _log(trades_2)
            if r["event"] == "fill" and any(t.startswith("model=") for t in r["tags"])
        ]
        assert not entries
    finally:
        stop(process, signal.SIGTERM)
    assert process.returncode == 0, (tmp_path / "run2.log").read_text()[-3000:]
