"""The pattern memory's pure core on real bars: outcomes, vectors, no look-ahead, exactness,
rebuilds and refused index files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nautilus_ai.patterns import (
    IndexConfig,
    IndexMismatchError,
    OutcomeTracker,
    PatternMemory,
    PatternSpec,
    bar_outcomes,
    brute_force,
    build_from_bars,
    load_memory,
    pattern_layout,
    pattern_vectors,
    save_memory,
    similar_windows,
    write_index,
)
from nautilus_ai.patterns.store import INDEX_FILE

INSTRUMENT = "EUR/USD.SIM"
BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
# Small epochs so that 20k real bars exercise several IVF epochs and the anchor tail.
IVF = IndexConfig(mode="ivf", exact_max=1024, growth=2, nprobe=24)


def test_live_tracker_equals_the_vectorised_outcomes(real_bars: tuple) -> None:
    ts, ohlcv = real_bars
    spec = PatternSpec().label_spec(14)
    batch = bar_outcomes(spec, ts, ohlcv[:, 1], ohlcv[:, 2], ohlcv[:, 3])
    tracker = OutcomeTracker(spec)
    seen = 0
    for i in range(ts.size):
        outcome = tracker.update(int(ts[i]), ohlcv[i, 1], ohlcv[i, 2], ohlcv[i, 3])
        if outcome is None:
            continue
        t = i - spec.horizon
        seen += 1
        assert batch.valid[t]
        assert outcome.ts_event == ts[t] and outcome.available_ns == batch.available_ns[t]
        assert outcome.label == batch.label[t]
        assert outcome.unit == batch.atr[t]  # bit for bit
        assert outcome.forward_return == batch.forward_return[t]
        assert (outcome.mfe, outcome.mae) == (batch.mfe[t], batch.mae[t])
    assert seen == int(batch.valid.sum()) > 19_000
    assert set(np.unique(batch.label[batch.valid]).tolist()) == {-1, 0, 1}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.integers(0, 15_000),
    cuts=st.lists(st.integers(0, 600), min_size=1, max_size=8),
    repeat=st.integers(0, 3),
)
def test_tracker_update_many_equals_update_bar_by_bar(
    real_bars: tuple, start: int, cuts: list[int], repeat: int
) -> None:
    """The batch path's outcome tracker (columns, one call per block) produces the outcomes and
    the state of feeding the same bars one by one, bit for bit; stale bars are ignored alike."""
    ts, ohlcv = real_bars
    spec = PatternSpec().label_spec(14)
    one, many = OutcomeTracker(spec), OutcomeTracker(spec)
    stop = start + sum(cuts) + 40
    expected = []
    for i in range(start, min(stop, ts.size)):
        found = one.update(int(ts[i]), ohlcv[i, 1], ohlcv[i, 2], ohlcv[i, 3])
        if found is not None:
            expected.append(found)
    got = []
    at = start
    for cut in [*cuts, 40]:
        # Each block repeats up to `repeat` bars already seen (ignored, as update ignores them).
        lo = max(start, at - repeat)
        hi = min(at + cut, ts.size)
        block = many.update_many(ts[lo:hi], ohlcv[lo:hi, 1], ohlcv[lo:hi, 2], ohlcv[lo:hi, 3])
        got.extend(
            (int(block.ts_event[j]), float(block.close[j]), float(block.unit[j]),
             int(block.label[j]), float(block.forward_return[j]), float(block.mfe[j]),
             float(block.mae[j]), int(block.available_ns[j]))
            for j in range(len(block))
        )  # fmt: skip
        at = max(at, hi)
    assert got == [
        (o.ts_event, o.close, o.unit, o.label, o.forward_return, o.mfe, o.mae, o.available_ns)
        for o in expected
    ]

    def plain(values: object) -> str:  # nan-safe, numpy- or Python-float alike
        return repr([[float(x) for x in row] for row in values])  # type: ignore[attr-defined]

    assert plain(one._window) == plain(many._window) and one.last_ts == many.last_ts
    assert plain([(one._atr, one._seen, one._seed_total, one._prev_close or 0.0)]) == plain(
        [(many._atr, many._seen, many._seed_total, many._prev_close or 0.0)]
    )
    if one.last_ts >= 0:  # the next bar matures the same outcome on both
        i = min(stop, ts.size - 1)
        assert one.update(int(ts[i]), *ohlcv[i, 1:4]) == many.update(int(ts[i]), *ohlcv[i, 1:4])


def test_one_row_vector_equals_its_row_in_a_batch(real_bars: tuple) -> None:
    from nautilus_ai.features import FeatureSpec, compute_features

    ts, ohlcv = real_bars
    fspec, pspec = FeatureSpec(), PatternSpec()
    features = compute_features(fspec, ts[:3000], *ohlcv[:3000].T)
    windows = np.lib.stride_tricks.sliding_window_view(ohlcv[:3000, 3], pspec.shape_bars)
    rows = np.arange(200, 3000)
    layout = pattern_layout(fspec.names, pspec)
    batch = pattern_vectors(layout, features[rows], windows[rows - 31])
    for j in (0, 17, 1000, 2799):
        one = pattern_vectors(layout, features[rows[j] : rows[j] + 1], windows[rows[j] - 31][None])
        assert one.tobytes() == batch[j].tobytes()
    assert np.isfinite(batch).all() and batch.dtype == np.float32


@pytest.fixture(scope="module")
def patterns(real_bars: tuple):  # type: ignore[no-untyped-def]
    ts, ohlcv = real_bars
    return build_from_bars(ts, ohlcv, instrument_id=INSTRUMENT)


@pytest.mark.parametrize("bars", [0, 1, 31])
def test_fewer_bars_than_one_shape_build_an_empty_store(real_bars: tuple, bars: int) -> None:
    """A window with no bars (a weekend, dates outside the data) or fewer than ``shape_bars``
    builds no pattern: an empty set the caller can report, not a numpy error."""
    ts, ohlcv = real_bars
    patterns = build_from_bars(ts[:bars], ohlcv[:bars], instrument_id=INSTRUMENT)
    assert len(patterns) == 0 and patterns.vectors.shape[0] == 0


def test_store_is_a_time_ordered_prefix(patterns) -> None:  # type: ignore[no-untyped-def]
    assert len(patterns) > 19_000
    assert (np.diff(patterns.available_ns) >= 0).all()
    assert (patterns.available_ns > patterns.ts_event).all()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
@pytest.mark.parametrize("mode", ["exact", "ivf"])
def test_answer_equals_brute_force_over_the_eligible_patterns(patterns, mode, data) -> None:  # type: ignore[no-untyped-def]
    memory = _memory(patterns, mode)
    i = data.draw(st.integers(0, len(patterns) - 1))
    k = data.draw(st.sampled_from([1, 5, 20]))
    when = int(patterns.ts_event[i])
    found = memory.search(patterns.vectors[i], when, k)
    m = int(found.eligible[0])
    assert m == int((patterns.available_ns < when).sum())  # outcome known strictly before t
    rows = found.rows[0][found.rows[0] >= 0]
    assert (patterns.available_ns[rows] < when).all()
    ids, distances = brute_force(patterns.vectors, patterns.vectors[i], m, k)
    if mode == "exact" or m < IVF.exact_max:
        assert np.array_equal(rows, ids)
        assert found.distances[0][: rows.size].tobytes() == distances.tobytes()


@pytest.mark.parametrize("mode", ["exact", "ivf"])
@pytest.mark.parametrize(("eligible", "extra"), [(300, 1), (300, 700), (5000, 1), (5000, 15000)])
def test_k_above_the_eligible_count_returns_every_eligible_pattern(  # type: ignore[no-untyped-def]
    patterns, mode, eligible, extra
) -> None:
    """k larger than the patterns known by then (a young memory, k = 1000): every eligible
    pattern, ranked as brute force ranks them (exact), never an error or a silent cut."""
    memory = _memory(patterns, mode)
    when = int(patterns.available_ns[eligible - 1]) + 1
    i = int(np.searchsorted(patterns.ts_event, when))
    k = eligible + extra
    found = memory.search(patterns.vectors[i], when, k)
    assert int(found.eligible[0]) == eligible
    rows = found.rows[0][found.rows[0] >= 0]
    assert (patterns.available_ns[rows] < when).all() and np.unique(rows).size == rows.size
    if mode == "exact" or eligible < IVF.exact_max:
        ids, distances = brute_force(patterns.vectors, patterns.vectors[i], eligible, k)
        assert rows.size == eligible and np.array_equal(rows, ids)
        assert found.distances[0][:eligible].tobytes() == distances.tobytes()
    else:  # every eligible pattern of the nprobe nearest lists: a larger k adds none
        more = memory.search(patterns.vectors[i], when, k + 1000).rows[0]
        assert np.array_equal(rows, more[more >= 0])
        top = memory.search(patterns.vectors[i], when, 20).rows[0]
        assert rows.size > 20 and np.array_equal(rows[:20], top)


def test_similar_windows_with_k_above_the_store_returns_every_known_pattern(  # type: ignore[no-untyped-def]
    patterns, demo_catalog: Path
) -> None:
    """``patterns query --k 1000000000000``: every pattern known by then, not a (1, k) answer
    array of terabytes."""
    memory = _memory(patterns, "exact")
    at_ns = int(patterns.ts_event[-1])
    found = similar_windows(memory, demo_catalog, BAR_TYPE, at_ns=at_ns, k=10**12)
    assert found.rows.size == found.eligible > 15_000
    with pytest.raises(ValueError, match="k must be >= 1"):
        similar_windows(memory, demo_catalog, BAR_TYPE, at_ns=at_ns, k=0)
    assert "asked" not in found.to_text().splitlines()[0]
    # An IVF memory answers from its probed lists only: fewer than asked, and it says why (the
    # header said "4515 past windows most like ..." for --k 100000, nothing more).
    ivf = _memory(patterns, "ivf")
    fewer = similar_windows(ivf, demo_catalog, BAR_TYPE, at_ns=at_ns, k=10**12)
    assert fewer.rows.size < fewer.eligible
    assert f"{10**12:,} asked: the index's probed lists hold only these" in fewer.to_text()


@pytest.mark.parametrize(
    ("argument", "value", "message"),
    [
        ("at_ns", "2017-01-10", "at_ns must be an int (UTC ns) or None, got '2017-01-10'"),
        ("at_ns", 1.4841e18, "at_ns must be an int (UTC ns) or None, got 1.4841e+18"),
        ("at_ns", True, "at_ns must be an int (UTC ns) or None, got True"),
        ("k", 5.5, "k must be an int, got 5.5"),
        ("k", "5", "k must be an int, got '5'"),
    ],
)
def test_similar_windows_refuses_arguments_it_would_misread(  # type: ignore[no-untyped-def]
    patterns, demo_catalog: Path, argument: str, value: object, message: str
) -> None:
    """``at_ns="2017-01-10"`` was answered at the catalog's last bar (a string compared with
    the bar times), a float time was used rounded, a float k failed deep in numpy."""
    memory = _memory(patterns, "exact")
    with pytest.raises(TypeError) as caught:
        similar_windows(memory, demo_catalog, BAR_TYPE, **{argument: value})
    assert str(caught.value) == message
    with pytest.raises(TypeError, match=r"memory must be a PatternMemory, got '.*' \(open a "):
        similar_windows(str(demo_catalog), demo_catalog, BAR_TYPE)  # type: ignore[arg-type]
    found = similar_windows(memory, demo_catalog, BAR_TYPE, at_ns=np.int64(patterns.ts_event[-1]),
                            k=np.int64(3))  # fmt: skip
    assert found.rows.size == 3


@pytest.mark.parametrize("at_ns", [2**70, -1, -(2**63)])
def test_similar_windows_refuses_a_time_outside_the_ns_clock(  # type: ignore[no-untyped-def]
    patterns, demo_catalog: Path, at_ns: int
) -> None:
    """``at_ns=2**70`` failed with numpy's 'int too big to convert', ``-(2**63)`` said 'no bar
    at or before Na' (NaT cut short)."""
    with pytest.raises(ValueError) as caught:
        similar_windows(_memory(patterns, "exact"), demo_catalog, BAR_TYPE, at_ns=at_ns)
    assert str(caught.value) == f"at_ns must be a UTC ns time in [0, 2**63 - 1], got {at_ns!r}"


def test_ivf_recall_against_exact_search(patterns) -> None:  # type: ignore[no-untyped-def]
    memory = _memory(patterns, "ivf")
    pick = np.random.default_rng(3).choice(np.arange(5000, len(patterns)), 300, replace=False)
    found = memory.search(patterns.vectors[pick], patterns.ts_event[pick], 20)
    recall = []
    for j, i in enumerate(pick):
        ids, _ = brute_force(patterns.vectors, patterns.vectors[i], int(found.eligible[j]), 20)
        recall.append(len(set(ids.tolist()) & set(found.rows[j].tolist())) / ids.size)
    assert np.mean(recall) >= 0.95


_MEMORIES: dict[tuple[int, str], PatternMemory] = {}


def _memory(patterns, mode: str) -> PatternMemory:  # type: ignore[no-untyped-def]
    key = (id(patterns), mode)
    if key not in _MEMORIES:
        config = IVF if mode == "ivf" else IndexConfig(mode="exact")
        _MEMORIES[key] = PatternMemory(patterns, index_config=config)
    return _MEMORIES[key]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(6_000, 12_000),
    seed=st.integers(0, 2**32 - 1),
    how=st.sampled_from(["noise", "reverse", "crash"]),
)
def test_changing_bars_after_t_never_changes_the_answer_at_t(real_bars, cut, seed, how) -> None:  # type: ignore[no-untyped-def]
    """Rebuild the whole store and index from bars that differ after bar ``cut``: every query
    at or before ``cut`` gets the same neighbours (times, distances) in both memories."""
    ts, ohlcv = real_bars
    ts, ohlcv = ts[:14_000], ohlcv[:14_000]
    changed = _change_after(ohlcv, cut, seed, how)
    original = PatternMemory(build_from_bars(ts, ohlcv, instrument_id=INSTRUMENT),
                             index_config=IVF)  # fmt: skip
    other = PatternMemory(build_from_bars(ts, changed, instrument_id=INSTRUMENT),
                          index_config=IVF)  # fmt: skip
    queries = np.random.default_rng(seed).integers(3000, cut + 1, 40)
    layout = pattern_layout(original.feature_spec.names, original.pattern_spec)
    from nautilus_ai.features import compute_features

    features = compute_features(original.feature_spec, ts[: cut + 1], *ohlcv[: cut + 1].T)
    windows = np.lib.stride_tricks.sliding_window_view(ohlcv[: cut + 1, 3], 32)
    vectors = pattern_vectors(layout, features[queries], windows[queries - 31])
    a = original.search(vectors, ts[queries], 20)
    b = other.search(vectors, ts[queries], 20)
    assert np.array_equal(a.eligible, b.eligible)
    assert np.array_equal(original.ts_event[a.rows], other.ts_event[b.rows])
    assert a.distances.tobytes() == b.distances.tobytes()
    # ...while the stores really differ after the cut
    assert not np.array_equal(original.vectors[-100:], other.vectors[-100:])


def _change_after(ohlcv: np.ndarray, cut: int, seed: int, how: str) -> np.ndarray:
    out = ohlcv.copy()
    rng = np.random.default_rng(seed)
    tail = slice(cut + 1, None)
    close = out[tail, 3]
    if how == "noise":
        factor = np.exp(np.cumsum(rng.normal(0, 3e-4, close.size)))
    elif how == "reverse":
        factor = close[::-1] / close
    else:
        factor = np.linspace(1.0, 0.9, close.size)
    for column in range(4):
        out[tail, column] = ohlcv[tail, column] * factor
    return out


def test_rebuilt_index_is_identical_and_answers_identically(patterns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first = PatternMemory(patterns, index_config=IVF)
    again = PatternMemory(patterns, index_config=IVF)
    assert first.index.epoch_rows == again.index.epoch_rows and len(first.index.epoch_rows) >= 3
    assert first.index.to_bytes() == again.index.to_bytes()  # deterministic rebuild
    save_memory(first, tmp_path)
    loaded = load_memory(tmp_path)
    pick = np.arange(2000, len(patterns), 97)
    x = first.search(patterns.vectors[pick], patterns.ts_event[pick], 20)
    y = loaded.search(patterns.vectors[pick], patterns.ts_event[pick], 20)
    assert np.array_equal(x.rows, y.rows) and x.distances.tobytes() == y.distances.tobytes()


def test_corrupt_or_mismatched_index_is_refused_naming_the_file(patterns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    memory = PatternMemory(patterns, index_config=IVF)
    save_memory(memory, tmp_path)
    index_file = tmp_path / INDEX_FILE
    good = index_file.read_bytes()

    index_file.write_bytes(good[:-10] + bytes(10))  # a corrupt payload
    with pytest.raises(IndexMismatchError, match=str(index_file)) as err:
        load_memory(tmp_path)
    assert "corrupt" in str(err.value)

    index_file.write_bytes(good[: len(good) // 3])  # truncated
    with pytest.raises(IndexMismatchError, match=str(index_file)):
        load_memory(tmp_path)

    index_file.write_bytes(b"garbage")
    with pytest.raises(IndexMismatchError, match="bad magic"):
        load_memory(tmp_path)

    write_index(memory.index, index_file, spec_hash="0123456789abcdef",
                store_checksum=patterns.checksum())  # fmt: skip
    with pytest.raises(IndexMismatchError, match="0123456789abcdef") as err:
        load_memory(tmp_path)
    assert str(index_file) in str(err.value) and patterns.spec_hash in str(err.value)

    smaller = PatternMemory(patterns.take(slice(0, 5000)), index_config=IVF)
    write_index(smaller.index, index_file, spec_hash=patterns.spec_hash,
                store_checksum=patterns.take(slice(0, 5000)).checksum())  # fmt: skip
    with pytest.raises(IndexMismatchError, match="5000 patterns"):
        load_memory(tmp_path)

    index_file.write_bytes(good)
    assert len(load_memory(tmp_path)) == len(patterns)


def test_live_adds_keep_the_prefix_and_skip_stored_patterns(patterns) -> None:  # type: ignore[no-untyped-def]
    head = patterns.take(slice(0, 10_000))
    memory = PatternMemory(head, index_config=IVF)
    assert memory.add(patterns.take(slice(5_000, 10_000))) == 0  # already stored
    added = 0
    for start in range(10_000, 12_000, 250):
        added += memory.add(patterns.take(slice(start, start + 250)))
    assert added == 2_000 and len(memory) == 12_000
    grown = PatternMemory(patterns.take(slice(0, 12_000)), index_config=IVF)
    pick = np.arange(3000, 12_000, 131)
    x = memory.search(patterns.vectors[pick], patterns.ts_event[pick], 20)
    y = grown.search(patterns.vectors[pick], patterns.ts_event[pick], 20)
    assert np.array_equal(x.rows, y.rows)
    assert memory.index.to_bytes() == grown.index.to_bytes()


@pytest.mark.parametrize("batch_path", ["lists", "scan"])
@pytest.mark.parametrize("mode", ["exact", "ivf"])
def test_a_batch_answers_each_query_as_alone(patterns, mode, batch_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Counts from 0 to the whole store in one batch (the backtest's precomputed path): every
    row equals the same query asked alone (faiss's scan of the probed lists), whether the batch
    is scored list by list or scanned query by query, and below exact_max (or in exact mode)
    brute force."""
    import nautilus_ai.patterns.index as index_module

    # "lists": every batch scored list by list; "scan": every query scanned alone by faiss
    per_list = 0 if batch_path == "lists" else 10**9
    monkeypatch.setattr(index_module, "_BATCH_PROBES_PER_LIST", per_list)
    memory = _memory(patterns, mode)
    rng = np.random.default_rng(11)
    pick = rng.choice(len(patterns), 120, replace=False)
    counts = rng.integers(0, len(patterns) + 1, pick.size)
    counts[:4] = [0, 3, 19, len(patterns)]
    ids, distances = memory.index.search(patterns.vectors[pick], counts, 20)
    for j, i in enumerate(pick.tolist()):
        one_ids, one_d = memory.index.search(patterns.vectors[i : i + 1], counts[j : j + 1], 20)
        assert np.array_equal(one_ids[0], ids[j]) and one_d.tobytes() == distances[j].tobytes()
        assert (ids[j][ids[j] >= 0] < counts[j]).all()
        assert (ids[j] >= 0).sum() == min(20, counts[j]) or mode == "ivf"
        if mode == "exact" or counts[j] < IVF.exact_max:
            want, want_d = brute_force(patterns.vectors, patterns.vectors[i], int(counts[j]), 20)
            assert np.array_equal(ids[j][: want.size], want)
            assert distances[j][: want.size].tobytes() == want_d.tobytes()


def test_similar_windows_refuses_a_time_after_the_last_bar(  # type: ignore[no-untyped-def]
    patterns, demo_catalog: Path
) -> None:
    """``patterns query --at 2018-01-05T10:00`` on a catalog ending 30 June 2017 answered with
    the windows most like 30 June 20:59, exit 0: a query about 2018 got one about 2017."""
    from nautilus_ai.catalog import read_bars

    memory = _memory(patterns, "exact")
    last = int(read_bars(demo_catalog, BAR_TYPE)[0][-1])
    with pytest.raises(ValueError, match=r"2018-01-05 10:00 is after the last .* bar \(2017-06"):
        similar_windows(memory, demo_catalog, BAR_TYPE, at_ns=1_515_146_400_000_000_000, k=5)
    # at the last bar, and within its period after it, the last bar answers
    for at_ns in (last, last + 59_000_000_000):
        assert similar_windows(memory, demo_catalog, BAR_TYPE, at_ns=at_ns, k=3).rows.size == 3


def test_a_plot_path_that_is_no_picture_file_is_refused_before_drawing(  # type: ignore[no-untyped-def]
    patterns, demo_catalog: Path, tmp_path: Path
) -> None:
    """``--plot <folder>`` and ``--plot now`` wrote ``<folder>.png`` / ``now.png`` beside what was
    asked while the CLI said ``picture: <folder>`` (exit 0); ``--plot x.txt`` failed after the
    query with matplotlib's error (exit 1)."""
    found = similar_windows(_memory(patterns, "exact"), demo_catalog, BAR_TYPE, k=3)
    with pytest.raises(ValueError, match=r"is a folder: give the picture.s file, e\.g\. "):
        found.plot(tmp_path)
    for name in ("now", "x.txt"):
        with pytest.raises(ValueError, match=r"the suffix names the picture format, one of \.avif"):
            found.plot(tmp_path / name)
    assert list(tmp_path.parent.glob(f"{tmp_path.name}*")) == [tmp_path]
    assert not list(tmp_path.iterdir())
    assert found.plot(tmp_path / "now.svg").stat().st_size > 0
