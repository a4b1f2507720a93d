"""Predictions of any backend, and the strategy's sizer, over a features frame.

:func:`predict` asks the predictor for exactly the rows the strategy would ask about (warm rows
with finite features) in one ``predict_batch`` call, and turns every other row into a hold that
says why, so the warm-up never sinks the batch. On the accepted rows the answers are
``predict_batch``'s own (a test compares them field by field).

:func:`size` runs :func:`nautilus_ai.sizing.size_position` on every buy / sell row with the
inputs the strategy uses (price = close, volatility = ``atr_close``, the ``vol_regime``
feature), each signal on its own from a flat position at a fixed equity: what the sizer says
for that bar, not a simulated account.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models.base import MarketContext, Prediction, PredictionError, Predictor
from nautilus_ai.models.itemwise import holds_for_errors, predict_items
from nautilus_ai.models.registry import build_predictor
from nautilus_ai.research.compute import _feature_spec
from nautilus_ai.research.frames import ResearchInputError, as_bars, check_int, signal_column
from nautilus_ai.sizing import SizingConfig, SizingError, SizingInputs, size_position

__all__ = ["PREDICTION_COLUMNS", "SIZING_COLUMNS", "predict", "size"]

#: Columns of :func:`predict`'s frame.
PREDICTION_COLUMNS: tuple[str, ...] = (
    "action",
    "signal",
    "confidence",
    "risk_score",
    "accepted",
    "model_id",
    "reason",
)
#: Columns of :func:`size`'s frame.
SIZING_COLUMNS: tuple[str, ...] = ("quantity", "signed_quantity", "fraction", "blocked_by")


def _built(predictor: object, spec: FeatureSpec) -> Predictor:
    """``predictor`` itself, or the one its backend config builds for ``spec``; a path, a
    config the registry refuses or an artifact that does not load is a
    :class:`ResearchInputError` naming ``predictor``."""
    if isinstance(predictor, Mapping):
        from nautilus_ai.artifacts import ArtifactError
        from nautilus_ai.models.registry import BackendConfigError

        try:
            return build_predictor(predictor, spec)
        except (ArtifactError, BackendConfigError, ValueError) as exc:
            # ValueError: what a backend refuses to load (a pattern store that is missing or of
            # another feature spec, an index that does not match it) is bad input here too.
            raise ResearchInputError(f"predictor: {' '.join(str(exc).split())}") from None
    if not callable(getattr(predictor, "predict_batch", None)):
        hint = ""
        if isinstance(predictor, str | os.PathLike):
            hint = f" (a model folder: {{'kind': 'torch', 'path': {os.fspath(predictor)!r}}})"
        raise ResearchInputError(
            "predictor: expected a Predictor or a backend config mapping, got "
            f"{type(predictor).__name__}{hint}"
        )
    return predictor  # type: ignore[return-value]


def predict(
    features: pd.DataFrame,
    predictor: Predictor | Mapping[str, object],
    *,
    spec: FeatureSpec | None = None,
    bars: pd.DataFrame | None = None,
    context_bars: int = 0,
    instrument_id: str | None = None,
) -> pd.DataFrame:
    """One prediction per feature row; rows the strategy would not ask about are holds.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`~nautilus_ai.research.features` output (columns ``spec.names``).
    predictor : Predictor or mapping
        A built predictor, or a backend config for
        :func:`~nautilus_ai.models.registry.build_predictor` (``{"kind": "rule"}``,
        ``{"kind": "torch", "path": ...}``...), which is built for ``spec`` and closed after.
    spec : FeatureSpec, optional
        The spec the features were computed with (default ``FeatureSpec()``); the columns must
        be its names, in order.
    bars : pandas.DataFrame, optional
        The bars of those rows, for backends that read recent bars (``context_bars > 0``).
    context_bars : int
        Recent bars handed to the predictor per row in ``MarketContext.recent_bars`` (as the
        strategy's ``context_bars``); 0 for backends that only read features.
    instrument_id : str, optional
        For the contexts; default ``features.attrs["instrument_id"]`` when present.

    Returns
    -------
    pandas.DataFrame
        ``action`` ("buy" / "sell" / "hold"), ``signal`` (int8 +1 / -1 / 0), ``confidence``,
        ``risk_score``, ``accepted`` (the row was sent to the predictor), ``model_id`` and
        ``reason`` (the backend's, or why the row was held: warm-up, a non-finite feature, a
        predictor error for that row).

    Raises
    ------
    ResearchInputError
        Columns that are not the spec's names, a bad ``context_bars`` / ``bars``.
    PredictionError
        Every accepted row failed in the predictor (the first error is named): nothing was
        predicted, so nothing is returned.
    """
    spec = _feature_spec(spec)
    matrix, index = _feature_matrix(features, spec)
    accepted, held_reasons = _accepted_rows(matrix, spec)
    owned = isinstance(predictor, Mapping)
    model = _built(predictor, spec)
    try:
        pinned = model.spec_hash
        if pinned is not None and pinned != spec.hash:
            raise ResearchInputError(
                f"predictor {model.model_id} was built for feature spec {pinned}, the features "
                f"are spec {spec.hash}; pass spec= or build the predictor for this spec"
            )
        rows = np.flatnonzero(accepted)
        contexts = _contexts(features, spec, rows, bars, context_bars, instrument_id)
        answers = _predict_rows(model, matrix[rows], contexts) if rows.size else []
        model_id = str(model.model_id)
    finally:
        if owned:
            model.close()
    n = matrix.shape[0]
    action = np.full(n, "hold", dtype=object)
    confidence = np.zeros(n)
    risk = np.ones(n)
    model_ids = np.full(n, model_id, dtype=object)
    reason = np.asarray(held_reasons, dtype=object)
    signal = np.zeros(n, dtype=np.int8)
    if answers:  # column by column: a per-row assignment loop costs more than the rule itself
        action[rows] = [a.action.value for a in answers]
        signal[rows] = [a.action.sign for a in answers]
        confidence[rows] = [a.confidence for a in answers]
        risk[rows] = [a.risk_score for a in answers]
        model_ids[rows] = [a.model_id for a in answers]
        reason[rows] = [a.reason for a in answers]
    out = pd.DataFrame(
        {
            "action": pd.Categorical(action, categories=["sell", "hold", "buy"]),
            "signal": signal,
            "confidence": confidence,
            "risk_score": risk,
            "accepted": accepted,
            "model_id": model_ids,
            "reason": reason,
        },
        index=index.copy(),
        columns=list(PREDICTION_COLUMNS),
    )
    out.attrs.update(features.attrs)
    out.attrs["model_id"] = model_id
    return out


def size(
    predictions: pd.DataFrame,
    features: pd.DataFrame,
    bars: pd.DataFrame,
    config: SizingConfig | Mapping[str, object] | None = None,
    *,
    equity: float = 100_000.0,
) -> pd.DataFrame:
    """The order quantity the strategy's sizer gives each buy / sell row (holds are 0).

    Parameters
    ----------
    predictions, features, bars : pandas.DataFrame
        :func:`predict`, :func:`~nautilus_ai.research.features` and bars frames on the same
        index (``features`` needs ``atr_close`` and ``vol_regime``).
    config : SizingConfig or mapping, optional
        The strategy's ``sizing`` (a mapping is read with ``SizingConfig.from_dict``).
    equity : float
        Account equity for every row (also the peak and the free margin: no drawdown, no
        margin in use).

    Returns
    -------
    pandas.DataFrame
        ``quantity`` (units, >= 0), ``signed_quantity`` (+ buy / - sell), ``fraction``
        (exposure / equity before lot rounding) and ``blocked_by`` (the sizer step that made
        it 0; ``"hold"`` for holds; None when sized).
    """
    if config is None:
        config = SizingConfig()
    elif isinstance(config, Mapping):
        try:
            config = SizingConfig.from_dict(config)
        except SizingError as exc:  # an unknown key, a wrong type, a value out of range
            raise ResearchInputError(f"config: {' '.join(str(exc).split())}") from None
    elif not isinstance(config, SizingConfig):
        raise ResearchInputError(
            f"config: expected a SizingConfig or a mapping, got {type(config).__name__}"
        )
    if not (isinstance(equity, int | float) and np.isfinite(equity) and equity > 0):
        raise ResearchInputError(f"equity: expected a finite number > 0, got {equity!r}")
    _need_columns(predictions, ("signal", "confidence", "risk_score"), "predictions")
    _need_columns(features, ("atr_close", "vol_regime"), "features")
    checked = as_bars(bars)
    index = predictions.index
    if not features.index.equals(index):
        raise ResearchInputError(
            f"features and predictions have different indexes ({len(features)} vs {len(index)} "
            "rows); pass the features the predictions were made from"
        )
    position = checked.index.get_indexer(index)
    if (position < 0).any():
        row = int(np.flatnonzero(position < 0)[0])
        raise ResearchInputError(
            f"predictions: time {index[row]} (row {row}) is not a bar of `bars`"
        )
    checked = checked.iloc[position]
    n = len(index)
    quantity = np.zeros(n)
    fraction = np.zeros(n)
    blocked: NDArray[np.object_] = np.full(n, "hold", dtype=object)
    signal = signal_column(predictions)
    confidence = predictions["confidence"].to_numpy(dtype=np.float64)
    risk = predictions["risk_score"].to_numpy(dtype=np.float64)
    close = checked["close"].to_numpy()
    atr_close = features["atr_close"].to_numpy(dtype=np.float64)
    regime = features["vol_regime"].to_numpy(dtype=np.float64)
    for row in np.flatnonzero(signal != 0).tolist():
        inputs = SizingInputs(
            side=int(signal[row]),
            confidence=float(confidence[row]),
            risk_score=float(risk[row]),
            price=float(close[row]),
            equity=float(equity),
            peak_equity=float(equity),
            free_margin=float(equity),
            vol_regime=float(regime[row]),
            volatility=float(atr_close[row]),
        )
        try:
            decision = size_position(inputs, config)
        except SizingError as exc:
            raise ResearchInputError(f"size: row {row} ({index[row]}): {exc}") from None
        quantity[row] = decision.quantity
        fraction[row] = decision.fraction
        blocked[row] = decision.blocked_by
    out_index = index.copy()
    out = pd.DataFrame(
        {
            "quantity": quantity,
            "signed_quantity": quantity * signal,
            "fraction": fraction,
            # object dtype on purpose: pandas 3 (Python 3.12+) would infer its `str` dtype and
            # turn the None of an unblocked row into NaN
            "blocked_by": pd.Series(blocked, index=out_index, dtype=object),
        },
        index=out_index,
        columns=list(SIZING_COLUMNS),
    )
    out.attrs["sizing"] = config.to_dict()
    out.attrs["equity"] = float(equity)
    return out


# ---------------------------------------------------------------------------------------------


def _feature_matrix(
    features: pd.DataFrame, spec: FeatureSpec
) -> tuple[NDArray[np.float64], pd.DatetimeIndex]:
    if not isinstance(features, pd.DataFrame):
        raise ResearchInputError(
            f"features: expected a pandas DataFrame, got {type(features).__name__}"
        )
    names = list(spec.names)
    have = [str(c) for c in features.columns]
    if have != names:
        for i, (want, got) in enumerate(zip(names, have, strict=False)):
            if want != got:
                raise ResearchInputError(
                    f"features: column #{i} is {got!r}, spec {spec.hash} expects {want!r} "
                    "(pass the spec the features were computed with)"
                )
        raise ResearchInputError(
            f"features: {len(have)} columns, spec {spec.hash} has {len(names)} features"
        )
    index = features.index
    if not isinstance(index, pd.DatetimeIndex) or str(index.dtype) != "datetime64[ns, UTC]":
        raise ResearchInputError(
            f"features: index must be UTC times (datetime64[ns, UTC]), got {index.dtype}; "
            "compute them with nautilus_ai.research.features(bars)"
        )
    try:
        matrix = features.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ResearchInputError(f"features: not all numbers ({exc})") from None
    return np.ascontiguousarray(matrix), index


def _accepted_rows(
    matrix: NDArray[np.float64], spec: FeatureSpec
) -> tuple[NDArray[np.bool_], list[str]]:
    """Rows the strategy would predict on (warm, all finite) and a reason for each other row."""
    n = matrix.shape[0]
    warm = matrix[:, spec.index("warm")] == 1.0
    finite = np.isfinite(matrix).all(axis=1)
    accepted = warm & finite
    reasons = [""] * n
    for row in np.flatnonzero(~accepted).tolist():
        if not warm[row]:
            reasons[row] = (
                f"not predicted: warm-up (features are warm from bar {spec.warmup_bars} "
                "of a feature run)"
            )
        else:
            col = int(np.flatnonzero(~np.isfinite(matrix[row]))[0])
            reasons[row] = (
                f"not predicted: feature {spec.names[col]!r} is {float(matrix[row, col])!r}"
            )
    return accepted, reasons


def _contexts(
    features: pd.DataFrame,
    spec: FeatureSpec,
    rows: NDArray[np.intp],
    bars: pd.DataFrame | None,
    context_bars: int,
    instrument_id: str | None,
) -> list[MarketContext] | None:
    context_bars = check_int(context_bars, "context_bars", low=0)
    instrument = str(instrument_id or features.attrs.get("instrument_id", ""))
    index = features.index.asi8
    names = tuple(spec.names)
    table = None
    if context_bars:
        if bars is None:
            raise ResearchInputError("context_bars > 0 needs bars= (the bars of these rows)")
        checked = as_bars(bars)
        if not checked.index.equals(features.index):
            raise ResearchInputError(
                "bars and features have different indexes; pass the bars the features were "
                "computed from"
            )
        table = np.column_stack(
            [checked.index.asi8.astype(np.float64), checked.to_numpy(dtype=np.float64)]
        )
    if table is None:
        # As the engine's precomputed path: a backend that reads no bars gets no contexts (the
        # spec was checked against the predictor's own above).
        return None
    return [
        MarketContext(
            instrument_id=instrument,
            ts_event=int(index[row]),
            feature_names=names,
            spec_hash=spec.hash,
            recent_bars=None if table is None else table[max(0, row + 1 - context_bars) : row + 1],
        )
        for row in rows.tolist()
    ]


def _predict_rows(
    model: Predictor, matrix: NDArray[np.float64], contexts: list[MarketContext] | None
) -> list[Prediction]:
    """``predict_batch`` on the accepted rows; if the batch call itself fails, one row at a
    time, so a row that breaks the backend holds alone (its reason names the error)."""
    try:
        answers = model.predict_batch(matrix, contexts)
    except Exception as batch_error:
        items = predict_items(model, matrix, contexts)
        if items and all(isinstance(item, PredictionError) for item in items):
            raise PredictionError(
                f"{model.model_id}: every one of {len(items)} accepted rows failed; first: "
                f"{items[0]} (batch call: {type(batch_error).__name__}: {batch_error})"
            ) from batch_error
        return holds_for_errors(items, model.model_id)
    if len(answers) != matrix.shape[0]:
        raise PredictionError(
            f"{model.model_id}: predict_batch returned {len(answers)} answers for "
            f"{matrix.shape[0]} rows"
        )
    return answers


def _need_columns(frame: pd.DataFrame, names: tuple[str, ...], what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ResearchInputError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise ResearchInputError(f"{what}: missing column(s) {', '.join(map(repr, missing))}")
