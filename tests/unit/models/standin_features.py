"""A test-only stand-in for ``nautilus_ai.features`` (v1 names), until that package lands on main.

``StandinSpec`` has the ``FeatureSpecLike`` surface (``names``, ``hash``, ``to_dict``).
``standin_features(bars)`` computes real-looking v1 features from real OHLC bars with pandas; the
formulas are close to, not the same as, the feature engine's (it is here to give the predictors
realistic value ranges and a signal rate to look at, not to test features).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

V1_NAMES: tuple[str, ...] = (
    "ret_1",
    "ret_5",
    "ret_15",
    "body_ratio",
    "upper_wick_ratio",
    "lower_wick_ratio",
    "range_atr",
    "rsi",
    "macd_line",
    "macd_signal",
    "macd_hist",
    "bb_pct_b",
    "bb_bandwidth",
    "atr_close",
    "ema20_dist_atr",
    "ema50_dist_atr",
    "hour_sin",
    "hour_cos",
    "dow_sin",
    "dow_cos",
    "session_sydney",
    "session_tokyo",
    "session_london",
    "session_new_york",
    "session_overlap",
    "vol_pct_rank",
    "vol_regime",
    "warm",
)


@dataclass(frozen=True)
class StandinSpec:
    """Frozen, hashable stand-in with the ``FeatureSpecLike`` surface."""

    names: tuple[str, ...] = V1_NAMES
    params: dict[str, int] = field(default_factory=lambda: {"rsi_period": 14, "atr_period": 14})
    version: int = 1

    def to_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "features": [{"name": n} for n in self.names],
            "params": dict(self.params),
        }

    @property
    def hash(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def index(self, name: str) -> int:
        return self.names.index(name)


def load_histdata_month(data_dir: Path, month: str = "201701") -> pd.DataFrame:
    """One month of HistData EUR/USD 1-minute bid bars (New York clock -> UTC)."""
    path = data_dir / "histdata" / f"DAT_ASCII_EURUSD_M1_{month}.csv"
    frame = pd.read_csv(
        path, sep=";", header=None, names=["ts", "open", "high", "low", "close", "volume"]
    )
    ts = pd.to_datetime(frame["ts"], format="%Y%m%d %H%M%S")
    frame.index = ts.dt.tz_localize("America/New_York").dt.tz_convert("UTC")
    return frame[["open", "high", "low", "close"]]


def standin_features(bars: pd.DataFrame) -> NDArray[np.float64]:
    """``(n, 28)`` float64 features in ``V1_NAMES`` order; NaN before warm-up."""
    o, h, lo, c = (bars[k].astype(float) for k in ("open", "high", "low", "close"))
    prev = c.shift(1)
    tr = pd.concat([h - lo, (h - prev).abs(), (lo - prev).abs()], axis=1).max(axis=1)
    atr = tr.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    rng = (h - lo).replace(0.0, np.nan)
    delta = c.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()
    total = gain + loss
    rsi = (gain / total).where(total > 0, 0.5)
    ema12 = c.ewm(span=12, adjust=False).mean()
    ema26 = c.ewm(span=26, adjust=False).mean()
    macd = ema12 - ema26
    signal = macd.ewm(span=9, adjust=False).mean()
    mid = c.rolling(20).mean()
    sd = c.rolling(20).std(ddof=0)
    width = (4 * sd).replace(0.0, np.nan)
    ema20 = c.ewm(span=20, adjust=False).mean()
    ema50 = c.ewm(span=50, adjust=False).mean()
    atr_close = atr / c
    rank = atr_close.rolling(1440, min_periods=240).rank(pct=True)
    regime = np.where(rank < 0.2, -1.0, np.where(rank > 0.8, 1.0, 0.0))
    idx = bars.index
    hour = idx.hour + idx.minute / 60.0
    dow = idx.dayofweek
    sydney = ((hour >= 21) | (hour < 6)).astype(float)
    tokyo = (hour < 9).astype(float)
    london = ((hour >= 7) & (hour < 16)).astype(float)
    new_york = ((hour >= 12) & (hour < 21)).astype(float)
    columns = {
        "ret_1": np.log(c / c.shift(1)),
        "ret_5": np.log(c / c.shift(5)),
        "ret_15": np.log(c / c.shift(15)),
        "body_ratio": ((c - o) / rng).fillna(0.0),
        "upper_wick_ratio": ((h - np.maximum(o, c)) / rng).fillna(0.0),
        "lower_wick_ratio": ((np.minimum(o, c) - lo) / rng).fillna(0.0),
        "range_atr": (h - lo) / atr,
        "rsi": rsi,
        "macd_line": macd / c,
        "macd_signal": signal / c,
        "macd_hist": (macd - signal) / c,
        "bb_pct_b": ((c - (mid - 2 * sd)) / width).fillna(0.5),
        "bb_bandwidth": 4 * sd / mid,
        "atr_close": atr_close,
        "ema20_dist_atr": (c - ema20) / atr,
        "ema50_dist_atr": (c - ema50) / atr,
        "hour_sin": np.sin(2 * np.pi * hour / 24),
        "hour_cos": np.cos(2 * np.pi * hour / 24),
        "dow_sin": np.sin(2 * np.pi * dow / 7),
        "dow_cos": np.cos(2 * np.pi * dow / 7),
        "session_sydney": sydney,
        "session_tokyo": tokyo,
        "session_london": london,
        "session_new_york": new_york,
        "session_overlap": london * new_york,
        "vol_pct_rank": rank,
        "vol_regime": regime,
    }
    frame = pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in columns.items()}, index=idx)
    frame.loc[rank.isna().to_numpy(), "vol_regime"] = np.nan
    warm = frame.notna().all(axis=1).to_numpy()
    frame["warm"] = warm.astype(float)
    out = frame[list(V1_NAMES)].to_numpy(dtype=np.float64)
    out[~warm, :-1] = np.nan
    return np.ascontiguousarray(out)
