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


class _NotTheCliError(Exception):
    """Raised by the test's own SIGTERM handler: the CLI did not install its own."""


def test_sigterm_while_the_node_starts_releases_the_claim_and_says_so(
    tmp_path: Path,
    replay_catalog: Path,
    redis_server: LocalRedisServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SIGTERM (systemd, docker stop) once the trader was claimed but before the node's own
    signal handlers exist: before, its default action killed the process there, leaving the
    claim to block a restart on another host until it lapsed, with no word. Now the start
    unwinds as Ctrl-C does: the claim is released, one line says why, exit 143."""
    import os
    import signal

    from nautilus_ai.cli import main

    def build_then_terminated(run_file: Any) -> Any:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the signal is handled here
        raise AssertionError("SIGTERM did not interrupt the start")

    def not_the_cli(signum: int, frame: object) -> None:
        raise _NotTheCliError

    monkeypatch.setattr("nautilus_ai.live.runner.build_node", build_then_terminated)
    path = live_config(tmp_path, replay_catalog, redis_port=redis_server.port, limit=50)
    redis = connect(RedisSettings(redis_server.url))
    previous = signal.signal(signal.SIGTERM, not_the_cli)  # the test runner must survive
    try:
        code = main(["live", str(path)])
        assert signal.getsignal(signal.SIGTERM) is not_the_cli, "the handler is restored"
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err.strip().splitlines()
    assert (code, err[-1:]) == (143, ["nautilus-ai: terminated (SIGTERM) while the node started"])
    assert redis.get(database_claim_key(TRADER)) is None, "the claim must be released"
    redis.close()
