"""Catalog layout helpers agree with Nautilus' own naming."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.objects import Price, Quantity
from nautilus_trader.persistence.catalog import ParquetDataCatalog
from nautilus_trader.persistence.funcs import class_to_filename

from nautilus_ai.catalog import DecisionOutcome, FeatureSnapshot
from nautilus_ai.catalog.reader import file_interval
from nautilus_ai.catalog.schema import (
    OUTCOME_DIR,
    SNAPSHOT_DIR,
    check_identifier,
    ns_to_file_timestamp,
    parquet_file_name,
)

NS_MAX = 4_102_444_800 * 10**9  # 2100-01-01


BAR_TYPE = BarType.from_str("EUR/USD.SIM-1-MINUTE-BID-EXTERNAL")


def _bar(ts: int) -> Bar:
    price = Price.from_str("1.05000")
    return Bar(BAR_TYPE, price, price, price, price, Quantity.from_int(1), ts, ts)


# Nautilus' own writer and reader, through its public API (its name helpers are private and
# move between releases): the file ``catalog.write_data`` creates is named as we name it, and
# ``catalog.get_intervals`` reads our name back as the same interval.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.integers(0, NS_MAX), st.integers(1, 10**12))
def test_file_name_equals_nautilus(tmp_path: Path, first: int, span: int) -> None:
    last = first + span
    root = tmp_path / f"c{first}-{span}"
    catalog = ParquetDataCatalog(str(root))
    catalog.write_data([_bar(first), _bar(last)])
    (written,) = sorted((root / "data" / "bar").rglob("*.parquet"))
    assert written.name == parquet_file_name(first, last)
    assert file_interval(parquet_file_name(first, last)) == (first, last)
    assert catalog.get_intervals(Bar, str(BAR_TYPE)) == [(first, last)]


def test_file_timestamp_format() -> None:
    assert ns_to_file_timestamp(1_483_340_460_000_000_007) == "2017-01-02T07-01-00-000000007Z"
    with pytest.raises(ValueError, match="before the first"):
        parquet_file_name(10, 9)
    with pytest.raises(ValueError, match=">= 0"):
        ns_to_file_timestamp(-1)


def test_folders_are_what_nautilus_derives_from_the_classes() -> None:
    assert class_to_filename(FeatureSnapshot) == SNAPSHOT_DIR
    assert class_to_filename(DecisionOutcome) == OUTCOME_DIR


@pytest.mark.parametrize("bad", ["", "a/b", "../x", ".hidden", "a b", "x" * 129, "é"])
def test_bad_identifiers_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="run_id must be"):
        check_identifier(bad)


def test_good_identifier() -> None:
    assert check_identifier("EURUSD.SIM-20170101T000000-ab12") == "EURUSD.SIM-20170101T000000-ab12"


def test_file_interval_ignores_other_names() -> None:
    assert file_interval("notes.parquet") is None
    assert file_interval(".x.parquet.ab12.tmp") is None
