"""The README's commands name run files and live configs by their checkout path
(``backtests/demo.yaml``); after ``pip install`` outside the checkout those paths do not exist,
and ``nautilus-ai backtest backtests/demo.yaml`` / ``doctor --config backtests/demo.yaml``
said "not found (neither a path nor a packaged run file)". They name the packaged file."""

from __future__ import annotations

from pathlib import Path

import pytest

from nautilus_ai.cli import CliError
from nautilus_ai.cli.backtest import resolve_run_file
from nautilus_ai.cli.live import resolve_live_config


def test_the_readme_spelling_names_the_packaged_run_file_outside_the_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # a user's folder: no backtests/ here
    path = resolve_run_file("backtests/demo.yaml")
    assert path == resolve_run_file("demo") and path.name == "demo.yaml" and path.is_file()
    note = capsys.readouterr().err.strip()
    assert note == f"nautilus-ai: no backtests/demo.yaml here; using the packaged run file {path}"
    live = resolve_live_config("live/paper_replay_eurusd.yaml")
    assert live == resolve_live_config("paper_replay_eurusd")


def test_a_local_file_wins_and_other_folders_are_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CliError, match=r"run file 'backtests/nope.yaml' not found"):
        resolve_run_file("backtests/nope.yaml")
    with pytest.raises(CliError, match=r"run file 'runs/demo.yaml' not found"):
        resolve_run_file("runs/demo.yaml")  # not the packaged folder's name
    (tmp_path / "backtests").mkdir()
    own = tmp_path / "backtests" / "demo.yaml"
    own.write_text("name: mine\n")
    assert resolve_run_file("backtests/demo.yaml") == Path("backtests/demo.yaml")
    assert capsys.readouterr().err == ""
