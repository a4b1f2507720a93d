"""A real TorchServe (one per session, loopback, token auth on) behind TorchServePredictor."""

from __future__ import annotations

import ipaddress
import time

import numpy as np
import psutil
import pytest
import requests

from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError, safe_predict
from nautilus_ai.models.fallback import FallbackPredictor
from nautilus_ai.models.testing import ScriptedPredictor, synthetic_bars
from nautilus_ai.models.torchserve import TorchServeConfig, TorchServePredictor
from nautilus_ai.models.transformers_backend import TransformersConfig, TransformersPredictor


def _contexts(n: int) -> list[MarketContext]:
    return [
        MarketContext("EUR/USD.SIM", i, ("rsi", "gap"), "spec", synthetic_bars(64, i))
        for i in range(n)
    ]


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)  # Java binds dual-stack: ::ffff:127.0.0.1
    return (mapped or address).is_loopback


def _client(session, model: str, **kwargs) -> TorchServePredictor:  # type: ignore[no-untyped-def]
    server = session.server
    settings = {"model_name": model, "url": server.inference_url, "key_file": server.key_file}
    settings.update(kwargs)
    return TorchServePredictor(TorchServeConfig(**settings))


def _local() -> ScriptedPredictor:
    """The last link of a fallback chain: a local model that always holds."""
    return ScriptedPredictor("local/1", Action.HOLD, 0.5, 0.5)


def test_served_model_answers_like_the_in_process_model(torchserve_session) -> None:  # type: ignore[no-untyped-def]
    features = np.array([[0.52, -0.001], [0.31, 0.002], [0.77, 0.0], [0.1, 0.1]])
    contexts = _contexts(4)
    served = _client(torchserve_session, "tinyvlm", send_context=True, read_timeout_s=30)
    local = TransformersPredictor(
        TransformersConfig(model_dir=torchserve_session.vlm_dir, model_id="tinyvlm/1")
    )
    remote_batch = served.predict_batch(features, contexts)
    local_batch = local.predict_batch(features, contexts)
    singles = [served.predict(features[i], contexts[i]) for i in range(4)]
    for remote, single, mine in zip(remote_batch, singles, local_batch, strict=True):
        assert remote.model_id == "tinyvlm/1"
        assert remote.action is mine.action is single.action
        assert remote.confidence == pytest.approx(mine.confidence, abs=1e-6)
        assert remote.risk_score == pytest.approx(mine.risk_score, abs=1e-6)
    served.close()


def test_listeners_are_loopback_only_and_tokens_are_required(torchserve_session) -> None:  # type: ignore[no-untyped-def]
    server = torchserve_session.server
    listening = [
        c.laddr
        for c in psutil.Process(server.pid()).net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert len(listening) >= 5  # inference, management, metrics, 2x gRPC
    assert all(_loopback(address.ip) for address in listening), listening
    assert set(server.ports.values()) <= {a.port for a in listening}
    url = f"{server.inference_url}/predictions/tinyvlm"
    assert requests.post(url, json={"instances": [[0.1, 0.2]]}, timeout=5).status_code in (400, 401)
    wrong = requests.post(
        url, json={"instances": [[0.1, 0.2]]}, headers={"Authorization": "Bearer nope"}, timeout=5
    )
    assert wrong.status_code in (400, 401) and b"Token" in wrong.content


def test_one_bad_row_gets_its_own_error(torchserve_session) -> None:  # type: ignore[no-untyped-def]
    served = _client(torchserve_session, "tinyvlm", send_context=True, read_timeout_s=30)
    features = np.array([[0.5, 0.1], [np.nan, 0.1], [0.3, 0.2]])
    results = served.predict_items(features, _contexts(3))
    assert isinstance(results[0], Prediction) and isinstance(results[2], Prediction)
    assert isinstance(results[1], PredictionError) and "not a finite number" in str(results[1])
    held = served.predict_batch(features, _contexts(3))
    assert held[1].action is Action.HOLD and "not a finite number" in held[1].reason


def test_slow_handler_times_out_and_the_fallback_answers_in_time(torchserve_session) -> None:  # type: ignore[no-untyped-def]
    slow = _client(
        torchserve_session,
        "slow",
        read_timeout_s=0.3,
        retries=0,
        failure_threshold=2,
        reset_timeout_s=60,
    )
    started = time.perf_counter()
    with pytest.raises(PredictionError, match=r"no answer within 0\.3 s"):
        slow.predict(np.array([0.1, 0.2]), _contexts(1)[0])
    assert time.perf_counter() - started < 1.0
    chain = FallbackPredictor([slow, _local()], deadline_s=0.5)
    for _ in range(3):
        started = time.perf_counter()
        prediction = chain.predict(np.array([0.1, 0.2]), _contexts(1)[0])
        assert time.perf_counter() - started < 0.6
        assert prediction.model_id == "local/1"
    assert slow.breaker.state == "open"  # opened after 2 timeouts; the 3rd call failed fast
    assert "circuit open" in prediction.reason
    chain.close()


def test_junk_answers_are_errors_not_crashes(torchserve_session) -> None:  # type: ignore[no-untyped-def]
    junk = _client(torchserve_session, "junk", retries=0)
    with pytest.raises(PredictionError, match="malformed response"):
        junk.predict(np.array([0.1, 0.2]), _contexts(1)[0])
    held = safe_predict(junk, np.array([0.1, 0.2]), _contexts(1)[0])
    assert held.action is Action.HOLD and "malformed response" in held.reason
    chain = FallbackPredictor([junk, _local()], deadline_s=1.0)
    assert chain.predict(np.array([0.1, 0.2]), _contexts(1)[0]).model_id == "local/1"


def test_unknown_model_is_a_clear_error(torchserve_session) -> None:  # type: ignore[no-untyped-def]
    missing = _client(torchserve_session, "nosuchmodel", retries=0)
    with pytest.raises(PredictionError, match="HTTP 404"):
        missing.predict(np.array([0.1, 0.2]), _contexts(1)[0])
