"""Training inputs from a catalog: bars, and features either recomputed or as logged.

``source="bars"`` recomputes the feature matrix from the catalog's bars with the vectorised
twin. ``source="snapshots"`` takes the vectors the strategy logged (``FeatureSnapshot``) and
*also* recomputes them, and refuses to continue unless both agree on every logged bar: a logged
run whose features do not match the current definition (another spec, other bars, a bug) must
not silently become training data. Labels always come from the bars.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.catalog.reader import logged_feature_spec, read_bars, read_snapshots
from nautilus_ai.datasets import Fold
from nautilus_ai.features import FeatureSpec, accepted_bars_mask, compute_features

__all__ = [
    "FeatureAgreement",
    "FeatureMismatchError",
    "TrainingFrame",
    "load_fold_frame",
    "load_training_frame",
]

FeatureSource = Literal["bars", "snapshots"]
# The incremental engine and the vectorised twin agree bit for bit except ``log``, which may
# differ by an ulp (~1e-19 on a 1e-4 return); anything beyond this is a real disagreement.
_RTOL, _ATOL = 1e-9, 1e-12


class FeatureMismatchError(ValueError):
    """Logged feature vectors differ from the ones recomputed from the catalog's bars."""


@dataclass(frozen=True)
class FeatureAgreement:
    """How logged and recomputed features compare on the logged bars."""

    rows_compared: int
    rows_identical: int
    max_abs_diff: float

    def to_dict(self) -> dict[str, float]:
        return {
            "rows_compared": self.rows_compared,
            "rows_identical": self.rows_identical,
            "max_abs_diff": self.max_abs_diff,
        }


@dataclass(frozen=True)
class TrainingFrame:
    """Accepted bars and their feature rows (NaN rows: no feature vector for that bar)."""

    ts: NDArray[np.int64]
    ohlcv: NDArray[np.float64]
    features: NDArray[np.float64]
    spec: FeatureSpec
    source: FeatureSource
    run_id: str | None
    agreement: FeatureAgreement | None


def load_training_frame(
    catalog_path: str | os.PathLike[str],
    bar_type: str,
    spec: FeatureSpec,
    *,
    source: FeatureSource = "bars",
    run_id: str | None = None,
    end_ns: int | None = None,
    allow_open_run: bool = False,
) -> TrainingFrame:
    """Bars of ``bar_type`` before ``end_ns`` (from the catalog's first bar: features need the
    history) and their features from ``source``.

    Raises
    ------
    CatalogReadError
        Missing bars or snapshots.
    FeatureMismatchError
        ``source="snapshots"`` and the logged spec or values differ from the recomputed ones
        (the message names the first differing bar and feature).
    """
    if source not in ("bars", "snapshots"):
        raise ValueError(f"source must be 'bars' or 'snapshots', got {source!r}")
    if source == "bars":
        ts, ohlcv, computed = _bars_and_features(catalog_path, bar_type, spec, end_ns)
        return TrainingFrame(ts, ohlcv, computed, spec, "bars", None, None)

    # Parquet decoding releases the GIL: read the snapshots while the features are recomputed
    # (measured ~25% faster end to end on 2 cores).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(
            read_snapshots, catalog_path, run_id, end_ns=end_ns, allow_open=allow_open_run
        )
        ts, ohlcv, computed = _bars_and_features(catalog_path, bar_type, spec, end_ns)
        snaps = pending.result()
    if snaps.spec_hash != spec.hash or snaps.feature_names != tuple(spec.names):
        raise FeatureMismatchError(
            f"run {snaps.run_id} was logged with feature spec {snaps.spec_hash}, training uses "
            f"{spec.hash}; pass the logged spec or use source='bars'"
        )
    rows = np.searchsorted(ts, snaps.ts_event)
    matched = (rows < ts.size) & (ts[np.minimum(rows, ts.size - 1)] == snaps.ts_event)
    if not matched.all():
        first = int(snaps.ts_event[np.flatnonzero(~matched)[0]])
        raise FeatureMismatchError(
            f"run {snaps.run_id}: {int((~matched).sum())} snapshot(s) have no bar of {bar_type} "
            f"in the catalog (first ts_event {first})"
        )
    logged = snaps.features
    recomputed = computed[rows]
    # Fast path: the vectors are usually bit-identical; only the others need a tolerance.
    same = logged == recomputed
    max_diff = 0.0
    if not same.all():
        where = np.argwhere(~same)
        a, b = logged[~same], recomputed[~same]
        both_nan = np.isnan(a) & np.isnan(b)
        ok = both_nan | np.isclose(a, b, rtol=_RTOL, atol=_ATOL)
        if not ok.all():
            r, c = where[np.flatnonzero(~ok)[0]]
            raise FeatureMismatchError(
                f"run {snaps.run_id}: logged feature {spec.names[c]!r} at ts_event "
                f"{int(snaps.ts_event[r])} is {logged[r, c]!r}, recomputed from the bars "
                f"{recomputed[r, c]!r} ({np.unique(where[~ok][:, 0]).size} row(s) differ)"
            )
        same[where[both_nan, 0], where[both_nan, 1]] = True
        finite = ~both_nan
        max_diff = float(np.max(np.abs(a[finite] - b[finite]))) if finite.any() else 0.0
    agreement = FeatureAgreement(
        rows_compared=int(rows.size),
        rows_identical=int(same.all(axis=1).sum()),
        max_abs_diff=max_diff,
    )
    features = computed  # our own array: reuse it rather than allocate another (n, k)
    features[rows] = logged
    missing = np.ones(ts.size, dtype=bool)
    missing[rows] = False
    features[missing] = np.nan  # bars without a logged decision (e.g. the warm-up)
    return TrainingFrame(ts, ohlcv, features, spec, "snapshots", snaps.run_id, agreement)


def load_fold_frame(
    catalog_path: str | os.PathLike[str],
    bar_type: str,
    fold: Fold,
    *,
    spec: FeatureSpec | None = None,
    source: FeatureSource = "bars",
    run_id: str | None = None,
    allow_open_run: bool = False,
) -> tuple[TrainingFrame, dict[str, Any]]:
    """:func:`load_training_frame` up to the end of ``fold``, and what a card records about it.

    ``spec`` defaults to the v1 :class:`FeatureSpec`, or for ``source="snapshots"`` to the spec
    the run logged. The dict (a card's ``data``) names the catalog, ``feature_source``,
    ``run_id``, the number of bars and, for snapshots, how they agree with the recomputed
    features.
    """
    if spec is None:
        spec = FeatureSpec()
        if source == "snapshots":
            spec = FeatureSpec.from_dict(logged_feature_spec(catalog_path, run_id)[1])
    last = fold.windows()[-1][1]
    frame = load_training_frame(
        catalog_path,
        bar_type,
        spec,
        source=source,
        run_id=run_id,
        end_ns=last.end_ns,
        allow_open_run=allow_open_run,
    )
    info: dict[str, Any] = {
        "catalog": str(Path(catalog_path).resolve()),
        "feature_source": source,
        "run_id": frame.run_id,
        "bars": int(frame.ts.size),
    }
    if frame.agreement is not None:
        info["snapshot_agreement"] = frame.agreement.to_dict()
    return frame, info


def _bars_and_features(
    catalog_path: str | os.PathLike[str], bar_type: str, spec: FeatureSpec, end_ns: int | None
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """The accepted bars of ``bar_type`` before ``end_ns`` and their vectorised features."""
    ts, ohlcv = read_bars(catalog_path, bar_type, end_ns=end_ns)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    ts, ohlcv = ts[keep], np.ascontiguousarray(ohlcv[keep])
    return ts, ohlcv, compute_features(spec, ts, *ohlcv.T)
