"""Catalog file names: the Nautilus convention, round trip, and junk rejected (no Nautilus; the
names are compared with Nautilus' own writer in tests/integration/data)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nautilus_ai.data.catalog_layout import (
    file_timestamp_to_ns,
    ns_to_file_timestamp,
    parquet_file_name,
    parse_parquet_file_name,
    series_directory,
)

# Up to 9999-12-31: the four-digit years both Nautilus versions write.
NS = st.integers(min_value=0, max_value=253_402_300_799_999_999_999)


@given(first=NS, length=st.integers(min_value=0, max_value=10**15))
def test_names_round_trip(first: int, length: int) -> None:
    last = min(first + length, 253_402_300_799_999_999_999)
    assert parse_parquet_file_name(parquet_file_name(first, last)) == (first, last)


def test_known_name() -> None:
    name = parquet_file_name(1_483_340_460_000_000_000, 1_498_856_340_000_000_001)
    assert name == "2017-01-02T07-01-00-000000000Z_2017-06-30T20-59-00-000000001Z.parquet"
    assert ns_to_file_timestamp(0) == "1970-01-01T00-00-00-000000000Z"
    assert str(series_directory("/c", "bar", "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL")) == (
        "/c/data/bar/EURUSD.SIM-1-MINUTE-BID-EXTERNAL"
    )


@pytest.mark.parametrize(
    "name",
    [
        "data.parquet",
        "2017-01-02T07-01-00-000000000Z.parquet",
        "2017-01-02T07-01-00-000000000Z_2017-01-02T07-01-00-000000000Z.json",
        "2017-13-02T07-01-00-000000000Z_2017-01-02T07-01-00-000000000Z.parquet",
        "2017-01-02T07-01-00-0000Z_2017-01-02T07-01-00-000000000Z.parquet",
        ".nautilus-ai-provenance.json",
    ],
)
def test_other_names_are_not_catalog_files(name: str) -> None:
    assert parse_parquet_file_name(name) is None


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="before the first"):
        parquet_file_name(2, 1)
    with pytest.raises(ValueError, match=">= 0"):
        ns_to_file_timestamp(-1)
    assert file_timestamp_to_ns("2017-01-02T07:01:00.000000000Z") is None
