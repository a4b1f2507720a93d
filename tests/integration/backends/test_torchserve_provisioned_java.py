"""The session's TorchServe runs on the java nautilus_ai.services located (the services extra's
JDK 17 unless overridden), whatever java is on PATH or in an inherited $JAVA_HOME."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nautilus_ai.services import require


def test_torchserve_runs_on_the_located_java(torchserve_session: Any) -> None:
    pid = torchserve_session.server.pid()
    assert pid is not None
    running = Path(f"/proc/{pid}/exe").resolve()
    assert running == require("java").executable.resolve()
