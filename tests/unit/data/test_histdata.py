"""HistData readers on the real 2017 EURUSD files: counts, UTC conversion across DST, bad rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
from fixtures.data_files import iso_ns
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus_ai.data import DataFormatError, read_histdata_m1, read_histdata_ticks

NS = 1_000_000_000
HOUR = 3600 * NS


@pytest.fixture(scope="module")
def m1(data_dir: Path):
    return read_histdata_m1(sorted((data_dir / "histdata").glob("DAT_ASCII_EURUSD_M1_2017*.csv")))


def test_m1_count_and_first_last_bar(m1) -> None:
    assert len(m1) == 186_348
    # First row "20170102 020000;1.051550;1.051970;1.051550;1.051900;0": 02:00 New York (EST)
    # is 07:00 UTC; Nautilus stamps the bar at its close, 07:01.
    assert m1.ts_event[0] == iso_ns("2017-01-02T07:01")
    assert (m1.open[0], m1.high[0], m1.low[0], m1.close[0]) == (1.05155, 1.05197, 1.05155, 1.0519)
    assert np.all(m1.volume == 0)
    # Last row "20170630 165800;...": Friday 16:58 New York (EDT) = 20:58 UTC, closing 20:59.
    assert m1.ts_event[-1] == iso_ns("2017-06-30T20:59")
    assert np.all(np.diff(m1.ts_event) > 0)


def test_weeks_open_sunday_17_new_york_on_both_sides_of_dst(m1) -> None:
    starts = m1.ts_event - 60 * NS
    gaps = np.flatnonzero(np.diff(starts) > 24 * HOUR)
    reopen = starts[gaps + 1].astype("datetime64[ns]")
    # Sunday 5 March 2017 (EST) reopens 22:00 UTC; Sunday 12 March (first EDT day) at 21:00 UTC.
    assert np.datetime64("2017-03-05T22:00", "ns") in reopen
    assert np.datetime64("2017-03-12T21:00", "ns") in reopen
    hours = (reopen.astype("datetime64[h]").astype(np.int64)) % 24
    assert set(hours.tolist()) <= {21, 22}


def _hourly_closes(ts_close: np.ndarray, close: np.ndarray) -> dict[int, float]:
    """Close of each UTC hour, keyed by the hour's start, from 1-minute bars stamped at close."""
    hour = (ts_close - 60 * NS) // HOUR
    last = np.flatnonzero(np.diff(hour) != 0)
    last = np.append(last, len(hour) - 1)
    return dict(zip(hour[last].tolist(), close[last].tolist(), strict=True))


def _dukascopy_csv_hourly(data_dir: Path) -> dict[int, float]:
    table = pacsv.read_csv(data_dir / "dukascopy_csv" / "FOREX_EURUSD_1H_ASK.csv")
    stamps = pc.strptime(table["Time"], format="%d.%m.%Y %H:%M:%S.000", unit="s")
    hours = stamps.cast(pa.int64()).to_numpy() // 3600
    return dict(zip(hours.tolist(), table["Close"].to_numpy().tolist(), strict=True))


@pytest.mark.parametrize(
    ("first", "last", "label"),
    [("2017-01-03", "2017-03-10", "EST"), ("2017-03-13", "2017-06-30", "EDT")],
)
def test_dst_conversion_lines_up_with_an_independent_utc_source(
    m1, data_dir: Path, first: str, last: str, label: str
) -> None:
    """HistData H1 closes (BID) vs the Dukascopy-CSV H1 closes (ASK, UTC) at the same UTC hour.

    The README measured 0.3 to 0.6 pip at the right offset and 4 to 6 pips at a wrong one.
    """
    ours = _hourly_closes(m1.ts_event, m1.close)
    reference = _dukascopy_csv_hourly(data_dir)
    lo, hi = iso_ns(first) // HOUR, iso_ns(last) // HOUR

    def median_pips(shift_hours: int) -> float:
        diffs = [
            abs(ours[h] - reference[h + shift_hours])
            for h in ours
            if lo <= h <= hi and h + shift_hours in reference
        ]
        assert len(diffs) > 500, label
        return float(np.median(diffs)) / 1e-4

    assert median_pips(0) < 1.0, label
    assert median_pips(1) > 3.0 and median_pips(-1) > 3.0, label


def test_demo_files_helper(data_dir: Path) -> None:
    from nautilus_ai.data import histdata_m1_files

    files = histdata_m1_files(data_dir)
    assert files[0].name == "DAT_ASCII_EURUSD_M1_201701.csv" and len(files) == 6
    with pytest.raises(FileNotFoundError, match="no HistData files matching"):
        histdata_m1_files(data_dir, "DAT_ASCII_XAUUSD_*")


def test_ticks_file(data_dir: Path) -> None:
    ticks = read_histdata_ticks(data_dir / "histdata" / "DAT_ASCII_EURUSD_T_202001_first9500.csv")
    assert len(ticks) == 9_500
    # 2020-01-01 17:00:00.065 New York (EST) = 22:00:00.065 UTC, the market reopening.
    assert ticks.ts_event[0] == iso_ns("2020-01-01T22:00:00.065")
    assert (ticks.bid[0], ticks.ask[0]) == (1.1212, 1.12172)


GOOD_M1 = "20170102 020000;1.051550;1.051970;1.051550;1.051900;0\n"


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("20170102 020200;1.051770;1.051980;1.051770\n", "expected 6 fields"),
        ("20170102 020200;1.051770;abc;1.051770;1.051780;0\n", "field 3"),
        ("2017010 020200;1.051770;1.051980;1.051770;1.051780;0\n", "timestamp"),
        ("20171302 020200;1.051770;1.051980;1.051770;1.051780;0\n", "timestamp"),
        ("20170102 020200;1.051770;1.051980;-1.0;1.051780;0\n", "finite"),
        ("20170102 020200;1.051770;inf;1.051770;1.051780;0\n", "finite"),
        ("20170312 023000;1.051770;1.051980;1.051770;1.051780;0\n", "DST gap"),
        # A NaN volume was refused as "volume must be >= 0" alone: say what was read.
        (
            "20170102 020200;1.051770;1.051980;1.051770;1.051780;nan\n",
            "volume must be >= 0 (finite), got nan",
        ),
        (
            "20170102 020200;1.051770;1.051980;1.051770;1.051780;-3\n",
            "volume must be >= 0 (finite), got -3.0",
        ),
    ],
)
def test_m1_malformed_row_names_file_and_line(tmp_path: Path, bad_line: str, reason: str) -> None:
    path = tmp_path / "DAT_ASCII_EURUSD_M1_201701.csv"
    # A blank line before the bad one: the reported line must still be the file's line number.
    path.write_text(GOOD_M1 + "\n" + GOOD_M1.replace("020000", "020100") + bad_line + GOOD_M1)
    with pytest.raises(DataFormatError) as caught:
        read_histdata_m1(path)
    assert caught.value.source == str(path)
    assert caught.value.line == 4
    assert f"{path}:4:" in str(caught.value)
    assert reason in str(caught.value)


def test_ticks_malformed_row_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text("20200101 170000065,1.1212,1.12172,0\n20200101 1700000,1.1212,1.12172,0\n")
    with pytest.raises(DataFormatError, match=r"ticks\.csv:2: .*timestamp"):
        read_histdata_ticks(path)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(junk=st.text(alphabet="0123456789;.,- e\n", max_size=80))
def test_m1_reader_raises_only_data_format_error_on_junk(tmp_path: Path, junk: str) -> None:
    path = tmp_path / "junk.csv"
    path.write_text(GOOD_M1 + junk)
    try:
        bars = read_histdata_m1(path)
    except DataFormatError as exc:
        assert exc.source == str(path)
    else:
        assert len(bars) >= 1


def test_an_m1_bar_off_the_minute_is_refused(tmp_path: Path) -> None:
    # 02:00:30 used to become a 1-minute bar closing at 02:01:30, overlapping its neighbours.
    path = tmp_path / "DAT_ASCII_EURUSD_M1_201701.csv"
    path.write_text(
        "20170102 020000;1.05;1.06;1.04;1.05;0\n20170102 020030;1.05;1.06;1.04;1.05;0\n"
    )
    with pytest.raises(DataFormatError, match=r"M1_201701\.csv:2: bar start not on a whole 60 s"):
        read_histdata_m1(path)
