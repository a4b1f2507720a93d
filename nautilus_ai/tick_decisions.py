"""Decisions on quote ticks (issue 15): the pure core of the strategy's tick mode.

No Nautilus import. :class:`TickDecider` is fed the strategy's completed bars (their feature
rows) and every quote tick, and says on which ticks to decide, handing over the decision vector:
the last completed bar's features plus the tick features of spec v2
(:mod:`nautilus_ai.features.ticks`; columns ``spec.tick_vector_names``, the
:class:`~nautilus_ai.features.ticks.TickVectorSpec` a tick predictor is built for).
:func:`decide_on_tick` then takes the same path as a bar decision: the strategy's predictor
(any backend; a fault becomes a hold that says why) and
:meth:`~nautilus_ai.decision.DecisionCore.decide` (policy, sizer, risk controls, statistics),
recorded as made on a tick (``DecisionRecord.on_tick``, in ``core.tick_decisions``).

Cadence (:class:`TickModeConfig`): a tick is *eligible* once the last completed bar is warm
(``warm == 1``); eligible ticks are counted from the first one. A decision is made on eligible
tick 1, and then on the first eligible tick that is both at least ``every_ticks`` eligible ticks
after the last decision and (if ``every_ms`` is set) at least ``every_ms`` after its time:
``every_ticks=1`` decides on every quote tick, ``every_ticks=n`` on every n-th, ``every_ms=k``
at most once per k ms.

Stale bar features: a quote that falls in a bar's period means that bar is due at its close.
When it has not been delivered ``max_bar_delay_ms`` after its close (default: one bar period),
the bar feed is behind (stopped, or its bars refused) and the last bar's features are stale:
from then on ticks are *held* (not eligible, no decision) until the next bar arrives. A quiet
market (no quote in a period) makes no bar due, so a gap in quotes never holds. Needs the bar
period (``bar_ns``; :func:`bar_period_ns` of a time-bar type); without one (tick, volume or
monthly bars) nothing is held. The vectorised twin holds the same ticks.

The decision's price is the tick's mid (sizing and the protective exits' distances: ATR =
``atr_close`` of the last bar x mid).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from nautilus_ai.bar_types import bar_period_ns
from nautilus_ai.decision import AccountView, Decision, DecisionCore
from nautilus_ai.features.spec import FeatureSpec
from nautilus_ai.features.ticks import TickFeatureState, TickVectorSpec, compute_tick_features
from nautilus_ai.models.base import Action, MarketContext, Prediction, Predictor, safe_predict

__all__ = [
    "HELD_STALE",
    "TickDecider",
    "TickModeConfig",
    "TickRows",
    "TickVectorSpec",
    "bar_period_ns",
    "decide_on_tick",
    "tick_decision_rows",
    "tick_problem",
]

_BUY, _SELL = Action.BUY, Action.SELL

#: Why a quote tick is refused (see :func:`tick_problem`).
TICK_NON_FINITE = "non_finite"
TICK_NON_POSITIVE_PRICE = "non_positive_price"
TICK_OUT_OF_ORDER = "out_of_order"
TICK_OUTLIER = "outlier"

#: A precomputed quote's decision row when it is held because a due bar is late.
HELD_STALE = -2


def tick_problem(
    ts: int, last_ts: int, bid: float, ask: float, low: float, high: float
) -> str | None:
    """The reason to refuse a quote tick before it reaches the tick features, or ``None``.

    A bid or ask that is NaN / infinite or not > 0 (a feed's "no quote" placeholder), a tick
    stamped before the last accepted one (``last_ts``), or a mid outside ``[low, high]`` (the
    strategy's outlier band around the last accepted bar close; unbounded when off). A crossed
    quote (bid > ask) is kept: FXCM sends them ~10 % of the time."""
    mid = (bid + ask) / 2.0
    if 0.0 < bid < math.inf and 0.0 < ask < math.inf and ts >= last_ts and low <= mid <= high:
        return None
    if not (math.isfinite(bid) and math.isfinite(ask)):
        return TICK_NON_FINITE
    if bid <= 0.0 or ask <= 0.0:
        return TICK_NON_POSITIVE_PRICE
    if ts < last_ts:
        return TICK_OUT_OF_ORDER
    return TICK_OUTLIER


MAX_BAR_DELAY_MS = 365 * 86_400_000
"""The longest ``max_bar_delay_ms`` (a year): a longer one means never hold."""


@dataclass(frozen=True)
class TickModeConfig:
    """When the strategy decides on quote ticks (``AIPatternConfig.tick_mode``); what it
    decides is the strategy's ``predictor`` (e.g. ``{"kind": "tick_rule"}``).

    Parameters
    ----------
    every_ticks : int
        Decide on every n-th eligible quote tick (1 = every tick), >= 1.
    every_ms : float, optional
        Also wait at least this many milliseconds after the last decision (> 0).
    max_bar_delay_ms : float, optional
        Hold (no decision) once a due bar is this many milliseconds late: quotes fell in its
        period but it was not delivered (> 0; default: one bar period). See the module notes.
    """

    every_ticks: int = 1
    every_ms: float | None = None
    max_bar_delay_ms: float | None = None

    def __post_init__(self) -> None:
        every: object = self.every_ticks
        if isinstance(every, float) and every.is_integer():  # 2.0 is 2, as in every config
            object.__setattr__(self, "every_ticks", int(every))
        if isinstance(self.every_ticks, bool) or not isinstance(self.every_ticks, int):
            raise ValueError(f"every_ticks: expected an int, got {self.every_ticks!r}")
        if self.every_ticks < 1:
            raise ValueError(f"every_ticks: must be >= 1, got {self.every_ticks}")
        for name in ("every_ms", "max_bar_delay_ms"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not (
                isinstance(value, int | float) and math.isfinite(value)
            ):
                raise ValueError(f"{name}: expected a number, got {value!r}")
            if value <= 0:
                raise ValueError(f"{name}: must be > 0, got {value}")
        if self.max_bar_delay_ms is not None and self.max_bar_delay_ms > MAX_BAR_DELAY_MS:
            # Beyond, the vectorised twin's int64 'due + delay' wrapped (8e12 ms: every tick
            # held in training rows and precomputed backtests, none live) or overflowed (1e15).
            raise ValueError(
                f"max_bar_delay_ms: must be <= {MAX_BAR_DELAY_MS:_} (a year), got "
                f"{self.max_bar_delay_ms}"
            )

    def stale_after_ns(self, bar_ns: int | None) -> int | None:
        """How late a due bar may be before ticks are held (ns), for bars of period ``bar_ns``;
        ``None``: never held (no period)."""
        if bar_ns is None:
            return None
        return bar_ns if self.max_bar_delay_ms is None else round(self.max_bar_delay_ms * 1e6)


def decide_on_tick(
    core: DecisionCore,
    predictor: Predictor,
    vector: np.ndarray,
    ts: int,
    mid: float,
    context: MarketContext,
    account: AccountView,
    i_atr: int,
    i_vol_regime: int,
    *,
    position_open: bool = True,
) -> tuple[Prediction, Decision | None]:
    """One tick decision: the predictor on ``vector`` (a fault: a hold naming it), then the
    core, recorded as made on a tick at ``ts`` with price ``mid``.

    ``position_open`` (whether the strategy holds a position; ``True`` when unsure) lets a tick
    with nothing to do (:meth:`DecisionCore.is_quiet`) skip the account and the policy
    (:meth:`DecisionCore.decide_quiet`: the same record ``decide`` would make); the decision
    is then ``None``."""
    prediction = safe_predict(predictor, vector, context)
    action = prediction.action
    sign = 1 if action is _BUY else (-1 if action is _SELL else 0)
    confidence = prediction.confidence
    if core.decide_quiet(
        ts, sign, confidence, prediction.risk_score, prediction.model_id, prediction.reason,
        position_open, error=prediction.error, on_tick=True,
    ):  # fmt: skip
        return prediction, None
    decision = core.decide(
        ts, mid, float(vector[i_atr]), float(vector[i_vol_regime]), sign, confidence,
        prediction.risk_score, prediction.model_id, prediction.reason, account,
        error=prediction.error, on_tick=True,
    )  # fmt: skip
    return prediction, decision


class TickDecider:
    """Incremental tick cadence and features: :meth:`on_bar` per completed bar,
    :meth:`on_tick` per quote, which returns the decision vector on a decision tick.

    The decision ticks are kept as parallel lists (``ts``, and ``bar_ts``: the close time of the
    bar whose features the decision saw) and, when ``keep_features`` is set, their vectors
    (``features``). ``bar_ns`` is the bars' period (ns; ``None``: no staleness check): a tick
    after a due bar is ``config.max_bar_delay_ms`` late is held, counted in ``ticks_stale`` and
    handed to ``on_stale(tick_ts, bar_ts, due_ns)`` (the close time of the missing bar).

    Raises
    ------
    ValueError
        ``spec`` has no tick features (version 1).
    """

    def __init__(
        self,
        spec: FeatureSpec,
        config: TickModeConfig,
        *,
        bar_ns: int | None = None,
        keep_features: bool = False,
        on_stale: Callable[[int, int, int], None] | None = None,
    ) -> None:
        self.vector_spec = TickVectorSpec(spec)  # refuses a v1 spec
        self.spec = spec
        self.config = config
        self.bar_ns = bar_ns
        self._grace = config.stale_after_ns(bar_ns)
        self.on_stale = on_stale
        self._i_warm = spec.index("warm")
        self._k = len(spec.names)
        self._every_ticks = config.every_ticks
        self._every_ns = -1 if config.every_ms is None else round(config.every_ms * 1e6)
        self._keep = keep_features
        self._state = TickFeatureState()
        self._pending_ts = -1  # a bar delivered but not yet complete for the ticks (see on_bar)
        self._pending_row: np.ndarray | None = None
        self._row: list[float] | None = None
        self._bar_ts = -1
        self._since = 0  # eligible ticks since the last decision
        self._last_ns = -1
        self._first = True
        self._due = -1  # close time of the bar due after the last one (-1: none due yet)
        self._stale_from = _NEVER  # ticks after this time are held (a due bar is late)
        self.ticks_seen = 0
        self.ticks_stale = 0
        self.ts: list[int] = []
        self.bar_ts: list[int] = []
        self.features: list[np.ndarray] = []

    def reset(self) -> None:
        """Forget bars, ticks and decisions."""
        self._state.reset()
        self._pending_ts = -1
        self._pending_row = None
        self._row = None
        self._bar_ts = -1
        self._since = 0
        self._last_ns = -1
        self._first = True
        self._due = -1
        self._stale_from = _NEVER
        self.ticks_seen = 0
        self.ticks_stale = 0
        for kept in (self.ts, self.bar_ts, self.features):
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
        self._due = -1
        self._stale_from = _NEVER
        # The vector's bar block as Python floats (None until the bars are warm).
        self._row = row.tolist() if row[self._i_warm] == 1.0 else None

    def on_tick(
        self, ts: int, bid: float, ask: float, bid_size: float, ask_size: float
    ) -> np.ndarray | None:
        """Feed one quote tick; on a decision tick, its decision vector (a new array, columns
        ``spec.tick_vector_names``), else ``None``."""
        row = self.on_tick_row(ts, bid, ask, bid_size, ask_size)
        if row is None:
            return None
        return self.features[-1] if self._keep else np.array(row)

    def on_tick_row(
        self, ts: int, bid: float, ask: float, bid_size: float, ask_size: float
    ) -> list[float] | None:
        """:meth:`on_tick` with the decision vector as a new list of Python floats (the same
        values): the tick mode's per-tick path, which hands it to a plain-signal predictor."""
        self.ticks_seen += 1
        if self._pending_row is not None and ts > self._pending_ts:
            self._apply(self._pending_ts, self._pending_row)
        state = self._state
        if self._row is None:
            state.update(ts, bid, ask, bid_size, ask_size)  # keeps the bar's tick count exact
            return None
        check = ts > self._stale_from or (self._due < 0 and self._grace is not None)
        if check and self._stale(ts):  # a due bar is late: hold
            state.update(ts, bid, ask, bid_size, ask_size)
            return None
        self._since += 1
        due = self._first or self._since >= self._every_ticks
        if due and self._every_ns > 0 and not self._first:
            due = ts - self._last_ns >= self._every_ns
        if not due:
            state.update(ts, bid, ask, bid_size, ask_size)
            return None
        row = self._row + list(state.update(ts, bid, ask, bid_size, ask_size))
        self._first = False
        self._since = 0
        self._last_ns = ts
        self.ts.append(ts)
        self.bar_ts.append(self._bar_ts)
        if self._keep:
            self.features.append(np.array(row))
        return row

    def _stale(self, ts: int) -> bool:
        """Whether tick ``ts`` is held: the first tick after the bar makes the next bar due."""
        bar_ts = self._bar_ts
        if self._due < 0:
            if ts <= bar_ts:
                return False
            assert self.bar_ns is not None and self._grace is not None
            self._due = _due_close(bar_ts, ts, self.bar_ns)
            self._stale_from = self._due + self._grace
            if ts <= self._stale_from:
                return False
        self.ticks_stale += 1
        if self.on_stale is not None:
            self.on_stale(ts, bar_ts, self._due)
        return True


_NEVER = 2**63 - 1


def _due_close(bar_ts: Any, first_ts: Any, bar_ns: int) -> Any:
    """Close time of the bar that holds the first quote ``first_ts`` after the bar closing at
    ``bar_ts`` (bars on a ``bar_ns`` grid through ``bar_ts``); ints or int64 arrays alike."""
    return bar_ts + -(-(first_ts - bar_ts) // bar_ns) * bar_ns


class TickRows(NamedTuple):
    """The decision ticks of a tick series, as :func:`tick_decision_rows` finds them."""

    ts: np.ndarray  #: int64, the decision ticks' times
    features: np.ndarray  #: (n, len(tick_vector_names)) float64: their decision vectors
    mid: np.ndarray  #: float64, their mids
    tick_index: np.ndarray  #: int64, their positions in the tick arrays
    bar_row: np.ndarray  #: int64, the row of the bar features each decision saw
    #: int64, positions in the tick arrays of the ticks held on stale bar features (not per row)
    held_stale: np.ndarray


def tick_decision_rows(
    config: TickModeConfig,
    bar_ts: np.ndarray,
    bar_features: np.ndarray,
    spec: FeatureSpec,
    ts: np.ndarray,
    bid: np.ndarray,
    ask: np.ndarray,
    bid_size: np.ndarray,
    ask_size: np.ndarray,
    *,
    bar_ns: int | None = None,
) -> TickRows:
    """The vectorised twin of :class:`TickDecider` over whole arrays: the same decision ticks
    (cadence, warm bars, ticks held on stale bar features for bars of period ``bar_ns``) and
    the same vectors, bit for bit, from
    :func:`~nautilus_ai.features.ticks.compute_tick_features` (a training set over ticks).

    ``bar_features`` are the completed bars' rows (``spec.names``, e.g. ``compute_features``
    over the accepted bars closing at ``bar_ts``), ``ts`` ... the ticks in time order.
    """
    tick_features, bar_row = compute_tick_features(bar_ts, ts, bid, ask, bid_size, ask_size)
    warm = bar_features[:, spec.index("warm")] == 1.0
    usable = (bar_row >= 0) & (warm[np.maximum(bar_row, 0)] if warm.size else False)
    grace = config.stale_after_ns(bar_ns)
    held = np.zeros(0, dtype=np.int64)
    if grace is not None and usable.any():
        assert bar_ns is not None
        t = np.asarray(ts, dtype=np.int64)
        closes = np.asarray(bar_ts, dtype=np.int64)[np.maximum(bar_row, 0)]
        first = t[np.searchsorted(bar_row, bar_row, side="left")]  # first tick after the bar
        due = _due_close(closes, first, bar_ns)
        stale = usable & (t > due + grace)
        held = np.flatnonzero(stale)
        usable &= ~stale
    eligible = np.flatnonzero(usable)
    every_ticks = config.every_ticks
    if config.every_ms is None:
        chosen = eligible[::every_ticks]
    else:  # path-dependent: walk the eligible ticks as the incremental decider does
        every_ns = round(config.every_ms * 1e6)
        picked: list[int] = []
        since, last = 0, -1
        times = np.asarray(ts, dtype=np.int64)[eligible].tolist()
        for position, t in enumerate(times):
            since += 1
            if not picked or (since >= every_ticks and t - last >= every_ns):
                picked.append(position)
                since, last = 0, t
        chosen = eligible[np.asarray(picked, dtype=np.int64)]
    rows = bar_row[chosen]
    vectors = np.concatenate((bar_features[rows], tick_features[chosen]), axis=1)
    mid = (
        np.asarray(bid, dtype=np.float64)[chosen] + np.asarray(ask, dtype=np.float64)[chosen]
    ) / 2.0
    return TickRows(np.asarray(ts, dtype=np.int64)[chosen], vectors, mid, chosen, rows, held)
