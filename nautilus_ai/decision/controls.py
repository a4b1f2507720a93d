"""The live risk controls: one frozen object, changed with one :meth:`RiskControls.replace`.

``min_confidence`` lives here and nowhere else: the policy's and the sizer's thresholds are
derived from it by :class:`~nautilus_ai.decision.core.DecisionCore` whenever the controls change.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

__all__ = ["RiskControls"]


@dataclass(frozen=True, slots=True)
class RiskControls:
    """What an operator may change while the strategy runs.

    Parameters
    ----------
    paused : bool
        No new entries (open positions keep their exits).
    min_confidence : float
        Signals below this confidence count as no signal and size to zero; in [0, 1].
    max_position : float or None
        Cap on the absolute position (units) over the sizing config's own; ``None``: the
        sizing config's ``max_position``.
    risk_multiplier : float
        Scale on the sizer's output, >= 0 (its upper bound is the sizing config's
        ``max_risk_multiplier``, checked by the core).
    """

    paused: bool = False
    min_confidence: float = 0.55
    max_position: float | None = None
    risk_multiplier: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.paused, bool):
            raise ValueError(f"paused must be a bool, was {self.paused!r}")
        if not (0.0 <= self.min_confidence < 1.0):  # also NaN; the sizer needs room above it
            raise ValueError(f"min_confidence must be in [0, 1), was {self.min_confidence!r}")
        if self.max_position is not None and not (
            self.max_position >= 0.0 and math.isfinite(self.max_position)
        ):
            raise ValueError(f"max_position must be >= 0, was {self.max_position!r}")
        if not (0.0 <= self.risk_multiplier < math.inf):
            raise ValueError(f"risk_multiplier must be >= 0, was {self.risk_multiplier!r}")

    def replace(self, **changes: Any) -> RiskControls:
        """A copy with ``changes`` applied, validated like a new one (an unknown field, a
        value out of range: ``ValueError`` naming it)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"RiskControls: unknown field(s) {', '.join(map(repr, unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "paused": self.paused,
            "min_confidence": self.min_confidence,
            "max_position": self.max_position,
            "risk_multiplier": self.risk_multiplier,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RiskControls:
        return cls(
            paused=bool(data["paused"]),
            min_confidence=float(data["min_confidence"]),
            max_position=None if data["max_position"] is None else float(data["max_position"]),
            risk_multiplier=float(data["risk_multiplier"]),
        )
