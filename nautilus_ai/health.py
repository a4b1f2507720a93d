"""Health counters and rate-limited alerts for a running strategy.

Pure (no Nautilus import). A strategy that keeps refusing bars, whose model keeps failing or
whose protective orders the venue refuses must say so where an operator looks (the error log
and the control plane's ``status``), instead of going quiet. :class:`StrategyHealth` counts
those events and raises alerts through an injected ``emit(level, message)``; each alert kind is
written at most once per ``interval_ns`` (the count of the ones held back goes with the next),
while :attr:`StrategyHealth.last_alert` and the counters always reflect the latest state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "ALERT_BAD_BARS",
    "ALERT_BAD_TICKS",
    "ALERT_MODEL",
    "ALERT_MODEL_TIMING",
    "ALERT_ORDERS",
    "ALERT_PROTECTION",
    "ALERT_STALE_BARS",
    "Alert",
    "StrategyHealth",
]

ALERT_BAD_BARS = "bad_bars"
ALERT_BAD_TICKS = "bad_ticks"
ALERT_MODEL = "model"
ALERT_MODEL_TIMING = "model_timing"
ALERT_ORDERS = "orders"
ALERT_PROTECTION = "protection"
ALERT_STALE_BARS = "stale_bars"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: ``level`` is ``"error"`` or ``"warning"``; ``suppressed`` counts the alerts of
    the same kind that were not written since the previous written one."""

    ts_ns: int
    level: str
    kind: str
    message: str
    suppressed: int = 0


Emit = Callable[[str, str], None]


class StrategyHealth:
    """Counters (bars accepted / rejected by reason, predictor errors, protective-order
    failures) and alerts.

    Parameters
    ----------
    emit : callable
        ``emit(level, message)`` writes an alert (the strategy maps it to its logger).
    interval_ns : int
        Shortest time between two written alerts of one kind.
    bad_bar_alert_count, bad_bar_window : int
        An error alert when ``bad_bar_alert_count`` bars were refused among the last
        ``bad_bar_window`` bars received.
    """

    def __init__(
        self,
        emit: Emit,
        interval_ns: int = 60_000_000_000,
        bad_bar_alert_count: int = 5,
        bad_bar_window: int = 50,
    ) -> None:
        if interval_ns < 0:
            raise ValueError(f"interval_ns must be >= 0, was {interval_ns!r}")
        if not 1 <= bad_bar_alert_count <= bad_bar_window:
            raise ValueError(
                "need 1 <= bad_bar_alert_count <= bad_bar_window, was "
                f"{bad_bar_alert_count!r} and {bad_bar_window!r}"
            )
        self._emit = emit
        self.interval_ns = interval_ns
        self.bad_bar_alert_count = bad_bar_alert_count
        self.bad_bar_window = bad_bar_window
        self.reset()

    def reset(self) -> None:
        """Zero every counter and forget the alerts (a fresh run)."""
        self.bars_rejected: dict[str, int] = {}
        self.bars_rejected_total = 0
        self.ticks_rejected: dict[str, int] = {}
        self.ticks_rejected_total = 0
        self.ticks_held_stale = 0  # tick mode: quotes held, a due bar late (stale features)
        self.predictor_errors = 0
        self.predictions_late = 0  # answers past the deadline (holds)
        self.predictions_skipped = 0  # bars not asked: the async model was still busy
        self.protective_rejections = 0
        self.protection_flattens = 0
        self.entries_rejected = 0  # entries the venue or the risk engine refused
        self.alerts = 0
        self.last_alert: Alert | None = None
        self._recent: deque[int] = deque(maxlen=self.bad_bar_alert_count)  # received-bar index
        self._last_written: dict[str, int] = {}
        self._suppressed: dict[str, int] = {}
        self._last_log_ns: int | None = None

    def log_due(self, now: int) -> bool:
        """Whether a warning line may be written at ``now``: at most one per interval (a broken
        model on 186k bars must not flood the log); ``True`` marks it written."""
        if self._last_log_ns is not None and now - self._last_log_ns < self.interval_ns:
            return False
        self._last_log_ns = now
        return True

    def bar_rejected(
        self, reason: str, detail: str, bars_accepted: int, ts_event: int, now: int
    ) -> None:
        """Count a refused bar; alert at error level when refusals keep coming."""
        self.bars_rejected[reason] = self.bars_rejected.get(reason, 0) + 1
        self.bars_rejected_total += 1
        received = bars_accepted + self.bars_rejected_total
        recent = self._recent
        recent.append(received)
        if len(recent) == recent.maxlen and received - recent[0] < self.bad_bar_window:
            self.alert(
                "error",
                ALERT_BAD_BARS,
                f"{len(recent)} of the last {received - recent[0] + 1} bars were rejected "
                f"(since start: {self.bars_rejected}); latest at ts_event={ts_event}: "
                f"{reason}: {detail}",
                now,
            )

    def tick_rejected(self, reason: str, detail: str, now: int) -> None:
        """Count a refused quote tick and alert (at most once per interval: a feed sending
        zeros for an hour writes one line a minute, with the count held back)."""
        self.ticks_rejected[reason] = self.ticks_rejected.get(reason, 0) + 1
        self.ticks_rejected_total += 1
        self.alert(
            "error", ALERT_BAD_TICKS,
            f"quote tick refused: {reason}: {detail} (since start: {self.ticks_rejected})", now,
        )  # fmt: skip

    def tick_held_stale(self, detail: str, now: int) -> None:
        """Count a quote held in tick mode because a due bar is late (the bar feature feed is
        behind) and alert at error level, at most once per interval."""
        self.ticks_held_stale += 1
        self.alert(
            "error", ALERT_STALE_BARS,
            f"tick decisions held, the bar features are stale: {detail} "
            f"({self.ticks_held_stale} quotes held since start)", now,
        )  # fmt: skip

    def predictor_failed(self, reason: str, ts_event: int, now: int) -> None:
        """Count a prediction the model could not give (the strategy held) and alert at the
        1st, 2nd, 4th, 8th, ... one: a dead model is an error alert in ``status``, not only a
        counter (and not a line a bar)."""
        self.predictor_errors += 1
        failed = self.predictor_errors
        if _doubled(failed - 1, failed):
            self.alert(
                "error", ALERT_MODEL,
                f"holding on bar {ts_event}, the model gave no prediction: {reason} "
                f"({failed} so far)", now,
            )  # fmt: skip

    def requests_dropped(self, count: int, ts_event: int, now: int) -> None:
        """Count ``count`` requests an async model dropped unanswered (it was still busy) and
        alert at the 1st, 2nd, 4th, 8th, ... one: a steady condition, not a line a bar."""
        before = self.predictions_skipped
        self.predictions_skipped += count
        if _doubled(before, self.predictions_skipped):
            self.alert(
                "error", ALERT_MODEL_TIMING,
                f"model busy: a request dropped unanswered at bar {ts_event} "
                f"({self.predictions_skipped} so far), the model is still on an earlier one", now,
            )  # fmt: skip

    def answer_late(self, reason: str, ts_event: int, now: int) -> None:
        """Count an answer past the deadline (a hold) and alert as :meth:`requests_dropped`."""
        self.predictions_late += 1
        late = self.predictions_late
        if _doubled(late - 1, late):
            self.alert(
                "warning", ALERT_MODEL_TIMING,
                f"holding on bar {ts_event}: {reason} ({late} late so far)", now,
            )  # fmt: skip

    def entry_refused(self, order_id: str, event: str, reason: str, now: int) -> None:
        """Count an entry the venue rejected or the risk engine denied, and alert at error
        level (at most once per interval: a venue with no market refuses every one)."""
        self.entries_rejected += 1
        self.alert(
            "error", ALERT_ORDERS,
            f"entry {order_id} {event}: {reason} ({self.entries_rejected} entries refused "
            "since start)", now,
        )  # fmt: skip

    def alert(self, level: str, kind: str, message: str, now: int) -> Alert:
        """Record an alert and write it unless one of this kind was written < interval ago."""
        self.alerts += 1
        last = self._last_written.get(kind)
        if last is not None and now - last < self.interval_ns:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            alert = Alert(now, level, kind, message, self._suppressed[kind])
            self.last_alert = alert
            return alert
        suppressed = self._suppressed.pop(kind, 0)
        alert = Alert(now, level, kind, message, suppressed)
        self.last_alert = alert
        self._last_written[kind] = now
        more = f" ({suppressed} more since the last such alert)" if suppressed else ""
        self._emit(level, f"ALERT {kind}: {message}{more}")
        return alert

    def snapshot(self, bars_accepted: int) -> dict[str, Any]:
        """A JSON-ready view for ``control_status()``."""
        return {
            "bars_accepted": bars_accepted,
            "bars_rejected": dict(self.bars_rejected),
            "bars_rejected_total": self.bars_rejected_total,
            "ticks_rejected": dict(self.ticks_rejected),
            "ticks_rejected_total": self.ticks_rejected_total,
            "ticks_held_stale": self.ticks_held_stale,
            "predictor_errors": self.predictor_errors,
            "predictions_late": self.predictions_late,
            "predictions_skipped": self.predictions_skipped,
            "protective_rejections": self.protective_rejections,
            "protection_flattens": self.protection_flattens,
            "entries_rejected": self.entries_rejected,
            "alerts": self.alerts,
            "last_alert": None if self.last_alert is None else asdict(self.last_alert),
        }


def _doubled(before: int, after: int) -> bool:
    """Whether a count going from ``before`` to ``after`` reached its 1st, 2nd, 4th, 8th, ...
    value (when a steady condition alerts: not once a bar)."""
    return before.bit_length() != after.bit_length()
