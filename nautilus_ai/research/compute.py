"""Features and labels of a bars frame, as DataFrames on the bars' own index.

Both call the engine-path functions on the frame's arrays and only wrap the result: the feature
matrix *is* :func:`nautilus_ai.features.compute_features`'s output (bit for bit, a test checks),
and the labels are :func:`nautilus_ai.labels.make_labels`'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.labels import LabelSpec, make_labels
from nautilus_ai.research.frames import INDEX_NAME, ResearchInputError, as_bars, bar_arrays

__all__ = ["LABEL_COLUMNS", "features", "labels"]

#: Columns of :func:`labels`' frame.
LABEL_COLUMNS: tuple[str, ...] = ("label", "valid", "forward_return", "label_end")


def features(bars: pd.DataFrame, spec: FeatureSpec | None = None) -> pd.DataFrame:
    """The feature vector of every bar, one column per ``spec.names`` entry.

    Parameters
    ----------
    bars : pandas.DataFrame
        A bars frame (:func:`~nautilus_ai.research.bars` or any OHLCV frame that
        :func:`~nautilus_ai.research.as_bars` accepts without options).
    spec : FeatureSpec, optional
        Default ``FeatureSpec()`` (version 2: the 28 bar features).

    Returns
    -------
    pandas.DataFrame
        float64, columns ``spec.names``, the bars' UTC index. Rows before the warm-up ends hold
        NaN for the features not defined yet and ``warm == 0``; ``attrs["feature_spec_hash"]``
        names the spec.
    """
    spec = _feature_spec(spec)
    checked = as_bars(bars)
    ts, columns = bar_arrays(checked)
    matrix = compute_features(spec, ts, *columns)
    out = pd.DataFrame(matrix, index=checked.index.copy(), columns=list(spec.names), copy=False)
    out.attrs.update(checked.attrs)
    out.attrs["feature_spec_hash"] = spec.hash
    return out


def labels(bars: pd.DataFrame, spec: LabelSpec | None = None) -> pd.DataFrame:
    """Training labels of every bar (see :mod:`nautilus_ai.labels`; future bars only).

    Returns
    -------
    pandas.DataFrame
        ``label`` (int8: -1 sell, 0 hold, +1 buy; 0 where not valid), ``valid`` (the horizon
        fits in the data and the unit is defined), ``forward_return`` (gross move over the
        horizon in ``spec.unit``; NaN where not valid) and ``label_end`` (close time of the
        last bar the label depends on; NaT where not valid), on the bars' index.
        ``attrs["label_spec"]`` holds the spec's dict and ``attrs["label_description"]`` its
        one-line description.
    """
    if spec is None:
        spec = LabelSpec()
    if not isinstance(spec, LabelSpec):
        raise ResearchInputError(f"spec: expected a LabelSpec, got {type(spec).__name__}")
    checked = as_bars(bars)
    ts, (o, h, lo, c, _volume) = bar_arrays(checked)
    result = make_labels(spec, ts, o, h, lo, c)
    end_ns = np.where(result.valid, ts[np.clip(result.end_index, 0, None)], np.iinfo(np.int64).min)
    label_end = pd.DatetimeIndex(pd.to_datetime(end_ns, unit="ns", utc=True))
    out = pd.DataFrame(
        {
            "label": result.label,
            "valid": result.valid,
            "forward_return": result.forward_return,
            "label_end": label_end,
        },
        index=pd.DatetimeIndex(checked.index, name=INDEX_NAME),
        columns=list(LABEL_COLUMNS),
    )
    out.attrs.update(checked.attrs)
    out.attrs["label_spec"] = spec.to_dict()
    out.attrs["label_description"] = spec.describe()
    return out


def _feature_spec(spec: FeatureSpec | None) -> FeatureSpec:
    if spec is None:
        return FeatureSpec()
    if not isinstance(spec, FeatureSpec):
        raise ResearchInputError(f"spec: expected a FeatureSpec, got {type(spec).__name__}")
    return spec
