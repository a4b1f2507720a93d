"""A quick, vectorised look at signals against what the price did next. NOT a backtest.

Each buy / sell row is read as its own one-unit trade: in at the bar's close, out at the close
``horizon`` bars later, charged ``cost_pips`` per round trip. Trades overlap when signals come in
runs; there are no fills, no spread model beyond the stated cost, no sizing, no position limits
and no account. It answers "is there anything here?" in a second; the backtest
(:mod:`nautilus_ai.backtest`) answers "what would have happened?".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nautilus_ai.research.frames import (
    INDEX_NAME,
    ResearchInputError,
    as_bars,
    check_int,
    check_number,
    signal_column,
)

__all__ = ["NOT_A_BACKTEST", "SignalEvaluation", "evaluate"]

#: The label every evaluation carries (text, plots).
NOT_A_BACKTEST = "naive signal evaluation, NOT a backtest"


@dataclass(frozen=True)
class SignalEvaluation:
    """What :func:`evaluate` found.

    Attributes
    ----------
    by_signal : pandas.DataFrame
        Index ``sell, hold, buy``: ``rows`` (signals with a full horizon), ``share``,
        ``mean_forward_pips`` / ``median_forward_pips`` (close ``horizon`` bars later minus
        close, in pips, whatever the side) and ``hit_rate`` (buy: the price rose; sell: it
        fell; NaN for hold).
    trades : pandas.DataFrame
        One row per buy / sell signal with a full horizon, on the signal's time: ``side``,
        ``confidence``, ``entry``, ``exit_time``, ``exit``, ``gross_pips``, ``net_pips``.
    pnl : pandas.Series
        Cumulative ``net_pips`` of the trades, in exit-time order (index: exit time).
    summary : dict
        Headline figures (see :meth:`text`).
    """

    horizon: int
    cost_pips: float
    pip_size: float
    min_confidence: float
    by_signal: pd.DataFrame
    trades: pd.DataFrame
    pnl: pd.Series
    summary: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """A few lines for a notebook or a terminal, with the not-a-backtest label first."""
        s = self.summary
        lines = [
            f"{NOT_A_BACKTEST}: {s['model_id']}, {s['rows']:,} rows {s['first']} .. {s['last']}",
            f"  each buy/sell = its own 1-unit trade, exit after {self.horizon} bars at the "
            f"close, cost {self.cost_pips:g} pips per round trip (overlapping, no fills)",
            f"  signals: {s['buys']:,} buy, {s['sells']:,} sell "
            f"({100 * s['signal_rate']:.2f}% of rows"
            + (f", confidence >= {self.min_confidence:g}" if self.min_confidence else "")
            + ")",
        ]
        if s["trades"]:
            lines += [
                f"  hit rate {100 * s['hit_rate']:.1f}% gross, {100 * s['net_hit_rate']:.1f}% "
                f"after cost; mean {s['mean_gross_pips']:+.2f} pips gross, "
                f"{s['mean_net_pips']:+.2f} net per trade",
                f"  naive PnL {s['total_net_pips']:+,.1f} pips over {s['trades']:,} trades "
                f"(gross per trade in the call's direction: buy {_fmt(s['buy_mean_gross_pips'])}"
                f", sell {_fmt(s['sell_mean_gross_pips'])})",
            ]
        else:
            lines.append("  no buy / sell signal with a full horizon: nothing to evaluate")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:  # a notebook shows the text, not a dataclass dump
        return self.text()


def evaluate(
    predictions: pd.DataFrame,
    bars: pd.DataFrame,
    *,
    horizon: int = 30,
    cost_pips: float = 0.3,
    pip_size: float = 1e-4,
    min_confidence: float = 0.0,
) -> SignalEvaluation:
    """Score signals against the close ``horizon`` bars later (see the module docstring).

    Parameters
    ----------
    predictions : pandas.DataFrame
        :func:`~nautilus_ai.research.predict` output (``signal``, ``confidence``); its index
        must be rows of ``bars`` (bars may run further, to give the last signals a horizon).
    bars : pandas.DataFrame
        The bars frame.
    horizon : int
        Bars each trade is held (>= 1).
    cost_pips : float
        Round-trip cost charged per trade (spread + fees), in pips (>= 0). State a realistic
        one: 0.3 is a tight EUR/USD ECN spread with no fees.
    pip_size : float
        Price of one pip (1e-4 for EUR/USD, 1e-2 for JPY pairs).
    min_confidence : float
        Signals below this confidence count as holds (the strategy's ``min_confidence``).
    """
    horizon = check_int(horizon, "horizon", low=1)
    check_number(cost_pips, "cost_pips", low=0.0)
    check_number(min_confidence, "min_confidence", low=0.0, high=1.0)
    check_number(pip_size, "pip_size", low=0.0, low_open=True)
    if not isinstance(predictions, pd.DataFrame) or not {"signal", "confidence"} <= set(
        predictions.columns
    ):
        raise ResearchInputError(
            "predictions: expected nautilus_ai.research.predict output (signal, confidence)"
        )
    checked = as_bars(bars)
    position = checked.index.get_indexer(predictions.index)
    if (position < 0).any():
        row = int(np.flatnonzero(position < 0)[0])
        raise ResearchInputError(
            f"predictions: time {predictions.index[row]} (row {row}) is not a bar of `bars`"
        )
    repeated = np.flatnonzero(pd.Index(position).duplicated())
    if repeated.size:  # each repeat would be scored as one more trade
        row = int(repeated[0])
        raise ResearchInputError(
            f"predictions: time {predictions.index[row]} (row {row}) is repeated; one "
            "prediction per bar"
        )
    close = checked["close"].to_numpy()
    n_bars = close.size
    confidence = predictions["confidence"].to_numpy(dtype=np.float64)
    signal = signal_column(predictions)
    signal = np.where(confidence >= min_confidence, signal, 0)
    exit_pos = position + horizon
    full = exit_pos < n_bars
    forward = np.full(position.size, np.nan)
    forward[full] = (close[exit_pos[full]] - close[position[full]]) / pip_size

    by_signal = _by_signal(signal, forward, full)
    trade_rows = np.flatnonzero(full & (signal != 0))
    side = signal[trade_rows]
    gross = side * forward[trade_rows]
    net = gross - float(cost_pips)
    exit_index = checked.index[exit_pos[trade_rows]]
    trades = pd.DataFrame(
        {
            "side": np.where(side > 0, "buy", "sell"),
            "confidence": confidence[trade_rows],
            "entry": close[position[trade_rows]],
            "exit_time": exit_index,
            "exit": close[exit_pos[trade_rows]],
            "gross_pips": gross,
            "net_pips": net,
        },
        index=pd.DatetimeIndex(predictions.index[trade_rows], name=INDEX_NAME),
    )
    by_exit = trades.sort_values("exit_time", kind="stable")
    pnl = pd.Series(
        by_exit["net_pips"].cumsum().to_numpy(),
        index=pd.DatetimeIndex(by_exit["exit_time"], name="exit_time"),
        name="naive_net_pips",
    )
    rows = int(position.size)
    summary: dict[str, Any] = {
        "model_id": str(predictions.attrs.get("model_id", "predictions")),
        "rows": rows,
        "first": str(predictions.index[0]) if rows else "-",
        "last": str(predictions.index[-1]) if rows else "-",
        "buys": int((signal > 0).sum()),
        "sells": int((signal < 0).sum()),
        "signal_rate": float((signal != 0).mean()) if rows else 0.0,
        "trades": int(trade_rows.size),
        "hit_rate": _mean(gross > 0),
        "net_hit_rate": _mean(net > 0),
        "mean_gross_pips": _mean(gross),
        "mean_net_pips": _mean(net),
        "total_net_pips": float(net.sum()),
        "buy_mean_gross_pips": _mean(gross[side > 0]),
        "sell_mean_gross_pips": _mean(gross[side < 0]),
        "cost_pips": float(cost_pips),
        "horizon": horizon,
        "label": NOT_A_BACKTEST,
    }
    return SignalEvaluation(
        horizon=horizon,
        cost_pips=float(cost_pips),
        pip_size=float(pip_size),
        min_confidence=float(min_confidence),
        by_signal=by_signal,
        trades=trades,
        pnl=pnl,
        summary=summary,
    )


def _by_signal(signal: np.ndarray, forward: np.ndarray, full: np.ndarray) -> pd.DataFrame:
    total = int(full.sum())
    records = {}
    for name, sign in (("sell", -1), ("hold", 0), ("buy", 1)):
        chosen = full & (signal == sign)
        moves = forward[chosen]
        records[name] = {
            "rows": int(chosen.sum()),
            "share": chosen.sum() / total if total else np.nan,
            "mean_forward_pips": float(moves.mean()) if moves.size else np.nan,
            "median_forward_pips": float(np.median(moves)) if moves.size else np.nan,
            "hit_rate": _mean(sign * moves > 0) if sign and moves.size else np.nan,
        }
    frame = pd.DataFrame.from_dict(records, orient="index")
    frame.index.name = "signal"
    return frame


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else float("nan")


def _fmt(value: float) -> str:
    return "-" if not np.isfinite(value) else f"{value:+.2f}"
