"""StrategyAccount: the decision core's view of a strategy's account and position (Nautilus
glue for :class:`~nautilus_ai.decision.AccountView`)."""

from __future__ import annotations

from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.trading.strategy import Strategy

from nautilus_ai.adapters.exits import PositionExits

__all__ = ["StrategyAccount"]


class StrategyAccount:
    """Position side, equity and free margin of ``strategy`` on ``instrument_id``; orders in
    flight from its :class:`PositionExits`. Asked only when the core needs an answer."""

    __slots__ = ("_exits", "_instrument_id", "_strategy")

    def __init__(
        self, strategy: Strategy, instrument_id: InstrumentId, exits: PositionExits
    ) -> None:
        self._strategy = strategy
        self._instrument_id = instrument_id
        self._exits = exits

    def position_side(self) -> int:
        # One query: the net position as a Decimal (is_flat / is_net_long each ask it again).
        net = self._strategy.portfolio.net_position(self._instrument_id)
        if not net:
            return 0
        return 1 if net > 0 else -1

    def equity_and_free_margin(self) -> tuple[float, float]:
        strategy = self._strategy
        account = strategy.portfolio.account(self._instrument_id.venue)
        if account is None:
            return 0.0, 0.0
        currency = account.base_currency
        if currency is None:
            instrument = strategy.cache.instrument(self._instrument_id)
            currency = instrument.quote_currency if instrument is not None else None
        # One lookup for total and free (balance_total and balance_free each look it up).
        balance = None if currency is None else account.balance(currency)
        unrealized = strategy.portfolio.unrealized_pnl(self._instrument_id)
        equity = (balance.total.as_double() if balance is not None else 0.0) + (
            unrealized.as_double() if unrealized else 0.0
        )
        return equity, balance.free.as_double() if balance is not None else 0.0

    def orders_in_flight(self) -> bool:
        return self._exits.busy()
