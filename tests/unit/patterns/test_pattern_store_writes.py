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
from nautilus_ai.patterns import IndexConfig, PatternMemory, build_from_bars, load_memory

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
