"""The FX fill and fee models refuse settings that cannot work, and never book a level a venue
could not hold (found by the backtest CLI probe: levels=10**9 ran out of memory after --check
said OK; top_size=1e300 failed the run; a deep book priced bids below 0; a negative minimum
commission passed)."""

from __future__ import annotations

import pytest
from nautilus_trader.model.enums import OrderSide
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.test_kit.stubs.execution import TestExecStubs

from nautilus_ai.backtest.execution import (
    MAX_LEVELS,
    FXCommissionFeeModelConfig,
    FXDepthFillModel,
    FXDepthFillModelConfig,
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"levels": 10**9}, rf"levels must be in \[1, {MAX_LEVELS}\]"),
        ({"levels": 0}, "levels must be in"),
        ({"top_size": 1e300}, "top_size must be > 0 and at most 34,028,236,692,093"),
        ({"top_size": float("nan")}, "top_size must be > 0"),
    ],
)
def test_fill_settings_that_cannot_work_are_refused(
    changes: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        FXDepthFillModelConfig(**changes)  # type: ignore[arg-type]


def test_a_negative_minimum_commission_is_refused() -> None:
    with pytest.raises(ValueError, match="minimum must be >= 0"):
        FXCommissionFeeModelConfig(minimum="-2.00 USD")


def _book(config: FXDepthFillModelConfig, quantity: int) -> list[tuple[str, float, float]]:
    instrument = TestInstrumentProvider.default_fx_ccy("EUR/USD")
    order = TestExecStubs.market_order(
        instrument=instrument, order_side=OrderSide.SELL, quantity=Quantity.from_int(quantity)
    )
    book = FXDepthFillModel(config).get_orderbook_for_fill_simulation(
        instrument, order, Price.from_str("1.06000"), Price.from_str("1.06003")
    )
    assert book is not None
    return [("bid", lv.price.as_double(), lv.size()) for lv in book.bids()] + [
        ("ask", lv.price.as_double(), lv.size()) for lv in book.asks()
    ]


def test_bid_levels_stop_above_zero_and_the_deepest_takes_the_rest() -> None:
    levels = _book(FXDepthFillModelConfig(depth_ticks=50_000, levels=5), 18_000_000)
    bids = [(price, size) for side, price, size in levels if side == "bid"]
    assert [price for price, _ in bids] == [1.06, 0.56, 0.06]  # not -0.44, -0.94
    assert bids[-1][1] == 18_000_000 and bids[0][1] == 2_000_000
