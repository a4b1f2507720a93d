"""Supervised fine-tuning examples: what the predictor is shown at a bar, and what to answer.

Example ``i`` is one labelled decision bar ``t``:

* the **input** is exactly what :class:`~nautilus_ai.models.TransformersPredictor` is shown at the
  close of bar ``t`` in a backtest or live: the feature vector at ``t`` and the last
  ``context_bars`` accepted bars up to and including ``t`` (the strategy's
  ``MarketContext.recent_bars``), which the predictor turns into its prompt text and, for
  image-text models, a chart. Nothing here formats a prompt: the predictor's own request builder
  does (:meth:`~nautilus_ai.models.TransformersPredictor.encode_rows`), so training and inference
  share one definition;
* the **answer** is the label at ``t`` (from :mod:`nautilus_ai.labels`, through the walk-forward
  splits of :mod:`nautilus_ai.datasets`) written as the JSON object the predictor parses
  (:class:`~nautilus_ai.models.prompting.ActionAnswer`): ``{"action": "buy", "risk": 0.5}``.

No look-ahead: the context slice ends at row ``t`` and features at ``t`` use bars ``<= t``; only
the answer depends on later bars, as a label must.

Examples are lazy: the arrays are kept and each example's context is built when it is encoded,
so a split of 100k bars costs its feature matrix, not 100k rendered charts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.models.base import MarketContext
from nautilus_ai.models.prompting import ACTION_CHOICES, ANSWER_PREFIX, ActionAnswer

__all__ = [
    "AnswerSpec",
    "ExampleSet",
    "FineTuneDataset",
    "answer_continuation",
    "answer_text",
    "instrument_of_bar_type",
    "select_rows",
]


@dataclass(frozen=True)
class AnswerSpec:
    """How a label becomes the JSON answer.

    The label is an action only; :class:`ActionAnswer` also has a ``risk`` in [0, 1]. With
    ``risk="fixed"`` every answer carries ``fixed_risk`` (the model learns the format and the
    action; in ``answer_mode="json"`` its risk is then uninformative). With
    ``risk="forward_return"`` a buy / sell answer carries
    ``1 - clip(edge / (2 * threshold), 0, 1)`` where ``edge`` is the label's gross forward return
    (in label units) in the label's direction and ``threshold`` that side's label threshold, and
    a hold carries 1 (do not trade): strong follow-through teaches low risk.

    Parameters
    ----------
    risk : {"fixed", "forward_return"}
    fixed_risk : float
        In [0, 1].
    decimals : int
        Risk values are rounded to this many decimals (short answers, few tokens).
    """

    risk: Literal["fixed", "forward_return"] = "fixed"
    fixed_risk: float = 0.5
    decimals: int = 2

    def __post_init__(self) -> None:
        if self.risk not in ("fixed", "forward_return"):
            raise ValueError(
                f"AnswerSpec.risk: expected 'fixed' or 'forward_return', got {self.risk!r}"
            )
        if not (isinstance(self.fixed_risk, int | float) and 0.0 <= self.fixed_risk <= 1.0):
            raise ValueError(
                f"AnswerSpec.fixed_risk: expected a number in [0, 1], got {self.fixed_risk!r}"
            )
        if not (isinstance(self.decimals, int) and 0 <= self.decimals <= 4):
            raise ValueError(f"AnswerSpec.decimals: expected an int in 0..4, got {self.decimals!r}")

    def risks(
        self,
        actions: NDArray[np.int64],
        forward_return: NDArray[np.float64],
        buy_threshold: float,
        sell_threshold: float,
    ) -> NDArray[np.float64]:
        """Risk of each answer; ``actions`` index :data:`ACTION_CHOICES`."""
        n = actions.shape[0]
        if self.risk == "fixed":
            return np.full(n, round(float(self.fixed_risk), self.decimals))
        buy, sell = ACTION_CHOICES.index("buy"), ACTION_CHOICES.index("sell")
        direction = np.where(actions == buy, 1.0, np.where(actions == sell, -1.0, 0.0))
        threshold = np.where(actions == buy, buy_threshold, sell_threshold)
        with np.errstate(invalid="ignore", divide="ignore"):
            strength = np.clip(direction * forward_return / (2.0 * threshold), 0.0, 1.0)
        strength = np.where(np.isfinite(strength), strength, 0.0)
        risk: NDArray[np.float64] = np.where(direction == 0.0, 1.0, 1.0 - strength)
        return np.round(risk, self.decimals)

    def to_dict(self) -> dict[str, Any]:
        return {"risk": self.risk, "fixed_risk": self.fixed_risk, "decimals": self.decimals}


def answer_text(answer: ActionAnswer) -> str:
    """The whole answer as the predictor reads it: ``{"action": "buy", "risk": 0.5}``.

    It starts with :data:`ANSWER_PREFIX` (the predictor writes that part into the prompt) and
    :func:`~nautilus_ai.models.prompting.parse_answer` reads it back to ``answer``.
    """
    text = json.dumps({"action": answer.action, "risk": answer.risk})
    if not text.startswith(ANSWER_PREFIX):  # pragma: no cover - guards a prompting change
        raise RuntimeError(f"answer {text!r} does not start with ANSWER_PREFIX {ANSWER_PREFIX!r}")
    return text


def answer_continuation(answer: ActionAnswer) -> tuple[str, str]:
    """``(action word, rest)``: what follows :data:`ANSWER_PREFIX` in :func:`answer_text`.

    The action word is tokenized on its own, exactly as restricted scoring scores it; ``rest`` is
    ``", "risk": 0.5}``.
    """
    tail = answer_text(answer)[len(ANSWER_PREFIX) :]
    return answer.action, tail[len(answer.action) :]


def instrument_of_bar_type(bar_type: str) -> str:
    """``"EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"`` -> ``"EUR/USD.SIM"`` (what the strategy passes)."""
    parts = bar_type.rsplit("-", 4)
    if len(parts) != 5 or not parts[0]:
        raise ValueError(
            f"bar type {bar_type!r} is not INSTRUMENT-STEP-AGGREGATION-PRICE-SOURCE "
            "(e.g. EUR/USD.SIM-1-MINUTE-BID-EXTERNAL)"
        )
    return parts[0]


@dataclass(frozen=True)
class ExampleSet:
    """The examples of one split (lazy; see the module docstring).

    Parameters
    ----------
    name : str
        Split name (``train``, ``validation``).
    instrument_id : str
        ``MarketContext.instrument_id`` (as the strategy sets it).
    feature_names : tuple of str
    spec_hash : str
        The feature spec's hash (``MarketContext.spec_hash``).
    bars : ndarray, shape (m, 6)
        The accepted bars of the whole series in the ``MarketContext.recent_bars`` layout,
        ``ts_event_ns, open, high, low, close, volume`` as float64 (shared, not copied).
    bar_ts : ndarray of int64, shape (m,)
        The same bars' exact close times (float64 cannot hold every ns timestamp).
    rows : ndarray of int64, shape (n,)
        Each example's decision bar (row of ``bars``), increasing.
    features : ndarray, shape (n, k)
        Feature vector of each decision bar (finite).
    actions : ndarray of int64, shape (n,)
        Answer action, index into :data:`ACTION_CHOICES` (``buy``, ``sell``, ``hold``).
    risks : ndarray of float64, shape (n,)
        Answer risk in [0, 1].
    context_bars : int
        Bars handed to the predictor: ``bars[max(0, t + 1 - context_bars) : t + 1]``.
    """

    name: str
    instrument_id: str
    feature_names: tuple[str, ...]
    spec_hash: str
    bars: NDArray[np.float64] = field(repr=False)
    bar_ts: NDArray[np.int64] = field(repr=False)
    rows: NDArray[np.int64] = field(repr=False)
    features: NDArray[np.float64] = field(repr=False)
    actions: NDArray[np.int64] = field(repr=False)
    risks: NDArray[np.float64] = field(repr=False)
    context_bars: int = 64

    def __post_init__(self) -> None:
        n = self.rows.shape[0]
        where = f"ExampleSet {self.name!r}"
        if self.bars.ndim != 2 or self.bars.shape[1] != 6:
            raise ValueError(f"{where}: bars must have shape (m, 6), got {self.bars.shape}")
        if self.bar_ts.shape != (self.bars.shape[0],):
            raise ValueError(f"{where}: bar_ts must have shape ({self.bars.shape[0]},)")
        if self.rows.ndim != 1 or (
            n and (self.rows.min() < 0 or self.rows.max() >= len(self.bars))
        ):
            raise ValueError(f"{where}: rows must be 1-d indices into bars")
        if n > 1 and (np.diff(self.rows) <= 0).any():
            raise ValueError(f"{where}: rows must be strictly increasing")
        if self.features.shape != (n, len(self.feature_names)):
            raise ValueError(
                f"{where}: features must have shape ({n}, {len(self.feature_names)}), "
                f"got {self.features.shape}"
            )
        if not np.isfinite(self.features).all():
            raise ValueError(f"{where}: features must be finite (drop rows that are not warm)")
        if self.actions.shape != (n,) or (n and not np.isin(self.actions, (0, 1, 2)).all()):
            raise ValueError(f"{where}: actions must be {n} indices into {ACTION_CHOICES}")
        if self.risks.shape != (n,) or (n and not ((self.risks >= 0) & (self.risks <= 1)).all()):
            raise ValueError(f"{where}: risks must be {n} values in [0, 1]")
        if not (isinstance(self.context_bars, int) and self.context_bars >= 1):
            raise ValueError(
                f"{where}: context_bars must be an int >= 1, got {self.context_bars!r}"
            )

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @property
    def ts(self) -> NDArray[np.int64]:
        """Decision bar close times (ns)."""
        return self.bar_ts[self.rows]

    def context(self, i: int) -> MarketContext:
        """What the strategy hands the predictor at example ``i``'s bar (bars ``<= t`` only)."""
        t = int(self.rows[i])
        return MarketContext(
            instrument_id=self.instrument_id,
            ts_event=int(self.bar_ts[t]),
            feature_names=self.feature_names,
            spec_hash=self.spec_hash,
            recent_bars=self.bars[max(0, t + 1 - self.context_bars) : t + 1],
        )

    def answer(self, i: int) -> ActionAnswer:
        """Example ``i``'s target answer."""
        return ActionAnswer(
            action=ACTION_CHOICES[int(self.actions[i])],  # type: ignore[arg-type]
            risk=float(self.risks[i]),
        )

    def class_counts(self) -> dict[str, int]:
        """Examples per action (``buy``, ``sell``, ``hold``)."""
        counts = np.bincount(self.actions, minlength=len(ACTION_CHOICES))
        return {choice: int(counts[i]) for i, choice in enumerate(ACTION_CHOICES)}

    def subset(self, indices: Sequence[int] | NDArray[np.int64]) -> ExampleSet:
        """The examples at ``indices`` (sorted, unique), sharing ``bars``."""
        keep = np.unique(np.asarray(indices, dtype=np.int64))
        return ExampleSet(
            name=self.name,
            instrument_id=self.instrument_id,
            feature_names=self.feature_names,
            spec_hash=self.spec_hash,
            bars=self.bars,
            bar_ts=self.bar_ts,
            rows=self.rows[keep],
            features=self.features[keep],
            actions=self.actions[keep],
            risks=self.risks[keep],
            context_bars=self.context_bars,
        )


def select_rows(
    actions: NDArray[np.int64],
    *,
    stride: int = 1,
    hold_keep_fraction: float = 1.0,
    seed: int = 0,
) -> NDArray[np.int64]:
    """Positions to keep: every ``stride``-th example, then a seeded share of the holds.

    Consecutive minute bars show nearly the same chart; ``stride`` thins them. Holds usually
    dominate; ``hold_keep_fraction`` < 1 keeps that share of them (chosen with ``seed``), every
    buy and sell is kept. Used on the training split only: evaluation keeps the natural mix.
    """
    if not (isinstance(stride, int) and stride >= 1):
        raise ValueError(f"stride must be an int >= 1, got {stride!r}")
    if not (0.0 < hold_keep_fraction <= 1.0) or math.isnan(hold_keep_fraction):
        raise ValueError(f"hold_keep_fraction must be in (0, 1], got {hold_keep_fraction!r}")
    positions = np.arange(0, actions.shape[0], stride, dtype=np.int64)
    if hold_keep_fraction >= 1.0:
        return positions
    hold = ACTION_CHOICES.index("hold")
    holds = positions[actions[positions] == hold]
    keep_n = round(holds.size * hold_keep_fraction)
    rng = np.random.default_rng(seed)
    kept_holds = rng.choice(holds, size=keep_n, replace=False) if keep_n else holds[:0]
    others = positions[actions[positions] != hold]
    kept: NDArray[np.int64] = np.sort(np.concatenate([others, kept_holds]))
    return kept


@dataclass(frozen=True)
class FineTuneDataset:
    """What a :class:`~nautilus_ai.finetune.FineTuner` trains on, with its provenance.

    Parameters
    ----------
    train : ExampleSet
    validation : ExampleSet or None
        Evaluated before and after training (loss and action accuracy); never trained on.
    feature_spec : dict
        ``FeatureSpec.to_dict()`` of the features.
    label_spec : dict
        ``LabelSpec.to_dict()`` of the labels.
    label_hash : str
    answer_spec : AnswerSpec
    bar_type : str
    windows : dict
        ``{"train": {"start": ISO, "end": ISO}, "validation": {...}}`` (half-open, UTC).
    embargo_bars : int
    class_balance : dict
        Examples per action: ``labelled`` (the train split before selection), ``train``,
        ``validation``.
    selection : dict
        How the train split was thinned (``stride``, ``hold_keep_fraction``, ``seed``).
    data : dict
        Where the bars came from (catalog, feature source, run id, bar count).
    """

    train: ExampleSet
    validation: ExampleSet | None
    feature_spec: dict[str, Any]
    label_spec: dict[str, Any]
    label_hash: str
    answer_spec: AnswerSpec
    bar_type: str
    windows: dict[str, dict[str, str]]
    embargo_bars: int
    class_balance: dict[str, dict[str, int]]
    selection: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def spec_hash(self) -> str:
        return self.train.spec_hash

    @property
    def context_bars(self) -> int:
        return self.train.context_bars

    def describe(self) -> str:
        """A few lines for the terminal: windows, examples and class balance per split."""
        lines = [f"bars {self.bar_type}, feature spec {self.spec_hash}, label {self.label_hash}"]
        for name, counts in self.class_balance.items():
            total = max(1, sum(counts.values()))
            shares = "  ".join(f"{k} {100 * v / total:5.1f}%" for k, v in counts.items())
            window = self.windows.get("validation" if name == "validation" else "train", {})
            span = f"[{window.get('start', '?')}, {window.get('end', '?')})"
            lines.append(f"  {name:<10} {span}  {sum(counts.values()):>8,} examples  {shares}")
        return "\n".join(lines)
