"""Report folders: a run never writes into an earlier report's folder, even when two runs
finish in the same second (the folder is claimed by its mkdir, not by a check before it)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nautilus_ai.backtest import runner
from nautilus_ai.reporting import new_report_folder, summarise


class _FixedClock:
    @staticmethod
    def now(tz: object = None) -> SimpleNamespace:
        return SimpleNamespace(strftime=lambda _fmt: "20170102T000000Z")


def _outcome() -> SimpleNamespace:
    ts = np.arange(3, dtype=np.int64) * 86_400 * 10**9 + 1_483_315_200 * 10**9
    equity = np.array([100_000.0, 100_100.0, 100_050.0])
    summary = summarise(
        name="run", sample="in-sample", bar_ts=ts, equity=equity, position=np.zeros(3),
        trade_pnls=[], orders=0, elapsed_s=1.0, bars_processed=3, starting_equity=100_000.0,
        currency="USD",
    )  # fmt: skip
    return SimpleNamespace(summary=summary, equity=equity, bar_ts=ts, trades=[], decisions=[])


def test_a_run_finishing_in_the_same_second_as_another_gets_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs of one file finishing in the same second both looked for a free name, both
    found 'run-<stamp>' free, and the second's mkdir raised FileExistsError after its whole
    backtest had run: its report was lost. Here the other run takes the folder between the
    check and the mkdir (exists() still says free)."""
    monkeypatch.setattr(runner, "datetime", _FixedClock)
    taken = tmp_path / "run-20170102T000000Z"
    taken.mkdir()
    (taken / "stats.json").write_text("the other run's\n")
    real_exists = Path.exists
    monkeypatch.setattr(
        Path, "exists", lambda self, **kw: False if self == taken else real_exists(self, **kw)
    )
    run_file = SimpleNamespace(
        report_dir=tmp_path, name="run", sample="in-sample", path=tmp_path / "absent.yaml",
        raw={"name": "run"},
    )  # fmt: skip
    close = np.array([1.05, 1.06, 1.055])
    folder = runner._write_report(run_file, _outcome(), close, close + 2e-5)  # type: ignore[arg-type]
    assert folder == tmp_path / "run-20170102T000000Z-2"
    assert (folder / "stats.json").is_file() and (folder / "equity.png").is_file()
    assert (taken / "stats.json").read_text() == "the other run's\n"


def test_racing_runs_each_get_a_new_folder(tmp_path: Path) -> None:
    (tmp_path / "name").mkdir()
    (tmp_path / "name" / "kept.txt").write_text("kept\n")
    folders: list[Path] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        folders.append(new_report_folder(tmp_path, "name"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(f.name for f in folders) == sorted(f"name-{n}" for n in range(2, 10))
    assert all(not any(f.iterdir()) for f in folders)
    assert (tmp_path / "name" / "kept.txt").read_text() == "kept\n"
