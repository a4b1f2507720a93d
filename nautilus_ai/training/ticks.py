"""Train the MLP on quote ticks: a model that reads the tick vector (bar + tick features).

>>> from nautilus_ai.training.ticks import train_tick_model
>>> result = train_tick_model(
...     "catalogs/demo", instrument_id="EUR/USD.SIM",
...     bar_type="EUR/USD.SIM-1-MINUTE-MID-EXTERNAL", fold=fold,
...     tick_mode=TickModeConfig(every_ticks=5),
...     label=LabelSpec(horizon=20, unit="pips", buy_threshold=0.5, sell_threshold=0.5,
...                     spread_pips=0.0),
... )
>>> # run it: predictor {"kind": "torch", "path": result.artifact_path} with the same tick_mode

Rows are the decision ticks the strategy's tick mode would decide on (the same cadence), with
the same vectors, bit for bit (:func:`~nautilus_ai.tick_decisions.tick_decision_rows`: the last
completed bar's features from the vectorised twin over the catalog's bars, then the tick
features of :func:`~nautilus_ai.features.ticks.compute_tick_features`). The label is the
forward **mid** move over ``label.horizon`` decision ticks (:func:`~nautilus_ai.labels.
make_labels` on the mid series: open = high = low = close = mid; for ``forward_return`` only
``mid[t + horizon]`` and ``mid[t]`` count), known only after the row: splits purge every row
whose horizon crosses a window's end and skip ``embargo`` (default: the horizon) ticks at the
start of each later window (:func:`~nautilus_ai.datasets.build_dataset`). Normalisation is
fitted on the training window only. The card stores the
:class:`~nautilus_ai.features.ticks.TickVectorSpec` (its hash and the tick feature names), so
the model runs only in tick mode, and the Pine export refuses it.
"""

from __future__ import annotations

import os
from typing import Any, cast

import numpy as np

from nautilus_ai.datasets import Fold
from nautilus_ai.features import FeatureSpec, TickVectorSpec, accepted_bars_mask, compute_features
from nautilus_ai.labels import LabelSpec
from nautilus_ai.tick_decisions import (
    TickModeConfig,
    TickRows,
    bar_period_ns,
    tick_decision_rows,
)
from nautilus_ai.training.config import TrainConfig
from nautilus_ai.training.pipeline import Progress, TrainResult, train_on_arrays

__all__ = ["load_tick_rows", "train_tick_model"]


def load_tick_rows(
    catalog_path: str | os.PathLike[str],
    *,
    instrument_id: str,
    bar_type: str,
    tick_mode: TickModeConfig,
    spec: FeatureSpec | None = None,
) -> TickRows:
    """The decision ticks of a catalog's quotes and bars, as the tick mode decides on them
    (ticks sharing a timestamp keep their first decision: rows are strictly increasing).

    Raises
    ------
    ValueError
        No bars or no quotes in the catalog, or no decision tick (no warm bar before a tick).
    """
    from nautilus_ai.catalog.reader import read_bars
    from nautilus_ai.data.catalog import read_quotes

    spec = spec or FeatureSpec()
    bar_ts, ohlcv = read_bars(catalog_path, bar_type)
    if bar_ts.size == 0:
        raise ValueError(f"{catalog_path}: no {bar_type} bars")
    accepted = accepted_bars_mask(bar_ts, *ohlcv.T)
    bar_ts, ohlcv = bar_ts[accepted], ohlcv[accepted]
    features = compute_features(spec, bar_ts, *ohlcv.T)
    quotes = read_quotes(catalog_path, instrument_id)
    if quotes.ts_event.size == 0:
        raise ValueError(f"{catalog_path}: no {instrument_id} quote ticks")
    rows = tick_decision_rows(
        tick_mode, bar_ts, features, spec, quotes.ts_event, quotes.bid, quotes.ask,
        quotes.bid_size, quotes.ask_size, bar_ns=bar_period_ns(bar_type),
    )  # fmt: skip
    if rows.ts.size == 0:
        raise ValueError(f"{catalog_path}: no decision tick (no warm {bar_type} bar before a tick)")
    first = np.ones(rows.ts.size, dtype=bool)
    first[1:] = rows.ts[1:] != rows.ts[:-1]
    return rows._replace(
        ts=rows.ts[first], features=rows.features[first], mid=rows.mid[first],
        tick_index=rows.tick_index[first], bar_row=rows.bar_row[first],
    )  # fmt: skip


def train_tick_model(
    catalog_path: str | os.PathLike[str],
    *,
    instrument_id: str,
    bar_type: str,
    fold: Fold,
    tick_mode: TickModeConfig | None = None,
    label: LabelSpec | None = None,
    config: TrainConfig | None = None,
    spec: FeatureSpec | None = None,
    artifacts_root: str | os.PathLike[str] = "artifacts",
    name: str = "mlp-ticks",
    embargo: int | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Fit, calibrate, evaluate and store an MLP on a catalog's decision ticks (see the module
    docstring); ``label.horizon`` and ``embargo`` count decision ticks. Default label: the mid
    moving more than half a pip over 20 decision ticks, no spread charged."""
    tick_mode = tick_mode or TickModeConfig()
    spec = spec or FeatureSpec()
    label = label or LabelSpec(
        horizon=20, unit="pips", buy_threshold=0.5, sell_threshold=0.5, spread_pips=0.0
    )
    rows = load_tick_rows(
        catalog_path, instrument_id=instrument_id, bar_type=bar_type, tick_mode=tick_mode,
        spec=spec,
    )  # fmt: skip
    mid = np.repeat(rows.mid[:, None], 4, axis=1)  # the label's "bars": open = ... = mid
    info: dict[str, Any] = {
        "catalog": str(catalog_path),
        "instrument_id": instrument_id,
        "bar_type": bar_type,
        "rows": "decision ticks",
        "tick_mode": {"every_ticks": tick_mode.every_ticks, "every_ms": tick_mode.every_ms},
        "decision_ticks": int(rows.ts.size),
        "label_horizon_unit": "decision ticks (forward mid move)",
    }
    return train_on_arrays(
        rows.ts, mid, rows.features, cast(FeatureSpec, TickVectorSpec(spec)), fold=fold,
        label=label, config=config, artifacts_root=artifacts_root, name=name,
        embargo_bars=embargo, data_info=info,
        description="MLP on quote ticks (tick vector: bar + tick features); no proven edge",
        progress=progress, row_unit="decision ticks",
    )  # fmt: skip
