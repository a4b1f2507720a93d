"""The feedback endpoint answers every request, quickly, whatever its headers say."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from nautilus_ai.serving.feedback_endpoint import FeedbackEndpoint


def test_a_negative_content_length_is_answered_not_waited_on(tmp_path: Path) -> None:
    # Content-Length: -1 made the handler read until the client closed its side: a client
    # waiting for its answer got none (the handler gave up after 10 s with a traceback).
    server = FeedbackEndpoint(("127.0.0.1", 0), "token", tmp_path / "out.jsonl")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        host, port = server.server_address[:2]
        with socket.create_connection((str(host), port), timeout=3.0) as client:
            client.sendall(
                b"POST /feedback HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer token\r\n"
                b"Content-Length: -1\r\n\r\n{}"
            )
            status = client.recv(4096).split(b"\r\n", 1)[0]
        assert status == b"HTTP/1.0 400 Bad Request"
        assert not (tmp_path / "out.jsonl").exists()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_outcome_it_cannot_store_is_answered_500(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The out file could not be appended to any more (disk full, replaced by a folder): the
    # handler died with a traceback and the client got no answer at all, while /health still
    # said ok. It now answers 500 naming the file, and says so on stderr.
    out = tmp_path / "out.jsonl"
    server = FeedbackEndpoint(("127.0.0.1", 0), "token", out)
    out.mkdir()  # what was a file is now a folder
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        host, port = server.server_address[:2]
        body = json.dumps(OUTCOME).encode()
        with socket.create_connection((str(host), port), timeout=3.0) as client:
            client.sendall(
                b"POST /feedback HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer token\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            answer = b"".join(iter(lambda: client.recv(4096), b""))  # HTTP/1.0: until closed
        assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.0 500 Internal Server Error"
        assert f"cannot append to {out}".encode() in answer
        assert server.accepted == 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert f"feedback_endpoint: error: cannot append to {out}" in capsys.readouterr().err


OUTCOME = {
    "client_order_id": "O-1", "instrument_id": "EUR/USD.SIM", "model_id": "m/1",
    "decision_ts": 1, "features": [0.5], "action": "buy", "confidence": 0.7, "side": 1,
    "quantity": 1000.0, "avg_px_open": 1.1, "avg_px_close": 1.2, "realized_pnl": 100.0,
    "ts_opened": 2, "ts_closed": 3, "exit_reason": "take_profit",
}  # fmt: skip
