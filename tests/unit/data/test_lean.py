"""LEAN readers: counts, clocks (OANDA UTC, FXCM UTC-5), and cross-source alignment in UTC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.data_files import iso_ns, write_zip

from nautilus_ai.data import (
    BarArrays,
    CsvSpec,
    DataFormatError,
    read_csv_bars,
    read_histdata_m1,
    read_lean_bars,
    read_lean_ticks,
)
from nautilus_ai.data.lean import lean_layout

NS = 1_000_000_000
HOUR = 3600 * NS


@pytest.fixture(scope="module")
def lean(data_dir: Path) -> Path:
    return data_dir / "lean" / "forex"


@pytest.fixture(scope="module")
def oanda_h1(lean: Path) -> tuple[BarArrays, BarArrays]:
    return read_lean_bars(lean / "oanda" / "hour" / "eurusd.zip")


def test_layout_and_clock_come_from_the_path(lean: Path) -> None:
    layout = lean_layout(lean / "fxcm" / "minute" / "eurusd" / "20140501_quote.zip")
    assert (layout.market, layout.resolution, layout.symbol, layout.clock) == (
        "fxcm",
        "minute",
        "eurusd",
        "-05:00",
    )
    assert lean_layout(lean / "oanda" / "hour" / "eurusd.zip").clock == "UTC"


@pytest.mark.parametrize(
    ("market", "resolution", "rows"),
    [
        ("oanda", "hour", 74_439),
        ("oanda", "daily", 3_738),
        ("oanda", "minute", 18_184),
        ("fxcm", "hour", 69_928),
        ("fxcm", "daily", 3_487),
        ("fxcm", "minute", 21_592),
    ],
)
def test_bar_counts(lean: Path, market: str, resolution: str, rows: int) -> None:
    folder = lean / market / resolution
    paths = sorted(folder.rglob("*.zip"))
    bid, ask = read_lean_bars(paths)
    assert len(bid) == len(ask) == rows
    assert np.array_equal(bid.ts_event, ask.ts_event)


def test_tick_counts_and_clocks(lean: Path) -> None:
    oanda = read_lean_ticks(sorted((lean / "oanda" / "tick").rglob("*.zip")))
    fxcm = read_lean_ticks(sorted((lean / "fxcm" / "tick").rglob("*.zip")))
    assert len(oanda) == 532_903 and len(fxcm) == 1_144_807
    # OANDA is UTC: first tick 2014-05-01 00:00:00.292 as written.
    assert oanda.ts_event[0] == iso_ns("2014-05-01T00:00:00.292")
    # FXCM is UTC-5 fixed: 00:00:01.787 local is 05:00:01.787 UTC.
    assert fxcm.ts_event[0] == iso_ns("2014-05-01T05:00:01.787")


def test_first_oanda_hour_bar(oanda_h1: tuple[BarArrays, BarArrays]) -> None:
    bid, ask = oanda_h1
    # "20070101 21:00,1.31927,1.31955,1.3187,1.31935,0,1.32027,...": starts 21:00 UTC.
    assert bid.ts_event[0] == iso_ns("2007-01-01T22:00")
    assert (bid.open[0], bid.high[0], bid.low[0], bid.close[0]) == (
        1.31927,
        1.31955,
        1.3187,
        1.31935,
    )
    assert ask.open[0] == 1.32027


def _closes_by_hour(bars: BarArrays, bar_seconds: int) -> dict[int, float]:
    start_hour = (bars.ts_event - bar_seconds * NS) // HOUR
    return dict(zip(start_hour.tolist(), bars.close.tolist(), strict=True))


def _hourly_from_minutes(bars: BarArrays) -> dict[int, float]:
    hour = (bars.ts_event - 60 * NS) // HOUR
    last = np.append(np.flatnonzero(np.diff(hour) != 0), len(hour) - 1)
    return dict(zip(hour[last].tolist(), bars.close[last].tolist(), strict=True))


def _median_pips(
    ours: dict[int, float], ref: dict[int, float], shift: int, lo: int, hi: int
) -> float:
    diffs = [abs(v - ref[h + shift]) for h, v in ours.items() if lo <= h <= hi and h + shift in ref]
    assert len(diffs) > 300
    return float(np.median(diffs)) / 1e-4


def test_fxcm_and_oanda_hourly_closes_line_up_in_utc(
    lean: Path, oanda_h1: tuple[BarArrays, BarArrays]
) -> None:
    fxcm = _closes_by_hour(read_lean_bars(lean / "fxcm" / "hour" / "eurusd.zip")[0], 3600)
    oanda = _closes_by_hour(oanda_h1[0], 3600)
    for first, last in (
        ("2016-01-04", "2016-03-01"),
        ("2016-06-01", "2016-08-01"),
    ):  # winter, summer
        lo, hi = iso_ns(first) // HOUR, iso_ns(last) // HOUR
        assert _median_pips(fxcm, oanda, 0, lo, hi) < 1.0
        assert _median_pips(fxcm, oanda, 1, lo, hi) > 2.0
        assert _median_pips(fxcm, oanda, -1, lo, hi) > 2.0


@pytest.mark.parametrize(
    ("first", "last"), [("2017-01-03", "2017-03-10"), ("2017-03-13", "2017-06-30")]
)
def test_histdata_across_the_march_2017_dst_switch_lines_up_with_oanda(
    data_dir: Path, oanda_h1: tuple[BarArrays, BarArrays], first: str, last: str
) -> None:
    histdata = _hourly_from_minutes(
        read_histdata_m1(sorted((data_dir / "histdata").glob("DAT_ASCII_EURUSD_M1_2017*.csv")))
    )
    oanda = _closes_by_hour(oanda_h1[0], 3600)
    lo, hi = iso_ns(first) // HOUR, iso_ns(last) // HOUR
    assert _median_pips(histdata, oanda, 0, lo, hi) < 1.0
    assert _median_pips(histdata, oanda, 1, lo, hi) > 3.0
    assert _median_pips(histdata, oanda, -1, lo, hi) > 3.0


def test_malformed_rows_name_zip_member_and_line(tmp_path: Path) -> None:
    ticks = write_zip(
        tmp_path / "oanda" / "tick" / "eurusd" / "20140501_quote.zip",
        "20140501_eurusd_tick_quote.csv",
        "1787,1.38727,1.38729\n1813,1.38726\n",
    )
    with pytest.raises(
        DataFormatError, match=r"20140501_quote\.zip:20140501_eurusd_tick_quote\.csv:2: expected 3"
    ):
        read_lean_ticks(ticks)
    hour = write_zip(
        tmp_path / "oanda" / "hour" / "eurusd.zip",
        "eurusd.csv",
        "20070101 21:00,1.3,1.3,1.3,1.3,0,1.3,1.3,1.3,1.3,0\n"
        "20070101 2200,1.3,1.3,1.3,1.3,0,1.3,1.3,1.3,1.3,0\n",
    )
    with pytest.raises(DataFormatError, match=r"eurusd\.csv:2: .*timestamp"):
        read_lean_bars(hour)
    minute = write_zip(
        tmp_path / "fxcm" / "minute" / "eurusd" / "20140501_quote.zip",
        "m.csv",
        "0,1.3,1.3,1.3,1.3,0,1.3,1.3,1.3,1.3,0\n60000,1.3,1.3,1.3,1.3,0,1.3,x,1.3,1.3,0\n",
    )
    with pytest.raises(DataFormatError, match=r"m\.csv:2: field 8"):
        read_lean_bars(minute)
    late = write_zip(
        tmp_path / "fxcm" / "minute" / "eurusd" / "20140502_quote.zip",
        "m.csv",
        "90000000,1.3,1.3,1.3,1.3,0,1.3,1.3,1.3,1.3,0\n",
    )
    with pytest.raises(DataFormatError, match=r"m\.csv:1: ms since midnight out of range"):
        read_lean_bars(late)


def test_a_renamed_day_file_is_refused(tmp_path: Path, lean: Path) -> None:
    # The rows hold ms since midnight only: a copy of 5 May saved as 20140507_quote.zip used
    # to be stamped on 7 May without a word.
    for resolution in ("minute", "tick"):
        real = lean / "oanda" / resolution / "eurusd" / "20140505_quote.zip"
        renamed = tmp_path / "oanda" / resolution / "eurusd" / "20140507_quote.zip"
        renamed.parent.mkdir(parents=True)
        renamed.write_bytes(real.read_bytes())
        read = read_lean_ticks if resolution == "tick" else read_lean_bars
        with pytest.raises(
            DataFormatError,
            match=rf"20140507_quote\.zip: the file name says 20140507 but its member "
            rf"'20140505_eurusd_{resolution}_quote\.csv' says 20140505",
        ):
            read(renamed)


def test_a_day_file_in_another_pairs_folder_is_refused(tmp_path: Path, lean: Path) -> None:
    real = lean / "oanda" / "minute" / "eurusd" / "20140505_quote.zip"
    misplaced = tmp_path / "oanda" / "minute" / "gbpusd" / "20140505_quote.zip"
    misplaced.parent.mkdir(parents=True)
    misplaced.write_bytes(real.read_bytes())
    with pytest.raises(
        DataFormatError,
        match=r"the folder says gbpusd but its member '20140505_eurusd_minute_quote\.csv' says "
        r"eurusd",
    ):
        read_lean_bars(misplaced)


def test_a_bar_off_its_period_is_refused(tmp_path: Path) -> None:
    minute = write_zip(
        tmp_path / "oanda" / "minute" / "eurusd" / "20140501_quote.zip",
        "20140501_eurusd_minute_quote.csv",
        "0,1.3,1.3,1.3,1.3,0,1.3,1.3,1.3,1.3,0\n30000,1.3,1.3,1.3,1.3,0,1.3,1.3,1.3,1.3,0\n",
    )
    with pytest.raises(DataFormatError, match=r"csv:2: minute bar start not on a whole minute"):
        read_lean_bars(minute)
    hour = write_zip(
        tmp_path / "oanda" / "hour" / "eurusd.zip",
        "eurusd.csv",
        "20070101 21:00,1.3,1.3,1.3,1.3,0,1.3,1.3,1.3,1.3,0\n"
        "20070101 21:30,1.3,1.3,1.3,1.3,0,1.3,1.3,1.3,1.3,0\n",
    )
    with pytest.raises(DataFormatError, match=r"eurusd\.csv:2: hour bar start not on a whole hour"):
        read_lean_bars(hour)


def test_a_renamed_hour_file_is_refused(tmp_path: Path, lean: Path) -> None:
    renamed = tmp_path / "oanda" / "hour" / "gbpusd.zip"
    renamed.parent.mkdir(parents=True)
    renamed.write_bytes((lean / "oanda" / "hour" / "eurusd.zip").read_bytes())
    with pytest.raises(
        DataFormatError,
        match=r"gbpusd\.zip: the file name says gbpusd but its member 'eurusd\.csv'",
    ):
        read_lean_bars(renamed)


def test_bars_of_another_length_are_refused(tmp_path: Path, lean: Path, data_dir: Path) -> None:
    # LEAN's daily eurusd.zip copied into an 'hour' folder: every day starts on a whole hour,
    # so its 3,738 daily bars were stored as 1-HOUR bars (a day's range as an hour's), exit 0;
    # likewise hour rows read by a CSV spec with bar_seconds=60 became 1-MINUTE bars.
    misplaced = tmp_path / "oanda" / "hour" / "eurusd.zip"
    misplaced.parent.mkdir(parents=True)
    misplaced.write_bytes((lean / "oanda" / "daily" / "eurusd.zip").read_bytes())
    with pytest.raises(
        DataFormatError,
        match=r"eurusd\.zip:eurusd\.csv: no two bars are 1 h apart \(the closest are 1 day "
        r"apart\): bars of another length than 1 h\?",
    ):
        read_lean_bars(misplaced)
    hours = data_dir / "dukascopy_csv/FOREX_EURUSD_1H_ASK.csv"
    minutes = CsvSpec.from_dict(
        {"kind": "bars", "timestamp": "Time", "timestamp_format": "%d.%m.%Y %H:%M:%S.000",
         "open": "Open", "high": "High", "low": "Low", "close": "Close", "bar_seconds": 60}
    )  # fmt: skip
    with pytest.raises(DataFormatError, match=r"no two bars are 1 min apart \(the closest are 1 h"):
        read_csv_bars(hours, minutes)
    # Real files of every resolution still read, gaps, weekends and all.
    assert len(read_lean_bars(lean / "fxcm" / "daily" / "eurusd.zip")[0]) == 3_487
