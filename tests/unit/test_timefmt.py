"""The shared UTC formatters floor to their unit (the minute formatter it replaced went through a
float and named 00:01 for the last nanosecond of minute 00:00)."""

from __future__ import annotations

from nautilus_ai.timefmt import utc_millis, utc_minute, utc_seconds

MINUTE = 60 * 10**9
NEW_YEAR_2024 = 1_704_067_200 * 10**9


def test_each_precision_names_the_time_floored_to_its_unit() -> None:
    last_ns_of_first_minute = NEW_YEAR_2024 + MINUTE - 1
    assert utc_minute(last_ns_of_first_minute) == "2024-01-01 00:00"
    assert utc_seconds(last_ns_of_first_minute) == "2024-01-01T00:00:59Z"
    assert utc_millis(last_ns_of_first_minute) == "2024-01-01T00:00:59.999Z"
    assert utc_minute(NEW_YEAR_2024) == "2024-01-01 00:00"
    assert utc_seconds(NEW_YEAR_2024) == "2024-01-01T00:00:00Z"
    assert utc_millis(NEW_YEAR_2024 + 250_000_000) == "2024-01-01T00:00:00.250Z"


def test_numpy_integers_are_taken_as_ints() -> None:
    import numpy as np

    assert utc_seconds(np.int64(NEW_YEAR_2024)) == "2024-01-01T00:00:00Z"  # type: ignore[arg-type]
