"""Which incoming bars a running strategy may act on: timestamps and outlier moves.

Pure (no Nautilus import). The feature engine already refuses malformed bars (NaN, high < low,
out of order, ...). What it cannot judge is a bar that is well formed but implausible *in time*
or *in size*, and such a bar does lasting harm once accepted: one bar stamped in the future
becomes the engine's last bar, after which every real bar is "out of order" and the strategy
goes quiet; one bad print enters every return, ATR and z-score for the look-back window.

Checks, in order (the first failing one names the reason):

* ``ts_event_after_ts_init``: the bar says it closed after it was received
  (``ts_event > ts_init + tolerance``). Catches a future-dated bar in live trading, where
  ``ts_init`` is the receipt time, and look-ahead in a catalog whose ``ts_init`` precedes the
  bar's close.
* ``ts_init_after_clock``: received "later" than the strategy's clock (``ts_init > now +
  tolerance``); an adapter or catalog whose ``ts_init`` does not come from the node's clock.
* ``stale``: older than ``max_age_ns`` at processing time (``now - ts_event``). Off unless set:
  an offline replay feeds historical ``ts_event`` under a live clock on purpose.
* ``outlier`` (:class:`OutlierGuard`): the bar reaches further from the last accepted close
  than a bound (a % of price and / or a multiple of ATR). The bar is held (not fed to the
  features, no decision); after ``max_holds`` consecutive outliers the guard accepts the next
  one and re-anchors on it, so a genuine jump (an election weekend gap, a central-bank
  surprise) costs a few bars, not the rest of the run.
"""

from __future__ import annotations

import math

__all__ = [
    "ACCEPT",
    "DEFAULT_OUTLIER_MAX_HOLDS",
    "BarGate",
    "HOLD",
    "OutlierGuard",
    "REANCHOR",
    "REASON_EVENT_AFTER_INIT",
    "REASON_INIT_AFTER_CLOCK",
    "REASON_OUTLIER",
    "REASON_STALE",
    "timestamp_problem",
]

REASON_EVENT_AFTER_INIT = "ts_event_after_ts_init"
REASON_INIT_AFTER_CLOCK = "ts_init_after_clock"
REASON_STALE = "stale"
REASON_OUTLIER = "outlier"

# OutlierGuard.check verdicts (plain ints: asked once per bar)
ACCEPT = 0  # within the band
HOLD = 1  # an outlier: do not feed it, do not decide on it
REANCHOR = 2  # an outlier after max_holds held ones: accept it as the new level
_INF = math.inf

#: Consecutive outlier bars held before the guard accepts the new price level.
DEFAULT_OUTLIER_MAX_HOLDS = 3


def timestamp_problem(
    ts_event: int, ts_init: int, now: int, tolerance_ns: int, max_age_ns: int | None
) -> str | None:
    """The reason a bar's timestamps are implausible, or ``None`` when they are fine.

    All arguments are UTC nanoseconds (``max_age_ns`` None: no age limit).
    """
    if ts_event > ts_init + tolerance_ns:
        return REASON_EVENT_AFTER_INIT
    if ts_init > now + tolerance_ns:
        return REASON_INIT_AFTER_CLOCK
    if max_age_ns is not None and now - ts_event > max_age_ns:
        return REASON_STALE
    return None


class OutlierGuard:
    """Holds bars that move too far from the last accepted close.

    Parameters
    ----------
    max_move_pct : float or None
        Bound as a percentage of the last accepted close (``None``: no % bound).
    atr_multiple : float or None
        Bound as a multiple of the last accepted ATR, in price units (``None``: no ATR bound).
        With both set, the tighter one applies.
    max_holds : int
        Consecutive held bars after which the next outlier is accepted (the new level).

    The caller reports each accepted bar with :meth:`accepted` (its close and ATR; a NaN ATR,
    before warm-up, leaves only the % bound) and asks :meth:`check` before accepting one.
    """

    __slots__ = ("_atr_multiple", "_fraction", "_high", "_low", "held", "max_holds")

    def __init__(
        self,
        max_move_pct: float | None,
        atr_multiple: float | None,
        max_holds: int = DEFAULT_OUTLIER_MAX_HOLDS,
    ) -> None:
        if max_move_pct is not None and not max_move_pct > 0:
            raise ValueError(f"max_move_pct must be > 0 or None, was {max_move_pct!r}")
        if atr_multiple is not None and not atr_multiple > 0:
            raise ValueError(f"atr_multiple must be > 0 or None, was {atr_multiple!r}")
        if max_holds < 0:
            raise ValueError(f"max_holds must be >= 0, was {max_holds!r}")
        self._fraction = None if max_move_pct is None else max_move_pct / 100.0
        self._atr_multiple = atr_multiple
        self.max_holds = max_holds
        self.held = 0  # consecutive outliers held so far
        self._low = -math.inf  # accepted band for the next bar's low / high
        self._high = math.inf

    @property
    def enabled(self) -> bool:
        return self._fraction is not None or self._atr_multiple is not None

    @property
    def band(self) -> tuple[float, float]:
        """The ``(lowest low, highest high)`` the next bar may reach without being held."""
        return self._low, self._high

    def accepted(self, close: float, atr: float) -> None:
        """Re-centre the band on an accepted bar's close (``atr`` in price units, or NaN)."""
        self.held = 0
        bound = _INF if self._fraction is None else close * self._fraction
        if self._atr_multiple is not None and atr > 0.0:  # False for NaN
            by_atr = self._atr_multiple * atr
            if by_atr < bound:
                bound = by_atr
        self._low = close - bound
        self._high = close + bound

    def check(self, high: float, low: float) -> int:
        """:data:`ACCEPT`, :data:`HOLD` (counted in :attr:`held`) or :data:`REANCHOR`.

        A bar is held when its high or low leaves the band; after :attr:`max_holds` holds in a
        row the next outlier is accepted as the new level. Either way an accepted bar is then
        reported with :meth:`accepted`.
        """
        if self._low <= low and high <= self._high:
            return ACCEPT
        if self.held >= self.max_holds:
            return REANCHOR
        self.held += 1
        return HOLD

    def reset(self) -> None:
        """Forget the reference (the next bar is accepted and re-anchors the band)."""
        self.held = 0
        self._low = -math.inf
        self._high = math.inf


class BarGate:
    """The timestamp checks and the outlier guard in front of a strategy's feature engine.

    Parameters
    ----------
    time_tolerance_secs : float
        Allowed ``ts_event - ts_init`` and ``ts_init - clock`` (clock skew, adapter stamping).
    max_age_secs : float or None
        Oldest bar (clock - ``ts_event``) accepted; ``None`` for no limit.
    outlier_max_move_pct, outlier_atr_multiple : float or None
        :class:`OutlierGuard` bounds (both ``None``: no outlier guard).

    Per bar: :meth:`admit` (the reason to refuse it, or ``None``; :attr:`detail` says more),
    then, for a bar the feature engine accepted too, :meth:`accepted`.
    """

    __slots__ = ("_guard", "_max_age_ns", "_outliers_on", "_reanchor", "_tolerance_ns", "detail")

    def __init__(
        self,
        time_tolerance_secs: float,
        max_age_secs: float | None,
        outlier_max_move_pct: float | None,
        outlier_atr_multiple: float | None,
    ) -> None:
        if not time_tolerance_secs >= 0:
            raise ValueError(f"time_tolerance_secs must be >= 0, was {time_tolerance_secs!r}")
        if max_age_secs is not None and not max_age_secs > 0:
            raise ValueError(f"max_age_secs must be > 0 or None, was {max_age_secs!r}")
        self._tolerance_ns = round(time_tolerance_secs * 1e9)
        self._max_age_ns = None if max_age_secs is None else round(max_age_secs * 1e9)
        self._guard = OutlierGuard(outlier_max_move_pct, outlier_atr_multiple)
        self._outliers_on = self._guard.enabled
        self._reanchor = False
        self.detail = ""

    @property
    def outliers(self) -> OutlierGuard:
        return self._guard

    def reset(self) -> None:
        """Forget the last accepted bar (a fresh run: its first bar anchors the outlier band)."""
        self._guard.reset()
        self._reanchor = False
        self.detail = ""

    def admit(self, ts_event: int, ts_init: int, now: int, high: float, low: float) -> str | None:
        """The reason to refuse this bar (nothing is changed by a refusal), or ``None``."""
        tolerance, max_age = self._tolerance_ns, self._max_age_ns
        # The usual bar passes in one chained test (per bar: no call); the slow path names why.
        if not (
            ts_event <= ts_init + tolerance
            and ts_init <= now + tolerance
            and (max_age is None or now - ts_event <= max_age)
        ):
            problem = timestamp_problem(ts_event, ts_init, now, tolerance, max_age)
            if problem is not None:
                self.detail = f"ts_event={ts_event}, ts_init={ts_init}, clock={now}"
                return problem
        if self._outliers_on:
            guard = self._guard
            if guard._low <= low and high <= guard._high:  # ACCEPT, without the call
                self._reanchor = False
                return None
            verdict = guard.check(high, low)
            if verdict == HOLD:
                self.detail = f"high={high} low={low} outside {self._guard.band}"
                return REASON_OUTLIER
            self._reanchor = verdict == REANCHOR
        return None

    def accepted(self, close: float, atr: float) -> str | None:
        """Report an admitted bar the feature engine accepted (``atr`` in price units or NaN);
        returns a warning when it was accepted as a new price level after held outliers."""
        if not self._outliers_on:
            return None
        self._guard.accepted(close, atr)
        if self._reanchor:
            self._reanchor = False
            return (
                f"accepted a bar (close={close}) as a new price level after holding "
                f"{self._guard.max_holds} outliers in a row; check the feed"
            )
        return None
