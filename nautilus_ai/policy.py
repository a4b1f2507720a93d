"""Trade policy: from a prediction and the current position to what the strategy should do.

Pure and tiny on purpose: the strategy asks :func:`decide` on every bar with a prediction, and
only translates the answer into Nautilus orders. Sizing is a separate step
(:mod:`nautilus_ai.sizing`) applied to ``ENTER`` and ``REVERSE`` intents.

Rules, in order:

1. ``paused``: no new entries. An open position is kept (its stop-loss / take-profit still
   work); an opposite signal may still close it when ``exit_on_opposite_when_paused``.
2. A position held for ``max_holding_bars`` or more is closed (``EXIT_TIMEOUT``).
3. The signal: ``buy`` / ``sell`` with ``confidence >= min_confidence`` is a target side;
   anything else (hold, or too little confidence) is no target.
4. No target: keep the position, unless ``exit_on_hold`` (then ``EXIT``).
5. Target equals the current side: keep (no pyramiding).
6. Target opposite the current side: ``REVERSE`` (close and enter the other way) when
   ``reverse_on_opposite``, else ``EXIT`` (flatten and wait for the next signal).
7. Flat and a target: ``ENTER``.
"""

from __future__ import annotations

import enum
import numbers
from dataclasses import dataclass

from nautilus_ai.models.base import Action

__all__ = ["Intent", "PolicyConfig", "decide", "decide_sign"]


class Intent(enum.Enum):
    """What the strategy should do on this bar."""

    NONE = "none"
    ENTER = "enter"
    EXIT = "exit"
    EXIT_TIMEOUT = "exit_timeout"
    REVERSE = "reverse"


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """How signals turn into intents.

    Parameters
    ----------
    min_confidence : float
        Signals below this confidence count as no signal. In [0, 1].
    reverse_on_opposite : bool
        On an opposite signal, reverse (True) or only flatten (False).
    exit_on_hold : bool
        Close an open position when the model says hold (or is not confident enough).
    max_holding_bars : int | None
        Close a position held this many bars; ``None`` for no limit.
    exit_on_opposite_when_paused : bool
        While paused, still close a position on an opposite signal (never opens one).
    """

    min_confidence: float = 0.55
    reverse_on_opposite: bool = True
    exit_on_hold: bool = False
    max_holding_bars: int | None = None
    exit_on_opposite_when_paused: bool = True

    def __post_init__(self) -> None:
        # types first: a str flag such as "no" is truthy (it reversed positions), a float or
        # bool max_holding_bars counted bars against 2.5 or True
        for name in ("reverse_on_opposite", "exit_on_hold", "exit_on_opposite_when_paused"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, was {getattr(self, name)!r}")
        confidence = self.min_confidence
        if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
            raise ValueError(f"min_confidence must be a number in [0, 1], was {confidence!r}")
        holding = self.max_holding_bars
        if holding is not None and (
            isinstance(holding, bool) or not isinstance(holding, numbers.Integral)
        ):
            raise ValueError(f"max_holding_bars must be an int >= 1 or None, was {holding!r}")
        if not (0.0 <= self.min_confidence <= 1.0):
            raise ValueError(f"min_confidence must be in [0, 1], was {self.min_confidence!r}")
        if self.max_holding_bars is not None and self.max_holding_bars < 1:
            raise ValueError(
                f"max_holding_bars must be >= 1 or None, was {self.max_holding_bars!r}"
            )


def decide(
    action: Action,
    confidence: float,
    position_side: int,
    bars_held: int,
    paused: bool,
    config: PolicyConfig,
) -> tuple[Intent, int]:
    """Return ``(intent, side)``: what to do, and the side (+1 / -1) to enter for ENTER/REVERSE.

    Parameters
    ----------
    action, confidence
        The prediction.
    position_side : int
        Sign of the current position: +1 long, -1 short, 0 flat.
    bars_held : int
        Bars since the current position was opened (ignored when flat).
    paused : bool
        The control plane's pause flag.
    config : PolicyConfig
    """
    return decide_sign(action.sign, confidence, position_side, bars_held, paused, config)


def decide_sign(
    sign: int,
    confidence: float,
    position_side: int,
    bars_held: int,
    paused: bool,
    config: PolicyConfig,
) -> tuple[Intent, int]:
    """:func:`decide` with the action as its sign (+1 buy, -1 sell, 0 hold): what the
    precomputed signal arrays hold."""
    if position_side not in (-1, 0, 1):
        raise ValueError(f"position_side must be -1, 0 or 1, was {position_side!r}")
    if sign not in (-1, 0, 1):  # a signal of 2 was entered as side 2
        raise ValueError(f"sign must be -1, 0 or 1, was {sign!r}")
    target = sign if confidence >= config.min_confidence else 0

    timed_out = config.max_holding_bars is not None and bars_held >= config.max_holding_bars
    if position_side != 0 and timed_out:
        return Intent.EXIT_TIMEOUT, 0

    if paused:
        if position_side != 0 and target == -position_side and config.exit_on_opposite_when_paused:
            return Intent.EXIT, 0
        return Intent.NONE, 0

    if target == 0:
        if position_side != 0 and config.exit_on_hold:
            return Intent.EXIT, 0
        return Intent.NONE, 0
    if target == position_side:
        return Intent.NONE, 0
    if position_side == 0:
        return Intent.ENTER, target
    if config.reverse_on_opposite:
        return Intent.REVERSE, target
    return Intent.EXIT, 0
