"""Downloader against a real HTTP server on loopback that injects faults."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nautilus_ai.data.dukascopy import (
    DownloadConfig,
    HttpDataSource,
    download_files,
    dukascopy_files,
)
from nautilus_ai.data.dukascopy.download import failure_marker
from nautilus_ai.data.dukascopy.urls import parse_key

FAST = DownloadConfig(workers=4, retries=3, backoff_seconds=0.01, backoff_max_seconds=0.05)


def _day(n: int) -> str:
    return f"EURUSD/2019/01/04/{n:02d}h_ticks.bi5"


def _files() -> list:
    start, end = datetime(2019, 2, 4, tzinfo=UTC), datetime(2019, 2, 6, tzinfo=UTC)
    return list(dukascopy_files("EURUSD", start, end, "ticks"))


def _source(url: str, read_timeout: float = 0.3) -> HttpDataSource:
    return HttpDataSource(url, connect_timeout=1.0, read_timeout=read_timeout, pool_size=4)


def test_faults_are_retried_bad_files_named_and_a_second_run_fetches_nothing(
    dukascopy_mirror, tmp_path: Path, data_dir: Path
) -> None:
    root = data_dir / "dukascopy"
    faults: dict[str, list[str] | str] = {
        _day(8): ["503", "503"],
        _day(9): ["timeout"],
        _day(10): ["empty"],  # an open-market hour: a spurious empty body, re-fetched
        _day(11): ["429"],
        _day(12): "truncate",  # broken on the server for good
        _day(13): ["truncate"],  # broken once, good on the retry
        _day(14): ["drop"],
    }
    cache = tmp_path / "cache"
    files = _files()
    with dukascopy_mirror(root, faults) as mirror:
        source = _source(mirror.url)
        first = download_files(files, cache, source, FAST)
        assert [o.file.key for o in first.failures] == [_day(12)]
        failure = first.failures[0]
        assert failure.status == "failed"
        assert "EURUSD ticks 2019-02-04 12:00 UTC" in failure.error or "LZMA" in failure.error
        assert first.count("downloaded") == 47
        for outcome in first.outcomes:
            if outcome.file.key != _day(12):
                cached = cache / outcome.file.key
                assert cached.read_bytes() == (root / outcome.file.key).read_bytes()
        assert not (cache / _day(12)).exists()
        assert failure_marker(cache, parse_key(_day(12))).exists()
        assert not list(cache.rglob("*.part-*"))
        assert mirror.requests[_day(8)] == 3 and mirror.requests[_day(10)] == 2
        for retried_once in (9, 11, 13, 14):  # timeout, 429, truncated once, dropped connection
            assert mirror.requests[_day(retried_once)] == 2, retried_once
        assert mirror.requests[_day(12)] == 1 + FAST.retries
        assert "12:00" in first.to_text()

        before = sum(mirror.requests.values())
        second = download_files(files, cache, source, FAST)
        assert sum(mirror.requests.values()) == before  # nothing fetched
        assert second.requests == 0
        assert second.count("cached") == 47 and second.count("skipped_failed") == 1
        assert [o.file.key for o in second.failures] == [_day(12)]

        third = download_files(
            files, cache, source, DownloadConfig(retries=0, retry_failed=True, workers=2)
        )
        assert third.requests == 1 and third.count("failed") == 1
        source.close()


def test_interrupted_run_resumes_and_empty_bodies_follow_the_market_clock(
    dukascopy_mirror, tmp_path: Path, data_dir: Path
) -> None:
    root = data_dir / "dukascopy"
    cache = tmp_path / "cache"
    files = _files()[:6]
    # A previous run got two files and died mid-write of a third.
    for key in (_day(0), _day(1)):
        (cache / key).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / key, cache / key)
    (cache / (_day(2) + ".part-dead")).write_bytes(b"partial")
    saturday = parse_key("EURUSD/2019/01/09/12h_ticks.bi5")  # 9 Feb 2019: market closed
    always_empty = {_day(3): "empty", saturday.key: "empty"}
    with dukascopy_mirror(root, always_empty) as mirror:
        source = _source(mirror.url)
        summary = download_files([*files, saturday], cache, source, FAST)
        source.close()
    assert summary.count("cached") == 2
    assert mirror.requests[_day(0)] == 0 and mirror.requests[_day(2)] == 1
    assert (cache / _day(2)).read_bytes() == (root / _day(2)).read_bytes()
    # Closed market: an empty body is "no data" and is cached as a 0-byte file.
    outcome = {o.file.key: o for o in summary.outcomes}
    assert outcome[saturday.key].status == "empty"
    assert (cache / saturday.key).stat().st_size == 0
    # Open market: a body that stays empty is reported and not cached, so a later run retries.
    assert outcome[_day(3)].status == "suspicious_empty"
    assert outcome[_day(3)].requests == 1 + FAST.empty_refetches
    assert not (cache / _day(3)).exists()
    assert [o.file.key for o in summary.failures] == [_day(3)]


def test_permanent_http_errors_are_not_retried(
    dukascopy_mirror, tmp_path: Path, data_dir: Path
) -> None:
    missing = parse_key("EURUSD/2030/00/01/00h_ticks.bi5")
    with dukascopy_mirror(data_dir / "dukascopy") as mirror:
        source = _source(mirror.url)
        summary = download_files([missing], tmp_path, source, FAST)
        source.close()
    assert summary.outcomes[0].status == "failed"
    assert "HTTP 404" in summary.outcomes[0].error
    assert mirror.requests[missing.key] == 1


@pytest.mark.parametrize("field", ["workers", "retries"])
def test_config_rejects_bad_values(field: str) -> None:
    with pytest.raises(ValueError, match=f"DownloadConfig.{field}"):
        DownloadConfig(**{field: -1})
