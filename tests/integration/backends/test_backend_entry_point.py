"""A third-party backend is a ``pip install``: its distribution declares an entry point in the
``nautilus_ai.backends`` group and ``build_predictor`` finds it, with nothing to import first."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PLUGIN_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "nai-echo-backend"
version = "0.1.0"

[project.entry-points."nautilus_ai.backends"]
echo_plugin = "nai_echo_backend:BACKEND"
rule = "nai_echo_backend:BACKEND"
"""

PLUGIN_MODULE = """
from typing import Literal

from pydantic import BaseModel, ConfigDict

from nautilus_ai.models import Action, Prediction
from nautilus_ai.models.registry import Backend


class EchoConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["echo_plugin"] = "echo_plugin"
    action: Literal["buy", "sell", "hold"] = "hold"


class EchoPredictor:
    batch_exact = True

    def __init__(self, config, spec):
        self.model_id = "echo/" + config.action
        self.feature_names = tuple(spec.names)
        self.spec_hash = spec.hash
        self._action = Action(config.action)

    def predict(self, features, context):
        return Prediction(self._action, 0.9, 0.1, 0.0, self.model_id, "echo")

    def predict_batch(self, features, contexts):
        return [self.predict(row, ctx) for row, ctx in zip(features, contexts)]

    def close(self):
        pass


def build(config, spec, registry):
    return EchoPredictor(config, spec)


BACKEND = Backend("echo_plugin", EchoConfig, build)
"""

PROBE = """
import json, sys
from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import available_backends, build_predictor
from nautilus_ai.models.registry import BackendConfigError

kinds = available_backends()
loaded_before = "nai_echo_backend" in sys.modules
spec = FeatureSpec()
predictor = build_predictor({"kind": "echo_plugin", "action": "sell"}, spec)
try:
    build_predictor({"kind": "echo_plugin", "acton": "sell"}, spec)
    typo = None
except BackendConfigError as exc:
    typo = str(exc)
rule = build_predictor({"kind": "rule"}, spec)
print(json.dumps({
    "kinds": list(kinds),
    "loaded_before_use": loaded_before,
    "model_id": predictor.model_id,
    "typo": typo,
    "rule_type": type(rule).__name__,
}))
"""


def test_an_installed_distribution_adds_a_backend_kind(tmp_path: Path) -> None:
    source = tmp_path / "plugin"
    source.mkdir()
    (source / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    (source / "nai_echo_backend.py").write_text(textwrap.dedent(PLUGIN_MODULE))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    answer = json.loads(probe.stdout.strip().splitlines()[-1])
    assert "echo_plugin" in answer["kinds"]
    assert answer["loaded_before_use"] is False  # listed from metadata, imported on first use
    assert answer["model_id"] == "echo/sell"
    assert "acton: unknown key" in answer["typo"] and "'action'" in answer["typo"]
    # The plugin's attempt to take the built-in 'rule' kind is refused, and said so.
    assert answer["rule_type"] == "RulePredictor"
    assert "would replace the built-in kind" in probe.stderr
