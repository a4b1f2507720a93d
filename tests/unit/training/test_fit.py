"""The MLP fit: learns a learnable problem, is deterministic, stops early, restores threads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nautilus_ai.training import TrainConfig, fit_mlp, module_logits, torch_threads


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[-2.0, 0.0, 1.0, 5.0], [0.0, 2.0, 1.0, 5.0], [2.0, 0.0, 1.0, 5.0]])
    x = centres[y] + rng.normal(0, 0.7, (n, 4))
    x[:, 3] *= 1000.0  # a badly scaled input: the module's standardisation must handle it
    return x, y


def _fit(config: TrainConfig, lines: list[str] | None = None) -> tuple[object, np.ndarray]:
    x, y = _blobs(3_000, 0)
    vx, vy = _blobs(1_000, 1)
    result = fit_mlp(
        x, y, vx, vy, mean=x.mean(axis=0), std=x.std(axis=0), config=config,
        progress=lines.append if lines is not None else None,
    )  # fmt: skip
    return result, module_logits(result.module, vx)


def test_learns_separable_classes_and_reports_each_epoch() -> None:
    lines: list[str] = []
    config = TrainConfig(hidden=(16,), epochs=8, batch_size=256, threads=1)
    result, logits = _fit(config, lines)
    _, vy = _blobs(1_000, 1)
    assert (logits.argmax(axis=1) == vy).mean() > 0.85
    assert len(lines) == len(result.history) and lines[0].startswith("epoch   1/8  train loss")  # type: ignore[attr-defined]
    assert "val acc" in lines[0] and "val macro-F1" in lines[0]
    assert result.history[-1].train_loss < result.history[0].train_loss  # type: ignore[attr-defined]
    np.testing.assert_allclose(result.module.input_std.numpy(), _blobs(3_000, 0)[0].std(axis=0),  # type: ignore[attr-defined]
                               rtol=1e-6)  # fmt: skip


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    config = TrainConfig(hidden=(8,), epochs=2, batch_size=512, threads=1)
    (_, a), (_, b) = _fit(config), _fit(config)
    np.testing.assert_array_equal(a, b)
    (_, c) = _fit(config.model_copy(update={"seed": 8}))
    assert not np.array_equal(a, c)


def test_early_stopping_restores_the_best_epoch() -> None:
    x, y = _blobs(600, 2)
    vx = np.random.default_rng(3).normal(0, 1, (300, 4))  # validation labels are noise:
    vy = np.random.default_rng(4).integers(0, 3, 300)  # the val loss soon stops improving
    config = TrainConfig(hidden=(32,), epochs=60, batch_size=64, patience=3, threads=1)
    result = fit_mlp(x, y, vx, vy, mean=x.mean(0), std=x.std(0), config=config)
    assert result.stopped_early and len(result.history) < 60
    best = min(h.val_loss for h in result.history if h.val_loss is not None)
    assert result.history[result.best_epoch - 1].val_loss == best
    assert len(result.history) - result.best_epoch == config.patience


def test_balanced_class_weights_and_thread_setting_is_restored() -> None:
    before = torch.get_num_threads()
    x, y = _blobs(900, 5)
    y[:600] = 1  # imbalanced
    result = fit_mlp(x, y, None, None, mean=x.mean(0), std=x.std(0),
                     config=TrainConfig(hidden=(4,), epochs=1, threads=1))  # fmt: skip
    counts = np.bincount(y, minlength=3)
    np.testing.assert_allclose(result.class_weights, y.size / (3 * counts))
    assert torch.get_num_threads() == before
    with torch_threads(1) as used:
        assert used == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_a_diverging_fit_fails_instead_of_returning_its_initial_weights() -> None:
    # At a learning rate that blows the loss up to NaN in the first epoch, no epoch ever beat
    # the initial validation loss: the fit returned the untrained random weights (best epoch 0),
    # the pipeline stored them with plausible-looking metrics, and `train` exited 0.
    config = TrainConfig(hidden=(16,), epochs=3, batch_size=256, threads=1, learning_rate=1e8)
    with pytest.raises(ValueError, match=r"training diverged: .* nan in epoch 1 .*--lr"):
        _fit(config)
