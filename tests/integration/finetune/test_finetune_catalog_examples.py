"""Examples from the real demo catalog: the training module's labels and splits, the
predictor's own prompt, no look-ahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nautilus_ai.datasets import Fold, Window
from nautilus_ai.features import FeatureSpec
from nautilus_ai.finetune import AnswerSpec, FineTuneDataset
from nautilus_ai.finetune.catalog_examples import examples_from_frame, load_finetune_dataset
from nautilus_ai.labels import LabelSpec, make_labels
from nautilus_ai.models.base import MarketContext
from nautilus_ai.models.prompting import ACTION_CHOICES
from nautilus_ai.models.transformers_backend import TransformersConfig, TransformersPredictor
from nautilus_ai.training import load_training_frame

BID = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"
FOLD = Fold(
    train=Window.parse("2017-01-02", "2017-01-09"),
    validation=Window.parse("2017-01-09", "2017-01-11"),
)
LABEL = LabelSpec(horizon=30, buy_threshold=1.5, sell_threshold=1.5)


@pytest.fixture(scope="module")
def frame(demo_catalog: Path):  # type: ignore[no-untyped-def]
    return load_training_frame(demo_catalog, BID, FeatureSpec(), end_ns=FOLD.validation.end_ns)  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def dataset(demo_catalog: Path) -> FineTuneDataset:
    return load_finetune_dataset(
        demo_catalog, bar_type=BID, fold=FOLD, context_bars=64, label=LABEL
    )


def test_answers_are_the_label_modules_labels(dataset: FineTuneDataset, frame) -> None:  # type: ignore[no-untyped-def]
    labels = make_labels(LABEL, frame.ts, *frame.ohlcv[:, :4].T)
    for split in (dataset.train, dataset.validation):
        assert split is not None and len(split) > 1000
        expected = np.array(["sell", "hold", "buy"])[labels.class_index()[split.rows]]
        got = np.array(ACTION_CHOICES)[split.actions]
        assert (got == expected).all()
        assert labels.valid[split.rows].all()
        np.testing.assert_array_equal(split.features, frame.features[split.rows])
        assert (split.risks == 0.5).all()
    # rows sit in their windows and labels never cross a window's end (purged)
    train_ts = dataset.train.ts
    assert train_ts.min() >= FOLD.train.start_ns and train_ts.max() < FOLD.train.end_ns
    last_label_bar = frame.ts[labels.end_index[dataset.train.rows]].max()
    assert last_label_bar < FOLD.train.end_ns
    validation = dataset.validation
    assert validation is not None
    first_validation = int(np.searchsorted(frame.ts, FOLD.validation.start_ns))  # type: ignore[union-attr]
    assert validation.rows.min() >= first_validation + LABEL.horizon  # embargo
    assert dataset.embargo_bars == LABEL.horizon


def test_class_balance_and_hold_down_sampling(demo_catalog: Path, frame) -> None:  # type: ignore[no-untyped-def]
    full = examples_from_frame(frame, BID, LABEL, FOLD, context_bars=64)
    thinned = examples_from_frame(
        frame, BID, LABEL, FOLD, context_bars=64, hold_keep_fraction=0.2, stride=2, seed=5
    )
    balance = thinned.class_balance
    assert balance["labelled"] == full.class_balance["labelled"] == full.class_balance["train"]
    assert balance["labelled"]["hold"] > balance["labelled"]["buy"] > 0
    assert sum(balance["labelled"].values()) == len(full.train)
    strided = full.train.subset(np.arange(0, len(full.train), 2))
    assert balance["train"]["buy"] == strided.class_counts()["buy"]
    assert balance["train"]["sell"] == strided.class_counts()["sell"]
    assert balance["train"]["hold"] == round(strided.class_counts()["hold"] * 0.2)
    assert balance["validation"] == full.class_balance["validation"]  # never thinned
    assert thinned.selection == {"stride": 2, "hold_keep_fraction": 0.2, "seed": 5}
    assert "train" in thinned.describe() and "hold" in thinned.describe()
    risky = examples_from_frame(frame, BID, LABEL, FOLD, context_bars=64,
                                answer=AnswerSpec(risk="forward_return"))  # fmt: skip
    hold = ACTION_CHOICES.index("hold")
    assert (risky.train.risks[risky.train.actions == hold] == 1.0).all()
    assert (risky.train.risks[risky.train.actions != hold] < 1.0).any()
    with pytest.raises(ValueError, match=r"fold\.test"):
        examples_from_frame(
            frame, BID, LABEL,
            Fold(train=FOLD.train, test=Window.parse("2017-01-09", "2017-01-10")),
            context_bars=64,
        )  # fmt: skip


def test_labels_of_one_class_are_refused(frame) -> None:  # type: ignore[no-untyped-def]
    # `train` refuses it; fine-tuning went on with "hold" as every answer.
    wide = LabelSpec(horizon=30, buy_threshold=1e6, sell_threshold=1e6)
    with pytest.raises(ValueError, match="hold"):
        examples_from_frame(frame, BID, wide, FOLD, context_bars=64)


def test_inputs_do_not_change_when_later_bars_are_dropped(demo_catalog: Path, frame) -> None:  # type: ignore[no-untyped-def]
    """Features and contexts of the training examples only use bars at or before their bar."""
    full = examples_from_frame(frame, BID, LABEL, FOLD, context_bars=64)
    short_frame = load_training_frame(demo_catalog, BID, FeatureSpec(), end_ns=FOLD.train.end_ns)
    short = examples_from_frame(short_frame, BID, LABEL, Fold(train=FOLD.train), context_bars=64)
    np.testing.assert_array_equal(short.train.rows, full.train.rows)
    np.testing.assert_array_equal(short.train.features, full.train.features)
    for i in range(0, len(full.train), 997):
        a, b = full.train.context(i), short.train.context(i)
        assert a == b and a.recent_bars is not None and b.recent_bars is not None
        np.testing.assert_array_equal(a.recent_bars, b.recent_bars)
        assert len(a.recent_bars) == 64 and a.recent_bars[-1, 0] == float(a.ts_event)


def test_the_prompt_is_the_one_served_in_a_backtest(
    dataset: FineTuneDataset,
    frame,
    tiny_vlm_dir: Path,  # type: ignore[no-untyped-def]
) -> None:
    """The example's prompt equals the one the predictor builds from the context the backtest
    path (nautilus_ai.backtest.precompute) hands it for the same bar."""
    from nautilus_trader.model.data import BarType

    predictor = TransformersPredictor(
        TransformersConfig(model_dir=tiny_vlm_dir, chart_bars=64, prompt_bars=16)
    )
    table = np.column_stack([frame.ts.astype(np.float64), frame.ohlcv])
    spec = FeatureSpec()
    for i in (0, len(dataset.train) // 2, len(dataset.train) - 1):
        t = int(dataset.train.rows[i])
        served = MarketContext(
            instrument_id=str(BarType.from_str(BID).instrument_id),
            ts_event=int(frame.ts[t]),
            feature_names=tuple(spec.names),
            spec_hash=spec.hash,
            recent_bars=table[max(0, t + 1 - 64) : t + 1],
        )
        example = dataset.train.context(i)
        assert example == served
        assert predictor.render_prompt(dataset.train.features[i], example) == (
            predictor.render_prompt(frame.features[t], served)
        )
    predictor.close()


def test_a_validation_window_without_usable_rows_is_refused(frame) -> None:  # type: ignore[no-untyped-def]
    # A validation window with no labelled rows (a weekend; or shorter than the embargo and the
    # label horizon) gave 0 examples and the run reported no validation at all, with exit 0.
    weekend = Fold(
        train=Window.parse("2017-01-02", "2017-01-07"),
        validation=Window.parse("2017-01-07", "2017-01-08"),
    )
    with pytest.raises(ValueError, match=r"no usable validation rows in .*2017-01-07.*embargo"):
        examples_from_frame(frame, BID, LABEL, weekend, context_bars=64)


def test_thinning_that_leaves_one_class_is_refused(frame) -> None:  # type: ignore[no-untyped-def]
    # The labelled rows had three classes (check_trainable passed); --stride 1000000 left one
    # example of one class and the adapter was trained on it and stored, exit 0.
    with pytest.raises(ValueError, match=r"--stride 1000000 / --hold-keep 1 leave 1 of \d+ "
                       r"training examples .*one class.*lower --stride"):  # fmt: skip
        examples_from_frame(frame, BID, LABEL, FOLD, context_bars=64, stride=1_000_000)
