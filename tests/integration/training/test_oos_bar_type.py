"""``train --bar-type <hour bars> --backtest``: the out-of-sample comparison ran the packaged
demo run file, whose strategy and data are 1-minute bars, so the hour model was backtested on
minute bars (figures of a model on bars it never saw, recorded in its card); with the bar type
check the run now failed at start instead. The comparison runs on the bar type the model's card
records (its instrument, and the ASK twin of a BID series for the venue's quotes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fixtures.stored_models import HOUR_BID, lightgbm_model

from nautilus_ai.datasets import Window
from nautilus_ai.models.card import TimeWindow

HOUR = 3_600_000_000_000


@pytest.fixture(scope="module")
def hour_catalog(demo_catalog: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's January-March 2017 minute bars aggregated to hour bars, bid and ask."""
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    from nautilus_ai.data.arrays import BarArrays
    from nautilus_ai.data.catalog import read_bars, write_bars

    folder = tmp_path_factory.mktemp("hour-catalog")
    instrument = ParquetDataCatalog(str(demo_catalog)).instruments()[0]
    ParquetDataCatalog(str(folder)).write_data([instrument])
    end = Window.parse("2017-01-01", "2017-04-01").end_ns
    for side in ("BID", "ASK"):
        bars = read_bars(demo_catalog, f"EUR/USD.SIM-1-MINUTE-{side}-EXTERNAL", end_ns=end)
        group = (bars.ts_event - 1) // HOUR
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        ends = np.r_[starts[1:], group.size] - 1
        hours = BarArrays(
            ts_event=(group[starts] + 1) * HOUR, open=bars.open[starts],
            high=np.maximum.reduceat(bars.high, starts), low=np.minimum.reduceat(bars.low, starts),
            close=bars.close[ends], volume=np.add.reduceat(bars.volume, starts),
        )  # fmt: skip
        write_bars(folder, instrument, f"EUR/USD.SIM-1-HOUR-{side}-EXTERNAL", hours)
    return folder


def test_the_comparison_runs_on_the_bar_type_the_model_was_trained_on(
    hour_catalog: Path, tmp_path: Path
) -> None:
    from nautilus_ai.workflows.oos import compare_out_of_sample

    # trained before the window (an overlap is refused as in-sample)
    before = TimeWindow(
        start=datetime(2017, 1, 2, tzinfo=UTC), end=datetime(2017, 3, 1, tzinfo=UTC)
    )
    artifact = lightgbm_model(tmp_path, "gbt-hour", HOUR_BID, train_window=before)
    window = Window.parse("2017-03-01", "2017-04-01")
    comparison = compare_out_of_sample(
        artifact, hour_catalog, window, report_dir=tmp_path / "reports", min_confidence=0.34
    )
    trained, rule = comparison.runs["trained"], comparison.runs["rule"]
    assert comparison.failures == [], comparison.failures
    assert trained.summary.bars == rule.summary.bars
    hours_in_window = 22 * 23  # ~22 trading days of up to 24 hour bars
    assert hours_in_window // 2 < trained.summary.bars < 24 * 31
