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

Feedback (:class:`~nautilus_ai.models.base.LearnsFromOutcomes`): :meth:`feedback` takes the
outcome of a position one of its decisions opened and adds that decision's pattern (the vector
it searched with, remembered for the last ``feedback_window`` decisions) with the trade as its
outcome: forward return = the price move over the position in ATRs of the decision bar, label
by the memory's barrier (``barrier_atr``: a smaller move is a hold), mfe / mae bounded by that
move (the position's path is not known). The pattern becomes eligible only after the position
closed (``available_ns = ts_closed``), so no decision before then sees it. The memory keeps a
time-ordered prefix: feedback about a bar older than the newest pattern it holds for the
instrument is not added (with ``learn_live`` the memory already learned that bar from its
triple-barrier outcome), and ``feedback`` returns False.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nautilus_ai.models.base import (
    Action,
    MarketContext,
    Prediction,
    PredictionError,
    TradeOutcome,
)
from nautilus_ai.models.registry import Backend, BackendRegistry
from nautilus_ai.models.spec import (
    FeatureSpecLike,
    check_batch_contexts,
    check_feature_matrix,
    check_spec_matches,
    context_spec_error,
)
from nautilus_ai.models.trained_bars import TrainedBars
from nautilus_ai.patterns.index import IndexConfig
from nautilus_ai.patterns.memory import Neighbours, PatternMemory, load_memory
from nautilus_ai.patterns.outcomes import MaturedOutcome, MaturedOutcomes, OutcomeTracker
from nautilus_ai.patterns.spec import pattern_layout, pattern_vectors
from nautilus_ai.patterns.store import PatternSet, format_period, store_dir

if TYPE_CHECKING:
    from nautilus_ai.patterns.chart_embedding import ChartEmbedder

__all__ = ["PatternMemoryConfig", "PatternMemoryPredictor"]

_log = logging.getLogger(__name__)

_ACTIONS = (Action.SELL, Action.HOLD, Action.BUY)  # index = label + 1
_NAMES = ("sell", "hold", "buy")
# Up to this many contexts per call the outcome tracker follows them bar by bar (a live bar);
# more (a backtest block) go through its column twin, which gives the same outcomes.
_FOLLOW_ONE_BY_ONE = 8


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
        Fewer neighbours found than this (at most ``k``): hold.
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
    chart_model_dir : str, optional
        The local vision model folder of a store whose patterns carry a chart embedding (its
        model id must be the store's ``chart_model``); needs the ``hf`` extra.
    feedback_window : int
        Decisions whose pattern vector is remembered for :meth:`PatternMemoryPredictor.feedback`.
    learned_path : str, optional
        A folder that keeps the patterns learned live across restarts
        (:mod:`~nautilus_ai.patterns.learned`): read when the predictor is built (a bad file
        fails the start, naming it), restored before the first decision (only bars before it),
        written every ``learned_save_every`` new patterns and when the strategy is disposed.
        One folder per node.
    learned_save_every : int
        New patterns between two writes of ``learned_path``.
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
    chart_model_dir: str | None = Field(default=None, min_length=1)
    feedback_window: int = Field(default=20_000, ge=0, le=10_000_000)
    learned_path: str | None = Field(default=None, min_length=1)
    learned_save_every: int = Field(default=500, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _one_location(self) -> PatternMemoryConfig:
        if (self.path is None) == (self.catalog_path is None or self.name is None):
            raise ValueError("give either 'path' or both 'catalog_path' and 'name'")
        if self.path is not None and (self.catalog_path is not None or self.name is not None):
            raise ValueError("give either 'path' or both 'catalog_path' and 'name', not both")
        if self.min_neighbours > self.k:  # at most k neighbours are found: it would never act
            raise ValueError(
                f"min_neighbours ({self.min_neighbours}) must be <= k ({self.k}): at most k "
                "neighbours are looked up, so every decision would hold"
            )
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
    chart_embedder : ChartEmbedder, optional
        Required when the memory's patterns have a chart block (same model id).
    """

    #: ``predict_batch`` equals ``predict`` row by row, bit for bit (latency aside).
    batch_exact = True

    def __init__(
        self,
        memory: PatternMemory,
        spec: FeatureSpecLike,
        config: PatternMemoryConfig,
        chart_embedder: ChartEmbedder | None = None,
        learned: PatternSet | None = None,
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
        self._context_bars = memory.pattern_spec.context_bars
        chart_model = memory.pattern_spec.chart_model
        if chart_model is not None and (
            chart_embedder is None or chart_embedder.model_id != chart_model
        ):
            have = "none" if chart_embedder is None else chart_embedder.model_id
            raise ValueError(
                f"the pattern store's patterns carry chart embeddings of model {chart_model}; "
                f"the predictor's chart model is {have} (set chart_model_dir to that model)"
            )
        self._charts = chart_embedder if chart_model is not None else None
        self._label_spec = memory.pattern_spec.label_spec(memory.feature_spec.atr_period)
        # The store's checksum names the model: answers of another store are never mixed up.
        self._model_id = f"pattern-memory/{memory.store_checksum[:12]}"

        self._owner = f"PatternMemoryPredictor({self._model_id})"
        self._trackers: dict[str, OutcomeTracker] = {}
        # Per instrument: vectors of recent bars, waiting for their outcome.
        self._pending: dict[str, deque[tuple[int, NDArray[np.float32]]]] = {}
        self._match_texts: dict[int, str] = {}
        self.learned = 0
        # Feedback: (instrument, ts) -> (pattern vector, ATR / close) of recent decisions. The
        # lock serialises feedback (event loop) with predictions (maybe a worker thread).
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, int], tuple[NDArray[np.float32], float]] = OrderedDict()
        self._i_atr = self._names.index("atr_close") if "atr_close" in self._names else -1
        self.feedback_added = 0
        self.feedback_ignored = 0
        # The bar period the memory's shapes and outcomes were cut from; checked against the
        # strategy's bars until they show it (None: a store older than the record).
        self._bar_ns = memory.bar_ns
        self._bar_period_seen = memory.bar_ns is None
        # Patterns learned in earlier sessions (learned_path): restored at the first decision.
        self._to_restore = learned
        self.restored = 0
        self._saved_at = 0  # self.learned at the last write of learned_path
        self.learned_save_error: str | None = None

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def spec_hash(self) -> str:
        return self._spec_hash

    @property
    def trained_bars(self) -> TrainedBars | None:
        """The bar period the store records (``None``: a store older than the record), checked
        against the strategy's bar type before a run (:mod:`~nautilus_ai.models.trained_bars`)."""
        if self._bar_ns is None:
            return None
        return TrainedBars(self._model_id, None, period_ns=self._bar_ns)

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
        with self._lock:
            vectors = self._observe(matrix, [context])
            found = self.memory.search(vectors, np.array([context.ts_event]), self.config.k)
            return self._decide(found, time.perf_counter() - start)[0]

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
        with self._lock, _collector_paused():
            vectors = self._observe(matrix, contexts)
            times = np.array([c.ts_event for c in contexts], dtype=np.int64)
            found = self.memory.search(vectors, times, self.config.k)
            n = matrix.shape[0]
            return self._decide(found, (time.perf_counter() - start) / n if n else 0.0)

    def model_status(self) -> dict[str, object]:
        """What an operator sees in the strategy's status: the memory's size, what it learned
        this session and restored from ``learned_path``, and a failed write of it."""
        return {
            "patterns": len(self.memory),
            "stored": self.memory.stored,
            "learned": self.learned,
            "restored": self.restored,
            "learned_path": self.config.learned_path,
            "learned_save_error": self.learned_save_error,
        }

    def close(self) -> None:
        """Write what was learned to ``learned_path`` (when set); nothing else to release."""
        with self._lock:
            if self.learned > self._saved_at:
                self._save_learned()

    def _maybe_save_learned(self) -> None:
        if (
            self.config.learned_path is not None
            and self.learned - self._saved_at >= self.config.learned_save_every
        ):
            self._save_learned()

    def _save_learned(self) -> None:
        """Write ``learned_path``; a failure is logged and kept in :attr:`learned_save_error`
        (the decisions go on; the next write tries again)."""
        if self.config.learned_path is None:
            return
        from nautilus_ai.patterns.learned import save_learned
        from nautilus_ai.patterns.store import PatternStoreError

        try:
            save_learned(self.memory, self.config.learned_path)
        except (OSError, PatternStoreError) as exc:
            self.learned_save_error = " ".join(str(exc).split())
            _log.error("%s: learned patterns not saved: %s", self._owner, self.learned_save_error)
            self._saved_at = self.learned  # the next attempt after as many new patterns
            return
        self.learned_save_error = None
        self._saved_at = self.learned

    # ------------------------------------------------------------------ learning
    def _observe(
        self, features: NDArray[np.float64], contexts: Sequence[MarketContext]
    ) -> NDArray[np.float32]:
        """Pattern vectors of the rows; on the way, follow every bar and add matured patterns."""
        if self._to_restore is not None and contexts:
            from nautilus_ai.patterns.learned import restore_learned

            self.restored = restore_learned(self.memory, self._to_restore, contexts[0].ts_event)
            self._to_restore = None
        n_bars = self._shape_bars
        closes = np.empty((features.shape[0], n_bars))
        spec = self.memory.pattern_spec
        windows: list[NDArray[np.float64]] | None = [] if self._charts is not None else None
        for i, context in enumerate(contexts):
            bars = context.recent_bars
            need = self._context_bars
            if (
                bars is None
                or bars.shape[0] < need
                or bars.shape[1] < (5 if windows is None else 6)
            ):
                got = 0 if bars is None else bars.shape[0]
                raise PredictionError(
                    f"{self._owner} needs the last {need} bars in the context (got {got}); "
                    f"set the strategy's context_bars to >= {need}"
                )
            if int(bars[-1, 0]) != context.ts_event:
                raise PredictionError(
                    f"{self._owner}: the context's last bar is at {int(bars[-1, 0])}, not at "
                    f"ts_event {context.ts_event}"
                )
            if not self._bar_period_seen:
                self._check_bar_period(bars)
            closes[i] = bars[-n_bars:, 4]
            if windows is not None:
                windows.append(bars[-spec.chart_bars :, :6])
        charts = None
        if self._charts is not None and windows is not None:
            charts = self._charts.embed(np.stack(windows)) if windows else None
        vectors = pattern_vectors(self._layout, features, closes, charts)
        window = self.config.feedback_window
        if window:
            seen = self._seen
            i_atr = self._i_atr
            atrs = features[:, i_atr].tolist() if i_atr >= 0 else [float("nan")] * len(contexts)
            keys = [(context.instrument_id, context.ts_event) for context in contexts]
            seen.update(zip(keys, zip(vectors, atrs, strict=True), strict=True))
            while len(seen) > window:
                seen.popitem(last=False)
        if self.config.learn_live and len(contexts) > _FOLLOW_ONE_BY_ONE:
            self._follow_many(contexts, vectors)
        elif self.config.learn_live:
            matured: dict[str, list[MaturedOutcome]] = {}
            for i, context in enumerate(contexts):
                self._follow(context, vectors[i], matured)
            # One add per instrument and call: the rows and their order are those of adding
            # bar by bar (outcomes mature in time order), at a fraction of the cost.
            for instrument, outcomes in matured.items():
                self._add(instrument, outcomes, self._pending[instrument])
        self._maybe_save_learned()
        return vectors

    def _check_bar_period(self, bars: NDArray[np.float64]) -> None:
        """Refuse bars of another period than the memory's: its shapes span ``shape_bars``
        bars of its period and its outcomes ``horizon`` of them, so one-minute patterns say
        nothing of an hour-bar window. Passes for good once two consecutive bars are one
        period apart; fails at once on a finer step, and on a coarser one once 8 steps show
        none of the memory's period (gaps alone do not fail it)."""
        assert self._bar_ns is not None
        steps = np.diff(bars[:, 0].astype(np.int64))
        steps = steps[steps > 0]
        if (steps == self._bar_ns).any():
            self._bar_period_seen = True
            return
        if steps.size and (steps.min() < self._bar_ns or steps.size >= 8):
            raise PredictionError(
                f"{self._owner}: the memory was built from bars {format_period(self._bar_ns)} "
                f"apart, the strategy's bars are {format_period(int(steps.min()))} apart; "
                "patterns of another bar period compare other time spans: build a store from "
                "this bar type (nautilus-ai patterns build --bar-type ...)"
            )

    def _follow(
        self,
        context: MarketContext,
        vector: NDArray[np.float32],
        ready: dict[str, list[MaturedOutcome]],
    ) -> None:
        instrument = context.instrument_id
        tracker = self._trackers.get(instrument)
        if tracker is None:
            tracker = self._trackers[instrument] = OutcomeTracker(self._label_spec)
            self._pending[instrument] = deque()
        pending = self._pending[instrument]
        stored_until = self.memory.last_ts(instrument)
        bars = context.recent_bars
        assert bars is not None
        last = tracker.last_ts
        if last >= 0 and bars.shape[0] > 1 and bars[-2, 0] <= last < bars[-1, 0]:
            new = bars[-1:]  # the usual case: one new bar since the last context
        else:
            new = bars[bars[:, 0] > last] if last >= 0 else bars
        for row in new.tolist():
            outcome = tracker.update(int(row[0]), row[2], row[3], row[4])
            if outcome is not None and outcome.ts_event > stored_until:
                ready.setdefault(instrument, []).append(outcome)
        if context.ts_event > stored_until:
            pending.append((context.ts_event, vector))

    def _follow_many(self, contexts: Sequence[MarketContext], vectors: NDArray[np.float32]) -> None:
        """:meth:`_follow` for every context then :meth:`_add`, as columns: the bars new to
        each instrument's tracker go through :meth:`OutcomeTracker.update_many` at once, and the
        matured outcomes meet the pending vectors by timestamp (both ascend), so the memory
        gets the rows, in the order, that following the contexts one by one adds."""
        by_instrument: dict[str, list[int]] = {}
        for i, context in enumerate(contexts):
            by_instrument.setdefault(context.instrument_id, []).append(i)
        for instrument, members in by_instrument.items():
            tracker = self._trackers.get(instrument)
            if tracker is None:
                tracker = self._trackers[instrument] = OutcomeTracker(self._label_spec)
                self._pending[instrument] = deque()
            pending = self._pending[instrument]
            stored_until = self.memory.last_ts(instrument)
            last = float(tracker.last_ts)
            pieces: list[NDArray[np.float64]] = []
            for i in members:
                bars = contexts[i].recent_bars
                assert bars is not None
                newest = bars[-1, 0]
                if last >= 0 and bars.shape[0] > 1 and bars[-2, 0] <= last < newest:
                    pieces.append(bars[-1:])  # the usual case: one new bar since the last one
                    last = newest
                    continue
                new = bars[bars[:, 0] > last] if last >= 0 else bars
                if new.shape[0]:
                    pieces.append(new)
                    last = max(last, float(new[:, 0].max()))
            rows = np.concatenate(pieces) if pieces else np.empty((0, 5))
            matured = tracker.update_many(rows[:, 0].astype(np.int64), rows[:, 2], rows[:, 3],
                                          rows[:, 4])  # fmt: skip
            matured = matured.take(np.flatnonzero(matured.ts_event > stored_until))
            times = np.array([contexts[i].ts_event for i in members], dtype=np.int64)
            fresh = np.flatnonzero(times > stored_until)
            waiting_ts = np.concatenate(
                [np.array([p[0] for p in pending], dtype=np.int64), times[fresh]]
            )
            waiting = [p[1] for p in pending]
            waiting.extend(vectors[np.asarray(members)[fresh]])
            ascending = bool(
                (np.diff(waiting_ts) > 0).all() and (np.diff(matured.ts_event) > 0).all()
            )
            if not ascending:  # repeated timestamps: the one-by-one matching decides
                pending.clear()
                pending.extend(zip(waiting_ts.tolist(), waiting, strict=True))
                found = [
                    MaturedOutcome(*values)
                    for values in zip(
                        matured.ts_event.tolist(), matured.close.tolist(), matured.unit.tolist(),
                        matured.label.tolist(), matured.forward_return.tolist(),
                        matured.mfe.tolist(), matured.mae.tolist(), matured.available_ns.tolist(),
                        strict=True,
                    )
                ]  # fmt: skip
                self._add(instrument, found, pending)
                continue
            # Sequentially, each outcome drops the pending bars before it and takes the one at
            # its time: so an outcome matches where its time is pending, and what stays pending
            # is what comes after the last outcome.
            at = np.searchsorted(waiting_ts, matured.ts_event)
            hit = at < waiting_ts.size
            hit[hit] = waiting_ts[at[hit]] == matured.ts_event[hit]
            keep_from = (
                int(np.searchsorted(waiting_ts, matured.ts_event[-1], side="right"))
                if len(matured)
                else 0
            )
            pending.clear()
            pending.extend(zip(waiting_ts[keep_from:].tolist(), waiting[keep_from:], strict=True))
            if hit.any():
                taken = matured.take(np.flatnonzero(hit))
                chosen = np.stack([waiting[j] for j in at[hit].tolist()])
                self._add_columns(instrument, taken, chosen)

    def _add_columns(
        self, instrument: str, outcomes: MaturedOutcomes, vectors: NDArray[np.float32]
    ) -> None:
        memory = self.memory
        batch = PatternSet(
            feature_spec=memory.feature_spec,
            pattern_spec=memory.pattern_spec,
            vectors=vectors,
            ts_event=outcomes.ts_event,
            available_ns=outcomes.available_ns,
            instrument_id=[instrument] * len(outcomes),
            close=outcomes.close,
            atr=outcomes.unit,
            label=outcomes.label,
            forward_return=outcomes.forward_return,
            mfe=outcomes.mfe,
            mae=outcomes.mae,
            source="live",
            bar_ns=memory.bar_ns,
        )
        self.learned += memory.add(batch)

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
            bar_ns=memory.bar_ns,
        )
        self.learned += memory.add(batch)

    def feedback(self, outcome: TradeOutcome) -> bool:
        """Add the pattern of the decision ``outcome`` closed, with the trade as its outcome
        (see the module docstring). Returns False when it is not this model's decision, the
        decision is no longer remembered, or the memory already holds a newer pattern."""
        if outcome.model_id != self._model_id:
            self.feedback_ignored += 1
            return False
        with self._lock:
            seen = self._seen.get((outcome.instrument_id, outcome.decision_ts))
            if seen is None:
                self.feedback_ignored += 1
                return False
            vector, atr_ratio = seen
            unit = atr_ratio * outcome.avg_px_open
            if not (unit > 0.0):  # NaN or no volatility: the move has no ATR scale
                self.feedback_ignored += 1
                return False
            move = outcome.price_move / unit
            barrier = self.memory.pattern_spec.barrier_atr
            up, down = move > 0 and move >= barrier, move < 0 and -move >= barrier
            label = 1 if up else -1 if down else 0
            memory = self.memory
            batch = PatternSet(
                feature_spec=memory.feature_spec,
                pattern_spec=memory.pattern_spec,
                vectors=vector.reshape(1, -1),
                ts_event=np.array([outcome.decision_ts], dtype=np.int64),
                available_ns=np.array([outcome.ts_closed], dtype=np.int64),
                instrument_id=[outcome.instrument_id],
                close=np.array([outcome.avg_px_open]),
                atr=np.array([unit]),
                label=np.array([label], dtype=np.int8),
                forward_return=np.array([move]),
                mfe=np.array([max(move, 0.0)]),
                mae=np.array([min(move, 0.0)]),
                source="feedback",
                bar_ns=memory.bar_ns,
            )
            added = memory.add(batch)
            self.learned += added
            self._maybe_save_learned()
        if added:
            self.feedback_added += added
            return True
        self.feedback_ignored += 1
        return False

    def add_patterns(self, patterns: PatternSet) -> int:
        """Add matured patterns from outside (a feedback sink); returns how many joined."""
        added = self.memory.add(patterns)
        self.learned += added
        return added

    # ------------------------------------------------------------------ decision
    def _decide(self, found: Neighbours, latency: float) -> list[Prediction]:
        """One prediction per query row, computed for all rows at once: every reduction runs
        along a row, so a row's numbers do not depend on the other rows (batch == per row)."""
        memory = self.memory
        ids = found.rows
        valid = ids >= 0
        count = valid.sum(axis=1)
        safe = np.where(valid, ids, 0)
        distance = np.sqrt(found.distances)  # inf where padded
        last = np.take_along_axis(distance, np.maximum(count - 1, 0)[:, None], axis=1)[:, 0]
        scale = np.where(last > 0.0, last, 1.0)
        scale = np.where(np.isfinite(scale), scale, 1.0)
        weights = np.exp(-distance / scale[:, None])  # exp(-inf) = 0 for padding
        total = weights.sum(axis=1)
        labels = memory.label[safe]
        share = np.stack([(weights * (labels == c - 1)).sum(axis=1) for c in range(3)], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            share /= total[:, None]
            n_eff = total * total / (weights * weights).sum(axis=1)
        counts = memory.label_counts_at(found.eligible).astype(np.float64)
        base = counts / np.maximum(counts.sum(axis=1), 1.0)[:, None]
        alpha = self.config.prior_strength
        probability = (n_eff[:, None] * share + alpha * base) / (n_eff[:, None] + alpha)
        best = np.argmax(probability, axis=1)
        best[probability[:, 1] == probability[np.arange(best.size), best]] = 1
        returns = memory.column("forward_return")[safe]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (weights * returns).sum(axis=1) / total
            spread = np.sqrt((weights * (returns - mean[:, None]) ** 2).sum(axis=1) / total)
        # Per row from here: Python lists (one conversion per column, not one numpy scalar per
        # value) and the reason text from cached match texts.
        minimum = self.config.min_neighbours
        shown = self.config.reason_matches
        # Flat lists (one Python list per column, no list per row): fewer objects for the
        # garbage collector to track, which it scanned in full several times a window.
        spread_l, mean_l = spread.tolist(), mean.tolist()
        best_l, prob_l = best.tolist(), probability.ravel().tolist()
        n_eff_l, count_l, eligible_l = n_eff.tolist(), count.tolist(), found.eligible.tolist()
        shown_rows = ids[:, :shown]
        texts = self._match_texts_of(shown_rows[shown_rows >= 0])
        shown_l, dist_l = shown_rows.ravel().tolist(), distance[:, :shown].ravel().tolist()
        width = shown_rows.shape[1]
        model_id, actions = self._model_id, _ACTIONS
        out: list[Prediction] = []
        for i in range(ids.shape[0]):
            if count_l[i] < minimum:
                out.append(Prediction(
                    Action.HOLD, 0.0, 1.0, model_id, latency,
                    f"hold: {count_l[i]} neighbours found (< min_neighbours {minimum}) among "
                    f"{eligible_l[i]:,} eligible patterns",
                ))  # fmt: skip
                continue
            sd, mu = spread_l[i], mean_l[i]
            risk = sd / (sd + abs(mu)) if sd + abs(mu) > 0.0 else 1.0
            b = best_l[i]
            p0, p1, p2 = prob_l[3 * i : 3 * i + 3]
            pb = (p0, p1, p2)[b]
            reason = (
                f"pattern memory: {_NAMES[b]} p={pb:.2f} (sell {p0:.2f} / hold {p1:.2f} / "
                f"buy {p2:.2f}), n_eff {n_eff_l[i]:.1f} of {count_l[i]} neighbours, "
                f"{eligible_l[i]:,} eligible"
            )
            if shown:
                at = width * i
                matches = "; ".join(
                    [
                        f"{texts[r]} (d {dist_l[j]:.2f})"
                        for j, r in enumerate(shown_l[at : at + width], at)
                        if r >= 0
                    ]
                )
                reason = f"{reason}; closest: {matches}"
            confidence, risk = min(1.0, max(0.0, pb)), min(1.0, max(0.0, risk))
            out.append(Prediction(actions[b], confidence, risk, model_id, latency, reason))
        return out

    def _match_texts_of(self, rows: NDArray[np.int64]) -> dict[int, str]:
        """What each stored pattern of ``rows`` was (when, where, what followed), by row; cached:
        a stored row never changes. New rows are formatted as columns."""
        cache = self._match_texts
        wanted = np.unique(rows)
        if wanted.size:
            missing = wanted[[r not in cache for r in wanted.tolist()]]
            memory = self.memory
            # Whole minutes (bar times) as columns; any other time as _match_text writes it.
            odd = memory.ts_event[missing] % 60_000_000_000 != 0
            for row in missing[odd].tolist():
                self._match_text(row)
            missing = missing[~odd]
            if missing.size:
                stamps = memory.ts_event[missing].view("datetime64[ns]").astype("datetime64[m]")
                when = np.datetime_as_string(stamps)
                labels = memory.label[missing].tolist()
                returns = memory.column("forward_return")[missing].tolist()
                for row, stamp, label, ret in zip(
                    missing.tolist(), when.tolist(), labels, returns, strict=True
                ):
                    cache[row] = (
                        f"{stamp[:10]} {stamp[11:16]} {memory.instrument_id[row]} "
                        f"{_NAMES[label + 1]} {ret:+.1f} ATR"
                    )
        return cache

    def _match_text(self, row: int) -> str:
        """What a stored pattern was (when, where, what followed); cached: it never changes."""
        text = self._match_texts.get(row)
        if text is None:
            memory = self.memory
            when = datetime.fromtimestamp(int(memory.ts_event[row]) / 1e9, UTC)
            text = (
                f"{when:%Y-%m-%d %H:%M} {memory.instrument_id[row]} "
                f"{_NAMES[int(memory.label[row]) + 1]} "
                f"{memory.column('forward_return')[row]:+.1f} ATR"
            )
            self._match_texts[row] = text
        return text


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused during a batch (restored after): a batch makes
    tens of thousands of objects without reference cycles (predictions, texts, rows), and the
    collections they triggered scanned the whole engine's heap, ~9% of a backtest's CPU time
    (measured, BENCHMARKS.md). Nothing is freed later than it would be: objects without cycles
    are freed by reference counting, and the collector runs again after the batch."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _build(
    config: PatternMemoryConfig, spec: FeatureSpecLike, registry: BackendRegistry
) -> PatternMemoryPredictor:
    memory = load_memory(
        config.folder(spec.hash),
        feature_spec_hash=spec.hash,
        index_config=config.index,
        embargo_ns=round(config.embargo_s * 1e9),
    )
    embedder = None
    if config.chart_model_dir is not None:
        from nautilus_ai.patterns.chart_embedding import ChartEmbedder

        embedder = ChartEmbedder(config.chart_model_dir)
    learned = None
    if config.learned_path is not None:
        from nautilus_ai.patterns.learned import read_learned

        learned = read_learned(config.learned_path, memory)
    return PatternMemoryPredictor(memory, spec, config, embedder, learned)


#: The ``pattern_memory`` kind (listed in :data:`~nautilus_ai.models.registry.BUILTIN_BACKENDS`).
BACKEND = Backend("pattern_memory", PatternMemoryConfig, _build)
