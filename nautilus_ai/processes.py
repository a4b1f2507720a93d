"""Is a process still running? One answer for the places that ask (a TorchServe server we
started, the node holding a trader id, the process that left a run open)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["pid_alive", "pid_namespace", "process_start_ticks"]


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs: a process we may not signal counts as running, a zombie (exited,
    not yet reaped by its parent) as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``; ``None`` elsewhere
    or when there is no such process): with the pid, it tells a reused pid from the original."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    try:
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (IndexError, ValueError):
        return None


def pid_namespace() -> str | None:
    """This process's pid namespace (Linux: ``pid:[4026531836]``; ``None`` elsewhere): two
    containers may share a host name, never a pid namespace, and a pid means something only
    inside its own."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
