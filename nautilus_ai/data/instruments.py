"""Nautilus glue: build FX ``CurrencyPair`` instruments from the pair table.

Trading terms (lot size, margins, fees) default to NautilusTrader's own reference FX instrument
(``TestInstrumentProvider.default_fx_ccy``) so backtests compare with its examples; they are
modelling assumptions, not a broker's terms, and every one is a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from nautilus_trader.model.identifiers import InstrumentId, Symbol, Venue
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Currency, Price, Quantity

from nautilus_ai.data.symbols import FxPairSpec, fx_pair_spec

__all__ = ["fx_instrument"]


def fx_instrument(
    symbol: str,
    venue: str = "SIM",
    *,
    table: Mapping[str, FxPairSpec] | None = None,
    lot_size: int = 1_000,
    min_quantity: int = 1_000,
    max_quantity: int = 10_000_000,
    margin_init: Decimal = Decimal("0.03"),
    margin_maint: Decimal = Decimal("0.03"),
    maker_fee: Decimal = Decimal("0.00002"),
    taker_fee: Decimal = Decimal("0.00002"),
) -> CurrencyPair:
    """A spot FX ``CurrencyPair`` with the pair's quote precision.

    Parameters
    ----------
    symbol : str
        ``"EUR/USD"`` (or ``"EURUSD"``); must be in ``table``.
    venue : str
        Venue code, ``"SIM"`` for backtests.
    table : mapping, optional
        Pair specs; default :data:`nautilus_ai.data.DEFAULT_FX_PAIRS`.
    lot_size, min_quantity, max_quantity : int
        Order size terms in base units.
    margin_init, margin_maint, maker_fee, taker_fee : Decimal
        Fractions of notional.

    Returns
    -------
    CurrencyPair
        ``ts_event = ts_init = 0`` so that writing it again to a catalog overwrites the same
        file (idempotent).
    """
    spec = fx_pair_spec(symbol, table)
    if not 0 < min_quantity <= max_quantity:
        raise ValueError(
            f"need 0 < min_quantity <= max_quantity, got {min_quantity} and {max_quantity}"
        )
    precision = spec.price_precision
    return CurrencyPair(
        instrument_id=InstrumentId(Symbol(spec.symbol), Venue(venue)),
        raw_symbol=Symbol(spec.symbol),
        base_currency=Currency.from_str(spec.base),
        quote_currency=Currency.from_str(spec.quote),
        price_precision=precision,
        size_precision=0,
        price_increment=Price(10.0**-precision, precision),
        size_increment=Quantity.from_int(1),
        lot_size=Quantity.from_int(lot_size),
        max_quantity=Quantity.from_int(max_quantity),
        min_quantity=Quantity.from_int(min_quantity),
        max_price=None,
        min_price=None,
        max_notional=None,
        min_notional=None,
        margin_init=margin_init,
        margin_maint=margin_maint,
        maker_fee=maker_fee,
        taker_fee=taker_fee,
        ts_event=0,
        ts_init=0,
    )
