"""Shared names of the Pine integration tests (imported by conftest and the tests), and the quick
MLP recipe ``benchmarks/bench_pine.py`` uses too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from nautilus_ai.data import BarArrays
from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features
from nautilus_ai.pine import PineExport, PineTSResult

#: Threshold used with the quickly fitted model: its softmax rarely reaches 0.55 (it is a weak
#: model), and a parity check without signals would prove little.
TRAINED_MIN_CONFIDENCE = 0.40


@dataclass(frozen=True)
class MonthRun:
    """The trained MLP's export run once in PineTS over the month."""

    export: PineExport
    result: PineTSResult
    bars: BarArrays


def accepted(bars: BarArrays) -> BarArrays:
    """The bars a fresh feature engine accepts."""
    keep = accepted_bars_mask(
        bars.ts_event, bars.open, bars.high, bars.low, bars.close, bars.volume
    )
    return bars.take(keep)


def fit_quick_mlp(bars: BarArrays, root: Path, *, created_at: datetime, description: str) -> Path:
    """A 28 -> 32 -> 3 torch MLP fitted in seconds on real features; returns the artifact.

    Labels: 15-bar forward log return above +0.5 ATR/close -> buy, below -0.5 -> sell, else
    hold; class-weighted cross-entropy, Adam, 4 epochs, standardisation fitted on the first 80%
    of the rows. A stand-in for ``nautilus-ai train`` (no edge claimed).
    """
    import torch

    from nautilus_ai.models import ModelCard, save_artifact
    from nautilus_ai.models.card import library_versions
    from nautilus_ai.models.torch_mlp import random_module

    torch.set_num_threads(1)
    spec = FeatureSpec()
    b = bars
    x = compute_features(spec, b.ts_event, b.open, b.high, b.low, b.close, b.volume)
    horizon = 15
    forward = np.full(len(b), np.nan)
    forward[:-horizon] = np.log(b.close[horizon:] / b.close[:-horizon])
    atr = x[:, spec.index("atr_close")]
    labels = np.where(forward > 0.5 * atr, 2, np.where(forward < -0.5 * atr, 0, 1))
    rows = (x[:, spec.index("warm")] == 1.0) & np.isfinite(forward)
    x, labels = x[rows], labels[rows]
    cut = int(len(x) * 0.8)
    mean, std = x[:cut].mean(axis=0), x[:cut].std(axis=0)
    std[std < 1e-12] = 1.0
    module = random_module(len(spec.names), seed=1, hidden=(32,))
    module.set_standardisation(mean, std)
    module = module.double()
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-3, weight_decay=1e-4)
    weight = torch.tensor(cut / (3.0 * np.bincount(labels[:cut], minlength=3)))
    inputs, targets = torch.from_numpy(x[:cut]), torch.from_numpy(labels[:cut])
    generator = torch.Generator().manual_seed(0)
    for _ in range(4):
        order = torch.randperm(cut, generator=generator)
        for start in range(0, cut, 512):
            batch = order[start : start + 512]
            loss = torch.nn.functional.cross_entropy(
                module(inputs[batch]), targets[batch], weight=weight
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    module = module.float()
    card = ModelCard(
        name="quick-mlp-h32",
        version=1,
        created_at=created_at,
        description=description,
        feature_spec=dict(spec.to_dict()),
        spec_hash=spec.hash,
        feature_names=spec.names,
        architecture=module.architecture,
        label={"kind": "forward_return", "horizon": horizon, "threshold_atr": 0.5},
        temperature=1.0,
        library_versions=library_versions(),
    )
    return save_artifact(module, card, root)
