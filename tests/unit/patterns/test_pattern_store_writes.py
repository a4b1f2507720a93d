"""Two writers of one pattern store at once: one store survives whole, the other is refused."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from nautilus_ai.cli import CliError
from nautilus_ai.cli.patterns import _save
from nautilus_ai.patterns import (
    IndexConfig,
    PatternMemory,
    build_from_bars,
    load_memory,
    save_memory,
)
from nautilus_ai.patterns import memory as memory_module

INSTRUMENT = "EUR/USD.SIM"


def test_two_builds_of_one_store_at_once_leave_one_whole_store(
    real_bars: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two `patterns build --name race` of other windows at once both checked the empty folder,
    # then wrote the same temp file: one said "built" (exit 0) over a store of both writers'
    # bytes ("unreadable pattern store: ... Page was smaller"), the other FileNotFoundError.
    ts, ohlcv = real_bars
    sets = [build_from_bars(ts[:n], ohlcv[:n], instrument_id=INSTRUMENT) for n in (600, 900)]
    folder = tmp_path / "patterns" / sets[0].spec_hash / "race"
    write_table = pq.write_table

    def slow_write(*args: Any, **kwargs: Any) -> None:
        write_table(*args, **kwargs)
        time.sleep(0.3)  # the other writer comes in here

    monkeypatch.setattr(pq, "write_table", slow_write)
    outcomes: dict[int, object] = {}

    def build(i: int) -> None:
        memory = PatternMemory(sets[i], index_config=IndexConfig(mode="exact"))
        try:
            outcomes[i] = _save(memory, folder, sets[i], False)
        except (CliError, OSError) as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=build, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    refused = [i for i, out in outcomes.items() if isinstance(out, BaseException)]
    assert len(refused) == 1, outcomes
    assert isinstance(outcomes[refused[0]], CliError)
    assert "would be replaced by other patterns: --replace" in str(outcomes[refused[0]])
    stored = load_memory(folder).patterns()
    assert stored.checksum() == sets[1 - refused[0]].checksum()
    assert sorted(p.name for p in folder.iterdir()) == ["patterns.index", "patterns.parquet"]


def test_two_python_api_saves_into_one_folder_leave_a_memory_that_opens(
    real_bars: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # save_memory (the Python API, and the experiments' pattern task) took no lock: two saves
    # at once left one writer's store beside the other's index, and the memory no longer opened
    # ("index ... belongs to other patterns").
    ts, ohlcv = real_bars
    sets = [build_from_bars(ts[:n], ohlcv[:n], instrument_id=INSTRUMENT) for n in (600, 900)]
    folder = tmp_path / "memory"
    write_index = memory_module.write_index

    def slow_index(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is threads[0]:
            time.sleep(0.3)  # between its store and its index: the second writes both here
        return write_index(*args, **kwargs)

    monkeypatch.setattr(memory_module, "write_index", slow_index)

    def save(i: int) -> None:
        save_memory(PatternMemory(sets[i], index_config=IndexConfig(mode="exact")), folder)

    threads = [threading.Thread(target=save, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # the first starts writing first
    for thread in threads:
        thread.join(30)
    stored = load_memory(folder).patterns()  # whole: one writer's store and its own index
    assert stored.checksum() in {s.checksum() for s in sets}


def test_a_store_under_another_spec_hash_folder_is_refused_by_the_cli(
    real_bars: tuple[Any, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A store copied by hand under another feature spec's folder opened and was reported (stats,
    # query) as that spec's memory, although the strategy of that spec could never use it.
    from nautilus_ai.cli import main

    ts, ohlcv = real_bars
    patterns = build_from_bars(ts[:600], ohlcv[:600], instrument_id=INSTRUMENT)
    memory = PatternMemory(patterns, index_config=IndexConfig(mode="exact"))
    save_memory(memory, tmp_path / "patterns" / patterns.spec_hash / "mine")
    assert main(["patterns", "stats", "--catalog", str(tmp_path), "--name", "mine"]) == 0
    save_memory(memory, tmp_path / "patterns" / "0123456789abcdef" / "copied")
    capsys.readouterr()
    code = main(["patterns", "stats", "--catalog", str(tmp_path), "--name", "copied"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"feature spec {patterns.spec_hash} under the folder of spec 0123456789abcdef" in err
    assert err.count("\n") == 1
