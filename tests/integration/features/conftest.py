"""A tiny HistData M1 loader for the feature tests (the real importer lives in nautilus_ai.data).

HistData M1 rows are ``YYYYMMDD HHMMSS;open;high;low;close;volume`` in America/New_York wall
time with DST, stamped at the bar *start*; Nautilus stamps bars at their close, so each row's
``ts_event_ns`` is its start converted to UTC plus 60 s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

NEW_YORK = ZoneInfo("America/New_York")
NS = 1_000_000_000


def load_histdata_m1(paths: list[Path]) -> dict[str, np.ndarray]:
    ts: list[int] = []
    cols: list[list[float]] = [[], [], [], [], []]
    hour_start: dict[str, int] = {}  # "YYYYMMDD HH" -> UTC seconds of that local hour's start
    for path in paths:
        for line_number, line in enumerate(path.read_text().splitlines(), start=1):
            stamp, *values = line.split(";")
            if len(values) != 5:
                raise ValueError(f"{path}:{line_number}: expected 6 ';'-separated fields")
            key = stamp[:11]
            if key not in hour_start:
                local = datetime.strptime(key, "%Y%m%d %H").replace(tzinfo=NEW_YORK)
                hour_start[key] = int(local.astimezone(UTC).timestamp())
            seconds = hour_start[key] + int(stamp[11:13]) * 60 + int(stamp[13:15])
            ts.append((seconds + 60) * NS)
            for col, value in zip(cols, values, strict=True):
                col.append(float(value))
    names = ("open", "high", "low", "close", "volume")
    out = {name: np.array(col) for name, col in zip(names, cols, strict=True)}
    out["ts"] = np.array(ts, dtype=np.int64)
    return out


@pytest.fixture(scope="session")
def histdata_eurusd_2017(data_dir: Path) -> dict[str, np.ndarray]:
    paths = sorted((data_dir / "histdata").glob("DAT_ASCII_EURUSD_M1_2017*.csv"))
    assert len(paths) == 6, f"expected six monthly HistData files, found {paths}"
    return load_histdata_m1(paths)
