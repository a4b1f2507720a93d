"""Start and stop a local TorchServe 0.12 safely: loopback only, token auth on, quiet logs.

TorchServe is in limited maintenance upstream (0.12.0 is the last release, no further security
fixes): run it on loopback or behind your own authenticated proxy, never exposed directly.

What :class:`TorchServeProcess` takes care of (each measured on this setup):

* every listener (inference, management, metrics and both gRPC ports) is bound to ``host``
  (loopback by default); ports left at 0 are picked free;
* token authorization stays on (TorchServe's default) unless ``token_auth=False``; the keys land
  in ``<workdir>/key_file.json`` (TorchServe writes it into its working directory);
* a custom log4j2 config keeps TorchServe's per-request DEBUG / access lines out of the logs;
* ``torchserve --start`` keeps the caller's stdout open, so its output goes to a file;
* the pid file is ``$TMPDIR/.model_server.pid`` and ``--stop`` returns before the JVM exits: each
  server gets its own ``TMPDIR`` / ``TEMP`` (pid file, worker sockets), and :meth:`stop`
  terminates the JVM by pid and waits for it and its Python workers to exit;
* ``pyyaml`` must be installed (it is a nautilus-ai dependency).
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import requests

from nautilus_ai.models.torchserve_wire import TorchServeError, TorchServeKeys, read_key_file
from nautilus_ai.processes import pid_alive
from nautilus_ai.services import ServiceNotFoundError, program_environment, require

__all__ = [
    "TorchServeError",
    "TorchServeKeys",
    "TorchServeProcess",
    "TorchServeSettings",
    "free_port",
    "read_key_file",
]

LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"]

_LOG4J2 = """<?xml version="1.0" encoding="UTF-8"?>
<!-- nautilus-ai: TorchServe logs without per-request lines (the default logs every request). -->
<Configuration>
  <Appenders>
    <RollingFile name="ts_log" fileName="${{env:LOG_LOCATION:-logs}}/ts_log.log"
                 filePattern="${{env:LOG_LOCATION:-logs}}/ts_log.%i.log.gz">
      <PatternLayout pattern="%d{{ISO8601}} [%-5p] %t %c - %m%n"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
    <RollingFile name="model_log" fileName="${{env:LOG_LOCATION:-logs}}/model_log.log"
                 filePattern="${{env:LOG_LOCATION:-logs}}/model_log.%i.log.gz">
      <PatternLayout pattern="%d{{ISO8601}} [%-5p] %t %c - %m%n"/>
      <Policies><SizeBasedTriggeringPolicy size="50 MB"/></Policies>
      <DefaultRolloverStrategy max="3"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Logger name="ACCESS_LOG" level="{access_level}" additivity="false">
      <AppenderRef ref="ts_log"/>
    </Logger>
    <Logger name="MODEL_LOG" level="{model_level}" additivity="false">
      <AppenderRef ref="model_log"/>
    </Logger>
    <Logger name="MODEL_METRICS" level="OFF" additivity="false"/>
    <Logger name="TS_METRICS" level="OFF" additivity="false"/>
    <Logger name="io.netty" level="ERROR"/>
    <Logger name="org.apache" level="OFF"/>
    <Logger name="org.pytorch.serve" level="{server_level}" additivity="false">
      <AppenderRef ref="ts_log"/>
    </Logger>
    <Root level="{server_level}">
      <AppenderRef ref="ts_log"/>
    </Root>
  </Loggers>
</Configuration>
"""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_problem(host: str, port: int) -> str:
    """Why TorchServe could not listen on ``host:port`` now ("" when it can)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return "already in use (another server listens there; pick another or 0 for a free one)"
        return f"cannot listen there: {exc.strerror or exc}"
    return ""


@dataclass(frozen=True, slots=True)
class TorchServeSettings:
    """How to run one TorchServe instance.

    Parameters
    ----------
    model_store : Path
        Folder of ``.mar`` archives.
    workdir : Path
        This server's own folder: config, logs, pid file, worker sockets, ``key_file.json``.
        Keep the path short (unix socket paths are limited to ~100 characters).
    models : sequence of str
        Archives to load at start (``"name=file.mar"`` or ``"file.mar"``); empty loads none.
    host : str
        Address every listener binds to. Loopback by default; anything else is your decision.
    inference_port, management_port, metrics_port, grpc_inference_port, grpc_management_port
        Ports; 0 picks a free one.
    token_auth : bool
        Keep TorchServe's token authorization on (default). Off only for throwaway local tests.
    token_expiration_min : int
        Lifetime of the inference / management tokens (clients refresh with the API key).
    workers_per_model : int
        Python workers per model (archives may override in their model-config.yaml).
    log_level : str
        Level of TorchServe's own log (``WARN`` keeps per-request lines out).
    model_log_level : str
        Level of the Python workers' output (``model_log.log``).
    java_heap_mb : int
        Maximum JVM heap.
    """

    model_store: Path
    workdir: Path
    models: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    inference_port: int = 0
    management_port: int = 0
    metrics_port: int = 0
    grpc_inference_port: int = 0
    grpc_management_port: int = 0
    token_auth: bool = True
    token_expiration_min: int = 60
    workers_per_model: int = 1
    log_level: LogLevel = "WARN"
    model_log_level: LogLevel = "INFO"
    java_heap_mb: int = 512
    job_queue_size: int = 100
    startup_timeout_s: float = 120.0
    extra_properties: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        for name in (
            "inference_port",
            "management_port",
            "metrics_port",
            "grpc_inference_port",
            "grpc_management_port",
        ):
            port = getattr(self, name)
            if not (0 <= port <= 65535):
                raise ValueError(f"{name} must be in 0..65535, was {port!r}")
        if self.token_expiration_min < 1:
            raise ValueError(f"token_expiration_min must be >= 1, was {self.token_expiration_min}")
        if self.workers_per_model < 1:
            raise ValueError(f"workers_per_model must be >= 1, was {self.workers_per_model}")
        if self.java_heap_mb < 64:
            raise ValueError(f"java_heap_mb must be >= 64, was {self.java_heap_mb}")
        check_wait("startup_timeout_s", self.startup_timeout_s)


def check_wait(name: str, seconds: float) -> None:
    """Refuse a wait that is not finite and > 0: a NaN or infinite deadline is never passed."""
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{name} must be a finite number of seconds > 0, was {seconds!r}")


class TorchServeProcess:
    """One TorchServe server: ``start()``, ``wait_ready()``, ``stop()`` (or use ``with``).

    Ports left at 0 in ``settings`` are resolved when the object is created, so URLs are known
    before start. State (pid, key file) lives in ``settings.workdir``: a later process can stop a
    server it did not start with ``TorchServeProcess(settings).stop()``.
    """

    def __init__(self, settings: TorchServeSettings) -> None:
        self.settings = settings
        host = settings.host
        self.workdir = settings.workdir.resolve()
        self.ports = {
            "inference": settings.inference_port or free_port(host),
            "management": settings.management_port or free_port(host),
            "metrics": settings.metrics_port or free_port(host),
            "grpc_inference": settings.grpc_inference_port or free_port(host),
            "grpc_management": settings.grpc_management_port or free_port(host),
        }
        self._tmp = self.workdir / "tmp"
        self._logs = self.workdir / "logs"
        self._session = requests.Session()

    @classmethod
    def from_workdir(cls, workdir: str | os.PathLike[str]) -> TorchServeProcess:
        """The server whose config :meth:`write_config` left in ``workdir`` (to stop or inspect)."""
        folder = Path(workdir)
        config = folder / "config.properties"
        try:
            lines = config.read_text().splitlines()
        except OSError as exc:
            raise TorchServeError(f"no TorchServe config in {folder}: {exc}") from exc
        props = dict(line.split("=", 1) for line in lines if "=" in line)
        try:
            inference = props["inference_address"].rsplit(":", 1)
            settings = TorchServeSettings(
                model_store=Path(props["model_store"]),
                workdir=folder,
                host=inference[0].removeprefix("http://"),
                inference_port=int(inference[1]),
                management_port=int(props["management_address"].rsplit(":", 1)[1]),
                metrics_port=int(props["metrics_address"].rsplit(":", 1)[1]),
                grpc_inference_port=int(props["grpc_inference_port"]),
                grpc_management_port=int(props["grpc_management_port"]),
                token_auth=props.get("disable_token_authorization", "false") != "true",
            )
        except (KeyError, ValueError, IndexError) as exc:
            raise TorchServeError(
                f"{config} is not a config written by nautilus-ai: {exc}"
            ) from exc
        return cls(settings)

    # -- locations ------------------------------------------------------------------------------

    @property
    def inference_url(self) -> str:
        return f"http://{self.settings.host}:{self.ports['inference']}"

    @property
    def management_url(self) -> str:
        return f"http://{self.settings.host}:{self.ports['management']}"

    @property
    def metrics_url(self) -> str:
        return f"http://{self.settings.host}:{self.ports['metrics']}"

    @property
    def key_file(self) -> Path:
        return self.workdir / "key_file.json"

    @property
    def pid_file(self) -> Path:
        return self._tmp / ".model_server.pid"

    @property
    def log_dir(self) -> Path:
        return self._logs

    def keys(self) -> TorchServeKeys | None:
        """The current tokens, or None when token auth is off."""
        if not self.settings.token_auth:
            return None
        return read_key_file(self.key_file)

    def pid(self) -> int | None:
        """The JVM's pid if it is running, else None.

        The pid file outlives a crashed server (and a reboot): a pid is this server's only while
        that process runs with this workdir's config, never another program that took the pid.
        """
        try:
            pid = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        config = str(self.workdir / "config.properties")
        return pid if pid_alive(pid) and config in _command_line(pid) else None

    # -- lifecycle ------------------------------------------------------------------------------

    def write_config(self) -> Path:
        """Write ``config.properties`` and ``log4j2.xml`` into the workdir; returns the config."""
        settings = self.settings
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(exist_ok=True)
        self._logs.mkdir(exist_ok=True)
        host = settings.host
        properties = {
            "inference_address": f"http://{host}:{self.ports['inference']}",
            "management_address": f"http://{host}:{self.ports['management']}",
            "metrics_address": f"http://{host}:{self.ports['metrics']}",
            "grpc_inference_address": host,
            "grpc_inference_port": str(self.ports["grpc_inference"]),
            "grpc_management_address": host,
            "grpc_management_port": str(self.ports["grpc_management"]),
            "model_store": str(settings.model_store.resolve()),
            "load_models": ",".join(settings.models) if settings.models else "",
            "default_workers_per_model": str(settings.workers_per_model),
            "disable_token_authorization": "false" if settings.token_auth else "true",
            "token_expiration_min": str(settings.token_expiration_min),
            "enable_envvars_config": "false",
            "install_py_dep_per_model": "false",
            "disable_system_metrics": "true",
            "job_queue_size": str(settings.job_queue_size),
            "vmargs": f"-Xmx{settings.java_heap_mb}m -XX:+UseSerialGC -XX:-UsePerfData",
        }
        properties.update(dict(settings.extra_properties))
        if not settings.models:
            del properties["load_models"]
        config = self.workdir / "config.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        server_level = settings.log_level
        (self.workdir / "log4j2.xml").write_text(
            _LOG4J2.format(
                access_level="WARN" if server_level in ("WARN", "ERROR", "OFF") else "INFO",
                model_level=settings.model_log_level,
                server_level=server_level,
            )
        )
        return config

    def start(self) -> None:
        """Launch the server (returns once the JVM is spawned; see :meth:`wait_ready`)."""
        if self.pid() is not None:
            raise TorchServeError(f"a TorchServe started from {self.workdir} is already running")
        for name, port in self.ports.items():
            problem = _port_problem(self.settings.host, port)
            if problem:  # else the JVM exits at start-up with a log that does not say why
                raise TorchServeError(
                    f"{name.replace('_', '-')} port {port} on {self.settings.host}: {problem}"
                )
        self._check_archives()
        config = self.write_config()
        executable = shutil.which("torchserve", path=str(Path(sys.executable).parent))
        executable = executable or shutil.which("torchserve")
        if executable is None:
            raise TorchServeError(
                "torchserve not found: install the serve extra (pip install 'nautilus-ai[serve]')"
            )
        try:
            java = require("java")
        except ServiceNotFoundError as exc:
            raise TorchServeError(str(exc)) from None
        self.key_file.unlink(missing_ok=True)
        self.pid_file.unlink(missing_ok=True)
        # The launcher starts $JAVA_HOME/bin/java: point it at the java we located and checked.
        env = program_environment(java)
        env.update(
            TMPDIR=str(self._tmp),
            TEMP=str(self._tmp),
            LOG_LOCATION=str(self._logs),
            METRICS_LOCATION=str(self._logs),
        )
        env.pop("TS_CONFIG_FILE", None)  # it would override --ts-config
        command = [
            executable,
            "--start",
            "--ncs",
            "--ts-config",
            str(config),
            "--model-store",
            str(self.settings.model_store.resolve()),
            "--log-config",
            str(self.workdir / "log4j2.xml"),
        ]
        launcher_log = self._logs / "launcher.log"
        with open(launcher_log, "ab") as out:
            # The launcher keeps its stdout open for the JVM: never a pipe we would wait on.
            launcher = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            launcher.wait(timeout=60)
        except subprocess.TimeoutExpired:
            launcher.kill()
            raise TorchServeError(f"torchserve launcher hung; see {launcher_log}") from None
        if launcher.returncode != 0 or self.pid() is None:
            raise TorchServeError(
                f"torchserve did not start (exit {launcher.returncode}); see {launcher_log}: "
                + _tail(launcher_log)
            )

    def _check_archives(self) -> None:
        """Each ``NAME=FILE.mar`` / ``FILE.mar`` to load must be in the store (else the server
        runs without it and :meth:`wait_ready` waits out its whole timeout)."""
        store = self.settings.model_store
        for entry in self.settings.models:
            archive = entry.split("=", 1)[1] if "=" in entry else entry
            if archive == "all" or "://" in archive or not archive.endswith(".mar"):
                continue  # every archive, a URL, or a folder TorchServe resolves itself
            if not (store / archive).is_file():
                present = sorted(p.name for p in store.glob("*.mar")) if store.is_dir() else []
                raise TorchServeError(
                    f"model {entry!r}: {archive} is not in the model store {store} (it holds: "
                    f"{', '.join(present) or 'no .mar files'})"
                )

    def wait_ready(self, models: Sequence[str] = (), timeout_s: float | None = None) -> None:
        """Block until the server answers ``/ping`` and each named model has a READY worker."""
        timeout = self.settings.startup_timeout_s if timeout_s is None else timeout_s
        check_wait("timeout_s", timeout)
        give_up = time.monotonic() + timeout
        while True:
            if self.pid() is None:
                raise TorchServeError(
                    f"TorchServe exited during start-up; see {self._logs / 'ts_log.log'}: "
                    + _tail(self._logs / "ts_log.log")
                )
            if self._ready(models):
                return
            if time.monotonic() > give_up:
                raise TorchServeError(
                    f"TorchServe not ready within {timeout:g} s (models {list(models)}); see "
                    f"{self._logs}: " + _tail(self._logs / "model_log.log")
                )
            time.sleep(0.2)

    def _ready(self, models: Sequence[str]) -> bool:
        try:
            ping_headers: dict[str, str] = {}
            headers: dict[str, str] = {}
            if self.settings.token_auth:
                if not self.key_file.exists():
                    return False
                keys = read_key_file(self.key_file)  # may be half-written: retried next round
                ping_headers["Authorization"] = f"Bearer {keys.inference}"
                headers["Authorization"] = f"Bearer {keys.management}"
            ping = self._session.get(
                f"{self.inference_url}/ping", headers=ping_headers, timeout=(1.0, 2.0)
            )
            if ping.status_code != 200 or ping.json().get("status") != "Healthy":
                return False
            for model in models:
                response = self._session.get(
                    f"{self.management_url}/models/{model}", headers=headers, timeout=(1.0, 2.0)
                )
                if response.status_code != 200:
                    return False
                workers = [w for entry in response.json() for w in entry.get("workers", [])]
                if not any(w.get("status") == "READY" for w in workers):
                    return False
        except (requests.RequestException, ValueError, TorchServeError):
            return False
        return True

    def stop(self, timeout_s: float = 30.0) -> None:
        """Terminate the JVM and its workers by pid and wait until they are gone. Idempotent."""
        check_wait("timeout_s", timeout_s)
        pid = self.pid()
        self._session.close()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return
        children = _children(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_gone([pid], timeout_s):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_gone([pid], 5.0)
        survivors = [c for c in children if pid_alive(c)]
        for child in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)
        if survivors and not _wait_gone(survivors, 5.0):
            for child in survivors:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
        if pid_alive(pid):
            raise TorchServeError(f"TorchServe pid {pid} did not exit")
        self.pid_file.unlink(missing_ok=True)
        self.key_file.unlink(missing_ok=True)

    def __enter__(self) -> TorchServeProcess:
        self.start()
        try:
            self.wait_ready([_model_name(m) for m in self.settings.models])
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _model_name(entry: str) -> str:
    if "=" in entry:
        return entry.split("=", 1)[0]
    return Path(entry).name.removesuffix(".mar")


def _command_line(pid: int) -> list[str]:
    """The arguments ``pid`` runs with (empty when they cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [os.fsdecode(part) for part in raw.split(b"\0") if part]
    except OSError:
        pass
    try:
        import psutil  # a TorchServe dependency; where there is no /proc

        return [str(part) for part in psutil.Process(pid).cmdline()]
    except Exception:
        return []


def _wait_gone(pids: Sequence[int], timeout_s: float) -> bool:
    give_up = time.monotonic() + timeout_s
    while any(pid_alive(p) for p in pids):
        if time.monotonic() > give_up:
            return False
        time.sleep(0.05)
    return True


def _children(pid: int) -> list[int]:
    """Descendants of ``pid`` (the Python workers), via /proc; empty if unavailable."""
    try:
        import psutil  # a TorchServe dependency

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:
        return []


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


@contextlib.contextmanager
def running_torchserve(settings: TorchServeSettings) -> Iterator[TorchServeProcess]:
    """``with running_torchserve(settings) as server:`` - started, ready, always stopped."""
    with TorchServeProcess(settings) as server:
        yield server
