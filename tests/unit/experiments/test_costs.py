"""The PnL split: gross - commission - spread == net for any trade, and the trade-log glue on
hand-made fills with known costs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.experiments.costs import half_spread_at, split_trade_pnl, split_trades

prices = st.floats(0.5, 2.0)
trades = st.lists(
    st.tuples(
        st.sampled_from([-1.0, 1.0]), st.floats(1.0, 1e6), prices, prices,
        st.floats(0.0, 1e-3), st.floats(0.0, 1e-3), st.floats(0.0, 50.0),
    ),
    min_size=1, max_size=40,
)  # fmt: skip


@given(trades)
def test_the_parts_add_up_to_the_net(rows: list[tuple[float, ...]]) -> None:
    side, qty, entry_mid, exit_mid, half_in, half_out, fee = map(np.array, zip(*rows, strict=True))
    # fills on the worse side of mid: a long buys above it and sells below it
    entry_px, exit_px = entry_mid + side * half_in, exit_mid - side * half_out
    split = split_trade_pnl(
        side=side, quantity=qty, entry_price=entry_px, exit_price=exit_px,
        entry_mid=entry_mid, exit_mid=exit_mid, commission=fee,
    )  # fmt: skip
    assert np.allclose(split.gross - split.commission - split.spread, split.net, rtol=0,
                       atol=1e-9 * (1 + np.abs(split.gross)))  # fmt: skip
    assert np.allclose(split.net, side * qty * (exit_px - entry_px) - fee, rtol=1e-12, atol=1e-9)
    assert (split.spread >= -1e-9).all()  # crossing the spread never pays
    t = split.totals()
    assert t["gross"] - t["commission"] - t["spread"] == pytest.approx(t["net"], abs=1e-6)
    assert t["trades"] == len(rows)


def test_a_trade_log_splits_into_known_costs() -> None:
    """Two round trips at a 0.3 pip spread (bid bars + 0.00003) with a 2 USD minimum fee per
    order: the numbers a demo trade shows."""
    bar_ts = np.array([100, 200, 300, 400], dtype=np.int64)
    bid = np.array([1.04800, 1.04790, 1.04760, 1.04750])
    ask = bid + 0.00003
    log = {
        # short 19,000 sold at the bid of bar 100, bought back at the ask of bar 300
        "side": ["short", "long"],
        "quantity": [19_000.0, 10_000.0],
        "avg_px_open": [1.04800, ask[1]],
        "avg_px_close": [ask[2], bid[3]],
        "ts_opened": [100, 200],
        "ts_closed": [300, 400],
    }
    gross_short = 19_000 * ((bid[0] + 0.000015) - (bid[2] + 0.000015))
    gross_long = 10_000 * ((bid[3] + 0.000015) - (bid[1] + 0.000015))
    net_short = 19_000 * (1.04800 - ask[2]) - 4.0
    net_long = 10_000 * (bid[3] - ask[1]) - 4.0
    log["realized_pnl"] = [net_short, net_long]
    split = split_trades(log, bar_ts, bid, ask)
    assert split.commission == pytest.approx([4.0, 4.0])
    assert split.spread == pytest.approx([19_000 * 0.00003, 10_000 * 0.00003])
    assert split.gross == pytest.approx([gross_short, gross_long])
    assert split.net.tolist() == [net_short, net_long]
    assert split.verdict().startswith("costs eat the edge") or split.verdict().startswith("no edge")


def test_verdicts() -> None:
    def one(gross: float, fee: float) -> str:
        return split_trade_pnl(
            side=[1.0], quantity=[1.0], entry_price=[1.0], exit_price=[1.0 + gross],
            entry_mid=[1.0], exit_mid=[1.0 + gross], commission=[fee],
        ).verdict()  # fmt: skip

    assert one(5.0, 1.0).startswith("the edge survives its costs: +5.00 USD a trade at mid")
    assert one(5.0, 6.0).startswith("costs eat the edge")
    assert one(-1.0, 1.0).startswith("no edge before costs")


def test_bad_logs_are_named() -> None:
    with pytest.raises(ValueError, match="no 'quantity' column"):
        split_trades({"side": ["long"]}, [1], [1.0], [1.0])
    log = {k: [1] for k in ("quantity", "avg_px_open", "avg_px_close", "realized_pnl",
                            "ts_opened", "ts_closed")}  # fmt: skip
    with pytest.raises(ValueError, match="unknown trade side 'flat'"):
        split_trades({**log, "side": ["flat"]}, [1], [1.0], [1.0])
    assert half_spread_at([0, 150], [100, 200], [1.0, 1.0], [1.2, 1.4]).tolist() == pytest.approx(
        [0.1, 0.1]
    )
