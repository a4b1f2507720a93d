"""Faults on a real local Ray (2 CPUs): a worker SIGKILLed mid-run, a driver SIGKILLed mid-way.

Each test starts ``nautilus-ai experiment run`` in its own session and, at the end, kills every
process of that session it started (the driver, Ray's servers and workers) by pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from tests.fixtures.experiments import write_experiment

#: Ray / Optuna / DuckDB: the full test leg only (the core leg has no experiments extra).
pytestmark = pytest.mark.extra("experiments")


def _session_processes(sid: int) -> dict[int, str]:
    """pid -> command line of every process in session ``sid``."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[3]) == sid:
            found[int(entry)] = cmdline.decode(errors="replace").strip()
    return found


def _kill_session(sid: int) -> None:
    for pid in _session_processes(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _start(experiment: Path, output: Path) -> subprocess.Popen[bytes]:
    with output.open("wb") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "nautilus_ai.cli", "experiment", "run", str(experiment),
             "--workers", "2"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


@pytest.fixture
def sessions() -> Iterator[list[int]]:
    started: list[int] = []
    yield started
    for sid in started:
        _kill_session(sid)


def _stored(store: Path, name: str) -> dict[str, tuple[int, int]]:
    folder = store / "runs" / name
    if not folder.is_dir():
        return {}
    return {p.stem: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.parquet")}


def test_a_worker_killed_mid_run_is_retried_and_the_others_finish(
    tmp_path: Path, demo_catalog: Path, sessions: list[int]
) -> None:
    store = tmp_path / "results"
    experiment = write_experiment(tmp_path / "kill.yaml", catalog=demo_catalog, store=store,
                                  name="worker-kill", test="5d", stops=[2.0])  # fmt: skip
    log = tmp_path / "run.log"
    driver = _start(experiment, log)
    sessions.append(driver.pid)
    victim = None
    deadline = time.monotonic() + 240
    while victim is None and time.monotonic() < deadline and driver.poll() is None:
        running = [pid for pid, cmd in _session_processes(driver.pid).items()
                   if cmd.startswith("ray::backtest_entry")]  # fmt: skip
        if running and len(_stored(store, "worker-kill")) >= 2:
            victim = running[0]
            os.kill(victim, signal.SIGKILL)
            before = set(_stored(store, "worker-kill"))
        time.sleep(0.05)
    assert victim is not None, log.read_text()[-3000:]
    assert driver.wait(timeout=400) == 0, log.read_text()[-3000:]
    output = log.read_text()
    assert "(0 already stored, 6 run, 0 failed)" in output
    table = ds.dataset(store / "runs" / "worker-kill").to_table(columns=["key", "worker"])
    assert table.num_rows == 8  # 4 trial runs + 2 rule baselines + their 2 buy & hold rows
    later = [w for k, w in zip(table.column("key").to_pylist(), table.column("worker").to_pylist(),
                                strict=True) if k not in before]  # fmt: skip
    assert later and not [w for w in later if w.endswith(f":{victim}")]  # its run ran again
    assert not list((store / "failures").rglob("*.json"))


def test_a_sigkilled_driver_resumes_without_redoing_stored_runs(
    tmp_path: Path, demo_catalog: Path, sessions: list[int]
) -> None:
    store = tmp_path / "results"
    experiment = write_experiment(tmp_path / "resume.yaml", catalog=demo_catalog, store=store,
                                  name="resume", stops=[2.0])  # fmt: skip
    driver = _start(experiment, tmp_path / "first.log")
    sessions.append(driver.pid)
    deadline = time.monotonic() + 240
    while len(_stored(store, "resume")) < 4 and time.monotonic() < deadline:
        assert driver.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        time.sleep(0.05)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)
    _kill_session(driver.pid)
    before = _stored(store, "resume")
    assert 4 <= len(before) < 8
    assert not [p for p in (store / "runs").rglob("*") if p.name.startswith(".")]  # no half file
    import json

    planned = json.loads((store / "experiments" / "resume" / "experiment.json").read_text())
    stored_runs = sum(key in before for key in planned["runs"])

    second = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "experiment", "run", str(experiment),
         "--workers", "2"],
        capture_output=True, text=True, timeout=400, start_new_session=True,
    )  # fmt: skip
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"({stored_runs} already stored, {6 - stored_runs} run, 0 failed)" in second.stdout
    after = _stored(store, "resume")
    assert len(after) == 8  # 6 runs and the 2 buy & hold rows of the baselines
    assert {k: after[k] for k in before} == before  # the stored rows were not rewritten
    third = subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", "experiment", "run", str(experiment),
         "--in-process", "--no-report"],
        capture_output=True, text=True, timeout=200,
    )  # fmt: skip
    assert third.returncode == 0, third.stderr[-2000:]
    assert "(6 already stored, 0 run, 0 failed)" in third.stdout
