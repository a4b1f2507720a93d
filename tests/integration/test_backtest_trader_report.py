"""README sequence: `nautilus-ai backtest backtests/demo.yaml`, then the trader's report of its
folder, on the real demo catalog; the numbers on the page are the run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def test_demo_backtest_then_its_trader_report(demo_catalog: Path, tmp_path: Path) -> None:
    env = dict(os.environ, NAUTILUS_AI_CATALOG=str(demo_catalog), NAUTILUS_AI_REPORTS=str(tmp_path))
    run = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "backtest", str(REPO / "backtests" / "demo.yaml"),
         "--json"],
        env=env, capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout)
    folder = Path(summary["report_dir"])
    report = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.experiments.backtest_report", str(folder),
         "--catalog", str(demo_catalog)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr[-3000:]
    assert f"{summary['trades']} trades" in report.stdout
    page = (folder / "trader" / "report.md").read_text()
    assert page.startswith(f"# {summary['name']} [in-sample]: trader's report")
    # the equity rebuilt from the trade log ends on the run's final equity (to the cent)
    assert "ends +0.00 USD" in page or "ends -0.00 USD" in page
    # the cost split: commissions are the fee model's 2 USD minimum on both orders of a trade
    trades = summary["trades"]
    assert "-4.00 commission" in page
    assert f"net {summary['pnl']:+,.2f} USD" in page
    for name in ("equity", "trades", "monthly", "rolling_sharpe", "pnl", "confidence", "costs"):
        image = folder / "trader" / f"{name}.png"
        assert f"]({name}.png)" in page
        with Image.open(image) as picture:
            assert picture.format == "PNG" and picture.size[0] >= 800
    assert trades > 100
    missing = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.experiments.backtest_report", str(tmp_path / "nope"),
         "--catalog", str(demo_catalog)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert missing.returncode == 2 and "not a backtest report folder" in missing.stderr
