"""Where a strategy's PnL goes: gross (at mid), commission and spread cost, per trade and per run.

For one round trip of ``quantity`` units, side ``s`` (+1 long, -1 short), filled at
``entry_price`` / ``exit_price`` while the mid was ``entry_mid`` / ``exit_mid``:

* ``gross = s * q * (exit_mid - entry_mid)``: what the idea earned, traded at mid, free;
* ``spread = s * q * ((entry_price - entry_mid) + (exit_mid - exit_price))``: what crossing the
  spread cost (a long buys above mid and sells below it);
* ``commission``: the venue's fees;
* ``net = gross - spread - commission = s * q * (exit_price - entry_price) - commission``.

The identity holds by construction, so the three parts always add up to the net a backtest
reports. A run whose average gross is positive but whose net is negative has an edge that costs
eat: today's demo makes about -0.5 USD a trade at mid and pays 4 USD of commission (2 USD minimum
per order, two orders) and ~0.5 USD of spread.

:func:`split_trades` builds the split from a backtest's trade log (``trades.csv``: side,
quantity, average open / close prices, realised PnL net of commissions, as Nautilus reports
them) and the bid / ask bars: the commission is what the fill prices earned minus the realised
PnL, the mid at a fill is its price moved back by the half-spread quoted at that time (the fill
took the touch; slippage beyond the touch, walking the book, stays in ``gross``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["PnLSplit", "half_spread_at", "split_trade_pnl", "split_trades"]

F64 = NDArray[np.float64]
_SIDES = {"long": 1.0, "buy": 1.0, "short": -1.0, "sell": -1.0}


@dataclass(frozen=True)
class PnLSplit:
    """Per-trade PnL parts (arrays of one length, in account currency)."""

    gross: F64 = field(repr=False)
    commission: F64 = field(repr=False)
    spread: F64 = field(repr=False)
    net: F64 = field(repr=False)

    def __len__(self) -> int:
        return int(self.net.shape[0])

    def totals(self) -> dict[str, float]:
        """Per run: sums, per-trade means, and the share of the gross profit costs consume
        (``None``-like NaN when the gross is not positive)."""
        n = len(self)
        gross, commission = float(self.gross.sum()), float(self.commission.sum())
        spread, net = float(self.spread.sum()), float(self.net.sum())
        costs = commission + spread
        return {
            "trades": float(n),
            "gross": gross,
            "commission": commission,
            "spread": spread,
            "net": net,
            "gross_per_trade": gross / n if n else float("nan"),
            "commission_per_trade": commission / n if n else float("nan"),
            "spread_per_trade": spread / n if n else float("nan"),
            "net_per_trade": net / n if n else float("nan"),
            "cost_share_of_gross": costs / gross if gross > 0 else float("nan"),
        }

    def verdict(self, currency: str = "USD") -> str:
        """One sentence: does the edge survive its costs?"""
        t = self.totals()
        if not len(self):
            return "no trades"
        per = (
            f"{t['gross_per_trade']:+.2f} {currency} a trade at mid, "
            f"-{t['commission_per_trade']:.2f} commission, -{t['spread_per_trade']:.2f} spread "
            f"= {t['net_per_trade']:+.2f} net"
        )
        if t["gross"] <= 0:
            return f"no edge before costs: {per}"
        if t["net"] < 0:
            return f"costs eat the edge: {per}"
        return f"the edge survives its costs: {per}"


def split_trade_pnl(
    *,
    side: ArrayLike,
    quantity: ArrayLike,
    entry_price: ArrayLike,
    exit_price: ArrayLike,
    entry_mid: ArrayLike,
    exit_mid: ArrayLike,
    commission: ArrayLike,
) -> PnLSplit:
    """The split of each round trip (see the module docstring); ``side`` is +1 / -1."""
    s = np.asarray(side, dtype=np.float64)
    columns = (quantity, entry_price, exit_price, entry_mid, exit_mid, commission)
    arrays = [np.asarray(a, dtype=np.float64) for a in columns]
    q, p_in, p_out, m_in, m_out, fee = arrays
    if any(a.shape != s.shape for a in arrays) or s.ndim != 1:
        raise ValueError("every input needs one value per trade (1-D, same length)")
    if not np.isin(s, (-1.0, 1.0)).all():
        raise ValueError("side must be +1 (long) or -1 (short)")
    gross = s * q * (m_out - m_in)
    spread = s * q * ((p_in - m_in) + (m_out - p_out))
    net = s * q * (p_out - p_in) - fee
    return PnLSplit(gross=gross, commission=fee, spread=spread, net=net)


def half_spread_at(ts: ArrayLike, bar_ts: ArrayLike, bid: ArrayLike, ask: ArrayLike) -> F64:
    """Half of ``ask - bid`` of the last bar at or before each ``ts`` (the first bar's for
    earlier times)."""
    times = np.asarray(bar_ts, dtype=np.int64)
    spread = (np.asarray(ask, dtype=np.float64) - np.asarray(bid, dtype=np.float64)) / 2.0
    if times.size == 0:
        raise ValueError("no bars to read the spread from")
    at = np.searchsorted(times, np.asarray(ts, dtype=np.int64), side="right") - 1
    out: F64 = spread[np.clip(at, 0, times.size - 1)]
    return out


def split_trades(
    trades: Mapping[str, Sequence[Any] | ArrayLike],
    bar_ts: ArrayLike,
    bid: ArrayLike,
    ask: ArrayLike,
) -> PnLSplit:
    """The split of a trade log (columns ``side``, ``quantity``, ``avg_px_open``,
    ``avg_px_close``, ``realized_pnl`` net of commissions, ``ts_opened``, ``ts_closed``) with
    the bid / ask closes of the traded bars.

    Raises
    ------
    ValueError
        A missing column (named) or an unknown side.
    """
    for column in ("side", "quantity", "avg_px_open", "avg_px_close", "realized_pnl",
                   "ts_opened", "ts_closed"):  # fmt: skip
        if column not in trades:
            raise ValueError(f"trade log has no {column!r} column")
    try:
        sides = np.asarray(trades["side"]).tolist()
        side = np.array([_SIDES[str(v).lower()] for v in sides], dtype=np.float64)
    except KeyError as exc:
        raise ValueError(f"unknown trade side {exc.args[0]!r} (long / short)") from None
    q = np.asarray(trades["quantity"], dtype=np.float64)
    p_in = np.asarray(trades["avg_px_open"], dtype=np.float64)
    p_out = np.asarray(trades["avg_px_close"], dtype=np.float64)
    realised = np.asarray(trades["realized_pnl"], dtype=np.float64)
    half_in = half_spread_at(np.asarray(trades["ts_opened"], dtype=np.int64), bar_ts, bid, ask)
    half_out = half_spread_at(np.asarray(trades["ts_closed"], dtype=np.int64), bar_ts, bid, ask)
    commission = side * q * (p_out - p_in) - realised
    split = split_trade_pnl(
        side=side, quantity=q, entry_price=p_in, exit_price=p_out,
        entry_mid=p_in - side * half_in, exit_mid=p_out + side * half_out,
        commission=commission,
    )  # fmt: skip
    # the log's realised PnL is the net (the recomputed one differs by rounding only)
    return PnLSplit(split.gross, split.commission, split.spread, realised.copy())
