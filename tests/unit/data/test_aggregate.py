"""bars_from_prices: bad input is refused naming the argument (and the row), never NaN bars."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nautilus_ai.data import bars_from_prices

MINUTE = 60_000_000_000
TS = np.arange(1, 7, dtype=np.int64) * 20_000_000_000  # 3 samples a minute
PRICE = np.array([1.1, 1.2, 1.0, 1.3, 1.25, 1.2])
VOLUME = np.ones(6)


def test_lists_are_accepted_and_give_the_same_bars() -> None:
    bars = bars_from_prices(list(TS), list(PRICE), list(VOLUME), MINUTE)
    same = bars_from_prices(TS, PRICE, VOLUME, MINUTE)
    np.testing.assert_array_equal(bars.high, same.high)
    np.testing.assert_array_equal(bars.ts_event, same.ts_event)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((TS, np.where(np.arange(6) == 2, np.nan, PRICE), VOLUME, MINUTE), r"price: row 2 .*nan"),
        ((TS, PRICE, np.where(np.arange(6) == 4, np.inf, VOLUME), MINUTE), r"volume: row 4 .*inf"),
        ((TS, PRICE[:-1], VOLUME, MINUTE), r"price has 5 rows, ts has 6"),
        ((TS.astype(float), PRICE, VOLUME, MINUTE), r"ts must hold integers"),
        ((TS, PRICE.astype(str), VOLUME, MINUTE), r"price must hold numbers"),
        ((TS, PRICE.reshape(2, 3), VOLUME, MINUTE), r"price must be one-dimensional"),
        ((TS, PRICE, VOLUME, "60"), r"period_ns must be an int"),
        ((TS, PRICE, VOLUME, 60.5), r"period_ns must be an int"),
        ((TS, PRICE, VOLUME, True), r"period_ns must be an int"),
        ((None, PRICE, VOLUME, MINUTE), r"ts must be one-dimensional"),
    ],
)
def test_bad_input_is_refused_naming_the_argument(args: tuple[Any, ...], match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        bars_from_prices(*args)
