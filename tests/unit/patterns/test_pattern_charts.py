"""The optional chart block of a pattern (a local vision model's embedding of the rendered
chart) on real EUR/USD bars, with tiny random-weight ViT models built offline (nothing is
downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.models import MarketContext
from nautilus_ai.models.pattern_memory import PatternMemoryConfig, PatternMemoryPredictor
from nautilus_ai.patterns import (
    ChartEmbedder,
    IndexConfig,
    IndexMismatchError,
    PatternMemory,
    PatternSpec,
    PatternStoreError,
    brute_force,
    build_from_bars,
    load_memory,
    save_memory,
    write_index,
)
from nautilus_ai.patterns.store import INDEX_FILE

INSTRUMENT = "EUR/USD.SIM"
BARS = 1_400  # ~1.2k patterns: each chart is one forward pass of the tiny model


def _tiny_vit(folder: Path, seed: int) -> Path:
    import torch
    import transformers

    config = transformers.ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        image_size=32, patch_size=8, num_channels=3,
    )  # fmt: skip
    torch.manual_seed(seed)
    transformers.ViTModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def embedders(tmp_path_factory: pytest.TempPathFactory) -> tuple[ChartEmbedder, ChartEmbedder]:
    root = tmp_path_factory.mktemp("vision")
    first = ChartEmbedder(_tiny_vit(root / "a", seed=0))
    other = ChartEmbedder(_tiny_vit(root / "b", seed=1))
    return first, other


@pytest.fixture(scope="module")
def chart_store(real_bars: tuple, embedders: tuple) -> tuple:
    ts, ohlcv = real_bars
    embedder = embedders[0]
    spec = PatternSpec().with_chart(embedder, bars=24)
    patterns = build_from_bars(
        ts[:BARS], ohlcv[:BARS], instrument_id=INSTRUMENT, pattern_spec=spec,
        chart_embedder=embedder,
    )  # fmt: skip
    return spec, patterns


def test_chart_block_is_the_embedding_of_the_window_ending_at_t(
    real_bars: tuple, embedders: tuple, chart_store: tuple
) -> None:
    ts, ohlcv = real_bars
    embedder = embedders[0]
    spec, patterns = chart_store
    plain = build_from_bars(ts[:BARS], ohlcv[:BARS], instrument_id=INSTRUMENT)
    assert len(patterns) == len(plain) > 1000
    assert patterns.dims == plain.dims + embedder.dims == 58 + 32
    assert patterns.vector_columns[-1] == f"chart_{embedder.dims - 1}"
    # the feature and shape blocks are those of the store without charts
    assert patterns.vectors[:, : plain.dims].tobytes() == plain.vectors.tobytes()
    block = patterns.vectors[:, plain.dims :].astype(np.float64)
    np.testing.assert_allclose(np.linalg.norm(block, axis=1), spec.chart_weight, rtol=1e-6)
    # row i's block: the embedding of bars (t - 23 .. t), embedded alone
    table = np.column_stack([ts.astype(np.float64), ohlcv])
    for i in (0, 357, len(patterns) - 1):
        t = int(np.searchsorted(ts, patterns.ts_event[i]))
        alone = embedder.embed(table[t - 23 : t + 1])
        unit = alone[0].astype(np.float64) / np.linalg.norm(alone[0].astype(np.float64))
        assert (unit * spec.chart_weight).astype(np.float32).tobytes() == block[i].astype(
            np.float32
        ).tobytes()
    # versioned: the chart model is part of the pattern spec's hash; specs without a chart keep
    # the hash they had
    assert spec.hash != PatternSpec().hash == PatternSpec(chart_bars=99).hash
    assert spec.with_chart(embedders[1]).hash != spec.hash
    assert spec.context_bars == 32


def test_chart_store_has_no_look_ahead_and_answers_as_brute_force(
    real_bars: tuple, embedders: tuple, chart_store: tuple
) -> None:
    """Bars after the cut changed: every pattern before it keeps its chart vector bit for bit,
    and queries at those times get the same answer, equal to brute force."""
    ts, ohlcv = real_bars
    embedder = embedders[0]
    spec, patterns = chart_store
    cut = 1_000
    changed = ohlcv[:BARS].copy()
    changed[cut + 1 :, :4] *= np.linspace(1.0, 0.97, BARS - cut - 1)[:, None]
    other = build_from_bars(ts[:BARS], changed, instrument_id=INSTRUMENT, pattern_spec=spec,
                            chart_embedder=embedder)  # fmt: skip
    before = patterns.ts_event <= ts[cut]
    assert before.sum() > 800
    assert patterns.vectors[before].tobytes() == other.vectors[: before.sum()].tobytes()
    exact = IndexConfig(mode="exact")
    a, b = PatternMemory(patterns, index_config=exact), PatternMemory(other, index_config=exact)
    pick = np.flatnonzero(before)[::50]
    x = a.search(patterns.vectors[pick], patterns.ts_event[pick], 10)
    y = b.search(patterns.vectors[pick], patterns.ts_event[pick], 10)
    assert np.array_equal(x.rows, y.rows) and x.distances.tobytes() == y.distances.tobytes()
    for j, i in enumerate(pick.tolist()):
        ids, distances = brute_force(patterns.vectors, patterns.vectors[i], int(x.eligible[j]), 10)
        assert np.array_equal(x.rows[j][: ids.size], ids)
        assert x.distances[j][: ids.size].tobytes() == distances.tobytes()


def test_chart_store_round_trip_and_refusals(
    embedders: tuple, chart_store: tuple, tmp_path: Path
) -> None:
    first, other = embedders
    spec, patterns = chart_store
    memory = PatternMemory(patterns, index_config=IndexConfig(exact_max=256, growth=2))
    save_memory(memory, tmp_path)
    loaded = load_memory(tmp_path)
    assert loaded.pattern_spec == spec and loaded.pattern_spec.chart_model == first.model_id
    pick = np.arange(300, len(patterns), 41)
    x = memory.search(patterns.vectors[pick], patterns.ts_event[pick], 20)
    y = loaded.search(patterns.vectors[pick], patterns.ts_event[pick], 20)
    assert np.array_equal(x.rows, y.rows) and x.distances.tobytes() == y.distances.tobytes()
    # an index written for the same vectors under another chart model's spec is refused
    index_file = tmp_path / INDEX_FILE
    write_index(memory.index, index_file, spec_hash=patterns.spec_hash,
                store_checksum=patterns.checksum(),
                pattern_spec_hash=spec.with_chart(other).hash)  # fmt: skip
    with pytest.raises(IndexMismatchError, match=str(index_file)) as err:
        load_memory(tmp_path)
    assert "chart model" in str(err.value)
    # building with another model than the spec's, or without one, is refused
    ts = patterns.ts_event
    with pytest.raises(PatternStoreError, match=first.model_id):
        build_from_bars(ts[:10], np.ones((10, 5)), instrument_id=INSTRUMENT, pattern_spec=spec,
                        chart_embedder=other)  # fmt: skip
    with pytest.raises(PatternStoreError, match="needs the chart model"):
        build_from_bars(ts[:10], np.ones((10, 5)), instrument_id=INSTRUMENT, pattern_spec=spec)


def test_predictor_embeds_the_live_chart_and_refuses_another_model(
    real_bars: tuple, embedders: tuple, chart_store: tuple
) -> None:
    ts, ohlcv = real_bars
    first, other = embedders
    spec, patterns = chart_store
    fspec = FeatureSpec()
    memory = PatternMemory(patterns, index_config=IndexConfig(mode="exact"))
    config = PatternMemoryConfig(path="unused", k=10, learn_live=False)
    with pytest.raises(ValueError, match=f"chart embeddings of model {first.model_id}"):
        PatternMemoryPredictor(memory, fspec, config, other)
    with pytest.raises(ValueError, match="set chart_model_dir"):
        PatternMemoryPredictor(memory, fspec, config)
    predictor = PatternMemoryPredictor(memory, fspec, config, first)
    features = compute_features(fspec, ts[:BARS], *ohlcv[:BARS].T)
    table = np.column_stack([ts.astype(np.float64), ohlcv])
    # bars whose pattern is in the store: the live vector is the stored one, so the nearest
    # neighbour of a query at t + horizon (once the pattern is eligible) is itself, at d = 0
    for row in (400, 900):
        t = int(np.searchsorted(ts, patterns.ts_event[row]))
        later = t + spec.horizon + 1
        context = MarketContext(INSTRUMENT, int(ts[later]), fspec.names, fspec.hash,
                                table[later - 63 : later + 1])  # fmt: skip
        vectors = predictor._observe(features[later : later + 1], [context])
        stored = np.flatnonzero(patterns.ts_event == ts[later])
        assert vectors[0].tobytes() == patterns.vectors[stored[0]].tobytes()
        prediction = predictor.predict(features[later], context)
        assert "closest:" in prediction.reason


def test_run_file_config_names_the_chart_model(
    embedders: tuple, chart_store: tuple, tmp_path: Path
) -> None:
    from nautilus_ai.models.registry import build_predictor

    first, other = embedders
    _, patterns = chart_store
    save_memory(PatternMemory(patterns, index_config=IndexConfig(mode="exact")), tmp_path)
    fspec = FeatureSpec()
    config = {"kind": "pattern_memory", "path": str(tmp_path), "k": 5}
    model = build_predictor({**config, "chart_model_dir": str(first.model_dir)}, fspec)
    assert model.memory.pattern_spec.chart_model == first.model_id  # type: ignore[attr-defined]
    for wrong in (config, {**config, "chart_model_dir": str(other.model_dir)}):
        with pytest.raises(Exception, match=first.model_id):
            build_predictor(wrong, fspec)
