"""``nautilus-ai serve stop`` stops the TorchServe it started, never another process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nautilus_ai.serving import TorchServeProcess, TorchServeSettings


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_stale_pid_file_naming_another_process_is_not_stopped(
    tmp_path: Path, stranger: subprocess.Popen[bytes]
) -> None:
    # The pid file outlives the server (a crash, a reboot); its pid was then taken by another
    # program, which `serve stop` killed (SIGTERM, then SIGKILL) and `serve status` reported as
    # the server.
    store = tmp_path / "store"
    store.mkdir()
    workdir = tmp_path / "ts"
    TorchServeProcess(TorchServeSettings(model_store=store, workdir=workdir)).write_config()
    (workdir / "tmp" / ".model_server.pid").write_text(f"{stranger.pid}\n")
    server = TorchServeProcess.from_workdir(workdir)
    assert server.pid() is None
    server.stop(timeout_s=1.0)
    assert stranger.poll() is None  # still running


def no_launch_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model store, with launching TorchServe made a test failure (the checks under
    test must refuse before it)."""

    def no_launch(*args: object, **kwargs: object) -> None:
        raise AssertionError("the server was launched")

    monkeypatch.setattr("nautilus_ai.serving.server.subprocess.Popen", no_launch)
    store = tmp_path / "store"
    store.mkdir()
    return store


def test_a_port_in_use_is_named_before_the_server_is_launched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # TorchServe exited during start-up and the error quoted an unrelated log warning: nothing
    # said that the port was taken.
    import socket

    from nautilus_ai.serving import TorchServeError

    store = no_launch_store(tmp_path, monkeypatch)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        settings = TorchServeSettings(model_store=store, workdir=tmp_path / "ts", metrics_port=port)
        with pytest.raises(TorchServeError, match=f"metrics port {port} .*in use"):
            TorchServeProcess(settings).start()
    assert not (tmp_path / "ts" / "tmp" / ".model_server.pid").exists()


def test_a_model_archive_missing_from_the_store_is_named_before_launch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A misspelt --model mlp=mpl.mar started the server, which never loaded the model:
    # `serve start` waited its whole --timeout-s (180 s) and then quoted the model log.
    from nautilus_ai.serving import TorchServeError

    store = no_launch_store(tmp_path, monkeypatch)
    (store / "mlp.mar").write_bytes(b"")
    for entry in ("mlp=mpl.mar", "mpl.mar"):
        settings = TorchServeSettings(model_store=store, workdir=tmp_path / "ts", models=(entry,))
        with pytest.raises(TorchServeError, match=r"mpl\.mar.*not in the model store.*mlp\.mar"):
            TorchServeProcess(settings).start()


@pytest.mark.extra("serve")  # `nautilus-ai serve start` on a core install refuses first
def test_serve_start_interrupted_while_waiting_stops_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C while `serve start` waited for the workers left the server running in the
    # background (its own session), holding its ports, while the command said "interrupted".
    from nautilus_ai.cli import main

    stopped: list[bool] = []

    def interrupted(self: TorchServeProcess, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(TorchServeProcess, "start", lambda self: None)
    monkeypatch.setattr(TorchServeProcess, "wait_ready", interrupted)
    monkeypatch.setattr(TorchServeProcess, "stop", lambda self, **kw: stopped.append(True))
    store = tmp_path / "store"
    store.mkdir()
    rc = main(["serve", "start", "--store", str(store), "--workdir", str(tmp_path / "w")])
    assert rc == 130 and stopped == [True]


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), 0.0])
def test_a_wait_that_would_never_end_is_refused(tmp_path: Path, seconds: float) -> None:
    # From Python, startup_timeout_s / wait_ready(timeout_s=) / stop(timeout_s=) took NaN or
    # inf: a deadline that is never passed, a wait for ever on a server that never got ready.
    store = tmp_path / "store"
    store.mkdir()
    with pytest.raises(ValueError, match="startup_timeout_s must be a finite number"):
        TorchServeSettings(model_store=store, workdir=tmp_path / "ts", startup_timeout_s=seconds)
    server = TorchServeProcess(TorchServeSettings(model_store=store, workdir=tmp_path / "ts"))
    with pytest.raises(ValueError, match="timeout_s must be a finite number"):
        server.wait_ready(timeout_s=seconds)
    with pytest.raises(ValueError, match="timeout_s must be a finite number"):
        server.stop(timeout_s=seconds)
