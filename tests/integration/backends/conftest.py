"""Real servers on loopback for backend integration tests.

* ``openai_stub``: a minimal OpenAI-compatible chat server (threads, free port) whose behaviour a
  test sets per call (answer, logprobs, errors, delays, junk).
* ``torchserve_session``: ONE real TorchServe for the whole session (free ports, its own temp
  dir, token auth on, stopped by pid) serving a tiny MiniCPM-V model through our HF handler plus
  two fault models (``slow`` sleeps, ``junk`` answers non-JSON).
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fixtures.threads import one_torch_thread

HERE = Path(__file__).parent


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    one_torch_thread()


# -- OpenAI-compatible stub ---------------------------------------------------------------------


@dataclass
class StubBehaviour:
    content: str = "sell"
    probabilities: dict[str, float] = field(
        default_factory=lambda: {"sell": 0.6, "buy": 0.25, "hold": 0.1}
    )
    logprobs: bool = True
    status: int = 200
    delay_s: float = 0.0
    raw: bytes | None = None  # send these bytes instead of a completion


class OpenAIStub:
    def __init__(self) -> None:
        self.behaviour = StubBehaviour()
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                stub.requests.append(body)
                stub.headers.append(dict(self.headers))
                behaviour = stub.behaviour
                if behaviour.delay_s:
                    time.sleep(behaviour.delay_s)
                if self.path != "/v1/chat/completions":
                    self._send(404, b'{"error": "not found"}')
                elif behaviour.status != 200:
                    self._send(behaviour.status, b'{"error": {"message": "stub failure"}}')
                elif behaviour.raw is not None:
                    self._send(200, behaviour.raw)
                else:
                    self._send(200, json.dumps(stub.completion(body)).encode())

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def completion(self, request: dict[str, Any]) -> dict[str, Any]:
        behaviour = self.behaviour
        content = behaviour.content
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }
        if behaviour.logprobs and request.get("logprobs"):
            choice["logprobs"] = {"content": self._tokens(content)}
        return {
            "id": "stub-1",
            "object": "chat.completion",
            "model": request["model"],
            "choices": [choice],
        }

    def _tokens(self, content: str) -> list[dict[str, Any]]:
        # Split so the action word is one token; its alternatives carry the probabilities.
        tokens: list[dict[str, Any]] = []
        rest = content
        for word in ("buy", "sell", "hold"):
            index = rest.find(word)
            if index >= 0:
                if index:
                    tokens.append({"token": rest[:index], "logprob": -0.01, "top_logprobs": []})
                alternatives = [
                    {"token": w, "logprob": math.log(p)}
                    for w, p in self.behaviour.probabilities.items()
                ]
                tokens.append(
                    {
                        "token": word,
                        "logprob": math.log(self.behaviour.probabilities.get(word, 1e-6)),
                        "top_logprobs": alternatives,
                    }
                )
                rest = rest[index + len(word) :]
                break
        if rest:
            tokens.append({"token": rest, "logprob": -0.01, "top_logprobs": []})
        return tokens

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def openai_stub() -> Iterator[OpenAIStub]:
    stub = OpenAIStub()
    try:
        yield stub
    finally:
        stub.close()


@pytest.fixture
def other_openai_stub() -> Iterator[OpenAIStub]:
    """A second stub server (another port), for what must tell two servers apart."""
    stub = OpenAIStub()
    try:
        yield stub
    finally:
        stub.close()


# -- TorchServe ---------------------------------------------------------------------------------


@dataclass
class TorchServeSession:
    server: Any  # TorchServeProcess
    vlm_dir: Path
    store: Path
    mlp_dir: Path  # a torch model artifact (random MLP, seed 3) for the default FeatureSpec


def _random_mlp_artifact(root: Path) -> Path:
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.torch_mlp import TorchPredictor, save_artifact

    predictor = TorchPredictor.random(FeatureSpec(), seed=3)
    return save_artifact(predictor.module, predictor.card, root)


def _archive_test_handler(handler: Path, name: str, store: Path) -> None:
    archiver = Path(sys.executable).with_name("torch-model-archiver")
    subprocess.run(
        [str(archiver), "--model-name", name, "--version", "1.0", "--handler", str(handler),
         "--export-path", str(store), "--force"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="session")
def torchserve_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TorchServeSession]:
    from nautilus_ai.models.tiny_models import build_tiny_minicpmv
    from nautilus_ai.serving import TorchServeProcess, TorchServeSettings, build_archive

    root = tmp_path_factory.mktemp("ts")
    store = root / "store"
    vlm_dir = build_tiny_minicpmv(root / "vlm")
    mlp_dir = _random_mlp_artifact(root / "artifacts")
    build_archive(mlp_dir, kind="torch", model_name="mlp", export_dir=store, batch_size=8)
    build_archive(
        vlm_dir,
        kind="transformers",
        model_name="tinyvlm",
        export_dir=store,
        batch_size=8,
        max_batch_delay_ms=5,
        options={"model_id": "tinyvlm/1"},
    )
    _archive_test_handler(HERE / "ts_handlers" / "slow_handler.py", "slow", store)
    _archive_test_handler(HERE / "ts_handlers" / "junk_handler.py", "junk", store)
    models = ("mlp=mlp.mar", "tinyvlm=tinyvlm.mar", "slow=slow.mar", "junk=junk.mar")
    server = TorchServeProcess(
        TorchServeSettings(model_store=store, workdir=root / "w", models=models)
    )
    server.start()
    try:
        server.wait_ready(["mlp", "tinyvlm", "slow", "junk"], timeout_s=180)
        yield TorchServeSession(server, vlm_dir, store, mlp_dir)
    finally:
        server.stop()
        assert server.pid() is None
    shutil.rmtree(root / "w" / "tmp", ignore_errors=True)


# -- strategy backtests (a low-level BacktestEngine on real January 2017 bars) -------------------


@pytest.fixture
def backtest(january_backtest: Any) -> Any:
    """``backtest(bar_limit=None, **config overrides) -> (strategy, engine)``.

    :func:`january_backtest` (``tests/conftest.py``) with ``bar_limit`` counted in minutes (a
    bid and an ask bar each).
    """

    def run(bar_limit: int | None = None, **overrides: Any) -> tuple[Any, Any]:
        return january_backtest(2 * bar_limit if bar_limit else None, **overrides)

    return run
