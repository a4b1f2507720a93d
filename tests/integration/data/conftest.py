"""Fixture ``dukascopy_mirror``: a Dukascopy datafeed mirror on loopback that injects faults.

Use as ``with dukascopy_mirror(root, faults) as mirror: ...`` (``mirror.url`` is the base URL,
``mirror.requests`` counts requests per file key). It is a real ``http.server`` in a thread on a
free port, stopped when the ``with`` block ends.

``faults`` maps a file key to a list of actions used one per request (then the file is served
normally), or to a single action string used on every request. Actions: ``"503"``, ``"429"``,
``"timeout"`` (answer after ``slow_seconds``), ``"empty"``, ``"truncate"``, ``"drop"`` (close the
connection without answering).

``stop_after`` (a request count) stops the server for good after that many requests: the next
one is cut, the listening socket is closed and open connections are cut, as when a server dies
or the network goes away mid-run (new connections are then refused).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class Mirror:
    def __init__(
        self,
        root: Path,
        faults: dict[str, list[str] | str],
        slow_seconds: float,
        stop_after: int | None = None,
    ) -> None:
        self.root = root
        self.faults = faults
        self.slow_seconds = slow_seconds
        self.stop_after = stop_after
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.url = ""
        self.connections: set[socket.socket] = set()
        self.stopped = threading.Event()
        self.server: ThreadingHTTPServer | None = None
        self.admitted = 0

    def stop(self) -> None:
        """Close the listening socket and cut every open connection (idempotent)."""
        with self.lock:
            if self.stopped.is_set() or self.server is None:
                return
            self.stopped.set()
            connections = list(self.connections)
        self.server.shutdown()
        self.server.server_close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def admit(self) -> bool:
        """Serve this request? Past ``stop_after`` requests, stop the server instead."""
        with self.lock:
            if self.stopped.is_set():
                return False
            if self.stop_after is None or self.admitted < self.stop_after:
                self.admitted += 1
                return True
        threading.Thread(target=self.stop, daemon=True).start()
        return False

    def next_action(self, key: str) -> str | None:
        with self.lock:
            self.requests[key] += 1
            plan = self.faults.get(key)
            if isinstance(plan, str):
                return plan
            if plan:
                return plan.pop(0)
            return None


def _handler(mirror: Mirror) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def setup(self) -> None:
            super().setup()
            with mirror.lock:
                mirror.connections.add(self.connection)

        def finish(self) -> None:
            with mirror.lock:
                mirror.connections.discard(self.connection)
            with contextlib.suppress(OSError):
                super().finish()

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if not mirror.admit():
                self.close_connection = True
                return
            key = self.path.split("/feed/", 1)[-1]
            action = mirror.next_action(key)
            path = mirror.root / key
            if action == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if action == "503":
                return self._send(503, b"busy")
            if action == "429":
                return self._send(429, b"slow down", {"Retry-After": "0"})
            if action == "timeout":
                time.sleep(mirror.slow_seconds)
            if action == "empty":
                return self._send(200, b"")
            if not path.is_file():
                return self._send(404, b"not found")
            body = path.read_bytes()
            if action == "truncate":
                body = body[: len(body) // 3]
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._send(200, body)

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # a client that timed out closes its socket: expected here


@contextlib.contextmanager
def serve(
    root: Path,
    faults: dict[str, list[str] | str] | None = None,
    slow_seconds: float = 1.0,
    stop_after: int | None = None,
) -> Iterator[Mirror]:
    mirror = Mirror(root, faults or {}, slow_seconds, stop_after)
    server = _Server(("127.0.0.1", 0), _handler(mirror))
    mirror.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    mirror.url = f"http://127.0.0.1:{server.server_address[1]}/feed"
    try:
        yield mirror
    finally:
        mirror.stop()
        thread.join(timeout=5)


@pytest.fixture
def dukascopy_mirror() -> object:
    """The :func:`serve` context manager (a fixture, so tests need no import path tricks)."""
    return serve
