"""Atomic directory replacement: the exchange path, the journalled fallback and its recovery,
the writer lock (real folders; the SIGKILL tests are in tests/integration/data)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from nautilus_ai.data import swap
from nautilus_ai.data.swap import STAGING_DIR, catalog_lock, recover, replace_directory


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def _populate(content: dict[str, str]):
    def fill(folder: Path) -> None:
        for name, text in content.items():
            (folder / name).write_text(text)

    return fill


def test_new_then_exchanged_and_the_staging_folder_is_gone(tmp_path: Path) -> None:
    target = tmp_path / "data" / "bar" / "X"
    assert replace_directory(tmp_path, target, _populate({"a": "1"})) == "rename"
    assert _files(target) == {"a": "1"}
    assert replace_directory(tmp_path, target, _populate({"b": "2"})) == "exchange"
    assert _files(target) == {"b": "2"}
    assert not (tmp_path / STAGING_DIR).exists()


def test_exchange_is_one_atomic_swap(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    (first / "f").write_text("first")
    (second / "s").write_text("second")
    assert swap.exchange_directories(first, second)
    assert _files(first) == {"s": "second"} and _files(second) == {"f": "first"}


def test_fallback_swap_and_recovery_of_an_interrupted_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(swap, "exchange_directories", lambda first, second: False)
    target = tmp_path / "data" / "bar" / "X"
    replace_directory(tmp_path, target, _populate({"a": "old"}))
    assert replace_directory(tmp_path, target, _populate({"a": "new"})) == "fallback"
    assert _files(target) == {"a": "new"}

    # Killed between the two renames: the live folder moved away, the new one not yet in.
    renames: list[tuple[object, object]] = []
    real_rename = os.rename

    def rename_then_die(source: object, destination: object) -> None:
        renames.append((source, destination))
        if len(renames) == 3:  # journal, live -> staging, [new -> live]
            raise KeyboardInterrupt("killed")
        real_rename(source, destination)  # type: ignore[arg-type]

    monkeypatch.setattr(swap.os, "rename", rename_then_die)
    with pytest.raises(KeyboardInterrupt):
        replace_directory(tmp_path, target, _populate({"a": "newer"}))
    monkeypatch.setattr(swap.os, "rename", real_rename)
    assert not target.exists()
    with catalog_lock(tmp_path):  # the next writer finishes the swap first
        assert _files(target) == {"a": "newer"}
    assert not (tmp_path / STAGING_DIR).exists()


def test_recover_removes_unfinished_versions(tmp_path: Path) -> None:
    staging = tmp_path / STAGING_DIR
    (staging / "abc.new").mkdir(parents=True)
    (staging / "abc.new" / "part.parquet").write_bytes(b"half")
    (staging / "bad.journal.json").write_text("{not json")
    recover(tmp_path)
    assert not staging.exists()


def test_the_lock_serialises_writers(tmp_path: Path) -> None:
    order: list[str] = []
    inside = threading.Event()

    def first() -> None:
        with catalog_lock(tmp_path):
            inside.set()
            time.sleep(0.3)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    inside.wait(5)
    with catalog_lock(tmp_path):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"]


def test_a_writer_held_by_another_live_process_is_waited_for_with_a_bound(
    tmp_path: Path,
) -> None:
    # a second import while another one writes (or hangs) must not block forever in silence
    from nautilus_ai.data.swap import CatalogBusyError

    inside = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with catalog_lock(tmp_path):
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert inside.wait(5)
        started = time.monotonic()
        with (
            pytest.raises(CatalogBusyError, match=str(tmp_path)) as caught,
            catalog_lock(tmp_path, timeout_s=0.3),
        ):
            pass
        assert time.monotonic() - started < 3
        assert "another process" in str(caught.value)
    finally:
        release.set()
        thread.join(10)
