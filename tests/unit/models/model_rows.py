"""Real feature rows and a spec double for the model backend tests.

``engine_rows(data_dir, months)`` gives warm v1 feature rows computed by the feature engine
(:mod:`nautilus_ai.features`) from real HistData EUR/USD 1-minute bars. ``NamedSpec`` is a
``FeatureSpecLike`` with any feature names, for the specs the real ``FeatureSpec`` cannot express
(a renamed, missing or reordered feature); its parameters are the v1 spec's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.data import read_histdata_m1
from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features

V1_NAMES: tuple[str, ...] = FeatureSpec().names


def engine_rows(data_dir: Path, months: Sequence[str]) -> NDArray[np.float64]:
    """Warm v1 feature rows of HistData EUR/USD 1-minute bid bars of ``months`` (``YYYYMM``)."""
    files = [data_dir / "histdata" / f"DAT_ASCII_EURUSD_M1_{month}.csv" for month in months]
    bars = read_histdata_m1(files)
    columns = (bars.ts_event, bars.open, bars.high, bars.low, bars.close, bars.volume)
    ok = accepted_bars_mask(*columns)
    spec = FeatureSpec()
    x = compute_features(spec, *(column[ok] for column in columns))
    return np.ascontiguousarray(x[x[:, spec.index("warm")] == 1.0])


@dataclass(frozen=True)
class NamedSpec:
    """A ``FeatureSpecLike`` with the given names and the v1 spec's parameters."""

    names: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return FeatureSpec().to_dict()

    @property
    def hash(self) -> str:
        blob = json.dumps({"params": self.to_dict(), "names": self.names}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
