"""Backtest schedules, stream names, settings and the reconnect back-off."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.control import (
    Backoff,
    InvalidCommandError,
    RedisSettings,
    StreamNames,
    parse_schedule,
    redis_url_from_env,
)


def test_schedule_is_parsed_sorted_and_filled_in() -> None:
    schedule = parse_schedule(
        [
            {"at": "2017-01-03T10:00:00Z", "type": "resume", "strategy_id": "S-1"},
            {
                "at": 1_483_435_800_000_000_000,
                "type": "pause",
                "strategy_id": "S-1",
                "reason": "ECB",
            },
        ],
        trader_id="BACKTESTER-001",
    )
    assert [entry.command.type for entry in schedule] == ["pause", "resume"]
    assert schedule[1].at_ns == 1_483_437_600_000_000_000
    assert schedule[0].command.trader_id == "BACKTESTER-001"
    assert schedule[0].command.timestamp_ns == schedule[0].at_ns


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"type": "pause", "strategy_id": "S"}, r"schedule\[0\] has no 'at'"),
        ({"at": "2017-01-03T10:00:00", "type": "pause", "strategy_id": "S"}, "time zone"),
        ({"at": "yesterday", "type": "pause", "strategy_id": "S"}, "ISO-8601"),
        ({"at": True, "type": "pause", "strategy_id": "S"}, "unix ns"),
        ({"at": 5, "type": "pause", "strategy_id": "S", "nonce": "x"}, "filled in"),
        ({"at": 5, "type": "set_risk", "strategy_id": "S"}, r"schedule\[0\].*at least one"),
        ({"at": 5, "type": "nap", "strategy_id": "S"}, "unknown command type"),
        # beyond a 64-bit ns clock: --check said OK, then the node's clock refused the alert
        # at start (OverflowError traceback, the node never ran)
        ({"at": 10**30, "type": "pause", "strategy_id": "S"}, r"at is after 2262-04-11"),
        ({"at": 2**63, "type": "pause", "strategy_id": "S"}, r"at is after 2262-04-11"),
        ({"at": "9999-12-31T00:00:00Z", "type": "pause", "strategy_id": "S"}, "extra zeros"),
    ],
)
def test_bad_schedule_entries_are_named(item: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidCommandError, match=message):
        parse_schedule([item], trader_id="T")


def test_stream_names_and_settings() -> None:
    names = StreamNames("TRADER-001")
    assert names.commands == "nautilus-ai:control:TRADER-001:commands"
    assert names.replies == "nautilus-ai:control:TRADER-001:replies"
    with pytest.raises(ValueError, match="trader_id"):
        StreamNames("has space")
    with pytest.raises(ValueError, match="url"):
        RedisSettings(url="http://x")
    with pytest.raises(ValueError, match="socket_timeout"):
        RedisSettings(socket_timeout=0)
    for endless in (float("inf"), float("nan")):  # accepted from Python: a wait without end
        with pytest.raises(ValueError, match="connect_timeout must be a finite number"):
            RedisSettings(connect_timeout=endless)
    assert RedisSettings(url="redis://u:hunter2@h:1/0").redacted_url == "redis://u:***@h:1/0"
    assert redis_url_from_env(env={"NAUTILUS_AI_REDIS_URL": "redis://h:2/0"}) == "redis://h:2/0"
    assert redis_url_from_env("redis://x:1/0", env={}) == "redis://x:1/0"
    assert redis_url_from_env(env={}) == "redis://127.0.0.1:6379/0"


@given(st.integers(0, 200), st.floats(0.001, 1.0), st.floats(1.0, 30.0), st.integers(0, 2**32))
def test_backoff_is_capped_jittered_and_grows(
    n: int, initial: float, cap: float, seed: int
) -> None:
    backoff = Backoff(initial=initial, cap=cap, rng=random.Random(seed))
    delays = [backoff.next_delay() for _ in range(n)]
    assert all(initial / 2 <= d <= cap for d in delays)
    assert backoff.attempt == n
    backoff.reset()
    assert backoff.next_delay() <= initial


def test_backoff_reaches_the_cap() -> None:
    backoff = Backoff(initial=0.05, cap=5.0, rng=random.Random(1))
    late = [backoff.next_delay() for _ in range(30)][-10:]
    assert max(late) > 2.5


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://u:hunter2@127.0.0.1:6379x/0", "Port could not be cast to integer value"),
        ("redis://127.0.0.1:99999/0", "Port out of range"),
        ("redis://127.0.0.1:6379/zero", "the database after the last '/' must be a number"),
        ("rediss://127.0.0.1:6379/1/extra", "the database after the last '/' must be a number"),
        ("redis://127.0.0.1:6379/0?socket_timeout=abc", "Invalid value for 'socket_timeout'"),
    ],
)
def test_a_malformed_redis_url_is_refused_where_it_is_given(url: str, problem: str) -> None:
    # Before: --check said OK; the node's controller then failed on START with a traceback (a
    # bad port), or a database typo ("/zero", "/1/extra") was read as database 0 without a word
    # while the operator's CLI, given the URL meant, wrote commands to another database.
    with pytest.raises(ValueError, match="url") as refused:
        RedisSettings(url=url)
    assert problem in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_well_formed_redis_urls_are_taken() -> None:
    for url in ("redis://127.0.0.1:6379/0", "redis://h:1", "redis://h:1/", "rediss://u:p@h:2/15",
                "unix:///tmp/redis.sock?db=2", "redis://h:1/0?socket_keepalive=true"):  # fmt: skip
        assert RedisSettings(url=url).url == url
