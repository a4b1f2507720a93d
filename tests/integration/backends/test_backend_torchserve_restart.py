"""TorchServe stopped in the middle of a sequence of calls, then started again.

Its own server (the session server must stay up for the other tests): a fast handler, a fallback
chain with a deadline, a circuit breaker that opens when the server goes and closes when it is
back (with new tokens, read again from the key file).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.models.base import Action, MarketContext
from nautilus_ai.models.fallback import FallbackPredictor
from nautilus_ai.models.testing import ScriptedPredictor
from nautilus_ai.models.torchserve import TorchServeConfig, TorchServePredictor
from nautilus_ai.serving import TorchServeProcess, TorchServeSettings

pytestmark = pytest.mark.extra("serve")  # a real TorchServe serving a torch MLP

HERE = Path(__file__).parent


def _fast_store(store: Path) -> Path:
    store.mkdir()
    archiver = Path(sys.executable).with_name("torch-model-archiver")
    subprocess.run(
        [str(archiver), "--model-name", "fast", "--version", "1.0", "--handler",
         str(HERE / "ts_handlers" / "fast_handler.py"), "--export-path", str(store), "--force"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return store


def test_server_stopped_mid_sequence_then_restarted(tmp_path: Path) -> None:
    store = _fast_store(tmp_path / "store")
    settings = TorchServeSettings(
        model_store=store, workdir=tmp_path / "w", models=("fast=fast.mar",)
    )
    server = TorchServeProcess(settings)
    server.start()
    try:
        server.wait_ready(["fast"])
        first_token = server.keys().inference  # type: ignore[union-attr]
        remote = TorchServePredictor(
            TorchServeConfig(
                model_name="fast", url=server.inference_url, key_file=server.key_file,
                read_timeout_s=1.0, retries=0, failure_threshold=3, reset_timeout_s=0.5,
            )
        )  # fmt: skip
        chain = FallbackPredictor(
            [remote, ScriptedPredictor("local/1", Action.HOLD, 0.5, 0.5)], deadline_s=0.5
        )
        context = MarketContext("EUR/USD.SIM", 0)
        answered: list[str] = []
        for i in range(60):
            if i == 20:
                server.stop()
                assert server.pid() is None
            started = time.perf_counter()
            prediction = chain.predict(np.array([0.1, 0.2]), context)
            assert time.perf_counter() - started < 0.6, f"call {i} missed the deadline"
            answered.append(prediction.model_id)
        assert answered[:20] == ["fast/1"] * 20
        assert answered[20:] == ["local/1"] * 40
        assert remote.breaker.state == "open" and remote.breaker.times_opened >= 1

        # Same ports, a new JVM and new tokens: the breaker lets a trial through, the client
        # reads the new token from the key file, and the remote model answers again.
        restarted = TorchServeProcess(
            TorchServeSettings(
                model_store=store,
                workdir=tmp_path / "w",
                models=("fast=fast.mar",),
                **{f"{k}_port": v for k, v in server.ports.items()},
            )
        )
        restarted.start()
        server = restarted
        restarted.wait_ready(["fast"])
        assert restarted.keys().inference != first_token  # type: ignore[union-attr]
        time.sleep(0.6)
        prediction = chain.predict(np.array([0.1, 0.2]), context)
        assert prediction.model_id == "fast/1", prediction.reason
        assert remote.breaker.state == "closed"
        chain.close()
    finally:
        server.stop()
    assert server.pid() is None


def test_cli_package_start_status_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from nautilus_ai.cli import main
    from nautilus_ai.models.tiny_models import build_tiny_text_model

    model_dir = build_tiny_text_model(tmp_path / "text")
    store = tmp_path / "store"
    assert main(["serve", "package", str(model_dir), "--kind", "transformers", "--name", "tinytext",
                 "--store", str(store), "--option", "model_id=\"tinytext/1\""]) == 0  # fmt: skip
    assert (store / "tinytext.mar").is_file()
    assert (
        main(
            [
                "serve",
                "package",
                str(tmp_path),
                "--kind",
                "torch",
                "--name",
                "x",
                "--store",
                str(store),
            ]
        )
        == 2
    )
    assert "not a torch model artifact" in capsys.readouterr().err
    assert (
        main(
            [
                "serve",
                "start",
                "--store",
                str(store),
                "--workdir",
                str(tmp_path / "w"),
                "--host",
                "0.0.0.0",
            ]
        )
        == 2
    )
    assert "not loopback" in capsys.readouterr().err
    workdir = tmp_path / "w"
    fast_store = _fast_store(tmp_path / "fast-store")  # a quick worker: no torch import
    try:
        assert (
            main(
                [
                    "serve",
                    "start",
                    "--store",
                    str(fast_store),
                    "--workdir",
                    str(workdir),
                    "--model",
                    "fast=fast.mar",
                ]
            )
            == 0
        )
        status = json.loads(capsys.readouterr().out)
        assert status["pid"] and status["key_file"].endswith("key_file.json")
        client = TorchServePredictor(
            TorchServeConfig(
                model_name="fast", url=status["inference_url"], key_file=Path(status["key_file"])
            )
        )
        context = MarketContext("EUR/USD.SIM", 0, ("a", "b"), "s")
        assert client.predict(np.array([-0.1, 0.2]), context).action is Action.SELL
        assert main(["serve", "status", "--workdir", str(workdir)]) == 0
        capsys.readouterr()
    finally:
        assert main(["serve", "stop", "--workdir", str(workdir)]) == 0
    assert "stopped pid" in capsys.readouterr().out
    assert main(["serve", "status", "--workdir", str(workdir)]) == 1
