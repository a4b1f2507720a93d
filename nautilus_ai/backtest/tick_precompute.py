"""Tick decisions computed once from the catalog: the backtest fast path of the tick mode.

With ``feature_source: precomputed`` and a batch-exact
:class:`~nautilus_ai.models.ArrayPredictor` (``tick_rule``, ``rule``), the strategy's tick mode
computes, at its first decision tick, every later decision tick of the catalog's quotes with
:func:`~nautilus_ai.tick_decisions.tick_decision_rows` (the vectorised twin of the incremental
cadence and vectors, over the bar features the strategy itself uses) and the model's answers in
one batch. Each quote tick is then a lookup, checked against the catalog (time, bid, ask); a
flat tick with no signal is logged as its row number. Any mismatch replays the run into the
incremental :class:`~nautilus_ai.tick_decisions.TickDecider` and continues tick by tick:
correctness first, speed second. Same decisions either way (tested on real ticks).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from nautilus_ai.decision import ACTION_NAMES, DecisionRecord
from nautilus_ai.features.spec import FeatureSpec
from nautilus_ai.models.base import Action, ArrayPredictor, Prediction, Predictor, SignalBatch
from nautilus_ai.tick_decisions import (
    HELD_STALE,
    TickDecider,
    TickModeConfig,
    TickRows,
    tick_decision_rows,
)

__all__ = ["PrecomputedTicks", "precompute_ticks", "replay_ticks"]

_ACTIONS = (Action.HOLD, Action.BUY, Action.SELL)  # by sign (-1 -> last)


class PrecomputedTicks:
    """The catalog's quotes from the run's first tick, their decision rows and signals.

    ``ts`` / ``bid`` / ``ask`` are lists (one read per tick); ``decision_at[i]`` is the decision
    row of quote ``i``, -1 (no decision) or :data:`HELD_STALE` (held: the bar features are
    stale); :attr:`next` is the quote the strategy expects next.
    """

    def __init__(
        self,
        ts: np.ndarray,
        bid: np.ndarray,
        ask: np.ndarray,
        sizes: tuple[np.ndarray, np.ndarray],
        rows: TickRows,
        signals: SignalBatch,
        model_id: str,
        start: int,
        columns: tuple[int, int],
    ) -> None:
        self.ts: list[int] = ts.tolist()
        self.bid: list[float] = bid.tolist()
        self.ask: list[float] = ask.tolist()
        self.n = len(self.ts)
        self.sizes = sizes  # bid and ask sizes (for a replay into the incremental path)
        decision_at = np.full(self.n, -1, dtype=np.int64)
        decision_at[rows.held_stale] = HELD_STALE
        decision_at[rows.tick_index] = np.arange(rows.ts.size)
        self.decision_at: list[int] = decision_at.tolist()
        self.rows = rows
        self.decision_ts: list[int] = rows.ts.tolist()
        self.mid: list[float] = rows.mid.tolist()
        # What the core reads of a decided row's vector (``columns``: atr_close, vol_regime).
        self.atr_close: list[float] = rows.features[:, columns[0]].tolist()
        self.vol_regime: list[float] = rows.features[:, columns[1]].tolist()
        self.sign = signals.sign
        self.confidence = signals.confidence
        self.risk_score = signals.risk_score
        self.reason = signals.reason
        self.model_id = model_id
        self.start = self.next = start

    def release(self) -> None:
        """Let go of the quotes and the decision vectors once the run is over (the records of
        the logged rows stay readable)."""
        self.ts, self.bid, self.ask, self.decision_at = [], [], [], []
        self.sizes = (np.zeros(0), np.zeros(0))
        self.rows = self.rows._replace(features=np.zeros((0, self.rows.features.shape[1])))
        self.n = 0  # (next and start stay: ticks_seen)

    def prediction(self, row: int) -> Prediction:
        """Decision row ``row`` as the model's :class:`Prediction`."""
        return Prediction(
            _ACTIONS[self.sign[row]], self.confidence[row], self.risk_score[row], self.model_id,
            0.0, self.reason[row],
        )  # fmt: skip

    def hold_record(self, row: int) -> DecisionRecord:
        """Decision row ``row`` decided as nothing to do (a ``RowSource`` of the tick log)."""
        return DecisionRecord(
            self.decision_ts[row], ACTION_NAMES[self.sign[row]], self.confidence[row],
            self.risk_score[row], self.model_id, "none", 0.0, False, self.reason[row], None,
            True,
        )  # fmt: skip


def precompute_ticks(
    catalog_path: str | os.PathLike[str],
    instrument_id: str,
    first_tick_ns: int,
    config: TickModeConfig,
    spec: FeatureSpec,
    bar_ts: np.ndarray,
    bar_features: np.ndarray,
    predictor: Predictor,
    ts: int,
    bid: float,
    ask: float,
    ticks_seen: int,
    end_ns: int | None = None,
    bar_ns: int | None = None,
) -> PrecomputedTicks | None:
    """The decision ticks of the catalog's quotes from ``first_tick_ns`` on (to ``end_ns``, the
    run's end, when given: later ticks continue tick by tick), at the strategy's
    first decision tick (``ts``, ``bid``, ``ask``: the ``ticks_seen``-th tick of the run), with
    the model's answers (ticks held on stale bar features for bars of period ``bar_ns``, as
    the incremental path holds them); ``None`` when the model is not a batch-exact
    ArrayPredictor or the catalog's quotes are not the ones the run saw (the caller stays
    incremental)."""
    if not (isinstance(predictor, ArrayPredictor) and getattr(predictor, "batch_exact", False)):
        return None
    from nautilus_ai.data.catalog import read_quotes

    if end_ns is not None and end_ns < first_tick_ns:  # the run ends before: nothing to look up
        return None
    quotes = read_quotes(catalog_path, instrument_id, start_ns=first_tick_ns, end_ns=end_ns)
    now = ticks_seen - 1  # this tick's position in the quotes
    q_ts, q_bid, q_ask = quotes.ts_event, quotes.bid, quotes.ask
    if not (now < q_ts.size and q_ts[now] == ts and q_bid[now] == bid and q_ask[now] == ask):
        return None
    rows = tick_decision_rows(
        config, bar_ts, bar_features, spec, q_ts, q_bid, q_ask, quotes.bid_size,
        quotes.ask_size, bar_ns=bar_ns,
    )  # fmt: skip
    if rows.tick_index.size == 0 or rows.tick_index[0] != now:
        return None  # not the cadence the incremental path is at
    signals = predictor.predict_signals(rows.features)
    return PrecomputedTicks(
        q_ts, q_bid, q_ask, (quotes.bid_size, quotes.ask_size), rows, signals,
        predictor.model_id, now + 1, (spec.index("atr_close"), spec.index("vol_regime")),
    )  # fmt: skip


def replay_ticks(
    decider: TickDecider, bars: Sequence[tuple[int, np.ndarray]], ticks: PrecomputedTicks
) -> None:
    """Bring ``decider`` to the state of the incremental path after the bars delivered so far
    and the quotes before ``ticks.next`` (merged in time order), to continue from there."""
    decider.reset()
    bid_size, ask_size = ticks.sizes
    on_stale, decider.on_stale = decider.on_stale, None  # those ticks were counted on the way
    b = 0
    for i in range(ticks.next):
        t = ticks.ts[i]
        while b < len(bars) and bars[b][0] <= t:
            decider.on_bar(*bars[b])
            b += 1
        decider.on_tick(t, ticks.bid[i], ticks.ask[i], float(bid_size[i]), float(ask_size[i]))
    for bar in bars[b:]:
        decider.on_bar(*bar)
    decider.on_stale = on_stale
