"""A run file's start_time / end_time with a zone offset reads as UTC, without warnings."""

from __future__ import annotations

import pytest

from nautilus_ai.backtest import runner
from nautilus_ai.backtest.data_check import run_time_ns

T0 = 1_483_401_600_000_000_000  # 2017-01-03T00:00:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-01-03T02:00:00+02:00", T0),
        ("2017-01-02T19:00:00-05:00", T0),
        ("2017-01-03T00:00:00Z", T0),
        ("2017-01-03T00:00:00", T0),
        ("2017-01-03", T0),
        ("2017-01-03T00:00:00.000000001Z", T0 + 1),
        (T0, T0),
    ],
)
def test_run_times_read_as_utc_ns(value: object, expected: int) -> None:
    """An offset gave the right instant through numpy, but printed "no explicit representation
    of timezones available for np.datetime64" twice on every run (once from the data check,
    once from the runner), an error under -W error."""
    assert run_time_ns(value) == expected
    assert runner._window_ns(value, None) == (expected, None)
