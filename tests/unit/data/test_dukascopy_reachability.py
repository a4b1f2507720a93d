"""The downloader gives up on a dead network after a bounded run of failures that never reached
the server, and only then: answers from the server reset the count (real .bi5 bodies, a
scripted source, no sockets; the loopback tests are in tests/integration/data)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nautilus_ai.data.dukascopy import (
    DownloadConfig,
    DukascopyFile,
    ServerUnreachableError,
    TransientFetchError,
    UnreachableError,
    download_files,
    dukascopy_files,
)

FILES = list(
    dukascopy_files(
        "EURUSD", datetime(2019, 2, 4, tzinfo=UTC), datetime(2019, 2, 6, tzinfo=UTC), "ticks"
    )
)
FAST = dict(backoff_seconds=0.001, backoff_max_seconds=0.002)


class ScriptedSource:
    """Answers from a script of outcomes, one per request (then real bodies)."""

    name = "scripted"

    def __init__(self, root: Path, script: list[str]) -> None:
        self.root = root
        self.script = list(script)
        self.lock = threading.Lock()
        self.requests = 0

    def fetch(self, file: DukascopyFile) -> bytes:
        with self.lock:
            self.requests += 1
            action = self.script.pop(0) if self.script else "ok"
        if action == "dns":
            raise UnreachableError(
                "x: name resolution failed", "datafeed.test", "name resolution failed"
            )
        if action == "503":
            raise TransientFetchError("x: HTTP 503", status=503)
        if action == "drop":
            raise TransientFetchError("x: connection aborted")  # reached, no answer
        return (self.root / file.key).read_bytes()


@pytest.fixture(scope="module")
def root(data_dir: Path) -> Path:
    return data_dir / "dukascopy"


@pytest.mark.parametrize("workers", [1, 4])
def test_a_dead_network_stops_after_the_limit(tmp_path: Path, root: Path, workers: int) -> None:
    source = ScriptedSource(root, ["dns"] * 1_000)
    config = DownloadConfig(workers=workers, max_connection_failures=5, **FAST)
    with pytest.raises(ServerUnreachableError) as caught:
        download_files(FILES, tmp_path, source, config)
    error = caught.value
    assert str(error).startswith("cannot reach datafeed.test: name resolution failed (5 attempts")
    # Workers already inside a request when the limit is hit finish it, then every file stops.
    assert 5 <= source.requests <= 5 + workers - 1
    assert error.summary.requests == source.requests
    assert error.summary.count("aborted") + error.summary.count("failed") == len(FILES)
    assert not list(tmp_path.rglob("*.bi5"))


def test_answers_in_between_reset_the_count(tmp_path: Path, root: Path) -> None:
    # 4 unreachable, an answer (HTTP 503), 4 unreachable, a body... never 5 in a row.
    script = (["dns"] * 4 + ["503"] + ["dns"] * 4 + ["ok"]) * 3
    source = ScriptedSource(root, script)
    config = DownloadConfig(workers=1, retries=20, max_connection_failures=5, **FAST)
    summary = download_files(FILES, tmp_path, source, config)
    assert summary.count("downloaded") == len(FILES) and not summary.failures
    assert source.requests == len(script) + len(FILES) - 3


def test_failures_without_an_answer_neither_count_nor_reset(tmp_path: Path, root: Path) -> None:
    # Dropped connections (the server was reached) between unreachable ones do not reset.
    script = ["dns", "dns", "drop", "dns", "drop", "dns", "dns"]
    source = ScriptedSource(root, script)
    config = DownloadConfig(workers=1, retries=20, max_connection_failures=5, **FAST)
    with pytest.raises(ServerUnreachableError, match=r"\(5 attempts in"):
        download_files(FILES, tmp_path, source, config)
    assert source.requests == len(script)


def test_files_fetched_before_the_stop_stay_cached(tmp_path: Path, root: Path) -> None:
    source = ScriptedSource(root, ["ok"] * 6 + ["dns"] * 1_000)
    config = DownloadConfig(workers=1, max_connection_failures=3, **FAST)
    with pytest.raises(ServerUnreachableError) as caught:
        download_files(FILES, tmp_path, source, config)
    summary = caught.value.summary
    assert summary.count("downloaded") == 6
    for outcome in summary.outcomes:
        cached = tmp_path / outcome.file.key
        assert cached.exists() == (outcome.status == "downloaded")
        if cached.exists():
            assert cached.read_bytes() == (root / outcome.file.key).read_bytes()
    assert source.requests == 6 + 3


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_connection_failures"):
        DownloadConfig(max_connection_failures=0)
