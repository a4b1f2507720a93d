"""Catalog fixed-point decoding: 128-bit raw values to float64 exactly as Nautilus' ``as_double``
(``raw as f64 / 10**FIXED_PRECISION``, the correctly rounded i128 -> f64), vectorised or not."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st
from nautilus_trader.model.objects import FIXED_PRECISION, Quantity

from nautilus_ai.data.catalog import fixed_point_to_float

SCALE = float(10**FIXED_PRECISION)
I128 = st.integers(min_value=-(2**127), max_value=2**127 - 1)
# Where the rounding is decided: near powers of two, in and just past the vectorised range
# (|v| < 2**84), with the low bits that make ties and near-ties.
EDGES = st.builds(
    lambda e, low, sign: sign * ((1 << e) + low),
    st.integers(min_value=52, max_value=90),
    st.integers(min_value=0, max_value=2**40),
    st.sampled_from([1, -1]),
)

# Two words whose sum rounds once but whose low word alone rounds too: a decoder that adds
# float(high) * 2**64 and float(low) rounds twice and misses ties (e.g. 2**64 + 2**63 + 2**11 + 1).
SPLIT = st.builds(
    lambda high, a, b, c, sign: sign * ((high << 64) + (1 << a) + (1 << b) + c),
    st.integers(min_value=0, max_value=2**21),
    st.integers(min_value=53, max_value=63),
    st.integers(min_value=0, max_value=62),
    st.integers(min_value=0, max_value=3),
    st.sampled_from([1, -1]),
)


def _column(values: list[int]) -> pa.Array:
    return pa.array([v.to_bytes(16, "little", signed=True) for v in values], type=pa.binary(16))


@given(st.lists(st.one_of(I128, EDGES, SPLIT, st.integers(-(2**63), 2**63 - 1)), max_size=64))
def test_every_value_decodes_as_python_float_of_the_integer(values: list[int]) -> None:
    got = fixed_point_to_float(_column(values), "x").tolist()
    assert got == [float(v) / SCALE for v in values]


def test_real_sizes_decode_as_nautilus_as_double() -> None:
    # Sizes of quotes and bars: millions of units at 16 decimals are past 64 bits.
    sizes = [Quantity.from_str(s) for s in ("1.5", "1000000", "2750000.25", "0.01", "123456789.12")]
    raws = [q.raw for q in sizes]
    assert max(abs(r) for r in raws) >= 2**63  # the wide path is exercised
    got = fixed_point_to_float(_column(raws), "size").tolist()
    assert got == [q.as_double() for q in sizes]


def test_an_offset_slice_decodes_its_own_rows() -> None:
    values = [2**70 + 3, -(2**90) - 1, 5, 2**84, -(2**84) + 1, 2**64 + 2**63 + 2**11 + 1, -(2**127)]
    column = _column(values).slice(1, 6)
    assert fixed_point_to_float(column, "x").tolist() == [float(v) / SCALE for v in values[1:7]]


def test_a_price_off_the_instruments_grid_is_named_by_its_time() -> None:
    # A CSV of EUR/USD prices with 7 decimals was refused as 'EUR/USD.SIM-1-HOUR-ASK-EXTERNAL
    # open: row 0 value np.float64(1.0523637) has more than 5 decimals': a row number of the
    # merged, validated series, which no file has, in numpy's repr.
    import numpy as np
    import pytest

    from nautilus_ai.data import BarArrays, QuoteArrays
    from nautilus_ai.data.catalog import bars_series, quotes_series
    from nautilus_ai.data.instruments import fx_instrument

    instrument = fx_instrument("EUR/USD", "SIM")
    ts = np.array([1_483_311_600_000_000_000, 1_483_315_200_000_000_000], dtype=np.int64)
    prices = np.array([1.05236, 1.0523637])
    bars = BarArrays(ts, prices, prices + 0.001, prices - 0.001, prices, np.zeros(2))
    with pytest.raises(
        ValueError,
        match=r"^EUR/USD.SIM-1-HOUR-ASK-EXTERNAL open: the bar closing at "
        r"2017-01-02T00:00:00\.000Z has 1\.0523637, more than the 5 decimals of the "
        r"instrument's prices \(refused, not rounded; 1 such row\(s\)\)$",
    ):
        bars_series(instrument, "EUR/USD.SIM-1-HOUR-ASK-EXTERNAL", bars)
    quotes = QuoteArrays(ts, prices, prices + 0.0001, np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match=r"^EUR/USD.SIM bid: the row at 2017-01-02T00:00:00"):
        quotes_series(instrument, quotes)


def test_a_size_nautilus_cannot_read_is_refused() -> None:
    # A CSV volume of 1e14 (above Nautilus' QUANTITY_MAX, 3.4e13) was stored, exit 0, and the
    # catalog then failed in Nautilus' own reader: a Rust panic in Quantity::from_raw ('raw ...
    # exceeding QUANTITY_RAW_MAX'), so every backtest on the series died.
    import numpy as np
    import pytest

    from nautilus_ai.data import BarArrays, QuoteArrays
    from nautilus_ai.data.catalog import bars_series, quotes_series
    from nautilus_ai.data.instruments import fx_instrument

    instrument = fx_instrument("EUR/USD", "SIM")
    ts = np.array([1_483_311_600_000_000_000, 1_483_315_200_000_000_000], dtype=np.int64)
    prices = np.array([1.05236, 1.05237])
    volume = np.array([1.6e11, 1e14])
    bars = BarArrays(ts, prices, prices, prices, prices, volume)
    with pytest.raises(
        ValueError,
        match=r"^EUR/USD.SIM-1-HOUR-BID-EXTERNAL volume: the bar closing at "
        r"2017-01-02T00:00:00\.000Z has 1e\+14, beyond the largest size Nautilus reads",
    ):
        bars_series(instrument, "EUR/USD.SIM-1-HOUR-BID-EXTERNAL", bars)
    quotes = QuoteArrays(ts, prices, prices + 0.0001, np.zeros(2), volume)
    with pytest.raises(ValueError, match=r"^EUR/USD.SIM ask_size: the row at 2017-01-02T00:00"):
        quotes_series(instrument, quotes)
    ok = BarArrays(ts, prices, prices, prices, prices, np.array([1.6e11, 3.4e13]))
    assert bars_series(instrument, "EUR/USD.SIM-1-HOUR-BID-EXTERNAL", ok).table.num_rows == 2


def test_a_size_rounding_would_change_is_refused() -> None:
    # EUR/USD sizes are whole units: a CSV of volumes in millions (0.14, 0.25, 1.3) was stored
    # as 0, 0 and 1, exit 0, the volumes gone without a word. Whole-unit sizes, and fractions
    # that rounding changes by less than 1 % (Dukascopy's CSV 143539993.3), still go in.
    import numpy as np
    import pytest

    from nautilus_ai.data import BarArrays, QuoteArrays
    from nautilus_ai.data.catalog import bars_series, quotes_series
    from nautilus_ai.data.instruments import fx_instrument

    instrument = fx_instrument("EUR/USD", "SIM")
    ts = np.array([1_483_311_600_000_000_000, 1_483_315_200_000_000_000], dtype=np.int64)
    prices = np.array([1.05236, 1.05237])
    bars = BarArrays(ts, prices, prices, prices, prices, np.array([143_539_993.3, 0.14]))
    with pytest.raises(
        ValueError,
        match=r"^EUR/USD.SIM-1-HOUR-BID-EXTERNAL volume: the bar closing at "
        r"2017-01-02T00:00:00\.000Z has 0\.14, which the instrument's sizes \(0 decimals\) "
        r"would store as 0 \(1 such row\(s\)\).*lots or millions\?",
    ):
        bars_series(instrument, "EUR/USD.SIM-1-HOUR-BID-EXTERNAL", bars)
    quotes = QuoteArrays(ts, prices, prices + 0.0001, np.array([1.3, 2.0]), np.zeros(2))
    with pytest.raises(ValueError, match=r"^EUR/USD.SIM bid_size: the row at 2017-01-01T23:00"):
        quotes_series(instrument, quotes)
    ok = BarArrays(ts, prices, prices, prices, prices, np.array([143_539_993.3, 0.0]))
    assert bars_series(instrument, "EUR/USD.SIM-1-HOUR-BID-EXTERNAL", ok).table.num_rows == 2
