"""merge_by_timestamp against a plain dict model (ts -> group of rows), on random tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nautilus_ai.data.merge import (
    CONFLICT_POLICIES,
    MergeCounts,
    check_conflict_policy,
    merge_by_timestamp,
)

Group = tuple[tuple[int, int], ...]


def _table(groups: dict[int, Group]) -> pa.Table:
    ts = [t for t in sorted(groups) for _ in groups[t]]
    price = [row[0] for t in sorted(groups) for row in groups[t]]
    size = [row[1] for t in sorted(groups) for row in groups[t]]
    return pa.table(
        {
            "price": pa.array(price, pa.int64()),
            "size": pa.array(size, pa.int64()),
            "ts_event": pa.array(ts, pa.uint64()),
            "ts_init": pa.array(ts, pa.uint64()),
        }
    )


def _groups(table: pa.Table) -> dict[int, Group]:
    out: dict[int, list[tuple[int, int]]] = {}
    for price, size, ts in zip(
        table.column("price").to_pylist(),
        table.column("size").to_pylist(),
        table.column("ts_init").to_pylist(),
        strict=True,
    ):
        out.setdefault(ts, []).append((price, size))
    return {t: tuple(rows) for t, rows in out.items()}


def model(stored: dict[int, Group], new: dict[int, Group], policy: str) -> tuple[dict, dict]:
    """The merge, spelled out: what the catalog should hold, and the counts."""
    result = dict(stored)
    counts = dict(rows_in=0, added=0, unchanged=0, changed=0, replaced=0, skipped=0, conflicts=0)
    for ts, group in new.items():
        counts["rows_in"] += len(group)
        if ts not in stored:
            counts["added"] += len(group)
            result[ts] = group
        elif stored[ts] == group:
            counts["unchanged"] += len(group)
        else:
            counts["conflicts"] += 1
            if policy == "replace":
                counts["changed"] += len(group)
                counts["replaced"] += len(stored[ts])
                result[ts] = group
            else:
                counts["skipped"] += len(group)
    counts["kept"] = sum(len(g) for ts, g in stored.items() if ts not in new)
    return result, counts


rows = st.tuples(st.integers(0, 2), st.integers(0, 1))
groups = st.dictionaries(
    st.integers(0, 30), st.lists(rows, min_size=1, max_size=3).map(tuple), max_size=25
)


@settings(deadline=None, max_examples=300)
@given(stored=groups, new=groups, policy=st.sampled_from(CONFLICT_POLICIES))
def test_merge_matches_the_model(stored: dict, new: dict, policy: str) -> None:
    merged, counts = merge_by_timestamp(_table(stored), _table(new), policy)  # type: ignore[arg-type]
    expected, expected_counts = model(stored, new, policy)
    assert {k: getattr(counts, k) for k in expected_counts} == expected_counts
    if policy == "error" and expected_counts["conflicts"]:
        assert merged is None
        return
    assert merged is not None
    assert _groups(merged) == expected
    ts = merged.column("ts_init").to_numpy()
    assert np.all(np.diff(ts.astype(np.int64)) >= 0)
    assert counts.modifies == bool(expected_counts["added"] + expected_counts["changed"])


def test_identical_data_is_unchanged_and_modifies_nothing() -> None:
    data = {1: ((1, 0),), 2: ((2, 0), (2, 1)), 5: ((0, 0),)}
    merged, counts = merge_by_timestamp(_table(data), _table(data), "error")
    assert counts == MergeCounts(rows_in=4, unchanged=4)
    assert merged is not None and not counts.modifies


def test_first_conflict_and_policy_check() -> None:
    _, counts = merge_by_timestamp(
        _table({3: ((1, 0),), 7: ((1, 0),)}), _table({7: ((2, 0),)}), "keep"
    )
    assert (counts.conflicts, counts.first_conflict_ns, counts.skipped) == (1, 7, 1)
    with pytest.raises(ValueError, match="on_conflict must be one of error, replace, keep"):
        check_conflict_policy("overwrite")


def test_columns_must_match() -> None:
    other = _table({1: ((1, 0),)}).rename_columns(["bid", "size", "ts_event", "ts_init"])
    with pytest.raises(ValueError, match="differ"):
        merge_by_timestamp(_table({1: ((1, 0),)}), other, "replace")
