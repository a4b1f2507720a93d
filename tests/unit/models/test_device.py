"""resolve_device: auto / cpu / cuda / cuda:N, with CUDA faked by monkeypatch."""

from __future__ import annotations

import pytest
import torch

from nautilus_ai.models.device import DeviceError, resolve_device


def _fake_cuda(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cuda(monkeypatch, 0)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    assert resolve_device(" CPU ") == "cpu"
    for request in ("cuda", "cuda:0", "cuda:1"):
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device(request)


def test_with_two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_cuda(monkeypatch, 2)
    assert resolve_device("auto") == "cuda:0"
    assert resolve_device("cuda") == "cuda:0"
    assert resolve_device("cuda:1") == "cuda:1"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(DeviceError, match="only 2 CUDA device"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("request_", ["gpu", "cuda:", "cuda:x", "mps", "", "cuda:-1"])
def test_bad_spelling(request_: str) -> None:
    with pytest.raises(DeviceError, match="'auto', 'cpu', 'cuda' or 'cuda:N'"):
        resolve_device(request_)


def test_real_machine_auto_matches_torch() -> None:
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert resolve_device() == expected
