"""Shared pieces of the experiment tests: a small experiment file on the demo catalog."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_experiment(
    path: Path,
    *,
    catalog: Path,
    store: Path,
    name: str = "tiny",
    folds: int = 2,
    families: list[dict[str, object]] | None = None,
    stops: list[float] | None = None,
    start: str = "2017-01-02",
    end: str = "2017-03-01",
    train: str = "10d",
    validation: str = "3d",
    test: str = "3d",
) -> Path:
    """A walk-forward experiment small enough for a test (short windows, few trials)."""
    document = {
        "name": name,
        "store": str(store),
        "data": {
            "catalog": str(catalog),
            "instruments": ["EUR/USD.SIM"],
            "bar_types": ["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"],
            "start": start,
            "end": end,
        },
        "walk_forward": {"train": train, "validation": validation, "test": test,
                         "max_folds": folds},  # fmt: skip
        "label": {"horizon": 30},
        "families": families
        or [{"family": "lightgbm", "params": {"num_leaves": [7], "max_iterations": [40]}},
            {"family": "rule"}],  # fmt: skip
        "strategy": {
            "min_confidence": [{"signal_rate": 0.03}],
            "stop_loss_atr": stops or [2.0, 3.0],
            "sizing": [{"risk_weight": 0.5}],
        },
        "seeds": [7],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path
