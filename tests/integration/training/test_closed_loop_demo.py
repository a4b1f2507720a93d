"""``nautilus-ai demo``: the closed loop on the real data, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nautilus_ai.catalog import read_snapshots
from nautilus_ai.models.card import read_model_card


@pytest.mark.extra("torch")  # a torch model built from a config or the train CLI
def test_demo_runs_the_closed_loop_and_reports_oos_against_the_baselines(
    demo_catalog: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "demo", "--catalog", str(demo_catalog),
         "--reports", str(tmp_path / "reports"), "--artifacts", str(tmp_path / "artifacts"),
         "--no-experiment", "--json"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads(result.stdout)
    report = Path(summary["report_dir"])
    assert report.parent == tmp_path / "reports"
    for name in ("report.md", "summary.json", "equity_oos.png", "reliability.png", "training.png"):
        assert (report / name).stat().st_size > 1000, name

    # the logged run is the training data
    assert summary["snapshots_logged"] == 186_235  # every warm bar of Jan-Jun
    assert summary["outcomes_logged"] == summary["backtest_in_sample_rule_jan_jun"]["trades"]
    assert len(read_snapshots(demo_catalog, summary["feature_log_run_id"])) == 186_235

    # windows and samples are stated
    assert summary["windows"]["test"] == {
        "start": "2017-05-01T00:00:00Z", "end": "2017-07-01T00:00:00Z",
    }  # fmt: skip
    assert summary["classification"]["train"]["sample"] == "in-sample"
    assert summary["classification"]["test"]["sample"] == "out-of-sample"
    oos = summary["backtest_out_of_sample"]
    assert oos["sample"] == "out-of-sample"
    assert {"trained", "rule", "buy_and_hold"} <= set(oos)
    assert oos["rule"]["trades"] > 0 and oos["buy_and_hold"]["trades"] == 1
    assert {oos[k]["status"] for k in ("trained", "rule", "buy_and_hold")} == {"ok"}

    text = (report / "report.md").read_text()
    assert "OUT-OF-SAMPLE" in text and "in-sample" in text and "No proven edge" in text
    for label in ("trained MLP", "rule model", "buy & hold (1x)"):
        assert label in text

    card = read_model_card(summary["artifact"])
    assert card.metrics["data"]["feature_source"] == "snapshots"  # type: ignore[index]
    assert card.metrics["backtest_oos"]["window"] == summary["windows"]["test"]  # type: ignore[index]
    assert "[1/4]" in result.stderr and "epoch   1/40" in result.stderr
