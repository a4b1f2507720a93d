"""The fast path for backtests: features (and predictions) computed once, vectorised.

:class:`~nautilus_ai.strategies.ai_pattern.AIPatternStrategy` with
``feature_source="precomputed"`` calls :func:`precompute_for_strategy` on start. It reads the
strategy's bars from the catalog, keeps exactly the bars the incremental engine would accept
(:func:`~nautilus_ai.features.accepted_bars_mask`), computes the feature matrix with the
vectorised twin and, when the predictor can batch, every prediction. On each bar the strategy
checks the bar against the precomputed row (timestamp and OHLC, exactly) and falls back to the
incremental path on any mismatch, so the fast path can only be faster, never different.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import SupportsIndex, cast, overload

import numpy as np
from nautilus_trader.model.data import BarType

from nautilus_ai.data.catalog import read_bars
from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features
from nautilus_ai.models import MarketContext, Prediction, Predictor

__all__ = ["bar_arrays_from_catalog", "precompute_for_strategy"]


def bar_arrays_from_catalog(
    catalog_path: str | Path, bar_type: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(ts_event int64[n], ohlcv float64[n, 5])`` of one bar type, sorted by ``ts_init``.

    Prices equal ``Price.as_double()``, exactly what ``on_bar`` sees
    (:func:`nautilus_ai.data.catalog.read_bars`).
    """
    bars = read_bars(catalog_path, bar_type)
    ohlcv = np.column_stack([bars.open, bars.high, bars.low, bars.close, bars.volume])
    return bars.ts_event, ohlcv


def precompute_for_strategy(
    catalog_path: str,
    bar_type: str,
    spec: FeatureSpec,
    predictor: Predictor | None,
    context_bars: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Prediction] | None]:
    """Return ``(ts, ohlcv, features, predictions)`` for the accepted bars of ``bar_type``.

    ``predictions[i]`` is the prediction for row ``i`` when that row is warm (a placeholder hold
    otherwise). Predictors that declare ``batch_exact = True`` (their ``predict_batch`` equals
    ``predict`` bit for bit) are asked in batches; for the others ``predictions`` is ``None``
    and the strategy predicts bar by bar, because a batched matrix product may differ from the
    single-row one in the last bits and the fast path must not change a trade.

    Predictions are computed only for the rows the run reaches: in time-ordered blocks, from
    the first row asked for (a run's window starts there; its contexts hold the bars before it,
    the warm-up), growing to the end of the rows the run asks for (:class:`_BlockPredictions`).
    A block whose batch fails holds ``None`` rows: the strategy predicts those bars itself.
    """
    ts, ohlcv = bar_arrays_from_catalog(catalog_path, bar_type)
    keep = accepted_bars_mask(ts, ohlcv[:, 0], ohlcv[:, 1], ohlcv[:, 2], ohlcv[:, 3], ohlcv[:, 4])
    ts, ohlcv = ts[keep], np.ascontiguousarray(ohlcv[keep])
    features = compute_features(
        spec, ts, ohlcv[:, 0], ohlcv[:, 1], ohlcv[:, 2], ohlcv[:, 3], ohlcv[:, 4]
    )
    predictions = None
    if predictor is not None and getattr(predictor, "batch_exact", False):
        predictions = _batch_predictions(
            predictor, spec, bar_type, ts, ohlcv, features, context_bars
        )
    return ts, ohlcv, features, predictions


def _batch_predictions(
    predictor: Predictor,
    spec: FeatureSpec,
    bar_type: str,
    ts: np.ndarray,
    ohlcv: np.ndarray,
    features: np.ndarray,
    context_bars: int,
) -> list[Prediction] | None:
    # The strategy reads rows as list items; rows it never reaches are never predicted. A
    # failed block holds None (the strategy then predicts those bars bar by bar).
    return cast(
        list[Prediction],
        _BlockPredictions(predictor, spec, bar_type, ts, ohlcv, features, context_bars),
    )


class _BlockPredictions(list[Prediction | None]):
    """Predictions computed on first access, block by block in time order.

    Blocks start at the first row read and grow (1,024 rows, doubling to 16,384), so a run over
    a window of the catalog predicts the window (and at most one block past its end), and a
    predictor that learns as it goes (the pattern memory) sees the bars in order.
    """

    _FIRST_BLOCK = 1024
    _LARGEST_BLOCK = 16_384

    def __init__(
        self,
        predictor: Predictor,
        spec: FeatureSpec,
        bar_type: str,
        ts: np.ndarray,
        ohlcv: np.ndarray,
        features: np.ndarray,
        context_bars: int,
    ) -> None:
        super().__init__([Prediction.hold(predictor.model_id, "not warm")] * ts.size)
        self._predictor = predictor
        self._spec = spec
        self._instrument_id = str(BarType.from_str(bar_type).instrument_id)
        self._ts = ts
        self._table = np.column_stack([ts.astype(np.float64), ohlcv])
        self._features = features
        self._context_bars = context_bars
        self._warm = features[:, spec.index("warm")] == 1.0
        self._done = 0  # rows [first, done) are predicted
        self._first = -1
        self._block = self._FIRST_BLOCK

    @overload
    def __getitem__(self, index: SupportsIndex) -> Prediction | None: ...
    @overload
    def __getitem__(self, index: slice) -> list[Prediction | None]: ...
    def __getitem__(
        self, index: SupportsIndex | slice
    ) -> Prediction | list[Prediction | None] | None:
        if isinstance(index, slice):
            rows = range(len(self))[index]
            return [self[i] for i in rows]
        i = index.__index__()
        if i < 0:
            i += len(self)
        if self._first < 0:
            self._first = self._done = i
        while self._done <= i:
            self._predict_block()
        if i < self._first:  # before the first row asked for: never predicted
            return None
        return super().__getitem__(i)

    def __iter__(self) -> Iterator[Prediction | None]:
        return (self[i] for i in range(len(self)))

    def _predict_block(self) -> None:
        start = self._done
        stop = min(len(self), start + self._block)
        self._block = min(2 * self._block, self._LARGEST_BLOCK)
        self._done = stop
        rows = start + np.flatnonzero(self._warm[start:stop])
        if rows.size == 0:
            return
        contexts = None
        if self._context_bars > 0:
            names, spec_hash, table = tuple(self._spec.names), self._spec.hash, self._table
            contexts = [
                MarketContext(
                    instrument_id=self._instrument_id,
                    ts_event=int(self._ts[i]),
                    feature_names=names,
                    spec_hash=spec_hash,
                    recent_bars=table[max(0, i + 1 - self._context_bars) : i + 1],
                )
                for i in rows.tolist()
            ]
        try:
            batch = self._predictor.predict_batch(self._features[rows], contexts)
        except Exception:
            batch = None
        if batch is None or len(batch) != rows.size:
            for i in rows.tolist():
                super().__setitem__(i, None)
            return
        for i, prediction in zip(rows.tolist(), batch, strict=True):
            super().__setitem__(i, prediction)
