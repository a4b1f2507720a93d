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
