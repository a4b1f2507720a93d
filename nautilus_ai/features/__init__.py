"""The feature vector: one definition, computed bar by bar or over whole arrays, equal.

>>> from nautilus_ai.features import FeatureSpec, FeatureEngine, compute_features
>>> spec = FeatureSpec()                      # v2: the bar set below + the tick block
>>> engine = FeatureEngine(spec)              # live / backtest: engine.update(ts, o, h, l, c, v)
>>> # research / training: X = compute_features(spec, ts, o, h, l, c, v)  -> (n, k) float64

Version 2 (the default) keeps v1's 28 bar features unchanged and adds five quote-tick features
(``spec.tick_names``), computed per tick on top of the last completed bar's features by
:class:`TickFeatureState` / :func:`compute_tick_features` (:mod:`nautilus_ai.features.ticks`).
``FeatureSpec(version=1)`` keeps the old definition and hash, so stored cards and logged runs
still rebuild their spec (:func:`nautilus_ai.features.spec.stored_spec`).

Both paths give the same numbers (the recursive filters bit for bit; only ``log`` may differ by
an ulp) and never look ahead: a row depends only on its bar and the bars before it.

Conventions
-----------
* Bars: ``ts_event_ns`` is the Nautilus bar timestamp, the bar **close** time in UTC ns. Every
  time feature uses it: a 1-minute bar 07:59-08:00 has ``ts`` = 08:00 and counts as 08:00.
* Indices count *accepted* bars from the first one (``i = 0``). A feature is NaN before its
  first index (``spec.defined_from[name]``) and never NaN after it; ``warm`` is 1.0 from
  ``spec.warmup_bars - 1`` (= 113 for the defaults, so ``warmup_bars`` = 114).
* Gaps (weekends, holidays, missing minutes) are not special: every filter continues across
  them, and the first true range after a gap includes the gap.
* Bad bars (a field that is not a real number - a bool, str, Decimal -, NaN/inf, price <= 0
  or outside [1e-30, 1e30] where the features would overflow, high < low, open/close outside
  [low, high], volume < 0, timestamp not after the last accepted one) raise
  :class:`InvalidBarError` (``.reason``); the engine is left unchanged.
  :func:`accepted_bars_mask` tells which rows of an array the engine would accept, so
  ``compute_features`` on those rows equals the engine's output.
* Recursions follow TradingView ``ta.*``: ``ta.ema(x, n)`` / ``ta.rma(x, n)`` are NaN for the
  first ``n - 1`` values, then the SMA of the first ``n`` values (summed left to right), then
  ``alpha * x + (1 - alpha) * prev`` with ``alpha = 2 / (n + 1)`` (EMA) or ``1 / n`` (RMA).
  ``ATR(n) = ta.rma(TR, n)``, ``TR_0 = high - low``,
  ``TR_i = max(high - low, |high - close[1]|, |low - close[1]|)`` (= ``ta.atr(n)``;
  PineTS writes the RMA step as ``(prev * (n - 1) + x) / n``, equal up to rounding).

Feature table (v1 defaults)
---------------------------
Pine names: ``atr = ta.atr(14)``, ``rng = high - low``; "from" is the first bar index (0-based)
at which the feature is defined (``spec.defined_from``).

=================  ===================================================================  =====
name               formula  /  Pine v6 equivalent                                       from
=================  ===================================================================  =====
ret_k (1, 5, 15)   log(close / close[k])                                                k
                   ``math.log(close / close[k])``
body_ratio         (close - open) / rng, 0 when rng == 0                                0
                   ``rng > 0 ? (close - open) / rng : 0.0``
upper_wick_ratio   (high - max(open, close)) / rng, 0 when rng == 0                     0
                   ``rng > 0 ? (high - math.max(open, close)) / rng : 0.0``
lower_wick_ratio   (min(open, close) - low) / rng, 0 when rng == 0                      0
                   ``rng > 0 ? (math.min(open, close) - low) / rng : 0.0``
range_atr          rng / ATR(14), 0 when ATR == 0                                       13
                   ``atr == 0 ? 0.0 : rng / atr``
rsi                RSI(14) / 100, Wilder (see below), in [0, 1]                         14
                   ``ta.rsi(close, 14) / 100``
macd_line          (EMA12 - EMA26) / close                                              25
                   ``[m, s, h] = ta.macd(close, 12, 26, 9)`` then ``m / close``
macd_signal        signal = EMA9 of the MACD line; signal / close                       33
                   ``s / close``
macd_hist          (line - signal) / close                                              33
                   ``h / close``
bb_pct_b           (close - lower) / (upper - lower); 0.5 when flat (below)             19
                   ``[b, u, l] = ta.bb(close, 20, 2.0)``, ``w = u - l``,
                   ``w <= 1e-9 * b ? 0.5 : (close - l) / w``
bb_bandwidth       (upper - lower) / basis; 0 when flat                                 19
                   ``w <= 1e-9 * b ? 0.0 : w / b``
atr_close          ATR(14) / close                                                      13
                   ``atr / close``
ema20_dist_atr     (close - EMA20) / ATR(14), 0 when ATR == 0                           19
                   ``atr == 0 ? 0.0 : (close - ta.ema(close, 20)) / atr``
ema50_dist_atr     (close - EMA50) / ATR(14), 0 when ATR == 0                           49
                   ``atr == 0 ? 0.0 : (close - ta.ema(close, 50)) / atr``
hour_sin/_cos      sin/cos(2 pi m / 1440), m = UTC minute of the day of the close time  0
                   ``m = hour(time_close, "UTC") * 60 + minute(time_close, "UTC")``,
                   ``math.sin(2 * math.pi * m / 1440)``
dow_sin/_cos       sin/cos(2 pi d / 7), d = UTC weekday of the close time, Monday = 0   0
                   ``d = (dayofweek(time_close, "UTC") + 5) % 7``
session_sydney     local time of the close in [07:00, 16:00), Australia/Sydney          0
session_tokyo      local time of the close in [09:00, 18:00), Asia/Tokyo                0
session_london     local time of the close in [08:00, 17:00), Europe/London             0
session_new_york   local time of the close in [08:00, 17:00), America/New_York          0
                   ``lm = hour(time_close, tz) * 60 + minute(time_close, tz)``,
                   ``lm >= start * 60 and lm < end * 60 ? 1.0 : 0.0``
session_overlap    session_london AND session_new_york (1.0 / 0.0)                      0
vol_pct_rank       #{j in 1..100 : ATR[j] <= ATR} / 100                                 113
                   ``ta.percentrank(atr, 100) / 100``, NaN before bar 113
vol_regime         -1 if vol_pct_rank < 0.25, +1 if > 0.75, else 0                      113
                   ``r < 0.25 ? -1.0 : r > 0.75 ? 1.0 : 0.0``
warm               1.0 once every other feature is defined, else 0.0                    0
                   ``bar_index >= 113 ? 1.0 : 0.0``
=================  ===================================================================  =====

Details and edge cases
----------------------
* ``rsi``: average gain ``G`` and loss ``L`` are RMAs of ``max(close - close[1], 0)`` and
  ``max(close[1] - close, 0)``, seeded with the simple averages of the first 14 changes (bars
  1..14), so the first value is at bar 14. ``rsi = 1 - 1 / (1 + G / L)``; ``rsi = 1`` when
  ``L == 0`` (also when ``G == 0`` too), hence 0 when ``G == 0 < L``: TradingView's
  ``down == 0 ? 100 : up == 0 ? 0 : ...`` and PineTS's ``avgLoss === 0 ? 100 : ...``.
* ``macd_signal`` is an SMA-seeded EMA over the MACD line's defined values (bars 25..33 seed it).
* Bollinger: ``basis`` = SMA20 of close, summed left to right over the window; ``stdev`` is the
  population standard deviation computed in two passes (``sqrt(sum((x - basis)^2) / 20)``, no
  running sum of squares, no drift); ``upper/lower = basis +/- 2 * stdev``. A window whose band
  width ``upper - lower`` is ``<= 1e-9 * basis`` (``bb_flat_tolerance``) is *flat*: a constant
  window, where only rounding noise is left. PineTS keeps a running sum for the basis, so its flat
  width is ~1e-13, not 0: the Pine export must apply the same tolerance.
* ``vol_pct_rank``: the share of the previous 100 ATR values that are ``<=`` the current one
  (``ta.percentrank``), defined once 100 previous ATRs exist (bar 13 + 100 = 113). PineTS divides
  by the count of non-NaN previous values and starts at bar 100, so mask it to NaN before 113.
* Sessions: the city's local wall-clock time (IANA zone, DST included) of the bar close time;
  start inclusive, end exclusive; ``start > end`` wraps past midnight. Hours are spec parameters
  (``session_<city>_hours``). The UTC offsets come from zoneinfo, cached per stretch between DST
  transitions (see :mod:`nautilus_ai.features.clock`), identically in both paths.
* Volume is validated but feeds no v1 feature (HistData FX volume is always 0).

Reproducing these in Pine (checked against PineTS 0.9.34 on 30,000 real EUR/USD bars)
-----------------------------------------------------------------------------------
* The table's Pine expressions, run as written, match to ~1e-10 except where the price scale
  bites: PineTS rounds every ``ta.*`` result and series value to 10 decimals, and EUR/USD's ATR
  is ~1e-4, so ATR-normalised features are off by up to ~5e-6, ``bb_pct_b`` by ~6e-7, and the
  rounding ties flip ``vol_pct_rank`` by 0.01 on some bars.
* Compute in scaled prices and all of them agree to <= 1e-10 (``vol_pct_rank`` exactly): e.g.
  ``k = 100000.0``, ``tr = na(close[1]) ? (high - low) * k : math.max(...)`` on ``high * k`` etc.,
  ``atr = ta.rma(tr, 14)``, ``ta.bb(close * k, 20, 2.0)``, ``ta.ema(close * k, n)``; every ratio
  is scale-free, and ``atr_close = atr / (close * k)``.
* Mask ``vol_pct_rank`` / ``vol_regime`` / ``warm`` with ``bar_index >= 113`` (defaults).
* Calendar and session features matched PineTS exactly (``hour``/``minute``/``dayofweek`` of
  ``time_close`` in the zone).
"""

from nautilus_ai.features.engine import FeatureEngine
from nautilus_ai.features.errors import InvalidBarError
from nautilus_ai.features.spec import FeatureSpec
from nautilus_ai.features.ticks import TickFeatureState, TickVectorSpec, compute_tick_features
from nautilus_ai.features.validation import accepted_bars_mask
from nautilus_ai.features.vectorised import compute_features

__all__ = [
    "FeatureEngine",
    "FeatureSpec",
    "InvalidBarError",
    "TickFeatureState",
    "TickVectorSpec",
    "accepted_bars_mask",
    "compute_features",
    "compute_tick_features",
]
