"""FXCommissionFeeModel charges its minimum only in the instrument's quote currency: a run file
whose minimum is in another currency is refused by the preflight, not run without a minimum."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fixtures.replay_catalog import build_replay_catalog

from nautilus_ai.cli import main

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def catalog(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_replay_catalog(data_dir, tmp_path_factory.mktemp("fee-minimum"), rows=600)


def _run_file(tmp_path: Path, catalog: Path, minimum: str) -> Path:
    raw = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
    raw["report_dir"] = str(tmp_path / "reports")
    raw["run"]["venues"][0]["fee_model"]["config"]["minimum"] = minimum
    raw["run"]["data"][0]["catalog_path"] = str(catalog)
    raw["run"]["engine"]["strategies"][0]["config"]["catalog_path"] = str(catalog)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_minimum_in_another_currency_than_the_quote_is_refused(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """'2.00 EUR' on EUR/USD (quoted in USD) ran with no minimum commission at all."""
    run_file = _run_file(tmp_path, catalog, "2.00 EUR")
    assert main(["backtest", "--check", str(run_file)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (
        f"{run_file}: run.venues[0].fee_model.config.minimum: is in EUR, but EUR/USD.SIM is "
        "quoted in USD: the minimum would never be charged (give it in USD) (received "
        "'2.00 EUR')"
    ) in err


def test_a_minimum_in_the_quote_currency_passes(
    catalog: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backtest", "--check", str(_run_file(tmp_path, catalog, "2.00 USD"))]) == 0
    assert "OK - demo-eurusd-rule" in capsys.readouterr().out
