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

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, SupportsIndex, cast, overload

import numpy as np
from nautilus_trader.model.data import BarType

from nautilus_ai.data.catalog import read_bars
from nautilus_ai.decision import ACTION_NAMES, DecisionRecord
from nautilus_ai.features import FeatureEngine, FeatureSpec, accepted_bars_mask, compute_features
from nautilus_ai.models import (
    Action,
    ArrayPredictor,
    MarketContext,
    Prediction,
    Predictor,
    SignalBatch,
)

__all__ = [
    "PrecomputedSeries",
    "SignalArrays",
    "bar_arrays_from_catalog",
    "precompute_for_strategy",
    "precompute_series",
]


def bar_arrays_from_catalog(
    catalog_path: str | Path,
    bar_type: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(ts_event int64[n], ohlcv float64[n, 5])`` of one bar type, sorted by ``ts_init``,
    ``start_ns <= ts_event <= end_ns`` (``None``: open).

    Prices equal ``Price.as_double()``, exactly what ``on_bar`` sees
    (:func:`nautilus_ai.data.catalog.read_bars`). An ``end_ns`` before ``start_ns`` (a
    precompute end before the run's first bar) holds no bars: nothing is precomputed and the
    strategy goes on bar by bar (``read_bars`` itself refuses such a window).
    """
    if start_ns is not None and end_ns is not None and end_ns < start_ns:
        return np.zeros(0, dtype=np.int64), np.zeros((0, 5))
    bars = read_bars(catalog_path, bar_type, start_ns=start_ns, end_ns=end_ns)
    ohlcv = np.column_stack([bars.open, bars.high, bars.low, bars.close, bars.volume])
    return bars.ts_event, ohlcv


def precompute_for_strategy(
    catalog_path: str,
    bar_type: str,
    spec: FeatureSpec,
    predictor: Predictor | None,
    context_bars: int = 0,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Prediction] | None]:
    """Return ``(ts, ohlcv, features, predictions)`` for the accepted bars of ``bar_type``.

    ``start_ns``: only bars with ``ts_event >= start_ns`` (the features start cold there, as
    an incremental run whose window starts there does); ``end_ns``: only bars with
    ``ts_event <= end_ns`` (the run's end: a week's run in a ten-year catalog reads, computes
    and holds a week); ``None`` for the catalog's first / last bar.

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
    ts, ohlcv = bar_arrays_from_catalog(catalog_path, bar_type, start_ns, end_ns)
    keep = accepted_bars_mask(ts, ohlcv[:, 0], ohlcv[:, 1], ohlcv[:, 2], ohlcv[:, 3], ohlcv[:, 4])
    ts, ohlcv = ts[keep], np.ascontiguousarray(ohlcv[keep])
    features = compute_features(
        spec, ts, ohlcv[:, 0], ohlcv[:, 1], ohlcv[:, 2], ohlcv[:, 3], ohlcv[:, 4]
    )
    predictions = None
    if predictor is not None and predictor.batch_exact:
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
        #: ``on_block(rows, predictions)`` after each block is predicted (the signal arrays)
        self.on_block: Callable[[list[int], list[Prediction]], None] | None = None
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

    @property
    def done(self) -> int:
        """Rows below this have been predicted (from the first row asked for)."""
        return self._done

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
        row_list = rows.tolist()
        for i, prediction in zip(row_list, batch, strict=True):
            super().__setitem__(i, prediction)
        if self.on_block is not None:
            self.on_block(row_list, batch)


_SIGNS = {action: action.sign for action in Action}


class SignalArrays:
    """Precomputed predictions as arrays: ``sign`` (+1 / -1 / 0), ``confidence``,
    ``risk_score`` and ``reason`` per row, filled block by block in time order
    (:meth:`fill_to`) from a predictor's batches; ``known[i]`` is False where no prediction was
    made (not warm, or a failed batch: the strategy predicts that bar itself).

    Lists, not numpy arrays: the strategy reads one element per bar, and a list index is the
    cheapest read there is. Also the :class:`~nautilus_ai.decision.RowSource` of the decision
    log's row-only entries.
    """

    def __init__(
        self, ts: np.ndarray, predictions: Sequence[Prediction | None] | None, model_id: str
    ) -> None:
        n = ts.size
        self._ts = ts
        self._predictions = predictions
        self.model_id = model_id
        self.sign: list[int] = [0] * n
        self.confidence: list[float] = [0.0] * n
        self.risk_score: list[float] = [1.0] * n
        self.reason: list[str] = ["not warm"] * n
        self.latency: list[float] = [0.0] * n
        self.known: list[bool] = [False] * n
        self._errors: dict[int, str] = {}
        self.ready = n  # rows below this are filled (from the first one asked for)
        if isinstance(predictions, _BlockPredictions):
            predictions.on_block = self._store
            self.ready = 0
        elif predictions is not None:
            self._store(list(range(n)), predictions)

    @classmethod
    def from_batch(
        cls, ts: np.ndarray, rows: np.ndarray, batch: SignalBatch, model_id: str
    ) -> SignalArrays:
        """``batch`` answers ``rows`` (the warm ones): every row is known at once."""
        signals = cls(ts, None, model_id)
        n = ts.size
        # Warm rows are usually every row from the first warm one on: then the columns are the
        # batch's lists behind a cold head (no round trip through numpy).
        head = int(rows[0]) if rows.size else n
        tail = rows.size == n - head and (rows.size == 0 or int(rows[-1]) == n - 1)

        def spread(values: Any, fill: Any, dtype: Any) -> list[Any]:
            if tail:
                return [fill] * head + (
                    values if isinstance(values, list) else [values] * (n - head)
                )
            column = np.full(n, fill, dtype=dtype)
            column[rows] = values
            return column.tolist()  # type: ignore[no-any-return]

        signals.sign = spread(batch.sign, 0, np.int64)
        signals.confidence = spread(batch.confidence, 0.0, np.float64)
        signals.risk_score = spread(batch.risk_score, 1.0, np.float64)
        signals.reason = spread(batch.reason, "not warm", object)
        signals.latency = spread(batch.latency, 0.0, np.float64)
        signals.known = [True] * n
        return signals

    def fill_to(self, row: int) -> None:
        """Make rows up to ``row`` (inclusive) readable: predicts the blocks up to it."""
        predictions = self._predictions
        assert isinstance(predictions, _BlockPredictions)
        predictions[row]
        self.ready = predictions.done

    def _store(self, rows: list[int], batch: Sequence[Prediction | None]) -> None:
        sign, confidence, risk, reason, known = (
            self.sign, self.confidence, self.risk_score, self.reason, self.known,
        )  # fmt: skip
        for i, prediction in zip(rows, batch, strict=True):
            if prediction is None:
                continue
            sign[i] = _SIGNS[prediction.action]
            confidence[i] = prediction.confidence
            risk[i] = prediction.risk_score
            reason[i] = prediction.reason
            known[i] = True
            self.latency[i] = prediction.latency
            if prediction.error is not None:
                self._errors[i] = prediction.error

    def prediction(self, row: int) -> Prediction:
        """Row ``row`` as a :class:`Prediction` (built on demand: sinks, the scheduler)."""
        return Prediction(
            Action.from_sign(self.sign[row]), self.confidence[row], self.risk_score[row],
            self.model_id, self.latency[row], self.reason[row], self._errors.get(row),
        )  # fmt: skip

    def hold_record(self, row: int) -> DecisionRecord:
        """Row ``row`` decided as nothing to do (:class:`~nautilus_ai.decision.RowSource`)."""
        return DecisionRecord(
            int(self._ts[row]), ACTION_NAMES[self.sign[row]], self.confidence[row],
            self.risk_score[row], self.model_id, "none", 0.0, False, self.reason[row],
            self._errors.get(row),
        )  # fmt: skip


class PrecomputedSeries:
    """The precomputed bars, features and signals a strategy looks its bars up in.

    ``ts`` / ``open`` / ``high`` / ``low`` / ``close`` are lists (one read per bar),
    ``features`` the feature matrix, ``signals`` the predictions (``None``: the predictor is
    not batch-exact, the strategy predicts each bar). :meth:`row` finds a bar's row.
    """

    def __init__(
        self,
        ts: np.ndarray,
        ohlcv: np.ndarray,
        features: np.ndarray,
        signals: SignalArrays | None,
        spec: FeatureSpec,
    ) -> None:
        self.ts_array = ts
        self.ohlcv = ohlcv
        self.features = features
        self.signals = signals
        self.ts: list[int] = ts.tolist()
        self.open: list[float] = ohlcv[:, 0].tolist()
        self.high: list[float] = ohlcv[:, 1].tolist()
        self.low: list[float] = ohlcv[:, 2].tolist()
        self.close: list[float] = ohlcv[:, 3].tolist()
        self.warm: list[bool] = (features[:, spec.index("warm")] == 1.0).tolist()
        self.atr_close: list[float] = features[:, spec.index("atr_close")].tolist()
        self.vol_regime: list[float] = features[:, spec.index("vol_regime")].tolist()
        self.next = 0  # the row the next bar should be

    def __len__(self) -> int:
        return len(self.ts)

    def replay_into(self, engine: FeatureEngine) -> None:
        """Reset ``engine`` and feed it the rows looked up so far (a fallback's warm-up)."""
        engine.reset()
        for i in range(self.next):
            o, h, low, c, v = self.ohlcv[i].tolist()
            engine.update(self.ts[i], o, h, low, c, v)

    def row(self, ts: int, o: float, h: float, low: float, c: float) -> int:
        """The row of this bar (timestamp and OHLC equal, exactly), or -1."""
        i = self.next
        if (
            i < len(self.ts)
            and self.ts[i] == ts
            and o == self.open[i]
            and h == self.high[i]
            and low == self.low[i]
            and c == self.close[i]
        ):
            self.next = i + 1
            return i
        return -1


def precompute_series(
    catalog_path: str,
    bar_type: str,
    spec: FeatureSpec,
    predictor: Predictor | None,
    context_bars: int = 0,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> PrecomputedSeries:
    """:func:`precompute_for_strategy` as the lookup a strategy reads."""
    if isinstance(predictor, ArrayPredictor) and predictor.batch_exact:
        # Answers as columns, all rows at once: no Prediction object per row.
        ts, ohlcv, features, _ = precompute_for_strategy(
            catalog_path, bar_type, spec, None, context_bars, start_ns, end_ns
        )
        rows = np.flatnonzero(features[:, spec.index("warm")] == 1.0)
        # Warm rows are usually every row from the first warm one on: a view, not a copy.
        tail = rows.size > 0 and rows.size == int(rows[-1]) - int(rows[0]) + 1
        batch = predictor.predict_signals(
            features[rows[0] : rows[-1] + 1] if tail else features[rows]
        )
        signals = SignalArrays.from_batch(ts, rows, batch, predictor.model_id)
        return PrecomputedSeries(ts, ohlcv, features, signals, spec)
    ts, ohlcv, features, predictions = precompute_for_strategy(
        catalog_path, bar_type, spec, predictor, context_bars, start_ns, end_ns
    )
    signals = None
    if predictions is not None and predictor is not None:
        signals = SignalArrays(ts, predictions, predictor.model_id)
    return PrecomputedSeries(ts, ohlcv, features, signals, spec)
