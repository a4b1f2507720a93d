"""OpenAIPredictor against a real (stub) OpenAI-compatible server on loopback."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.models.base import Action, MarketContext, PredictionError
from nautilus_ai.models.cache import CachedPredictor, PredictionCache
from nautilus_ai.models.fallback import FallbackPredictor
from nautilus_ai.models.openai_compat import OpenAIConfig, OpenAIPredictor
from nautilus_ai.models.prompting import normalised_entropy
from nautilus_ai.models.testing import ScriptedPredictor, synthetic_bars

X = np.array([0.5, -0.1])


def _ctx(ts: int = 1) -> MarketContext:
    return MarketContext("EUR/USD.SIM", ts, ("rsi", "gap"), "spec", synthetic_bars())


def _predictor(stub, **kwargs) -> OpenAIPredictor:  # type: ignore[no-untyped-def]
    settings = {"model": "tiny-vl", "base_url": stub.base_url, "retries": 0, "backoff_s": 0.0}
    settings.update(kwargs)
    return OpenAIPredictor(OpenAIConfig(**settings))


def test_choice_answer_with_logprob_confidence(openai_stub) -> None:  # type: ignore[no-untyped-def]
    predictor = _predictor(openai_stub, constraint="guided_choice", api_key="secret")
    prediction = predictor.predict(X, _ctx())
    assert prediction.action is Action.SELL
    assert prediction.confidence == pytest.approx(0.6 / 0.95)
    dist = {Action.SELL: 0.6 / 0.95, Action.BUY: 0.25 / 0.95, Action.HOLD: 0.1 / 0.95}
    assert prediction.risk_score == pytest.approx(normalised_entropy(dist))
    assert prediction.reason == "token logprobs"
    request = openai_stub.requests[-1]
    assert request["guided_choice"] == ["buy", "sell", "hold"]
    assert request["messages"][1]["content"][1]["image_url"]["url"].startswith("data:image/png")
    assert openai_stub.headers[-1]["Authorization"] == "Bearer secret"


def test_json_answer(openai_stub) -> None:  # type: ignore[no-untyped-def]
    openai_stub.behaviour.content = '{"action": "buy", "risk": 0.3}'
    openai_stub.behaviour.probabilities = {"buy": 0.7, "sell": 0.2, "hold": 0.1}
    predictor = _predictor(openai_stub, answer_mode="json", constraint="json_schema")
    prediction = predictor.predict(X, _ctx())
    assert (prediction.action, prediction.risk_score) == (Action.BUY, 0.3)
    assert prediction.confidence == pytest.approx(0.7)
    schema = openai_stub.requests[-1]["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["action"]["enum"] == ["buy", "sell", "hold"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"logprobs": False}, "no logprobs"),
        ({"content": "maybe later"}, "not one of"),
        ({"raw": b"<html>proxy error</html>"}, "malformed chat completion"),
        ({"raw": b'{"choices": []}'}, "malformed chat completion"),
        ({"status": 400}, "HTTP 400"),
        ({"status": 500}, "HTTP 500"),
    ],
)
def test_bad_answers_raise_prediction_error(openai_stub, setup, message) -> None:  # type: ignore[no-untyped-def]
    for key, value in setup.items():
        setattr(openai_stub.behaviour, key, value)
    with pytest.raises(PredictionError, match=message):
        _predictor(openai_stub).predict(X, _ctx())


def test_json_mode_rejects_invalid_json(openai_stub) -> None:  # type: ignore[no-untyped-def]
    openai_stub.behaviour.content = '{"action": "buy", "risk": 7}'
    with pytest.raises(PredictionError, match="risk"):
        _predictor(openai_stub, answer_mode="json").predict(X, _ctx())


def test_without_logprobs_a_fallback_confidence_can_be_allowed(openai_stub) -> None:  # type: ignore[no-untyped-def]
    openai_stub.behaviour.logprobs = False
    prediction = _predictor(openai_stub, require_logprobs=False, fallback_confidence=0.4).predict(
        X, _ctx()
    )
    assert prediction.confidence == 0.4 and "fallback confidence" in prediction.reason


def test_server_errors_are_retried_then_reported(openai_stub) -> None:  # type: ignore[no-untyped-def]
    openai_stub.behaviour.status = 503
    with pytest.raises(PredictionError, match=r"HTTP 503.*after 3 attempts"):
        _predictor(openai_stub, retries=2).predict(X, _ctx())
    assert len(openai_stub.requests) == 3


def test_timeout_and_circuit_breaker(openai_stub) -> None:  # type: ignore[no-untyped-def]
    openai_stub.behaviour.delay_s = 0.6
    predictor = _predictor(
        openai_stub, read_timeout_s=0.1, failure_threshold=2, reset_timeout_s=0.5
    )
    for _ in range(2):
        started = time.perf_counter()
        with pytest.raises(PredictionError, match=r"no answer within 0\.1 s"):
            predictor.predict(X, _ctx())
        assert time.perf_counter() - started < 0.5
    assert predictor.breaker.state == "open"
    sent = len(openai_stub.requests)
    started = time.perf_counter()
    with pytest.raises(PredictionError, match="circuit open"):
        predictor.predict(X, _ctx())
    # Refused without a call (a wall-clock bound alone flakes on a loaded machine).
    assert len(openai_stub.requests) == sent
    assert time.perf_counter() - started < 0.3
    openai_stub.behaviour.delay_s = 0.0  # the server recovers
    time.sleep(0.55)
    assert predictor.predict(X, _ctx()).action is Action.SELL  # half-open trial succeeds
    assert predictor.breaker.state == "closed"


def test_fallback_answers_within_the_deadline_when_the_server_is_slow(openai_stub) -> None:  # type: ignore[no-untyped-def]
    openai_stub.behaviour.delay_s = 1.0
    local = ScriptedPredictor("local/1", Action.HOLD, 0.5, 0.5)
    chain = FallbackPredictor([_predictor(openai_stub, read_timeout_s=5.0), local], deadline_s=0.2)
    started = time.perf_counter()
    prediction = chain.predict(X, _ctx())
    assert time.perf_counter() - started < 0.5
    assert prediction.model_id == "local/1" and "no answer within 200 ms" in prediction.reason
    chain.close()


def test_batch_runs_concurrently_with_per_row_errors(openai_stub) -> None:  # type: ignore[no-untyped-def]
    predictor = _predictor(openai_stub, max_concurrency=3)
    contexts = [_ctx(t) for t in range(5)]
    contexts[2] = MarketContext("EUR/USD.SIM", 2, ("rsi", "gap"), "spec", None)  # no bars: error
    results = predictor.predict_batch(np.tile(X, (5, 1)), contexts)
    assert [r.action for r in results] == [
        Action.SELL,
        Action.SELL,
        Action.HOLD,
        Action.SELL,
        Action.SELL,
    ]
    assert "recent_bars is required" in results[2].reason
    assert len(openai_stub.requests) == 4
    predictor.close()


def test_cache_reuses_answers_across_runs(openai_stub, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "openai.parquet"
    for run in range(2):
        cached = CachedPredictor(_predictor(openai_stub), PredictionCache(path))
        for ts in range(3):
            assert cached.predict(X, _ctx(ts)).action is Action.SELL
        cached.close()
        assert len(openai_stub.requests) == 3, f"run {run}"
    assert math.isclose(
        PredictionCache(path).get(next(iter(PredictionCache(path)._entries))).confidence, 0.6 / 0.95
    )


def test_a_shared_cache_never_answers_for_another_server(  # type: ignore[no-untyped-def]
    openai_stub, other_openai_stub, tmp_path: Path
) -> None:
    # The cache key left out the server: a config pointing at a second server (same model name,
    # one cache file) was answered from the first server's predictions, and never asked.
    other_openai_stub.behaviour.content = "buy"
    other_openai_stub.behaviour.probabilities = {"buy": 0.7, "sell": 0.2, "hold": 0.1}
    path = tmp_path / "openai.parquet"
    for stub, action in ((openai_stub, Action.SELL), (other_openai_stub, Action.BUY)):
        cached = CachedPredictor(_predictor(stub), PredictionCache(path))
        assert [cached.predict(X, _ctx(ts)).action for ts in range(3)] == [action] * 3
        cached.close()
        assert len(stub.requests) == 3
    # Each server's answers stay reusable, and a base URL spelt with a trailing slash is the
    # same server.
    for stub, action in ((openai_stub, Action.SELL), (other_openai_stub, Action.BUY)):
        cached = CachedPredictor(_predictor(stub, base_url=stub.base_url + "/"),
                                 PredictionCache(path))  # fmt: skip
        assert cached.predict(X, _ctx(1)).action is action and cached.hits == 1
        cached.close()
        assert len(stub.requests) == 3


@pytest.mark.parametrize("wrapper", ["ensemble", "fallback"])
def test_a_cached_wrapper_never_answers_for_another_server(  # type: ignore[no-untyped-def]
    openai_stub, other_openai_stub, tmp_path: Path, wrapper: str
) -> None:
    # The same fault one level down: a cached ensemble (or fallback chain) of an OpenAI server
    # was keyed by its own model id ("ensemble(openai:tiny-vl)") and the features, so the one
    # over the second server was answered with the first one's predictions.
    from nautilus_ai.models.ensemble import EnsemblePredictor

    other_openai_stub.behaviour.content = "buy"
    other_openai_stub.behaviour.probabilities = {"buy": 0.7, "sell": 0.2, "hold": 0.1}
    path = tmp_path / "openai.parquet"
    for stub, action in ((openai_stub, Action.SELL), (other_openai_stub, Action.BUY)):
        member = _predictor(stub)
        inner = (
            EnsemblePredictor([member])
            if wrapper == "ensemble"
            else FallbackPredictor([member, ScriptedPredictor("local")], deadline_s=5.0)
        )
        cached = CachedPredictor(inner, PredictionCache(path))
        assert [cached.predict(X, _ctx(ts)).action for ts in range(3)] == [action] * 3
        assert cached.hits == 0
        assert cached.predict(X, _ctx(1)).action is action and cached.hits == 1
        cached.close()
        assert len(stub.requests) == 3
