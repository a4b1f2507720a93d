"""A dead network fails fast, over real sockets: a loopback server that dies mid-run, a host
name that cannot resolve (``.invalid``, RFC 6761) and a closed port. Each stops after a bounded
run of failures with one line naming the cause, exit 2 from the CLI, and the cache keeps what
was fetched. (Before this, a dead network took 116 s and 240 requests to give up.)"""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nautilus_ai.cli import main
from nautilus_ai.data.dukascopy import (
    DownloadConfig,
    HttpDataSource,
    ServerUnreachableError,
    download_files,
    dukascopy_files,
)

FILES = list(
    dukascopy_files(
        "EURUSD", datetime(2019, 2, 4, tzinfo=UTC), datetime(2019, 2, 6, tzinfo=UTC), "ticks"
    )
)
# The CLI's defaults (4 workers, 4 retries, backoff from 0.5 s) and the default limit of 5.
CONFIG = DownloadConfig()
UNRESOLVABLE = "http://datafeed.nautilus-ai.invalid/datafeed"


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/feed"


def _download(url: str, cache: Path) -> tuple[ServerUnreachableError, float]:
    source = HttpDataSource(url, connect_timeout=2.0, read_timeout=2.0, pool_size=4)
    started = time.perf_counter()
    try:
        with pytest.raises(ServerUnreachableError) as caught:
            download_files(FILES, cache, source, CONFIG)
    finally:
        source.close()
    return caught.value, time.perf_counter() - started


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (UNRESOLVABLE, "cannot reach datafeed.nautilus-ai.invalid: name resolution failed"),
        (None, "cannot reach 127.0.0.1: connection refused"),
    ],
    ids=["unresolvable-host", "closed-port"],
)
def test_unreachable_server_stops_fast(url: str | None, message: str, tmp_path: Path) -> None:
    error, seconds = _download(url or _closed_port(), tmp_path / "cache")
    assert str(error).startswith(f"{message} (5 attempts in ")
    assert seconds < 3.0, seconds
    # 5 in a row stop the run; at most the other 3 workers' requests were already under way.
    assert 5 <= error.summary.requests <= 8
    assert error.summary.count("downloaded") == 0
    assert not list((tmp_path / "cache").rglob("*.bi5"))


def test_server_dying_mid_run_stops_fast_and_keeps_the_cache(
    dukascopy_mirror, tmp_path: Path, data_dir: Path
) -> None:
    root, cache = data_dir / "dukascopy", tmp_path / "cache"
    with dukascopy_mirror(root, stop_after=10) as mirror:
        error, seconds = _download(mirror.url, cache)
        served = sum(mirror.requests.values())
    assert str(error).startswith("cannot reach 127.0.0.1: connection refused (5 attempts in ")
    assert seconds < 6.0, seconds
    assert served == 10
    summary = error.summary
    # Pooled connections cut by the server are retried (a dropped connection is not a dead
    # network), then new connections are refused: 5 of those in a row end the run.
    assert summary.requests <= 10 + 4 * 2 + 5
    assert summary.count("downloaded") == 10
    cached = sorted(p.relative_to(cache) for p in cache.rglob("*.bi5"))
    assert len(cached) == 10
    for key in cached:
        assert (cache / key).read_bytes() == (root / key).read_bytes()
    assert not list(cache.rglob("*.part-*"))


@pytest.mark.parametrize("kind", ["unresolvable-host", "closed-port", "server-dies"])
def test_cli_exits_2_with_one_line_naming_the_cause(
    kind: str, dukascopy_mirror, tmp_path: Path, data_dir: Path, capsys
) -> None:
    cache = tmp_path / "cache"
    argv = ["data", "download", "EURUSD", "--start", "2019-02-04", "--end", "2019-02-06"]
    argv += ["--cache", str(cache), "-q", "--import", "--catalog", str(tmp_path / "catalog")]
    started = time.perf_counter()
    if kind == "server-dies":
        with dukascopy_mirror(data_dir / "dukascopy", stop_after=7) as mirror:
            code = main([*argv, "--base-url", mirror.url])
    else:
        url = UNRESOLVABLE if kind == "unresolvable-host" else _closed_port()
        code = main([*argv, "--base-url", url, "--max-connection-failures", "3"])
    seconds = time.perf_counter() - started
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    cause = "name resolution failed" if kind == "unresolvable-host" else "connection refused"
    attempts = 5 if kind == "server-dies" else 3
    assert line.startswith("nautilus-ai: error: cannot reach ")
    assert f": {cause} ({attempts} attempts in " in line
    kept = 7 if kind == "server-dies" else 0
    assert line.endswith(f"the {kept} file(s) downloaded before are kept in {cache}")
    assert len(list(cache.rglob("*.bi5"))) == kept
    assert not (tmp_path / "catalog").exists()  # --import: nothing imported from a failed run
    assert seconds < 6.0, seconds


def test_a_server_that_never_answers_stops_fast(
    dukascopy_mirror, tmp_path: Path, data_dir: Path
) -> None:
    # It accepts connections and never answers (a stalled server or proxy): each request timed
    # out, was retried, and 3 files took 110 s; the 48 here would have taken ~20 minutes.
    slow: dict[str, list[str] | str] = {f.key: "timeout" for f in FILES}
    with dukascopy_mirror(data_dir / "dukascopy", slow, slow_seconds=5.0) as mirror:
        source = HttpDataSource(mirror.url, connect_timeout=1.0, read_timeout=0.5, pool_size=4)
        started = time.perf_counter()
        try:
            with pytest.raises(ServerUnreachableError) as caught:
                download_files(FILES, tmp_path / "cache", source, CONFIG)
        finally:
            source.close()
        seconds = time.perf_counter() - started
    assert str(caught.value).startswith(
        "cannot reach 127.0.0.1: no answer within 0.5 s (5 attempts in "
    )
    assert seconds < 4.0, seconds
    assert caught.value.summary.count("downloaded") == 0
