"""The fast catalog reader equals Nautilus' own Bar objects, value for value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.data import read_bars
from nautilus_ai.data.catalog import read_quotes

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def test_read_bars_equals_catalog_bars(demo_catalog: Path) -> None:
    arrays = read_bars(demo_catalog, BID)
    bars = ParquetDataCatalog(str(demo_catalog)).bars(bar_types=[BID])
    assert len(arrays) == len(bars) == 186_348
    assert np.array_equal(arrays.ts_event, [b.ts_event for b in bars])
    for name in ("open", "high", "low", "close", "volume"):
        expected = np.array([getattr(b, name).as_double() for b in bars])
        assert np.array_equal(getattr(arrays, name), expected), name


def test_read_bars_window_and_missing_type(demo_catalog: Path) -> None:
    all_bars = read_bars(demo_catalog, BID)
    start, end = int(all_bars.ts_event[100]), int(all_bars.ts_event[200])
    window = read_bars(demo_catalog, BID, start_ns=start, end_ns=end)
    assert len(window) == 101 and window.ts_event[0] == start
    # the error names what the catalog holds, as written (not as its folders spell it)
    held = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL, EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
    with pytest.raises(FileNotFoundError) as missing:
        read_bars(demo_catalog, "EUR/USD.SIM-1-MINUTE-MID-EXTERNAL")
    assert str(missing.value) == (
        f"no bars of type EUR/USD.SIM-1-MINUTE-MID-EXTERNAL in catalog {demo_catalog} (it "
        f"holds: {held}; did you mean EUR/USD.SIM-1-MINUTE-BID-EXTERNAL?)"
    )
    with pytest.raises(FileNotFoundError, match=r"no quote ticks of EUR/USD.SIM .*holds: none"):
        read_quotes(demo_catalog, "EUR/USD.SIM")


def test_read_bars_decodes_values_beyond_64_bits(tmp_path: Path) -> None:
    # Nautilus' own writer: a 5M-unit volume at 16 decimals is 5e22, beyond int64.
    from nautilus_trader.model.data import Bar, BarType

    bar_type = BarType.from_str(BID)
    ts = np.array([60, 120, 180], dtype=np.uint64) * 1_000_000_000
    price = np.array([1.05, 1.06, 1.07])
    volume = np.array([5_000_000.0, 0.0, 123_456_789.0])
    bars = Bar.from_raw_arrays_to_list(bar_type, 5, 0, price, price, price, price, volume, ts, ts)
    catalog = ParquetDataCatalog(str(tmp_path))
    catalog.write_data(bars)
    arrays = read_bars(tmp_path, BID)
    assert np.array_equal(arrays.volume, [b.volume.as_double() for b in bars])
    assert np.array_equal(arrays.close, [b.close.as_double() for b in bars])


def test_a_window_reads_the_same_rows_from_a_catalog_of_many_files(tmp_path: Path) -> None:
    # Three files (Nautilus' writer, one per call), ts_init = ts_event + 30 s so a window's
    # first bars can sit in a file whose name starts later. Every window, at and either side of
    # a file edge, equals the full read filtered on ts_event.
    from nautilus_trader.model.data import Bar, BarType

    bar_type = BarType.from_str(BID)
    n = 90
    ts_event = (np.arange(n, dtype=np.uint64) + 1) * 60 * 1_000_000_000
    ts_init = ts_event + np.uint64(30 * 1_000_000_000)
    price = 1.05 + np.arange(n) * 1e-5
    volume = np.arange(n, dtype=np.float64)
    bars = Bar.from_raw_arrays_to_list(
        bar_type, 5, 0, price, price, price, price, volume, ts_event, ts_init
    )
    catalog = ParquetDataCatalog(str(tmp_path))
    for part in (bars[:30], bars[30:60], bars[60:]):
        catalog.write_data(part)
    assert len(list(tmp_path.rglob("*.parquet"))) == 3
    full = read_bars(tmp_path, BID)
    assert np.array_equal(full.ts_event, ts_event.astype(np.int64))
    edges = [int(ts_event[i]) + d for i in (0, 29, 30, 59, 60, 89) for d in (-1, 0, 1)]
    for start in [None, *edges]:
        for end in [None, *edges]:
            if start is not None and end is not None and start > end:
                with pytest.raises(ValueError, match=f"start_ns {start} is after end_ns {end}"):
                    read_bars(tmp_path, BID, start_ns=start, end_ns=end)  # not an empty read
                continue
            window = read_bars(tmp_path, BID, start_ns=start, end_ns=end)
            keep = np.ones(n, dtype=bool)
            if start is not None:
                keep &= full.ts_event >= start
            if end is not None:
                keep &= full.ts_event <= end
            assert np.array_equal(window.ts_event, full.ts_event[keep]), (start, end)
            for name in ("open", "high", "low", "close", "volume"):
                assert np.array_equal(getattr(window, name), getattr(full, name)[keep])


@pytest.mark.parametrize(
    ("window", "error", "match"),
    [
        ({"start_ns": "2017-01-03"}, TypeError, r"start_ns must be an int \(UTC ns\)"),
        ({"end_ns": 1.4835e18}, TypeError, r"end_ns must be an int"),
    ],
)  # fmt: skip
def test_read_bars_refuses_a_window_it_cannot_mean(
    demo_catalog: Path, window: dict[str, object], error: type[Exception], match: str
) -> None:
    # a str failed deep in a comparison ('>=' not supported), a float was rounded silently
    with pytest.raises(error, match=match):
        read_bars(demo_catalog, BID, **window)  # type: ignore[arg-type]
