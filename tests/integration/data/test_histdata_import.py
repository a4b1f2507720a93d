"""HistData M1 -> ParquetDataCatalog: counts, idempotence, derived ASK bars, Nautilus round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.data import (
    BarArrays,
    catalog_info,
    fx_instrument,
    import_histdata_m1,
    import_histdata_ticks,
    read_bars,
    read_histdata_m1,
    write_bars,
)

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"


@pytest.fixture(scope="module")
def m1_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "histdata").glob("DAT_ASCII_EURUSD_M1_2017*.csv"))


def test_import_twice_gives_one_copy_and_exact_bid_values(
    tmp_path: Path, m1_files: list[Path]
) -> None:
    first = import_histdata_m1(m1_files, tmp_path, ask_spread_pips=0.8)
    second = import_histdata_m1(m1_files, tmp_path, ask_spread_pips=0.8)
    assert first.rows_read == second.rows_read == 186_348
    assert [w.unchanged for w in second.writes] == [186_348, 186_348]
    assert [(w.added, w.changed, w.written) for w in second.writes] == [(0, 0, False)] * 2
    assert any("NOT market data" in a and "0.8 pip" in a for a in second.assumptions)
    assert "MODELLING ASSUMPTION" in second.to_text()

    catalog = ParquetDataCatalog(str(tmp_path))
    bid = catalog.bars([BID])
    ask = catalog.bars([ASK])
    assert len(bid) == len(ask) == 186_348
    assert [str(i.id) for i in catalog.instruments()] == ["EUR/USD.SIM"]
    assert catalog.instruments()[0].price_precision == 5

    source = read_histdata_m1(m1_files)
    assert np.array_equal([b.ts_event for b in bid], source.ts_event)
    assert np.array_equal([b.ts_init for b in bid], source.ts_event)
    assert np.array_equal([b.close.as_double() for b in bid], source.close)
    assert np.array_equal([b.low.as_double() for b in bid], source.low)
    # ASK = BID + 8 points exactly, at the same ts_init (what the matching engine pairs on).
    assert all(a.ts_init == b.ts_init for a, b in zip(ask, bid, strict=True))
    assert all(a.high.raw - b.high.raw == 8 * 10**11 for a, b in zip(ask[:1000], bid, strict=False))


def test_direct_writer_matches_nautilus_write_data(tmp_path: Path, m1_files: list[Path]) -> None:
    bars = read_histdata_m1(m1_files[0]).take(slice(0, 3000))
    instrument = fx_instrument("EUR/USD")
    ours = write_bars(tmp_path / "ours", instrument, BID, bars)

    reference = Bar.from_raw_arrays_to_list(
        BarType.from_str(BID),
        5,
        0,
        bars.open,
        bars.high,
        bars.low,
        bars.close,
        bars.volume,
        bars.ts_event.astype(np.uint64),
        bars.ts_event.astype(np.uint64),
    )
    nautilus = ParquetDataCatalog(str(tmp_path / "theirs"))
    nautilus.write_data(reference)
    (theirs,) = (tmp_path / "theirs").rglob("*.parquet")
    (ours_file,) = Path(ours.directory).glob("*.parquet")
    assert ours_file.name == theirs.name
    assert pq.read_table(ours_file).equals(pq.read_table(theirs), check_metadata=True)
    back = ParquetDataCatalog(str(tmp_path / "ours")).bars([BID])
    assert back == reference


def _bars(minutes: range) -> BarArrays:
    ts = np.array([(1_500_000_000 + 60 * m) * 10**9 for m in minutes], dtype=np.int64)
    price = np.full(len(ts), 1.1)
    return BarArrays(ts, price, price + 0.0001, price - 0.0001, price, np.zeros(len(ts)))


def test_overlapping_write_merges_by_timestamp(tmp_path: Path) -> None:
    instrument = fx_instrument("EUR/USD")
    write_bars(tmp_path, instrument, BID, _bars(range(0, 100)))
    result = write_bars(tmp_path, instrument, BID, _bars(range(50, 150)))
    assert (result.unchanged, result.added, result.kept) == (50, 50, 50)
    bars = ParquetDataCatalog(str(tmp_path)).bars([BID])
    minutes = [(b.ts_event // 10**9 - 1_500_000_000) // 60 for b in bars]
    assert minutes == list(range(0, 150))
    # A range inside an existing file: identical, nothing written; nothing is lost.
    write_bars(tmp_path, instrument, BID, _bars(range(120, 125)))
    minutes = [
        (b.ts_event // 10**9 - 1_500_000_000) // 60
        for b in ParquetDataCatalog(str(tmp_path)).bars([BID])
    ]
    assert minutes == list(range(0, 150))
    assert not (tmp_path / ".nautilus-ai-staging").exists()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b.take(np.array([1, 0, 2])), "strictly increasing"),
        (lambda b: b.take(np.array([0, 0, 1])), "strictly increasing"),
        (
            lambda b: BarArrays(b.ts_event, b.open + 0.000001, b.high, b.low, b.close, b.volume),
            "more than the 5 decimals",
        ),
        (
            lambda b: BarArrays(b.ts_event, b.open, b.low, b.high, b.close, b.volume),
            "OHLC",
        ),
    ],
)
def test_writer_refuses_bad_bars(tmp_path: Path, mutate, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_bars(tmp_path, fx_instrument("EUR/USD"), BID, mutate(_bars(range(3))))
    assert not list(tmp_path.rglob("*.parquet"))


def test_the_instrument_comes_from_histdata_file_names(tmp_path: Path, data_dir: Path) -> None:
    # A GBPUSD file used to be stored as EUR/USD.SIM (the fixed default), exit 0.
    source = data_dir / "histdata/DAT_ASCII_EURUSD_M1_201701.csv"
    gbp = tmp_path / "DAT_ASCII_GBPUSD_M1_201701.csv"
    gbp.write_bytes(source.read_bytes())
    catalog = tmp_path / "catalog"
    assert import_histdata_m1(gbp, catalog).instrument_id == "GBP/USD.SIM"
    assert import_histdata_m1(source, catalog, venue="HISTDATA").instrument_id == "EUR/USD.HISTDATA"
    with pytest.raises(ValueError, match=r"'EUR/USD\.SIM' does not match the files' GBPUSD"):
        import_histdata_m1(gbp, catalog, instrument_id="EUR/USD.SIM")
    with pytest.raises(ValueError, match=r"several pairs \['EURUSD', 'GBPUSD'\]"):
        import_histdata_m1([source, gbp], catalog)
    ticks = data_dir / "histdata/DAT_ASCII_EURUSD_T_202001_first9500.csv"
    with pytest.raises(ValueError, match="does not match the files' EURUSD"):
        import_histdata_ticks(ticks, catalog, instrument_id="USD/JPY.SIM")
    info = {d.identifier for d in catalog_info(catalog).datasets}
    assert "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL" not in info
    # Files not named the HistData way keep the documented default.
    other = tmp_path / "bars.csv"
    other.write_bytes(source.read_bytes())
    assert import_histdata_m1(other, catalog, dry_run=True).instrument_id == "EUR/USD.SIM"


def test_an_assumed_volume_the_catalog_cannot_hold_is_refused(
    tmp_path: Path, m1_files: list[Path]
) -> None:
    # EUR/USD sizes have 0 decimals: --assumed-volume 0.4 was stored as 0 (the value it is meant
    # to replace) while the summary said "replaced by 0.4".
    with pytest.raises(ValueError, match=r"assumed_volume 0\.4 has more decimals .* stored as 0"):
        import_histdata_m1(m1_files[0], tmp_path, assumed_volume=0.4)
    assert not list(tmp_path.rglob("*.parquet"))
    import_histdata_m1(m1_files[0], tmp_path, assumed_volume=3.0)
    bars = read_bars(tmp_path, BID)
    assert len(bars) == 31_500 and np.all(bars.volume == 3.0)
