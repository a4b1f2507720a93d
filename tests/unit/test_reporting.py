from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from nautilus_ai.reporting import (
    daily_returns,
    equity_curve,
    format_summary,
    max_drawdown,
    plot_equity,
    summarise,
    write_report,
)

MIN = 60 * 1_000_000_000
DAY = 1440 * MIN


def test_equity_curve_by_hand() -> None:
    ts = np.arange(1, 6, dtype=np.int64) * MIN
    bid = np.array([1.0, 1.1, 1.2, 1.1, 1.0])
    ask = bid + 0.01
    # buy 100 at the ask of bar 1 (1.01) with 1.0 commission, sell 100 at bar 3's bid (1.2)
    fills_ts = np.array([1 * MIN, 3 * MIN], dtype=np.int64)
    qty = np.array([100.0, -100.0])
    px = np.array([1.01, 1.2])
    fee = np.array([1.0, 1.0])
    equity, position = equity_curve(ts, bid, ask, fills_ts, qty, px, fee, 1000.0)
    assert position.tolist() == [100.0, 100.0, 0.0, 0.0, 0.0]
    expected_bar1 = 1000.0 - 101.0 - 1.0 + 100 * 1.0  # marked at the bid
    assert equity[0] == pytest.approx(expected_bar1)
    assert equity[1] == pytest.approx(1000.0 - 102.0 + 110.0)
    final = 1000.0 + 100 * (1.2 - 1.01) - 2.0
    assert equity[2:] == pytest.approx([final] * 3)


def test_short_positions_are_marked_at_the_ask() -> None:
    ts = np.array([MIN, 2 * MIN], dtype=np.int64)
    bid = np.array([1.0, 1.0])
    ask = np.array([1.02, 1.05])
    equity, position = equity_curve(
        ts, bid, ask, np.array([MIN]), np.array([-10.0]), np.array([1.0]), np.array([0.0]), 0.0
    )
    assert position.tolist() == [-10.0, -10.0]
    assert equity == pytest.approx([10.0 - 10.2, 10.0 - 10.5])


def test_max_drawdown_and_daily_returns() -> None:
    equity = np.array([100.0, 120.0, 90.0, 130.0, 117.0])
    assert max_drawdown(equity) == (30.0, pytest.approx(0.25))
    ts = np.array([0, 1, DAY, DAY + 1, 2 * DAY], dtype=np.int64) + 1
    rets = daily_returns(ts, equity)
    assert rets == pytest.approx([120 / 100 - 1, 130 / 120 - 1, 117 / 130 - 1])


def test_summary_statistics() -> None:
    ts = np.arange(0, 10, dtype=np.int64) * DAY + MIN
    equity = 1000.0 * np.cumprod(np.r_[1.0, np.full(9, 1.01)])
    equity[5] = equity[4] * 0.98
    summary = summarise(
        name="t",
        sample="in-sample",
        bar_ts=ts,
        equity=equity,
        position=np.r_[np.zeros(5), np.ones(5)],
        trade_pnls=[10.0, -5.0, 20.0],
        orders=6,
        elapsed_s=2.0,
        bars_processed=10,
        starting_equity=1000.0,
        currency="USD",
    )
    assert summary.trades == 3
    assert summary.win_rate == pytest.approx(2 / 3)
    assert summary.profit_factor == pytest.approx(30 / 5)
    assert summary.exposure == 0.5
    assert summary.bars_per_s == 5.0
    assert summary.pnl == pytest.approx(equity[-1] - 1000.0)
    assert summary.sharpe > 0 and summary.sortino > summary.sharpe
    assert summary.max_drawdown_pct > 0 and summary.calmar > 0
    text = format_summary(summary)
    assert "trades 3" in text and "Sharpe" in text


def test_summary_without_trades_is_nan_safe(tmp_path) -> None:
    ts = np.arange(3, dtype=np.int64) * MIN
    summary = summarise(
        name="flat", sample="out-of-sample", bar_ts=ts, equity=np.full(3, 5.0),
        position=np.zeros(3), trade_pnls=[], orders=0, elapsed_s=1.0, bars_processed=3,
        starting_equity=5.0, currency="USD",
    )  # fmt: skip
    assert summary.trades == 0 and math.isnan(summary.win_rate)
    path = write_report(tmp_path, summary)
    data = json.loads(path.read_text())
    assert data["win_rate"] is None and data["sample"] == "out-of-sample"


def test_plot_writes_png(tmp_path) -> None:
    ts = np.arange(100, dtype=np.int64) * MIN
    path = plot_equity(tmp_path / "eq.png", ts, {"a": np.linspace(1, 2, 100)}, "title")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_equity_curve_rejects_unsorted_bars() -> None:
    with pytest.raises(ValueError, match="sorted"):
        equity_curve(
            np.array([2, 1]), np.ones(2), np.ones(2), np.zeros(0, np.int64), np.zeros(0),
            np.zeros(0), np.zeros(0), 0.0,
        )  # fmt: skip


@pytest.mark.parametrize(
    "equity",
    [
        [100.0, 60.0, 20.0, -10.0, 5.0, 30.0],  # below zero, then back
        [100.0, 50.0, 0.0, 10.0, 20.0, 30.0],  # exactly zero at a day's end
    ],
)
def test_a_run_whose_equity_ends_a_day_at_or_below_zero_has_no_sharpe(equity) -> None:
    """A run that lost 70% reported Sharpe +1.01 and Sortino +2.68 (the day from -10 to +5 read
    as a -150% return, later gains over a base of 0 as infinite ones), with divide-by-zero
    warnings; Sharpe and Sortino are n/a now."""
    ts = np.arange(6, dtype=np.int64) * 86_400 * 10**9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        summary = summarise(
            name="wiped", sample="in-sample", bar_ts=ts, equity=np.array(equity),
            position=np.ones(6), trade_pnls=[-40.0, -40.0, -30.0, 15.0, 25.0], orders=5,
            elapsed_s=1.0, bars_processed=6, starting_equity=100.0, currency="USD",
        )  # fmt: skip
    assert math.isnan(summary.sharpe) and math.isnan(summary.sortino)
    assert summary.return_pct == pytest.approx(-70.0)
    assert "Sharpe nan  Sortino nan" in format_summary(summary)


def test_a_summary_of_a_zero_starting_equity_is_not_a_zero_division() -> None:
    ts = np.arange(3, dtype=np.int64) * 86_400 * 10**9
    summary = summarise(
        name="empty account", sample="in-sample", bar_ts=ts, equity=np.zeros(3),
        position=np.zeros(3), trade_pnls=[], orders=0, elapsed_s=1.0, bars_processed=3,
        starting_equity=0.0, currency="USD",
    )  # fmt: skip
    assert math.isnan(summary.return_pct) and math.isnan(summary.calmar)
