"""Answers a backend cannot use count against its circuit breaker, as failed calls do.

A server that answered HTTP 200 with junk (a proxy's page, another model's classes, a chat reply
that is no action) was a 'success' for the breaker: every call went out and came back unusable,
each a hold, and the breaker never opened, so the status never said the backend was down.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.models.base import PredictionError
from nautilus_ai.models.openai_compat import OpenAIConfig, OpenAIPredictor
from nautilus_ai.models.testing import market_context
from nautilus_ai.models.torchserve import TorchServeConfig, TorchServePredictor


class _Response:
    def __init__(self, status: int, body: bytes) -> None:
        self.status_code = status
        self.content = body


class _Session:
    def __init__(self, answers: list[tuple[int, bytes]]) -> None:
        self.answers = answers
        self.calls = 0

    def post(self, url: str, **kwargs: object) -> _Response:
        self.calls += 1
        return _Response(*self.answers.pop(0))

    def close(self) -> None:
        pass


def _prediction(action: str) -> dict[str, object]:
    return {"action": action, "confidence": 0.7, "risk_score": 0.2, "latency": 0.001}


def _torchserve(answers: list[tuple[int, bytes]]) -> tuple[TorchServePredictor, _Session]:
    session = _Session(answers)
    config = TorchServeConfig(
        model_name="m", url="http://127.0.0.1:9", failure_threshold=3, retries=0
    )
    return TorchServePredictor(config, session=session), session


def _ask(predictor: TorchServePredictor) -> object:
    """The one row's result, or the error the whole call raised."""
    try:
        [result] = predictor.predict_items(np.zeros((1, 2)))
    except PredictionError as exc:
        return exc
    return result


@pytest.mark.parametrize(
    "junk",
    [
        (200, b"<html>proxy says hello</html>"),
        (200, json.dumps({"model_id": "m", "predictions": [_prediction("long")]}).encode()),
        (404, b'{"code": 404, "message": "Model not found"}'),
    ],
    ids=["not-json", "other-classes", "http-404"],
)
def test_a_run_of_unusable_torchserve_answers_opens_the_breaker(junk: tuple[int, bytes]) -> None:
    predictor, session = _torchserve([junk] * 3)
    for _ in range(3):
        assert isinstance(_ask(predictor), PredictionError)
    assert predictor.breaker.state == "open"
    with pytest.raises(PredictionError, match="circuit open"):
        predictor.predict_items(np.zeros((1, 2)))
    assert session.calls == 3  # no call while open


def test_a_good_torchserve_answer_resets_the_count() -> None:
    good = (200, json.dumps({"model_id": "m", "predictions": [_prediction("buy")]}).encode())
    junk = (200, b"junk")
    predictor, _ = _torchserve([junk, junk, good, junk, junk])
    for _ in range(5):
        _ask(predictor)
    assert predictor.breaker.state == "closed"


def test_a_row_error_the_server_reports_is_not_a_fault_of_the_server() -> None:
    body = json.dumps({"model_id": "m", "predictions": [{"error": "row 0: NaN feature"}]})
    predictor, _ = _torchserve([(200, body.encode())] * 3)
    for _ in range(3):
        [result] = predictor.predict_items(np.zeros((1, 2)))
        assert isinstance(result, PredictionError) and "NaN feature" in str(result)
    assert predictor.breaker.state == "closed"


def _chat(text: str) -> bytes:
    return json.dumps({"choices": [{"message": {"content": text}}]}).encode()


def test_a_run_of_unusable_chat_answers_opens_the_breaker() -> None:
    session = _Session([(200, _chat("maybe later")), (200, b"{}"), (200, _chat("perhaps"))])
    config = OpenAIConfig(
        model="tiny",
        base_url="http://127.0.0.1:9/v1",
        send_chart=False,
        require_logprobs=False,
        failure_threshold=3,
        retries=0,
    )
    predictor = OpenAIPredictor(config, session=session)
    context = market_context(None)
    for _ in range(3):
        with pytest.raises(PredictionError):
            predictor.predict(np.zeros(2), context)
    assert predictor.breaker.state == "open"
    with pytest.raises(PredictionError, match="circuit open"):
        predictor.predict(np.zeros(2), context)
    assert session.calls == 3
    predictor.close()


def test_a_failed_token_refresh_never_leaves_the_breaker_stuck(tmp_path: Path) -> None:
    # An auth failure whose token refresh raised (the management call failed) left the answer
    # unsettled: in the half-open state its trial slot stayed taken and the breaker refused
    # every later call for good.
    import requests

    key_file = tmp_path / "key_file.json"
    keys = {"inference": {"key": "t"}, "management": {"key": "m"}, "API": {"key": "a"}}
    key_file.write_text(json.dumps(keys))

    class Session(_Session):
        def get(self, url: str, **kwargs: object) -> _Response:
            raise requests.ConnectionError("management down")

    good = (200, json.dumps({"model_id": "m", "predictions": [_prediction("buy")]}).encode())
    session = Session([(401, b"expired")] * 2 + [good])
    config = TorchServeConfig(
        model_name="m", url="http://127.0.0.1:9", management_url="http://127.0.0.1:9",
        key_file=key_file, failure_threshold=1, reset_timeout_s=0.05, retries=0,
    )  # fmt: skip
    predictor = TorchServePredictor(config, session=session)
    assert isinstance(_ask(predictor), PredictionError)
    assert predictor.breaker.state == "open"
    time.sleep(0.06)  # half-open: one trial, whose refresh fails again
    assert isinstance(_ask(predictor), PredictionError)
    time.sleep(0.06)
    [result] = predictor.predict_items(np.zeros((1, 2)))
    assert not isinstance(result, PredictionError) and predictor.breaker.state == "closed"
