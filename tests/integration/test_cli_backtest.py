"""The BacktestNode run file runs through the CLI (a real subprocess, real data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_backtest_cli_runs_the_demo_config(demo_catalog: Path, tmp_path: Path) -> None:
    env = dict(os.environ, NAUTILUS_AI_CATALOG=str(demo_catalog), NAUTILUS_AI_REPORTS=str(tmp_path))
    # The README's sequence: --check first (runs nothing), then the run.
    checked = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "backtest", str(REPO / "backtests" / "demo.yaml"),
         "--check"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.rstrip().endswith("nothing was run") and not list(tmp_path.iterdir())
    result = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "backtest", str(REPO / "backtests" / "demo.yaml"),
         "--json"],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    for key in ("trades", "win_rate", "pnl", "sharpe", "sortino", "calmar", "profit_factor",
                "max_drawdown", "exposure", "bars_per_s"):  # fmt: skip
        assert key in summary
    assert summary["bars"] == 186_348
    assert summary["trades"] > 0
    assert summary["sample"] == "in-sample"
    assert summary["status"] == "ok" and summary["reasons"] == []
    # our equity curve reconciles with the venue account to the cent
    assert abs(summary["extra"]["reconciliation_diff"]) < 0.01
    report = Path(summary["report_dir"])
    assert (report / "stats.json").exists() and (report / "equity.png").exists()
    assert report.parent == tmp_path


def test_backtest_cli_bad_file_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: {venues: nope}\n")
    result = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "backtest", str(bad)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert (
        result.stderr
        == f"nautilus-ai: error: {bad}: run.venues: expected a list (received 'nope')\n"
    )
    assert "Traceback" not in result.stderr


def test_a_typo_in_the_demo_config_is_the_readme_line(demo_catalog: Path, tmp_path: Path) -> None:
    # On main this ran: min_confidance was ignored (1,943 trades instead of 1,380), exit 0.
    text = (REPO / "backtests" / "demo.yaml").read_text()
    assert "min_confidence: 0.6" in text
    (tmp_path / "backtests").mkdir()
    (tmp_path / "backtests" / "demo.yaml").write_text(
        text.replace("min_confidence: 0.6", "min_confidance: 0.6")
    )
    result = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "backtest", "backtests/demo.yaml"],
        env=dict(os.environ, NAUTILUS_AI_CATALOG=str(demo_catalog)),
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        "nautilus-ai: error: backtests/demo.yaml: run.engine.strategies[0].config.min_confidance:"
        " unknown key (received 0.6); did you mean 'min_confidence'?\n"
    )
