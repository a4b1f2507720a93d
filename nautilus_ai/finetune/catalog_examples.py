"""Fine-tuning examples from a catalog: bars -> features -> labels -> walk-forward splits.

Nothing is defined twice: the features come from :func:`nautilus_ai.training.load_training_frame`
(recomputed from the bars, or a logged run's snapshots checked against them), the labels from
:func:`nautilus_ai.labels.make_labels` and the train / validation rows, with purging and embargo,
from :func:`nautilus_ai.datasets.build_dataset`. This module only turns those rows into
:class:`~nautilus_ai.finetune.ExampleSet` s (the predictor's inputs at each bar + the label as the
answer) and thins the training split.

>>> from nautilus_ai.datasets import Fold, Window
>>> fold = Fold(train=Window.parse("2017-01-02", "2017-04-01"),
...             validation=Window.parse("2017-04-01", "2017-05-01"))
>>> dataset = load_finetune_dataset("catalogs/demo", bar_type=..., fold=fold, context_bars=64)
>>> print(dataset.describe())
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from nautilus_ai.datasets import Fold, SplitData, build_dataset, check_trainable
from nautilus_ai.features import FeatureSpec
from nautilus_ai.finetune.examples import (
    AnswerSpec,
    ExampleSet,
    FineTuneDataset,
    instrument_of_bar_type,
    select_rows,
)
from nautilus_ai.labels import CLASSES, LabelSpec
from nautilus_ai.models.prompting import ACTION_CHOICES
from nautilus_ai.training.data import FeatureSource, TrainingFrame, load_fold_frame

__all__ = ["examples_from_frame", "load_finetune_dataset"]

# Label class index (CLASSES: sell, hold, buy) -> answer action index (ACTION_CHOICES order).
_CLASS_TO_ACTION = np.array([ACTION_CHOICES.index(name) for name in CLASSES], dtype=np.int64)


def examples_from_frame(
    frame: TrainingFrame,
    bar_type: str,
    label_spec: LabelSpec,
    fold: Fold,
    *,
    context_bars: int,
    answer: AnswerSpec | None = None,
    embargo_bars: int | None = None,
    stride: int = 1,
    hold_keep_fraction: float = 1.0,
    seed: int = 0,
    data_info: dict[str, Any] | None = None,
) -> FineTuneDataset:
    """Examples of ``fold``'s train and validation windows over a loaded frame.

    Parameters
    ----------
    frame : TrainingFrame
        Accepted bars and their feature rows (:func:`load_training_frame`).
    bar_type : str
        The bars' type (the instrument in the prompt comes from it).
    label_spec : LabelSpec
    fold : Fold
        ``train`` and optional ``validation``; a ``test`` window is refused (evaluate out of
        sample with a backtest of the served adapter, not with examples).
    context_bars : int
        Recent bars per example (at least the predictor's ``chart_bars`` / ``prompt_bars``).
    answer : AnswerSpec, optional
    embargo_bars : int, optional
        Default and minimum: the label horizon (:func:`build_dataset`).
    stride, hold_keep_fraction, seed
        Thinning of the training split (:func:`~nautilus_ai.finetune.select_rows`).
    data_info : dict, optional
        Provenance stored in the card (catalog, feature source...).
    """
    if fold.test is not None:
        raise ValueError(
            "fold.test: fine-tuning uses train and validation windows only; evaluate the stored "
            "adapter out of sample with a backtest"
        )
    answer = answer or AnswerSpec()
    spec = frame.spec
    dataset = build_dataset(
        frame.ts,
        frame.features,
        spec.names,
        frame.ohlcv,
        label_spec,
        fold,
        embargo_bars=embargo_bars,
        spec_hash=spec.hash,
    )
    # An empty validation window (inside the embargo) or labels of one class: refused as
    # `train` refuses them, before minutes of fine-tuning on nothing to learn or judge.
    check_trainable(dataset, frame.ts)
    bars = np.column_stack([frame.ts.astype(np.float64), frame.ohlcv])  # recent_bars layout
    bar_ts = np.ascontiguousarray(frame.ts, dtype=np.int64)
    instrument_id = instrument_of_bar_type(bar_type)

    def to_examples(split: SplitData) -> ExampleSet:
        actions = _CLASS_TO_ACTION[split.y]
        return ExampleSet(
            name=split.name,
            instrument_id=instrument_id,
            feature_names=tuple(spec.names),
            spec_hash=spec.hash,
            bars=bars,
            bar_ts=bar_ts,
            rows=split.rows.astype(np.int64),
            features=split.features,
            actions=actions,
            risks=answer.risks(
                actions, split.forward_return, label_spec.buy_threshold, label_spec.sell_threshold
            ),
            context_bars=context_bars,
        )

    labelled = to_examples(dataset.train)
    train = labelled.subset(
        select_rows(
            labelled.actions, stride=stride, hold_keep_fraction=hold_keep_fraction, seed=seed
        )
    )
    counts = train.class_counts()
    if sum(1 for n in counts.values() if n > 0) < 2:
        # check_trainable saw the labelled rows; thinning can leave one class (or one example)
        kept = ", ".join(f"{action} {n}" for action, n in counts.items())
        raise ValueError(
            f"--stride {stride} / --hold-keep {hold_keep_fraction:g} leave {len(train)} of "
            f"{len(labelled)} training examples ({kept}): one class, nothing to learn between "
            "actions; lower --stride or raise --hold-keep"
        )
    validation = to_examples(dataset.validation) if dataset.validation is not None else None
    balance = {"labelled": labelled.class_counts(), "train": counts}
    if validation is not None:
        balance["validation"] = validation.class_counts()
    return FineTuneDataset(
        train=train,
        validation=validation,
        feature_spec=spec.to_dict(),
        label_spec=label_spec.to_dict(),
        label_hash=label_spec.hash,
        answer_spec=answer,
        bar_type=bar_type,
        windows={name: window.to_dict() for name, window in fold.windows()},
        embargo_bars=dataset.embargo_bars,
        class_balance=balance,
        selection={"stride": stride, "hold_keep_fraction": hold_keep_fraction, "seed": seed},
        data=dict(data_info or {}),
    )


def load_finetune_dataset(
    catalog_path: str | os.PathLike[str],
    *,
    bar_type: str,
    fold: Fold,
    context_bars: int,
    label: LabelSpec | None = None,
    spec: FeatureSpec | None = None,
    source: FeatureSource = "bars",
    run_id: str | None = None,
    allow_open_run: bool = False,
    answer: AnswerSpec | None = None,
    embargo_bars: int | None = None,
    stride: int = 1,
    hold_keep_fraction: float = 1.0,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> FineTuneDataset:
    """:func:`examples_from_frame` on a catalog's bars (see :func:`load_training_frame` for
    ``source`` / ``run_id``; the spec defaults to the logged one for ``source="snapshots"``).

    Raises
    ------
    CatalogReadError, FeatureMismatchError, ValueError
        Missing bars or snapshots, logged features that differ from the recomputed ones, bad
        windows or no usable training rows.
    """
    label = label or LabelSpec()
    frame, info = load_fold_frame(
        catalog_path,
        bar_type,
        fold,
        spec=spec,
        source=source,
        run_id=run_id,
        allow_open_run=allow_open_run,
    )
    dataset = examples_from_frame(
        frame,
        bar_type,
        label,
        fold,
        context_bars=context_bars,
        answer=answer,
        embargo_bars=embargo_bars,
        stride=stride,
        hold_keep_fraction=hold_keep_fraction,
        seed=seed,
        data_info=info,
    )
    if progress is not None:
        progress(dataset.describe())
    return dataset
