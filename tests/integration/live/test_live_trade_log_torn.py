"""A trade log whose last line was cut short (the node was killed, or the disk filled, in the
middle of a write) keeps working: the next run starts on a new line, and the reader returns every
complete record, naming the cut line, instead of failing on the whole file.

Before, the next run appended its ``start`` record to the torn line, which made it unreadable
too, and :func:`read_trade_log` raised ``JSONDecodeError`` (no file, no line) for the whole log:
every record of every run in it was out of reach.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures.live_configs import live_config

from nautilus_ai.live import load_live_config, read_trade_log, run_live

EARLIER = {"event": "fill", "client_order_id": "O-1", "tags": ["exit=stop"]}


def test_a_run_after_a_torn_last_line_starts_on_a_new_line(
    tmp_path: Path, replay_catalog: Path
) -> None:
    log = tmp_path / "trades.jsonl"
    log.write_text(json.dumps(EARLIER) + "\n" + '{"event": "fill", "client_or')  # killed here
    path = live_config(tmp_path, replay_catalog, speed=0, limit=50)
    assert run_live(load_live_config(path, env={})).status == "ok"
    with pytest.warns(UserWarning, match=r"trades.jsonl:2: not a JSON record, skipped"):
        records = read_trade_log(log)
    assert records[0] == EARLIER
    assert [records[1]["event"], records[-1]["event"]] == ["start", "stop"]


def test_the_reader_skips_a_torn_last_line_and_names_it(tmp_path: Path) -> None:
    log = tmp_path / "trades.jsonl"
    log.write_text(json.dumps(EARLIER) + "\n" + '{"event": "fi')
    with pytest.warns(UserWarning, match=r"trades.jsonl:2: not a JSON record, skipped"):
        assert read_trade_log(log) == [EARLIER]


def test_a_trade_log_that_cannot_be_written_fails_the_run_and_trading_goes_on(
    tmp_path: Path, replay_catalog: Path
) -> None:
    """A full disk (``/dev/full``) under the trade log: before, the log's OSError went into the
    node's event handling (at start: a traceback out of ``run_live``, no trading at all); now
    every lost record is counted, the strategy trades all its bars and the run fails naming
    the log and the error."""
    path = live_config(tmp_path, replay_catalog, speed=0, limit=60, run={"trade_log": "/dev/full"})
    outcome = run_live(load_live_config(path, env={}))
    assert outcome.status == "failed"
    (reason,) = outcome.reasons
    assert reason.startswith("trade log /dev/full: ")
    assert "No space left on device" in reason and "the log is incomplete" in reason
    (status,) = outcome.strategies.values()
    assert status["bars"] == 60


class _FailingOnce:
    """A raw file whose first write fails half way (a disk that filled, then freed)."""

    def __init__(self) -> None:
        self.data = b""
        self.calls = 0

    def write(self, data: bytes) -> int:
        self.calls += 1
        if self.calls == 1:
            self.data += data[:5]
            raise OSError(28, "No space left on device")
        self.data += data
        return len(data)


def test_after_a_failed_write_the_log_goes_on_on_a_new_line() -> None:
    from nautilus_ai.live import TradeLogActor, TradeLogConfig

    actor = TradeLogActor(TradeLogConfig(path="unused.jsonl"))
    raw = _FailingOnce()
    actor._opened, actor._file = True, raw  # type: ignore[assignment]
    actor._write({"event": "fill", "n": 1})
    actor._write({"event": "fill", "n": 2})
    assert (actor.lost, actor.lines) == (1, 1)
    assert raw.data.split(b"\n")[1:] == [b'{"event": "fill", "n": 2}', b""]
    assert actor.problem is not None and "1 of 2 record(s)" in actor.problem
