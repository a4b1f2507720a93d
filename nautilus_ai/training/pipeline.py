"""The training pipeline: catalog -> labelled walk-forward dataset -> fit -> calibrate ->
evaluate -> a new versioned artifact (safetensors + model card).

>>> from nautilus_ai.training import TrainConfig, train_model
>>> from nautilus_ai.datasets import Fold, Window
>>> result = train_model(
...     "catalogs/demo",
...     bar_type="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
...     fold=Fold(train=Window.parse("2017-01-01", "2017-04-10"),
...               validation=Window.parse("2017-04-10", "2017-05-01"),
...               test=Window.parse("2017-05-01", "2017-07-01")),
... )
>>> result.artifact_path      # artifacts/mlp-eurusd/v1 ; TorchPredictor.from_artifact(...)

Without a catalog, :func:`train_on_arrays` does the same from numpy arrays. Every step is
deterministic for a given seed; nothing is pickled; an existing artifact is never overwritten.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.artifacts import (
    ArtifactError,
    ArtifactExistsError,
    publish_next_version,
    reserved_version,
)
from nautilus_ai.datasets import Dataset, Fold, Window, build_dataset, check_trainable
from nautilus_ai.features import FeatureSpec
from nautilus_ai.labels import CLASSES, LabelSpec
from nautilus_ai.models.card import (
    MLPArchitecture,
    ModelCard,
    Standardisation,
    TimeWindow,
    library_versions,
)
from nautilus_ai.training.calibration import (
    bound_note,
    fit_temperature,
    softmax_with_temperature,
)
from nautilus_ai.training.config import TrainConfig
from nautilus_ai.training.data import FeatureSource, load_fold_frame
from nautilus_ai.training.metrics import (
    ReliabilityBins,
    classification_metrics,
    expected_calibration_error,
    reliability_bins,
)

if TYPE_CHECKING:  # torch: imported where a model is fitted or saved (the torch extra)
    from nautilus_ai.models.torch_mlp import MLPClassifier
    from nautilus_ai.training.fit import FitResult

__all__ = [
    "OosEvaluator",
    "TrainResult",
    "TrainedModel",
    "build_model_card",
    "fit_and_calibrate",
    "select_min_confidence",
    "train_model",
    "train_on_arrays",
]

Progress = Callable[[str], None]
#: Given the staged artifact folder, returns metrics (e.g. out-of-sample backtest figures) that
#: go into the final card's ``metrics["backtest_oos"]``.
OosEvaluator = Callable[[Path], Mapping[str, Any]]
CardT = TypeVar("CardT")


@dataclass
class TrainedModel:
    """A fitted, calibrated module and its evaluation (nothing written yet)."""

    module: MLPClassifier
    temperature: float
    fit: FitResult
    metrics: dict[str, Any]
    reliability: dict[str, dict[str, ReliabilityBins]] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What :func:`train_model` produced."""

    artifact_path: Path
    card: ModelCard
    dataset: Dataset
    trained: TrainedModel

    @property
    def model_id(self) -> str:
        return self.card.model_id

    def summary_text(self) -> str:
        """Key figures for the terminal, in-sample and out-of-sample stated plainly."""
        lines = [f"model {self.card.model_id} -> {self.artifact_path}"]
        return "\n".join(lines + split_summary_lines(self.trained.metrics))


def split_summary_lines(metrics: Mapping[str, Any]) -> list[str]:
    """Terminal lines of a trained model's figures per split (in-sample and out-of-sample
    stated plainly) and of its calibration."""
    m = metrics
    cal = m["calibration"]
    lines: list[str] = []
    for split, sample in (
        ("train", "in-sample"),
        ("validation", "in-sample, model selection"),
        ("test", "OUT-OF-SAMPLE"),
    ):
        if split in m:
            s = m[split]
            lines.append(
                f"  {split:<10} [{sample}] {s['rows']:>7,} rows  "
                f"acc {100 * s['accuracy']:5.1f}%  macro-F1 {s['macro_f1']:.3f}  "
                f"Brier {s['brier']:.4f}  ECE {s['ece']:.4f}"
            )
    if cal.get("warning"):
        lines.append(f"  WARNING calibration: {cal['warning']}")
    decision = m.get("decision")
    if isinstance(decision, Mapping) and decision.get("validation_signal_rate") == 0.0:
        lines.append(
            "  WARNING decision: the model never calls buy or sell on the validation window; "
            f"its suggested min_confidence is {decision.get('min_confidence')} and a run "
            "using it (backtest, export-pine) would never trade"
        )
    if cal.get("validation_ece_before") is not None:
        lines.append(
            f"  calibration: temperature {cal['temperature']:.3f}; ECE validation "
            f"{cal['validation_ece_before']:.4f} -> {cal['validation_ece_after']:.4f}"
            + (
                f", test {cal['test_ece_before']:.4f} -> {cal['test_ece_after']:.4f}"
                if cal.get("test_ece_before") is not None
                else ""
            )
        )
    return lines


def fit_and_calibrate(
    dataset: Dataset, config: TrainConfig, progress: Progress | None = None
) -> TrainedModel:
    """Fit on ``dataset.train`` (early stopping on ``validation``), fit the temperature on
    ``validation`` and evaluate every split with the calibrated probabilities."""
    val = dataset.validation
    has_val = val is not None and len(val) > 0
    from nautilus_ai.training.fit import fit_mlp, module_logits

    fit = fit_mlp(
        dataset.train.features,
        dataset.train.y,
        val.features if has_val and val is not None else None,
        val.y if has_val and val is not None else None,
        mean=dataset.norm.mean,
        std=dataset.norm.std,
        config=config,
        progress=progress,
    )
    logits = {s.name: module_logits(fit.module, s.features) for s in dataset.splits() if len(s)}
    temperature = 1.0
    if config.calibrate and has_val and val is not None:
        temperature = fit_temperature(logits["validation"], val.y)
    calibration: dict[str, Any] = {"temperature": temperature, "method": "temperature scaling"}
    note = bound_note(temperature)
    if note is not None:  # kept in the card, printed with the summary
        calibration["warning"] = note
    metrics, reliability = evaluate_splits(
        dataset,
        logits,
        temperature,
        softmax_with_temperature,
        calibration,
        config.target_signal_rate,
    )
    metrics["training"] = {
        "epochs_run": len(fit.history),
        "best_epoch": fit.best_epoch,
        "stopped_early": fit.stopped_early,
        "class_weights": dict(zip(CLASSES, fit.class_weights, strict=True)),
        "seconds": fit.seconds,
        "threads": fit.threads,
        "config": config.model_dump(mode="json"),
        "history": fit.history_dicts(),
    }
    return TrainedModel(fit.module, temperature, fit, metrics, reliability)


Softmax = Callable[[NDArray[np.float64], float], NDArray[np.float64]]


def evaluate_splits(
    dataset: Dataset,
    scores: Mapping[str, NDArray[np.float64]],
    temperature: float,
    softmax: Softmax,
    calibration: dict[str, Any],
    target_signal_rate: float,
) -> tuple[dict[str, Any], dict[str, dict[str, ReliabilityBins]]]:
    """Metrics and reliability bins of every split in ``scores`` (its raw scores / logits by
    split name), before and after the temperature, with ``softmax`` the model family's own;
    the validation-chosen ``min_confidence`` under ``"decision"``. ``calibration`` (temperature
    and method) gains the ECE figures and goes under ``"calibration"``."""
    metrics: dict[str, Any] = {"classes": list(CLASSES)}
    reliability: dict[str, dict[str, ReliabilityBins]] = {}
    for split in dataset.splits():
        if split.name not in scores:
            continue
        before = softmax(scores[split.name], 1.0)
        after = softmax(scores[split.name], temperature)
        metrics[split.name] = classification_metrics(after, split.y, CLASSES)
        calibration[f"{split.name}_ece_before"] = expected_calibration_error(before, split.y)
        calibration[f"{split.name}_ece_after"] = metrics[split.name]["ece"]
        reliability[split.name] = {
            "before": reliability_bins(before, split.y),
            "after": reliability_bins(after, split.y),
        }
    metrics["calibration"] = calibration
    val = dataset.validation
    if val is not None and len(val) > 0:
        # the predictor's own probabilities: the threshold is compared with exactly these floats
        probabilities = softmax(scores["validation"], temperature)
        metrics["decision"] = select_min_confidence(probabilities, val.y, target_signal_rate)
    metrics["class_balance"] = dataset.class_balance()
    return metrics, reliability


def select_min_confidence(
    probabilities: NDArray[np.float64], y: NDArray[np.int64], target_signal_rate: float
) -> dict[str, Any]:
    """The confidence threshold at which buy / sell calls cover ``target_signal_rate`` of the
    rows (chosen on validation rows, never on the test window), and how those calls did.

    Returns ``min_confidence`` (1.0 if the model never calls buy or sell), the achieved signal
    rate and the precision of the calls at or above the threshold.
    """
    hold = CLASSES.index("hold")
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    acting = predicted != hold
    n = int(y.size)
    if n == 0 or not acting.any():
        threshold = 1.0
    else:
        ranked = np.sort(confidence[acting])[::-1]
        k = min(ranked.size, max(1, math.ceil(target_signal_rate * n)))
        threshold = float(ranked[k - 1])
    calls = acting & (confidence >= threshold)
    return {
        "min_confidence": threshold,
        "selected_on": "validation",
        "target_signal_rate": target_signal_rate,
        "validation_signal_rate": float(calls.mean()) if n else 0.0,
        "validation_signal_precision": float(np.mean(predicted[calls] == y[calls]))
        if calls.any()
        else None,
    }


def time_window(window: Window | None) -> TimeWindow | None:
    """A dataset window as the card stores it (``None`` stays ``None``)."""
    return None if window is None else TimeWindow(start=window.start, end=window.end)


def build_model_card(
    trained: TrainedModel,
    dataset: Dataset,
    spec: FeatureSpec,
    *,
    name: str,
    version: int,
    description: str = "",
    data_info: Mapping[str, Any] | None = None,
    extra_metrics: Mapping[str, Any] | None = None,
) -> ModelCard:
    """The card for ``trained``: spec, label, windows, standardisation, temperature, metrics."""
    common = card_fields(dataset, spec, trained.metrics, data_info, extra_metrics)
    arch = trained.module.architecture
    return ModelCard(
        name=name,
        version=version,
        created_at=datetime.now(UTC),
        description=description
        or "MLP trained by nautilus-ai train (no proven edge; read the metrics)",
        architecture=MLPArchitecture(
            input_dim=arch.input_dim,
            hidden=arch.hidden,
            activation=arch.activation,
            classes=CLASSES,
        ),
        standardisation=Standardisation(fit_window=time_window(dataset.norm.fit_window)),
        temperature=trained.temperature,
        library_versions=library_versions(),
        **common,
    )


def card_fields(
    dataset: Dataset,
    spec: FeatureSpec,
    trained_metrics: Mapping[str, Any],
    data_info: Mapping[str, Any] | None,
    extra_metrics: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The card fields every model family fills the same way from its dataset: feature spec,
    label, windows and metrics (with ``data_info`` under ``"data"`` and ``extra_metrics``
    merged), as strict JSON.

    Raises
    ------
    ValueError
        The dataset was built under another spec than ``spec``.
    """
    if dataset.spec_hash and dataset.spec_hash != spec.hash:
        raise ValueError(f"dataset spec {dataset.spec_hash} != given spec {spec.hash}")
    metrics = dict(trained_metrics)
    if data_info:
        metrics["data"] = dict(data_info)
    if extra_metrics:
        metrics.update(extra_metrics)
    label = {
        **dataset.label_spec.to_dict(),
        "hash": dataset.label_spec.hash,
        "classes": list(CLASSES),
        "embargo_bars": dataset.embargo_bars,
        "description": dataset.label_spec.describe(dataset.row_unit),
    }
    return {
        "feature_spec": _json_safe(spec.to_dict()),
        "spec_hash": spec.hash,
        "feature_names": tuple(spec.names),
        "label": _json_safe(label),
        "train_window": time_window(dataset.fold.train),
        "validation_window": time_window(dataset.fold.validation),
        "test_window": time_window(dataset.fold.test),
        "metrics": _json_safe(metrics),
    }


def train_on_arrays(
    ts: NDArray[np.int64],
    ohlcv: NDArray[np.float64],
    features: NDArray[np.float64],
    spec: FeatureSpec,
    *,
    fold: Fold,
    label: LabelSpec | None = None,
    config: TrainConfig | None = None,
    artifacts_root: str | os.PathLike[str] = "artifacts",
    name: str = "mlp",
    embargo_bars: int | None = None,
    description: str = "",
    data_info: Mapping[str, Any] | None = None,
    oos_evaluator: OosEvaluator | None = None,
    progress: Progress | None = None,
    row_unit: str = "bars",
) -> TrainResult:
    """Label, split, fit, calibrate, evaluate and store a model from arrays of accepted bars.

    Parameters
    ----------
    ts, ohlcv : arrays
        Bars (close times in UTC ns, strictly increasing; ``(n, 4 or 5)`` prices).
    features : ndarray
        ``(n, len(spec.names))`` feature rows of those bars (NaN rows are skipped).
    spec : FeatureSpec
        The spec the features were computed with (stored in the card).
    fold : Fold
        Train / validation / test windows.
    label : LabelSpec, optional
        Default ``LabelSpec()``.
    config : TrainConfig, optional
        Default ``TrainConfig()``.
    artifacts_root : path
        The artifact goes to ``<root>/<name>/v<next>``.
    oos_evaluator : callable, optional
        Run on the staged artifact before it is stored (e.g. the out-of-sample backtest);
        its figures go into ``card.metrics["backtest_oos"]``.
    progress : callable, optional
        Receives one line per step / epoch.
    row_unit : str
        What a row is (``"decision ticks"`` for a tick series): the label's text and the card
        say what its horizon and the embargo count.
    """
    label = label or LabelSpec()
    config = config or TrainConfig()
    say = progress or (lambda _line: None)
    dataset = build_dataset(
        ts,
        features,
        spec.names,
        ohlcv,
        label,
        fold,
        embargo_bars=embargo_bars,
        spec_hash=spec.hash,
        row_unit=row_unit,
    )
    say(dataset.describe())
    check_trainable(dataset, ts)
    trained = fit_and_calibrate(dataset, config, progress)
    root = Path(artifacts_root)

    def card(version: int, extra: Mapping[str, Any] | None = None) -> ModelCard:
        return build_model_card(
            trained, dataset, spec, name=name, version=version, description=description,
            data_info=data_info, extra_metrics=extra,
        )  # fmt: skip

    def save(card: ModelCard, folder: str | Path) -> Path:
        from nautilus_ai.models.torch_mlp import save_artifact

        return save_artifact(trained.module, card, folder)

    path = store_with_oos(card, save, root, name, oos_evaluator)
    from nautilus_ai.models.card import read_model_card

    return TrainResult(path, read_model_card(path), dataset, trained)


def store_with_oos(
    card: Callable[[int, Mapping[str, Any] | None], CardT],
    save: Callable[[CardT, str | Path], Path],
    root: Path,
    name: str,
    oos_evaluator: OosEvaluator | None,
) -> Path:
    """Save ``card(version, None)``'s artifact as ``<root>/<name>/v<version>``, the next free
    version when it is stored (a parallel run of the same name may take one meanwhile); with
    ``oos_evaluator``, first reserve the next version (:func:`reserved_version`), stage the
    model under it in a temporary folder, evaluate it there and store
    ``card(version, {"backtest_oos": figures})`` as that version: the figures are always those
    of the stored model id. A run that does not reserve and takes the version meanwhile makes
    this one evaluate again under the next."""
    if oos_evaluator is None:
        return publish_next_version(root, name, lambda version: save(card(version, None), root))
    for _ in range(_OOS_ATTEMPTS):
        with reserved_version(root, name) as version:
            with tempfile.TemporaryDirectory(prefix="nautilus-ai-stage-") as staging:
                staged = save(card(version, None), staging)
                extra = {"backtest_oos": dict(oos_evaluator(staged))}
            try:
                return save(card(version, extra), root)
            except ArtifactExistsError:
                continue  # its figures name a version another run stored: evaluate again
    raise ArtifactError(
        f"{root / name}: another run stored each version this run evaluated "
        f"({_OOS_ATTEMPTS} attempts); the model was not stored"
    )


#: Out-of-sample evaluations at most, when other runs keep taking the version evaluated.
_OOS_ATTEMPTS = 3


def train_model(
    catalog_path: str | os.PathLike[str],
    *,
    bar_type: str,
    fold: Fold,
    label: LabelSpec | None = None,
    config: TrainConfig | None = None,
    spec: FeatureSpec | None = None,
    source: FeatureSource = "bars",
    run_id: str | None = None,
    allow_open_run: bool = False,
    artifacts_root: str | os.PathLike[str] = "artifacts",
    name: str = "mlp",
    embargo_bars: int | None = None,
    description: str = "",
    oos_evaluator: OosEvaluator | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """:func:`train_on_arrays` on a catalog's bars, with features recomputed from the bars
    (``source="bars"``) or read from a logged run and checked against the bars
    (``source="snapshots"``, ``run_id`` of the run; the spec defaults to the logged one)."""
    frame, data = load_fold_frame(
        catalog_path,
        bar_type,
        fold,
        spec=spec,
        source=source,
        run_id=run_id,
        allow_open_run=allow_open_run,
    )
    info = {"catalog": data.pop("catalog"), "bar_type": bar_type, **data}  # the card's data
    a = frame.agreement
    if a is not None and progress is not None:
        progress(
            f"logged features of run {frame.run_id} agree with the recomputed ones on "
            f"{a.rows_compared:,} bars ({a.rows_identical:,} bit-identical, max |diff| "
            f"{a.max_abs_diff:.3g})"
        )
    return train_on_arrays(
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


def _json_safe(value: Any) -> Any:
    """NaN / inf -> None, numpy scalars -> Python, tuples -> lists (the card is strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
