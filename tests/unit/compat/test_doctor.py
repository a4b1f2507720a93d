"""nautilus-ai doctor: the report, the device arithmetic (CUDA faked: no GPU here), the CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from nautilus_ai.cli import main
from nautilus_ai.cli.doctor import format_report
from nautilus_ai.doctor import GIB, GpuDevice, gather, gpu_devices, model_fits

H100 = GpuDevice(0, "NVIDIA H100 80GB HBM3", 80 * GIB, 79 * GIB)


class FakeCuda:
    """torch.cuda as the doctor uses it, for one 24 GiB card with 20 GiB free."""

    @staticmethod
    def is_available() -> bool:
        return True

    @staticmethod
    def device_count() -> int:
        return 1

    @staticmethod
    def mem_get_info(index: int) -> tuple[int, int]:
        return 20 * GIB, 24 * GIB

    @staticmethod
    def get_device_name(index: int) -> str:
        return "NVIDIA GeForce RTX 4090"


def test_cuda_devices_through_torch() -> None:
    (gpu,) = gpu_devices(torch_module=SimpleNamespace(cuda=FakeCuda))
    assert gpu == GpuDevice(0, "NVIDIA GeForce RTX 4090", 24 * GIB, 20 * GIB)


def test_cuda_devices_through_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    import nautilus_ai.doctor as doctor

    monkeypatch.setattr(doctor, "extra_installed", lambda name: False)
    monkeypatch.setattr(doctor.shutil, "which", lambda name: "/usr/bin/nvidia-smi")

    def run(argv: list[str], **kwargs: Any) -> Any:
        assert kwargs["timeout"] > 0
        return SimpleNamespace(stdout="0, NVIDIA H100 80GB HBM3, 81559, 80000\n")

    (gpu,) = gpu_devices(run=run)
    assert (gpu.name, gpu.total_bytes, gpu.free_bytes) == (
        "NVIDIA H100 80GB HBM3",
        81559 << 20,
        80000 << 20,
    )


def test_no_device_when_nvidia_smi_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import nautilus_ai.doctor as doctor

    monkeypatch.setattr(doctor, "extra_installed", lambda name: False)
    monkeypatch.setattr(doctor.shutil, "which", lambda name: "/usr/bin/nvidia-smi")

    def run(argv: list[str], **kwargs: Any) -> Any:
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    assert gpu_devices(run=run) == []


def test_an_8b_model_fits_in_bf16_on_an_h100_not_on_a_24_gib_card() -> None:
    fits = {f.label: f for f in model_fits([H100], cpu_free_bytes=0)}
    eight = fits["8B"]
    assert (eight.device, eight.dtype) == ("cuda:0", "bfloat16")
    assert eight.needed_bytes == int(8e9 * 2 * 1.2)  # 19.2 GB: bf16 weights + 20%
    assert eight.fits and fits["32B"].fits and not fits["70B"].fits
    small = {f.label: f.fits for f in model_fits([GpuDevice(0, "x", 24 * GIB, 16 * GIB)], 0)}
    assert small["3B"] and not small["8B"]


def test_without_cuda_the_cpu_loads_float32() -> None:
    fits = model_fits([], cpu_free_bytes=16 * GIB)
    assert {f.device for f in fits} == {"cpu"} and {f.dtype for f in fits} == {"float32"}
    assert [f.label for f in fits if f.fits] == ["1B", "3B"]


def test_the_report_on_one_screen_with_a_faked_gpu() -> None:
    report = gather(devices=[H100], probe_services=False)
    text = format_report(report)
    lines = text.splitlines()
    assert len(lines) <= 25
    assert "cuda:0 NVIDIA H100 80GB HBM3: 79.0 GiB free of 80.0 GiB" in text
    assert "bfloat16 on cuda:0" in text and "8B yes (17.9 GiB)" in text
    for name in ("python", "nautilus_trader", "torch", "transformers", "redis-server", "java"):
        assert any(line.startswith(name) for line in lines), name
    assert report["packages"]["nautilus_trader_supported"] is True
    assert set(report["extras"]) >= {"torch", "hf", "finetune", "serve", "patterns", "services"}


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json", "--no-probe"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["python"]["version"].startswith("3.1")
    assert report["services"]["redis-server"]["found"] is True
    assert report["folders"]["data"]["exists"] is True


def test_config_check_loads_the_model_artifact_as_the_run_would(
    numpy_mlp_artifact: Path, tmp_path: Path
) -> None:
    """``doctor --config`` said 'ok model artifact: found' for a folder that only had a
    model_card.json (no weights, or weights changed since), and did not look at a lightgbm
    path at all; the run then failed to build its model."""
    import shutil

    from nautilus_ai.doctor import _predictor_needs

    [good] = _predictor_needs({"kind": "torch", "path": str(numpy_mlp_artifact)})
    assert good.ok and good.detail.startswith("loads (numpy-mlp-s5/1, feature spec ")
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    shutil.copy(numpy_mlp_artifact / "model_card.json", no_weights)
    [need] = _predictor_needs({"kind": "torch", "path": str(no_weights)})
    assert not need.ok and need.detail == f"no model.safetensors in {no_weights}"
    changed = tmp_path / "changed"
    shutil.copytree(numpy_mlp_artifact, changed)
    with (changed / "model.safetensors").open("ab") as handle:
        handle.write(b"\0")
    [need] = _predictor_needs({"kind": "torch", "path": str(changed)})
    assert not need.ok and "does not match the card's" in need.detail
    edited = tmp_path / "edited"
    shutil.copytree(numpy_mlp_artifact, edited)
    card = json.loads((edited / "model_card.json").read_text())
    card["feature_spec"]["rsi_period"] = 7  # against its spec_hash
    (edited / "model_card.json").write_text(json.dumps(card))
    [need] = _predictor_needs({"kind": "torch", "path": str(edited)})
    assert not need.ok and "the model card was edited or corrupted" in need.detail
    del card["card_sha256"]  # a card written before cards were sealed
    (edited / "model_card.json").write_text(json.dumps(card))
    [need] = _predictor_needs({"kind": "torch", "path": str(edited)})
    assert not need.ok and "stored feature spec rebuilds as" in need.detail
    [need] = _predictor_needs({"kind": "lightgbm", "path": str(tmp_path / "nothing")})
    assert not need.ok and need.detail == "no model_card.json there"
    [need] = _predictor_needs({"kind": "lightgbm", "path": str(numpy_mlp_artifact)})
    assert not need.ok and "invalid LightGBM model card" in need.detail


def test_config_check_opens_the_pattern_memory_the_run_would_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``doctor --config backtests/patterns.yaml`` said only 'ok catalog data' (exit 0) on a
    catalog without the memory the predictor names, and the run failed to build its model."""
    import numpy as np

    from nautilus_ai.doctor import _predictor_needs, config_needs
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.testing import synthetic_bars
    from nautilus_ai.paths import repo_root
    from nautilus_ai.patterns import (
        IndexConfig,
        PatternMemory,
        build_from_bars,
        save_memory,
        store_dir,
    )

    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(tmp_path))
    needs = config_needs(repo_root() / "backtests" / "patterns.yaml")
    [memory] = [n for n in needs if n.what.startswith("pattern memory")]
    assert memory.what == "pattern memory 'eurusd-m1-train'" and not memory.ok
    assert "no pattern store" in memory.detail and "patterns build" in memory.detail

    raw = synthetic_bars(3_000, seed=3)
    patterns = build_from_bars(raw[:, 0].astype(np.int64), raw[:, 1:], instrument_id="EUR/USD.SIM")
    spec = FeatureSpec()
    save_memory(
        PatternMemory(patterns, index_config=IndexConfig(mode="exact")),
        store_dir(tmp_path, spec.hash, "m"),
    )
    predictor = {"kind": "pattern_memory", "catalog_path": str(tmp_path), "name": "m"}
    [need] = _predictor_needs(predictor, {})
    assert need.ok and need.detail == f"opens (feature spec {spec.hash})"
    # The strategy computes another feature spec: the run looks in another folder.
    other = {"feature_spec": {**spec.to_dict(), "rsi_period": 7}}
    [need] = _predictor_needs(predictor, other)
    assert not need.ok and "no pattern store" in need.detail
    [need] = _predictor_needs({"kind": "pattern_memory", "name": "m"}, {})
    assert not need.ok and "give either 'path' or both 'catalog_path' and 'name'" in need.detail
