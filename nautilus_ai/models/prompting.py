"""Prompts for language-model backends, the structured answer they must give, and its scoring.

Shared by :mod:`nautilus_ai.models.transformers_backend` and :mod:`nautilus_ai.models.openai_compat`
so both ask the same question and read answers the same way:

* :func:`build_prompt` turns a feature vector and the recent bars into a short, deterministic text
  (same input, same bytes: prompts can be hashed into a cache key).
* The model answers one JSON object, ``{"action": "buy"|"sell"|"hold", "risk": 0..1}``, validated
  by :class:`ActionAnswer`; :func:`parse_answer` raises :class:`PredictionError` on anything else
  (a malformed answer becomes a logged hold in the strategy, never an exception there).
* Confidence never comes from a number the model writes: it is the softmax, over the three action
  choices only, of the log-probabilities the model gives each choice as the continuation of
  :data:`ANSWER_PREFIX` (:func:`action_distribution`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nautilus_ai.models.base import Action, MarketContext, PredictionError

__all__ = [
    "ACTION_CHOICES",
    "ANSWER_JSON_SCHEMA",
    "ANSWER_PREFIX",
    "PROMPT_VERSION",
    "SYSTEM_PROMPT",
    "ActionAnswer",
    "action_distribution",
    "build_prompt",
    "input_fingerprint",
    "normalised_entropy",
    "parse_answer",
]

# Bump when the prompt text changes: it is part of every prompt hash, so cached answers to the
# old wording are never reused for the new one.
PROMPT_VERSION = "1"

ACTION_CHOICES: tuple[str, ...] = ("buy", "sell", "hold")

# The assistant's answer is forced to start with this; the next word is the scored action choice.
ANSWER_PREFIX = '{"action": "'

SYSTEM_PROMPT = (
    "You are a cautious FX trading assistant. You see a candlestick chart and/or the latest bars "
    "and indicator values of one instrument. Decide whether to buy, sell or hold now. Reply with "
    'one JSON object and nothing else: {"action": "buy" | "sell" | "hold", "risk": <number from '
    "0 (calm) to 1 (do not trade)>}."
)


class ActionAnswer(BaseModel):
    """The JSON object a language model must answer with."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    action: Literal["buy", "sell", "hold"]
    # strict: a JSON number only (``true`` or ``"0.3"`` is no risk the model gave)
    risk: float = Field(ge=0.0, le=1.0, strict=True)


ANSWER_JSON_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": list(ACTION_CHOICES)},
        "risk": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["action", "risk"],
    "additionalProperties": False,
}


def _format_number(value: float) -> str:
    # 6 significant digits: enough for FX prices (1.23456) and indicator values, and stable text.
    if not math.isfinite(value):
        return "nan"
    return f"{value:.6g}"


def build_prompt(
    features: NDArray[np.float64],
    context: MarketContext,
    *,
    bars_in_prompt: int = 16,
    with_chart: bool = False,
) -> str:
    """The user message for one decision: instrument, features by name, the last bars as a table.

    Parameters
    ----------
    features : ndarray, shape (k,)
        The feature vector, ordered as ``context.feature_names`` (``f0..f{k-1}`` if empty).
    context : MarketContext
        Instrument, time and (optionally) ``recent_bars``.
    bars_in_prompt : int
        How many of the most recent bars to list as text (0 lists none).
    with_chart : bool
        Whether a chart image accompanies the text (the prompt then says so).

    Returns
    -------
    str
        Deterministic text: the same inputs always give the same string.
    """
    vector = np.asarray(features, dtype=np.float64).ravel()
    names = context.feature_names or tuple(f"f{i}" for i in range(vector.size))
    if len(names) != vector.size:
        raise PredictionError(
            f"feature vector has {vector.size} values but context names {len(names)} features"
        )
    lines = [f"Instrument: {context.instrument_id}"]
    if with_chart:
        lines.append("The image is a candlestick chart of the recent bars (volume below).")
    lines.append("Features:")
    lines.extend(
        f"  {name} = {_format_number(value)}"
        for name, value in zip(names, vector.tolist(), strict=True)
    )
    bars = context.recent_bars
    if bars_in_prompt > 0 and bars is not None and len(bars):
        tail = np.asarray(bars, dtype=np.float64)[-bars_in_prompt:]
        lines.append(f"Last {len(tail)} bars, oldest first (open high low close volume):")
        lines.extend("  " + " ".join(_format_number(v) for v in row[1:6].tolist()) for row in tail)
    lines.append("Answer with the JSON object only.")
    return "\n".join(lines)


def input_fingerprint(
    features: NDArray[np.float64],
    context: MarketContext,
    *parts: str | bytes,
    bars_used: int = 0,
) -> str:
    """A short hash of everything a prompt is built from (cheaper than hashing the prompt).

    The prompt is a pure function of the feature vector, the bars it uses, the feature names and
    the backend's settings; hashing those (``parts`` carries the settings and
    :data:`PROMPT_VERSION`) identifies the prompt without formatting it. ~1.5 us per call.
    """
    digest = _prefix(context.instrument_id, context.feature_names, parts).copy()
    digest.update(np.ascontiguousarray(features, dtype=np.float64).tobytes())
    bars = context.recent_bars
    if bars_used > 0 and bars is not None:
        digest.update(np.ascontiguousarray(bars[-bars_used:], dtype=np.float64).tobytes())
    return str(digest.hexdigest())


@functools.lru_cache(maxsize=256)
def _prefix(instrument_id: str, names: tuple[str, ...], parts: tuple[str | bytes, ...]) -> Any:
    # The constant part of a fingerprint (hashed once, copied per row: ~1 us instead of ~5 us).
    digest = hashlib.blake2b(digest_size=16)
    for part in (PROMPT_VERSION, instrument_id, *names, *parts):
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\x00")
    return digest


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # An answer that says "buy" and then "sell" is no answer (json keeps the last silently).
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKeyError(key)
        obj[key] = value
    return obj


_ANSWER_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def parse_answer(text: str) -> ActionAnswer:
    """Read the first JSON object in ``text`` as an :class:`ActionAnswer`.

    Leading prose or code fences are skipped; the first ``{`` must start a valid object.

    Raises
    ------
    PredictionError
        If there is no JSON object, it does not parse, or it fails validation; the message quotes
        the start of the answer.
    """
    start = text.find("{")
    snippet = text[:120].replace("\n", "\\n")
    if start < 0:
        raise PredictionError(f"model answer has no JSON object: {snippet!r}")
    try:
        obj, _ = _ANSWER_DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise PredictionError(f"model answer is not valid JSON ({exc.msg}): {snippet!r}") from None
    except _DuplicateKeyError as exc:
        raise PredictionError(f"model answer gives {exc.args[0]!r} twice: {snippet!r}") from None
    if not isinstance(obj, dict):
        raise PredictionError(f"model answer is not a JSON object: {snippet!r}")
    try:
        return ActionAnswer.model_validate(obj)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'answer'}: {err['msg']}"
            for err in exc.errors()
        )
        raise PredictionError(f"model answer failed validation ({problems}): {snippet!r}") from None


def action_distribution(log_scores: Mapping[str, float] | Sequence[float]) -> dict[Action, float]:
    """Softmax over the action choices' log-probabilities (restricted scoring).

    Parameters
    ----------
    log_scores : mapping or sequence
        ``{"buy": lp, "sell": lp, "hold": lp}`` or three values in :data:`ACTION_CHOICES` order.
        A missing or ``-inf`` choice gets probability 0.

    Raises
    ------
    PredictionError
        If every choice has log-probability ``-inf`` or any is NaN.
    """
    if isinstance(log_scores, Mapping):
        values = [float(log_scores.get(choice, -math.inf)) for choice in ACTION_CHOICES]
    else:
        values = [float(v) for v in log_scores]
        if len(values) != len(ACTION_CHOICES):
            raise PredictionError(f"expected {len(ACTION_CHOICES)} scores, got {len(values)}")
    if any(math.isnan(v) for v in values):
        raise PredictionError(f"action log-probabilities contain NaN: {values}")
    top = max(values)
    if top == -math.inf:
        raise PredictionError("no action choice has a finite log-probability")
    weights = [math.exp(v - top) for v in values]
    total = sum(weights)
    return {Action(choice): w / total for choice, w in zip(ACTION_CHOICES, weights, strict=True)}


def normalised_entropy(probabilities: Mapping[Action, float]) -> float:
    """Entropy of the action distribution divided by its maximum: 0 = certain, 1 = uniform.

    Used as the risk score when a backend does not ask the model for one (model uncertainty).
    """
    values = [p for p in probabilities.values() if p > 0.0]
    if len(probabilities) <= 1:
        return 0.0
    entropy = -sum(p * math.log(p) for p in values)
    return min(1.0, max(0.0, entropy / math.log(len(probabilities))))
