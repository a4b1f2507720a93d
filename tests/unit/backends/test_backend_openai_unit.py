"""OpenAIPredictor pieces that need no server: request bodies and logprob reading."""

from __future__ import annotations

import base64
import math
from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.models.base import Action, PredictionError
from nautilus_ai.models.openai_compat import OpenAIConfig, OpenAIPredictor, action_logprobs
from nautilus_ai.models.prompting import action_distribution
from nautilus_ai.models.testing import market_context, synthetic_bars


def _predictor(**kwargs: object) -> OpenAIPredictor:
    return OpenAIPredictor(OpenAIConfig(model="tiny", base_url="http://127.0.0.1:9/v1", **kwargs))  # type: ignore[arg-type]


def test_request_has_text_and_chart_and_constraint() -> None:
    predictor = _predictor(constraint="guided_choice")
    body = predictor.request_body(np.array([0.5, 0.1]), market_context(synthetic_bars(70)))
    user = body["messages"][1]["content"]
    assert user[0]["type"] == "text" and "rsi = 0.5" in user[0]["text"]
    url = user[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert body["guided_choice"] == ["buy", "sell", "hold"]
    assert body["logprobs"] is True and body["top_logprobs"] == 10
    assert body["temperature"] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"answer_mode": "json", "constraint": "json_schema"}, "response_format"),
        ({"answer_mode": "json", "constraint": "guided_json"}, "guided_json"),
        ({"answer_mode": "choice", "constraint": "structured_outputs"}, "structured_outputs"),
    ],
)
def test_constraint_fields(kwargs: dict[str, object], key: str) -> None:
    body = _predictor(send_chart=False, **kwargs).request_body(np.zeros(2), market_context(None))
    assert key in body
    assert len(body["messages"][1]["content"]) == 1  # no chart


def test_inconsistent_constraint_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs answer_mode 'json'"):
        OpenAIConfig(model="m", constraint="json_schema")
    with pytest.raises(ValueError, match="needs answer_mode 'choice'"):
        OpenAIConfig(model="m", answer_mode="json", constraint="guided_choice")


def test_chart_needs_bars() -> None:
    with pytest.raises(PredictionError, match="recent_bars is required"):
        _predictor().request_body(np.zeros(2), market_context(None))


def _token(text: str, logprob: float, alternatives: dict[str, float]) -> dict[str, object]:
    return {
        "token": text,
        "logprob": logprob,
        "top_logprobs": [{"token": t, "logprob": v} for t, v in alternatives.items()],
    }


def test_logprobs_are_grouped_by_the_action_they_begin() -> None:
    tokens = [
        _token(
            " b",
            math.log(0.5),
            {
                " b": math.log(0.5),
                "sell": math.log(0.3),
                "Hold": math.log(0.1),
                "bu": math.log(0.05),
            },
        ),
        _token("uy", -0.01, {}),
    ]
    scores = action_logprobs(tokens, start=1)
    assert math.exp(scores["buy"]) == pytest.approx(0.55)
    assert math.exp(scores["sell"]) == pytest.approx(0.3)
    assert math.exp(scores["hold"]) == pytest.approx(0.1)


def test_json_answer_logprobs_start_at_the_action_value() -> None:
    text_tokens = ['{"', "action", '":', ' "', "sell", '",', ' "risk": 0.2}']
    tokens = [_token(t, -0.01, {}) for t in text_tokens]
    tokens[4] = _token(
        "sell", math.log(0.6), {"sell": math.log(0.6), "buy": math.log(0.3), "{": math.log(0.05)}
    )
    text = "".join(text_tokens)
    start = text.index("sell")
    scores = action_logprobs(tokens, start)
    assert math.exp(scores["sell"]) == pytest.approx(0.6)
    # hold is not listed: it gets the smallest listed value (0.05), never more confidence
    assert math.exp(scores["hold"]) == pytest.approx(0.05)


def test_no_action_alternative_is_an_error() -> None:
    with pytest.raises(PredictionError, match="begins an action word"):
        action_logprobs([_token("maybe", -0.1, {"perhaps": -1.0})], start=0)
    with pytest.raises(PredictionError, match="covers the action word"):
        action_logprobs([_token("x", -0.1, {})], start=10)


def test_missing_base_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAUTILUS_AI_OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="NAUTILUS_AI_OPENAI_BASE_URL"):
        OpenAIPredictor(OpenAIConfig(model="m"))
    monkeypatch.setenv("NAUTILUS_AI_OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    assert OpenAIPredictor(OpenAIConfig(model="m"))._url == "http://127.0.0.1:9/v1/chat/completions"


@pytest.mark.parametrize(
    "tokens",
    [
        ["buy"],  # a token that is not an object
        [{"token": 5, "logprob": -0.1, "top_logprobs": []}],  # token text not a string
        [{"token": "buy", "logprob": -0.1, "top_logprobs": "buy"}],  # alternatives not a list
        [{"token": "buy", "logprob": -0.1, "top_logprobs": [1, 2]}],  # alternative not an object
    ],
)
def test_malformed_logprob_tokens_are_a_prediction_error(tokens: list[object]) -> None:
    # A server answering garbage logprobs raised AttributeError, not the typed PredictionError.
    with pytest.raises(PredictionError, match="logprob"):
        action_logprobs(tokens, start=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [3.0, True, math.inf])
def test_impossible_log_probabilities_are_refused(value: object) -> None:
    # A log-probability above 0 (a probability above 1) or a boolean is no log-probability:
    # it was read as one and gave a confident buy.
    with pytest.raises(PredictionError, match="log-probabilit"):
        action_logprobs([_token("buy", value, {"buy": value, "sell": -1.0})], start=0)  # type: ignore[arg-type]


def test_an_action_whose_alternatives_are_all_impossible_scores_zero_not_nan() -> None:
    # A server that lists "buy" and "bu" at -Infinity (impossible) answered a plain "sell":
    # summing the two gave -inf - -inf = NaN, and the whole answer was refused as "action
    # log-probabilities contain NaN" (a hold with an error) instead of a confident sell.
    alternatives = {"sell": math.log(0.9), "buy": -math.inf, "bu": -math.inf, "hold": -3.0}
    scores = action_logprobs([_token("sell", math.log(0.9), alternatives)], start=0)
    assert scores["buy"] == -math.inf
    distribution = action_distribution(scores)
    assert distribution[Action.BUY] == 0.0
    assert distribution[Action.SELL] == pytest.approx(0.9 / (0.9 + math.exp(-3.0)))


def test_an_empty_api_key_file_or_two_keys_are_refused(tmp_path: Path) -> None:
    # An empty key file was read as "no key": every request went out unauthenticated (401 on
    # every bar); with both api_key and api_key_file the file was ignored without a word.
    empty = tmp_path / "key"
    empty.write_text("\n")
    with pytest.raises(ValueError, match=r"api_key_file .*key is empty"):
        _predictor(api_key_file=empty)
    with pytest.raises(ValueError, match="api_key or api_key_file, not both"):
        OpenAIConfig(model="m", api_key="k", api_key_file=empty)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("model", "another-model", "model"),  # asked another model under this model_id
        ("temperature", 1.0, "temperature"),  # silently beat the temperature field
        ("logprobs", False, "top_logprobs"),
        ("stream", True, "stream"),
        ("response_format", {"type": "text"}, "constraint"),
    ],
)
def test_extra_body_may_not_override_what_the_predictor_sets(
    key: str, value: object, hint: str
) -> None:
    from nautilus_ai.models import BackendConfigError, validate_backend_config

    config = {"kind": "openai", "model": "m", "extra_body": {key: value}}
    with pytest.raises(BackendConfigError, match=rf"extra_body.*{key}.*{hint}"):
        validate_backend_config(config)
