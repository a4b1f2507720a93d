"""DecisionTiming: a strategy's :class:`~nautilus_ai.models.DecisionScheduler` (simulated
latency, a deadline, off-loop predictions) and the feature rows its requests were made with.

A decision for bar ``t`` may be applied on a later bar; a decision sink (the feature logger)
must then get bar ``t``'s vector, the one the model saw, so a logged snapshot and the position
it opened (keyed by ``decision_ts``) agree.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nautilus_ai.models import DecisionScheduler, MarketContext, Prediction, Predictor
from nautilus_ai.models.latency import LatencyModel
from nautilus_ai.models.scheduler import ScheduledDecision, SchedulerStats

__all__ = ["DecisionTiming"]


class DecisionTiming:
    """Requests go in with :meth:`request`; the decisions ready now come back."""

    def __init__(self, scheduler: DecisionScheduler) -> None:
        self.scheduler = scheduler
        self._rows: dict[int, np.ndarray] = {}  # decision bar -> the features it saw

    @classmethod
    def build(
        cls,
        predictor: Predictor,
        *,
        latency: LatencyModel | None,
        deadline_ms: float | None,
        live: bool,
        clock: Callable[[], int],
    ) -> DecisionTiming | None:
        """A timing for these options, or ``None`` when none is set (decide inline)."""
        if latency is None and not deadline_ms and not live:
            return None
        return cls(
            DecisionScheduler(
                predictor,
                mode="live" if live else "backtest",
                latency_model=latency,
                # >= 1 ns: under half a ns rounded to 0, which the scheduler refuses
                deadline_ns=max(1, round(deadline_ms * 1e6)) if deadline_ms else None,
                clock=clock,
            )
        )

    @property
    def stats(self) -> SchedulerStats:
        return self.scheduler.stats

    def request(
        self,
        ts: int,
        row: np.ndarray,
        precomputed: Prediction | None,
        context: Callable[[int], MarketContext],
        *,
        keep_row: bool,
    ) -> list[ScheduledDecision]:
        """Ask for bar ``ts``'s decision (``precomputed``: already known); returns the
        decisions due now. ``keep_row``: remember ``row`` for :meth:`decision_input`."""
        if precomputed is not None:
            self.scheduler.submit_prediction(ts, precomputed)
        else:
            self.scheduler.submit(ts, row, context(ts))
        if keep_row:
            self._rows[ts] = row.copy()
        return self.scheduler.poll(ts)

    def decision_input(
        self, ts: int, row: np.ndarray, decision_ts: int | None
    ) -> tuple[int, np.ndarray]:
        """The bar a decision was made for and the feature vector the model saw."""
        if decision_ts is None or decision_ts == ts:
            self._rows.pop(ts, None)
            return ts, row
        rows = self._rows
        seen = rows.pop(decision_ts, row)
        for old in [t for t in rows if t < decision_ts]:  # requests never applied
            del rows[old]
        return decision_ts, seen

    def clear(self) -> None:
        self._rows.clear()

    def close(self) -> None:
        self.scheduler.close()
