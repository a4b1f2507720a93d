"""The README's "Experiments" commands, run in order as written on a catalog that holds data:
the small walk-forward experiment end to end on a real local Ray, the library commands, the
DuckDB query, the report's pictures; then the demo's last step finds every run stored."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from nautilus_ai.paths import repo_root

#: Ray / Optuna / DuckDB: the full test leg only (the core leg has no experiments extra).
pytestmark = pytest.mark.extra("experiments")

NAME = "demo-walk-forward"
RUNS = 21  # 3 folds x (2 LightGBM + 2 pattern memory + 2 rule trials) + 3 rule baselines


def readme_section() -> str:
    text = (repo_root() / "README.md").read_text()
    return text.split("## Experiments", 1)[1].split("\n## ", 1)[0]


def readme_commands() -> list[list[str]]:
    (block,) = re.findall(r"```bash\n(.*?)```", readme_section(), flags=re.S)
    return [shlex.split(line.split("#", 1)[0]) for line in block.splitlines() if line.strip()]


def readme_python() -> str:
    (block,) = re.findall(r"```python\n(.*?)```", readme_section(), flags=re.S)
    return block


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    assert args[0] == "nautilus-ai"
    return subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", *args[1:]], cwd=cwd, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip


def _run_here(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    from nautilus_ai.cli import main

    assert args[0] == "nautilus-ai"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args[1:])
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, demo_catalog: Path) -> Path:
    """A user's folder: the repository's backtests/ and a catalog that holds the demo data."""
    folder = tmp_path_factory.mktemp("experiments-readme")
    (folder / "backtests").symlink_to(repo_root() / "backtests", target_is_directory=True)
    (folder / "catalogs").mkdir()
    (folder / "catalogs" / "demo").symlink_to(demo_catalog, target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def outputs(workdir: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    commands = readme_commands()
    assert [c[1:3] for c in commands] == [["experiment", v] for v in
                                          ("run", "list", "show", "best", "compare")]  # fmt: skip
    results = {}
    for i, command in enumerate(commands):
        # the run in its own process, as a user's; the library commands that read what it
        # stored through the same CLI entry in this one (no interpreter start and imports each)
        result = _run(command, workdir) if i == 0 else _run_here(command, workdir)
        assert result.returncode == 0, " ".join(command) + "\n" + result.stderr[-4000:]
        results[command[2]] = result
    return results


def test_the_experiment_runs_every_fold_on_ray_and_stores_every_run(
    outputs: dict[str, Any], workdir: Path
) -> None:
    out = outputs["run"].stdout
    assert f"{RUNS} runs (0 already stored, {RUNS} run, 0 failed) on Ray (2 CPUs, local)" in out
    assert "best [OUT-OF-SAMPLE, stitched over 3 folds]" in out
    runs = ds.dataset(workdir / "results" / "runs" / NAME).to_table()
    assert runs.num_rows == RUNS + 3  # and the buy & hold rows of the 3 baseline folds
    rows = runs.to_pylist()
    trials = [r for r in rows if r["role"] == "trial"]
    assert {r["family"] for r in trials} == {"lightgbm", "pattern_memory", "rule"}
    assert {r["fold"] for r in rows} == {0, 1, 2}
    for r in trials:
        assert r["status"] == "ok" and r["trades"] > 0
        assert r["test_start"] >= r["validation_end"] > r["train_end"]  # tz-aware datetimes
        assert len(r["equity"]) == len(r["equity_ts"]) == r["bars"] > 5_000
        assert len(r["trade_log"]) == r["trades"]
        net = sum(t["realized_pnl"] for t in r["trade_log"])
        parts = sum(t["gross"] - t["commission"] - t["spread"] for t in r["trade_log"])
        assert abs(net - parts) < 1e-6 * max(1.0, abs(net))  # the split adds up to the net
        assert 0.0 < r["min_confidence"] <= 1.0  # chosen on the validation window
    models = [r for r in trials if r["family"] in ("lightgbm", "pattern_memory")]
    assert all(r["model_card"] for r in models)
    # one model per fold and family, shared by the runs that differ only in the strategy
    assert len({r["model_key"] for r in models}) == 6


def test_the_library_commands_read_the_stored_runs(outputs: dict[str, Any]) -> None:
    listing = outputs["list"].stdout
    assert re.search(rf"{NAME}\s+3\s+6\s+{RUNS}/{RUNS}\s+0\s+complete", listing), listing
    show = outputs["show"].stdout
    assert "fold 2: train" in show and "test [OUT-OF-SAMPLE]" in show
    assert f"6 trials, {RUNS}/{RUNS} runs stored, 0 failed" in show
    assert "baseline buy_and_hold" in show and "baseline rule" in show
    best = outputs["best"].stdout.splitlines()
    assert best[0].startswith(f"{NAME}: best 3 of 6 trials by sharpe (OUT-OF-SAMPLE")
    assert [line.split()[0] for line in best[1:]] == ["1.", "2.", "3."]
    compare = outputs["compare"].stdout.splitlines()
    assert compare[1].split()[:3] == [NAME, "3", "6"]


def test_the_report_has_every_picture(outputs: dict[str, Any], workdir: Path) -> None:
    report = workdir / "results" / "experiments" / NAME / "report"
    text = (report / "report.md").read_text()
    assert text.startswith(f"# {NAME}: walk-forward experiment (out-of-sample)")
    for heading in ("Stitched out-of-sample equity and drawdown", "Per fold", "Seeds",
                    "Leaderboard (selected on these out-of-sample results)",
                    "Is the best trial luck? Deflated Sharpe and PBO",
                    "Uncertainty (stationary bootstrap)",
                    "Trades on the price chart", "Monthly returns", "Rolling Sharpe",
                    "PnL per trade", "Does confidence pay?", "Where the PnL goes",
                    "Parameter sensitivity"):  # fmt: skip
        assert f"## {heading}" in text, heading
    for picture in ("equity", "trades", "monthly", "rolling_sharpe", "pnl", "confidence",
                    "costs", "sensitivity"):  # fmt: skip
        assert (report / f"{picture}.png").stat().st_size > 15_000, picture
    assert "| deflated Sharpe ratio |" in text and "| probability of backtest overfitting |" in text


def test_the_readme_duckdb_query_runs_on_the_library(
    outputs: dict[str, Any], workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.chdir(workdir)
    exec(compile(readme_python(), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    for label in ("lightgbm#00", "pattern_memory#01", "rule#00", "commission_per_trade"):
        assert label in printed


def test_the_demo_ends_with_the_same_experiment_and_finds_it_stored(
    outputs: dict[str, Any], workdir: Path, demo_catalog: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nautilus_ai.workflows.demo import run_demo_experiment

    monkeypatch.chdir(workdir)
    lines: list[str] = []
    outcome = run_demo_experiment(demo_catalog, progress=lines.append)
    assert outcome.ok and outcome.stats.skipped == RUNS and outcome.stats.ran == 0
    assert outcome.report == workdir / "results" / "experiments" / NAME / "report" / "report.md"
    assert f"report: {outcome.report}" in outcome.summary_text()
