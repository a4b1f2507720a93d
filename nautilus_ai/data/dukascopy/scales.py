"""Dukascopy price scales: price = integer points / scale, per instrument, in an extendable table.

Values from dukascopy-node's instrument metadata (``decimalFactor``), built from Dukascopy's
instrument API: 1e5 for EURUSD-style pairs, 1e3 for JPY pairs and XAUUSD.
"""

from __future__ import annotations

from collections.abc import Mapping

from nautilus_ai.data.symbols import normalize_fx_symbol

__all__ = ["DUKASCOPY_PRICE_SCALES", "dukascopy_symbol", "price_scale"]

DUKASCOPY_PRICE_SCALES: Mapping[str, int] = {
    **{
        s: 100_000
        for s in (
            "EURUSD",
            "GBPUSD",
            "AUDUSD",
            "NZDUSD",
            "USDCHF",
            "USDCAD",
            "EURGBP",
            "EURCHF",
            "EURAUD",
            "EURCAD",
            "GBPCHF",
            "AUDNZD",
            "AUDCAD",
            "USDHKD",
        )
    },
    **{
        s: 1_000
        for s in ("USDJPY", "EURJPY", "GBPJPY", "AUDJPY", "CADJPY", "CHFJPY", "NZDJPY", "XAUUSD")
    },
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
