"""``FeatureEngine``: the feature vector bar by bar, in constant pure-Python work per bar.

One tight :meth:`FeatureEngine.update` method over plain floats: state in slots, rolling windows
in deques, the percentile rank on a sorted list (``bisect``), calendar features from lookup
tables (no ``datetime``, no numpy per bar). The work per bar depends on the window lengths of the
spec (the Bollinger window is summed twice, the ATR rank window bisected), never on how many bars
came before. Every recursion performs the same floating-point operations, in
the same order, as the vectorised twin (:func:`~nautilus_ai.features.vectorised.compute_features`)
so both agree bit for bit on the filters (see ``tests/unit/features``).
"""

from __future__ import annotations

import sys
from bisect import bisect_left, bisect_right, insort
from collections import deque
from math import inf, log, nan, sqrt

from nautilus_ai.features.clock import DOW_COS, DOW_SIN, NS_PER_MINUTE, MinuteRow, clock_interval
from nautilus_ai.features.spec import FeatureSpec
from nautilus_ai.features.validation import MAX_PRICE, MIN_PRICE, check_bar
from nautilus_ai.timefmt import MAX_NS

__all__ = ["FeatureEngine"]

# Builtin sum() adds floats left to right up to CPython 3.11 (3.12 switched to compensated
# summation); the vectorised twin adds left to right, so use sum() only where it does the same.
_SUM_IS_SEQUENTIAL = sys.version_info < (3, 12)


class FeatureEngine:
    """Incremental feature computation for one instrument's bar stream.

    Parameters
    ----------
    spec : FeatureSpec
        The feature definition (its :attr:`~FeatureSpec.names` give the column order).

    Notes
    -----
    Feed bars in time order with :meth:`update`. A bad bar raises
    :class:`~nautilus_ai.features.errors.InvalidBarError` and leaves the engine exactly as it was,
    so the next good bar continues as if the bad one never came. Weekend and holiday gaps are not
    special: every indicator simply continues across them.
    """

    # State, then constants derived from the spec (read into locals once per bar).
    __slots__ = (
        "_atr",
        "_atr_alpha",
        "_atr_beta",
        "_atr_period",
        "_atr_sum",
        "_bb_mult",
        "_bb_period",
        "_bb_tolerance",
        "_bb_window",
        "_clock_hi",
        "_clock_lo",
        "_clock_rows",
        "_closes",
        "_dist_firsts",
        "_dist_steady",
        "_ema_alphas",
        "_ema_betas",
        "_ema_coefs",
        "_ema_firsts",
        "_ema_periods",
        "_ema_steady",
        "_ema_sums",
        "_ema_values",
        "_gain_avg",
        "_gain_sum",
        "_lag_indices",
        "_lags",
        "_last_ts",
        "_loss_avg",
        "_loss_sum",
        "_max_lag",
        "_n",
        "_n_dist",
        "_prev_close",
        "_rank_first",
        "_rank_sorted",
        "_rank_window",
        "_rank_window_len",
        "_regime_high",
        "_regime_low",
        "_rsi_alpha",
        "_rsi_beta",
        "_rsi_period",
        "_signal",
        "_signal_alpha",
        "_signal_beta",
        "_signal_first",
        "_signal_period",
        "_signal_sum",
        "_slow_first",
        "_warm_index",
        "spec",
    )

    def __init__(self, spec: FeatureSpec) -> None:
        if not isinstance(spec, FeatureSpec):
            raise TypeError(f"spec must be a FeatureSpec, got {type(spec).__name__}")
        self.spec = spec
        self._lags = spec.return_lags
        self._max_lag = max(spec.return_lags)
        self._lag_indices = tuple(-k for k in spec.return_lags)
        self._atr_period = spec.atr_period
        self._atr_alpha = 1.0 / spec.atr_period
        self._atr_beta = 1.0 - self._atr_alpha
        self._rsi_period = spec.rsi_period
        self._rsi_alpha = 1.0 / spec.rsi_period
        self._rsi_beta = 1.0 - self._rsi_alpha
        # EMAs of close: MACD fast, MACD slow, then each ema{n}_dist_atr period.
        self._ema_periods = (spec.macd_fast, spec.macd_slow, *spec.ema_periods)
        self._ema_alphas = tuple(2.0 / (p + 1) for p in self._ema_periods)
        self._ema_betas = tuple(1.0 - a for a in self._ema_alphas)
        self._ema_coefs = tuple(zip(self._ema_alphas, self._ema_betas, strict=True))
        self._ema_firsts = tuple(p - 1 for p in self._ema_periods)
        self._ema_steady = max(self._ema_firsts)
        self._n_dist = len(spec.ema_periods)
        self._dist_firsts = tuple(max(p - 1, spec.atr_period - 1) for p in spec.ema_periods)
        self._dist_steady = max(self._dist_firsts)
        self._slow_first = spec.macd_slow - 1
        self._signal_period = spec.macd_signal
        self._signal_alpha = 2.0 / (spec.macd_signal + 1)
        self._signal_beta = 1.0 - self._signal_alpha
        self._signal_first = self._slow_first + spec.macd_signal - 1
        self._bb_period = spec.bb_period
        self._bb_mult = spec.bb_mult
        self._bb_tolerance = spec.bb_flat_tolerance
        self._rank_window_len = spec.vol_rank_window
        self._rank_first = spec.atr_period - 1 + spec.vol_rank_window
        self._regime_low = spec.vol_regime_low
        self._regime_high = spec.vol_regime_high
        self._warm_index = spec.warmup_bars - 1
        self.reset()

    def reset(self) -> None:
        """Forget every bar: the engine is as new (same spec)."""
        self._n = 0
        self._last_ts = -1
        self._prev_close = nan
        self._closes: deque[float] = deque(maxlen=self._max_lag)
        self._atr = nan
        self._atr_sum = 0.0
        self._gain_avg = nan
        self._loss_avg = nan
        self._gain_sum = 0.0
        self._loss_sum = 0.0
        self._ema_values = [nan] * len(self._ema_periods)
        self._ema_sums = [0.0] * len(self._ema_periods)
        self._signal = nan
        self._signal_sum = 0.0
        self._bb_window: deque[float] = deque(maxlen=self._bb_period)
        self._rank_window: deque[float] = deque(maxlen=self._rank_window_len)
        self._rank_sorted: list[float] = []
        self._clock_lo = 0
        self._clock_hi = 0
        self._clock_rows: tuple[MinuteRow, ...] = ()

    @property
    def bars_seen(self) -> int:
        """Bars accepted since construction or :meth:`reset`."""
        return self._n

    @property
    def is_warm(self) -> bool:
        """True once every feature is defined (``bars_seen >= spec.warmup_bars``)."""
        return self._n >= self._warm_index + 1

    @property
    def last_ts_event_ns(self) -> int | None:
        """Close time of the last accepted bar (UTC ns), or None before the first."""
        return None if self._last_ts < 0 else self._last_ts

    def update(
        self,
        ts_event_ns: int,
        open: float,
        high: float,
        low: float,
        close: float,
        volume: float,
    ) -> list[float]:
        """Accept one bar and return its feature row.

        Parameters
        ----------
        ts_event_ns : int
            Bar close time, UTC nanoseconds; strictly after the previous accepted bar's.
        open, high, low, close, volume : float
            The bar (volume is validated but feeds no v1 feature).

        Returns
        -------
        list of float
            A new list, ordered as ``spec.names`` (the caller may keep it). Features not yet
            defined are NaN; ``warm`` is 1.0 once none is.

        Raises
        ------
        InvalidBarError
            For a non-integer or out-of-range timestamp, a field that is not a real number (a
            bool, str, Decimal), a NaN/inf field, a price <= 0 or outside
            ``[MIN_PRICE, MAX_PRICE]``,
            ``high < low``, open or close outside ``[low, high]``, a negative volume, or a
            timestamp not after the last accepted one. The engine is left unchanged.
        """
        last_ts = self._last_ts
        # Fused validation: exact floats (a bool or a str is never a price; numpy scalars and
        # ints take the slow path) and one chain of comparisons (NaN fails them all; the price
        # bounds hold for every price because low <= open, close <= high). The slow path names
        # the reason.
        if (
            type(open) is float
            and type(high) is float
            and type(low) is float
            and type(close) is float
            and type(volume) is float
            and type(ts_event_ns) is int
            and last_ts < ts_event_ns <= MAX_NS
            and MIN_PRICE <= low <= open <= high <= MAX_PRICE
            and low <= close <= high
            and 0.0 <= volume < inf
        ):
            ts = ts_event_ns
            o, h, lo, c = open, high, low, close
        else:
            ts = check_bar(
                ts_event_ns, open, high, low, close, volume, last_ts if last_ts >= 0 else None
            )
            o, h, lo, c = float(open), float(high), float(low), float(close)

        n = self._n

        # ---- calendar: table lookups (the table is rebuilt only when a DST stretch ends)
        if not self._clock_lo <= ts < self._clock_hi:
            self._clock_lo, self._clock_hi, self._clock_rows = clock_interval(self.spec, ts)
        minute = ts // NS_PER_MINUTE
        day = minute // 1440
        hour_sin, hour_cos, s_sydney, s_tokyo, s_london, s_new_york, s_overlap = self._clock_rows[
            minute - day * 1440
        ]
        weekday = (day + 3) % 7
        dow_sin = DOW_SIN[weekday]
        dow_cos = DOW_COS[weekday]

        # ---- candle shape
        rng = h - lo
        if rng > 0.0:
            if c >= o:
                top, bottom = c, o
            else:
                top, bottom = o, c
            body = (c - o) / rng
            upper_wick = (h - top) / rng
            lower_wick = (bottom - lo) / rng
        else:
            body = upper_wick = lower_wick = 0.0

        # ---- log returns
        closes = self._closes
        if len(closes) == self._max_lag:
            rets = [log(c / closes[i]) for i in self._lag_indices]
        else:
            m = len(closes)
            rets = [log(c / closes[-k]) if k <= m else nan for k in self._lags]
        closes.append(c)

        # ---- true range, ATR (Wilder RMA seeded with the SMA of the first atr_period TRs)
        prev_close = self._prev_close
        if n:
            tr = rng
            x = abs(h - prev_close)
            if x > tr:
                tr = x
            x = abs(lo - prev_close)
            if x > tr:
                tr = x
        else:
            tr = rng
        atr_period = self._atr_period
        if n >= atr_period:
            atr = self._atr_alpha * tr + self._atr_beta * self._atr
        else:
            self._atr_sum += tr
            atr = self._atr_sum / atr_period if n == atr_period - 1 else nan
        self._atr = atr

        # ---- RSI (Wilder): gains/losses from the 2nd bar, SMA seed after rsi_period diffs
        rsi_period = self._rsi_period
        rsi = nan
        if n:
            diff = c - prev_close
            gain = diff if diff > 0.0 else 0.0
            loss = -diff if diff < 0.0 else 0.0
            if n > rsi_period:
                alpha = self._rsi_alpha
                beta = self._rsi_beta
                gain_avg = alpha * gain + beta * self._gain_avg
                loss_avg = alpha * loss + beta * self._loss_avg
                self._gain_avg = gain_avg
                self._loss_avg = loss_avg
                rsi = 1.0 if loss_avg == 0.0 else 1.0 - 1.0 / (1.0 + gain_avg / loss_avg)
            else:
                self._gain_sum += gain
                self._loss_sum += loss
                if n == rsi_period:
                    gain_avg = self._gain_sum / rsi_period
                    loss_avg = self._loss_sum / rsi_period
                    self._gain_avg = gain_avg
                    self._loss_avg = loss_avg
                    rsi = 1.0 if loss_avg == 0.0 else 1.0 - 1.0 / (1.0 + gain_avg / loss_avg)

        # ---- EMAs of close (MACD fast, MACD slow, distance EMAs), SMA-seeded
        emas = self._ema_values
        if n > self._ema_steady:
            emas = [a * c + b * e for (a, b), e in zip(self._ema_coefs, emas, strict=False)]
        else:
            sums = self._ema_sums
            for j, first in enumerate(self._ema_firsts):
                if n > first:
                    emas[j] = self._ema_alphas[j] * c + self._ema_betas[j] * emas[j]
                else:
                    sums[j] += c
                    if n == first:
                        emas[j] = sums[j] / (first + 1)
        self._ema_values = emas

        # ---- MACD = EMA(fast) - EMA(slow); signal = SMA-seeded EMA of MACD
        macd_line = macd_signal = macd_hist = nan
        if n >= self._slow_first:
            line = emas[0] - emas[1]
            k = n - self._slow_first
            signal_period = self._signal_period
            if k >= signal_period:
                signal = self._signal_alpha * line + self._signal_beta * self._signal
                self._signal = signal
            else:
                self._signal_sum += line
                signal = self._signal_sum / signal_period if k == signal_period - 1 else nan
                self._signal = signal
            macd_line = line / c
            if k >= signal_period - 1:
                macd_signal = signal / c
                macd_hist = (line - signal) / c

        # ---- Bollinger %B and bandwidth: two-pass mean / population stdev over the window
        window = self._bb_window
        window.append(c)
        bb_pct_b = bb_bandwidth = nan
        if len(window) == self._bb_period:
            if _SUM_IS_SEQUENTIAL:
                total = sum(window)
            else:
                total = 0.0
                for x in window:
                    total += x
            mean = total / self._bb_period
            sq = 0.0
            for x in window:
                d = x - mean
                sq += d * d
            dev = self._bb_mult * sqrt(sq / self._bb_period)
            upper = mean + dev
            lower = mean - dev
            width = upper - lower
            if width <= self._bb_tolerance * mean:
                bb_pct_b = 0.5
                bb_bandwidth = 0.0
            else:
                bb_pct_b = (c - lower) / width
                bb_bandwidth = width / mean

        # ---- ATR ratios, EMA distances in ATRs
        range_atr = atr_close = nan
        if atr == atr:  # defined (not NaN)
            if atr != 0.0:
                range_atr = rng / atr
                if n >= self._dist_steady:
                    dists = [(c - e) / atr for e in emas[2:]]
                else:
                    dists = [nan] * self._n_dist
                    for j, first in enumerate(self._dist_firsts):
                        if n >= first:
                            dists[j] = (c - emas[2 + j]) / atr
            else:
                range_atr = 0.0
                dists = [nan] * self._n_dist
                for j, first in enumerate(self._dist_firsts):
                    if n >= first:
                        dists[j] = 0.0
            atr_close = atr / c

            # ---- percentile rank of ATR among the previous vol_rank_window ATRs
            rank_window = self._rank_window
            ranked = self._rank_sorted
            vol_pct_rank = vol_regime = nan
            if len(rank_window) == self._rank_window_len:
                vol_pct_rank = bisect_right(ranked, atr) / self._rank_window_len
                if vol_pct_rank < self._regime_low:
                    vol_regime = -1.0
                elif vol_pct_rank > self._regime_high:
                    vol_regime = 1.0
                else:
                    vol_regime = 0.0
                del ranked[bisect_left(ranked, rank_window[0])]
            rank_window.append(atr)
            insort(ranked, atr)
        else:
            dists = [nan] * self._n_dist
            vol_pct_rank = vol_regime = nan

        warm = 1.0 if n >= self._warm_index else 0.0
        self._n = n + 1
        self._last_ts = ts
        self._prev_close = c
        return [
            *rets,
            body,
            upper_wick,
            lower_wick,
            range_atr,
            rsi,
            macd_line,
            macd_signal,
            macd_hist,
            bb_pct_b,
            bb_bandwidth,
            atr_close,
            *dists,
            hour_sin,
            hour_cos,
            dow_sin,
            dow_cos,
            s_sydney,
            s_tokyo,
            s_london,
            s_new_york,
            s_overlap,
            vol_pct_rank,
            vol_regime,
            warm,
        ]
