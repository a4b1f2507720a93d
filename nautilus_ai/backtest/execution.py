"""Execution realism for FX backtests: a commission schedule and a depth-aware fill model.

Nautilus glue (imports ``nautilus_trader``). Referenced from run configs by dotted path, e.g.::

    fee_model:
      fee_model_path: nautilus_ai.backtest.execution:FXCommissionFeeModel
      config_path: nautilus_ai.backtest.execution:FXCommissionFeeModelConfig
      config: {bps: 0.2, minimum: "2.00 USD"}

Why these defaults: a retail/professional FX ECN account (Interactive Brokers IDEALPRO style)
pays about 0.2 basis points of the traded notional with a 2 USD minimum per order, on top of the
spread. Nautilus' bundled fee models cover either a flat fee or a notional rate, not both.
"""

from __future__ import annotations

from nautilus_trader.backtest.config import FeeModelConfig, FillModelConfig
from nautilus_trader.backtest.models import FeeModel, FillModel
from nautilus_trader.model.book import OrderBook
from nautilus_trader.model.data import BookOrder
from nautilus_trader.model.enums import BookType, OrderSide
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.model.objects import QUANTITY_MAX, Money, Price, Quantity
from nautilus_trader.model.orders import Order

__all__ = [
    "MAX_LEVELS",
    "FXCommissionFeeModel",
    "FXCommissionFeeModelConfig",
    "FXDepthFillModel",
    "FXDepthFillModelConfig",
]


#: The synthetic book is built for every fill: levels=10**9 took 23 GB and the OOM killer.
MAX_LEVELS = 1_000


class FXCommissionFeeModelConfig(FeeModelConfig, frozen=True):
    """
    Parameters
    ----------
    bps : float, default 0.2
        Commission in basis points of the fill's notional (quote currency).
    minimum : str, default "2.00 USD"
        Minimum commission per order, charged on its first fill.
    """

    bps: float = 0.2
    minimum: str = "2.00 USD"

    def __post_init__(self) -> None:
        if not (0.0 <= self.bps < 100.0):
            raise ValueError(f"bps must be in [0, 100), was {self.bps!r}")
        if Money.from_str(self.minimum).as_double() < 0.0:  # raises naming a bad value
            raise ValueError(
                f"minimum must be >= 0 (a commission, not a rebate), was {self.minimum!r}"
            )


class FXCommissionFeeModel(FeeModel):
    """Notional-based commission (``bps``) with a per-order minimum."""

    def __init__(self, config: FXCommissionFeeModelConfig | None = None) -> None:
        super().__init__()
        config = config or FXCommissionFeeModelConfig()
        self._rate = config.bps / 10_000.0
        self._minimum = Money.from_str(config.minimum)

    def get_commission(
        self,
        order: Order,
        fill_qty: Quantity,
        fill_px: Price,
        instrument: Instrument,
    ) -> Money:
        notional = instrument.notional_value(fill_qty, fill_px).as_double()
        commission = notional * self._rate
        currency = instrument.quote_currency
        if order.filled_qty.as_double() == 0.0 and currency == self._minimum.currency:
            commission = max(commission, self._minimum.as_double())
        return Money(commission, currency)


class FXDepthFillModelConfig(FillModelConfig, frozen=True):
    """
    Parameters
    ----------
    top_size : float, default 2_000_000
        Units available at the best bid / ask (FX ECN top of book is a few million for EUR/USD).
    depth_ticks : int, default 2
        Each further level is this many ticks worse and holds ``top_size`` again.
    levels : int, default 5
        Number of levels, at most :data:`MAX_LEVELS`; orders larger than the whole book fill
        the rest at the last level. Bid levels stop above a price of 0 (the deepest positive
        one takes the rest).
    """

    top_size: float = 2_000_000.0
    depth_ticks: int = 2
    levels: int = 5

    def __post_init__(self) -> None:
        if not 0.0 < self.top_size <= QUANTITY_MAX:
            raise ValueError(
                f"top_size must be > 0 and at most {QUANTITY_MAX:,.0f} (the largest quantity), "
                f"was {self.top_size!r}"
            )
        if self.depth_ticks < 1:
            raise ValueError(f"depth_ticks must be >= 1, was {self.depth_ticks!r}")
        if not 1 <= self.levels <= MAX_LEVELS:
            raise ValueError(
                f"levels must be in [1, {MAX_LEVELS}] (a synthetic book of that many levels is "
                f"built for every fill), was {self.levels!r}"
            )


class FXDepthFillModel(FillModel):
    """Market orders fill against a synthetic book built around the current bid / ask.

    Nautilus' bar execution turns bar volume / 4 into the top-of-book size, and FX bars often
    carry no real volume, so a default L1 book fills large orders in crumbs or not at all. This
    model gives ``top_size`` units at the quote and walks ``depth_ticks`` per further level, so
    big orders pay for their size instead of getting the touch for free.
    """

    def __init__(self, config: FXDepthFillModelConfig | None = None) -> None:
        config = config or FXDepthFillModelConfig()
        super().__init__(config=config)
        self._top_size = config.top_size
        self._depth_ticks = config.depth_ticks
        self._levels = config.levels

    def get_orderbook_for_fill_simulation(
        self,
        instrument: Instrument,
        order: Order,
        best_bid: Price,
        best_ask: Price,
    ) -> OrderBook | None:
        book = OrderBook(instrument_id=instrument.id, book_type=BookType.L2_MBP)
        tick = instrument.price_increment.as_double()
        precision = instrument.price_precision
        size = Quantity(self._top_size, instrument.size_precision)
        last = Quantity(max(self._top_size, order.quantity.as_double()), instrument.size_precision)
        bid, ask = best_bid.as_double(), best_ask.as_double()
        step = self._depth_ticks * tick
        # Bid levels at prices > 0 only: the deepest of them takes the rest.
        bid_levels = self._levels
        while bid_levels > 1 and Price(bid - (bid_levels - 1) * step, precision).as_double() <= 0:
            bid_levels -= 1
        order_id = 1
        for level in range(self._levels):
            offset = level * step
            if level < bid_levels:
                book.add(
                    BookOrder(
                        OrderSide.BUY,
                        Price(bid - offset, precision),
                        last if level == bid_levels - 1 else size,
                        order_id,
                    ),
                    0,
                    0,
                )
            book.add(
                BookOrder(
                    OrderSide.SELL,
                    Price(ask + offset, precision),
                    last if level == self._levels - 1 else size,
                    order_id + 1,
                ),
                0,
                0,
            )
            order_id += 2
        return book
