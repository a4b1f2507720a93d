"""PatternMemoryPredictor on real bars: batch == per row, live learning, strict config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures.pattern_queries import memory_and_queries

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import Action, MarketContext
from nautilus_ai.models.registry import BackendConfigError, build_predictor
from nautilus_ai.patterns import IndexConfig, build_from_bars

IVF = IndexConfig(mode="ivf", exact_max=1024, growth=2, nprobe=24)


@pytest.fixture(scope="module")
def setup(real_bars: tuple, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("memory")
    return memory_and_queries(real_bars, folder, train=12_000, queries=1500, index_config=IVF)


def test_batch_equals_per_row_and_the_memory_learns_live(setup) -> None:  # type: ignore[no-untyped-def]
    spec, folder, features, contexts, stored = setup
    config = {"kind": "pattern_memory", "path": str(folder), "k": 20}
    batch_model = build_predictor(config, spec)
    row_model = build_predictor(config, spec)
    assert batch_model.batch_exact  # type: ignore[attr-defined]
    batch = batch_model.predict_batch(features, contexts)
    rows = [row_model.predict(features[i], c) for i, c in enumerate(contexts)]
    for a, b in zip(batch, rows, strict=True):
        assert (a.action, a.confidence, a.risk_score, a.reason, a.model_id) == (
            b.action, b.confidence, b.risk_score, b.reason, b.model_id,
        )  # fmt: skip
    # every bar whose outcome matured during the run joined the memory, in both
    for model in (batch_model, row_model):
        assert model.learned > 1400  # type: ignore[attr-defined]
        assert len(model.memory) == stored + model.learned  # type: ignore[attr-defined]
    # The batch learned as columns (OutcomeTracker.update_many), the rows one by one: the same
    # patterns, bit for bit.
    a, b = batch_model.memory.patterns(), row_model.memory.patterns()  # type: ignore[attr-defined]
    for name in ("vectors", "ts_event", "available_ns", "label", "close", "atr",
                 "forward_return", "mfe", "mae"):  # fmt: skip
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    assert a.instrument_id == b.instrument_id
    actions = {p.action for p in batch}
    assert Action.BUY in actions and Action.SELL in actions
    assert all(0.0 <= p.confidence <= 1.0 and 0.0 <= p.risk_score <= 1.0 for p in batch)
    assert "closest: 20" in batch[0].reason and "ATR (d " in batch[0].reason


@pytest.mark.parametrize("repeat", [False, True])
def test_column_learning_equals_the_bar_by_bar_follow_in_a_batch(
    setup, monkeypatch: pytest.MonkeyPatch, repeat: bool
) -> None:  # type: ignore[no-untyped-def]
    """Blocks mixing two instruments, with gaps and (``repeat``) bars asked about twice: the
    column path learns the rows, in the order, that following each context does."""
    import nautilus_ai.models.pattern_memory as module

    spec, folder, features, contexts, _ = setup
    other = [
        MarketContext("GBP/USD.SIM", c.ts_event, c.feature_names, c.spec_hash, c.recent_bars)
        for c in contexts
    ]
    chosen: list[MarketContext] = []
    rows: list[int] = []
    for i in range(0, 1200):
        if i % 97 in (5, 6, 7):  # gaps: bars the strategy never asked about
            continue
        chosen.append(contexts[i])
        rows.append(i)
        if i % 3 == 0:
            chosen.append(other[i])
            rows.append(i)
        if repeat and i % 50 == 0:
            chosen.append(contexts[i])
            rows.append(i)
    config = {"kind": "pattern_memory", "path": str(folder), "k": 20}
    answers, memories = [], []
    for one_by_one in (False, True):
        monkeypatch.setattr(module, "_FOLLOW_ONE_BY_ONE", 10**9 if one_by_one else 8)
        model = build_predictor(config, spec)
        found = []
        for start in range(0, len(chosen), 400):  # blocks, as the precomputed path asks
            block = slice(start, start + 400)
            found += model.predict_batch(features[rows[block]], chosen[block])
        answers.append([(p.action, p.confidence, p.risk_score, p.reason) for p in found])
        memories.append(model.memory.patterns())  # type: ignore[attr-defined]
    assert answers[0] == answers[1]
    a, b = memories
    assert len(a) == len(b) > 12_000 + 900 and a.instrument_id == b.instrument_id
    assert "GBP/USD.SIM" in a.instrument_id
    for name in ("vectors", "ts_event", "available_ns", "label", "close", "atr",
                 "forward_return", "mfe", "mae"):  # fmt: skip
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name


def test_learning_live_equals_a_store_built_with_those_bars(setup, real_bars) -> None:  # type: ignore[no-untyped-def]
    spec, folder, features, contexts, stored = setup
    model = build_predictor({"kind": "pattern_memory", "path": str(folder)}, spec)
    model.predict_batch(features, contexts)
    ts, ohlcv = real_bars
    full = build_from_bars(ts[:13_500], ohlcv[:13_500], instrument_id="EUR/USD.SIM")
    learned = model.memory  # type: ignore[attr-defined]
    live = np.arange(stored, len(learned))
    # The live rows are the bars the run asked about whose outcome matured, in time order.
    position = np.searchsorted(full.ts_event, learned.ts_event[live])
    assert np.array_equal(full.ts_event[position], learned.ts_event[live])
    assert np.array_equal(learned.available_ns[live], full.available_ns[position])
    # The live tracker's ATR was seeded on the run's first context bars, not on January 2:
    # after a few hundred bars Wilder's average has converged and the outcomes agree.
    settled = live[300:]
    at = position[300:]
    assert np.mean(learned.label[settled] == full.label[at]) > 0.99
    np.testing.assert_allclose(learned.column("forward_return")[settled],
                               full.forward_return[at], rtol=1e-3, atol=1e-3)  # fmt: skip
    assert np.abs(learned.vectors[live] - full.vectors[position]).max() < 1e-5  # log(): an ulp


def test_config_is_strict_and_names_the_field(setup) -> None:  # type: ignore[no-untyped-def]
    spec, folder, *_ = setup
    with pytest.raises(BackendConfigError, match="neighbours"):
        build_predictor({"kind": "pattern_memory", "path": str(folder), "neighbours": 5}, spec)
    with pytest.raises(BackendConfigError, match="either 'path'"):
        build_predictor({"kind": "pattern_memory", "k": 5}, spec)


def test_missing_context_bars_is_a_prediction_error(setup) -> None:  # type: ignore[no-untyped-def]
    from nautilus_ai.models import PredictionError, safe_predict

    spec, folder, features, contexts, _ = setup
    model = build_predictor({"kind": "pattern_memory", "path": str(folder)}, spec)
    bare = MarketContext("EUR/USD.SIM", contexts[0].ts_event, spec.names, spec.hash)
    with pytest.raises(PredictionError, match="context_bars to >= 32"):
        model.predict(features[0], bare)
    held = safe_predict(model, features[0], bare)
    assert held.action is Action.HOLD and "context_bars" in held.reason


def test_other_feature_spec_is_refused(setup, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from nautilus_ai.patterns import PatternStoreError

    _, folder, *_ = setup
    other = FeatureSpec(rsi_period=10)
    with pytest.raises(PatternStoreError, match=str(folder)):
        build_predictor({"kind": "pattern_memory", "path": str(folder)}, other)
