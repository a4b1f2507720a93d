"""Dukascopy price scales: price = integer points / scale, per instrument.

Dukascopy stores prices as integer points at the market's quote precision (dukascopy-node's
``decimalFactor``: 1e5 for EURUSD-style pairs, 1e3 for JPY pairs and XAUUSD), so the scale of a
pair is ``10 ** price_precision`` of its :data:`~nautilus_ai.data.symbols.DEFAULT_FX_PAIRS` entry:
the instrument list lives in that one table.
"""

from __future__ import annotations

from collections.abc import Mapping

from nautilus_ai.data.symbols import DEFAULT_FX_PAIRS, normalize_fx_symbol

__all__ = ["DUKASCOPY_PRICE_SCALES", "dukascopy_symbol", "price_scale"]

DUKASCOPY_PRICE_SCALES: Mapping[str, int] = {
    symbol: 10**spec.price_precision for symbol, spec in DEFAULT_FX_PAIRS.items()
}


def dukascopy_symbol(symbol: str) -> str:
    """Dukascopy's path symbol: upper case, no separator (``"EUR/USD"`` -> ``"EURUSD"``)."""
    return normalize_fx_symbol(symbol)


def price_scale(symbol: str, table: Mapping[str, int] | None = None) -> int:
    """Points per price unit for ``symbol``.

    Raises
    ------
    KeyError
        For a symbol not in the table, naming it.
    """
    key = dukascopy_symbol(symbol)
    scales = DUKASCOPY_PRICE_SCALES if table is None else table
    try:
        return scales[key]
    except KeyError:
        raise KeyError(
            f"no Dukascopy price scale for {key!r}; pass a table such as {{{key!r}: 100000}}"
        ) from None
