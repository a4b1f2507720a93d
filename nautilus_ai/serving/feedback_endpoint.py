"""A local HTTP endpoint that receives trade outcomes for a served model (token-protected).

::

    NAUTILUS_AI_FEEDBACK_TOKEN=... python -m nautilus_ai.serving.feedback_endpoint \\
        --port 8095 --out feedback.jsonl

``POST /feedback`` with ``Authorization: Bearer <token>`` and a
:meth:`~nautilus_ai.models.base.TradeOutcome.to_dict` JSON body appends the outcome as one line
to ``--out`` (what a model's trainer reads) and answers ``200 {"accepted": 1}``. Without the
right token: ``401``; a body that is not an outcome: ``400`` naming the field; larger than
64 KiB: ``413``. ``GET /health`` answers ``200``. It listens on loopback by default and prints
``listening on http://HOST:PORT`` once ready (``--port 0`` picks a free port).
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nautilus_ai.models.base import TradeOutcome

__all__ = ["FeedbackEndpoint", "main"]

MAX_BODY = 64 * 1024


class FeedbackEndpoint(ThreadingHTTPServer):
    """The server: ``token`` guards ``POST /feedback``; outcomes are appended to ``out``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], token: str, out: Path) -> None:
        if not token:
            raise ValueError("token must not be empty")
        super().__init__(address, _Handler)
        self.token = token.encode()
        self.out = out
        self.write_lock = threading.Lock()
        self.accepted = 0


class _Handler(BaseHTTPRequestHandler):
    server: FeedbackEndpoint
    timeout = 10.0  # seconds a client may take to send its request: a stalled one is dropped

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would flood a trading session's logs

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._answer(200, {"status": "ok"})
        else:
            self._answer(404, {"error": f"no such path {self.path!r}"})

    def do_POST(self) -> None:
        if self.path != "/feedback":
            self._answer(404, {"error": f"no such path {self.path!r}"})
            return
        given = self.headers.get("Authorization", "")
        expected = b"Bearer " + self.server.token
        if not hmac.compare_digest(given.encode(), expected):
            self._answer(401, {"error": "missing or wrong bearer token"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            self._answer(400, {"error": "bad Content-Length"})
            return
        if length > MAX_BODY:
            self._answer(413, {"error": f"body larger than {MAX_BODY} bytes"})
            return
        if length < 0:  # read(-1) would wait for the client to close its side
            self._answer(400, {"error": f"bad Content-Length {length}"})
            return
        try:
            data = json.loads(self.rfile.read(length))
            if not isinstance(data, dict):
                raise ValueError("body must be a JSON object")
            outcome = TradeOutcome.from_dict(data)
        except ValueError as exc:
            self._answer(400, {"error": str(exc)})
            return
        line = json.dumps(outcome.to_dict()) + "\n"
        with self.server.write_lock:
            try:
                with self.server.out.open("a") as handle:
                    handle.write(line)
            except OSError as exc:  # disk full, file removed or replaced: say so, never drop it
                problem = f"cannot append to {self.server.out}: {exc.strerror or exc}"
                print(f"feedback_endpoint: error: {problem}", file=sys.stderr, flush=True)
                self._answer(500, {"error": problem})
                return
            self.server.accepted += 1
        self._answer(200, {"accepted": 1})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nautilus_ai.serving.feedback_endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8095)
    parser.add_argument("--out", type=Path, required=True, help="JSONL file outcomes go to")
    parser.add_argument("--token-env", default="NAUTILUS_AI_FEEDBACK_TOKEN")
    args = parser.parse_args(argv)
    token = os.environ.get(args.token_env, "")
    if not token:
        print(f"feedback_endpoint: error: environment variable {args.token_env} is not set",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        with args.out.open("a"):  # else every POST would fail while it looks healthy
            pass
    except OSError as exc:
        print(f"feedback_endpoint: error: cannot append to --out {args.out}: {exc.strerror}",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        server = FeedbackEndpoint((args.host, args.port), token, args.out)
    except OSError as exc:
        print(f"feedback_endpoint: error: cannot listen on {args.host}:{args.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)  # fmt: skip
        return 2
    host, port = server.server_address[:2]
    print(f"listening on http://{host!s}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
