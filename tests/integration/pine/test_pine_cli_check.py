"""``nautilus-ai export-pine`` end to end: --check (pynescript + PineTS) and --embed tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from nautilus_ai.cli import main
from nautilus_ai.pine import PineSyntaxChecker

pytestmark = pytest.mark.slow


def test_export_and_check_an_artifact(
    trained_artifact: Path,
    pinets_modules: Path,
    syntax_checker: PineSyntaxChecker,  # warms the parser of this process for the CLI
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "quick.pine"
    code = main(
        ["export-pine", "--model", str(trained_artifact), "--out", str(out),
         "--min-confidence", "0.4", "--check", "--check-bars", "2500",
         "--data-dir", str(data_dir), "--pinets-dir", str(pinets_modules.parent)]
    )  # fmt: skip
    text = capsys.readouterr().out
    print(text)
    assert code == 0, text
    assert "syntax ok" in text
    assert "parity PASSED on 2500 bars" in text
    assert "check PASSED" in text and "check run time" in text
    assert out.is_file()


def test_distilled_export_prints_its_fidelity(
    trained_artifact: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tree.pine"
    month = sorted((data_dir / "histdata").glob("DAT_ASCII_EURUSD_M1_2017*.csv"))[1]
    code = main(
        ["export-pine", "--model", str(trained_artifact), "--embed", "tree", "--out", str(out),
         "--data", str(month), "--max-depth", "6", "--min-confidence", "0.4"]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "embedded as distilled decision tree" in text
    assert "distilled tree fidelity" in text and "held-out rows" in text
    script = out.read_text()
    assert "NOT embedded: distilled into a decision tree" in script
    assert "// Fidelity: fidelity " in script
