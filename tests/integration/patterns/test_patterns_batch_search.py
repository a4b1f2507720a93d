"""The backtest's batch search on the real demo memory, with the default index config: every
answer equals the same query asked alone and brute force over the eligible rows of the query's
probed lists (the IVF answer's definition), computed here independently in float64."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nautilus_ai.patterns import PatternMemory, build_from_catalog, squared_distances

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def _reference(
    memory: PatternMemory, query: np.ndarray, m: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The exact top k among rows [0, m) of the nprobe lists nearest to ``query`` (float64
    distances; centroid ties by list number, row ties by row), or of all rows below the first
    epoch (exact search)."""
    index = memory.index
    q = query.astype(np.float64)
    rows = np.arange(m, dtype=np.int64)
    trained = [e for e, size in enumerate(index.epoch_rows) if size <= m]
    if trained:
        epoch = index._epochs[trained[-1]]
        centroid_d = squared_distances(epoch.centroids, q)
        nearest = np.lexsort((np.arange(centroid_d.size), centroid_d))[: index.config.nprobe]
        rows = rows[np.isin(epoch.lists[:m], nearest)]
    distances = squared_distances(index.vectors[rows], q)
    order = np.lexsort((rows, distances))[:k]
    return rows[order], distances[order]


def test_batch_search_equals_single_queries_and_brute_force_on_the_demo_memory(
    demo_catalog: Path,
) -> None:
    every = build_from_catalog(demo_catalog, BAR_TYPE)
    train_end = int(np.datetime64("2017-04-10", "ns").astype(np.int64))
    memory = PatternMemory(every.take(np.flatnonzero(every.ts_event < train_end)))
    later = np.flatnonzero(every.ts_event >= train_end)
    memory.add(every.take(later[:30_000]))  # learned live (the backtest adds them as they mature)
    assert len(memory.index.epoch_rows) == 2 and len(memory) > 130_000
    # A backtest block: 4,096 consecutive May bars (scored list by list), plus early queries
    # with fewer eligible rows than the first epoch (exact) and at each epoch's boundary.
    may = np.flatnonzero(every.ts_event >= int(np.datetime64("2017-05-02", "ns").astype(np.int64)))
    block = may[:4096]
    queries = np.ascontiguousarray(every.vectors[block])
    counts = memory.eligible_count(every.ts_event[block])
    counts[:6] = [0, 7, 16_383, 16_384, 65_535, 65_536]
    k = 20
    ids, distances = memory.index.search(queries, counts, k)
    rng = np.random.default_rng(14)
    sample = np.concatenate([np.arange(6), rng.choice(np.arange(6, block.size), 60, replace=False)])
    for j in sample.tolist():
        one_ids, one_d = memory.index.search(queries[j : j + 1], counts[j : j + 1], k)
        assert np.array_equal(one_ids[0], ids[j]) and one_d[0].tobytes() == distances[j].tobytes()
        want, want_d = _reference(memory, queries[j], int(counts[j]), k)
        got = ids[j][ids[j] >= 0]
        assert np.array_equal(got, want), j
        assert distances[j][: got.size].tobytes() == want_d.tobytes(), j
        assert (got < counts[j]).all()
