"""Confidence sizer: from one prediction to an order quantity, with every step recorded.

:func:`size_position` turns a model's confidence and risk score, the account state and the market
state into an order quantity (absolute units, a multiple of the lot step, or 0). It is a pure
function of :class:`SizingInputs` and :class:`SizingConfig`; the returned
:class:`SizingDecision` keeps each intermediate step, so a trade log can say why a size is what it
is, and which rule blocked a trade.

The pipeline, in order. The first seven steps work on the *exposure fraction* ``f`` (target
notional / equity); the rest work on units.

1. ``confidence`` - ``f = 0`` below ``min_confidence``; from there
   ``f = base + (full - base) * u ** confidence_exponent`` with
   ``u = (confidence - min_confidence) / (1 - min_confidence)``: ``base_fraction`` at the
   threshold, ``full_fraction`` at confidence 1, monotone non-decreasing in between.
2. ``risk`` - ``f *= confidence * (1 - risk_weight * risk_score)`` (issue 2: "confidence x
   (1 - risk)"). A product of non-negative non-decreasing functions of confidence, so the whole
   map stays monotone in confidence.
3. ``regime`` - ``f *=`` the multiplier for the volatility regime (-1 low, 0 normal, 1 high).
4. ``volatility`` - target-volatility scaling: ``f *= clip(target_volatility / volatility,
   volatility_scale_min, volatility_scale_max)`` with ``volatility = ATR / close``; skipped when
   ``target_volatility`` is ``None``.
5. ``equity`` / ``drawdown`` - equity ``<= 0`` blocks as ``equity`` (an account with nothing
   left, not a drawdown); otherwise, with ``dd = 1 - equity / peak_equity``: 1 up to
   ``drawdown_throttle_start``, then
   ``((max_drawdown - dd) / (max_drawdown - start)) ** drawdown_exponent`` (linear by
   default), 0 at and beyond ``max_drawdown`` (trading stops).
6. ``risk_multiplier`` - ``f *=`` the runtime multiplier (the live control plane's ``set_risk``).
7. ``kelly`` - optional cap ``f <= kelly_multiplier * f_kelly * full_fraction`` with
   ``f_kelly = p - (1 - p) / b`` from the model's measured win rate ``p`` and payoff ratio ``b``.
   The sizer does not know the loss per unit (no stop distance), so the Kelly fraction is read as
   the share of the *full* size the measured edge supports: a heuristic, documented as such.
   Applied only once ``trades >= kelly_min_trades``; no edge (``f_kelly <= 0``) blocks.
8. ``quantity`` - ``q = equity * f / price`` units.
9. ``max_position`` - the resulting position ``current + side * q`` stays within
   ``+-max_position`` units.
10. ``max_equity_share`` - the resulting position's notional / equity stays within the share.
11. ``free_margin`` - the margin for the *added* exposure (``q`` minus the part that only reduces
    an opposite position) times ``margin_rate`` fits the free margin.
12. ``lot_step`` - round down to a multiple of the lot step.
13. ``min_quantity`` - below the minimum trade size the order is dropped.

Every step after the first is a non-negative multiplier, a ``min`` with a constant, a round-down
or a threshold, so the quantity is monotone non-decreasing in confidence with everything else
fixed, never exceeds a cap, and is never negative. Money amounts (equity, free margin) are in the
account currency and ``price`` is the account-currency price of one unit (the quote price when the
account is in the quote currency, as with EUR/USD on a USD account).

The hot path builds plain tuples only; :class:`SizingStep` objects and dicts are built on demand
(:attr:`SizingDecision.steps`, :meth:`SizingDecision.to_dict`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "SizingConfig",
    "SizingDecision",
    "SizingError",
    "SizingInputs",
    "SizingStep",
    "kelly_fraction",
    "size_position",
]

_INF = math.inf


class SizingError(ValueError):
    """Invalid sizing input or configuration; the message names the field and the value."""


class SizingStep(NamedTuple):
    """One step of a sizing decision.

    Parameters
    ----------
    name : str
        The step (``"confidence"``, ``"risk"``, ... ``"min_quantity"``).
    value : float
        The step's own number: a multiplier, a cap (exposure fraction or units), the price, the lot
        step or the minimum quantity. See ``note``.
    size : float
        The running size after the step: exposure fraction (notional / equity) up to ``kelly``,
        units from ``quantity`` on.
    note : str
        What ``value`` is and the rule applied.
    """

    name: str
    value: float
    size: float
    note: str


class SizingInputs(NamedTuple):
    """Everything one sizing decision depends on besides the configuration.

    A named tuple (cheap to build on every signal); :func:`size_position` validates it.

    Parameters
    ----------
    side : int
        +1 to buy, -1 to sell (``Action.sign``).
    confidence : float
        The model's confidence in [0, 1].
    risk_score : float
        The model's risk score in [0, 1].
    price : float
        Price of one unit in the account currency, > 0.
    equity : float
        Account equity (account currency). ``<= 0`` blocks trading.
    peak_equity : float
        Highest equity seen so far (the drawdown reference); values below ``equity`` are read as
        ``equity`` (no drawdown).
    free_margin : float
        Margin available for new exposure (account currency); negative values count as 0.
    current_position : float
        Signed position now, in units (+ long, - short).
    vol_regime : float
        Volatility regime: -1 low, 0 normal, 1 high (the ``vol_regime`` feature; any other
        value is an error).
    volatility : float
        ATR / close (the ``atr_close`` feature), >= 0.
    risk_multiplier : float
        Runtime multiplier set by the control plane, in [0, ``config.max_risk_multiplier``].
    win_rate : float or None
        The model's measured win rate in [0, 1] (for the Kelly cap).
    payoff_ratio : float or None
        Average win / average loss, > 0 (for the Kelly cap).
    trades : int
        How many closed trades ``win_rate`` and ``payoff_ratio`` come from (the Kelly cap needs
        ``config.kelly_min_trades``).
    """

    side: int
    confidence: float
    risk_score: float
    price: float
    equity: float
    peak_equity: float
    free_margin: float
    current_position: float = 0.0
    vol_regime: float = 0.0
    volatility: float = 0.0
    risk_multiplier: float = 1.0
    win_rate: float | None = None
    payoff_ratio: float | None = None
    trades: int = 0


@dataclass(frozen=True, slots=True)
class SizingConfig:
    """Sizer settings; validated on construction (errors name the field and the value).

    Parameters
    ----------
    min_confidence : float
        No trade below this confidence, in [0, 1).
    base_fraction : float
        Exposure fraction (notional / equity) at ``min_confidence``, in (0, ``full_fraction``].
    full_fraction : float
        Exposure fraction at confidence 1, > 0.
    confidence_exponent : float
        Shape of the confidence map (1 = linear, > 1 = convex), > 0.
    risk_weight : float
        How much the risk score cuts the size: factor ``confidence * (1 - w * risk)``, in [0, 1].
    regime_low_multiplier, regime_normal_multiplier, regime_high_multiplier : float
        Multipliers for ``vol_regime`` -1, 0, 1; >= 0.
    target_volatility : float or None
        Reference ATR / close for target-volatility scaling; ``None`` switches it off.
    volatility_scale_min, volatility_scale_max : float
        Clip for the target-volatility factor, ``0 <= min <= max``.
    drawdown_throttle_start : float
        Drawdown (fraction of peak equity) where throttling starts, in [0, ``max_drawdown``).
    max_drawdown : float
        Drawdown at which trading stops, in (0, 1].
    drawdown_exponent : float
        Shape of the throttle between start and max (1 = linear), > 0.
    kelly_multiplier : float or None
        Fractional Kelly (e.g. 0.5 = half Kelly) in (0, 1]; ``None`` switches the cap off.
    kelly_min_trades : int
        Trades needed before the Kelly cap applies, >= 0.
    max_risk_multiplier : float
        Upper bound accepted for the runtime ``risk_multiplier``, > 0.
    max_position : float or None
        Cap on the absolute resulting position, units; ``None`` = no cap.
    max_equity_share : float or None
        Cap on the resulting position's notional / equity; ``None`` = no cap.
    margin_rate : float
        Initial margin per unit of notional (1/30 for 30:1), in [0, 1]; 0 skips the check.
    lot_step : float
        Quantities are rounded down to a multiple of this, > 0.
    min_quantity : float
        Smallest order sent (units), >= 0; smaller orders become 0.
    """

    min_confidence: float = 0.55
    base_fraction: float = 0.25
    full_fraction: float = 1.0
    confidence_exponent: float = 1.0
    risk_weight: float = 1.0
    regime_low_multiplier: float = 1.0
    regime_normal_multiplier: float = 1.0
    regime_high_multiplier: float = 0.5
    target_volatility: float | None = None
    volatility_scale_min: float = 0.25
    volatility_scale_max: float = 1.0
    drawdown_throttle_start: float = 0.05
    max_drawdown: float = 0.20
    drawdown_exponent: float = 1.0
    kelly_multiplier: float | None = None
    kelly_min_trades: int = 30
    max_risk_multiplier: float = 2.0
    max_position: float | None = None
    max_equity_share: float | None = 2.0
    margin_rate: float = 1.0 / 30.0
    lot_step: float = 1000.0
    min_quantity: float = 1000.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SizingError(f"SizingConfig.{f.name} must be a number, was {value!r}")
            if not math.isfinite(value):
                raise SizingError(f"SizingConfig.{f.name} must be finite, was {value!r}")
        _check_range("min_confidence", self.min_confidence, 0.0, 1.0, hi_open=True)
        _check_positive("full_fraction", self.full_fraction)
        _check_range("base_fraction", self.base_fraction, 0.0, self.full_fraction, lo_open=True)
        _check_positive("confidence_exponent", self.confidence_exponent)
        _check_range("risk_weight", self.risk_weight, 0.0, 1.0)
        for name in ("regime_low_multiplier", "regime_normal_multiplier", "regime_high_multiplier"):
            _check_range(name, getattr(self, name), 0.0, _INF)
        if self.target_volatility is not None:
            _check_positive("target_volatility", self.target_volatility)
        _check_range("volatility_scale_min", self.volatility_scale_min, 0.0, _INF)
        _check_range(
            "volatility_scale_max", self.volatility_scale_max, self.volatility_scale_min, _INF
        )
        _check_range("max_drawdown", self.max_drawdown, 0.0, 1.0, lo_open=True)
        _check_range(
            "drawdown_throttle_start",
            self.drawdown_throttle_start,
            0.0,
            self.max_drawdown,
            hi_open=True,
        )
        _check_positive("drawdown_exponent", self.drawdown_exponent)
        if self.kelly_multiplier is not None:
            _check_range("kelly_multiplier", self.kelly_multiplier, 0.0, 1.0, lo_open=True)
        if not isinstance(self.kelly_min_trades, int) or self.kelly_min_trades < 0:
            raise SizingError(
                f"SizingConfig.kelly_min_trades must be an integer >= 0, "
                f"was {self.kelly_min_trades!r}"
            )
        _check_positive("max_risk_multiplier", self.max_risk_multiplier)
        if self.max_position is not None:
            _check_positive("max_position", self.max_position)
        if self.max_equity_share is not None:
            _check_positive("max_equity_share", self.max_equity_share)
        _check_range("margin_rate", self.margin_rate, 0.0, 1.0)
        _check_positive("lot_step", self.lot_step)
        _check_range("min_quantity", self.min_quantity, 0.0, _INF)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SizingConfig:
        """Build from a JSON-like mapping; unknown keys are an error naming them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SizingError(
                f"SizingConfig: unknown field(s) {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**data)  # type: ignore[arg-type]  # types are checked in __post_init__

    def replace(self, **changes: float | int | None) -> SizingConfig:
        """A copy with ``changes`` applied, validated like a new config (the live control plane
        uses it for ``set_risk``)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise SizingError(f"SizingConfig: unknown field(s) {', '.join(map(repr, unknown))}")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain JSON-ready dict (round-trips through :meth:`from_dict`)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _check_range(
    name: str,
    value: float,
    lo: float,
    hi: float,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> None:
    ok_lo = value > lo if lo_open else value >= lo
    ok_hi = value < hi if hi_open else value <= hi
    if not (ok_lo and ok_hi):
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        raise SizingError(f"SizingConfig.{name} must be in {left}{lo}, {hi}{right}, was {value!r}")


def _check_positive(name: str, value: float) -> None:
    if not value > 0.0:
        raise SizingError(f"SizingConfig.{name} must be > 0, was {value!r}")


_RawStep = tuple[str, float, float, str]


@dataclass(frozen=True, slots=True)
class SizingDecision:
    """The result of :func:`size_position`.

    Parameters
    ----------
    quantity : float
        Order quantity in units, >= 0: a multiple of the lot step, or 0.
    side : int
        +1 buy, -1 sell (as given); 0 only from :meth:`blocked`.
    blocked_by : str or None
        Name of the step that made the quantity 0 (``None`` when ``quantity > 0``).
    fraction : float
        Exposure fraction (notional / equity) targeted before the unit constraints.
    raw_steps : tuple
        The steps as plain ``(name, value, size, note)`` tuples; see :attr:`steps`. Steps after
        the blocking one are not evaluated and not recorded.
    """

    quantity: float
    side: int
    blocked_by: str | None
    fraction: float
    raw_steps: tuple[_RawStep, ...]

    @classmethod
    def blocked(cls, reason: str, side: int = 0) -> SizingDecision:
        """A zero-quantity decision made outside :func:`size_position` (e.g. a sizing error the
        caller caught); ``blocked_by`` is ``reason``, and no steps are recorded."""
        return cls(0.0, side, reason or "blocked", 0.0, ())

    @property
    def steps(self) -> tuple[SizingStep, ...]:
        """The intermediate steps, in order."""
        return tuple(SizingStep(*step) for step in self.raw_steps)

    @property
    def signed_quantity(self) -> float:
        """``side * quantity``: the change in position this order makes."""
        return self.side * self.quantity

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (for trade tags, logs and the feature log)."""
        return {
            "quantity": self.quantity,
            "side": self.side,
            "blocked_by": self.blocked_by,
            "fraction": self.fraction,
            "steps": [
                {"name": name, "value": value, "size": size, "note": note}
                for name, value, size, note in self.raw_steps
            ],
        }


def kelly_fraction(win_rate: float, payoff_ratio: float) -> float:
    """Full Kelly fraction ``p - (1 - p) / b`` (may be negative: no edge).

    Parameters
    ----------
    win_rate : float
        Probability of a winning trade, in [0, 1].
    payoff_ratio : float
        Average win / average loss, > 0.
    """
    if not (0.0 <= win_rate <= 1.0):
        raise SizingError(f"win_rate must be in [0, 1], was {win_rate!r}")
    if not (0.0 < payoff_ratio < _INF):
        raise SizingError(f"payoff_ratio must be a finite number > 0, was {payoff_ratio!r}")
    return win_rate - (1.0 - win_rate) / payoff_ratio


# Notes are constants: formatting numbers into strings on every bar would cost more than the
# arithmetic. The numbers are in the step's value and size.
_N_BELOW = "confidence below min_confidence: no trade"
_N_CONF = "exposure fraction from confidence: base at min_confidence .. full at 1"
_N_RISK = "multiplier confidence * (1 - risk_weight * risk_score)"
_N_REGIME = "multiplier for vol_regime (-1 low, 0 normal, 1 high)"
_N_VOL = "multiplier clip(target_volatility / volatility, scale_min, scale_max)"
_N_VOL_OFF = "target-volatility scaling off (multiplier 1)"
_N_EQUITY = "equity <= 0: no trade"
_N_DD = "drawdown throttle multiplier (0 at max_drawdown)"
_N_MULT = "runtime risk_multiplier"
_N_KELLY = "cap on exposure fraction: kelly_multiplier * (p - (1-p)/b) * full_fraction"
_N_KELLY_OFF = "Kelly cap off (no kelly_multiplier)"
_N_KELLY_NO_STATS = "Kelly cap not applied: no win_rate/payoff_ratio or too few trades"
_N_QTY = "units = equity * fraction / price (value: price)"
_N_MAXPOS = "cap in units so |current + side * q| <= max_position"
_N_SHARE = "cap in units so |current + side * q| * price / equity <= max_equity_share"
_N_MARGIN = "cap in units: reducing part + free_margin / (price * margin_rate)"
_N_LOT = "rounded down to a multiple of lot_step (value: lot_step)"
_N_MIN = "orders below min_quantity dropped (value: min_quantity)"


def size_position(inputs: SizingInputs, config: SizingConfig) -> SizingDecision:
    """Size one order; see the module docstring for the steps.

    Parameters
    ----------
    inputs : SizingInputs
        The prediction, account and market state.
    config : SizingConfig
        Sizer settings.

    Returns
    -------
    SizingDecision
        ``quantity`` in units (>= 0, a multiple of ``config.lot_step`` or 0), the steps, and
        ``blocked_by`` naming the step that made it 0.

    Raises
    ------
    SizingError
        An input is NaN, infinite or out of range (the message names it).
    """
    (
        side,
        confidence,
        risk_score,
        price,
        equity,
        peak_equity,
        free_margin,
        position,
        vol_regime,
        volatility,
        risk_multiplier,
        win_rate,
        payoff_ratio,
        trades,
    ) = inputs
    # Validation: comparisons are False for NaN, so each check also rejects NaN.
    if side != 1 and side != -1:
        raise SizingError(f"side must be +1 (buy) or -1 (sell), was {side!r}")
    if not (0.0 <= confidence <= 1.0):
        raise SizingError(f"confidence must be in [0, 1], was {confidence!r}")
    if not (0.0 <= risk_score <= 1.0):
        raise SizingError(f"risk_score must be in [0, 1], was {risk_score!r}")
    if not (0.0 < price < _INF):
        raise SizingError(f"price must be a finite number > 0, was {price!r}")
    if not (-_INF < equity < _INF):
        raise SizingError(f"equity must be finite, was {equity!r}")
    if not (-_INF < peak_equity < _INF):
        raise SizingError(f"peak_equity must be finite, was {peak_equity!r}")
    if not (-_INF < free_margin < _INF):
        raise SizingError(f"free_margin must be finite, was {free_margin!r}")
    if not (-_INF < position < _INF):
        raise SizingError(f"current_position must be finite, was {position!r}")
    if vol_regime != 0 and vol_regime != 1 and vol_regime != -1:
        raise SizingError(f"vol_regime must be -1, 0 or 1, was {vol_regime!r}")
    if not (0.0 <= volatility < _INF):
        raise SizingError(f"volatility must be a finite number >= 0, was {volatility!r}")
    if not (0.0 <= risk_multiplier <= config.max_risk_multiplier):
        raise SizingError(
            f"risk_multiplier must be in [0, {config.max_risk_multiplier}] "
            f"(SizingConfig.max_risk_multiplier), was {risk_multiplier!r}"
        )
    if win_rate is not None and not (0.0 <= win_rate <= 1.0):
        raise SizingError(f"win_rate must be in [0, 1] or None, was {win_rate!r}")
    if payoff_ratio is not None and not (0.0 < payoff_ratio < _INF):
        raise SizingError(f"payoff_ratio must be a finite number > 0 or None, was {payoff_ratio!r}")
    if not (trades >= 0):
        raise SizingError(f"trades must be >= 0, was {trades!r}")

    steps: list[_RawStep] = []
    append = steps.append

    # 1. confidence -> exposure fraction
    min_conf = config.min_confidence
    if confidence < min_conf:
        append(("confidence", 0.0, 0.0, _N_BELOW))
        return SizingDecision(0.0, side, "confidence", 0.0, tuple(steps))
    u = (confidence - min_conf) / (1.0 - min_conf)
    exponent = config.confidence_exponent
    if exponent != 1.0:
        u = u**exponent
    base = config.base_fraction
    fraction = base + (config.full_fraction - base) * u
    append(("confidence", fraction, fraction, _N_CONF))

    # 2. risk
    factor = confidence * (1.0 - config.risk_weight * risk_score)
    fraction *= factor
    append(("risk", factor, fraction, _N_RISK))
    if fraction <= 0.0:
        return SizingDecision(0.0, side, "risk", 0.0, tuple(steps))

    # 3. regime
    if vol_regime == 1:
        factor = config.regime_high_multiplier
    elif vol_regime == -1:
        factor = config.regime_low_multiplier
    else:
        factor = config.regime_normal_multiplier
    fraction *= factor
    append(("regime", factor, fraction, _N_REGIME))
    if fraction <= 0.0:
        return SizingDecision(0.0, side, "regime", 0.0, tuple(steps))

    # 4. target volatility
    target = config.target_volatility
    if target is None:
        append(("volatility", 1.0, fraction, _N_VOL_OFF))
    else:
        hi = config.volatility_scale_max
        factor = (
            hi
            if volatility <= 0.0
            else min(max(target / volatility, config.volatility_scale_min), hi)
        )
        fraction *= factor
        append(("volatility", factor, fraction, _N_VOL))
        if fraction <= 0.0:
            return SizingDecision(0.0, side, "volatility", 0.0, tuple(steps))

    # 5. equity, then drawdown
    if equity <= 0.0:
        append(("equity", equity, 0.0, _N_EQUITY))
        return SizingDecision(0.0, side, "equity", 0.0, tuple(steps))
    drawdown = 0.0 if peak_equity <= equity else 1.0 - equity / peak_equity
    max_dd = config.max_drawdown
    if drawdown >= max_dd:
        append(("drawdown", 0.0, 0.0, _N_DD))
        return SizingDecision(0.0, side, "drawdown", 0.0, tuple(steps))
    start = config.drawdown_throttle_start
    if drawdown <= start:
        factor = 1.0
    else:
        factor = (max_dd - drawdown) / (max_dd - start)
        if config.drawdown_exponent != 1.0:
            factor = factor**config.drawdown_exponent
    fraction *= factor
    append(("drawdown", factor, fraction, _N_DD))

    # 6. runtime multiplier
    fraction *= risk_multiplier
    append(("risk_multiplier", risk_multiplier, fraction, _N_MULT))
    if fraction <= 0.0:
        return SizingDecision(0.0, side, "risk_multiplier", 0.0, tuple(steps))

    # 7. Kelly cap
    kelly_mult = config.kelly_multiplier
    if kelly_mult is None:
        append(("kelly", fraction, fraction, _N_KELLY_OFF))
    elif win_rate is None or payoff_ratio is None or trades < config.kelly_min_trades:
        append(("kelly", fraction, fraction, _N_KELLY_NO_STATS))
    else:
        cap = kelly_mult * (win_rate - (1.0 - win_rate) / payoff_ratio) * config.full_fraction
        if cap <= 0.0:
            append(("kelly", cap, 0.0, _N_KELLY))
            return SizingDecision(0.0, side, "kelly", 0.0, tuple(steps))
        if cap < fraction:
            fraction = cap
        append(("kelly", cap, fraction, _N_KELLY))

    # 8. units
    quantity = equity * fraction / price
    append(("quantity", price, quantity, _N_QTY))
    toward = side * position  # > 0: adding to a same-side position; < 0: reducing the opposite

    # 9-11. caps on the resulting position and on the margin used
    max_position = config.max_position
    if max_position is not None:
        cap = max_position - toward
        if cap < quantity:
            quantity = cap if cap > 0.0 else 0.0
        append(("max_position", cap, quantity, _N_MAXPOS))
        if quantity <= 0.0:
            return SizingDecision(0.0, side, "max_position", fraction, tuple(steps))
    share = config.max_equity_share
    if share is not None:
        cap = share * equity / price - toward
        if cap < quantity:
            quantity = cap if cap > 0.0 else 0.0
        append(("max_equity_share", cap, quantity, _N_SHARE))
        if quantity <= 0.0:
            return SizingDecision(0.0, side, "max_equity_share", fraction, tuple(steps))
    margin_rate = config.margin_rate
    if margin_rate > 0.0:
        cap = (-toward if toward < 0.0 else 0.0) + (
            free_margin / (price * margin_rate) if free_margin > 0.0 else 0.0
        )
        if cap < quantity:
            quantity = cap
        append(("free_margin", cap, quantity, _N_MARGIN))
        if quantity <= 0.0:
            return SizingDecision(0.0, side, "free_margin", fraction, tuple(steps))

    # 12. lot step (down), 13. minimum size
    if not quantity < _INF:  # a subnormal price or a huge equity with no cap left
        raise SizingError(
            f"quantity: equity {equity!r} x fraction {fraction!r} / price {price!r} is not finite"
        )
    lot = config.lot_step
    lots = math.floor(quantity / lot + 1e-9)  # the epsilon keeps exact multiples exact ...
    if lots * lot > quantity:  # ... and this keeps rounding down a round-down
        lots -= 1
    quantity = lots * lot
    append(("lot_step", lot, quantity, _N_LOT))
    if quantity <= 0.0:
        return SizingDecision(0.0, side, "lot_step", fraction, tuple(steps))
    if quantity < config.min_quantity:
        append(("min_quantity", config.min_quantity, 0.0, _N_MIN))
        return SizingDecision(0.0, side, "min_quantity", fraction, tuple(steps))
    append(("min_quantity", config.min_quantity, quantity, _N_MIN))
    return SizingDecision(quantity, side, None, fraction, tuple(steps))
