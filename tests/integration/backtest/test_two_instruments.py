"""A run of strategies on two instruments: each instrument's position is marked at its own
prices in the equity curve (the report's drawdown, Sharpe and exposure come from it)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from fixtures.replay_catalog import read_histdata_m1
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.identifiers import Venue
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.test_kit.providers import TestInstrumentProvider

from nautilus_ai.backtest.config import parse_run_file
from nautilus_ai.backtest.runner import run_backtest

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def catalogs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """4,000 real EUR/USD minute bars in one catalog, and GBP/USD bars at 1.17x those prices
    (same times) in another."""
    table = read_histdata_m1(data_dir / "histdata" / "DAT_ASCII_EURUSD_M1_201701.csv", 4000)
    ts = table[:, 0].astype(np.int64).astype(np.uint64)
    folders = {}
    for symbol, scale in (("EUR/USD", 1.0), ("GBP/USD", 1.17)):
        folders[symbol] = folder = tmp_path_factory.mktemp(symbol.replace("/", ""))
        catalog = ParquetDataCatalog(str(folder))
        catalog.write_data([TestInstrumentProvider.default_fx_ccy(symbol, Venue("SIM"))])
        for side, shift in (("BID", 0.0), ("ASK", 0.00003)):
            o, h, low, c = (np.round(table[:, k] * scale + shift, 5) for k in range(1, 5))
            bar_type = BarType.from_str(f"{symbol}.SIM-1-MINUTE-{side}-EXTERNAL")
            volume = np.full(len(ts), 1e6)
            catalog.write_data(
                Bar.from_raw_arrays_to_list(bar_type, 5, 0, o, h, low, c, volume, ts, ts)
            )
    return folders


def test_each_instrument_is_marked_at_its_own_prices(
    catalogs: dict[str, Path], tmp_path: Path
) -> None:
    """The GBP/USD position was marked at EUR/USD closes (the first strategy's bars): the
    report showed a 9.5 % drawdown for a run whose account never lost 0.5 %. And the GBP/USD
    strategy's bars were counted in the first data config's catalog, which holds none: a good
    run was reported failed, "ran on zero bars"."""
    raw = yaml.safe_load((REPO / "backtests" / "demo.yaml").read_text())
    run = raw["run"]
    run["data"][0]["catalog_path"] = str(catalogs["EUR/USD"])
    gbp = copy.deepcopy(run["data"][0])
    gbp["catalog_path"] = str(catalogs["GBP/USD"])
    sides = ["GBP/USD.SIM-1-MINUTE-BID-EXTERNAL", "GBP/USD.SIM-1-MINUTE-ASK-EXTERNAL"]
    gbp.update(instrument_id="GBP/USD.SIM", bar_types=sides)
    run["data"].append(gbp)
    eur = run["engine"]["strategies"][0]
    eur["config"].update(feature_source="incremental")
    eur["config"].pop("catalog_path")
    other = copy.deepcopy(eur)
    other["config"].update(
        instrument_id="GBP/USD.SIM", bar_type="GBP/USD.SIM-1-MINUTE-BID-EXTERNAL"
    )
    run["engine"]["strategies"].append(other)
    outcome = run_backtest(parse_run_file(raw, tmp_path / "run.yaml"), write=False)
    assert outcome.ok, outcome.reasons
    assert len(outcome.strategies) == 2  # one per instrument, both traded
    assert all(status.filled > 0 for status in outcome.strategies.values())
    assert [status.bars for status in outcome.strategies.values()] == [4000, 4000]
    summary = outcome.summary
    assert summary.extra["reconciliation_diff"] == pytest.approx(0.0, abs=1e-6)
    # Worst mark-to-market loss: far below the 9.5 % the mis-marked curve showed. Bound it by
    # what each instrument alone can lose between fills at its own prices.
    assert summary.max_drawdown_pct < 1.0, summary.max_drawdown_pct
    assert np.all(np.abs(np.diff(outcome.equity)) < 0.01 * summary.starting_equity)
