"""Text sources of every importer: compressed files, cut short, empty or misnamed."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fixtures.data_files import iso_ns

from nautilus_ai.data import CSV_PRESETS, DataFormatError, read_csv_bars
from nautilus_ai.data.histdata import read_histdata_m1


def test_gzip_files_are_read_and_bad_ones_named(tmp_path: Path, data_dir: Path) -> None:
    # A .csv.gz (how nautilus_data ships HistData's DAT_ASCII_EURUSD_T_202001.csv.gz) failed
    # with "line 1: not UTF-8 text", or for a CSV with its compressed bytes printed as the
    # header's column names; a gzip cut short, an empty one and gzip data under a .csv name
    # are each one error naming the file.
    source = data_dir / "dukascopy_csv/FOREX_EURUSD_1H_ASK.csv"
    packed = gzip.compress(source.read_bytes())
    path = tmp_path / "FOREX_EURUSD_1H_ASK.csv.gz"
    path.write_bytes(packed)
    bars = read_csv_bars(path, CSV_PRESETS["dukascopy-csv-h1"])
    assert len(bars) == 6_225 and bars.ts_event[0] == iso_ns("2017-01-01T23:00")
    m1 = tmp_path / "DAT_ASCII_EURUSD_M1_201701.csv.gz"
    m1.write_bytes(
        gzip.compress((data_dir / "histdata/DAT_ASCII_EURUSD_M1_201701.csv").read_bytes())
    )
    assert len(read_histdata_m1(m1)) == 31_500
    faults = {
        "cut.csv.gz": (packed[:3_000], "unreadable gzip: Compressed file ended before"),
        "empty.csv.gz": (b"", "unreadable gzip: an empty file"),
        "packed.csv": (packed, r"compressed data \(gzip / zip\) under a text file.s name"),
    }
    for name, (data, expected) in faults.items():
        bad = tmp_path / name
        bad.write_bytes(data)
        with pytest.raises(DataFormatError, match=expected) as caught:
            read_csv_bars(bad, CSV_PRESETS["dukascopy-csv-h1"])
        assert caught.value.source == str(bad)


@pytest.mark.parametrize("end", ["\r", "\r\n", "\n"])
def test_a_bad_row_is_named_at_its_line_whatever_the_line_ends(
    tmp_path: Path, data_dir: Path, end: str
) -> None:
    # Arrow reads a lone CR as a line end (classic Mac, some Excel exports), but the line
    # numbers were counted at LF only: a CR-only file was one "line", and naming its bad row
    # failed with 'IndexError: list index out of range' (exit 1, no file, no line).
    rows = (data_dir / "histdata/DAT_ASCII_EURUSD_M1_201701.csv").read_text().splitlines()[:60]
    fields = rows[49].split(";")
    rows[49] = ";".join([fields[0], "0", *fields[2:]])
    path = tmp_path / "DAT_ASCII_EURUSD_M1_201701.csv"
    path.write_bytes(end.join(rows).encode() + end.encode())
    with pytest.raises(DataFormatError, match="prices must be finite numbers > 0") as caught:
        read_histdata_m1(path)
    assert (caught.value.source, caught.value.line) == (str(path), 50)
    del rows[49]
    path.write_bytes(end.join(rows).encode() + end.encode())
    assert len(read_histdata_m1(path)) == 59


def test_arrow_reads_csv_text_from_no_python_object(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A refused import (one error line, exit 2) aborted about one run in twelve with
    # 'terminate called without an active exception' (exit 134): Arrow's threaded CSV reader
    # released its io.BytesIO source on a worker thread after read_csv returned, taking the GIL
    # while the interpreter exited. Every source it gets now is an Arrow-owned buffer.
    import pyarrow as pa
    import pyarrow.csv as pacsv

    real = pacsv.read_csv
    sources: list[object] = []

    def spy(source: object, *args: object, **kwargs: object) -> pa.Table:
        sources.append(source)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(pacsv, "read_csv", spy)
    bars = read_csv_bars(
        data_dir / "dukascopy_csv/FOREX_EURUSD_1H_ASK.csv", CSV_PRESETS["dukascopy-csv-h1"]
    )
    assert len(bars) == 6_225 and sources
    assert all(isinstance(s, pa.BufferReader) for s in sources), sources
