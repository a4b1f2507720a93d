"""Session fixtures for the Pine checks: PineTS (npm ci once), one pynescript parser, the real
EUR/USD month, a torch MLP fitted quickly on real features, and ONE PineTS run over the month
shared by the tests that need it.

PineTS is installed into the git-ignored ``.cache/pinets`` (``$NAUTILUS_AI_PINETS_DIR``) by
``npm ci`` from the pinned lockfile; node / npm missing is a failure, not a skip.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pine_fixtures import TRAINED_MIN_CONFIDENCE, MonthRun

from nautilus_ai.data import BarArrays, histdata_m1_files, read_histdata_m1
from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features
from nautilus_ai.pine import (
    PineSyntaxChecker,
    StrategyOptions,
    ensure_pinets,
    export_mlp_artifact,
    run_pinets,
)


@pytest.fixture(scope="session")
def pinets_modules() -> Path:
    """PineTS installed once per machine (npm ci, 5 minute limit), its node_modules folder."""
    return ensure_pinets(timeout=300.0)


@pytest.fixture(scope="session")
def syntax_checker() -> PineSyntaxChecker:
    """The one pynescript parser of the session (its first parse is the slow one)."""
    return PineSyntaxChecker()


def accepted(bars: BarArrays) -> BarArrays:
    keep = accepted_bars_mask(
        bars.ts_event, bars.open, bars.high, bars.low, bars.close, bars.volume
    )
    return bars.take(keep)


@pytest.fixture(scope="session")
def month_bars(data_dir: Path) -> BarArrays:
    """January 2017, real HistData EUR/USD M1 bid bars (~31,500 accepted bars)."""
    files = histdata_m1_files(data_dir)
    return accepted(read_histdata_m1(files[0]))


@pytest.fixture(scope="session")
def fit_bars(data_dir: Path) -> BarArrays:
    """February - April 2017: where the quick model is fitted (not the checked month)."""
    files = histdata_m1_files(data_dir)
    return accepted(read_histdata_m1(files[1:4]))


@pytest.fixture(scope="session")
def trained_artifact(tmp_path_factory: pytest.TempPathFactory, fit_bars: BarArrays) -> Path:
    """A 28 -> 32 -> 3 torch MLP fitted in seconds on real features and forward-return labels.

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
    b = fit_bars
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
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        description="fitted in seconds for the Pine tests; no edge",
        feature_spec=dict(spec.to_dict()),
        spec_hash=spec.hash,
        feature_names=spec.names,
        architecture=module.architecture,
        label={"kind": "forward_return", "horizon": horizon, "threshold_atr": 0.5},
        temperature=1.0,
        library_versions=library_versions(),
    )
    root = tmp_path_factory.mktemp("artifacts")
    return save_artifact(module, card, root)


@pytest.fixture(scope="session")
def month_run(trained_artifact: Path, month_bars: BarArrays, pinets_modules: Path) -> MonthRun:
    """THE month-long PineTS run of the session (~30k bars), shared by the tests that need it."""
    export = export_mlp_artifact(
        trained_artifact, options=StrategyOptions(min_confidence=TRAINED_MIN_CONFIDENCE)
    )
    b = month_bars
    started = time.perf_counter()
    result = run_pinets(
        export.script,
        b.ts_event,
        b.open,
        b.high,
        b.low,
        b.close,
        b.volume,
        node_modules=pinets_modules,
    )
    print(f"PineTS month run: {result.bars} bars in {time.perf_counter() - started:.1f} s")
    return MonthRun(export=export, result=result, bars=b)
