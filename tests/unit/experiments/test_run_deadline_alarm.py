"""A run's deadline (SIGALRM in the worker) that fires inside a catalog read is reported as the
deadline, not as a broken file: it was a ``TimeoutError``, an ``OSError``, which the reader's
handler of I/O faults turned into 'unreadable Parquet file in the catalog: the run took longer
than its 1 s timeout' (a user told to look at an intact catalog file)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from nautilus_ai.data import store as catalog_store
from nautilus_ai.experiments.execution import RunTimeoutError, run_deadline


def test_an_alarm_inside_a_catalog_read_is_the_deadline_not_a_broken_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_read(*_args: Any, **_kwargs: Any) -> None:
        time.sleep(10)  # a read still going when the run's time is up

    monkeypatch.setattr(catalog_store.pq, "read_table", slow_read)
    started = time.monotonic()
    with pytest.raises(RunTimeoutError) as caught, run_deadline(0.2):
        catalog_store.read_parquet(tmp_path / "bars.parquet")
    assert time.monotonic() - started < 5
    assert str(caught.value) == "the run took longer than execution.run_timeout_s (0.2 s)"
    assert not isinstance(caught.value, OSError)
