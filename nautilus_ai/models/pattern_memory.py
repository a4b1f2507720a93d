"""``PatternMemoryPredictor``: act as the most similar past windows say, with no look-ahead.

::

    {"kind": "pattern_memory", "catalog_path": "catalogs/demo", "name": "eurusd-m1", "k": 20}

For the bar at ``t`` the predictor builds the pattern vector (the features plus the shape of the
last ``shape_bars`` closes, from ``MarketContext.recent_bars``: set the strategy's
``context_bars`` to at least ``shape_bars``), finds the ``k`` nearest patterns whose outcome was
known before ``t`` (:class:`~nautilus_ai.patterns.PatternMemory`), and weighs them by similarity
``w = exp(-d / d_k)`` (``d_k``: the k-th distance). Then:

* **action distribution** - the weighted share of each triple-barrier outcome (sell, hold, buy),
  shrunk toward the eligible memory's base rates with ``prior_strength`` pseudo-patterns, using
  the weights' effective count ``n_eff = (sum w)^2 / sum w^2``:
  ``p = (n_eff * share + prior_strength * base) / (n_eff + prior_strength)`` (a Dirichlet
  posterior mean: few or dissimilar neighbours give base-rate confidence, not certainty);
* **action** - the most probable outcome (ties: hold); **confidence** - its probability;
* **risk score** - outcome dispersion: the weighted standard deviation ``s`` of the neighbours'
  forward returns against their weighted mean ``m``, ``s / (s + |m|)`` (1 when they disagree
  entirely, toward 0 when they agree on a move);
* **reason** - the closest matches with their dates, instruments, outcomes and distances.

Online learning: the predictor follows every bar it sees (the context's bars) and adds each
pattern to the memory when its outcome matures (``learn_live``), skipping those the store holds.
``predict_batch`` runs exactly that sequence and then one batched search, so each row's answer
equals ``predict``'s bit for bit (``batch_exact``): the precomputed backtest path uses it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nautilus_ai.models.base import Action, MarketContext, Prediction, PredictionError
from nautilus_ai.models.registry import register_backend
from nautilus_ai.models.spec import (
    FeatureSpecLike,
    check_batch_contexts,
    check_feature_matrix,
    check_spec_matches,
    context_spec_error,
)
from nautilus_ai.patterns.index import IndexConfig
from nautilus_ai.patterns.memory import Neighbours, PatternMemory, load_memory
from nautilus_ai.patterns.outcomes import MaturedOutcome, OutcomeTracker
from nautilus_ai.patterns.spec import pattern_layout, pattern_vectors
from nautilus_ai.patterns.store import PatternSet, store_dir

__all__ = ["PatternMemoryConfig", "PatternMemoryPredictor"]

_ACTIONS = (Action.SELL, Action.HOLD, Action.BUY)  # index = label + 1
_NAMES = ("sell", "hold", "buy")


class PatternMemoryConfig(BaseModel):
    """``{"kind": "pattern_memory", ...}``: a saved pattern memory as a predictor.

    Parameters
    ----------
    path : str, optional
        The store folder (``patterns.parquet`` + ``patterns.index``). Or:
    catalog_path, name : str, optional
        ``<catalog_path>/patterns/<feature spec hash>/<name>`` (what ``patterns build`` writes).
    k : int
        Neighbours per decision.
    min_neighbours : int
        Fewer eligible patterns than this: hold.
    prior_strength : float
        Pseudo-patterns at the base rates in the action distribution (calibration).
    embargo_s : float
        A pattern is used only ``embargo_s`` seconds after its outcome became known.
    learn_live : bool
        Add patterns to the memory as their outcomes mature.
    index : IndexConfig, optional
        Must equal the stored index's config when given (``None``: the stored one).
    reason_matches : int
        Closest matches named in ``reason``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["pattern_memory"] = "pattern_memory"
    path: str | None = Field(default=None, min_length=1)
    catalog_path: str | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, min_length=1)
    k: int = Field(default=20, ge=1, le=1000)
    min_neighbours: int = Field(default=5, ge=1)
    prior_strength: float = Field(default=5.0, ge=0.0, allow_inf_nan=False)
    embargo_s: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    learn_live: bool = True
    index: IndexConfig | None = None
    reason_matches: int = Field(default=3, ge=0, le=20)

    @model_validator(mode="after")
    def _one_location(self) -> PatternMemoryConfig:
        if (self.path is None) == (self.catalog_path is None or self.name is None):
            raise ValueError("give either 'path' or both 'catalog_path' and 'name'")
        if self.path is not None and (self.catalog_path is not None or self.name is not None):
            raise ValueError("give either 'path' or both 'catalog_path' and 'name', not both")
        return self

    def folder(self, spec_hash: str) -> Path:
        if self.path is not None:
            return Path(self.path)
        assert self.catalog_path is not None and self.name is not None
        return store_dir(self.catalog_path, spec_hash, self.name)


class PatternMemoryPredictor:
    """The pattern memory behind the :class:`~nautilus_ai.models.base.Predictor` protocol.

    Parameters
    ----------
    memory : PatternMemory
    spec : FeatureSpecLike
        The strategy's feature spec; must be the memory's.
    config : PatternMemoryConfig
    """

    #: ``predict_batch`` equals ``predict`` row by row, bit for bit (latency aside).
    batch_exact = True

    def __init__(
        self, memory: PatternMemory, spec: FeatureSpecLike, config: PatternMemoryConfig
    ) -> None:
        check_spec_matches(
            owner="PatternMemoryPredictor",
            expected_hash=memory.feature_spec.hash,
            expected_names=memory.feature_spec.names,
            expected_spec=memory.feature_spec.to_dict(),
            spec=spec,
        )
        self.memory = memory
        self.config = config
        self._names = tuple(spec.names)
        self._spec_hash = spec.hash
        self._layout = pattern_layout(self._names, memory.pattern_spec)
        self._shape_bars = memory.pattern_spec.shape_bars
        self._label_spec = memory.pattern_spec.label_spec(memory.feature_spec.atr_period)
        # The store's checksum names the model: answers of another store are never mixed up.
        self._model_id = f"pattern-memory/{memory.store_checksum[:12]}"

        self._owner = f"PatternMemoryPredictor({self._model_id})"
        self._trackers: dict[str, OutcomeTracker] = {}
        # Per instrument: vectors of recent bars, waiting for their outcome.
        self._pending: dict[str, deque[tuple[int, NDArray[np.float32]]]] = {}
        self.learned = 0

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def spec_hash(self) -> str:
        return self._spec_hash

    # ------------------------------------------------------------------ predictor protocol
    def predict(self, features: NDArray[np.float64], context: MarketContext) -> Prediction:
        """One decision (see the module docstring). Raises ``PredictionError`` for a bad row or
        a context without enough recent bars."""
        start = time.perf_counter()
        matrix = check_feature_matrix(
            np.asarray(features, dtype=np.float64).reshape(1, -1), self._names, owner=self._owner
        )
        if context.spec_hash and context.spec_hash != self._spec_hash:
            raise context_spec_error(self._owner, self._spec_hash, context.spec_hash)
        vectors = self._observe(matrix, [context])
        found = self.memory.search(vectors, np.array([context.ts_event]), self.config.k)
        return self._decide(found, 0, time.perf_counter() - start)

    def predict_batch(
        self,
        features: NDArray[np.float64],
        contexts: Sequence[MarketContext] | None = None,
    ) -> list[Prediction]:
        """:meth:`predict` for each row, in order (the rows must be in time order)."""
        start = time.perf_counter()
        matrix = check_feature_matrix(features, self._names, owner=self._owner)
        if contexts is None:
            raise PredictionError(
                f"{self._owner} needs contexts with recent bars (strategy context_bars >= "
                f"{self._shape_bars})"
            )
        check_batch_contexts(contexts, matrix.shape[0], self._spec_hash, owner=self._owner)
        vectors = self._observe(matrix, contexts)
        times = np.array([c.ts_event for c in contexts], dtype=np.int64)
        found = self.memory.search(vectors, times, self.config.k)
        n = matrix.shape[0]
        latency = (time.perf_counter() - start) / n if n else 0.0
        return [self._decide(found, i, latency) for i in range(n)]

    def close(self) -> None:
        """Nothing to release (the memory lives in this process)."""

    # ------------------------------------------------------------------ learning
    def _observe(
        self, features: NDArray[np.float64], contexts: Sequence[MarketContext]
    ) -> NDArray[np.float32]:
        """Pattern vectors of the rows; on the way, follow every bar and add matured patterns."""
        n_bars = self._shape_bars
        closes = np.empty((features.shape[0], n_bars))
        for i, context in enumerate(contexts):
            bars = context.recent_bars
            if bars is None or bars.shape[0] < n_bars or bars.shape[1] < 5:
                got = 0 if bars is None else bars.shape[0]
                raise PredictionError(
                    f"{self._owner} needs the last {n_bars} bars in the context (got {got}); "
                    f"set the strategy's context_bars to >= {n_bars}"
                )
            if int(bars[-1, 0]) != context.ts_event:
                raise PredictionError(
                    f"{self._owner}: the context's last bar is at {int(bars[-1, 0])}, not at "
                    f"ts_event {context.ts_event}"
                )
            closes[i] = bars[-n_bars:, 4]
        vectors = pattern_vectors(self._layout, features, closes)
        if self.config.learn_live:
            for i, context in enumerate(contexts):
                self._follow(context, vectors[i])
        return vectors

    def _follow(self, context: MarketContext, vector: NDArray[np.float32]) -> None:
        instrument = context.instrument_id
        tracker = self._trackers.get(instrument)
        if tracker is None:
            tracker = self._trackers[instrument] = OutcomeTracker(self._label_spec)
            self._pending[instrument] = deque()
        pending = self._pending[instrument]
        stored_until = self.memory.last_ts(instrument)
        bars = context.recent_bars
        assert bars is not None
        new = bars[bars[:, 0] > tracker.last_ts] if tracker.last_ts >= 0 else bars
        matured: list[MaturedOutcome] = []
        for row in new.tolist():
            outcome = tracker.update(int(row[0]), row[2], row[3], row[4])
            if outcome is not None and outcome.ts_event > stored_until:
                matured.append(outcome)
        if context.ts_event > stored_until:
            pending.append((context.ts_event, vector))
        if matured:
            self._add(instrument, matured, pending)

    def _add(
        self,
        instrument: str,
        matured: list[MaturedOutcome],
        pending: deque[tuple[int, NDArray[np.float32]]],
    ) -> None:
        vectors: list[NDArray[np.float32]] = []
        outcomes: list[MaturedOutcome] = []
        for outcome in matured:
            while pending and pending[0][0] < outcome.ts_event:
                pending.popleft()  # bars the strategy never asked about (not warm)
            if pending and pending[0][0] == outcome.ts_event:
                vectors.append(pending.popleft()[1])
                outcomes.append(outcome)
        if not outcomes:
            return
        memory = self.memory
        batch = PatternSet(
            feature_spec=memory.feature_spec,
            pattern_spec=memory.pattern_spec,
            vectors=np.stack(vectors),
            ts_event=np.array([o.ts_event for o in outcomes], dtype=np.int64),
            available_ns=np.array([o.available_ns for o in outcomes], dtype=np.int64),
            instrument_id=[instrument] * len(outcomes),
            close=np.array([o.close for o in outcomes]),
            atr=np.array([o.unit for o in outcomes]),
            label=np.array([o.label for o in outcomes], dtype=np.int8),
            forward_return=np.array([o.forward_return for o in outcomes]),
            mfe=np.array([o.mfe for o in outcomes]),
            mae=np.array([o.mae for o in outcomes]),
            source="live",
        )
        self.learned += memory.add(batch)

    def add_patterns(self, patterns: PatternSet) -> int:
        """Add matured patterns from outside (a feedback sink); returns how many joined."""
        added = self.memory.add(patterns)
        self.learned += added
        return added

    # ------------------------------------------------------------------ decision
    def _decide(self, found: Neighbours, row: int, latency: float) -> Prediction:
        rows = found.rows[row]
        rows = rows[rows >= 0]
        eligible = int(found.eligible[row])
        if rows.size < self.config.min_neighbours:
            return Prediction(
                Action.HOLD, 0.0, 1.0, self._model_id, latency,
                f"hold: {eligible} eligible patterns (< {self.config.min_neighbours})",
            )  # fmt: skip
        memory = self.memory
        distance = np.sqrt(found.distances[row, : rows.size])
        scale = distance[-1] if distance[-1] > 0.0 else 1.0
        weights = np.exp(-distance / scale)
        total = weights.sum()
        labels = memory.label[rows].astype(np.int64) + 1
        share = np.bincount(labels, weights=weights, minlength=3) / total
        n_eff = total * total / float((weights * weights).sum())
        counts = memory.label_counts(eligible).astype(np.float64)
        base = counts / counts.sum()
        alpha = self.config.prior_strength
        probability = (n_eff * share + alpha * base) / (n_eff + alpha)
        best = int(np.argmax(probability))
        if probability[1] == probability[best]:
            best = 1
        returns = memory.column("forward_return")[rows]
        mean = float((weights * returns).sum() / total)
        spread = float(np.sqrt((weights * (returns - mean) ** 2).sum() / total))
        risk = spread / (spread + abs(mean)) if spread + abs(mean) > 0.0 else 1.0
        confidence = float(min(1.0, max(0.0, probability[best])))
        return Prediction(
            _ACTIONS[best],
            confidence,
            float(min(1.0, max(0.0, risk))),
            self._model_id,
            latency,
            self._reason(best, probability, n_eff, eligible, rows, distance),
        )

    def _reason(
        self,
        best: int,
        probability: NDArray[np.float64],
        n_eff: float,
        eligible: int,
        rows: NDArray[np.int64],
        distance: NDArray[np.float64],
    ) -> str:
        memory = self.memory
        head = (
            f"pattern memory: {_NAMES[best]} p={probability[best]:.2f} (sell "
            f"{probability[0]:.2f} / hold {probability[1]:.2f} / buy {probability[2]:.2f}), "
            f"n_eff {n_eff:.1f} of {rows.size} neighbours, {eligible:,} eligible"
        )
        shown = self.config.reason_matches
        if shown == 0:
            return head
        matches = []
        for i, r in enumerate(rows[:shown].tolist()):
            when = datetime.fromtimestamp(int(memory.ts_event[r]) / 1e9, UTC)
            matches.append(
                f"{when:%Y-%m-%d %H:%M} {memory.instrument_id[r]} "
                f"{_NAMES[int(memory.label[r]) + 1]} "
                f"{memory.column('forward_return')[r]:+.1f} ATR (d {distance[i]:.2f})"
            )
        return f"{head}; closest: {'; '.join(matches)}"


def _build(config: PatternMemoryConfig, spec: FeatureSpecLike) -> PatternMemoryPredictor:
    memory = load_memory(
        config.folder(spec.hash),
        feature_spec_hash=spec.hash,
        index_config=config.index,
        embargo_ns=round(config.embargo_s * 1e9),
    )
    return PatternMemoryPredictor(memory, spec, config)


register_backend("pattern_memory", PatternMemoryConfig, _build)
