"""``nautilus-ai control``: input the operator got wrong is a usage error (exit 2, one line naming
it, nothing sent), never exit 1, which the CLI keeps for a command the node rejected or failed.

Before, a ``--config-file`` that is not UTF-8 text (a binary file, a Latin-1 export) or JSON
nested beyond Python's parser said ``UnicodeDecodeError`` / ``RecursionError`` without the
file, exit 1, and ``history --count`` beyond Redis' integers blamed Redis ('Redis at ...:
ResponseError: value is not an integer or out of range')."""

from __future__ import annotations

from pathlib import Path

import pytest

from nautilus_ai.cli import main

SECRET = "test-secret-" + "0123456789abcdef" * 2
NOWHERE = "redis://127.0.0.1:1/0"  # nothing listens: any send would fail differently


def refusal(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2, lines
    assert len(lines) == 1, lines
    return lines[0]


def test_a_config_file_that_is_no_utf8_json_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAUTILUS_AI_CONTROL_SECRET", SECRET)
    common = ["control", "switch-model", "--trader", "T-1", "--strategy", "S-1"]
    common += ["--redis-url", NOWHERE, "--timeout", "0.1"]
    binary = tmp_path / "model.json"
    binary.write_bytes(b'\xff\xfe{"kind": "rule"}')
    line = refusal([*common, "--config-file", str(binary)], capsys)
    assert f"{binary} is not UTF-8 text (byte 0)" in line
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    line = refusal([*common, "--config-file", str(deep)], capsys)
    assert f"{deep} is nested too deeply to be a predictor config" in line
    line = refusal([*common, "--config", "[" * 100_000 + "]" * 100_000], capsys)
    assert "--config is nested too deeply" in line


def test_a_history_count_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for count in ("0", "99999999999999999999"):
        line = refusal(
            ["control", "history", "--trader", "T-1", "--redis-url", NOWHERE, "--count", count],
            capsys,
        )
        assert line == (f"nautilus-ai: error: --count must be in [1, 1_000_000], was {count}")
