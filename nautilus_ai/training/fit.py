"""Fit the MLP classifier: class-weighted cross-entropy, AdamW, early stopping on validation.

The network is :class:`nautilus_ai.models.torch_mlp.MLPClassifier` (what ``TorchPredictor``
loads), with the input standardisation fitted on the training window set into its buffers
before the first step, so the stored weights apply to raw feature vectors.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from nautilus_ai.models.torch_mlp import MLPClassifier, random_module
from nautilus_ai.training.config import TrainConfig, default_threads
from nautilus_ai.training.metrics import classification_metrics

__all__ = ["EpochStats", "FitResult", "fit_mlp", "module_logits", "torch_threads"]

Progress = Callable[[str], None]
_CLASSES = ("sell", "hold", "buy")


@contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Set torch's intra-op threads for the block (default :func:`default_threads`), then
    restore the previous setting."""
    wanted = threads or default_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(wanted)
    try:
        yield wanted
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class EpochStats:
    """One epoch: mean training loss, validation loss / accuracy / macro F1, wall time."""

    epoch: int
    train_loss: float
    val_loss: float | None
    val_accuracy: float | None
    val_macro_f1: float | None
    seconds: float
    best: bool

    def line(self, epochs: int) -> str:
        text = f"epoch {self.epoch:>3}/{epochs}  train loss {self.train_loss:.4f}"
        if self.val_loss is not None:
            text += (
                f"  val loss {self.val_loss:.4f}  val acc {100 * (self.val_accuracy or 0):5.1f}%"
                f"  val macro-F1 {self.val_macro_f1:.3f}"
            )
        text += f"  ({self.seconds:.1f} s){'  *' if self.best else ''}"
        return text


@dataclass
class FitResult:
    """The fitted module (best validation epoch restored) and how it got there."""

    module: MLPClassifier
    history: list[EpochStats]
    best_epoch: int
    stopped_early: bool
    class_weights: list[float]
    seconds: float
    threads: int
    extra: dict[str, Any] = field(default_factory=dict)

    def history_dicts(self) -> list[dict[str, Any]]:
        return [asdict(h) for h in self.history]


def _class_weights(y: NDArray[np.int64], mode: str) -> NDArray[np.float64]:
    counts = np.bincount(y, minlength=len(_CLASSES)).astype(np.float64)
    if mode == "none":
        return np.ones(len(_CLASSES))
    with np.errstate(divide="ignore"):
        weights = np.where(counts > 0, y.size / (len(_CLASSES) * counts), 0.0)
    return weights


def module_logits(
    module: MLPClassifier, features: NDArray[np.float64], batch: int = 65_536
) -> NDArray[np.float64]:
    """Float64 logits of a float64 copy of ``module`` (the precision of the predictor's numpy
    twin), evaluated in chunks without gradients."""
    twin = copy.deepcopy(module).double().eval()
    out = np.empty((features.shape[0], twin.linear_layers()[-1].out_features))
    with torch.inference_mode():
        for lo in range(0, features.shape[0], batch):
            chunk = torch.from_numpy(np.ascontiguousarray(features[lo : lo + batch], np.float64))
            out[lo : lo + len(chunk)] = twin(chunk).numpy()
    return out


def fit_mlp(
    train_x: NDArray[np.float64],
    train_y: NDArray[np.int64],
    val_x: NDArray[np.float64] | None,
    val_y: NDArray[np.int64] | None,
    *,
    mean: NDArray[np.float64],
    std: NDArray[np.float64],
    config: TrainConfig,
    progress: Progress | None = None,
) -> FitResult:
    """Train an :class:`MLPClassifier` on raw features (standardised inside the module).

    Parameters
    ----------
    train_x, train_y : arrays
        Training rows ``(n, k)`` and class indices (``sell, hold, buy`` = 0, 1, 2).
    val_x, val_y : arrays or None
        Validation rows for early stopping; ``None`` trains all epochs.
    mean, std : arrays
        Input standardisation fitted on the training window.
    config : TrainConfig
    progress : callable, optional
        Called with one line per epoch.
    """
    if train_x.ndim != 2 or train_y.shape != (train_x.shape[0],) or train_x.shape[0] == 0:
        raise ValueError(f"bad training arrays: {train_x.shape}, {train_y.shape}")
    has_val = val_x is not None and val_y is not None and len(val_y) > 0
    start = time.perf_counter()
    with torch_threads(config.threads) as threads:
        module = random_module(
            train_x.shape[1], seed=config.seed, hidden=config.hidden, activation=config.activation
        )
        module.set_standardisation(mean, std)
        weights = _class_weights(train_y, config.class_weights)
        loss_fn = torch.nn.CrossEntropyLoss(weight=torch.as_tensor(weights, dtype=torch.float32))
        optimizer = torch.optim.AdamW(
            module.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        generator = torch.Generator().manual_seed(config.seed)
        x = torch.as_tensor(train_x, dtype=torch.float32)
        y = torch.as_tensor(train_y, dtype=torch.int64)
        if has_val:
            assert val_x is not None and val_y is not None
            vx = torch.as_tensor(val_x, dtype=torch.float32)
            vy = torch.as_tensor(val_y, dtype=torch.int64)
        history: list[EpochStats] = []
        best_loss = float("inf")
        best_state = copy.deepcopy(module.state_dict())
        best_epoch, stale, stopped_early = 0, 0, False
        n, bs = x.shape[0], config.batch_size
        for epoch in range(1, config.epochs + 1):
            t0 = time.perf_counter()
            module.train()
            order = torch.randperm(n, generator=generator)
            total = 0.0
            for lo in range(0, n, bs):
                idx = order[lo : lo + bs]
                optimizer.zero_grad(set_to_none=True)
                loss = loss_fn(module(x[idx]), y[idx])
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            train_loss = total / n
            if not math.isfinite(train_loss):  # the weights are NaN / inf from here on
                raise ValueError(
                    f"training diverged: the training loss is {train_loss} in epoch {epoch} "
                    f"(learning rate {config.learning_rate:g}); nothing is stored; lower the "
                    "learning rate (--lr)"
                )
            val_loss = val_acc = val_f1 = None
            improved = False
            if has_val:
                module.eval()
                with torch.inference_mode():
                    logits = module(vx)
                    val_loss = float(loss_fn(logits, vy))
                    probs = torch.softmax(logits.double(), dim=1).numpy()
                metrics = classification_metrics(probs, vy.numpy(), _CLASSES)
                val_acc, val_f1 = metrics["accuracy"], metrics["macro_f1"]
                if val_loss < best_loss - config.min_delta:
                    best_loss, best_epoch, stale, improved = val_loss, epoch, 0, True
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    stale += 1
            else:
                best_epoch, improved = epoch, True
                best_state = copy.deepcopy(module.state_dict())
            stats = EpochStats(
                epoch, train_loss, val_loss, val_acc, val_f1, time.perf_counter() - t0, improved
            )
            history.append(stats)
            if progress is not None:
                progress(stats.line(config.epochs))
            if has_val and stale >= config.patience:
                stopped_early = True
                break
        module.load_state_dict(best_state)
        module.eval()
    return FitResult(
        module=module,
        history=history,
        best_epoch=best_epoch,
        stopped_early=stopped_early,
        class_weights=weights.tolist(),
        seconds=time.perf_counter() - start,
        threads=threads,
    )
