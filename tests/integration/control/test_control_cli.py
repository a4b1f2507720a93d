"""``nautilus-ai control ...`` against a running listener: exit codes and printed replies."""

from __future__ import annotations

import json

import pytest
from fixtures.control_harness import STRATEGY, TRADER, LoopHarness

from nautilus_ai.cli import main
from nautilus_ai.control import LocalRedisServer


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_verbs(
    harness: LoopHarness, redis_server: LocalRedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--trader", TRADER, "--strategy", STRATEGY, "--redis-url", redis_server.url]
    code, out, _ = run(capsys, "control", "pause", *common, "--reason", "cli test")
    assert code == 0
    assert json.loads(out)["result"]["paused"] is True
    code, out, _ = run(capsys, "control", "set-risk", *common, "--max-position", "50000")
    assert code == 0 and json.loads(out)["result"]["max_position"] == 50000.0
    code, out, _ = run(capsys, "control", "switch-model", *common, "--config", '{"kind": "mlp"}')
    assert code == 0 and json.loads(out)["result"]["model_id"] == "mlp/1"
    code, out, _ = run(capsys, "control", "status", *common)
    assert code == 0 and json.loads(out)["command_type"] == "status"
    code, out, _ = run(capsys, "control", "resume", *common)
    assert code == 0 and json.loads(out)["result"]["paused"] is False
    code, out, _ = run(capsys, "control", "flatten", *common)
    assert code == 0 and json.loads(out)["result"]["position"] == 0.0
    assert harness.strategies[STRATEGY].calls == [
        "pause",
        "set_risk",
        "switch_model",
        "resume",
        "flatten",
    ]

    # A strategy failure and a refused target both exit 1 with the reason printed.
    code, out, _ = run(capsys, "control", "switch-model", *common, "--config", '{"kind": "broken"}')
    assert code == 1 and json.loads(out)["status"] == "failed"
    other = ["--trader", TRADER, "--strategy", "Ghost-1", "--redis-url", redis_server.url]
    code, out, _ = run(capsys, "control", "pause", *other)
    assert code == 1 and "unknown strategy 'Ghost-1'" in json.loads(out)["reason"]

    code, out, _ = run(
        capsys,
        "control",
        "history",
        "--trader",
        TRADER,
        "--redis-url",
        redis_server.url,
        "--count",
        "3",
    )
    assert code == 0
    assert [json.loads(line)["status"] for line in out.splitlines()] == [
        "applied",
        "failed",
        "rejected",
    ]


def test_cli_user_errors(
    redis_server: LocalRedisServer,
    control_secret: bytes,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    common = ["--trader", TRADER, "--strategy", STRATEGY, "--redis-url", redis_server.url]
    # Nobody listening: exit 3 after the timeout.
    code, _, err = run(capsys, "control", "status", *common, "--timeout", "0.3")
    assert code == 3 and "no reply" in err
    # Bad values are refused before anything is sent, naming the field.
    code, _, err = run(capsys, "control", "set-risk", *common, "--min-confidence", "2")
    assert code == 2 and "min_confidence" in err
    code, _, err = run(capsys, "control", "set-risk", *common)
    assert code == 2 and "at least one" in err
    code, _, err = run(capsys, "control", "switch-model", *common, "--config", "{nope")
    assert code == 2 and "--config is not JSON" in err
    # A timeout that is no number of seconds: refused before the command is sent (a NaN used to
    # send the pause, then exit 1 "ValueError: cannot convert float NaN to integer").
    import redis

    commands = f"nautilus-ai:control:{TRADER}:commands"
    sent = redis.Redis.from_url(redis_server.url).xlen(commands)
    for timeout in ("nan", "inf", "0"):
        code, _, err = run(capsys, "control", "pause", *common, "--timeout", timeout)
        assert code == 2 and "--timeout must be a finite number of seconds > 0, was" in err
    assert redis.Redis.from_url(redis_server.url).xlen(commands) == sent
    # No secret: refused, naming the variable.
    monkeypatch.delenv("NAUTILUS_AI_CONTROL_SECRET")
    code, _, err = run(capsys, "control", "pause", *common)
    assert code == 2 and "NAUTILUS_AI_CONTROL_SECRET" in err
    # Redis unreachable: a clear error, not a traceback.
    monkeypatch.setenv("NAUTILUS_AI_CONTROL_SECRET", control_secret.decode())
    redis_server.stop()
    code, _, err = run(capsys, "control", "pause", *common, "--timeout", "1")
    assert code == 2 and "Redis at redis://127.0.0.1" in err


def test_history_names_a_junk_entry_and_still_prints_the_replies(
    harness: LoopHarness, redis_server: LocalRedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # Anyone who can write to Redis can add an entry to the reply stream: one such entry used to
    # make the whole audit trail unreadable ("KeyError: 'reply'", exit 1, no reply printed).
    import redis

    common = ["--trader", TRADER, "--strategy", STRATEGY, "--redis-url", redis_server.url]
    assert run(capsys, "control", "pause", *common, "--reason", "before")[0] == 0
    junk = redis.Redis.from_url(redis_server.url).xadd(
        f"nautilus-ai:control:{TRADER}:replies", {"foo": "bar"}
    )
    assert run(capsys, "control", "resume", *common)[0] == 0
    history = ["control", "history", "--trader", TRADER, "--redis-url", redis_server.url]
    code, out, err = run(capsys, *history)
    assert code == 1
    assert [json.loads(line)["command_type"] for line in out.splitlines()] == ["pause", "resume"]
    assert err.strip() == (
        f"nautilus-ai: entry {junk.decode()} of the reply stream is not a command reply: "
        "no 'reply' field"
    )


def test_history_checks_signatures_with_the_secret_and_says_so_without_it(
    harness: LoopHarness,
    redis_server: LocalRedisServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import redis

    common = ["--trader", TRADER, "--strategy", STRATEGY, "--redis-url", redis_server.url]
    assert run(capsys, "control", "pause", *common, "--reason", "news")[0] == 0
    (_entry, fields), *_ = redis.Redis.from_url(redis_server.url, decode_responses=True).xrevrange(
        f"nautilus-ai:control:{TRADER}:replies", count=1
    )
    forged = redis.Redis.from_url(redis_server.url).xadd(
        f"nautilus-ai:control:{TRADER}:replies", {**fields, "sig": "0" * 64}
    )
    history = ["control", "history", "--trader", TRADER, "--redis-url", redis_server.url]
    code, out, err = run(capsys, *history)
    assert code == 1 and len(out.splitlines()) == 1  # the node's reply; the copy is named
    assert f"entry {forged.decode()} of the reply stream has no valid signature" in err
    monkeypatch.delenv("NAUTILUS_AI_CONTROL_SECRET")
    code, out, err = run(capsys, *history)
    assert code == 0 and len(out.splitlines()) == 2
    assert "$NAUTILUS_AI_CONTROL_SECRET is not set: the replies' signatures are not checked" in err
