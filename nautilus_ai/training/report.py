"""Plots for training reports: reliability (calibration) diagrams and training curves.

matplotlib with the Agg backend, imported inside the functions (it is slow to import).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nautilus_ai.training.metrics import ReliabilityBins

__all__ = ["plot_reliability", "plot_training_history"]


def plot_reliability(
    path: Path,
    reliability: Mapping[str, Mapping[str, ReliabilityBins]],
    title: str,
    splits: Sequence[str] = ("validation", "test"),
) -> Path:
    """One panel per split: accuracy against confidence per bin, before and after temperature
    scaling, with the diagonal (perfect calibration) and the rows per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [s for s in splits if s in reliability]
    fig, axes = plt.subplots(1, max(1, len(shown)), figsize=(5.5 * max(1, len(shown)), 4.8))
    axes_list = list(np.atleast_1d(axes))
    for ax, split in zip(axes_list, shown, strict=False):
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
        for key, style in (("before", "o-"), ("after", "s-")):
            bins = reliability[split][key]
            filled = bins.count > 0
            ax.plot(
                bins.confidence[filled],
                bins.accuracy[filled],
                style,
                markersize=4,
                label=f"{key} calibration",
            )
        counts = reliability[split]["after"]
        centres = 0.5 * (counts.edges[1:] + counts.edges[:-1])
        twin = ax.twinx()
        twin.bar(centres, counts.count, width=counts.edges[1] - counts.edges[0], alpha=0.15)
        twin.set_ylabel("rows per bin (after)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top class probability)")
        ax.set_ylabel("accuracy")
        sample = "out-of-sample" if split == "test" else "in-sample"
        ax.set_title(f"{split} [{sample}]")
        ax.legend(loc="upper left")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_training_history(path: Path, history: Sequence[Mapping[str, Any]], title: str) -> Path:
    """Training and validation loss per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    if any(h.get("val_loss") is not None for h in history):
        ax.plot(epochs, [h["val_loss"] for h in history], "s-", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("class-weighted cross-entropy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
