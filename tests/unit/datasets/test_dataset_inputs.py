"""build_dataset refuses inputs that would cut wrong splits without a word: precomputed labels
of other bars or another label definition, bars out of time order, a fractional embargo."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nautilus_ai.datasets import Fold, Window, build_dataset, to_ns
from nautilus_ai.labels import LabelSpec, make_labels

MINUTE = 60_000_000_000
T0 = 1_483_228_800_000_000_000  # 2017-01-01T00:00:00Z
N = 2_000
SPEC = LabelSpec(horizon=5, unit="pips")


def bars() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ts = T0 + np.arange(N, dtype=np.int64) * MINUTE
    close = 1.05 + np.cumsum(rng.normal(0, 1e-4, N))
    ohlc = np.column_stack([close, close + 1e-4, close - 1e-4, close])
    return ts, ohlc, rng.normal(size=(N, 2))


FOLD = Fold(
    train=Window(T0, T0 + 1_000 * MINUTE), test=Window(T0 + 1_000 * MINUTE, T0 + N * MINUTE)
)


def test_labels_made_with_another_horizon_are_refused() -> None:
    """Labels of horizon 5 passed with a LabelSpec of horizon 50 were used as they were: the
    dataset (and the model card built from it) said horizon 50 and embargoed 50 bars."""
    ts, ohlc, features = bars()
    labels = make_labels(SPEC, ts, *ohlc.T)
    other = LabelSpec(horizon=50, unit="pips")
    with pytest.raises(ValueError, match=r"^labels: made with a horizon of 5 rows, not 50"):
        build_dataset(ts, features, ["a", "b"], ohlc, other, FOLD, labels=labels)


def test_labels_of_other_bars_are_refused_naming_the_lengths() -> None:
    ts, ohlc, features = bars()
    labels = make_labels(SPEC, ts[:1_500], *ohlc[:1_500].T)
    with pytest.raises(ValueError, match=r"^labels: 1500 rows, the bars 2000$"):
        build_dataset(ts, features, ["a", "b"], ohlc, SPEC, FOLD, labels=labels)


def test_bars_out_of_time_order_are_refused_with_precomputed_labels() -> None:
    """With labels given, bars out of order were cut into windows by a binary search that
    assumes order: rows landed in the wrong split without a word."""
    ts, ohlc, features = bars()
    labels = make_labels(SPEC, ts, *ohlc.T)
    swapped = ts.copy()
    swapped[[10, 1_500]] = swapped[[1_500, 10]]
    with pytest.raises(ValueError, match=r"^ts must be strictly increasing; row 11 is not$"):
        build_dataset(swapped, features, ["a", "b"], ohlc, SPEC, FOLD, labels=labels)


def test_a_fractional_embargo_is_refused() -> None:
    ts, ohlc, features = bars()
    with pytest.raises(ValueError, match=r"^embargo_bars must be an int"):
        build_dataset(ts, features, ["a", "b"], ohlc, SPEC, FOLD, embargo_bars=7.5)  # type: ignore[arg-type]


def test_walk_forward_folds_refuse_a_step_shorter_than_the_test_window() -> None:
    """The docstring promised test windows that tile the period and the experiment file refuses
    walk_forward.step < test, but the function itself returned overlapping test windows (every
    bar of a 5-day test in up to three folds with a 2-day step)."""
    from datetime import timedelta

    from nautilus_ai.datasets import walk_forward_folds

    day = timedelta(days=1)
    with pytest.raises(ValueError, match=r"^step \(2 days\) must be >= test \(5 days\).*overlap"):
        walk_forward_folds("2017-01-01", "2017-03-01", train=10 * day, test=5 * day, step=2 * day)
    folds = walk_forward_folds("2017-01-01", "2017-03-01", train=10 * day, test=5 * day,
                               step=7 * day)  # fmt: skip
    tests = [fold.test for fold in folds]
    assert all(a.end_ns <= b.start_ns for a, b in itertools.pairwise(tests))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("start", "end", "shown"),
    [
        ("2017-05-01", "9999-12-31", "9999-12-31T00:00:00+00:00"),  # "no end"
        ("1500-01-01", "2017-01-01", "1500-01-01T00:00:00+00:00"),
    ],
)
def test_a_window_outside_the_ns_clock_is_named(start: str, end: str, shown: str) -> None:
    # `train --test 2017-05-01 9999-12-31` stopped with "OverflowError: int too big to
    # convert", naming neither the flag nor the date
    message = f"{shown} is outside the times a nanosecond clock holds (1677-09-21 .. 2262-04-11"
    with pytest.raises(ValueError, match=message.replace("+", r"\+").replace("(", r"\(")):
        Window.parse(start, end)
    with pytest.raises(ValueError, match="outside the times a nanosecond clock holds"):
        Window(T0, 2**64)
    with pytest.raises(TypeError, match=r"Window.end_ns: expected an int \(UTC ns\), got 1.5"):
        Window(T0, 1.5)  # type: ignore[arg-type]
    assert to_ns("2262-04-11") == 9_223_286_400_000_000_000


def test_walk_forward_folds_refuse_a_unit_mistake() -> None:
    # `test=30` meaning 30 days is 30 ns: listing the 10**14 folds of a month never ended (and
    # ate the memory); a float was cut to whole ns without a word
    from datetime import timedelta

    from nautilus_ai.datasets import walk_forward_folds

    with pytest.raises(ValueError, match=r"^2,592,000,000,000,000 folds \(more than 100,000\)"):
        walk_forward_folds("2017-01-01", "2017-02-01", train=timedelta(days=1), test=1)
    with pytest.raises(ValueError, match=r"train must be a timedelta or an int of ns, got 1.5"):
        walk_forward_folds(
            "2017-01-01",
            "2017-02-01",
            train=1.5,  # type: ignore[arg-type]
            test=timedelta(days=1),
        )
    folds = walk_forward_folds(
        "2017-01-01", "2017-02-01", train=timedelta(days=1), test=timedelta(hours=1)
    )
    assert len(folds) == 30 * 24  # many short folds are still fine
