"""SIGKILL mid-import: a real process is killed before every filesystem change of a write and
at random instants, many times. Read back through Nautilus' ``catalog.query``, every timestamp
is there once, with its old or its new value (each series is wholly old or wholly new), and the
next import recovers. Real HistData bars; the writer runs in ``tests/fixtures/crash_writer.py``
(forked per attempt, so a kill costs a fork, not a Nautilus import)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nautilus_trader.model.data import Bar
from nautilus_trader.persistence.catalog import ParquetDataCatalog

from nautilus_ai.data import import_histdata_m1
from nautilus_ai.data.swap import STAGING_DIR

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
ASK = "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"
State = dict[str, dict[int, tuple[int, ...]]]


class CrashWriter:
    def __init__(self) -> None:
        script = Path(__file__).parents[2] / "fixtures" / "crash_writer.py"
        self.process = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert json.loads(self._line()) == {"ready": True}

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "crash_writer exited"
        return line

    def run(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self._line())
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            assert self.process.stdout is not None
            self.process.stdout.close()


@pytest.fixture(scope="module")
def crash_writer() -> Iterator[CrashWriter]:
    writer = CrashWriter()
    yield writer
    writer.close()


def _slice(source: Path, folder: Path, first: int, stop: int) -> Path:
    """Lines ``first:stop`` of a real HistData file, under its own name in ``folder``."""
    folder.mkdir(parents=True)
    lines = source.read_text().splitlines(keepends=True)[first:stop]
    target = folder / source.name
    target.write_text("".join(lines))
    return target


def read_state(catalog: Path) -> State:
    """Each series as ts_init -> raw values, read by Nautilus; no timestamp may repeat."""
    reader = ParquetDataCatalog(str(catalog))
    state: State = {}
    for bar_type in (BID, ASK):
        bars = reader.query(Bar, identifiers=[bar_type])
        series = {
            b.ts_init: (b.open.raw, b.high.raw, b.low.raw, b.close.raw, b.volume.raw) for b in bars
        }
        assert len(series) == len(bars), f"{bar_type}: a timestamp is stored twice"
        state[bar_type] = series
    # No stray file anywhere a query without identifiers would read.
    assert len(reader.query(Bar)) == sum(len(s) for s in state.values())
    return state


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Any]:
    """A catalog holding bars 0-6000 of January 2017 (BID + ASK at 0.3 pip), and an import of
    bars 4000-9000 with ASK at 0.5 pip: BID adds bars, ASK changes 2,000 and adds 3,000."""
    root = tmp_path_factory.mktemp("crash")
    january = data_dir / "histdata" / "DAT_ASCII_EURUSD_M1_201701.csv"
    stored = _slice(january, root / "stored", 0, 6_000)
    new = _slice(january, root / "new", 4_000, 9_000)
    template = root / "template"
    import_histdata_m1([stored], template, ask_spread_pips=0.3)
    old = read_state(template)
    done = root / "done"
    shutil.copytree(template, done)
    import_histdata_m1([new], done, ask_spread_pips=0.5, on_conflict="replace")
    expected = read_state(done)
    assert len(expected[BID]) == len(expected[ASK]) == 9_000
    assert expected[BID] != old[BID] and expected[ASK] != old[ASK]
    return {"root": root, "template": template, "files": [str(new)], "old": old, "new": expected}


def _fresh(scenario: dict[str, Any], name: str) -> Path:
    catalog: Path = scenario["root"] / name
    if catalog.exists():
        shutil.rmtree(catalog)
    shutil.copytree(scenario["template"], catalog)
    return catalog


def _check_and_recover(scenario: dict[str, Any], catalog: Path, *, fallback: bool) -> set[str]:
    """Every series is wholly old or wholly new (or, only in the fallback swap, missing with a
    journal to finish it); the next import brings the catalog to the new state, tidily."""
    state = read_state(catalog)
    seen: set[str] = set()
    for bar_type in (BID, ASK):
        if state[bar_type] == scenario["old"][bar_type]:
            seen.add("old")
        elif state[bar_type] == scenario["new"][bar_type]:
            seen.add("new")
        else:
            journals = list((catalog / STAGING_DIR).glob("*.journal.json"))
            assert fallback and not state[bar_type] and journals, (
                f"{bar_type}: {len(state[bar_type])} rows, neither the old nor the new series"
            )
            seen.add("missing")
    import_histdata_m1(scenario["files"], catalog, ask_spread_pips=0.5, on_conflict="replace")
    assert read_state(catalog) == scenario["new"]
    assert not (catalog / STAGING_DIR).exists()
    return seen


@pytest.mark.slow
def test_sigkill_before_every_filesystem_change(
    crash_writer: CrashWriter, scenario: dict[str, Any]
) -> None:
    files = scenario["files"]
    full = crash_writer.run(catalog=str(_fresh(scenario, "count")), files=files, spread=0.5)
    assert full["code"] == 0 and full["changes"] >= 12, full
    seen: set[str] = set()
    for step in range(1, full["changes"] + 1):
        catalog = _fresh(scenario, "step")
        answer = crash_writer.run(catalog=str(catalog), files=files, spread=0.5, kill_at=step)
        assert answer["killed"], (step, answer)
        seen |= _check_and_recover(scenario, catalog, fallback=False)
    assert seen == {"old", "new"}  # the kills fell both before and after the swaps


@pytest.mark.slow
def test_sigkill_at_random_instants(crash_writer: CrashWriter, scenario: dict[str, Any]) -> None:
    files = scenario["files"]
    # The fastest of three whole writes bounds the delays: one write slowed by a busy machine
    # would stretch the range past most writes' end, and too few kills would prove nothing.
    seconds = min(
        crash_writer.run(catalog=str(_fresh(scenario, "timing")), files=files, spread=0.5)[
            "seconds"
        ]
        for _ in range(3)
    )
    rng = random.Random(20_170_102)
    killed = 0
    for _ in range(16):
        catalog = _fresh(scenario, "random")
        delay = rng.uniform(0.0, 0.95 * seconds)
        answer = crash_writer.run(catalog=str(catalog), files=files, spread=0.5, kill_after=delay)
        killed += bool(answer["killed"])
        _check_and_recover(scenario, catalog, fallback=False)
    assert killed >= 8


@pytest.mark.slow
def test_sigkill_in_the_fallback_swap_is_finished_by_the_next_write(
    crash_writer: CrashWriter, scenario: dict[str, Any]
) -> None:
    files = scenario["files"]
    full = crash_writer.run(
        catalog=str(_fresh(scenario, "count")), files=files, spread=0.5, no_exchange=True
    )
    assert full["code"] == 0
    seen: set[str] = set()
    for step in range(1, full["changes"] + 1):
        catalog = _fresh(scenario, "fallback")
        answer = crash_writer.run(
            catalog=str(catalog), files=files, spread=0.5, kill_at=step, no_exchange=True
        )
        assert answer["killed"], (step, answer)
        seen |= _check_and_recover(scenario, catalog, fallback=True)
    assert seen == {"old", "new", "missing"}


def test_a_series_that_cannot_be_written_names_what_the_import_did_write(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # The ASK series went in, the BID swap failed (a busy mount, a full disk): the CLI printed
    # only the OSError, so nothing said that half of the import was stored.
    from nautilus_ai.cli import main
    from nautilus_ai.data import catalog as catalog_module
    from nautilus_ai.data import read_bars

    months = [data_dir / f"histdata/DAT_ASCII_EURUSD_M1_20170{m}.csv" for m in (1, 2)]
    import_histdata_m1(months[0], tmp_path, ask_spread_pips=0.3)
    commit = catalog_module.commit_series

    def failing_bid(root: Path, plan: Any) -> bool:
        if plan.identifier == BID:
            raise OSError(16, "Device or resource busy")
        return commit(root, plan)

    monkeypatch.setattr(catalog_module, "commit_series", failing_bid)
    argv = ["data", "import", "histdata-m1", str(months[1]), "--catalog", str(tmp_path)]
    assert main([*argv, "--ask-spread-pips", "0.3", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{BID}: not written ([Errno 16] Device or resource busy)" in err
    assert f"already written by this import: {ASK}" in err and "run the import again" in err
    assert len(read_bars(tmp_path, ASK)) == 60_279 and len(read_bars(tmp_path, BID)) == 31_500
    monkeypatch.setattr(catalog_module, "commit_series", commit)
    assert main([*argv, "--ask-spread-pips", "0.3", "-q"]) == 0
    assert len(read_bars(tmp_path, ASK)) == len(read_bars(tmp_path, BID)) == 60_279


class _Killed(BaseException):
    """The process dies here (nothing after it runs, no handler catches it)."""


def test_an_import_stopped_between_its_series_is_named_until_rerun(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # Killed after the ASK series went in and before BID: the catalog showed both series,
    # ASK to February and BID to January, with nothing saying the import was half done.
    from nautilus_ai.cli import main
    from nautilus_ai.data import catalog as catalog_module

    months = [data_dir / f"histdata/DAT_ASCII_EURUSD_M1_20170{m}.csv" for m in (1, 2)]
    import_histdata_m1(months[0], tmp_path, ask_spread_pips=0.3)
    commit = catalog_module.commit_series

    def dies_before_bid(root: Path, plan: Any) -> bool:
        if plan.identifier == BID:
            raise _Killed
        return commit(root, plan)

    monkeypatch.setattr(catalog_module, "commit_series", dies_before_bid)
    with pytest.raises(_Killed):
        import_histdata_m1(months[1], tmp_path, ask_spread_pips=0.3)
    monkeypatch.setattr(catalog_module, "commit_series", commit)
    capsys.readouterr()
    assert main(["data", "info", "--catalog", str(tmp_path), "--json"]) == 0
    (line,) = json.loads(capsys.readouterr().out)["interrupted_imports"]
    assert line.startswith("histdata-m1 (DAT_ASCII_EURUSD_M1_201702.csv, started ")
    assert line.endswith(
        f"stopped after writing 1 of its 2 series; not written: {BID}; run the same import "
        "again to complete it"
    )
    assert main(["data", "info", "--catalog", str(tmp_path)]) == 0
    assert f"  INTERRUPTED IMPORT: {line}\n" in capsys.readouterr().out
    import_histdata_m1(months[1], tmp_path, ask_spread_pips=0.3)  # the same import again
    assert main(["data", "info", "--catalog", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["interrupted_imports"] == []
    assert not list(tmp_path.glob(".nautilus-ai-import-*"))
