"""``nautilus-ai control VERB`` when Redis goes away after the command was sent: the operator is
told the command went out (it may still be applied) and where to look, with the "no reply in
time" exit status (3).

Before, it was exit 2 ("usage error") with only ``Redis at ...: ConnectionError``: nothing said
the command had been written, so an operator would take it for not sent and send it again, or
give up on a flatten that the node then applied.
"""

from __future__ import annotations

import threading

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
        while not watcher.xlen(names.commands):
            pass
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
