"""Every importer end to end into a catalog, and every importer rejecting a malformed row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.data_files import write_zip
from nautilus_trader.model.data import QuoteTick
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.data import (
    CSV_PRESETS,
    DataFormatError,
    catalog_info,
    import_csv,
    import_dukascopy,
    import_histdata_m1,
    import_histdata_ticks,
    import_lean,
    read_lean_ticks,
)
from nautilus_ai.data.dukascopy import find_files, load_ticks


def test_lean_hour_bars_become_bid_and_ask_bar_types(tmp_path: Path, data_dir: Path) -> None:
    summary = import_lean(data_dir / "lean/forex/fxcm/hour/eurusd.zip", tmp_path)
    assert summary.instrument_id == "EUR/USD.SIM"
    assert [w.identifier for w in summary.writes] == [
        "EUR/USD.SIM-1-HOUR-ASK-EXTERNAL",
        "EUR/USD.SIM-1-HOUR-BID-EXTERNAL",
    ]
    assert summary.validations[0].check("crossed").count > 2_000
    catalog = ParquetDataCatalog(str(tmp_path))
    bid = catalog.bars(["EUR/USD.SIM-1-HOUR-BID-EXTERNAL"])
    ask = catalog.bars(["EUR/USD.SIM-1-HOUR-ASK-EXTERNAL"])
    assert len(bid) == len(ask) == 69_928
    assert all(b.ts_init == a.ts_init for b, a in zip(bid[:500], ask, strict=False))


def test_lean_ticks_round_trip_through_nautilus(tmp_path: Path, data_dir: Path) -> None:
    path = data_dir / "lean/forex/oanda/tick/eurusd/20140506_quote.zip"
    summary = import_lean(path, tmp_path, instrument_id="EUR/USD.OANDA")
    ticks = ParquetDataCatalog(str(tmp_path)).quote_ticks(["EUR/USD.OANDA"])
    source = read_lean_ticks(path)
    assert len(ticks) == summary.rows_written == len(source) == 44_864
    assert isinstance(ticks[0], QuoteTick)
    assert np.array_equal([t.ts_event for t in ticks], source.ts_event)
    assert np.array_equal([t.bid_price.as_double() for t in ticks], source.bid)
    assert np.array_equal([t.ask_price.as_double() for t in ticks], source.ask)


def test_dukascopy_ticks_bars_and_candles(tmp_path: Path, data_dir: Path) -> None:
    root = data_dir / "dukascopy/EURUSD/2019/01"
    hours = [root / "04" / f"{h:02d}h_ticks.bi5" for h in range(24)]
    first = import_dukascopy(hours, tmp_path, bars_from_ticks=[(60, "BID"), (60, "MID")])
    again = import_dukascopy(hours, tmp_path, bars_from_ticks=[(60, "BID"), (60, "MID")])
    # README per-file counts for the 24 hours of 2019-02-04.
    per_hour = [3733, 2825, 2474, 2968, 3356, 2580, 3235, 6914, 10546, 9276, 8438, 6983]
    per_hour += [7263, 7763, 9986, 11063, 8972, 6443, 5650, 4385, 4787, 2114, 2354, 2633]
    assert first.rows_read == again.rows_read == sum(per_hour)
    info = {d.identifier: d for d in catalog_info(tmp_path).datasets}
    assert info["EUR/USD.SIM"].rows == first.rows_read  # twice imported, stored once
    assert info["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"].rows == 1_440
    assert info["EUR/USD.SIM-1-MINUTE-MID-EXTERNAL"].rows == 1_440
    assert not any(d.overlapping_files for d in info.values())

    days = import_dukascopy(
        [data_dir / "dukascopy/EURUSD/2019/BID_candles_day_1.bi5"], tmp_path / "days"
    )
    assert days.validations[0].check("flat").dropped == 52  # skipped by default, and reported
    assert days.rows_written == 365 - 52
    kept = import_dukascopy(
        [data_dir / "dukascopy/EURUSD/2019/BID_candles_day_1.bi5"],
        tmp_path / "kept",
        keep_flats=True,
    )
    assert kept.rows_written == 365


def test_dukascopy_corrupt_file_is_a_listed_failure(tmp_path: Path, data_dir: Path) -> None:
    cache = tmp_path / "cache"
    for hour in (8, 9):
        key = f"EURUSD/2019/01/04/{hour:02d}h_ticks.bi5"
        (cache / key).parent.mkdir(parents=True, exist_ok=True)
        body = (data_dir / "dukascopy" / key).read_bytes()
        (cache / key).write_bytes(body if hour == 8 else body[:-100])
    summary = import_dukascopy([cache], tmp_path / "catalog")
    assert summary.rows_written == 10_546
    assert len(summary.failures) == 1 and "EURUSD ticks 2019-02-04 09:00 UTC" in summary.failures[0]
    assert "failure" in summary.to_text()


def test_csv_and_histdata_ticks(tmp_path: Path, data_dir: Path) -> None:
    jpy = import_csv(
        data_dir / "nautilus/fxcm/usdjpy-m1-ask-2013.csv",
        CSV_PRESETS["nautilus-fxcm-m1"],
        tmp_path,
        instrument_id="USD/JPY.SIM",
        price_type="ASK",
    )
    assert jpy.writes[0].identifier == "USD/JPY.SIM-1-MINUTE-ASK-EXTERNAL"
    bars = ParquetDataCatalog(str(tmp_path)).bars(["USD/JPY.SIM-1-MINUTE-ASK-EXTERNAL"])
    assert len(bars) == 28_761 and bars[0].close.precision == 3
    ticks = import_histdata_ticks(
        data_dir / "histdata/DAT_ASCII_EURUSD_T_202001_first9500.csv", tmp_path
    )
    assert ticks.rows_written == 9_500


def test_prices_of_another_pair_are_refused(tmp_path: Path, data_dir: Path) -> None:
    # A USD/JPY file imported with --instrument-id EUR/USD.SIM (a CSV names no pair) was stored
    # as EUR/USD at 100x its price, exit 0; every backtest on it then traded nonsense. The file
    # under a name that names no pair (its own name is refused before it is read).
    usdjpy = tmp_path / "m1-ask-2013.csv"
    usdjpy.write_bytes((data_dir / "nautilus/fxcm/usdjpy-m1-ask-2013.csv").read_bytes())
    catalog = tmp_path / "catalog"
    with pytest.raises(ValueError) as caught:
        import_csv(usdjpy, CSV_PRESETS["nautilus-fxcm-m1"], catalog,
                   instrument_id="EUR/USD.SIM", price_type="ASK")  # fmt: skip
    message = str(caught.value)
    assert message.startswith(f"{usdjpy}: median price 9")
    assert "EUR/USD.SIM trades at 0.1 - 20: data of another instrument?" in message
    assert not catalog.exists() or not list(catalog.rglob("*.parquet"))
    # A pair the user defines is trusted as given (an exotic may trade anywhere).
    from nautilus_ai.data import FxPairSpec

    mine = {"USDJPY": FxPairSpec("USD", "JPY", 3, 0.0001)}
    preset = CSV_PRESETS["nautilus-fxcm-m1"]
    summary = import_csv(usdjpy, preset, catalog, dry_run=True, instrument_id="USD/JPY.SIM",
                         price_type="ASK", pair_table=mine)  # fmt: skip
    assert summary.rows_read == 28_761


def test_every_importer_rejects_a_malformed_row_with_file_and_line(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    m1 = tmp_path / "m1.csv"
    m1.write_text("20170102 020000;1.05155;1.05197;1.05155;1.0519;0\n20170102 020100;1.0;x;1;1;0\n")
    ticks = tmp_path / "t.csv"
    ticks.write_text("20200101 170000065,1.1212,1.12172,0\n20200101 170010447,1.1212\n")
    lean = write_zip(
        tmp_path / "oanda/tick/eurusd/20140501_quote.zip",
        "20140501_eurusd_tick_quote.csv",
        "1787,1.38727,1.38729\nnoon,1.38726,1.38729\n",
    )
    csv = tmp_path / "c.csv"
    csv.write_text("timestamp,bid,ask\n2013-01-01 22:00:00+00:00,86.655,86.728\n2013-01-01,86,x\n")
    cases = [
        (lambda: import_histdata_m1(m1, catalog), f"{m1}:2:"),
        (lambda: import_histdata_ticks(ticks, catalog), f"{ticks}:2:"),
        (lambda: import_lean(lean, catalog), f"{lean}:20140501_eurusd_tick_quote.csv:2:"),
        (
            lambda: import_csv(
                csv, CSV_PRESETS["truefx-ticks"], catalog, instrument_id="USD/JPY.SIM"
            ),
            f"{csv}:3:",
        ),
    ]
    for run, where in cases:
        with pytest.raises(DataFormatError) as caught:
            run()
        assert str(caught.value).startswith(where), str(caught.value)
    # Dukascopy has no lines: a bad file names the file and its period (see the test above).
    assert not catalog.exists() or not list(catalog.rglob("*.parquet"))


def test_lean_files_of_two_markets_are_refused_before_anything_is_written(
    tmp_path: Path, data_dir: Path
) -> None:
    # OANDA (UTC) and FXCM (UTC-5) minutes of one day in one batch used to be merged into one
    # series labelled OANDA, the overlapping FXCM minutes dropped as "out of order", exit 0.
    oanda = data_dir / "lean/forex/oanda/minute/eurusd/20140505_quote.zip"
    fxcm = data_dir / "lean/forex/fxcm/minute/eurusd/20140505_quote.zip"
    with pytest.raises(ValueError, match=r"several markets \['fxcm', 'oanda'\]"):
        import_lean([oanda, fxcm], tmp_path)
    assert not list(tmp_path.rglob("*.parquet"))


def test_lean_refuses_an_instrument_id_of_another_pair(tmp_path: Path, data_dir: Path) -> None:
    # EUR/USD hour bars imported with --instrument-id GBP/USD.SIM were stored as GBP/USD, exit 0
    # (the HistData and Dukascopy imports already refused it).
    hour = data_dir / "lean/forex/fxcm/hour/eurusd.zip"
    with pytest.raises(ValueError, match=r"'GBP/USD\.SIM' does not match the files' EURUSD"):
        import_lean(hour, tmp_path, instrument_id="GBP/USD.SIM")
    assert not list(tmp_path.rglob("*.parquet"))
    summary = import_lean(hour, tmp_path, instrument_id="EUR/USD.FXCM", dry_run=True)
    assert summary.instrument_id == "EUR/USD.FXCM"


def test_a_file_given_twice_is_refused(tmp_path: Path, data_dir: Path) -> None:
    # The second copy was dropped as "out of order" except the rows at its last timestamp:
    # 9,501 ticks stored from a 9,500-tick file, exit 0.
    ticks = data_dir / "histdata/DAT_ASCII_EURUSD_T_202001_first9500.csv"
    again = data_dir / "histdata/../histdata/DAT_ASCII_EURUSD_T_202001_first9500.csv"
    hour = data_dir / "dukascopy/EURUSD/2019/01/04/08h_ticks.bi5"
    lean = data_dir / "lean/forex/oanda/tick/eurusd/20140504_quote.zip"
    truefx = data_dir / "nautilus/truefx/usdjpy-ticks.csv"
    runs = [
        lambda: import_histdata_ticks([ticks, again], tmp_path),
        lambda: import_dukascopy([hour, hour.parent], tmp_path),
        lambda: import_lean([lean, lean], tmp_path),
        lambda: import_csv(
            [truefx, truefx], CSV_PRESETS["truefx-ticks"], tmp_path, instrument_id="USD/JPY.SIM"
        ),
    ]
    for run in runs:
        with pytest.raises(ValueError, match="the same file is given twice"):
            run()
    assert not list(tmp_path.rglob("*.parquet"))


def test_a_copy_under_another_name_is_not_read_twice(tmp_path: Path, data_dir: Path) -> None:
    # A file downloaded again ('... (1).csv') was read as more rows: its ticks dropped as out
    # of order except the last, stored twice (9,501 ticks from 9,500), exit 0.
    ticks = data_dir / "histdata/DAT_ASCII_EURUSD_T_202001_first9500.csv"
    copy = tmp_path / "DAT_ASCII_EURUSD_T_202001_first9500 (1).csv"
    copy.write_bytes(ticks.read_bytes())
    truefx = data_dir / "nautilus/truefx/usdjpy-ticks.csv"
    mine = tmp_path / "usdjpy-ticks-again.csv"
    mine.write_bytes(truefx.read_bytes())
    catalog = tmp_path / "catalog"
    runs = [
        lambda: import_histdata_ticks([ticks, copy], catalog),
        lambda: import_csv(
            [truefx, mine], CSV_PRESETS["truefx-ticks"], catalog, instrument_id="USD/JPY.SIM"
        ),
    ]
    for run, (first, second) in zip(runs, [(ticks, copy), (truefx, mine)], strict=True):
        with pytest.raises(ValueError) as caught:
            run()
        assert str(caught.value) == (
            f"{second}: the same content as {first} (a copy under another name?): its rows "
            "would be read twice; give one of them"
        )
    assert not catalog.exists()
    # Closed-market hours are all empty .bi5 files: never copies of each other.
    closed = tmp_path / "EURUSD/2019/01/02"
    closed.mkdir(parents=True)
    for hour in (0, 1):
        (closed / f"{hour:02d}h_ticks.bi5").write_bytes(b"")
    hour = data_dir / "dukascopy/EURUSD/2019/01/04/08h_ticks.bi5"
    summary = import_dukascopy([*sorted(closed.iterdir()), hour], catalog, dry_run=True)
    assert summary.rows_read == 10_546


def test_bars_from_ticks_are_built_only_where_the_files_cover_their_period(
    tmp_path: Path, data_dir: Path
) -> None:
    # A daily MID bar built from the afternoon's 12 hourly files used to be stored (open at
    # 12:00), exit 0; importing the morning later then met it as a conflict.
    root = data_dir / "dukascopy/EURUSD/2019/01/04"
    afternoon = [root / f"{h:02d}h_ticks.bi5" for h in range(12, 24)]
    summary = import_dukascopy(
        afternoon, tmp_path, write_ticks=False, bars_from_ticks=[(86400, "MID"), (3600, "MID")]
    )
    assert [w.identifier for w in summary.writes] == ["EUR/USD.SIM-1-HOUR-MID-EXTERNAL"]
    assert summary.writes[0].added == 12
    assert any("1 1-DAY-MID bar(s) not built" in f for f in summary.failures)
    whole_day = [root / f"{h:02d}h_ticks.bi5" for h in range(24)]
    day = import_dukascopy(whole_day, tmp_path, write_ticks=False, bars_from_ticks=[(86400, "MID")])
    assert not day.failures
    bars = ParquetDataCatalog(str(tmp_path)).bars(["EUR/USD.SIM-1-DAY-MID-EXTERNAL"])
    ticks, _ = load_ticks(find_files(whole_day[:1]), 100_000)
    assert len(bars) == 1
    assert bars[0].open.as_double() == round((ticks.bid[0] + ticks.ask[0]) / 2, 5)
