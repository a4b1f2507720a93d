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


def test_a_bad_chart_window_is_one_line_and_writes_nothing(
    demo_catalog: Path, tmp_path: Path, capsys: object
) -> None:
    # `--window` reversed or not a date was a ValueError traceback; a window outside the run
    # drew an empty chart and said "wrote ...", exit 0.
    import yaml

    from nautilus_ai.backtest.config import parse_run_file
    from nautilus_ai.backtest.runner import run_backtest
    from nautilus_ai.experiments.backtest_report import main

    raw = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
    raw["report_dir"] = str(tmp_path)
    raw["run"]["data"][0].update(
        catalog_path=str(demo_catalog), start_time="2017-05-01", end_time="2017-05-03"
    )
    raw["run"]["engine"]["strategies"][0]["config"]["catalog_path"] = str(demo_catalog)
    outcome = run_backtest(parse_run_file(raw, tmp_path / "run.yaml"))
    assert outcome.report_dir is not None
    folder = str(outcome.report_dir)
    for window, message in [
        (["2017-05-03", "2017-05-01"], "--window 2017-05-03 2017-05-01: Window: start ("),
        (["xx", "2017-05-01"], "--window xx 2017-05-01: not an ISO date / datetime: 'xx'"),
        (
            ["2018-05-01", "2018-05-03"],
            "the chart window 2018-05-01T00:00:00Z .. 2018-05-03T00:00:00Z holds none of the "
            "run's 2,869 bars (2017-05-01T00:00:00Z .. 2017-05-03T00:00:00Z)",
        ),
    ]:
        assert main([folder, "--catalog", str(demo_catalog), "--window", *window]) == 2
        err = capsys.readouterr().err  # type: ignore[attr-defined]
        assert err.startswith(f"backtest_report: error: {message}") and len(err.splitlines()) == 1
        assert not (outcome.report_dir / "trader").exists()
    assert (
        main([folder, "--catalog", str(demo_catalog), "--window", "2017-05-02", "2017-05-03"]) == 0
    )
