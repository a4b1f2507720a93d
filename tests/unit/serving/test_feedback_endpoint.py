"""The feedback endpoint answers every request, quickly, whatever its headers say."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

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
