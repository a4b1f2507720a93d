"""Export entry points: an MLP or LightGBM artifact (exact), the rule (exact) or any predictor
(distilled).

>>> from nautilus_ai.pine import export_mlp_artifact
>>> export = export_mlp_artifact("artifacts/mlp-eurusd/v1")      # doctest: +SKIP
>>> export.write("mlp-eurusd.pine")                              # doctest: +SKIP

Exact exports read only the artifact (no torch import) and take a few milliseconds. A model
that cannot be embedded is distilled: :func:`export_distilled` asks the predictor for its
predictions on feature rows (e.g. the catalog's bars), fits a decision tree on them and writes
the tree, with its held-out fidelity in the header.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.artifacts import write_bytes_atomic
from nautilus_ai.features.spec import FeatureSpec
from nautilus_ai.models.base import Predictor
from nautilus_ai.models.lightgbm import read_gbt_card
from nautilus_ai.models.lightgbm_trees import TreeEnsemble
from nautilus_ai.models.rule import RuleConfig
from nautilus_ai.models.trained_bars import card_bar_type
from nautilus_ai.pine.artifact import load_mlp_weights
from nautilus_ai.pine.distill import DecisionTree, DistillReport, distill_signals
from nautilus_ai.pine.embed import (
    EmbeddedModel,
    embed_lightgbm,
    embed_mlp,
    embed_rule,
    embed_tree,
)
from nautilus_ai.pine.features import check_pine_computable
from nautilus_ai.pine.reference import predictor_outputs
from nautilus_ai.pine.script import StrategyOptions, build_script, chart_seconds

__all__ = [
    "MAX_EMBEDDED_PARAMETERS",
    "PineExport",
    "export_distilled",
    "export_lightgbm_artifact",
    "export_mlp_artifact",
    "export_rule",
    "lightgbm_embedded_values",
]

#: Larger MLPs are distilled by default, and larger LightGBM ensembles refused (counted in
#: :func:`lightgbm_embedded_values`): TradingView limits a script's size (compiled tokens) and run
#: time per bar. 10,000 MLP parameters write ~220 kB of Pine, a 117-tree ensemble of 8,424
#: values ~128 kB; not verified on TradingView.
MAX_EMBEDDED_PARAMETERS = 10_000


@dataclass(frozen=True)
class PineExport:
    """A generated script and what it was made from.

    Parameters
    ----------
    script : str
        The Pine Script v6 source.
    model : EmbeddedModel
        The embedded model (kind ``"mlp"``, ``"rule"`` or ``"tree"``).
    spec : FeatureSpec
        The feature spec the script computes.
    options : StrategyOptions
        The strategy's input defaults.
    exported_at : datetime
        Export time (UTC), written into the header.
    seconds : float
        Time the export took (distillation included).
    distill_report : DistillReport or None
        Fidelity of a distilled tree (``None`` for exact embeddings).
    tree : DecisionTree or None
        The distilled tree.
    bar_type : str or None
        The bars the model was fitted on (the script's timeframe guard, :attr:`bar_seconds`);
        ``None`` when its card does not record them (no guard).
    """

    script: str
    model: EmbeddedModel
    spec: FeatureSpec
    options: StrategyOptions
    exported_at: datetime
    seconds: float
    distill_report: DistillReport | None = None
    tree: DecisionTree | None = None
    bar_type: str | None = None

    @property
    def bar_seconds(self) -> int | None:
        """The chart timeframe (s) the script is guarded to; ``None``: no guard."""
        return chart_seconds(self.bar_type)

    @property
    def kind(self) -> str:
        """``"mlp"``, ``"rule"`` or ``"tree"``."""
        return self.model.kind

    def write(self, path: str | Path) -> Path:
        """Write the script to ``path`` (parents created), atomically: an interrupted write
        leaves the previous file (or none), never a truncated script."""
        return write_bytes_atomic(path, self.script.encode("utf-8"))


def _version() -> str:
    from nautilus_ai import __version__

    return __version__


def export_mlp_artifact(
    path: str | Path,
    *,
    options: StrategyOptions | None = None,
    exported_at: datetime | None = None,
) -> PineExport:
    """Export a torch MLP artifact exactly (standardisation, weights, activation, temperature).

    Raises
    ------
    ArtifactError
        The artifact is missing, corrupted or inconsistent with its card.
    """
    start = time.perf_counter()
    weights = load_mlp_weights(path)
    check_pine_computable(weights.card.feature_names, owner=f"model {weights.card.model_id}")
    spec = FeatureSpec.from_dict(weights.card.feature_spec)
    model = embed_mlp(weights, spec)
    return _finish(model, spec, options, exported_at, start, card_bar_type(weights.card.metrics))


def lightgbm_embedded_values(ensemble: TreeEnsemble) -> int:
    """The numbers an exact export writes into the script for ``ensemble``: per split its
    feature, threshold and two children, per leaf its value, per tree its root."""
    return 4 * ensemble.num_nodes + ensemble.num_leaves + ensemble.num_trees


def export_lightgbm_artifact(
    path: str | Path,
    *,
    options: StrategyOptions | None = None,
    exported_at: datetime | None = None,
    max_parameters: int | None = MAX_EMBEDDED_PARAMETERS,
) -> PineExport:
    """Export a LightGBM artifact exactly (every tree, the temperature); no ``lightgbm`` import.

    ``max_parameters``: the most values (:func:`lightgbm_embedded_values`) the script may embed
    (``None``: no limit).

    Raises
    ------
    ArtifactError
        The artifact is missing, corrupted or inconsistent with its card.
    ValueError
        The ensemble embeds more than ``max_parameters`` values.
    """
    from nautilus_ai.models.lightgbm import LightGBMPredictor

    start = time.perf_counter()
    card = read_gbt_card(path)
    check_pine_computable(card.feature_names, owner=f"model {card.model_id}")
    spec = FeatureSpec.from_dict(card.feature_spec)
    predictor = LightGBMPredictor.from_artifact(path, spec=spec)  # checksum and shape checks
    ensemble = predictor.ensemble
    values = lightgbm_embedded_values(ensemble)
    if max_parameters is not None and values > max_parameters:
        raise ValueError(
            f"model {card.model_id}: {ensemble.num_trees} trees embed {values:,} values in the "
            f"Pine script, over the limit of {max_parameters:,} ({ensemble.num_nodes:,} splits x "
            f"4 + {ensemble.num_leaves:,} leaves + {ensemble.num_trees} roots; TradingView "
            "limits a script's size): raise the limit (export-pine --max-parameters) to write "
            "it anyway, or distil it (--embed tree)"
        )
    model = embed_lightgbm(ensemble, card, spec)
    return _finish(model, spec, options, exported_at, start, card_bar_type(card.metrics))


def export_rule(
    spec: FeatureSpec,
    config: RuleConfig | None = None,
    *,
    options: StrategyOptions | None = None,
    exported_at: datetime | None = None,
    bar_type: str | None = None,
) -> PineExport:
    """Export :class:`~nautilus_ai.models.RulePredictor` as plain Pine conditions (with
    ``bar_type``, guarded to that timeframe; the rule is not fitted, so none by default)."""
    start = time.perf_counter()
    model = embed_rule(spec, config)
    return _finish(model, spec, options, exported_at, start, bar_type)


def export_distilled(
    predictor: Predictor,
    spec: FeatureSpec,
    features: NDArray[np.float64],
    *,
    options: StrategyOptions | None = None,
    data_description: str = "",
    max_depth: int = 8,
    min_samples_leaf: int = 50,
    holdout_fraction: float = 0.2,
    exported_at: datetime | None = None,
    bar_type: str | None = None,
) -> PineExport:
    """Distil ``predictor`` into a decision tree on ``features`` and export the tree.

    Parameters
    ----------
    predictor : Predictor
        Any backend (``predict_batch`` is used).
    spec : FeatureSpec
        The spec of ``features`` (and of the predictor).
    features : ndarray
        ``(n, k)`` feature rows in time order; rows that are not warm are dropped.
    data_description : str
        Where the rows come from (catalog, bar type, dates), for the header.
    max_depth, min_samples_leaf, holdout_fraction
        Tree settings and the share of the LAST rows kept out of fitting to measure fidelity.
    bar_type : str, optional
        The bar type of ``features`` (the tree is fitted on those bars: the script's timeframe
        guard); ``None`` for no guard.

    Raises
    ------
    ValueError
        The tree never calls buy or sell on the held-out rows where the model does (a script
        that would never trade).
    """
    start = time.perf_counter()
    opts = options or StrategyOptions()
    warm = features[:, spec.index("warm")] == 1.0
    rows = np.ascontiguousarray(features[warm])
    sign, confidence, risk = predictor_outputs(predictor, rows)
    tree, report = distill_signals(
        rows,
        sign,
        confidence,
        risk,
        feature_names=spec.names,
        min_confidence=opts.min_confidence,
        holdout_fraction=holdout_fraction,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
    )
    if report.model_signal_rate > 0 and report.tree_signal_rate == 0:
        raise ValueError(
            f"the distilled tree never calls buy or sell on the {report.holdout_rows} held-out "
            f"rows, the model does on {report.model_signal_rate:.2%} of them: the Pine strategy "
            f"would never trade (max_depth {max_depth}, min_samples_leaf {min_samples_leaf}; "
            "give the tree more depth or smaller leaves)"
        )
    source = f" of {data_description}" if data_description else ""
    description = [
        f"Model: {predictor.model_id}, NOT embedded: distilled into a decision tree "
        f"(depth {tree.depth}, {tree.node_count} nodes, min {min_samples_leaf} rows per leaf)",
        f"Distilled on {len(rows)} warm feature rows{source}; "
        f"target = the model's signal at min confidence {opts.min_confidence!r}",
        f"Fidelity: {report.summary()}",
    ]
    model = embed_tree(tree, spec, model_id=predictor.model_id, description=description)
    export = _finish(model, spec, opts, exported_at, start, bar_type)
    return PineExport(
        script=export.script,
        model=model,
        spec=spec,
        options=opts,
        exported_at=export.exported_at,
        seconds=time.perf_counter() - start,
        distill_report=report,
        tree=tree,
        bar_type=bar_type,
    )


def _finish(
    model: EmbeddedModel,
    spec: FeatureSpec,
    options: StrategyOptions | None,
    exported_at: datetime | None,
    start: float,
    bar_type: str | None = None,
) -> PineExport:
    opts = options or StrategyOptions()
    when = (exported_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    script = build_script(
        spec, model, opts, exported_at=when, version=_version(), bar_type=bar_type
    )
    return PineExport(
        script=script,
        model=model,
        spec=spec,
        options=opts,
        exported_at=when,
        seconds=time.perf_counter() - start,
        bar_type=bar_type,
    )
