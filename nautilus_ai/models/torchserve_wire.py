"""The JSON wire format and key file between :class:`~nautilus_ai.models.TorchServePredictor`
and our TorchServe handlers.

Request (one HTTP call may carry many rows)::

    {"instances": [[f0, f1, ...], ...],
     "spec_hash": "ab12..." | null,
     "contexts": [{"instrument_id": "EUR/USD.SIM", "ts_event": 1483...,
                   "recent_bars": [[ts, o, h, l, c, v], ...] | null}, ...] | null}

Response (always one entry per row, in order)::

    {"model_id": "mlp/3",
     "predictions": [{"action": "buy", "confidence": 0.71, "risk_score": 0.2,
                      "latency": 0.0001, "reason": ""} | {"error": "row 3: ..."}, ...]}

A row that cannot be answered carries ``{"error": ...}`` and the others are still answered:
TorchServe fails a whole server-side batch when a handler raises, so the handler never does
(:func:`handle_batch`).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError, Predictor
from nautilus_ai.models.itemwise import ItemResult, predict_items

__all__ = [
    "ContextPayload",
    "PredictionPayload",
    "RequestPayload",
    "ResponsePayload",
    "TorchServeError",
    "TorchServeKeys",
    "decode_response",
    "encode_request",
    "handle_batch",
    "is_invalid_row",
    "read_key_file",
]

log = logging.getLogger(__name__)


class ContextPayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    instrument_id: str = ""
    ts_event: int = 0
    recent_bars: list[list[float]] | None = None


class RequestPayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    instances: list[list[float | None]]
    spec_hash: str | None = None
    feature_names: list[str] | None = None
    contexts: list[ContextPayload] | None = None


class PredictionPayload(msgspec.Struct, frozen=True, omit_defaults=True):
    action: str = ""
    confidence: float = 0.0
    risk_score: float = 1.0
    latency: float = 0.0
    reason: str = ""
    error: str = ""


class ResponsePayload(msgspec.Struct, frozen=True):
    model_id: str
    predictions: list[PredictionPayload]


_request_encoder = msgspec.json.Encoder()
_request_decoder = msgspec.json.Decoder(RequestPayload)
_response_encoder = msgspec.json.Encoder()
_response_decoder = msgspec.json.Decoder(ResponsePayload)


def encode_request(
    features: NDArray[np.float64],
    contexts: Sequence[MarketContext] | None,
    *,
    spec_hash: str | None,
    send_context: bool = False,
) -> bytes:
    """JSON bytes for a batch of feature rows (NaN/inf are sent as null and rejected per row).

    With ``send_context`` the feature names, instrument, time and recent bars go along (for
    prompt-based models); otherwise only the numbers and the spec hash do.
    """
    rows = np.asarray(features, dtype=np.float64).tolist()
    payload_contexts = None
    names = None
    if send_context and contexts:
        names = list(contexts[0].feature_names) or None
    if send_context and contexts is not None:
        payload_contexts = [
            ContextPayload(
                c.instrument_id,
                c.ts_event,
                c.recent_bars.tolist() if c.recent_bars is not None else None,
            )
            for c in contexts
        ]
    return _request_encoder.encode(RequestPayload(rows, spec_hash, names, payload_contexts))


def decode_response(body: bytes, rows: int, model_id: str) -> tuple[str, list[ItemResult]]:
    """Parse a response into per-row results.

    Raises
    ------
    PredictionError
        If the body is not a valid response or has the wrong number of rows.
    """
    try:
        response = _response_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise PredictionError(f"{model_id}: malformed response ({exc}): {body[:120]!r}") from None
    if len(response.predictions) != rows:
        raise PredictionError(
            f"{model_id}: response has {len(response.predictions)} predictions for {rows} rows"
        )
    results: list[ItemResult] = []
    for index, item in enumerate(response.predictions):
        if item.error:
            results.append(
                PredictionError(f"{model_id}: server error for row {index}: {item.error}")
            )
            continue
        try:
            results.append(
                Prediction(
                    Action.parse(item.action),
                    item.confidence,
                    item.risk_score,
                    response.model_id or model_id,
                    item.latency,
                    item.reason,
                )
            )
        except (TypeError, ValueError) as exc:
            problem = f"{model_id}: invalid prediction in row {index}: {exc}"
            results.append(_InvalidRowError(problem))
    return response.model_id, results


class _InvalidRowError(PredictionError):
    """A row the server answered with something that is not a prediction (another class, a
    confidence out of range): a fault of the server, unlike a row error it reports itself."""


def is_invalid_row(result: ItemResult) -> bool:
    """Whether ``result`` is a row the server answered with something not a prediction."""
    return isinstance(result, _InvalidRowError)


# -- server side ------------------------------------------------------------------------------


def _parse_request(body: Any) -> RequestPayload:
    if isinstance(body, dict):  # TorchServe already parsed an application/json body
        return msgspec.convert(body, RequestPayload)
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if isinstance(body, str):
        body = body.encode()
    if not isinstance(body, bytes):
        raise msgspec.ValidationError(f"request body must be JSON, got {type(body).__name__}")
    return _request_decoder.decode(body)


def _request_body(request: Any) -> Any:
    if isinstance(request, dict):
        for key in ("body", "data"):
            if key in request and request[key] is not None:
                return request[key]
    return request


def handle_batch(
    predictor: Predictor,
    data: Sequence[Any],
    feature_count: int | None,
    feature_names: tuple[str, ...] = (),
) -> tuple[list[bytes], list[int]]:
    """Answer a TorchServe batch: one JSON body and one HTTP status per request. Never raises.

    Every valid row of every request goes to the predictor in one batch call; malformed
    requests get status 400 and an error body; a row with the wrong length or a non-finite
    value gets a per-row error.
    """
    started = time.perf_counter()
    statuses = [200] * len(data)
    bodies: list[bytes | None] = [None] * len(data)
    parsed: list[tuple[int, RequestPayload]] = []
    for index, request in enumerate(data):
        try:
            payload = _parse_request(_request_body(request))
            if payload.contexts is not None and len(payload.contexts) != len(payload.instances):
                raise msgspec.ValidationError(
                    f"{len(payload.instances)} instances but {len(payload.contexts)} contexts"
                )
            parsed.append((index, payload))
        except (msgspec.DecodeError, msgspec.ValidationError, TypeError, ValueError) as exc:
            statuses[index] = 400
            bodies[index] = _error_body(predictor, f"bad request: {exc}")

    rows: list[NDArray[np.float64]] = []
    contexts: list[MarketContext] = []
    slots: list[tuple[int, int]] = []  # (request index, row index) for each batched row
    row_results: dict[tuple[int, int], ItemResult] = {}
    for index, payload in parsed:
        names = tuple(payload.feature_names) if payload.feature_names else feature_names
        for row_index, values in enumerate(payload.instances):
            problem = _row_problem(values, feature_count)
            if problem:
                row_results[(index, row_index)] = PredictionError(f"row {row_index}: {problem}")
                continue
            context_payload = payload.contexts[row_index] if payload.contexts else None
            rows.append(np.asarray(values, dtype=np.float64))
            contexts.append(_context(context_payload, payload.spec_hash, names))
            slots.append((index, row_index))
    if rows:
        try:
            answers = predict_items(predictor, np.vstack(rows), contexts)
        except Exception as exc:
            log.exception("predictor failed for a batch of %d rows", len(rows))
            answers = [PredictionError(f"{type(exc).__name__}: {exc}")] * len(rows)
        row_results.update(zip(slots, answers, strict=True))

    latency = time.perf_counter() - started
    for index, payload in parsed:
        items = [_payload(row_results[(index, r)], latency) for r in range(len(payload.instances))]
        bodies[index] = _response_encoder.encode(ResponsePayload(_model_id(predictor), items))
    return [b if b is not None else b"{}" for b in bodies], statuses


def _row_problem(values: list[float | None], feature_count: int | None) -> str:
    if feature_count is not None and len(values) != feature_count:
        return f"expected {feature_count} features, got {len(values)}"
    for position, value in enumerate(values):
        if value is None or not math.isfinite(value):
            return f"feature {position} is not a finite number ({value!r})"
    return ""


def _context(
    payload: ContextPayload | None, spec_hash: str | None, names: tuple[str, ...]
) -> MarketContext:
    if payload is None:
        return MarketContext("", 0, names, spec_hash or "")
    bars = None
    if payload.recent_bars is not None:
        bars = np.asarray(payload.recent_bars, dtype=np.float64)
    return MarketContext(payload.instrument_id, payload.ts_event, names, spec_hash or "", bars)


def _payload(result: ItemResult, batch_latency: float) -> PredictionPayload:
    if isinstance(result, PredictionError):
        return PredictionPayload(error=str(result))
    return PredictionPayload(
        result.action.value,
        result.confidence,
        result.risk_score,
        result.latency or batch_latency,
        result.reason,
    )


def _error_body(predictor: Predictor, message: str) -> bytes:
    return _response_encoder.encode({"model_id": _model_id(predictor), "error": message})


def _model_id(predictor: Predictor) -> str:
    try:
        return str(predictor.model_id)
    except Exception:
        return "unknown"


# ------------------------------------------------------------------ credentials and errors


class TorchServeError(RuntimeError):
    """TorchServe could not be started, did not become ready, or could not be stopped."""


@dataclass(frozen=True, slots=True)
class TorchServeKeys:
    """The tokens TorchServe generated (``key_file.json``)."""

    inference: str
    management: str
    api: str


def read_key_file(path: str | os.PathLike[str]) -> TorchServeKeys:
    """Read TorchServe's ``key_file.json``; errors name the file and the missing field."""
    key_path = Path(path)
    try:
        data = json.loads(key_path.read_text())
        return TorchServeKeys(
            inference=str(data["inference"]["key"]),
            management=str(data["management"]["key"]),
            api=str(data["API"]["key"]),
        )
    except FileNotFoundError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TorchServeError(f"cannot read TorchServe key file {key_path}: {exc!r}") from exc
