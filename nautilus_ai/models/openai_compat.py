"""Any OpenAI-compatible chat server (vLLM, SGLang, llama.cpp, Ollama) behind the protocol.

One ``POST <base_url>/chat/completions`` per decision: the prompt of
:mod:`nautilus_ai.models.prompting` as text plus, optionally, the candlestick chart as an image
part (a base64 PNG data URL). Two answer modes:

* ``choice`` (default): the model answers one word, ``buy`` / ``sell`` / ``hold``, constrained to
  those where the server supports it (``guided_choice`` or ``structured_outputs``); risk is the
  normalised entropy of the action distribution;
* ``json``: the model answers ``{"action": ..., "risk": ...}``, constrained by a JSON schema where
  supported (``json_schema`` = ``response_format``, or ``guided_json`` / ``structured_outputs``),
  validated with pydantic.

Confidence always comes from the token log-probabilities (``logprobs`` + ``top_logprobs``) at the
position where the action word starts: alternatives are mapped to the action they begin
(``"b"``, ``"buy"`` -> buy), summed per action and softmaxed over the three choices. An action
missing from the top list is given the smallest listed log-probability (an upper bound, so the
confidence is never overstated). A server that returns no log-probabilities is an error unless
``require_logprobs=False`` (then confidence is ``fallback_confidence``).

Endpoint and key: config, else ``NAUTILUS_AI_OPENAI_BASE_URL`` / ``NAUTILUS_AI_OPENAI_API_KEY``
(or ``api_key_file``). Errors, timeouts and malformed answers raise :class:`PredictionError`.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from nautilus_ai.charts import ChartStyle, chart_png
from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError
from nautilus_ai.models.http import HttpClient, check_base_url
from nautilus_ai.models.itemwise import ItemResult, ItemwiseBackend, check_batch
from nautilus_ai.models.prompting import (
    ACTION_CHOICES,
    ANSWER_JSON_SCHEMA,
    SYSTEM_PROMPT,
    action_distribution,
    build_prompt,
    input_fingerprint,
    normalised_entropy,
    parse_answer,
)
from nautilus_ai.models.registry import Backend, BackendRegistry
from nautilus_ai.models.spec import FeatureSpecLike, check_pinned_spec

__all__ = [
    "CHOICE_SYSTEM_PROMPT",
    "OPENAI_API_KEY_ENV",
    "OPENAI_BASE_URL_ENV",
    "OpenAIConfig",
    "OpenAIPredictor",
    "action_logprobs",
]

OPENAI_BASE_URL_ENV = "NAUTILUS_AI_OPENAI_BASE_URL"
OPENAI_API_KEY_ENV = "NAUTILUS_AI_OPENAI_API_KEY"

CHOICE_SYSTEM_PROMPT = (
    "You are a cautious FX trading assistant. You see a candlestick chart and/or the latest bars "
    "and indicator values of one instrument. Decide whether to buy, sell or hold now. Answer "
    "with exactly one word: buy, sell or hold."
)

Constraint = Literal["none", "guided_choice", "structured_outputs", "json_schema", "guided_json"]

_CONSTRAINT_HINT = "use the constraint field"
#: Request keys the predictor writes itself; ``extra_body`` must not replace them.
_SET_BY_PREDICTOR: dict[str, str] = {
    "model": "use the model field",
    "messages": "the prompt is built from the features and bars",
    "temperature": "use the temperature field",
    "max_tokens": "use the max_tokens field",
    "logprobs": "confidence needs them; use top_logprobs / require_logprobs",
    "top_logprobs": "use the top_logprobs field",
    "stream": "the answer is read whole (no stream)",
    "n": "one answer is read",
    "guided_choice": _CONSTRAINT_HINT,
    "guided_json": _CONSTRAINT_HINT,
    "structured_outputs": _CONSTRAINT_HINT,
    "response_format": _CONSTRAINT_HINT,
}


class OpenAIConfig(BaseModel):
    """Settings of an :class:`OpenAIPredictor` (frozen; unknown fields are rejected).

    Parameters
    ----------
    model : str
        The served model name (the ``model`` field of the request).
    base_url : str or None
        E.g. ``http://127.0.0.1:8000/v1``; default ``$NAUTILUS_AI_OPENAI_BASE_URL``.
    api_key, api_key_file
        Bearer key, or a file holding it; default ``$NAUTILUS_AI_OPENAI_API_KEY``; none is fine
        for local servers.
    answer_mode : {"choice", "json"}
        One word, or the JSON object (see the module docstring).
    constraint : str
        How the server is told to restrict the answer: ``none``, ``guided_choice`` (vLLM),
        ``structured_outputs`` (vLLM >= 0.10), ``json_schema`` (``response_format``; OpenAI,
        vLLM, SGLang, llama.cpp, Ollama) or ``guided_json``.
    send_chart : bool
        Attach the chart image (the model must accept images).
    chart_bars, prompt_bars, chart_width, chart_height
        What the chart and the text show.
    top_logprobs : int
        Alternatives requested per token (1..20).
    require_logprobs : bool
        Without log-probabilities, fail (default) or use ``fallback_confidence``.
    max_tokens : int
        Answer budget (``choice`` needs ~2, ``json`` ~30).
    extra_body : dict
        Merged into every request (e.g. ``{"chat_template_kwargs": {"enable_thinking": false}}``).
    max_concurrency : int
        Parallel requests in ``predict_batch`` (servers batch concurrent requests).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["openai"] = "openai"
    model: str = Field(min_length=1)
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    answer_mode: Literal["choice", "json"] = "choice"
    constraint: Constraint = "none"
    send_chart: bool = True
    chart_bars: int = Field(default=64, ge=1, le=1000)
    prompt_bars: int = Field(default=16, ge=0, le=1000)
    chart_width: int = Field(default=448, ge=32, le=4096)
    chart_height: int = Field(default=448, ge=32, le=4096)
    top_logprobs: int = Field(default=10, ge=1, le=20)
    require_logprobs: bool = True
    fallback_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int = Field(default=0, ge=0, le=4096)
    connect_timeout_s: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    read_timeout_s: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    retries: int = Field(default=1, ge=0, le=10)
    backoff_s: float = Field(default=0.1, ge=0, allow_inf_nan=False)
    failure_threshold: int = Field(default=5, ge=1)
    reset_timeout_s: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    max_concurrency: int = Field(default=4, ge=1, le=256)
    extra_body: dict[str, Any] = Field(default_factory=dict)
    system_prompt: str | None = None
    spec_hash: str | None = None
    model_id: str = ""

    @field_validator("extra_body")
    @classmethod
    def _check_extra_body(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key in _SET_BY_PREDICTOR:
                raise ValueError(
                    f"key {key!r} is set by the predictor (it would silently "
                    f"override it): {_SET_BY_PREDICTOR[key]}"
                )
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return None if value is None else check_base_url(value, endpoint="/chat/completions")

    @model_validator(mode="after")
    def _check_constraint(self) -> OpenAIConfig:
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("set api_key or api_key_file, not both")
        if self.answer_mode == "choice" and self.constraint in ("json_schema", "guided_json"):
            raise ValueError(f"constraint {self.constraint!r} needs answer_mode 'json'")
        if self.answer_mode == "json" and self.constraint == "guided_choice":
            raise ValueError("constraint 'guided_choice' needs answer_mode 'choice'")
        return self


class OpenAIPredictor(ItemwiseBackend):
    """Ask an OpenAI-compatible chat endpoint (see the module docstring)."""

    def __init__(self, config: OpenAIConfig, session: object | None = None) -> None:
        self.config = config
        base_url = config.base_url or os.environ.get(OPENAI_BASE_URL_ENV)
        if not base_url:
            raise ValueError(
                f"OpenAI-compatible base URL missing: set base_url or ${OPENAI_BASE_URL_ENV}"
            )
        if not config.base_url:
            try:
                check_base_url(base_url, endpoint="/chat/completions")
            except ValueError as exc:
                raise ValueError(f"${OPENAI_BASE_URL_ENV}: {exc} (was {base_url!r})") from None
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model_id = config.model_id or f"openai:{config.model}"
        self._spec_hash = config.spec_hash
        self._api_key = self._load_key()
        self._http = HttpClient.from_settings(
            self._model_id,
            config,
            self._headers,
            session=session,  # type: ignore[arg-type]
            pool_size=config.max_concurrency,
        )
        self.breaker = self._http.breaker
        self._style = ChartStyle(width=config.chart_width, height=config.chart_height)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # Everything that changes an answer: the settings and the server (the resolved URL, so
        # a base URL from the environment counts, and a trailing slash does not); the key and
        # the concurrency do not.
        settings = config.model_dump_json(
            exclude={"api_key", "api_key_file", "base_url", "max_concurrency", "spec_hash"}
        )
        self._fingerprint = f"{self._url}\x00{settings}"

    def prompt_hash(self, features: NDArray[np.float64], context: MarketContext) -> str:
        """Identifies everything the model is shown for this row (a prediction-cache key part)."""
        config = self.config
        bars = max(config.prompt_bars, config.chart_bars if config.send_chart else 0)
        return input_fingerprint(features, context, self._fingerprint, bars_used=bars)

    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        """One request for one row (``predict_items`` runs these concurrently)."""
        self._check_open()
        self._check_context_spec(context)
        started = time.perf_counter()
        body = json.dumps(self.request_body(features, context)).encode()
        response = self._http.post(self._url, body, settle=False)
        prediction = self._http.read_answer(
            response,
            self._url,
            lambda answer: self._read_answer(answer, time.perf_counter() - started),
            self._model_id,
        )
        self._http.settle(True)
        return prediction

    def predict_items(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[ItemResult]:
        matrix = check_batch(features, contexts)
        if contexts is None:
            raise PredictionError("OpenAIPredictor needs a MarketContext per row")

        def one(row: int) -> ItemResult:
            try:
                return self.predict(matrix[row], contexts[row])
            except PredictionError as exc:
                return exc
            except Exception as exc:
                return PredictionError(f"{self._model_id}: {type(exc).__name__}: {exc}")

        rows = range(matrix.shape[0])
        if matrix.shape[0] <= 1 or self.config.max_concurrency == 1:
            return [one(r) for r in rows]
        return list(self._executor().map(one, rows))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._http.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- request --------------------------------------------------------------------------------

    def request_body(self, features: NDArray[np.float64], context: MarketContext) -> dict[str, Any]:
        """The JSON body sent for one row (public so users can inspect or log it)."""
        config = self.config
        with_chart = config.send_chart
        text = build_prompt(
            features, context, bars_in_prompt=config.prompt_bars, with_chart=with_chart
        )
        content: list[dict[str, Any]] = [{"type": "text", "text": text}]
        if with_chart:
            bars = context.recent_bars
            if bars is None or len(bars) == 0:
                raise PredictionError(
                    f"{self._model_id} sends a chart: MarketContext.recent_bars is required"
                )
            try:
                png = chart_png(bars[-config.chart_bars :], self._style)
            except ValueError as exc:
                raise PredictionError(f"cannot draw the chart: {exc}") from exc
            url = "data:image/png;base64," + base64.b64encode(png).decode()
            content.append({"type": "image_url", "image_url": {"url": url}})
        system = config.system_prompt or (
            CHOICE_SYSTEM_PROMPT if config.answer_mode == "choice" else SYSTEM_PROMPT
        )
        body: dict[str, Any] = {
            "model": config.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": content},
            ],
            "temperature": config.temperature,
            "max_tokens": config.max_tokens or (3 if config.answer_mode == "choice" else 40),
            "logprobs": True,
            "top_logprobs": config.top_logprobs,
        }
        body.update(_constraint_fields(config.constraint, config.answer_mode))
        body.update(config.extra_body)
        return body

    # -- answer ---------------------------------------------------------------------------------

    def _read_answer(self, raw: bytes, latency: float) -> Prediction:
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            text = choice["message"]["content"]
            if not isinstance(text, str):
                raise TypeError(f"message content is {type(text).__name__}")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise PredictionError(
                f"{self._model_id}: malformed chat completion ({type(exc).__name__}: {exc}): "
                f"{raw[:200]!r}"
            ) from None
        config = self.config
        if config.answer_mode == "json":
            answer = parse_answer(text)
            action, risk = Action(answer.action), answer.risk
            start = _json_action_offset(text)
        else:
            word = text.strip().strip("\"'.").lower()
            if word not in ACTION_CHOICES:
                raise PredictionError(
                    f"{self._model_id}: answer is not one of {ACTION_CHOICES}: {text[:80]!r}"
                )
            action, risk = Action(word), -1.0
            start = len(text) - len(text.lstrip())
        tokens = _logprob_tokens(choice)
        if tokens is None:
            if config.require_logprobs:
                raise PredictionError(
                    f"{self._model_id}: the server returned no logprobs (needed for confidence; "
                    "set require_logprobs=false to use fallback_confidence)"
                )
            confidence = config.fallback_confidence
            if risk < 0:
                risk = 1.0 - confidence
            reason = "no logprobs: fallback confidence"
        else:
            scores = action_logprobs(tokens, start)
            distribution = action_distribution(scores)
            confidence = distribution[action]
            if risk < 0:
                risk = normalised_entropy(distribution)
            reason = "token logprobs"
        return Prediction(
            action,
            min(1.0, max(0.0, confidence)),
            min(1.0, max(0.0, risk)),
            self._model_id,
            latency,
            reason,
        )

    # -- plumbing -------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    def _load_key(self) -> str | None:
        config = self.config
        if config.api_key is not None:
            return config.api_key.get_secret_value()
        if config.api_key_file is not None:
            try:
                key = config.api_key_file.read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read api_key_file {config.api_key_file}: {exc}") from exc
            if not key:  # else every request would go out without a key
                raise ValueError(f"api_key_file {config.api_key_file}: the key is empty")
            return key
        return os.environ.get(OPENAI_API_KEY_ENV) or None

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self.config.max_concurrency, thread_name_prefix="nautilus-ai-openai"
                )
            return self._pool


def _constraint_fields(constraint: Constraint, answer_mode: str) -> dict[str, Any]:
    choices = list(ACTION_CHOICES)
    if constraint == "structured_outputs":
        if answer_mode == "choice":
            return {"structured_outputs": {"choice": choices}}
        return {"structured_outputs": {"json": ANSWER_JSON_SCHEMA}}
    if constraint == "guided_choice":
        return {"guided_choice": choices}
    if constraint == "guided_json":
        return {"guided_json": ANSWER_JSON_SCHEMA}
    if constraint == "json_schema":
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "action_answer",
                    "schema": ANSWER_JSON_SCHEMA,
                    "strict": True,
                },
            }
        }
    return {}


_ACTION_VALUE = re.compile(r'"action"\s*:\s*"')


def _json_action_offset(text: str) -> int:
    match = _ACTION_VALUE.search(text)
    if match is None:  # parse_answer succeeded, so the key exists; be defensive anyway
        raise PredictionError(f"cannot locate the action value in {text[:80]!r}")
    return match.end()


def _logprob_tokens(choice: dict[str, Any]) -> list[dict[str, Any]] | None:
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if not isinstance(content, list) or not content:
        return None
    return content


def action_logprobs(tokens: list[dict[str, Any]], start: int) -> dict[str, float]:
    """Log-probability per action at the token where the action word starts.

    Parameters
    ----------
    tokens : list of dict
        The ``logprobs.content`` list of a chat completion (``token``, ``logprob``,
        ``top_logprobs``).
    start : int
        Character offset of the action word in the answer text.

    Raises
    ------
    PredictionError
        If no token covers ``start`` or no alternative there begins an action word.
    """
    offset = 0
    position: dict[str, Any] | None = None
    for index, token in enumerate(tokens):
        text = _token_text(token, f"logprobs token {index}")
        if offset + len(text) > start and text[max(0, start - offset) :].strip(" \"':"):
            position = token
            break
        offset += len(text)
    if position is None:
        raise PredictionError("no logprob token covers the action word")
    top = position.get("top_logprobs") or []
    if not isinstance(top, list):
        raise PredictionError(f"logprobs top_logprobs is not a list: {str(top)[:80]!r}")
    alternatives = [*top, {"token": position.get("token", ""), "logprob": position.get("logprob")}]
    for alternative in alternatives:
        _token_text(alternative, "a top_logprobs entry")
        _check_logprob(alternative.get("logprob"))
    grouped: dict[str, list[float]] = {c: [] for c in ACTION_CHOICES}
    seen: set[str] = set()
    listed: list[float] = []
    for alternative in alternatives:
        token_text = str(alternative.get("token", ""))
        value = alternative.get("logprob")
        if token_text in seen or not isinstance(value, int | float) or math.isnan(value):
            continue
        seen.add(token_text)
        listed.append(float(value))
        normalised = token_text.lstrip(" \"':").lower()
        matches = [
            c
            for c in ACTION_CHOICES
            if normalised and (c.startswith(normalised) or normalised.startswith(c))
        ]
        if len(matches) == 1:
            grouped[matches[0]].append(float(value))
    if not any(grouped.values()):
        raise PredictionError(
            f"no alternative at the action position begins an action word: "
            f"{[a.get('token') for a in alternatives][:10]}"
        )
    floor = min(listed)
    return {choice: _logsumexp(values) if values else floor for choice, values in grouped.items()}


def _token_text(token: object, what: str) -> str:
    if not isinstance(token, dict):
        raise PredictionError(f"{what} is not an object: {str(token)[:80]!r}")
    text = token.get("token", "")
    if not isinstance(text, str):
        raise PredictionError(f"{what} has a token that is not a string: {text!r}")
    return text


# A log-probability a little above 0 is rounding; more is a probability above 1.
_LOGPROB_SLACK = 1e-4


def _check_logprob(value: object) -> None:
    """Refuse what cannot be a log-probability (a boolean, > 0, +inf); None / NaN are skipped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value > _LOGPROB_SLACK:
        raise PredictionError(f"server sent {value!r} as a log-probability (must be <= 0)")


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    if top == -math.inf:  # every alternative impossible: -inf - -inf would be NaN
        return -math.inf
    return top + math.log(sum(math.exp(v - top) for v in values))


def _build_from_registry(
    config: OpenAIConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> OpenAIPredictor:
    check_pinned_spec(config.spec_hash, spec, "openai")
    return OpenAIPredictor(config)


#: The ``openai`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("openai", OpenAIConfig, _build_from_registry)
