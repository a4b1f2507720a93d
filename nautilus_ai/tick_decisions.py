"""Decisions on quote ticks (issue 15): the pure core of the strategy's tick mode.

No Nautilus import. :class:`TickDecider` is fed the strategy's completed bars (their feature
rows) and every quote tick, and decides on the ticks its cadence selects, from the last completed
bar's features plus the tick features of spec v2 (:mod:`nautilus_ai.features.ticks`).

Cadence (:class:`TickModeConfig`): a tick is *eligible* once the last completed bar is warm
(``warm == 1``); eligible ticks are counted from the first one. A decision is made on eligible
tick 1, and then on the first eligible tick that is both at least ``every_ticks`` eligible ticks
after the last decision and (if ``every_ms`` is set) at least ``every_ms`` after its time:
``every_ticks=1`` decides on every quote tick, ``every_ticks=n`` on every n-th, ``every_ms=k``
at most once per k ms.

Rule (:func:`tick_rule`), with ``atr = atr_close`` of the last completed bar: hold unless
``atr > 0`` and ``tick_spread <= max_spread_atr * atr``; buy when ``tick_mid_ret >=
entry_atr * atr``, sell when ``<= -entry_atr * atr``; confidence
``min(1, 0.5 * |tick_mid_ret| / (entry_atr * atr))`` (0.5 at the threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nautilus_ai.features.spec import FeatureSpec
from nautilus_ai.features.ticks import TickFeatureState

__all__ = ["BUY", "HOLD", "SELL", "TickDecider", "TickModeConfig", "tick_rule"]

# Action codes of the recorded decisions (compact: one int per decision tick).
HOLD, BUY, SELL = 0, 1, -1


@dataclass(frozen=True)
class TickModeConfig:
    """When and how the strategy decides on quote ticks (``AIPatternConfig.tick_mode``).

    Parameters
    ----------
    every_ticks : int
        Decide on every n-th eligible quote tick (1 = every tick), >= 1.
    every_ms : float, optional
        Also wait at least this many milliseconds after the last decision (> 0).
    entry_atr : float
        Mid move since the bar's first tick, in ATR(14) of the last bar, that makes a signal.
    max_spread_atr : float
        Hold while the spread is wider than this many ATR.
    """

    every_ticks: int = 1
    every_ms: float | None = None
    entry_atr: float = 0.5
    max_spread_atr: float = 0.5

    def __post_init__(self) -> None:
        if isinstance(self.every_ticks, bool) or not isinstance(self.every_ticks, int):
            raise ValueError(f"every_ticks: expected an int, got {self.every_ticks!r}")
        if self.every_ticks < 1:
            raise ValueError(f"every_ticks: must be >= 1, got {self.every_ticks}")
        if self.every_ms is not None and not (
            isinstance(self.every_ms, int | float) and math.isfinite(self.every_ms)
        ):
            raise ValueError(f"every_ms: expected a number, got {self.every_ms!r}")
        if self.every_ms is not None and self.every_ms <= 0:
            raise ValueError(f"every_ms: must be > 0, got {self.every_ms}")
        for name in ("entry_atr", "max_spread_atr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"{name}: expected a number > 0, got {value!r}")


def tick_rule(
    atr_close: float, mid_ret: float, spread: float, config: TickModeConfig
) -> tuple[int, float]:
    """``(action code, confidence)`` of one decision tick (see the module docstring)."""
    if not atr_close > 0.0 or spread > config.max_spread_atr * atr_close:
        return HOLD, 0.0
    threshold = config.entry_atr * atr_close
    if mid_ret >= threshold:
        return BUY, min(1.0, 0.5 * mid_ret / threshold)
    if mid_ret <= -threshold:
        return SELL, min(1.0, -0.5 * mid_ret / threshold)
    return HOLD, 0.0


class TickDecider:
    """Incremental tick decisions: :meth:`on_bar` per completed bar, :meth:`on_tick` per quote.

    Decisions are kept as parallel lists (``ts``, ``actions``, ``confidences``, ``bar_ts``)
    and, when ``keep_features`` is set, the decision vectors (``spec.tick_vector_names``).

    Raises
    ------
    ValueError
        ``spec`` has no tick features (version 1).
    """

    def __init__(
        self, spec: FeatureSpec, config: TickModeConfig, *, keep_features: bool = False
    ) -> None:
        if not spec.tick_names:
            raise ValueError(
                f"tick_mode needs feature spec version >= 2 (tick features); got version "
                f"{spec.version}"
            )
        self.spec = spec
        self.config = config
        self._i_atr = spec.index("atr_close")
        self._i_warm = spec.index("warm")
        self._every_ticks = config.every_ticks
        self._every_ns = -1 if config.every_ms is None else round(config.every_ms * 1e6)
        self._keep = keep_features
        self._state = TickFeatureState()
        self._pending_ts = -1  # a bar delivered but not yet complete for the ticks (see on_bar)
        self._pending_row: np.ndarray | None = None
        self._row: np.ndarray | None = None
        self._atr = math.nan
        self._bar_ts = -1
        self._since = 0  # eligible ticks since the last decision
        self._last_ns = -1
        self._first = True
        self.ticks_seen = 0
        self.ts: list[int] = []
        self.actions: list[int] = []
        self.confidences: list[float] = []
        self.bar_ts: list[int] = []
        self.features: list[np.ndarray] = []

    def reset(self) -> None:
        """Forget bars, ticks and decisions."""
        self._state.reset()
        self._pending_ts = -1
        self._pending_row = None
        self._row = None
        self._atr = math.nan
        self._bar_ts = -1
        self._since = 0
        self._last_ns = -1
        self._first = True
        self.ticks_seen = 0
        for kept in (self.ts, self.actions, self.confidences, self.bar_ts, self.features):
            kept.clear()

    def on_bar(self, ts_event_ns: int, row: np.ndarray) -> None:
        """A bar closing at ``ts_event_ns`` with feature row ``row`` was delivered.

        It takes effect on the first tick strictly after ``ts_event_ns`` (the tick features'
        completion rule), so a tick at the bar's close time gets the same answer whether the
        engine hands over the bar or the tick first.
        """
        if self._pending_row is not None:
            self._apply(self._pending_ts, self._pending_row)
        self._pending_ts = ts_event_ns
        self._pending_row = row

    def _apply(self, ts_event_ns: int, row: np.ndarray) -> None:
        self._pending_row = None
        self._state.on_bar(ts_event_ns)
        self._bar_ts = ts_event_ns
        warm = row[self._i_warm] == 1.0
        self._row = row if warm else None
        self._atr = float(row[self._i_atr]) if warm else math.nan

    def on_tick(self, ts: int, bid: float, ask: float, bid_size: float, ask_size: float) -> bool:
        """Feed one quote tick; True when it was a decision tick (the decision is recorded)."""
        self.ticks_seen += 1
        if self._pending_row is not None and ts > self._pending_ts:
            self._apply(self._pending_ts, self._pending_row)
        state = self._state
        if self._row is None:
            state.update(ts, bid, ask, bid_size, ask_size)  # keeps the bar's tick count exact
            return False
        self._since += 1
        due = self._first or self._since >= self._every_ticks
        if due and self._every_ns > 0 and not self._first:
            due = ts - self._last_ns >= self._every_ns
        if not due:
            state.update(ts, bid, ask, bid_size, ask_size)
            return False
        spread, mid_ret, elapsed, count, imbalance = state.update(ts, bid, ask, bid_size, ask_size)
        action, confidence = tick_rule(self._atr, mid_ret, spread, self.config)
        self._first = False
        self._since = 0
        self._last_ns = ts
        self.ts.append(ts)
        self.actions.append(action)
        self.confidences.append(confidence)
        self.bar_ts.append(self._bar_ts)
        if self._keep:
            self.features.append(
                np.concatenate((self._row, (spread, mid_ret, elapsed, count, imbalance)))
            )
        return True
