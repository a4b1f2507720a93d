"""PartWriter: one new file per write, atomically, never an overwrite, always in time order."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nautilus_ai.catalog import PartWriter, PartWriterError

SCHEMA = pa.schema([("x", pa.float64()), ("ts_init", pa.int64())])


def _table(ts: list[int]) -> pa.Table:
    return pa.table({"x": [float(t) for t in ts], "ts_init": ts}, schema=SCHEMA)


def _writer(root: Path) -> PartWriter:
    return PartWriter(root, "custom_thing", "run-1", SCHEMA)


def test_each_write_is_a_new_readable_file(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    first = writer.write(_table([1, 2, 3]), {"k": "v"})
    second = writer.write(_table([4, 5]))
    assert first != second and first.exists() and second.exists()
    assert pq.read_table(first).column("ts_init").to_pylist() == [1, 2, 3]
    assert pq.read_schema(first).metadata[b"k"] == b"v"
    assert writer.files_written == 2 and writer.rows_written == 5
    assert sorted(p.name for p in first.parent.iterdir()) == sorted([first.name, second.name])


def test_rows_must_come_after_every_stored_part(tmp_path: Path) -> None:
    _writer(tmp_path).write(_table([10, 20]))
    later = _writer(tmp_path)  # a new process: learns the last ts_init from the file names
    assert later.last_ts_init == 20
    with pytest.raises(PartWriterError, match="not after the last stored"):
        later.write(_table([20, 30]))
    later.write(_table([21]))


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    target = (
        writer.directory / "1970-01-01T00-00-00-000000005Z_1970-01-01T00-00-00-000000006Z.parquet"
    )
    target.parent.mkdir(parents=True)
    target.write_bytes(b"precious")
    writer._last_ns = 0  # pretend the folder scan missed it (a race with another writer)
    with pytest.raises(PartWriterError, match="never overwritten"):
        writer.write(_table([5, 6]))
    assert target.read_bytes() == b"precious"
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (_table([]), "empty"),
        (_table([3, 2]), "non-decreasing"),
        (pa.table({"y": [1.0], "ts_init": [1]}), "schema differs"),
    ],
)
def test_bad_tables_write_nothing(tmp_path: Path, table: pa.Table, message: str) -> None:
    writer = _writer(tmp_path)
    with pytest.raises(PartWriterError, match=message):
        writer.write(table)
    assert not writer.directory.exists() or not any(writer.directory.iterdir())


def test_identifier_must_be_a_safe_folder_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="identifier"):
        PartWriter(tmp_path, "custom_thing", "../escape", SCHEMA)
