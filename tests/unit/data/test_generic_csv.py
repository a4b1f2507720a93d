"""Generic CSV reader: presets on the shared files, typed spec errors, malformed rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.data_files import iso_ns

from nautilus_ai.data import CSV_PRESETS, CsvSpec, DataFormatError, read_csv_bars, read_csv_quotes

#: A valid bar spec, the base the refusal tests change one field of.
BAR_SPEC: dict = {
    "kind": "bars",
    "timestamp": "t",
    "timestamp_format": "iso8601",
    "open": "o",
    "high": "h",
    "low": "l",
    "close": "c",
    "bar_seconds": 60,
}


def test_presets_read_the_shared_files(data_dir: Path) -> None:
    h1 = read_csv_bars(
        data_dir / "dukascopy_csv" / "FOREX_EURUSD_1H_ASK.csv", CSV_PRESETS["dukascopy-csv-h1"]
    )
    assert len(h1) == 6_225
    assert h1.ts_event[0] == iso_ns("2017-01-01T23:00")  # starts 22:00 UTC, stamped at close
    assert (h1.open[0], h1.close[0], h1.volume[0]) == (1.05236, 1.05227, 143539993.3)
    fxcm = read_csv_bars(
        data_dir / "nautilus" / "fxcm" / "gbpusd-m1-bid-2012.csv", CSV_PRESETS["nautilus-fxcm-m1"]
    )
    assert len(fxcm) == 30_117 and fxcm.ts_event[0] == iso_ns("2012-02-01T00:01")
    ticks = read_csv_quotes(
        data_dir / "nautilus" / "truefx" / "usdjpy-ticks.csv", CSV_PRESETS["truefx-ticks"]
    )
    assert len(ticks) == 1_000
    assert ticks.ts_event[0] == iso_ns("2013-01-01T22:00:00.295")
    assert (ticks.bid[0], ticks.ask[0]) == (86.655, 86.728)
    assert int(np.sum(np.diff(ticks.ts_event) == 0)) == 7  # the README's 7 duplicate timestamps


def test_headerless_file_with_indices_clock_and_end_stamps(tmp_path: Path) -> None:
    path = tmp_path / "bars.txt"
    path.write_text(
        "2017-03-12 17:00:00|1.1|1.2|1.0|1.15|10\n2017-03-12 17:01:00|1.15|1.2|1.1|1.1|0\n"
    )
    spec = CsvSpec(
        kind="bars",
        header=False,
        delimiter="|",
        timestamp=0,
        timestamp_format="%Y-%m-%d %H:%M:%S",
        clock="America/New_York",
        timestamp_is="end",
        open=1,
        high=2,
        low=3,
        close=4,
        volume=5,
        bar_seconds=60,
    )
    bars = read_csv_bars(path, spec)
    assert bars.ts_event.tolist() == [iso_ns("2017-03-12T21:00"), iso_ns("2017-03-12T21:01")]  # EDT
    assert bars.volume.tolist() == [10.0, 0.0]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "ticks"}, "kind"),
        ({"delimiter": ";;"}, "delimiter"),
        ({"clock": "Mars/Olympus"}, "clock"),
        ({"bar_seconds": None}, "bar_seconds"),
        ({"close": None}, "close"),
        ({"timestamp_format": "%Y %f"}, "timestamp_format"),
        ({"open": 3}, "open"),
    ],
)
def test_spec_fails_fast_naming_the_field(changes: dict, field: str) -> None:
    values = {**BAR_SPEC, **changes}
    with pytest.raises(ValueError, match=field):
        CsvSpec(**values)


def test_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match=r"colse: unknown key.*did you mean 'close'"):
        CsvSpec.from_dict(
            {
                "kind": "quotes",
                "timestamp": "t",
                "timestamp_format": "unix_ms",
                "bid": "b",
                "ask": "a",
                "colse": "x",
            }
        )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("2013-01-01 22:03:00+00:00,86.65", "expected 3 fields"),
        ("2013-01-01 22:03:00+00:00,86.65,abc", "field 3"),
        ("2013-13-01 22:03:00+00:00,86.65,86.7", "timestamp"),
        ("yesterday,86.65,86.7", "timestamp"),
        ("2013-01-01 22:03:00+00:00,-86.65,86.7", "finite numbers > 0"),
    ],
)
def test_malformed_row_names_file_and_line(tmp_path: Path, row: str, reason: str) -> None:
    path = tmp_path / "ticks.csv"
    path.write_text(f"timestamp,bid,ask\n2013-01-01 22:00:00.295000+00:00,86.655,86.728\n{row}\n")
    with pytest.raises(DataFormatError) as caught:
        read_csv_quotes(path, CSV_PRESETS["truefx-ticks"])
    assert caught.value.line == 3 and caught.value.source == str(path)
    assert reason in str(caught.value)


def test_header_must_have_the_named_columns(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("time,o,h,l,c\n")
    with pytest.raises(ValueError, match=r"CsvSpec\.timestamp = 'timestamp' is not in the header"):
        read_csv_bars(path, CSV_PRESETS["nautilus-fxcm-m1"])


def test_bars_closer_than_bar_seconds_are_refused(data_dir: Path) -> None:
    # FXCM minute rows read with bar_seconds=3600 were stored as 28,761 overlapping 1-HOUR
    # bars, one a minute, exit 0.
    minutes = data_dir / "nautilus/fxcm/usdjpy-m1-bid-2013.csv"
    hourly = CsvSpec.from_dict({**_spec_dict(CSV_PRESETS["nautilus-fxcm-m1"]), "bar_seconds": 3600})
    with pytest.raises(
        DataFormatError,
        match=r"usdjpy-m1-bid-2013\.csv:3: bar 60 s after the one before, but "
        r"bar_seconds is 3600",
    ):
        read_csv_bars(minutes, hourly)
    assert len(read_csv_bars(minutes, CSV_PRESETS["nautilus-fxcm-m1"])) == 28_761


def _spec_dict(spec: CsvSpec) -> dict[str, object]:
    import dataclasses

    return {k: v for k, v in dataclasses.asdict(spec).items() if v is not None}


def test_a_newest_first_file_is_read_oldest_first(tmp_path: Path, data_dir: Path) -> None:
    # Exports often list the newest row first: all but one row used to be dropped as out of
    # order (28,760 of 28,761), exit 0.
    source = data_dir / "nautilus/fxcm/usdjpy-m1-bid-2013.csv"
    header, *rows = source.read_text().splitlines()
    newest_first = tmp_path / "usdjpy-newest-first.csv"
    newest_first.write_text("\n".join([header, *reversed(rows)]) + "\n")
    spec = CSV_PRESETS["nautilus-fxcm-m1"]
    expected, got = read_csv_bars(source, spec), read_csv_bars(newest_first, spec)
    for name in ("ts_event", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(got, name), getattr(expected, name)), name
    hourly = CsvSpec.from_dict({**_spec_dict(spec), "bar_seconds": 3600})
    # The overlap check still names the file's own line (line 3: the second data row).
    with pytest.raises(DataFormatError, match=r"newest-first\.csv:3: bar 60 s after"):
        read_csv_bars(newest_first, hourly)
    ticks = data_dir / "nautilus/truefx/usdjpy-ticks.csv"
    header, *rows = ticks.read_text().splitlines()
    reversed_ticks = tmp_path / "ticks-newest-first.csv"
    reversed_ticks.write_text("\n".join([header, *reversed(rows)]) + "\n")
    quotes = CSV_PRESETS["truefx-ticks"]
    ours, theirs = read_csv_quotes(reversed_ticks, quotes), read_csv_quotes(ticks, quotes)
    assert np.array_equal(ours.ts_event, theirs.ts_event)
    assert np.array_equal(ours.bid, theirs.bid) and np.array_equal(ours.ask, theirs.ask)


@pytest.mark.parametrize("zipped", [False, True])
def test_a_byte_order_mark_is_no_part_of_the_header(
    tmp_path: Path, data_dir: Path, zipped: bool
) -> None:
    # Excel's "CSV UTF-8" starts the file with a BOM: the header's first name was read as
    # '\ufeffTime' and the import refused the file ("CsvSpec.timestamp = 'Time' is not in the
    # header"). CRLF lines and trailing blank lines come with such exports too.
    text = (data_dir / "dukascopy_csv" / "FOREX_EURUSD_1H_ASK.csv").read_text().splitlines()
    body = ("\r\n".join(text[:201]) + "\r\n\r\n\r\n").encode()
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body)
    if zipped:
        import zipfile

        with zipfile.ZipFile(tmp_path / "excel.zip", "w") as archive:
            archive.write(path, "excel.csv")
        path = tmp_path / "excel.zip"
    bars = read_csv_bars(path, CSV_PRESETS["dukascopy-csv-h1"])
    assert len(bars) == 200 and bars.ts_event[0] == iso_ns("2017-01-01T23:00")
    assert (bars.open[0], bars.close[0]) == (1.05236, 1.05227)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"timestamp_format": "unix_ms", "clock": "America/New_York"},
            r"CsvSpec.clock 'America/New_York' would be ignored: unix_ms timestamps count from",
        ),
        ({"bid": "b"}, r"CsvSpec.bid is not read for kind 'bars' \(it would be ignored\)"),
        (
            {"kind": "quotes", "bid": "b", "ask": "a"},
            r"CsvSpec.open is not read for kind 'quotes'.*did you mean kind 'bars'\?",
        ),
        (
            {"kind": "quotes", "bid": "b", "ask": "a", "open": None, "high": None, "low": None,
             "close": None, "bar_seconds": None, "timestamp_is": "end"},
            r"CsvSpec.timestamp_is is for bars",
        ),
    ],
)  # fmt: skip
def test_spec_fields_that_would_be_ignored_are_refused(changes: dict, message: str) -> None:
    # Each was accepted and read by nothing: a clock on epoch timestamps (the user meant the
    # file's times to be New York's), a bar column in a quote spec, a quote column in a bar one.
    values = {**BAR_SPEC, **changes}
    with pytest.raises(ValueError, match=message):
        CsvSpec(**values)
    with pytest.raises(ValueError, match=message):
        CsvSpec.from_dict({k: v for k, v in values.items() if v is not None})


def test_a_header_the_spec_does_not_fit_is_named_with_its_file(
    tmp_path: Path, data_dir: Path
) -> None:
    # 'CsvSpec.timestamp = 'Time' is not in the header [...]' named no file (which of the
    # files given?); a header Excel wrote with quotes ("Time","Open",...) was refused as not
    # having Time, though Arrow reads the quoted rows; a CR-only file's header was the whole
    # file; a file of another delimiter was refused without a word on why.
    rows = (data_dir / "dukascopy_csv/FOREX_EURUSD_1H_ASK.csv").read_text().splitlines()[:101]
    spec = CSV_PRESETS["dukascopy-csv-h1"]
    quoted = tmp_path / "quoted.csv"
    quoted.write_text("\n".join([",".join(f'"{n}"' for n in rows[0].split(",")), *rows[1:]]))
    cr_only = tmp_path / "cr.csv"
    cr_only.write_bytes("\r".join(rows).encode() + b"\r")
    for path in (quoted, cr_only):
        bars = read_csv_bars(path, spec)
        assert len(bars) == 100 and bars.ts_event[0] == iso_ns("2017-01-01T23:00"), path
    typo = tmp_path / "typo.csv"
    typo.write_text("\n".join(["Tme" + rows[0][4:], *rows[1:]]))
    with pytest.raises(DataFormatError, match=r"CsvSpec\.timestamp = 'Time' is not") as caught:
        read_csv_bars(typo, spec)
    assert (caught.value.source, caught.value.line) == (str(typo), 1)
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text("\n".join(row.replace(",", ";") for row in rows))
    with pytest.raises(DataFormatError, match=r"is the delimiter ';'\?") as caught:
        read_csv_bars(semicolons, spec)
    assert (caught.value.source, caught.value.line) == (str(semicolons), 1)


def test_unix_counts_with_fractions_or_in_the_wrong_unit(tmp_path: Path) -> None:
    # 'unix_s' stamps with a fraction (1486000000.5, as many exports write them) failed with
    # Arrow's 'Failed to parse string ... as a scalar of type int64' (a traceback line, no
    # file or line); counts in the wrong unit were multiplied past int64 and wrapped round
    # (ns counts read as unix_ms were stored in 2099 / 1940, exit 0), or read as January 1970.
    def quotes(stamps: list[str], fmt: str) -> np.ndarray:
        path = tmp_path / f"{fmt}.csv"
        path.write_text("ts,bid,ask\n" + "".join(f"{s},1.05,1.0502\n" for s in stamps))
        spec = CsvSpec(kind="quotes", timestamp="ts", timestamp_format=fmt, bid="bid", ask="ask")
        return read_csv_quotes(path, spec).ts_event

    base = iso_ns("2017-02-02T01:46:40")
    assert list(quotes(["1486000000.5", "1486000001.000000001"], "unix_s")) == [
        base + 500_000_000,
        base + 1_000_000_001,
    ]
    assert list(quotes(["1486000000000.25"], "unix_ms")) == [base + 250_000]
    assert list(quotes(["1486000000000000000"], "unix_ns")) == [base]
    for stamps, fmt, message in [
        (["1486000000000", "1486000000000000000"], "unix_ms", r"3: .* read as unix_ms is outside "
         r"1971 - 2099: is it unix_ns\?"),
        (["1486000000000"], "unix_s", r"2: .* read as unix_s is outside 1971 - 2099: is it "
         r"unix_ms\?"),
        (["1486000000"], "unix_ms", r"2: .* read as unix_ms .*: is it unix_s\?"),
        (["99999999999999999999999"], "unix_ns", r"2: .* read as unix_ns is outside"),
        (["1486000000x"], "unix_s", r"2: timestamp is not a unix_s count"),
    ]:  # fmt: skip
        with pytest.raises(DataFormatError, match=rf"{fmt}\.csv:{message}"):
            quotes(stamps, fmt)


def test_a_clock_on_stamps_with_their_own_offset_is_refused(tmp_path: Path) -> None:
    # '%z' stamps carry their offset, which Arrow applies; the spec's clock was then applied on
    # top: '2017-02-02 01:46:40+0100' with clock America/New_York was stored at 05:46:40 UTC
    # instead of 00:46:40, exit 0.
    path = tmp_path / "zoned.csv"
    path.write_text("ts,bid,ask\n2017-02-02 01:46:40+0100,1.05,1.0502\n")
    values = {"kind": "quotes", "timestamp": "ts", "timestamp_format": "%Y-%m-%d %H:%M:%S%z",
              "bid": "bid", "ask": "ask"}  # fmt: skip
    assert list(read_csv_quotes(path, CsvSpec(**values)).ts_event) == [
        iso_ns("2017-02-02T00:46:40")
    ]
    message = r"CsvSpec.clock 'America/New_York' would be applied on top of each timestamp's own"
    with pytest.raises(ValueError, match=message):
        CsvSpec(**values, clock="America/New_York")
    with pytest.raises(ValueError, match=r"clock: " + message):
        CsvSpec.from_dict({**values, "clock": "America/New_York"})


def test_a_column_named_twice_in_the_header_is_refused(tmp_path: Path, data_dir: Path) -> None:
    # 'Time,Open,High,Low,Close,Close' (a bid close and an ask close, say): the spec's
    # close = 'Close' read the first without a word.
    rows = (data_dir / "dukascopy_csv/FOREX_EURUSD_1H_ASK.csv").read_text().splitlines()[:11]
    path = tmp_path / "twice.csv"
    path.write_text("\n".join(["Time,Open,High,Low,Close,Close", *rows[1:]]) + "\n")
    with pytest.raises(
        DataFormatError, match=r"twice\.csv:1: CsvSpec\.close = 'Close' names 2 columns"
    ):
        read_csv_bars(path, CSV_PRESETS["dukascopy-csv-h1"])
