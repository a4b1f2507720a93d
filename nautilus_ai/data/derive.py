"""Modelled series derived from real ones. Every function here is a MODELLING ASSUMPTION.

Nautilus' backtest matching engine builds quotes from bars only when it has a BID and an ASK bar
with the same ``ts_init`` (``backtest/engine.pyx``, ``_process_quote_ticks_from_bar``); from BID
bars alone no order ever fills. HistData publishes BID bars only, so a backtest on it needs an
ASK series that the data does not contain. These helpers make one from the BID bars plus a
constant spread; the real BID bars are never changed. Whoever uses them must say so in results.
"""

from __future__ import annotations

import numpy as np

from nautilus_ai.data.arrays import BarArrays

__all__ = ["ask_from_bid", "fill_unknown_volume"]


def ask_from_bid(bid: BarArrays, spread_pips: float, pip_size: float, precision: int) -> BarArrays:
    """ASK bars = BID bars + a constant spread (MODELLING ASSUMPTION, not market data).

    Parameters
    ----------
    bid : BarArrays
        Real BID bars (not modified).
    spread_pips : float
        Constant spread in pips, >= 0, a whole number of price increments (0.1 pip for
        EUR/USD at 5 decimals); another is refused, not rounded.
    pip_size : float
        One pip in price units (0.0001 for EUR/USD).
    precision : int
        Price decimals; the spread is rounded to this grid so prices stay on-tick.

    Returns
    -------
    BarArrays
        Same timestamps and volume; each of O/H/L/C shifted up by the spread.
    """
    if not (np.isfinite(spread_pips) and spread_pips >= 0):
        raise ValueError(f"spread_pips must be a finite number >= 0, got {spread_pips}")
    scale = 10.0**precision
    exact = spread_pips * pip_size * scale
    spread_points = round(exact)
    if abs(exact - spread_points) > 1e-6:
        # 0.25 pips of EUR/USD is 2.5 price increments: it was stored as 0.2 pips (0.04 as
        # none at all, ASK = BID) under a summary that said 0.25.
        step = 1 / (pip_size * scale)
        raise ValueError(
            f"spread_pips {spread_pips:g} is not a whole number of price increments "
            f"({step:g} pip at {precision} decimals): it would be stored as "
            f"{spread_points * step:g}"
        )

    def shift(values: np.ndarray) -> np.ndarray:
        return np.asarray((np.rint(values * scale) + spread_points) / scale, dtype=np.float64)

    return BarArrays(
        ts_event=bid.ts_event.copy(),
        open=shift(bid.open),
        high=shift(bid.high),
        low=shift(bid.low),
        close=shift(bid.close),
        volume=bid.volume.copy(),
    )


def fill_unknown_volume(bars: BarArrays, volume: float) -> BarArrays:
    """Replace zero (= not reported) volumes by a constant (MODELLING ASSUMPTION).

    Nautilus uses bar volume / 4 as the simulated top-of-book size, at least one size increment,
    so bars with volume 0 let an order fill one unit per price point. HistData M1 volume is
    always 0 (not reported). Prices are untouched.
    """
    if not (np.isfinite(volume) and volume > 0):
        raise ValueError(f"volume must be a finite number > 0, got {volume}")
    filled = np.where(bars.volume == 0, volume, bars.volume)
    return BarArrays(
        ts_event=bars.ts_event,
        open=bars.open,
        high=bars.high,
        low=bars.low,
        close=bars.close,
        volume=filled.astype(np.float64),
    )
