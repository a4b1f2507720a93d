"""FX pair facts: quote precision and pip size per pair, in one table callers can extend.

Precision is the number of decimals the market quotes (5 for EUR/USD-style pairs, 3 for JPY
pairs and gold), so a price written at that precision is exact. The pip is the conventional
price step traders talk in (0.0001, or 0.01 for JPY pairs), used for spreads and spike limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_FX_PAIRS", "FxPairSpec", "fx_pair_spec", "normalize_fx_symbol"]

_PAIR = re.compile(r"^([A-Za-z]{3})[/_\-\s]?([A-Za-z]{3})$")


@dataclass(frozen=True)
class FxPairSpec:
    """Quote conventions of one currency pair.

    Parameters
    ----------
    base, quote : str
        ISO codes, upper case (``"EUR"``, ``"USD"``).
    price_precision : int
        Decimals of a quoted price.
    pip_size : float
        One pip in price units.
    """

    base: str
    quote: str
    price_precision: int
    pip_size: float

    def __post_init__(self) -> None:
        for field in ("base", "quote"):
            value = getattr(self, field)
            if not re.fullmatch(r"[A-Z]{3}", value):
                raise ValueError(f"FxPairSpec.{field} must be 3 upper-case letters, got {value!r}")
        if not 0 <= self.price_precision <= 9:
            raise ValueError(
                f"FxPairSpec.price_precision must be in 0..9, got {self.price_precision}"
            )
        if not self.pip_size > 0:
            raise ValueError(f"FxPairSpec.pip_size must be > 0, got {self.pip_size}")

    @property
    def symbol(self) -> str:
        """The Nautilus-style symbol, ``"EUR/USD"``."""
        return f"{self.base}/{self.quote}"


def _spec(pair: str, precision: int, pip: float) -> tuple[str, FxPairSpec]:
    return pair, FxPairSpec(pair[:3], pair[3:], precision, pip)


DEFAULT_FX_PAIRS: Mapping[str, FxPairSpec] = dict(
    [
        *(
            _spec(p, 5, 0.0001)
            for p in (
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
        ),
        *(
            _spec(p, 3, 0.01)
            for p in ("USDJPY", "EURJPY", "GBPJPY", "AUDJPY", "CADJPY", "CHFJPY", "NZDJPY")
        ),
        _spec("XAUUSD", 3, 0.1),
    ]
)


def normalize_fx_symbol(symbol: str) -> str:
    """``"EUR/USD"``, ``"eurusd"``, ``"EUR-USD"``, ``"EUR_USD"`` -> ``"EURUSD"``."""
    match = _PAIR.match(symbol.strip())
    if not match:
        raise ValueError(f"not a currency pair symbol: {symbol!r} (expected like 'EUR/USD')")
    return (match.group(1) + match.group(2)).upper()


def fx_pair_spec(symbol: str, table: Mapping[str, FxPairSpec] | None = None) -> FxPairSpec:
    """Look a pair up in ``table`` (default :data:`DEFAULT_FX_PAIRS`).

    Raises
    ------
    KeyError
        For a pair not in the table, naming it and how to add one.
    """
    key = normalize_fx_symbol(symbol)
    specs = DEFAULT_FX_PAIRS if table is None else table
    try:
        return specs[key]
    except KeyError:
        raise KeyError(
            f"no FX pair spec for {symbol!r}; pass a table with "
            f"FxPairSpec(base={key[:3]!r}, quote={key[3:]!r}, price_precision=..., pip_size=...)"
        ) from None
