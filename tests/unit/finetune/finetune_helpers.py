"""Synthetic fine-tuning datasets for tests (no catalog): random-walk bars, arbitrary labels."""

from __future__ import annotations

import numpy as np

from nautilus_ai.finetune import AnswerSpec, ExampleSet, FineTuneDataset
from nautilus_ai.models.testing import synthetic_bars

NAMES = ("rsi", "ema_gap")
SPEC_HASH = "spec-test"
BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def example_set(
    name: str, n: int, *, seed: int = 0, context_bars: int = 32, first_row: int = 100
) -> ExampleSet:
    table = synthetic_bars(first_row + n + 10, seed=seed)
    rng = np.random.default_rng(seed)
    return ExampleSet(
        name=name,
        instrument_id="EUR/USD.SIM",
        feature_names=NAMES,
        spec_hash=SPEC_HASH,
        bars=table,
        bar_ts=table[:, 0].astype(np.int64),
        rows=np.arange(first_row, first_row + n, dtype=np.int64),
        features=rng.normal(size=(n, len(NAMES))),
        actions=(np.arange(n) % 3).astype(np.int64),
        risks=np.full(n, 0.5),
        context_bars=context_bars,
    )


def synthetic_dataset(
    n_train: int = 8, n_validation: int = 4, *, context_bars: int = 32
) -> FineTuneDataset:
    train = example_set("train", n_train, seed=0, context_bars=context_bars)
    validation = (
        example_set("validation", n_validation, seed=1, context_bars=context_bars)
        if n_validation
        else None
    )
    balance = {"train": train.class_counts()}
    if validation is not None:
        balance["validation"] = validation.class_counts()
    return FineTuneDataset(
        train=train,
        validation=validation,
        feature_spec={"names": list(NAMES)},
        label_spec={"kind": "forward_return", "horizon": 30},
        label_hash="label-test",
        answer_spec=AnswerSpec(),
        bar_type=BAR_TYPE,
        windows={"train": {"start": "2017-01-02T00:00:00Z", "end": "2017-01-03T00:00:00Z"}},
        embargo_bars=30,
        class_balance=balance,
    )
