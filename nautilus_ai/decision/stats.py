"""Per-model outcome statistics: wins, losses and their sizes (what Kelly sizing reads)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["KellyInputs", "ModelStats"]


class KellyInputs(NamedTuple):
    """``win_rate`` / ``payoff_ratio`` (``None`` until known) and the trades they come from."""

    win_rate: float | None
    payoff_ratio: float | None
    trades: int


_NONE = KellyInputs(None, None, 0)


class ModelStats:
    """Closed-position outcomes per model id."""

    __slots__ = ("_by_model",)

    def __init__(self) -> None:
        self._by_model: dict[str, list[float]] = {}  # model -> [wins, losses, gross w, gross l]

    def record(self, model_id: str, pnl: float) -> None:
        """One closed position's realised PnL (0 counts as neither win nor loss)."""
        stats = self._by_model.setdefault(model_id, [0.0, 0.0, 0.0, 0.0])
        if pnl > 0:
            stats[0] += 1
            stats[2] += pnl
        elif pnl < 0:
            stats[1] += 1
            stats[3] += -pnl

    def kelly_inputs(self, model_id: str) -> KellyInputs:
        stats = self._by_model.get(model_id)
        if stats is None:
            return _NONE
        wins, losses, gross_win, gross_loss = stats
        trades = wins + losses
        return KellyInputs(
            wins / trades if trades else None,
            (gross_win / wins) / (gross_loss / losses) if wins and losses and gross_loss else None,
            int(trades),
        )

    def win_rates(self) -> dict[str, float]:
        """Win rate of closed positions per model id (models with a decided trade)."""
        return {
            model: wins / (wins + losses)
            for model, (wins, losses, _, _) in self._by_model.items()
            if wins + losses > 0
        }
