"""A window whose start is after its end is refused by every catalog reader that takes one,
naming both bounds; it used to read as an empty window (nothing, no error)."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalog_helpers import MINUTE, T0, TinySpec, record_rows
from fixtures.replay_catalog import BID, INSTRUMENT_ID, build_replay_catalog

from nautilus_ai.catalog import (
    CatalogReadError,
    FeatureLogConfig,
    FeatureLogger,
    read_bars,
    read_snapshots,
)
from nautilus_ai.data import catalog as data_catalog

LATE, EARLY = T0 + 9 * MINUTE, T0 + 3 * MINUTE


@pytest.fixture(scope="module")
def bars_catalog(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_replay_catalog(data_dir, tmp_path_factory.mktemp("bars"), rows=60)


def test_read_bars_refuses_a_start_after_the_end(bars_catalog: Path) -> None:
    ts, _ = read_bars(bars_catalog, BID)
    start, end = int(ts[40]), int(ts[10])
    with pytest.raises(CatalogReadError, match=f"start_ns {start} is after end_ns {end}"):
        read_bars(bars_catalog, BID, start_ns=start, end_ns=end)
    with pytest.raises(ValueError, match=f"start_ns {start} is after end_ns {end}"):
        data_catalog.read_bars(bars_catalog, BID, start_ns=start, end_ns=end)
    # a one-instant window is still a window
    assert data_catalog.read_bars(bars_catalog, BID, start_ns=end, end_ns=end).ts_event.size == 1
    assert read_bars(bars_catalog, BID, start_ns=end, end_ns=end)[0].size == 0  # half-open


def test_read_quotes_refuses_a_start_after_the_end(bars_catalog: Path) -> None:
    with pytest.raises(ValueError, match=f"start_ns {LATE} is after end_ns {EARLY}"):
        data_catalog.read_quotes(bars_catalog, INSTRUMENT_ID, start_ns=LATE, end_ns=EARLY)


def test_read_snapshots_refuses_a_start_after_the_end(tmp_path: Path) -> None:
    logger = FeatureLogger(
        FeatureLogConfig(catalog_path=str(tmp_path), run_id="r", flush_rows=5, fsync=False),
        spec=TinySpec(), instrument_id="EUR/USD.SIM", bar_type="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
    )  # fmt: skip
    record_rows(logger, 12)
    logger.close()
    with pytest.raises(CatalogReadError, match=f"start_ns {LATE} is after end_ns {EARLY}"):
        read_snapshots(tmp_path, "r", start_ns=LATE, end_ns=EARLY)
