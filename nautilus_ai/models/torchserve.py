"""A model served by TorchServe, behind the predictor protocol.

Talks to the handlers in :mod:`nautilus_ai.serving` with the JSON format of
:mod:`nautilus_ai.models.torchserve_wire` (which sits here, beside its client, so serving
depends on models and never the other way): one ``POST /predictions/<model>`` carries a whole
batch and the answer has one prediction or one error per row. One ``requests.Session``,
explicit connect and read timeouts, bounded retries and a circuit breaker (see
:mod:`nautilus_ai.models.http`).

Endpoint and credentials come from the config, else the environment:

* ``NAUTILUS_AI_TORCHSERVE_URL`` - inference base URL, e.g. ``http://127.0.0.1:8080``;
* ``NAUTILUS_AI_TORCHSERVE_TOKEN`` - the inference token, or
* ``NAUTILUS_AI_TORCHSERVE_KEY_FILE`` - TorchServe's ``key_file.json``. When a token is refused
  the key file is
  read again and, if a management URL is known, a fresh inference token is requested with the
  API key (TorchServe tokens expire, 60 minutes by default).

TorchServe 0.12 is in limited maintenance upstream (no further releases or security fixes):
keep it on loopback or behind an authenticated proxy.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from nautilus_ai.models.base import MarketContext, Prediction
from nautilus_ai.models.http import HttpClient, check_base_url
from nautilus_ai.models.itemwise import ItemResult, ItemwiseBackend, check_batch
from nautilus_ai.models.prompting import input_fingerprint
from nautilus_ai.models.registry import Backend, BackendRegistry
from nautilus_ai.models.spec import FeatureSpecLike, check_pinned_spec
from nautilus_ai.models.torchserve_wire import (
    decode_response,
    encode_request,
    is_invalid_row,
    read_key_file,
)

__all__ = [
    "MODEL_VERSION_PATTERN",
    "TORCHSERVE_KEY_FILE_ENV",
    "TORCHSERVE_TOKEN_ENV",
    "TORCHSERVE_URL_ENV",
    "TorchServeConfig",
    "TorchServePredictor",
]

#: A model version the client can name in its request path (``/predictions/<name>/<version>``);
#: ``serve package`` refuses any other.
MODEL_VERSION_PATTERN = r"^[A-Za-z0-9_.\-]+$"
TORCHSERVE_URL_ENV = "NAUTILUS_AI_TORCHSERVE_URL"
TORCHSERVE_TOKEN_ENV = "NAUTILUS_AI_TORCHSERVE_TOKEN"
TORCHSERVE_KEY_FILE_ENV = "NAUTILUS_AI_TORCHSERVE_KEY_FILE"


class TorchServeConfig(BaseModel):
    """Settings of a :class:`TorchServePredictor` (frozen; unknown fields are rejected).

    Parameters
    ----------
    model_name : str
        The served model (``/predictions/<model_name>``).
    url : str or None
        Inference base URL; default ``$NAUTILUS_AI_TORCHSERVE_URL``.
    management_url : str or None
        Management base URL, only used to refresh an expired token with the API key.
    model_version : str or None
        Call a specific version (``/predictions/<name>/<version>``).
    token : secret str or None
        Inference token; default ``$NAUTILUS_AI_TORCHSERVE_TOKEN``.
    key_file : Path or None
        TorchServe's ``key_file.json``; default ``$NAUTILUS_AI_TORCHSERVE_KEY_FILE``.
    connect_timeout_s, read_timeout_s, retries, backoff_s
        See :class:`~nautilus_ai.models.http.RetryPolicy`.
    failure_threshold, reset_timeout_s
        Circuit breaker: consecutive failures that open it, and how long it stays open.
    max_batch_rows : int
        Larger batches are split into several requests.
    send_context : bool
        Send feature names, instrument, time and recent bars (prompt-based served models).
    spec_hash : str or None
        The feature spec the served model expects; sent with every request so the server
        refuses a mismatch. None sends the context's spec hash.
    model_id : str
        The id this client reports (and a prediction cache keys on); default
        ``torchserve:<model_name>``, or ``torchserve:<model_name>/<model_version>`` when a
        version is named. Predictions carry the id the server reports for the model that
        answered.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["torchserve"] = "torchserve"
    model_name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    url: str | None = None
    management_url: str | None = None
    model_version: str | None = Field(default=None, pattern=MODEL_VERSION_PATTERN)
    token: SecretStr | None = None
    key_file: Path | None = None
    connect_timeout_s: float = Field(default=0.5, gt=0, allow_inf_nan=False)
    read_timeout_s: float = Field(default=2.0, gt=0, allow_inf_nan=False)
    retries: int = Field(default=1, ge=0, le=10)
    backoff_s: float = Field(default=0.05, ge=0, allow_inf_nan=False)
    failure_threshold: int = Field(default=5, ge=1)
    reset_timeout_s: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    max_batch_rows: int = Field(default=256, ge=1)
    send_context: bool = False
    spec_hash: str | None = None
    model_id: str = ""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else check_base_url(value, endpoint="/predictions")

    @field_validator("management_url")
    @classmethod
    def _check_management_url(cls, value: str | None) -> str | None:
        return None if value is None else check_base_url(value, endpoint="/token")


class TorchServePredictor(ItemwiseBackend):
    """Predict through a TorchServe endpoint (see the module docstring).

    Parameters
    ----------
    config : TorchServeConfig
        Endpoint, credentials, timeouts.
    session : requests.Session or None
        Injectable for tests.

    Raises
    ------
    ValueError
        If no URL is configured (neither in ``config`` nor the environment).
    """

    def __init__(self, config: TorchServeConfig, session: object | None = None) -> None:
        self.config = config
        url = config.url or os.environ.get(TORCHSERVE_URL_ENV)
        if not url:
            raise ValueError(
                f"TorchServe URL missing: set url in the config or ${TORCHSERVE_URL_ENV}"
            )
        if not config.url:
            try:
                check_base_url(url, endpoint="/predictions")
            except ValueError as exc:
                raise ValueError(f"${TORCHSERVE_URL_ENV}: {exc} (was {url!r})") from None
        self._base_url = url.rstrip("/")
        path = f"/predictions/{config.model_name}"
        if config.model_version:
            path += f"/{config.model_version}"
        self._endpoint = self._base_url + path
        # The version is part of the id: a prediction cache keys on it, and must never answer
        # for version 2 with version 1's predictions.
        default_id = f"torchserve:{config.model_name}"
        if config.model_version:
            default_id += f"/{config.model_version}"
        self._model_id = config.model_id or default_id
        self._spec_hash = config.spec_hash
        # What changes an answer (prompt_hash): the endpoint and the request's settings; not the
        # credentials, timeouts, retries or batch size.
        self._fingerprint = "\x00".join(
            (self._endpoint, config.model_dump_json(include={"send_context", "spec_hash"}))
        )
        key_file = config.key_file or os.environ.get(TORCHSERVE_KEY_FILE_ENV)
        self._key_file = Path(key_file) if key_file else None
        token = config.token.get_secret_value() if config.token else None
        self._token = token or os.environ.get(TORCHSERVE_TOKEN_ENV) or self._read_key_file()
        self._token_lock = threading.Lock()
        self._http = HttpClient.from_settings(
            self._model_id,
            config,
            self._auth_headers,
            session=session,  # type: ignore[arg-type]
        )
        self.breaker = self._http.breaker

    @property
    def endpoint(self) -> str:
        return self._endpoint

    def prompt_hash(self, features: NDArray[np.float64], context: MarketContext) -> str:
        """Identifies what this row's answer depends on (a prediction-cache key part): the
        endpoint (two servers may serve different weights under one model name), the settings
        that change a request, the features and, with ``send_context``, the bars sent."""
        bars = context.recent_bars
        sent = len(bars) if self.config.send_context and bars is not None else 0
        return input_fingerprint(features, context, self._fingerprint, bars_used=sent)

    def predict_items(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[ItemResult]:
        """One prediction or error per row. Raises only for a failed call (all rows failed)."""
        self._check_open()
        matrix = check_batch(features, contexts)
        results: list[ItemResult] = []
        size = self.config.max_batch_rows
        for start in range(0, matrix.shape[0], size):
            chunk = matrix[start : start + size]
            chunk_contexts = contexts[start : start + size] if contexts is not None else None
            results.extend(self._call(chunk, chunk_contexts))
        return results

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._http.close()

    # -- one request ----------------------------------------------------------------------------

    def _call(
        self, matrix: NDArray[np.float64], contexts: Sequence[MarketContext] | None
    ) -> list[ItemResult]:
        spec_hash = self.config.spec_hash
        if spec_hash is None and contexts:
            spec_hash = contexts[0].spec_hash or None
        body = encode_request(
            matrix, contexts, spec_hash=spec_hash, send_context=self.config.send_context
        )
        response = self._http.post(self._endpoint, body, settle=False)
        if _auth_failed(response.status, response.body):
            try:
                refreshed = self._refresh_token()
            except BaseException:  # settle the answer: a half-open breaker's trial slot
                self._http.settle(False)
                raise
            if refreshed:
                self._http.settle(True)  # the server answered; the retry carries the new token
                response = self._http.post(self._endpoint, body, settle=False)
        _, results = self._http.read_answer(
            response,
            self._endpoint,
            lambda answer: decode_response(answer, matrix.shape[0], self._model_id),
            self._model_id,
        )
        self._http.settle(not any(is_invalid_row(r) for r in results))
        per_row = response.elapsed_s / max(1, matrix.shape[0])
        return [
            dataclasses.replace(r, latency=per_row) if isinstance(r, Prediction) else r
            for r in results
        ]

    # -- credentials ----------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        token = self._token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _read_key_file(self) -> str | None:
        if self._key_file is None:
            return None
        return read_key_file(self._key_file).inference

    def _refresh_token(self) -> bool:
        """After an auth failure, re-read the key file or ask for a new token.

        Returns True if the token changed (the call is then retried once).
        """
        if self._key_file is None:
            return False
        with self._token_lock:
            old = self._token
            try:
                fresh = self._read_key_file()
            except (OSError, RuntimeError):
                return False
            if fresh and fresh != old:
                self._token = fresh
                return True
            management = self.config.management_url
            if not management:
                return False
            api_key = read_key_file(self._key_file).api
            reply = self._http.get(
                f"{management.rstrip('/')}/token?type=inference",
                {"Authorization": f"Bearer {api_key}"},
            )
            if reply.status != 200:
                return False
            time.sleep(0.05)  # the server rewrites key_file.json after answering
            fresh = self._read_key_file()
            if fresh and fresh != old:
                self._token = fresh
                return True
            return False


def _auth_failed(status: int, body: bytes) -> bool:
    # TorchServe 0.12 answers a wrong or expired token with 400 InvalidKeyException, not 401.
    return status == 401 or (status == 400 and b"InvalidKeyException" in body)


def _build_from_registry(
    config: TorchServeConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> TorchServePredictor:
    check_pinned_spec(config.spec_hash, spec, "torchserve")
    return TorchServePredictor(config)


#: The ``torchserve`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("torchserve", TorchServeConfig, _build_from_registry)
