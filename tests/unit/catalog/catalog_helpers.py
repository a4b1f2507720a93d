"""Helpers for the catalog tests: a small feature spec stand-in and predictions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from nautilus_ai.models import Action, Prediction

T0 = 1_483_340_460_000_000_000  # 2017-01-02T07:01:00Z
MINUTE = 60_000_000_000


@dataclass(frozen=True)
class TinySpec:
    """Three named features (what the logger needs from a spec)."""

    names: tuple[str, ...] = ("a", "b", "c")
    hash: str = "tinyspec00000001"

    def to_dict(self) -> Mapping[str, object]:
        return {"version": 1, "tiny": True}


def prediction(i: int) -> Prediction:
    action = (Action.BUY, Action.SELL, Action.HOLD)[i % 3]
    return Prediction(action, 0.5 + (i % 5) / 10, (i % 7) / 7, f"model/{i % 2}", 1e-6 * i, f"r{i}")


def feature_row(i: int, k: int = 3) -> np.ndarray:
    return np.arange(k, dtype=np.float64) + i * 0.25


def record_rows(logger: object, n: int, start: int = 0, k: int = 3) -> None:
    for i in range(start, start + n):
        logger.record(  # type: ignore[attr-defined]
            T0 + i * MINUTE, feature_row(i, k), prediction(i), ("enter", "none")[i % 2],
            1000.0 * (i % 4), bool(i % 2 == 0),
        )  # fmt: skip
