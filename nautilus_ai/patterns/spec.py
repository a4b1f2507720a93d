"""What a pattern is: the definition (:class:`PatternSpec`) and the pattern vector.

A pattern is the market at the close of bar ``t``, as one float32 vector of two blocks:

* **features** - the feature vector of bar ``t`` (``FeatureSpec`` order) made scale-free: the
  price-unit features (``ret_*``, ``macd_*``, ``bb_bandwidth``) are divided by ``atr_close``, so
  they are in ATRs; ``atr_close`` (a volatility *level*) and ``warm`` (a constant) are dropped.
  The block is scaled by ``feature_weight / sqrt(block width)``.
* **shape** - the closes of the last ``shape_bars`` bars (``t - N + 1 .. t``), z-scored within the
  window (mean 0, population standard deviation 1; a flat window is all zeros), scaled by
  ``shape_weight / sqrt(N)``: scale-free, so it compares across price levels and instruments.

Both blocks use only bars ``<= t``. Every reduction is written as a left-to-right loop over
columns (vectorised over rows), so the vector of one row is bit-identical whether it is computed
alone (live) or inside a batch (the store builder, the precomputed backtest path).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nautilus_ai.labels import LabelSpec

if TYPE_CHECKING:
    from nautilus_ai.patterns.chart_embedding import ChartEmbedder

__all__ = [
    "ATR_SCALED_PREFIXES",
    "DROPPED_FEATURES",
    "PatternLayout",
    "PatternSpec",
    "pattern_layout",
    "pattern_vectors",
]

#: Features in price units (divided by ``atr_close`` to be in ATRs).
ATR_SCALED_PREFIXES: Final = ("ret_", "macd_", "bb_bandwidth")
#: Features left out of the vector: a volatility level (not scale-free) and a constant.
DROPPED_FEATURES: Final = ("atr_close", "warm")


class PatternSpec(BaseModel):
    """Definition of a pattern and of its outcome; part of every store's identity.

    Parameters
    ----------
    shape_bars : int
        Bars in the price-shape block (the window ``t - N + 1 .. t``).
    horizon : int
        Bars after ``t`` that make the outcome (``t + 1 .. t + horizon``); the outcome is known at
        the close of bar ``t + horizon``.
    barrier_atr : float
        Triple-barrier distance in ATRs (both sides), net of the spread
        (:mod:`nautilus_ai.labels`, ``kind="triple_barrier"``).
    spread_pips, pip_size : float
        Round-trip cost charged by the triple barrier, and the pip (as in ``LabelSpec``).
    feature_weight, shape_weight : float
        Weights of the two blocks in the distance (0 switches a block off).
    chart_model : str, optional
        :attr:`ChartEmbedder.model_id` of the vision model whose chart embedding is the third
        block (``None``: no chart block). Part of the hash: stores of another model (or none)
        are other stores. Set with :meth:`with_chart`.
    chart_dims, chart_bars, chart_weight
        The embedding's width, the bars in the rendered window, the block's weight.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    shape_bars: int = Field(default=32, ge=2, le=1024)
    horizon: int = Field(default=30, ge=1, le=100_000)
    barrier_atr: float = Field(default=3.0, ge=0.0, allow_inf_nan=False)
    spread_pips: float = Field(default=0.3, ge=0.0, allow_inf_nan=False)
    pip_size: float = Field(default=1e-4, gt=0.0, allow_inf_nan=False)
    feature_weight: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    shape_weight: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    chart_model: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$")
    chart_dims: int = Field(default=0, ge=0, le=65_536)
    chart_bars: int = Field(default=32, ge=2, le=1024)
    chart_weight: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _chart_block(self) -> PatternSpec:
        if (self.chart_model is None) != (self.chart_dims == 0):
            raise ValueError("chart_model and chart_dims go together (use with_chart)")
        return self

    def with_chart(
        self, embedder: ChartEmbedder, *, bars: int | None = None, weight: float | None = None
    ) -> PatternSpec:
        """This spec with the chart block of ``embedder`` (its model id and width)."""
        return PatternSpec.model_validate(
            {
                **self.model_dump(),
                "chart_model": embedder.model_id,
                "chart_dims": embedder.dims,
                "chart_bars": self.chart_bars if bars is None else bars,
                "chart_weight": self.chart_weight if weight is None else weight,
            }
        )

    @property
    def context_bars(self) -> int:
        """Bars a query needs before and at ``t`` (the shape window, and the chart's)."""
        return max(self.shape_bars, self.chart_bars if self.chart_model else 0)

    def label_spec(self, atr_period: int) -> LabelSpec:
        """The :class:`~nautilus_ai.labels.LabelSpec` of the triple-barrier outcome."""
        return LabelSpec(
            kind="triple_barrier",
            horizon=self.horizon,
            unit="atr",
            buy_threshold=self.barrier_atr,
            sell_threshold=self.barrier_atr,
            spread_pips=self.spread_pips,
            pip_size=self.pip_size,
            atr_period=atr_period,
        )

    @property
    def hash(self) -> str:
        """16 hex digits over every field (canonical JSON)."""
        fields = self.model_dump()
        if self.chart_model is None:  # specs without a chart keep the hash they always had
            fields = {k: v for k, v in fields.items() if not k.startswith("chart_")}
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class PatternLayout:
    """Where each feature goes in the vector, resolved once for a feature spec's names."""

    def __init__(self, feature_names: Sequence[str], spec: PatternSpec) -> None:
        names = tuple(feature_names)
        if "atr_close" not in names:
            raise ValueError("the feature spec has no 'atr_close': patterns need it (ATR units)")
        self.feature_names = names
        self.kept = tuple(i for i, name in enumerate(names) if name not in DROPPED_FEATURES)
        self.scaled = tuple(
            j for j, i in enumerate(self.kept) if names[i].startswith(ATR_SCALED_PREFIXES)
        )
        self.atr_column = names.index("atr_close")
        self.shape_bars = spec.shape_bars
        width = len(self.kept)
        self.feature_scale = spec.feature_weight / math.sqrt(width) if width else 0.0
        self.shape_scale = spec.shape_weight / math.sqrt(spec.shape_bars)
        self.chart_dims = spec.chart_dims
        self.chart_weight = spec.chart_weight
        self.dims = width + spec.shape_bars + spec.chart_dims

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of the vector's columns (features, then ``shape_0 .. shape_{N-1}``)."""
        return (
            *(self.feature_names[i] for i in self.kept),
            *(f"shape_{j}" for j in range(self.shape_bars)),
            *(f"chart_{j}" for j in range(self.chart_dims)),
        )


def pattern_layout(feature_names: Sequence[str], spec: PatternSpec) -> PatternLayout:
    """The :class:`PatternLayout` for ``feature_names`` (``FeatureSpec.names``)."""
    return PatternLayout(feature_names, spec)


def pattern_vectors(
    layout: PatternLayout,
    features: NDArray[np.float64],
    closes: NDArray[np.float64],
    charts: NDArray[np.float32] | None = None,
) -> NDArray[np.float32]:
    """Pattern vectors for ``n`` rows.

    Parameters
    ----------
    layout : PatternLayout
    features : ndarray, shape (n, k)
        Feature rows (``FeatureSpec`` order), all finite.
    closes : ndarray, shape (n, shape_bars)
        Row ``i`` holds the closes of the ``shape_bars`` bars ending at row ``i``'s bar, oldest
        first.
    charts : ndarray, shape (n, chart_dims), optional
        The chart embeddings of the rows (:meth:`ChartEmbedder.embed`); required when the
        layout has a chart block.

    Returns
    -------
    ndarray of float32, shape (n, layout.dims)
        A new array; row ``i`` depends on row ``i`` of the inputs only, computed with the same
        operations whatever ``n`` is.
    """
    x = np.asarray(features, dtype=np.float64)
    w = np.asarray(closes, dtype=np.float64)
    n = x.shape[0]
    if x.ndim != 2 or x.shape[1] != len(layout.feature_names):
        raise ValueError(f"features must be (n, {len(layout.feature_names)}), got {x.shape}")
    if w.shape != (n, layout.shape_bars):
        raise ValueError(f"closes must be ({n}, {layout.shape_bars}), got {w.shape}")
    if layout.chart_dims and (charts is None or np.shape(charts) != (n, layout.chart_dims)):
        got = None if charts is None else np.shape(charts)
        raise ValueError(f"charts must be ({n}, {layout.chart_dims}), got {got}")
    out = np.empty((n, layout.dims), dtype=np.float32)
    # Blocks of rows that stay in cache (every operation is row-wise: same bits as one block).
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        block = None if charts is None else np.asarray(charts[start:stop], dtype=np.float64)
        _fill(layout, x[start:stop], w[start:stop], block, out[start:stop])
    return out


_BLOCK = 8192


def _fill(
    layout: PatternLayout,
    x: NDArray[np.float64],
    w: NDArray[np.float64],
    charts: NDArray[np.float64] | None,
    out: NDArray[np.float32],
) -> None:
    kept = x[:, layout.kept]
    atr = x[:, layout.atr_column]
    positive = (atr > 0.0)[:, None]
    scaled = list(layout.scaled)
    safe = np.where(positive, atr[:, None], 1.0)
    kept[:, scaled] = np.where(positive, kept[:, scaled] / safe, 0.0)
    width = len(layout.kept)
    out[:, :width] = kept * layout.feature_scale
    shape_end = width + layout.shape_bars
    out[:, width:shape_end] = _zscore_rows(w) * layout.shape_scale
    if layout.chart_dims and charts is not None:
        out[:, shape_end:] = _unit_rows(charts) * layout.chart_weight


def _unit_rows(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each row over its L2 norm (sum of squares left to right by column; a zero row stays 0)."""
    squares = np.zeros(x.shape[0])
    for j in range(x.shape[1]):
        squares += x[:, j] * x[:, j]
    norm = np.sqrt(squares)
    out: NDArray[np.float64] = x / np.where(norm > 0.0, norm, 1.0)[:, None]
    return out


def _zscore_rows(w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each row minus its mean over its standard deviation; sums run left to right by column."""
    n, m = w.shape
    cols = np.ascontiguousarray(w.T)  # (m, n): each column of the window is contiguous
    total = np.zeros(n)
    for j in range(m):
        total += cols[j]
    mean = total / m
    cols -= mean
    squares = np.zeros(n)
    for j in range(m):
        squares += cols[j] * cols[j]
    std = np.sqrt(squares / m)
    # A window whose spread is rounding noise (or zero) is flat: no shape.
    flat = std <= 1e-12 * np.abs(mean)
    cols /= np.where(flat, 1.0, std)
    cols[:, flat] = 0.0
    z: NDArray[np.float64] = cols.T
    return z
