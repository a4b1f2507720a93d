"""Patterns learned live survive a restart (``learned_path``), without look-ahead.

Before, a restarted node's memory held only its store: every pattern it had learned since the
store was built (outcomes matured live, trades' feedback) was gone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.pattern_queries import memory_and_queries

from nautilus_ai.models.registry import build_predictor
from nautilus_ai.patterns import (
    IndexConfig,
    PatternMemory,
    PatternSpec,
    PatternStoreError,
    build_from_bars,
)
from nautilus_ai.patterns.learned import LEARNED_FILE, read_learned

EXACT = IndexConfig(mode="exact")
TRAIN = 6_000


@pytest.fixture(scope="module")
def setup(real_bars: tuple, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("memory")
    return memory_and_queries(real_bars, folder, train=TRAIN, queries=1200, index_config=EXACT)


def _config(folder: Path, learned: Path, **extra: object) -> dict[str, object]:
    return {"kind": "pattern_memory", "path": str(folder), "learned_path": str(learned), **extra}


def test_a_restarted_memory_starts_from_what_it_had_learned(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec, folder, features, contexts, stored = setup
    learned_dir = tmp_path / "learned"
    first = build_predictor(_config(folder, learned_dir), spec)
    first.predict_batch(features[:700], contexts[:700])
    assert first.learned > 500  # type: ignore[attr-defined]
    first.close()  # the strategy's dispose
    before = first.memory.patterns(stored)  # type: ignore[attr-defined]

    restarted = build_predictor(_config(folder, learned_dir), spec)
    answers = restarted.predict_batch(features[700:], contexts[700:])
    assert restarted.restored == len(before)  # type: ignore[attr-defined]
    after = restarted.memory.patterns(stored)  # type: ignore[attr-defined]
    for name in ("vectors", "ts_event", "available_ns", "label", "forward_return"):
        assert getattr(after, name)[: len(before)].tobytes() == getattr(before, name).tobytes()
    # and the answers are those of a memory that holds them (not of the store alone)
    plain = build_predictor({"kind": "pattern_memory", "path": str(folder)}, spec)
    plain.memory.add(before)  # type: ignore[attr-defined]
    again = plain.predict_batch(features[700:], contexts[700:])
    assert [(a.action, a.confidence, a.reason) for a in answers] == [
        (a.action, a.confidence, a.reason) for a in again
    ]
    alone = build_predictor({"kind": "pattern_memory", "path": str(folder)}, spec)
    forgot = alone.predict_batch(features[700:], contexts[700:])
    assert [a.reason for a in forgot] != [a.reason for a in answers]


def test_an_earlier_window_restores_nothing_learned_after_it(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A backtest of an earlier window pointed at a live node's folder: no pattern of a bar at
    or after its first decision joins its memory (and its own learning is not blocked)."""
    spec, folder, features, contexts, _ = setup
    learned_dir = tmp_path / "learned"
    live = build_predictor(_config(folder, learned_dir), spec)
    live.predict_batch(features[600:], contexts[600:])
    live.close()
    assert len(read_learned(learned_dir, live.memory)) == live.learned > 0  # type: ignore[arg-type, attr-defined]

    earlier = build_predictor(_config(folder, learned_dir), spec)
    earlier.predict_batch(features[:600], contexts[:600])
    assert earlier.restored == 0  # type: ignore[attr-defined]
    fresh = build_predictor({"kind": "pattern_memory", "path": str(folder)}, spec)
    fresh.predict_batch(features[:600], contexts[:600])
    assert earlier.learned == fresh.learned > 0  # type: ignore[attr-defined]
    earlier.close()  # merged into the folder: the live rows are kept
    merged = read_learned(learned_dir, live.memory)  # type: ignore[arg-type]
    assert merged is not None and len(merged) == live.learned + earlier.learned  # type: ignore[attr-defined]
    assert (np.diff(merged.ts_event) > 0).all()


def test_learned_patterns_are_written_as_they_accumulate(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec, folder, features, contexts, _ = setup
    learned_dir = tmp_path / "learned"
    model = build_predictor(_config(folder, learned_dir, learned_save_every=100), spec)
    for start in range(0, 600, 50):  # a live node: decisions one block at a time, no close
        model.predict_batch(features[start : start + 50], contexts[start : start + 50])
    written = read_learned(learned_dir, model.memory)  # type: ignore[attr-defined]
    assert written is not None and model.learned - 100 < len(written) <= model.learned  # type: ignore[attr-defined]


def test_a_learned_file_of_other_patterns_or_corrupt_is_refused(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nautilus_ai.patterns import save_learned

    spec, folder, _, contexts, _ = setup
    ts = np.array([c.ts_event for c in contexts])
    other_dir = tmp_path / "other"
    table = np.array([c.recent_bars[-1, 1:] for c in contexts])
    other = build_from_bars(
        ts, table, pattern_spec=PatternSpec(horizon=10), instrument_id="EUR/USD.SIM"
    )
    other_memory = PatternMemory(other.take(slice(0, 100)), index_config=EXACT)
    other_memory.add(other.take(slice(100, None)))
    save_learned(other_memory, other_dir)
    with pytest.raises(PatternStoreError) as refused:
        build_predictor(_config(folder, other_dir), spec)
    assert str(refused.value).startswith(f"{other_dir / LEARNED_FILE}: learned patterns of")

    corrupt_dir = tmp_path / "corrupt"
    corrupt_dir.mkdir()
    (corrupt_dir / LEARNED_FILE).write_bytes(b"PAR1 not really")
    with pytest.raises(PatternStoreError, match=str(corrupt_dir / LEARNED_FILE)):
        build_predictor(_config(folder, corrupt_dir), spec)


def test_a_folder_that_cannot_be_written_never_stops_the_decisions(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec, folder, features, contexts, _ = setup
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    model = build_predictor(_config(folder, blocked, learned_save_every=50), spec)
    answers = model.predict_batch(features[:300], contexts[:300])
    assert len(answers) == 300
    model.close()
    assert model.learned_save_error is not None and str(blocked) in model.learned_save_error  # type: ignore[attr-defined]
    # what the strategy's control status shows for it
    from nautilus_ai.models.base import model_statuses

    shown = model_statuses(model)[model.model_id]
    assert shown["learned_save_error"] == model.learned_save_error  # type: ignore[attr-defined]
    assert shown["learned_path"] == str(blocked) and shown["learned"] == model.learned  # type: ignore[attr-defined]
