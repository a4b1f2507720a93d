"""HttpClient retries / timeouts / breaker with an injected fake session (no network)."""

from __future__ import annotations

import pytest
import requests

from nautilus_ai.models.base import PredictionError
from nautilus_ai.models.circuit import CircuitBreaker
from nautilus_ai.models.http import HttpClient, RetryPolicy


class _Response:
    def __init__(self, status: int, body: bytes = b"{}") -> None:
        self.status_code = status
        self.content = body
        self.text = body.decode()


class _Session:
    def __init__(self, outcomes: list[object]) -> None:
        self.outcomes = outcomes
        self.calls: list[dict[str, object]] = []

    def post(self, url: str, **kwargs: object) -> _Response:
        self.calls.append(kwargs)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, _Response)
        return outcome

    def close(self) -> None:
        pass


def _client(outcomes: list[object], **policy: object) -> tuple[HttpClient, _Session]:
    session = _Session(outcomes)
    client = HttpClient(
        "m",
        RetryPolicy(backoff_s=0.0, **policy),  # type: ignore[arg-type]
        CircuitBreaker(failure_threshold=2, reset_timeout_s=60),
        lambda: {"Authorization": "Bearer t"},
        session=session,  # type: ignore[arg-type]
    )
    return client, session


def test_connection_errors_and_5xx_are_retried() -> None:
    client, session = _client(
        [requests.ConnectionError("refused"), _Response(503), _Response(200, b"ok")], retries=2
    )
    response = client.post("http://x/p", b"{}")
    assert response.status == 200 and response.body == b"ok"
    assert len(session.calls) == 3
    assert session.calls[0]["timeout"] == (0.5, 2.0)
    assert session.calls[0]["headers"]["Authorization"] == "Bearer t"  # type: ignore[index]


def test_read_timeouts_are_not_retried_by_default() -> None:
    client, session = _client([requests.ReadTimeout("slow"), _Response(200)], retries=3)
    with pytest.raises(PredictionError, match="no answer within 2 s"):
        client.post("http://x/p", b"{}")
    assert len(session.calls) == 1


def test_4xx_is_returned_not_raised_and_counts_as_alive() -> None:
    client, _ = _client([_Response(400, b"bad")])
    assert client.post("http://x/p", b"{}").status == 400
    assert client.breaker.state == "closed"


def test_breaker_opens_and_then_fails_fast() -> None:
    client, session = _client(
        [requests.ConnectionError("a"), requests.ConnectionError("b")], retries=0
    )
    for _ in range(2):
        with pytest.raises(PredictionError, match="connection failed"):
            client.post("http://x/p", b"{}")
    assert client.breaker.state == "open"
    with pytest.raises(PredictionError, match="circuit open"):
        client.post("http://x/p", b"{}")
    assert len(session.calls) == 2  # no call while open


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="retries"):
        RetryPolicy(retries=11)
    with pytest.raises(ValueError, match="timeout"):
        RetryPolicy(read_timeout_s=0)


def test_unexpected_errors_still_count_against_the_breaker() -> None:
    client, _ = _client([RuntimeError("bug in a transport adapter")], retries=3)
    with pytest.raises(PredictionError, match="RuntimeError"):
        client.post("http://x/p", b"{}")
    assert client.breaker._failures == 1  # and the half-open trial slot is never left taken


def test_a_server_that_trickles_its_answer_is_cut_off_at_the_deadline() -> None:
    # The read timeout bounds each wait for a byte, not the answer: a server sending one byte
    # every 0.2 s held the call (and the strategy's bar) for as long as it liked.
    import socket
    import threading
    import time

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            while not stop.is_set():
                try:
                    conn.sendall(b" ")
                except OSError:
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    client = HttpClient(
        "m",
        RetryPolicy(connect_timeout_s=0.5, read_timeout_s=1.0, retries=0),
        CircuitBreaker(failure_threshold=5, reset_timeout_s=60),
        dict,
    )
    started = time.perf_counter()
    try:
        with pytest.raises(PredictionError, match="no complete answer within"):
            client.post(f"http://127.0.0.1:{listener.getsockname()[1]}/p", b"{}")
        assert time.perf_counter() - started < 3.0
    finally:
        stop.set()
        client.close()
        listener.close()
        thread.join(5)
