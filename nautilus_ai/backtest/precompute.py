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

from pathlib import Path

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
    ``predict`` bit for bit) are asked once for the whole batch; for the others ``predictions``
    is ``None`` and the strategy predicts bar by bar, because a batched matrix product may
    differ from the single-row one in the last bits and the fast path must not change a trade.
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
    warm_rows = np.flatnonzero(features[:, spec.index("warm")] == 1.0)
    contexts = None
    if context_bars > 0:
        instrument_id = str(BarType.from_str(bar_type).instrument_id)
        table = np.column_stack([ts.astype(np.float64), ohlcv])
        contexts = [
            MarketContext(
                instrument_id=instrument_id,
                ts_event=int(ts[i]),
                feature_names=tuple(spec.names),
                spec_hash=spec.hash,
                recent_bars=table[max(0, i + 1 - context_bars) : i + 1],
            )
            for i in warm_rows
        ]
    try:
        batch = predictor.predict_batch(features[warm_rows], contexts)
    except Exception:
        return None
    if len(batch) != warm_rows.size:
        return None
    placeholder = Prediction.hold(predictor.model_id, "not warm")
    predictions: list[Prediction] = [placeholder] * ts.size
    for i, prediction in zip(warm_rows.tolist(), batch, strict=True):
        predictions[i] = prediction
    return predictions
