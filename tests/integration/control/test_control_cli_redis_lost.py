"""``nautilus-ai control VERB`` when Redis goes away after the command was sent: the operator is
told the command went out (it may still be applied) and where to look, with the "no reply in
time" exit status (3).

Before, it was exit 2 ("usage error") with only ``Redis at ...: ConnectionError``: nothing said
the command had been written, so an operator would take it for not sent and send it again, or
give up on a flatten that the node then applied.

The same when the connection breaks while the command is written (its acknowledgement lost): it
may be in the stream all the same. That case said "Redis at ...: ConnectionError" with exit 2,
as if nothing had been sent (seen as a flaky failure of the first test, when Redis was killed
before the CLI had read XADD's answer).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fixtures.control_harness import STRATEGY, TRADER

from nautilus_ai.cli import main
from nautilus_ai.control import LocalRedisServer, RedisSettings, StreamNames, connect


def test_redis_lost_while_waiting_for_the_reply_says_the_command_was_sent(
    redis_server: LocalRedisServer, control_secret: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    names = StreamNames(TRADER)
    watcher = connect(RedisSettings(redis_server.url))

    def kill_once_sent() -> None:  # no node listens: the CLI waits for its reply
        # Killed once the CLI blocks in XREAD on the replies (not merely once the command is in
        # the stream: the CLI may still be reading XADD's acknowledgement then, the case of the
        # next test).
        while not watcher.xlen(names.commands) or not any(
            c.get("cmd") == "xread" for c in watcher.client_list()
        ):
            time.sleep(0.002)
        watcher.close()
        redis_server.kill()

    killer = threading.Thread(target=kill_once_sent, daemon=True)
    killer.start()
    code = main(["control", "flatten", "--trader", TRADER, "--strategy", STRATEGY,
                 "--redis-url", redis_server.url, "--timeout", "20"])  # fmt: skip
    killer.join(5)
    err = capsys.readouterr().err.strip()
    assert code == 3, err
    assert err.startswith("nautilus-ai: flatten command "), err
    assert "was sent (stream entry " in err and "may still be applied" in err
    assert f"nautilus-ai control history --trader {TRADER}" in err
    assert len(err.splitlines()) == 1


def test_redis_lost_while_the_command_is_written_says_it_may_have_been_sent(
    redis_server: LocalRedisServer,
    control_secret: bytes,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: Any,
) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from nautilus_ai.control.client import ControlClient

    real_send = ControlClient.send

    def send_then_lose_the_answer(self: ControlClient, command: Any) -> str:
        real_send(self, command)  # in the stream: a node would apply it
        raise RedisConnectionError("Connection closed by server.")

    monkeypatch.setattr(ControlClient, "send", send_then_lose_the_answer)
    code = main(["control", "flatten", "--trader", TRADER, "--strategy", STRATEGY,
                 "--redis-url", redis_server.url, "--timeout", "2"])  # fmt: skip
    err = capsys.readouterr().err.strip()
    watcher = connect(RedisSettings(redis_server.url))
    in_stream = watcher.xlen(StreamNames(TRADER).commands)
    watcher.close()
    assert in_stream == 1
    assert code == 3, err
    assert err.startswith("nautilus-ai: flatten command "), err
    assert "may or may not have been sent" in err and "may still be applied" in err
    assert f"nautilus-ai control history --trader {TRADER}" in err
    assert len(err.splitlines()) == 1
