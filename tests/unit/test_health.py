"""Health counters and rate-limited alerts."""

from __future__ import annotations

import json

import pytest

from nautilus_ai.health import ALERT_BAD_BARS, ALERT_PROTECTION, StrategyHealth

S = 1_000_000_000


def make() -> tuple[StrategyHealth, list[tuple[str, str]]]:
    written: list[tuple[str, str]] = []
    return StrategyHealth(lambda level, message: written.append((level, message))), written


def test_a_run_of_rejected_bars_raises_one_error_per_interval() -> None:
    health, written = make()
    for i in range(4):
        health.bar_rejected("stale", "old", bars_accepted=100, ts_event=i, now=i * S)
    assert written == [] and health.last_alert is None  # 4 of 50: not yet
    for i in range(4, 20):
        health.bar_rejected("stale", "old", bars_accepted=100, ts_event=i, now=i * S)
    assert len(written) == 1 and written[0][0] == "error"
    assert ALERT_BAD_BARS in written[0][1] and "stale" in written[0][1]
    assert health.alerts == 16 and health.last_alert is not None
    assert health.last_alert.suppressed == 15
    health.bar_rejected("stale", "old", bars_accepted=100, ts_event=99, now=80 * S)
    assert len(written) == 2 and "15 more" in written[1][1]
    assert health.bars_rejected == {"stale": 21} and health.bars_rejected_total == 21


def test_scattered_rejections_raise_no_alert() -> None:
    health, written = make()
    accepted = 0
    for i in range(20):
        accepted += 30  # one bad bar in every 31
        health.bar_rejected("outlier", "spike", accepted, ts_event=i, now=i * S)
    assert written == [] and health.alerts == 0


def test_kinds_are_rate_limited_apart_and_snapshot_is_json() -> None:
    health, written = make()
    health.alert("error", ALERT_PROTECTION, "stop rejected", 0)
    health.alert("error", ALERT_BAD_BARS, "bars", S)
    health.alert("error", ALERT_PROTECTION, "stop rejected again", 2 * S)
    assert [message for _, message in written] == [
        "ALERT protection: stop rejected",
        "ALERT bad_bars: bars",
    ]
    health.predictor_errors = 3
    snapshot = health.snapshot(bars_accepted=7)
    assert json.loads(json.dumps(snapshot)) == snapshot
    assert snapshot["bars_accepted"] == 7 and snapshot["predictor_errors"] == 3
    assert snapshot["last_alert"]["message"] == "stop rejected again"
    assert snapshot["last_alert"]["level"] == "error"


@pytest.mark.parametrize(("count", "window"), [(0, 10), (11, 10)])
def test_bad_settings_are_refused(count: int, window: int) -> None:
    with pytest.raises(ValueError, match="bad_bar_alert_count"):
        StrategyHealth(
            lambda level, message: None, bad_bar_alert_count=count, bad_bar_window=window
        )


def test_a_model_that_fails_on_every_bar_is_an_error_alert() -> None:
    """A dead model held every bar and counted predictor_errors, but raised no alert: a live
    status showed last_alert empty. Now the 1st, 2nd, 4th, 8th, ... failure alerts."""
    from nautilus_ai.health import ALERT_MODEL

    health, lines = make()
    for i in range(10):
        health.predictor_failed("timeout after 2 s", 1_000 + i, 10**9 * i)
    assert health.predictor_errors == 10
    assert health.alerts == 4  # failures 1, 2, 4, 8
    assert health.last_alert is not None and health.last_alert.kind == ALERT_MODEL
    assert health.last_alert.level == "error" and "timeout after 2 s (8 so far)" in (
        health.last_alert.message
    )
    assert lines and lines[0] == (
        "error",
        "ALERT model: holding on bar 1000, the model gave no prediction: timeout after 2 s "
        "(1 so far)",
    )
    assert health.snapshot(0)["predictor_errors"] == 10
