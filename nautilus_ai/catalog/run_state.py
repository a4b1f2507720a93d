"""Whether a logged run was closed: an open-run record beside its parts.

A run's feature log writes ``_run_open.json`` into its snapshot folder before its first part
and removes it when the logger closes with every row written. A record that is still there
means the rows may stop short: the process was killed, crashed, lost rows to failed writes, or
is still running (a live node). The readers refuse such a run unless asked to read it as it is
(``allow_open=True``), so a killed run is never taken for a complete one. Runs logged before
the record existed have none and read as before.

A session that reopens the same run id (a live node restarted with a fixed ``run_id``) adds
itself to the record; when it closes, the record stays if an earlier session never closed
(the rows between the two may be missing).
"""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nautilus_ai.artifacts import write_bytes_atomic
from nautilus_ai.processes import pid_alive

__all__ = ["OPEN_RECORD", "close_run", "open_run", "open_run_problem"]

OPEN_RECORD = "_run_open.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return {"sessions": [], "unreadable": f"{exc}"}
    return record if isinstance(record, dict) else {"sessions": [], "unreadable": "not a dict"}


def _write(path: Path, record: dict[str, Any]) -> None:
    write_bytes_atomic(path, json.dumps(record, indent=1).encode())


def open_run(folder: Path) -> None:
    """Record that a session of this run is writing (before its first part)."""
    path = folder / OPEN_RECORD
    record = _read(path) or {"sessions": []}
    sessions = [s for s in record.get("sessions", []) if isinstance(s, dict)]
    sessions.append(
        {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "closed": False,
        }
    )
    record["sessions"] = sessions
    _write(path, record)


def close_run(folder: Path, shortfall: str | None) -> None:
    """The session that opened last has closed; ``shortfall`` says what it failed to write
    (``None``: every row written). Removes the record when nothing is missing."""
    path = folder / OPEN_RECORD
    record = _read(path)
    if record is None:
        return
    sessions = [s for s in record.get("sessions", []) if isinstance(s, dict)]
    if sessions:
        sessions[-1]["closed"] = True
        if shortfall:
            sessions[-1]["shortfall"] = shortfall
    record["sessions"] = sessions
    if not shortfall and "unreadable" not in record and all(s.get("closed") for s in sessions):
        path.unlink(missing_ok=True)
    else:
        _write(path, record)


def _alive(session: dict[str, Any]) -> str:
    if session.get("host") != socket.gethostname():
        return f"on host {session.get('host')}"
    pid = session.get("pid")
    if not isinstance(pid, int):
        return ""
    if not pid_alive(pid):
        return f"pid {pid}, no longer running: killed or crashed"
    return f"pid {pid}, still running"


def open_run_problem(folder: Path) -> str | None:
    """Why the run in ``folder`` may be incomplete (one line), or ``None`` when it closed."""
    path = folder / OPEN_RECORD
    record = _read(path)
    if record is None:
        return None
    if "unreadable" in record:
        return f"{path}: an open-run record that cannot be read ({record['unreadable']})"
    for session in record.get("sessions", []):
        if not session.get("closed"):
            return (
                f"run {folder.name}: its feature log was never closed by the session started "
                f"{session.get('started')} ({_alive(session)}), so its rows may stop short "
                f"(record: {path})"
            )
        if session.get("shortfall"):
            return f"run {folder.name}: {session['shortfall']} (record: {path})"
    return None
