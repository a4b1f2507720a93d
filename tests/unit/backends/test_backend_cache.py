from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError
from nautilus_ai.models.cache import CachedPredictor, PredictionCache, PredictionCacheError
from nautilus_ai.models.testing import ScriptedPredictor, market_context, synthetic_bars


def _ctx(ts: int, instrument: str = "EUR/USD.SIM") -> MarketContext:
    return MarketContext(instrument, ts, ("a", "b"), "spec-a")


def test_round_trip_through_parquet(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "predictions.parquet"
    cache = PredictionCache(path)
    key = ("m/1", "spec-a", "EUR/USD.SIM", 123, "p1")
    cache.put(key, Prediction(Action.SELL, 0.7, 0.3, "m/1", latency=1.5, reason="scored"))
    assert cache.flush() == 1
    again = PredictionCache(path)
    assert again.get(key) == Prediction(Action.SELL, 0.7, 0.3, "m/1", 0.0, "scored")
    assert again.latency_samples_s() == [1.5]  # the measured latency is kept in the file
    assert again.get(("m/1", "spec-a", "EUR/USD.SIM", 124, "p1")) is None
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_two_writers_merge_instead_of_overwriting(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    first, second = PredictionCache(path), PredictionCache(path)
    first.put(("m", "s", "i", 1, "p"), Prediction(Action.BUY, 0.6, 0.1, "m"))
    second.put(("m", "s", "i", 2, "p"), Prediction(Action.SELL, 0.6, 0.1, "m"))
    first.flush()
    assert second.flush() == 2
    merged = PredictionCache(path)
    assert len(merged) == 2


def test_corrupt_file_is_named_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(PredictionCacheError, match=str(path)) as info:
        PredictionCache(path)
    assert "left untouched" in str(info.value)
    assert path.read_bytes() == b"PAR1 this is not parquet"


def test_foreign_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), path)
    with pytest.raises(PredictionCacheError, match="not a version-1 prediction cache"):
        PredictionCache(path)


def test_cached_predictor_asks_the_model_once_per_key(tmp_path: Path) -> None:
    inner = ScriptedPredictor("slow/1", Action.BUY, 0.9)
    cached = CachedPredictor(inner, PredictionCache(tmp_path / "c.parquet"))
    features = np.array([0.1, 0.2])
    first = cached.predict(features, _ctx(1))
    second = cached.predict(features, _ctx(1))
    assert inner.calls == 1 and cached.hits == 1 and cached.misses == 1
    assert first.action is second.action is Action.BUY and second.latency == 0.0
    cached.predict(features, _ctx(2))  # another bar
    cached.predict(features, _ctx(1, "GBP/USD.SIM"))  # another instrument
    cached.predict(features + 1.0, _ctx(1))  # other inputs, same bar: a fixed feature bug
    assert inner.calls == 4
    cached.close()
    assert inner.closed
    # a rerun (new process) reuses everything
    rerun_inner = ScriptedPredictor("slow/1", Action.SELL, 0.1)
    rerun = CachedPredictor(rerun_inner, PredictionCache(tmp_path / "c.parquet"))
    assert rerun.predict(features, _ctx(2)).action is Action.BUY
    assert rerun_inner.calls == 0


def test_errors_are_not_cached(tmp_path: Path) -> None:
    inner = ScriptedPredictor(fail=True)
    cached = CachedPredictor(inner, PredictionCache(tmp_path / "c.parquet"))
    for _ in range(2):
        with pytest.raises(PredictionError):
            cached.predict(np.zeros(2), _ctx(1))
    assert inner.calls == 2 and len(cached.cache) == 0


def test_a_fallback_links_answer_is_not_kept_for_the_chain(tmp_path: Path) -> None:
    # cached(fallback(llm, rule)) kept the rule's answer while the LLM was down under the
    # chain's key: every rerun replayed the rule and never asked the LLM again for those bars.
    from nautilus_ai.models.fallback import FallbackPredictor

    path = tmp_path / "c.parquet"
    llm = ScriptedPredictor("llm/1", Action.SELL, 0.9, fail=True)
    chain = FallbackPredictor([llm, ScriptedPredictor("rule/1", Action.BUY, 0.7)], deadline_s=5)
    cached = CachedPredictor(chain, PredictionCache(path))
    features = np.array([0.1, 0.2])
    assert cached.predict(features, _ctx(1)).model_id == "rule/1"
    assert cached.predict_batch(features[None, :], [_ctx(2)])[0].model_id == "rule/1"
    assert len(cached.cache) == 0 and cached.not_kept == 2
    cached.close()
    llm.fail = False  # the server is back: its answers are asked for and kept
    rerun = CachedPredictor(
        FallbackPredictor([llm, ScriptedPredictor("rule/1", Action.BUY, 0.7)], deadline_s=5),
        PredictionCache(path),
    )
    assert rerun.predict(features, _ctx(1)).model_id == "llm/1"
    assert len(rerun.cache) == 1 and rerun.not_kept == 0


def test_batch_asks_only_for_missing_rows(tmp_path: Path) -> None:
    inner = ScriptedPredictor("m/1", Action.HOLD, 0.4)
    cached = CachedPredictor(inner, PredictionCache(tmp_path / "c.parquet"), flush_every=2)
    matrix = np.arange(8, dtype=np.float64).reshape(4, 2)
    contexts = [_ctx(t) for t in range(4)]
    cached.predict(matrix[1], contexts[1])
    out = cached.predict_batch(matrix, contexts)
    assert [p.action for p in out] == [Action.HOLD] * 4
    assert inner.calls == 4  # 1 + the 3 missing rows
    assert (tmp_path / "c.parquet").exists()  # flush_every reached


def test_prompt_hash_of_the_inner_model_is_the_key(tmp_path: Path) -> None:
    class Prompted(ScriptedPredictor):
        def prompt_hash(self, features, context):  # type: ignore[no-untyped-def]
            return "fixed"

    inner = Prompted()
    cached = CachedPredictor(inner, PredictionCache(tmp_path / "c.parquet"))
    cached.predict(np.zeros(2), _ctx(1))
    cached.predict(np.ones(2), _ctx(1))  # different features, same prompt hash
    assert inner.calls == 1


def test_default_key_can_cover_recent_bars(tmp_path: Path) -> None:
    inner = ScriptedPredictor()
    cached = CachedPredictor(inner, PredictionCache(tmp_path / "c.parquet"), bars_used=5)
    bars = synthetic_bars(10)
    cached.predict(np.zeros(2), market_context(bars))
    moved = bars.copy()
    moved[-1, 4] += 1e-4
    cached.predict(np.zeros(2), market_context(moved))
    assert inner.calls == 2


def test_read_only_never_writes(tmp_path: Path) -> None:
    cached = CachedPredictor(
        ScriptedPredictor(), PredictionCache(tmp_path / "c.parquet"), read_only=True
    )
    cached.predict(np.zeros(2), _ctx(1))
    cached.close()
    assert not (tmp_path / "c.parquet").exists()


def test_batch_is_exact_and_keys_on_features_without_contexts(tmp_path: Path) -> None:
    class Exact(ScriptedPredictor):
        batch_exact = True

        def predict_batch(self, features, contexts=None):  # type: ignore[no-untyped-def]
            self.batches = getattr(self, "batches", 0) + 1
            return super().predict_batch(features, contexts)

    matrix = np.arange(6, dtype=np.float64).reshape(3, 2)
    exact = Exact()
    cached = CachedPredictor(exact, PredictionCache(tmp_path / "a.parquet"))
    assert cached.batch_exact
    cached.predict_batch(matrix)
    cached.predict_batch(matrix)
    assert exact.calls == 3 and exact.batches == 1 and cached.hits == 3  # one batch for misses
    inexact = ScriptedPredictor()
    per_row = CachedPredictor(inexact, PredictionCache(tmp_path / "b.parquet"))
    assert per_row.batch_exact  # misses go row by row through predict: same answers
    per_row.predict_batch(matrix)
    assert inexact.calls == 3


def test_rows_out_of_range_are_refused_by_column_checks(tmp_path: Path) -> None:
    from nautilus_ai.models.cache import _SCHEMA

    path = tmp_path / "bad.parquet"
    row = {
        "model_id": ["m"], "spec_hash": ["s"], "instrument_id": ["i"], "ts_event": [1],
        "prompt_hash": ["p"], "action": [1], "confidence": [1.5], "risk_score": [0.1],
        "latency": [0.0], "reason": [""], "answered_by": ["m"],
    }  # fmt: skip
    pq.write_table(pa.table(row, schema=_SCHEMA), path)
    with pytest.raises(PredictionCacheError, match=r"confidence outside \[0, 1\]"):
        PredictionCache(path)
    row["confidence"], row["action"] = [0.5], [3]
    pq.write_table(pa.table(row, schema=_SCHEMA), path)
    with pytest.raises(PredictionCacheError, match="action outside"):
        PredictionCache(path)


def test_a_lock_held_by_another_process_is_waited_for_with_a_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another live process holding <cache>.lock (a stuck run sharing the cache) made every
    # flush wait for ever: a mid-run flush blocked the strategy's thread, close() never ended.
    import subprocess
    import sys

    from nautilus_ai.models import cache as cache_module

    monkeypatch.setattr(cache_module, "LOCK_TIMEOUT_S", 0.3)
    path = tmp_path / "c.parquet"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a+b'); "
         "fcntl.flock(f.fileno(), fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
         str(path) + ".lock"], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        inner = ScriptedPredictor("slow/1", Action.BUY, 0.9)
        cached = CachedPredictor(inner, PredictionCache(path), flush_every=1)
        answer = cached.predict(np.array([0.1, 0.2]), _ctx(1))  # the flush gives up: answered
        assert answer.action is Action.BUY and cached.flush_failures == 1
        assert cached.cache.unflushed == 1  # kept for the next flush
        with pytest.raises(PredictionCacheError, match=r"being written by another process .*"
                           r"gave up after 0\.3 s"):  # fmt: skip
            cached.cache.flush()
    finally:
        holder.kill()
        holder.wait(timeout=10)
        if holder.stdout is not None:
            holder.stdout.close()
    assert cached.cache.flush() == 1 and not path.with_name("c.parquet.tmp").exists()


class _TorchServeStub:
    """A requests session answering every TorchServe call with one ``action`` (and counting)."""

    def __init__(self, action: str) -> None:
        self.action, self.calls = action, 0

    def post(self, url: str, **kwargs: object) -> object:
        self.calls += 1
        row = {"action": self.action, "confidence": 0.8, "risk_score": 0.1, "latency": 0.0}
        body = json.dumps({"model_id": "", "predictions": [row]}).encode()
        return type("R", (), {"status_code": 200, "content": body})()

    def close(self) -> None:
        pass


def test_a_cache_never_answers_for_another_torchserve_model_version(tmp_path: Path) -> None:
    """A TorchServe predictor's id ignored ``model_version``: a cached run against version 1,
    then the config switched to version 2, served version 1's answers from the cache for every
    bar, without a call to the server and without a word."""
    from nautilus_ai.models.torchserve import TorchServeConfig, TorchServePredictor

    path = tmp_path / "p.parquet"
    context = _ctx(60)
    answers = {}
    for version, action in (("1", "buy"), ("2", "sell")):
        session = _TorchServeStub(action)
        config = TorchServeConfig(model_name="m", url="http://127.0.0.1:9", model_version=version)
        inner = TorchServePredictor(config, session=session)
        cached = CachedPredictor(inner, PredictionCache(path))
        answers[version] = cached.predict(np.zeros(2), context).action
        cached.cache.flush()
        assert session.calls == 1, f"version {version} was served from the cache"
    assert answers == {"1": Action.BUY, "2": Action.SELL}
    assert TorchServePredictor(config).model_id == "torchserve:m/2"


@pytest.mark.parametrize("kind", ["lightgbm", "torch"])
def test_a_stored_model_is_keyed_by_its_artifact_not_only_its_name(
    kind: str, tmp_path: Path
) -> None:
    """Two artifacts both named ``gbt/1`` (another artifact root, or the name retrained after
    its folder was deleted) share a cache file: the second was answered with the first one's
    predictions (the key had the model id and the features only), and never asked."""
    from fixtures.stored_models import MINUTE_BID, lightgbm_model, mlp_model

    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.registry import build_predictor

    spec = FeatureSpec()
    rows = np.random.default_rng(5).normal(size=(12, len(spec.names)))
    contexts = [MarketContext("EUR/USD.SIM", ts, spec.names, spec.hash) for ts in range(12)]

    def backend(root: Path, seed: int) -> dict[str, object]:
        if kind == "lightgbm":
            path = lightgbm_model(root, "gbt", MINUTE_BID, rounds=3 + seed)
            return {"kind": "lightgbm", "path": str(path)}
        path = mlp_model(root, "gbt", MINUTE_BID, seed=seed)
        return {"kind": "torch", "device": "cpu", "path": str(path)}

    cache = str(tmp_path / "cache.parquet")
    answers = []
    for seed in (0, 1):
        config = backend(tmp_path / f"root{seed}", seed)
        model = build_predictor(config, spec)
        direct = [(p.action, p.confidence) for p in map(model.predict, rows, contexts)]
        cached = build_predictor({"kind": "cached", "path": cache, "backend": config}, spec)
        served = [(p.action, p.confidence) for p in map(cached.predict, rows, contexts)]
        assert served == direct and cached.hits == 0  # type: ignore[attr-defined]
        again = [(p.action, p.confidence) for p in map(cached.predict, rows, contexts)]
        assert again == direct and cached.hits == 12  # type: ignore[attr-defined]
        cached.close()
        answers.append(direct)
    assert answers[0] != answers[1]  # two models under one id


def test_a_cache_never_answers_for_another_torchserve_server(tmp_path: Path) -> None:
    """Two TorchServe servers (staging and production, say) serving different weights under
    one model name shared a cache key (``torchserve:m`` and the features): a run against the
    second was answered with the first one's predictions, without a call. The endpoint is
    part of the key now; credentials and timeouts are not."""
    from nautilus_ai.models.torchserve import TorchServeConfig, TorchServePredictor

    path = tmp_path / "p.parquet"
    answers = {}
    for url, action in (("http://127.0.0.1:9", "buy"), ("http://127.0.0.2:9", "sell")):
        session = _TorchServeStub(action)
        inner = TorchServePredictor(TorchServeConfig(model_name="m", url=url), session=session)
        cached = CachedPredictor(inner, PredictionCache(path))
        answers[url] = cached.predict(np.zeros(2), _ctx(60)).action
        cached.cache.flush()
        assert session.calls == 1, f"{url} was served from the cache"
    assert list(answers.values()) == [Action.BUY, Action.SELL]
    same = [
        TorchServePredictor(TorchServeConfig(model_name="m", url="http://127.0.0.1:9", **extra))
        for extra in ({}, {"read_timeout_s": 9.0, "retries": 3, "token": "t"})
    ]
    hashes = {p.prompt_hash(np.zeros(2), _ctx(60)) for p in same}
    assert len(hashes) == 1  # a longer timeout is the same model
