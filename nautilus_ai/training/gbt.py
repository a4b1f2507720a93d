"""The second model family: gradient-boosted trees with LightGBM, on the MLP's datasets.

Same labels, walk-forward windows, embargo and purging as the MLP (:mod:`nautilus_ai.datasets`),
same metrics and the same validation-chosen ``min_confidence``; what differs:

* no standardisation (a tree split is invariant to monotone rescaling);
* ``objective=multiclass`` (softmax over sell / hold / buy), class weights as sample weights
  (``balanced``: ``n / (3 n_c)`` from the training rows, applied to training and validation rows
  as the MLP's weighted loss is), early stopping on the validation window's weighted multi-class
  log loss, and the model kept at its best iteration;
* calibration: **temperature scaling** of the raw scores on the validation window, the MLP's
  method (:func:`~nautilus_ai.training.calibration.fit_temperature`): one scalar, the argmax
  never changes, and the Pine export divides by the same number;
* determinism: ``deterministic=True``, ``force_row_wise=True``, a fixed ``num_threads`` and every
  LightGBM seed set from ``seed``: the same data and config give the same model text, byte for
  byte (tested).

``lightgbm`` is an optional extra (``pip install 'nautilus-ai[gbt]'``), imported only when
training starts; inference (:mod:`nautilus_ai.models.lightgbm`) does not need it.
"""

from __future__ import annotations

import importlib.metadata
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from nautilus_ai.datasets import Dataset, Fold, build_dataset, check_trainable
from nautilus_ai.extras import MissingExtraError
from nautilus_ai.features import FeatureSpec
from nautilus_ai.labels import CLASSES, LabelSpec
from nautilus_ai.models.card import library_versions
from nautilus_ai.models.lightgbm import (
    GBTModelCard,
    architecture_of,
    read_gbt_card,
    save_gbt_artifact,
    softmax_probabilities,
)
from nautilus_ai.models.lightgbm_trees import TreeEnsemble, TreeEvaluator, parse_lightgbm_model
from nautilus_ai.training.calibration import bound_note, fit_temperature
from nautilus_ai.training.config import default_threads
from nautilus_ai.training.data import FeatureSource, load_fold_frame
from nautilus_ai.training.metrics import (
    ReliabilityBins,
)
from nautilus_ai.training.pipeline import (
    OosEvaluator,
    card_fields,
    evaluate_splits,
    split_summary_lines,
    store_with_oos,
)

__all__ = [
    "GBT_EXTRA",
    "GBTConfig",
    "GBTFitResult",
    "GBTTrainResult",
    "MissingExtraError",
    "TrainedGBT",
    "build_gbt_card",
    "fit_and_calibrate_gbt",
    "fit_lightgbm",
    "require_lightgbm",
    "train_gbt_model",
    "train_gbt_on_arrays",
]

#: The optional dependency group that brings LightGBM.
GBT_EXTRA = "gbt"
Progress = Callable[[str], None]


def require_lightgbm() -> Any:
    """Import and return the ``lightgbm`` module, or raise :class:`MissingExtraError` with one
    line naming the extra to install."""
    try:
        import lightgbm
    except ImportError:
        raise MissingExtraError(
            "LightGBM training needs the optional 'gbt' extra: pip install 'nautilus-ai[gbt]' "
            "(lightgbm is not installed)"
        ) from None
    return lightgbm


class GBTConfig(BaseModel):
    """How to fit the gradient-boosted trees (every field is a LightGBM parameter or ours).

    Parameters
    ----------
    num_leaves : int
        Leaves per tree, 2 to 64 (the evaluator keeps one 64-bit leaf mask per tree).
    max_depth : int
        Splits from root to leaf, 1 to 16 (bounds the Pine loop and the batch walk).
    learning_rate : float
        Shrinkage per iteration.
    max_iterations : int
        Boosting rounds at most (``num_boost_round``).
    early_stopping_rounds : int
        Stop when the validation loss has not improved for this many rounds; the model is cut
        back to its best iteration.
    min_child_samples : int
        Rows per leaf at least (``min_data_in_leaf``): large, because labels are noisy.
    feature_fraction, bagging_fraction : float
        Share of features per tree / rows per iteration (seeded).
    bagging_freq : int
        Re-draw the bagged rows every this many iterations (0: no bagging).
    lambda_l2 : float
        L2 regularisation of leaf values.
    max_bin : int
        Histogram bins per feature.
    class_weights : {"balanced", "none"}
        ``balanced``: sample weight ``n / (3 n_c)`` of class ``c`` (training counts).
    seed : int
        Seeds LightGBM's every random draw (``seed`` sets bagging / feature / data seeds).
    threads : int, optional
        LightGBM ``num_threads``; default :func:`~nautilus_ai.training.default_threads`.
    calibrate : bool
        Fit the softmax temperature on the validation window.
    target_signal_rate : float
        As :class:`~nautilus_ai.training.TrainConfig`: the share of validation bars the suggested
        ``min_confidence`` lets through.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_leaves: int = Field(default=15, ge=2, le=64)
    max_depth: int = Field(default=6, ge=1, le=16)
    learning_rate: float = Field(default=0.05, gt=0.0, le=1.0, allow_inf_nan=False)
    max_iterations: PositiveInt = 300
    early_stopping_rounds: PositiveInt = 30
    min_child_samples: PositiveInt = 200
    feature_fraction: float = Field(default=0.8, gt=0.0, le=1.0, allow_inf_nan=False)
    bagging_fraction: float = Field(default=0.8, gt=0.0, le=1.0, allow_inf_nan=False)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=1.0, ge=0.0, allow_inf_nan=False)
    max_bin: int = Field(default=255, ge=2, le=65_535)
    class_weights: Literal["balanced", "none"] = "balanced"
    seed: int = Field(default=7, ge=0)
    threads: PositiveInt | None = None
    calibrate: bool = True
    target_signal_rate: float = Field(default=0.03, gt=0.0, le=1.0, allow_inf_nan=False)

    def lightgbm_params(self) -> dict[str, Any]:
        """The parameters handed to ``lightgbm.train``."""
        return {
            "objective": "multiclass",
            "num_class": len(CLASSES),
            "metric": "multi_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.threads or default_threads(),
            "zero_as_missing": False,
            "verbosity": -1,
        }


@dataclass
class GBTFitResult:
    """A fitted booster (cut to its best iteration) and how it got there."""

    model_text: str
    best_iteration: int
    iterations_run: int
    stopped_early: bool
    class_weights: list[float]
    seconds: float
    threads: int
    history: list[dict[str, float | None]] = field(default_factory=list)


def _class_weights(y: NDArray[np.int64], mode: str) -> NDArray[np.float64]:
    counts = np.bincount(y, minlength=len(CLASSES)).astype(np.float64)
    if mode == "none":
        return np.ones(len(CLASSES))
    with np.errstate(divide="ignore"):
        return np.where(counts > 0, y.size / (len(CLASSES) * counts), 0.0)


def fit_lightgbm(
    train_x: NDArray[np.float64],
    train_y: NDArray[np.int64],
    val_x: NDArray[np.float64] | None,
    val_y: NDArray[np.int64] | None,
    *,
    feature_names: tuple[str, ...],
    config: GBTConfig,
    progress: Progress | None = None,
) -> GBTFitResult:
    """Train a multiclass booster on raw features; early stopping when validation rows exist.

    Raises
    ------
    MissingExtraError
        ``lightgbm`` is not installed.
    ValueError
        Bad array shapes.
    """
    lgb = require_lightgbm()
    if train_x.ndim != 2 or train_y.shape != (train_x.shape[0],) or train_x.shape[0] == 0:
        raise ValueError(f"bad training arrays: {train_x.shape}, {train_y.shape}")
    if train_x.shape[1] != len(feature_names):
        raise ValueError(f"{len(feature_names)} feature names for {train_x.shape[1]} columns")
    has_val = val_x is not None and val_y is not None and len(val_y) > 0
    params = config.lightgbm_params()
    weights = _class_weights(train_y, config.class_weights)
    names = list(feature_names)
    train_set = lgb.Dataset(
        train_x, label=train_y, weight=weights[train_y], feature_name=names, free_raw_data=True
    )
    valid_sets, valid_names = [train_set], ["train"]
    if has_val:
        assert val_x is not None and val_y is not None
        valid_sets.append(
            lgb.Dataset(val_x, label=val_y, weight=weights[val_y], reference=train_set)
        )
        valid_names.append("validation")
    recorded: dict[str, dict[str, list[float]]] = {}
    callbacks: list[Any] = [lgb.record_evaluation(recorded)]
    if has_val:
        callbacks.append(
            lgb.early_stopping(config.early_stopping_rounds, first_metric_only=True, verbose=False)
        )
    if progress is not None:
        callbacks.append(_progress_callback(progress, config.max_iterations))
    start = time.perf_counter()
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=config.max_iterations,
        valid_sets=valid_sets,
        valid_names=valid_names,
        callbacks=callbacks,
    )
    seconds = time.perf_counter() - start
    train_loss = recorded.get("train", {}).get("multi_logloss", [])
    val_loss = recorded.get("validation", {}).get("multi_logloss", [])
    run = len(train_loss)
    best = int(booster.best_iteration) if has_val and booster.best_iteration > 0 else run
    history: list[dict[str, float | None]] = [
        {
            "iteration": float(i + 1),
            "train_loss": float(train_loss[i]),
            "val_loss": float(val_loss[i]) if i < len(val_loss) else None,
        }
        for i in range(run)
    ]
    return GBTFitResult(
        model_text=booster.model_to_string(num_iteration=best),
        best_iteration=best,
        iterations_run=run,
        stopped_early=has_val and run < config.max_iterations,
        class_weights=weights.tolist(),
        seconds=seconds,
        threads=int(params["num_threads"]),
        history=history,
    )


def _progress_callback(progress: Progress, total: int, every: int = 10) -> Callable[[Any], None]:
    def report(env: Any) -> None:
        iteration = env.iteration + 1
        if iteration % every and iteration != 1:
            return
        parts = [f"iteration {iteration:>4}/{total}"]
        for name, _metric, value, _bigger in env.evaluation_result_list:
            label = "val" if name == "validation" else name
            parts.append(f"{label} loss {value:.4f}")
        progress("  ".join(parts))

    report.order = 30  # type: ignore[attr-defined]  # after LightGBM's own callbacks
    return report


@dataclass
class TrainedGBT:
    """A fitted, calibrated booster and its evaluation (nothing written yet)."""

    ensemble: TreeEnsemble
    temperature: float
    fit: GBTFitResult
    metrics: dict[str, Any]
    reliability: dict[str, dict[str, ReliabilityBins]] = field(default_factory=dict)


def fit_and_calibrate_gbt(
    dataset: Dataset, config: GBTConfig, progress: Progress | None = None
) -> TrainedGBT:
    """Fit on ``dataset.train`` (early stopping on ``validation``), fit the temperature on
    ``validation`` and evaluate every split with the calibrated probabilities."""
    val = dataset.validation
    has_val = val is not None and len(val) > 0
    fit = fit_lightgbm(
        dataset.train.features,
        dataset.train.y,
        val.features if has_val and val is not None else None,
        val.y if has_val and val is not None else None,
        feature_names=dataset.feature_names,
        config=config,
        progress=progress,
    )
    ensemble = parse_lightgbm_model(fit.model_text, source="the fitted booster")
    evaluator = TreeEvaluator(ensemble)
    raw = {s.name: evaluator.raw_scores(s.features) for s in dataset.splits() if len(s)}
    temperature = 1.0
    if config.calibrate and has_val and val is not None:
        temperature = fit_temperature(raw["validation"], val.y)
    calibration: dict[str, Any] = {
        "temperature": temperature,
        "method": "temperature scaling" if config.calibrate and has_val else "none",
    }
    note = bound_note(temperature)
    if note is not None:  # kept in the card, printed with the summary
        calibration["warning"] = note
    metrics, reliability = evaluate_splits(
        dataset, raw, temperature, softmax_probabilities, calibration, config.target_signal_rate
    )
    metrics["training"] = {
        "family": "lightgbm",
        "iterations_run": fit.iterations_run,
        "best_iteration": fit.best_iteration,
        "stopped_early": fit.stopped_early,
        "class_weights": dict(zip(CLASSES, fit.class_weights, strict=True)),
        "seconds": fit.seconds,
        "threads": fit.threads,
        "trees": ensemble.num_trees,
        "splits": ensemble.num_nodes,
        "config": config.model_dump(mode="json"),
        "history": fit.history,
    }
    return TrainedGBT(ensemble, temperature, fit, metrics, reliability)


def _lightgbm_version() -> str:
    try:
        return importlib.metadata.version("lightgbm")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def build_gbt_card(
    trained: TrainedGBT,
    dataset: Dataset,
    spec: FeatureSpec,
    *,
    name: str,
    version: int,
    description: str = "",
    data_info: Mapping[str, Any] | None = None,
    extra_metrics: Mapping[str, Any] | None = None,
    calibrated: bool = True,
) -> GBTModelCard:
    """The card for ``trained``: spec, label, windows, temperature, metrics, versions."""
    common = card_fields(dataset, spec, trained.metrics, data_info, extra_metrics)
    return GBTModelCard(
        name=name,
        version=version,
        created_at=datetime.now(UTC),
        description=description
        or "LightGBM trained by nautilus-ai train --family lightgbm (no proven edge; read the "
        "metrics)",
        architecture=architecture_of(trained.ensemble),
        temperature=trained.temperature,
        calibration="temperature" if calibrated and trained.temperature != 1.0 else "none",
        library_versions=library_versions({"lightgbm": _lightgbm_version()}),
        **common,
    )


@dataclass
class GBTTrainResult:
    """What :func:`train_gbt_model` produced."""

    artifact_path: Path
    card: GBTModelCard
    dataset: Dataset
    trained: TrainedGBT

    @property
    def model_id(self) -> str:
        return self.card.model_id

    def summary_text(self) -> str:
        """Key figures for the terminal, in-sample and out-of-sample stated plainly."""
        fit = self.trained.fit
        lines = [
            f"model {self.card.model_id} -> {self.artifact_path}",
            f"  LightGBM: {fit.best_iteration} iterations kept of {fit.iterations_run} run "
            f"({self.trained.ensemble.num_trees} trees), {fit.seconds:.1f} s on "
            f"{fit.threads} thread(s)",
        ]
        return "\n".join(lines + split_summary_lines(self.trained.metrics))


def train_gbt_on_arrays(
    ts: NDArray[np.int64],
    ohlcv: NDArray[np.float64],
    features: NDArray[np.float64],
    spec: FeatureSpec,
    *,
    fold: Fold,
    label: LabelSpec | None = None,
    config: GBTConfig | None = None,
    artifacts_root: str | os.PathLike[str] = "artifacts",
    name: str = "gbt",
    embargo_bars: int | None = None,
    description: str = "",
    data_info: Mapping[str, Any] | None = None,
    oos_evaluator: OosEvaluator | None = None,
    progress: Progress | None = None,
) -> GBTTrainResult:
    """Label, split, fit, calibrate, evaluate and store a LightGBM model from arrays (the
    arguments of :func:`nautilus_ai.training.train_on_arrays`)."""
    label = label or LabelSpec()
    config = config or GBTConfig()
    require_lightgbm()  # fail before the dataset is built
    say = progress or (lambda _line: None)
    dataset = build_dataset(
        ts, features, spec.names, ohlcv, label, fold, embargo_bars=embargo_bars,
        spec_hash=spec.hash,
    )  # fmt: skip
    say(dataset.describe())
    check_trainable(dataset, ts)
    trained = fit_and_calibrate_gbt(dataset, config, progress)
    root = Path(artifacts_root)

    def card(version: int, extra: Mapping[str, Any] | None = None) -> GBTModelCard:
        return build_gbt_card(
            trained, dataset, spec, name=name, version=version, description=description,
            data_info=data_info, extra_metrics=extra, calibrated=config.calibrate,
        )  # fmt: skip

    def save(card: GBTModelCard, folder: str | Path) -> Path:
        return save_gbt_artifact(trained.fit.model_text, card, folder)

    path = store_with_oos(card, save, root, name, oos_evaluator)
    return GBTTrainResult(path, read_gbt_card(path), dataset, trained)


def train_gbt_model(
    catalog_path: str | os.PathLike[str],
    *,
    bar_type: str,
    fold: Fold,
    label: LabelSpec | None = None,
    config: GBTConfig | None = None,
    spec: FeatureSpec | None = None,
    source: FeatureSource = "bars",
    run_id: str | None = None,
    allow_open_run: bool = False,
    artifacts_root: str | os.PathLike[str] = "artifacts",
    name: str = "gbt",
    embargo_bars: int | None = None,
    description: str = "",
    oos_evaluator: OosEvaluator | None = None,
    progress: Progress | None = None,
) -> GBTTrainResult:
    """:func:`train_gbt_on_arrays` on a catalog's bars (as
    :func:`nautilus_ai.training.train_model` for the MLP)."""
    require_lightgbm()
    frame, data = load_fold_frame(
        catalog_path,
        bar_type,
        fold,
        spec=spec,
        source=source,
        run_id=run_id,
        allow_open_run=allow_open_run,
    )
    info = {"catalog": data.pop("catalog"), "bar_type": bar_type, **data}
    return train_gbt_on_arrays(
        frame.ts,
        frame.ohlcv,
        frame.features,
        frame.spec,
        fold=fold,
        label=label,
        config=config,
        artifacts_root=artifacts_root,
        name=name,
        embargo_bars=embargo_bars,
        description=description,
        data_info=info,
        oos_evaluator=oos_evaluator,
        progress=progress,
    )
