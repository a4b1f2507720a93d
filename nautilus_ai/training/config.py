"""``TrainConfig``: every knob of a training run, frozen and validated (errors name the field)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

__all__ = ["TrainConfig", "default_threads"]


def default_threads() -> int:
    """Torch intra-op threads for training a small MLP: 1 on machines with <= 2 cores (spinning
    OpenMP workers on a shared 2-core box cost far more than they give: measured 15x slower
    per epoch under load), else half the cores, at most 4."""
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(4, cores // 2)


class TrainConfig(BaseModel):
    """How to fit the MLP.

    Parameters
    ----------
    hidden : tuple of int
        Hidden layer widths of :class:`~nautilus_ai.models.torch_mlp.MLPClassifier`.
    activation : {"relu", "gelu"}
    epochs : int
        Maximum epochs.
    batch_size : int
    learning_rate, weight_decay : float
        AdamW parameters.
    patience : int
        Stop after this many epochs without a validation-loss improvement of ``min_delta``.
    min_delta : float
    class_weights : {"balanced", "none"}
        ``balanced``: loss weight of class ``c`` is ``n / (3 * n_c)`` on the training rows.
    seed : int
        Seeds the initial weights and the batch order (private generators: the global torch
        RNG is left alone).
    threads : int, optional
        Torch intra-op threads during training (restored afterwards); default
        :func:`default_threads`.
    calibrate : bool
        Fit the softmax temperature on the validation fold.
    target_signal_rate : float
        Share of validation bars on which the model should act: the suggested
        ``min_confidence`` (``card.metrics["decision"]``) is chosen on the validation fold so
        that buy / sell calls at or above it cover this share of its bars.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    hidden: tuple[PositiveInt, ...] = (64, 32)
    activation: Literal["relu", "gelu"] = "relu"
    epochs: PositiveInt = 40
    batch_size: PositiveInt = 1024
    learning_rate: float = Field(default=1e-3, gt=0.0, allow_inf_nan=False)
    weight_decay: float = Field(default=1e-4, ge=0.0, allow_inf_nan=False)
    patience: PositiveInt = 5
    min_delta: float = Field(default=1e-4, ge=0.0, allow_inf_nan=False)
    class_weights: Literal["balanced", "none"] = "balanced"
    seed: int = Field(default=7, ge=0)
    threads: PositiveInt | None = None
    calibrate: bool = True
    target_signal_rate: float = Field(default=0.03, gt=0.0, le=1.0, allow_inf_nan=False)
