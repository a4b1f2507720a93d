"""The TorchServe wire format and the per-item server-side batch handler (no server needed)."""

from __future__ import annotations

import json

import msgspec
import numpy as np
import pytest

from nautilus_ai.models.base import Action, Prediction, PredictionError
from nautilus_ai.models.testing import ScriptedPredictor, market_context, synthetic_bars
from nautilus_ai.models.torchserve_wire import (
    decode_response,
    encode_request,
    handle_batch,
)


def _body(rows: list[list[float | None]], **extra: object) -> bytes:
    return json.dumps({"instances": rows, **extra}).encode()


def test_one_bad_request_does_not_fail_the_batch() -> None:
    predictor = ScriptedPredictor("m/1", Action.SELL, 0.7)
    data = [
        {"body": _body([[1.0, 2.0]])},
        {"body": b"not json"},
        {"body": {"instances": [[3.0, 4.0], [5.0, 6.0]]}},  # already parsed by TorchServe
        {"data": _body([[1.0]], unknown=1)},
    ]
    bodies, statuses = handle_batch(predictor, data, feature_count=2)
    assert statuses == [200, 400, 200, 400]
    first = json.loads(bodies[0])
    assert first["model_id"] == "m/1"
    assert first["predictions"][0]["action"] == "sell"
    assert len(json.loads(bodies[2])["predictions"]) == 2
    assert "bad request" in json.loads(bodies[1])["error"]
    assert "unknown" in json.loads(bodies[3])["error"]
    assert predictor.calls == 3  # every valid row went to the model


def test_one_bad_row_does_not_fail_its_request() -> None:
    bodies, statuses = handle_batch(
        ScriptedPredictor(), [{"body": _body([[1.0, 2.0], [1.0, None], [1.0], [0.0, 0.0]])}], 2
    )
    predictions = json.loads(bodies[0])["predictions"]
    assert statuses == [200]
    assert predictions[0]["action"] == "buy"
    assert "feature 1 is not a finite number" in predictions[1]["error"]
    assert "expected 2 features, got 1" in predictions[2]["error"]
    assert predictions[3]["action"] == "buy"


def test_predictor_crash_is_reported_per_row_not_raised() -> None:
    bodies, statuses = handle_batch(
        ScriptedPredictor(fail=True), [{"body": _body([[1.0, 2.0]])}], 2
    )
    assert statuses == [200]
    assert "failed on purpose" in json.loads(bodies[0])["predictions"][0]["error"]


def test_round_trip_with_context() -> None:
    bars = synthetic_bars(5)
    contexts = [market_context(bars), market_context(bars)]
    body = encode_request(
        np.array([[1.0, np.nan], [2.0, 3.0]]), contexts, spec_hash="s", send_context=True
    )
    payload = json.loads(body)
    assert payload["instances"][0] == [1.0, None]
    assert payload["feature_names"] == ["rsi", "ema_gap"]
    assert len(payload["contexts"][0]["recent_bars"]) == 5
    seen: list = []  # type: ignore[type-arg]

    class Recording(ScriptedPredictor):
        def predict(self, features, context):  # type: ignore[no-untyped-def]
            seen.append(context)
            return super().predict(features, context)

    bodies, _ = handle_batch(Recording(), [{"body": body}], None)
    model_id, results = decode_response(bodies[0], 2, "client")
    assert model_id == "scripted/1"
    assert isinstance(results[0], PredictionError) and "row 0" in str(results[0])
    assert isinstance(results[1], Prediction) and results[1].action is Action.BUY
    assert seen[0].feature_names == ("rsi", "ema_gap") and seen[0].spec_hash == "s"
    np.testing.assert_array_equal(seen[0].recent_bars, bars)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html>oops</html>", "malformed response"),
        (b'{"model_id": "m", "predictions": []}', "0 predictions for 1 rows"),
        (b'{"model_id": "m", "predictions": [{"action": "moon"}]}', "invalid prediction in row 0"),
    ],
)
def test_client_rejects_bad_responses(body: bytes, message: str) -> None:
    try:
        _, results = decode_response(body, 1, "client")
    except PredictionError as exc:
        assert message in str(exc)
        return
    assert message in str(results[0])


def test_encoding_is_plain_json() -> None:
    body = encode_request(np.zeros((1, 3)), None, spec_hash=None)
    assert msgspec.json.decode(body) == {
        "instances": [[0.0, 0.0, 0.0]],
        "spec_hash": None,
        "feature_names": None,
        "contexts": None,
    }
