"""``nautilus-ai patterns evaluate`` on a small catalog: the memory built on the training window
only, then the memory, the MLP (``nautilus-ai train``) and the rule model backtested on the same
later window in ``BacktestNode`` runs, with a report and an equity picture."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.replay_catalog import build_replay_catalog


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", *args],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.extra("torch")  # a torch model built from a config or the train CLI
def test_evaluate_runs_memory_mlp_and_rule_on_the_same_window(
    data_dir: Path, tmp_path: Path
) -> None:
    catalog = str(build_replay_catalog(data_dir, tmp_path / "catalog", rows=3000))
    trained = _cli("train", "--catalog", catalog, "--train", "2017-01-02", "2017-01-03T12:00",
                   "--validation", "2017-01-03T13:00", "2017-01-03T20:00", "--epochs", "3",
                   "--out", str(tmp_path / "artifacts"), "--json")  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    artifact = json.loads(trained.stdout)["artifact"]
    out = tmp_path / "oos"
    result = _cli("patterns", "evaluate", "--catalog", catalog, "--model", artifact,
                  "--train", "2017-01-02", "2017-01-03T12:00",
                  "--test", "2017-01-03T21:00", "2017-01-05",
                  "--out", str(out), "--json")  # fmt: skip
    # The 3-epoch MLP sizes every entry to zero: that run failed, the report and the exit
    # status say so (exit 0 and a flat "result" line before); the other runs are results.
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.startswith(
        "nautilus-ai: error: out-of-sample backtest failed: trained MLP (report "
    )
    answer = json.loads(result.stdout)
    assert set(answer["runs"]) == {"trained", "rule", "pattern_memory", "buy_and_hold"}
    assert {k: r["status"] for k, r in answer["runs"].items()} == {
        "trained": "failed",
        "rule": "ok",
        "pattern_memory": "ok",
        "buy_and_hold": "ok",
    }
    assert len(answer["failures"]) == 1
    assert answer["patterns"] > 1000
    for row in answer["runs"].values():
        assert isinstance(row["trades"], int) and row["trades"] >= 0
    assert answer["runs"]["pattern_memory"]["trades"] > 0
    report = (out / "report.md").read_text()
    assert "| pattern memory (k=20) |" in report and "| trained MLP **FAILED** |" in report
    assert "**Failed runs** (their rows are not results):" in report
    assert (out / "equity.png").stat().st_size > 20_000
    # the memory saw only the training window
    stats = _cli("patterns", "stats", "--catalog", catalog, "--name", "oos-train", "--json")
    assert json.loads(stats.stdout)["last"] < "2017-01-03 12:00"

    overlap = _cli("patterns", "evaluate", "--catalog", catalog, "--train", "2017-01-02",
                   "2017-01-04", "--test", "2017-01-03", "2017-01-05",
                   "--out", str(out))  # fmt: skip
    assert overlap.returncode == 2 and "overlaps" in overlap.stderr


def test_evaluate_refuses_a_test_window_without_bars(
    patterns_replay_catalog: Path, tmp_path: Path
) -> None:
    """A test window without bars (Saturday 7 January 2017): one line naming it, exit 2, nothing
    written; not backtests on no bar and then an IndexError from buy & hold."""
    out = tmp_path / "oos"
    result = _cli("patterns", "evaluate", "--catalog", str(patterns_replay_catalog),
                  "--train", "2017-01-02", "2017-01-03T12:00", "--test", "2017-01-07",
                  "2017-01-08", "--out", str(out))  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == (
        "nautilus-ai: error: no EUR/USD.SIM-1-MINUTE-BID-EXTERNAL bar in the test window "
        f"[2017-01-07T00:00:00Z, 2017-01-08T00:00:00Z) of {patterns_replay_catalog}"
    )
    assert not out.exists()
    assert not list((patterns_replay_catalog / "patterns").glob("*/oos-train"))


def test_evaluate_refuses_to_overwrite_an_earlier_report_in_out(tmp_path: Path) -> None:
    """A second evaluation with the same --out silently replaced the first one's report.md,
    results.json and equity.png: now refused in one line naming the file, nothing touched."""
    out = tmp_path / "oos"
    out.mkdir()
    (out / "results.json").write_text('{"earlier": true}')
    result = _cli("patterns", "evaluate", "--catalog", str(tmp_path / "no-catalog"),
                  "--train", "2017-01-02", "2017-01-03T12:00", "--test", "2017-01-04",
                  "2017-01-05", "--out", str(out))  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.count("\n") == 1 and str(out / "results.json") in result.stderr
    assert "--replace" in result.stderr
    assert (out / "results.json").read_text() == '{"earlier": true}'
