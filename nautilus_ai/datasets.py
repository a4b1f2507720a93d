"""Labelled datasets with walk-forward splits, embargo and train-window-only normalisation.

>>> from nautilus_ai.datasets import Fold, Window, build_dataset
>>> fold = Fold(train=Window.parse("2017-01-01", "2017-04-10"),
...             validation=Window.parse("2017-04-10", "2017-05-01"),
...             test=Window.parse("2017-05-01", "2017-07-01"))
>>> data = build_dataset(ts, features, spec.names, ohlc, LabelSpec(), fold)
>>> data.train.features, data.train.y, data.class_balance(), data.norm.mean

Leakage rules (each one tested in ``tests/unit/datasets``)
----------------------------------------------------------
* A row ``t`` belongs to window ``[start, end)`` when ``start <= ts[t] < end`` **and** the last
  bar its label uses (``labels.end_index[t]``) is also before ``end``: a label never looks
  across a split boundary (rows whose horizon crosses it are dropped: "purging").
* Every window after the first of a fold skips its first ``embargo_bars`` bars (default: the
  label horizon, and never less), so the gap between the last bar any earlier row's label saw
  and the first row of the next window is more than ``embargo_bars`` bars.
* Features at ``t`` use bars ``<= t`` (the feature engine's contract), so a training row never
  depends on a bar at or after the training window's end.
* Normalisation statistics (:class:`ZScoreNorm`) are fitted on an explicit window, the training
  window, and only applied to the others.
* Rows whose feature vector is not complete (NaN: the engine not warm yet) are dropped.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from numpy.typing import ArrayLike, NDArray

from nautilus_ai.labels import CLASSES, Labels, LabelSpec, make_labels
from nautilus_ai.timefmt import MAX_NS, utc_seconds

if TYPE_CHECKING:
    import torch.utils.data

__all__ = [
    "Dataset",
    "Fold",
    "SplitData",
    "Window",
    "ZScoreNorm",
    "build_dataset",
    "check_trainable",
    "rows_in_window",
    "walk_forward_folds",
]

NS_PER_SECOND = 1_000_000_000


@dataclass(frozen=True, order=True)
class Window:
    """A half-open UTC time window ``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        for name in ("start_ns", "end_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise TypeError(f"Window.{name}: expected an int (UTC ns), got {value!r}")
            object.__setattr__(self, name, to_ns(int(value)))
        if not self.start_ns < self.end_ns:
            raise ValueError(
                f"Window: start ({utc_seconds(self.start_ns)}) must be before end "
                f"({utc_seconds(self.end_ns)})"
            )

    @classmethod
    def parse(cls, start: str | datetime, end: str | datetime) -> Window:
        """From ISO dates / datetimes (naive values are UTC)."""
        return cls(to_ns(start), to_ns(end))

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ns / NS_PER_SECOND, UTC)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_ns / NS_PER_SECOND, UTC)

    def __str__(self) -> str:
        return f"[{utc_seconds(self.start_ns)}, {utc_seconds(self.end_ns)})"

    def to_dict(self) -> dict[str, str]:
        return {"start": utc_seconds(self.start_ns), "end": utc_seconds(self.end_ns)}


def to_ns(value: str | datetime | int) -> int:
    """ISO string, datetime (naive = UTC) or int ns -> UTC ns.

    A time an int64 nanosecond clock cannot hold (``9999-12-31`` as "no end") is a
    ``ValueError`` naming it, not an overflow far from the input.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return _in_ns_range(value, value)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"not an ISO date / datetime: {value!r}") from None
    if not isinstance(value, datetime):
        raise TypeError(f"expected an ISO string, datetime or int ns, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    ns = (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000
    return _in_ns_range(ns, value)


def _in_ns_range(ns: int, given: object) -> int:
    if not -MAX_NS <= ns <= MAX_NS:  # what an int64 ns clock holds: 1677-09-21 .. 2262-04-11
        shown = given.isoformat() if isinstance(given, datetime) else repr(given)
        raise ValueError(
            f"{shown} is outside the times a nanosecond clock holds (1677-09-21 .. 2262-04-11 UTC)"
        )
    return ns


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: train, optional validation (early stopping, calibration) and
    optional test (the out-of-sample evaluation), in time order and not overlapping."""

    train: Window
    validation: Window | None = None
    test: Window | None = None
    index: int = 0

    def __post_init__(self) -> None:
        windows = self.windows()
        for (name_a, a), (name_b, b) in itertools.pairwise(windows):
            if b.start_ns < a.end_ns:
                raise ValueError(f"Fold {self.index}: {name_b} {b} starts before {name_a} {a} ends")

    def windows(self) -> list[tuple[str, Window]]:
        """``(name, window)`` of the windows present, in time order."""
        out = [("train", self.train)]
        if self.validation is not None:
            out.append(("validation", self.validation))
        if self.test is not None:
            out.append(("test", self.test))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {name: window.to_dict() for name, window in self.windows()}


#: More folds than this is a unit mistake (``test=30`` is 30 ns, not 30 days): each fold trains
#: a model, and listing 10**14 of them never ended.
MAX_FOLDS = 100_000


def _duration_ns(value: timedelta | int, what: str) -> int:
    if isinstance(value, timedelta):
        ns = int(value.total_seconds() * NS_PER_SECOND)
    elif isinstance(value, int | np.integer) and not isinstance(value, bool):
        ns = int(value)
    else:  # a float was cut to whole ns without a word (1.5 -> 1 ns)
        raise ValueError(f"{what} must be a timedelta or an int of ns, got {value!r}")
    if ns <= 0:
        raise ValueError(f"{what} must be a positive duration, got {value!r}")
    return ns


def walk_forward_folds(
    start: str | datetime | int,
    end: str | datetime | int,
    *,
    train: timedelta | int,
    test: timedelta | int,
    validation: timedelta | int | None = None,
    step: timedelta | int | None = None,
    anchored: bool = False,
) -> list[Fold]:
    """Consecutive folds over ``[start, end)``: train, then validation, then test windows.

    Each fold moves forward by ``step`` (default: the test length), so test windows tile the
    period without overlap (a ``step`` shorter than ``test`` is refused). ``anchored=True``
    keeps every training window starting at ``start`` (expanding); otherwise it rolls with a
    fixed length. Durations are ``timedelta`` or int ns. Folds whose test window would pass
    ``end`` are not produced.
    """
    start_ns, end_ns = to_ns(start), to_ns(end)
    train_ns = _duration_ns(train, "train")
    test_ns = _duration_ns(test, "test")
    val_ns = _duration_ns(validation, "validation") if validation is not None else 0
    step_ns = _duration_ns(step, "step") if step is not None else test_ns
    if step_ns < test_ns:  # as the experiment file refuses walk_forward.step < test
        raise ValueError(
            f"step ({step_ns / NS_PER_SECOND / 86_400:g} days) must be >= test "
            f"({test_ns / NS_PER_SECOND / 86_400:g} days): a shorter step makes the test windows "
            "overlap, and a result stitched over them would count the overlap twice"
        )
    room = end_ns - start_ns - train_ns - val_ns - test_ns
    count = room // step_ns + 1 if room >= 0 else 0
    if count > MAX_FOLDS:
        raise ValueError(
            f"{count:,} folds (more than {MAX_FOLDS:,}): a step of "
            f"{step_ns / NS_PER_SECOND:g} s over [{utc_seconds(start_ns)}, {utc_seconds(end_ns)}) "
            "is a unit mistake (durations are timedelta or int ns)"
        )
    folds: list[Fold] = []
    offset = 0
    while True:
        train_start = start_ns if anchored else start_ns + offset
        train_end = start_ns + offset + train_ns
        val_end = train_end + val_ns
        test_end = val_end + test_ns
        if test_end > end_ns:
            break
        folds.append(
            Fold(
                train=Window(train_start, train_end),
                validation=Window(train_end, val_end) if val_ns else None,
                test=Window(val_end, test_end),
                index=len(folds),
            )
        )
        offset += step_ns
    if not folds:
        raise ValueError(
            f"no fold fits in [{utc_seconds(start_ns)}, {utc_seconds(end_ns)}): "
            "train + validation + test is "
            f"{(train_ns + val_ns + test_ns) / NS_PER_SECOND / 86_400:.1f} days"
        )
    return folds


def rows_in_window(
    ts: NDArray[np.int64],
    end_index: NDArray[np.int64],
    usable: NDArray[np.bool_],
    window: Window,
    *,
    embargo_bars: int = 0,
) -> NDArray[np.int64]:
    """Row indices of ``window``: ``start <= ts < end``, not in the first ``embargo_bars`` bars
    of the window, ``usable`` (label valid, features complete) and a label horizon ending
    inside the window (``end_index < first row at or after end``)."""
    if embargo_bars < 0:
        raise ValueError(f"embargo_bars must be >= 0, got {embargo_bars}")
    first = int(np.searchsorted(ts, window.start_ns, side="left"))
    stop = int(np.searchsorted(ts, window.end_ns, side="left"))
    rows = np.arange(first + embargo_bars, stop, dtype=np.int64)
    if rows.size == 0:
        return rows
    ends = end_index[rows]
    return rows[usable[rows] & (ends >= 0) & (ends < stop)]


@dataclass(frozen=True)
class ZScoreNorm:
    """Per-feature ``(x - mean) / std`` whose statistics come from an explicit fit window.

    Build with :meth:`fit`. Constant features (std 0, e.g. ``warm``) get ``std = 1``.
    """

    fit_window: Window
    mean: NDArray[np.float64] = field(repr=False)
    std: NDArray[np.float64] = field(repr=False)

    @classmethod
    def fit(
        cls, ts: NDArray[np.int64], features: NDArray[np.float64], fit_window: Window
    ) -> ZScoreNorm:
        """Statistics of the rows of ``features`` with ``ts`` in ``fit_window`` only."""
        inside = (ts >= fit_window.start_ns) & (ts < fit_window.end_ns)
        if not inside.any():
            raise ValueError(f"ZScoreNorm.fit: no rows in the fit window {fit_window}")
        x = features[inside]
        if not np.isfinite(x).all():
            raise ValueError("ZScoreNorm.fit: features in the fit window must be finite")
        mean = x.mean(axis=0)
        std = x.std(axis=0)
        flat = ~(std > 1e-12 * np.maximum(1.0, np.abs(mean)))
        std = np.where(flat, 1.0, std)
        return cls(fit_window, mean, std)

    def transform(self, features: NDArray[np.float64]) -> NDArray[np.float64]:
        """A new standardised array."""
        out: NDArray[np.float64] = (features - self.mean) / self.std
        return out


@dataclass(frozen=True)
class SplitData:
    """The rows of one window: raw features, class index labels and forward returns."""

    name: str
    window: Window
    rows: NDArray[np.int64] = field(repr=False)
    ts: NDArray[np.int64] = field(repr=False)
    features: NDArray[np.float64] = field(repr=False)
    y: NDArray[np.int64] = field(repr=False)
    forward_return: NDArray[np.float64] = field(repr=False)

    def __len__(self) -> int:
        return int(self.rows.size)

    def class_counts(self) -> dict[str, int]:
        """Rows per class (:data:`~nautilus_ai.labels.CLASSES` order)."""
        counts = np.bincount(self.y, minlength=len(CLASSES))
        return {name: int(counts[i]) for i, name in enumerate(CLASSES)}

    def to_arrow(self, feature_names: Sequence[str]) -> pa.Table:
        """``ts_event``, one column per feature, ``label`` (class name) and ``forward_return``."""
        columns: dict[str, Any] = {"ts_event": pa.array(self.ts, pa.int64())}
        for j, name in enumerate(feature_names):
            columns[name] = pa.array(self.features[:, j])
        labels = pa.DictionaryArray.from_arrays(
            pa.array(self.y.astype(np.int32)), pa.array(list(CLASSES))
        )
        columns["label"] = labels.cast(pa.string())
        columns["forward_return"] = pa.array(self.forward_return)
        return pa.table(columns)

    def to_torch(self, dtype: str = "float32") -> torch.utils.data.TensorDataset:
        """A ``TensorDataset(features, y)`` (raw features: the model standardises its input)."""
        import torch

        torch_dtype = {"float32": torch.float32, "float64": torch.float64}[dtype]
        return torch.utils.data.TensorDataset(
            torch.as_tensor(self.features, dtype=torch_dtype), torch.as_tensor(self.y)
        )


@dataclass(frozen=True)
class Dataset:
    """One fold's labelled splits and the normalisation fitted on its training window."""

    feature_names: tuple[str, ...]
    spec_hash: str
    label_spec: LabelSpec
    fold: Fold
    embargo_bars: int
    train: SplitData
    validation: SplitData | None
    test: SplitData | None
    norm: ZScoreNorm
    #: What one row is, and so what the label's horizon and the embargo count.
    row_unit: str = "bars"

    def splits(self) -> list[SplitData]:
        return [s for s in (self.train, self.validation, self.test) if s is not None]

    def class_balance(self) -> dict[str, dict[str, float]]:
        """Per split: rows per class and each class's share."""
        out: dict[str, dict[str, float]] = {}
        for split in self.splits():
            counts = split.class_counts()
            total = max(1, len(split))
            out[split.name] = {
                **{name: float(count) for name, count in counts.items()},
                **{f"{name}_share": count / total for name, count in counts.items()},
            }
        return out

    def describe(self) -> str:
        """A few lines for the terminal: windows, rows and class balance per split."""
        unit = self.row_unit
        lines = [f"label: {self.label_spec.describe(unit)} (embargo {self.embargo_bars} {unit})"]
        for split in self.splits():
            counts = split.class_counts()
            total = max(1, len(split))
            shares = "  ".join(f"{k} {100 * v / total:4.1f}%" for k, v in counts.items())
            lines.append(f"  {split.name:<10} {split.window}  {len(split):>8,} rows  {shares}")
        return "\n".join(lines)

    def to_arrow(self) -> pa.Table:
        """Every split in one table with a ``split`` column."""
        tables = []
        for split in self.splits():
            table = split.to_arrow(self.feature_names)
            tables.append(table.append_column("split", pa.array([split.name] * len(split))))
        return pa.concat_tables(tables)


def check_trainable(dataset: Dataset, ts: ArrayLike) -> None:
    """Refuse a dataset a model cannot be trained and judged on: a validation or test window
    that was given but holds no usable row, or training or validation labels of one class
    only.

    An empty validation would store a model without early stopping, calibration and a chosen
    ``min_confidence``, an empty test one without any out-of-sample figure, as if the window
    had been left out; labels of one class (thresholds too wide for the data) leave nothing to
    learn.

    Raises
    ------
    ValueError
        Naming the window, how many bars it holds and what the embargo / horizon need, or the
        one class and the thresholds.
    """
    ts_arr = np.asarray(ts, dtype=np.int64)
    unit = dataset.row_unit
    label = dataset.label_spec
    for split in dataset.splits():
        if len(split):
            continue
        window = split.window
        first, stop = np.searchsorted(ts_arr, [window.start_ns, window.end_ns], side="left")
        raise ValueError(
            f"no usable {split.name} rows in {window}: it holds {int(stop - first)} {unit}, "
            f"the first {dataset.embargo_bars} are embargoed and each row's label needs the "
            f"next {label.horizon} {unit} inside the window; widen or move the {split.name} "
            "window"
        )
    present = [name for name, count in dataset.train.class_counts().items() if count]
    if len(present) < 2:
        raise ValueError(
            f"every training label is {present[0]!r} ({len(dataset.train):,} rows in "
            f"{dataset.train.window}): nothing to learn; {label.describe(unit)} is never met "
            "otherwise (lower the buy / sell thresholds or widen the training window)"
        )
    validation = dataset.validation
    if validation is not None:
        seen = [name for name, count in validation.class_counts().items() if count]
        if len(seen) < 2:
            # Early stopping, the temperature and the suggested min_confidence are all chosen
            # on validation: on one class they pick whatever scores best at never trading.
            raise ValueError(
                f"every validation label is {seen[0]!r} ({len(validation):,} rows in "
                f"{validation.window}): early stopping, calibration and the suggested "
                f"min_confidence would be chosen where {label.describe(unit)} is never met "
                "otherwise (widen or move the validation window, or lower the buy / sell "
                "thresholds)"
            )


def _check_given_labels(labels: Labels, label_spec: LabelSpec, ts: NDArray[np.int64]) -> None:
    """Precomputed labels must be of these bars (length, time order) and of ``label_spec``'s
    horizon: the dataset, its embargo and the model card say that horizon."""
    n = ts.shape[0]
    if labels.end_index.shape != (n,) or labels.valid.shape != (n,):
        raise ValueError(f"labels: {labels.end_index.shape[0]} rows, the bars {n}")
    if n > 1 and (np.diff(ts) <= 0).any():
        row = int(np.flatnonzero(np.diff(ts) <= 0)[0]) + 1
        raise ValueError(f"ts must be strictly increasing; row {row} is not")
    rows = np.flatnonzero(labels.valid)
    horizons = labels.end_index[rows] - rows
    wrong = np.flatnonzero(horizons != label_spec.horizon)
    if wrong.size:
        raise ValueError(
            f"labels: made with a horizon of {int(horizons[wrong[0]])} rows, not "
            f"{label_spec.horizon} (label_spec); make them with the same LabelSpec"
        )


def build_dataset(
    ts: ArrayLike,
    features: NDArray[np.float64],
    feature_names: Sequence[str],
    ohlc: NDArray[np.float64],
    label_spec: LabelSpec,
    fold: Fold,
    *,
    embargo_bars: int | None = None,
    spec_hash: str = "",
    labels: Labels | None = None,
    row_unit: str = "bars",
) -> Dataset:
    """Label the bars and cut one fold's splits (see the module docstring for the rules).

    Parameters
    ----------
    ts : array of int64
        Bar close times, strictly increasing (the accepted bars).
    features : ndarray, shape (n, k)
        Feature rows for those bars (NaN rows are dropped).
    feature_names : sequence of str
        ``k`` names.
    ohlc : ndarray, shape (n, >= 4)
        Open, high, low, close of the same bars (a fifth volume column is ignored).
    label_spec : LabelSpec
    fold : Fold
    embargo_bars : int, optional
        Bars skipped at the start of the validation and test windows; default and minimum:
        ``label_spec.horizon``.
    spec_hash : str
        The feature spec hash (carried into the dataset and the model card).
    labels : Labels, optional
        Precomputed labels of the same bars (``make_labels`` otherwise).
    row_unit : str
        What a row is (``"decision ticks"`` for a tick series), for the label's text.
    """
    ts_arr = np.asarray(ts, dtype=np.int64)
    n = ts_arr.shape[0]
    if features.shape != (n, len(feature_names)):
        raise ValueError(
            f"features must have shape ({n}, {len(feature_names)}), got {features.shape}"
        )
    if ohlc.ndim != 2 or ohlc.shape[0] != n or ohlc.shape[1] < 4:
        raise ValueError(f"ohlc must have shape ({n}, 4 or 5), got {ohlc.shape}")
    if embargo_bars is not None and (
        isinstance(embargo_bars, bool) or not isinstance(embargo_bars, int | np.integer)
    ):
        raise ValueError(f"embargo_bars must be an int or None, got {embargo_bars!r}")
    embargo = label_spec.horizon if embargo_bars is None else int(embargo_bars)
    if embargo < label_spec.horizon:
        raise ValueError(
            f"embargo_bars ({embargo}) must be >= the label horizon ({label_spec.horizon})"
        )
    if labels is None:
        labels = make_labels(label_spec, ts_arr, ohlc[:, 0], ohlc[:, 1], ohlc[:, 2], ohlc[:, 3])
    else:  # make_labels checks the order itself; splits are cut by binary search on it
        _check_given_labels(labels, label_spec, ts_arr)
    usable = labels.valid & np.isfinite(features).all(axis=1)
    y_all = labels.class_index()
    splits: dict[str, SplitData] = {}
    for position, (name, window) in enumerate(fold.windows()):
        rows = rows_in_window(
            ts_arr, labels.end_index, usable, window, embargo_bars=embargo if position else 0
        )
        splits[name] = SplitData(
            name=name,
            window=window,
            rows=rows,
            ts=ts_arr[rows],
            features=features[rows],
            y=y_all[rows],
            forward_return=labels.forward_return[rows],
        )
    train = splits["train"]
    if len(train) == 0:
        raise ValueError(f"no usable training rows in {fold.train}")
    norm = ZScoreNorm.fit(train.ts, train.features, fold.train)
    return Dataset(
        feature_names=tuple(feature_names),
        spec_hash=spec_hash,
        label_spec=label_spec,
        fold=fold,
        embargo_bars=embargo,
        train=train,
        validation=splits.get("validation"),
        test=splits.get("test"),
        row_unit=row_unit,
        norm=norm,
    )
