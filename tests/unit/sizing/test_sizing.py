"""Confidence sizer: worked example, validation, and properties (hypothesis)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from nautilus_ai.sizing import (
    SizingConfig,
    SizingDecision,
    SizingError,
    SizingInputs,
    SizingStep,
    kelly_fraction,
    size_position,
)

# A config with every cap in play and small lots, so properties exercise all steps.
CAPPED = SizingConfig(
    min_confidence=0.55,
    base_fraction=0.25,
    full_fraction=3.0,
    target_volatility=1e-4,
    max_position=250_000.0,
    max_equity_share=4.0,
    margin_rate=0.05,
    lot_step=1000.0,
    min_quantity=2000.0,
    kelly_multiplier=0.5,
    kelly_min_trades=10,
)


def _inputs(**overrides: object) -> SizingInputs:
    base = SizingInputs(
        side=1,
        confidence=0.8,
        risk_score=0.2,
        price=1.1,
        equity=100_000.0,
        peak_equity=100_000.0,
        free_margin=100_000.0,
    )
    return base._replace(**overrides)


def test_worked_example_every_step() -> None:
    config = SizingConfig(
        min_confidence=0.5,
        base_fraction=0.5,
        full_fraction=1.0,
        target_volatility=2e-4,
        max_equity_share=None,
        margin_rate=0.0,
        lot_step=1000.0,
        min_quantity=1000.0,
    )
    inputs = _inputs(
        confidence=0.75,
        risk_score=0.5,
        vol_regime=1,
        volatility=4e-4,
        equity=90_000.0,
        peak_equity=100_000.0,  # 10% drawdown: throttle (0.20 - 0.10) / (0.20 - 0.05) = 2/3
        risk_multiplier=1.5,
        price=1.25,
    )
    decision = size_position(inputs, config)
    steps = {step.name: step for step in decision.steps}
    assert steps["confidence"].value == pytest.approx(0.75)  # 0.5 + 0.5 * 0.5
    assert steps["risk"].value == pytest.approx(0.75 * 0.5)
    assert steps["regime"].value == pytest.approx(0.5)
    assert steps["volatility"].value == pytest.approx(0.5)
    assert steps["drawdown"].value == pytest.approx(2 / 3)
    assert steps["risk_multiplier"].value == pytest.approx(1.5)
    fraction = 0.75 * 0.375 * 0.5 * 0.5 * (2 / 3) * 1.5
    assert decision.fraction == pytest.approx(fraction)
    units = 90_000.0 * fraction / 1.25
    assert steps["quantity"].size == pytest.approx(units)
    assert decision.quantity == math.floor(units / 1000.0) * 1000.0 == 5_000.0
    assert decision.blocked_by is None
    assert decision.signed_quantity == 5_000.0
    assert [s.name for s in decision.steps] == [
        "confidence",
        "risk",
        "regime",
        "volatility",
        "drawdown",
        "risk_multiplier",
        "kelly",
        "quantity",
        "lot_step",
        "min_quantity",
    ]
    payload = decision.to_dict()
    json.dumps(payload)
    assert payload["quantity"] == 5_000.0
    assert isinstance(decision.steps[0], SizingStep)


def test_sell_side_signed_quantity() -> None:
    decision = size_position(_inputs(side=-1), SizingConfig())
    assert decision.quantity > 0
    assert decision.signed_quantity == -decision.quantity


@pytest.mark.parametrize(
    ("overrides", "blocked_by"),
    [
        ({"confidence": 0.5}, "confidence"),
        ({"risk_score": 1.0}, "risk"),
        ({"equity": 79_000.0, "peak_equity": 100_000.0}, "drawdown"),
        # An account with nothing left is not a drawdown: the step is named for what it is.
        ({"equity": -5.0}, "equity"),
        ({"equity": 0.0, "peak_equity": 100_000.0}, "equity"),
        ({"risk_multiplier": 0.0}, "risk_multiplier"),
        ({"free_margin": 0.0}, "free_margin"),
        ({"free_margin": -10.0}, "free_margin"),
        ({"equity": 500.0, "peak_equity": 500.0}, "lot_step"),
        ({"equity": 3_500.0, "peak_equity": 3_500.0}, "min_quantity"),
        ({"current_position": 2_000_000.0}, "max_equity_share"),
    ],
)
def test_blocked_by_names_the_step(overrides: dict[str, object], blocked_by: str) -> None:
    config = SizingConfig(min_quantity=2000.0, regime_high_multiplier=0.0)
    decision = size_position(_inputs(**overrides), config)
    assert decision.quantity == 0.0
    assert decision.blocked_by == blocked_by
    assert decision.steps[-1].name == blocked_by


def test_regime_multiplier_zero_blocks() -> None:
    decision = size_position(_inputs(vol_regime=1), SizingConfig(regime_high_multiplier=0.0))
    assert (decision.quantity, decision.blocked_by) == (0.0, "regime")


def test_max_position_counts_current_position_and_side() -> None:
    config = SizingConfig(max_position=100_000.0, max_equity_share=None, margin_rate=0.0)
    big = _inputs(confidence=1.0, risk_score=0.0)
    assert size_position(big._replace(current_position=100_000.0), config).blocked_by == (
        "max_position"
    )
    # Long 60k: at most 40k more on the buy side ...
    assert size_position(big._replace(current_position=60_000.0), config).quantity == 40_000.0
    # ... but a sell may go through the long to 100k short: 160k (the size wants ~91k here).
    sell = size_position(big._replace(side=-1, current_position=60_000.0), config)
    assert sell.quantity == 90_000.0


def test_free_margin_lets_the_reducing_part_through() -> None:
    config = SizingConfig(max_equity_share=None, margin_rate=0.5)
    inputs = _inputs(confidence=1.0, risk_score=0.0, price=1.0, free_margin=0.0)
    assert size_position(inputs, config).blocked_by == "free_margin"
    # Short 30k, no free margin: a buy of up to 30k only reduces the short, needing no margin.
    decision = size_position(inputs._replace(current_position=-30_000.0), config)
    assert decision.quantity == 30_000.0


def test_kelly_cap() -> None:
    config = SizingConfig(kelly_multiplier=0.5, kelly_min_trades=20, max_equity_share=None)
    inputs = _inputs(confidence=1.0, risk_score=0.0, win_rate=0.55, payoff_ratio=1.0)
    # Too few trades: not applied.
    free = size_position(inputs._replace(trades=5), config)
    assert {s.name: s for s in free.steps}["kelly"].value == pytest.approx(free.fraction)
    capped = size_position(inputs._replace(trades=50), config)
    assert capped.fraction == pytest.approx(0.5 * 0.1 * 1.0)
    assert capped.quantity < free.quantity
    no_edge = size_position(inputs._replace(trades=50, win_rate=0.4), config)
    assert (no_edge.quantity, no_edge.blocked_by) == (0.0, "kelly")


def test_kelly_fraction_formula_and_validation() -> None:
    assert kelly_fraction(0.6, 1.0) == pytest.approx(0.2)
    assert kelly_fraction(0.5, 2.0) == pytest.approx(0.25)
    with pytest.raises(SizingError, match="win_rate"):
        kelly_fraction(1.5, 1.0)
    with pytest.raises(SizingError, match="payoff_ratio"):
        kelly_fraction(0.5, 0.0)


def test_target_volatility_scales_down_when_volatile() -> None:
    config = SizingConfig(target_volatility=1e-4, max_equity_share=None, lot_step=1.0)
    calm = size_position(_inputs(volatility=5e-5), config)
    wild = size_position(_inputs(volatility=4e-4), config)
    assert calm.steps[3].value == 1.0  # clipped at volatility_scale_max
    assert wild.steps[3].value == pytest.approx(0.25)
    assert wild.quantity < calm.quantity
    zero = size_position(_inputs(volatility=0.0), config)
    assert zero.steps[3].value == 1.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("side", 0),
        ("side", 2),
        ("confidence", math.nan),
        ("confidence", 1.5),
        ("confidence", -0.1),
        ("risk_score", math.nan),
        ("risk_score", 2.0),
        ("price", 0.0),
        ("price", math.inf),
        ("price", math.nan),
        ("equity", math.nan),
        ("equity", math.inf),
        ("peak_equity", -math.inf),
        ("free_margin", math.nan),
        ("current_position", math.inf),
        ("vol_regime", 2),
        ("vol_regime", math.nan),
        ("volatility", -1.0),
        ("volatility", math.inf),
        ("risk_multiplier", math.nan),
        ("risk_multiplier", 5.0),
        ("win_rate", math.nan),
        ("payoff_ratio", math.inf),
        ("trades", -1),
    ],
)
def test_bad_inputs_are_rejected_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(SizingError, match=field):
        size_position(_inputs(**{field: value}), SizingConfig())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_confidence", 1.0),
        ("min_confidence", math.nan),
        ("base_fraction", 0.0),
        ("base_fraction", 2.0),  # above full_fraction
        ("full_fraction", -1.0),
        ("confidence_exponent", 0.0),
        ("risk_weight", 1.5),
        ("regime_high_multiplier", -0.5),
        ("target_volatility", 0.0),
        ("volatility_scale_max", 0.1),  # below volatility_scale_min
        ("max_drawdown", 0.0),
        ("drawdown_throttle_start", 0.3),  # above max_drawdown
        ("drawdown_exponent", -1.0),
        ("kelly_multiplier", 1.5),
        ("kelly_min_trades", -1),
        ("max_risk_multiplier", 0.0),
        ("max_position", 0.0),
        ("max_equity_share", -1.0),
        ("margin_rate", 2.0),
        ("lot_step", 0.0),
        ("min_quantity", -1.0),
        ("lot_step", math.inf),
        ("lot_step", "1000"),
        ("min_quantity", True),
    ],
)
def test_config_validation_names_the_field(field: str, value: object) -> None:
    with pytest.raises(SizingError, match=field):
        SizingConfig(**{field: value})  # type: ignore[arg-type]


def test_config_dict_round_trip_and_unknown_key() -> None:
    config = SizingConfig(max_position=5e5, kelly_multiplier=0.25)
    data = config.to_dict()
    json.dumps(data)
    assert SizingConfig.from_dict(data) == config
    with pytest.raises(SizingError, match="max_postion"):
        SizingConfig.from_dict({"max_postion": 1.0})


def test_config_is_frozen() -> None:
    config = SizingConfig()
    with pytest.raises(AttributeError):
        config.lot_step = 1.0  # type: ignore[misc]


# ---------------------------------------------------------------- properties

unit = st.floats(0.0, 1.0)
inputs_strategy = st.builds(
    SizingInputs,
    side=st.sampled_from([1, -1]),
    confidence=unit,
    risk_score=unit,
    price=st.floats(0.5, 200.0),
    equity=st.floats(1_000.0, 1e7),
    peak_equity=st.floats(1_000.0, 2e7),
    free_margin=st.floats(-1e4, 1e7),
    current_position=st.floats(-1e6, 1e6),
    vol_regime=st.sampled_from([-1, 0, 1]),
    volatility=st.floats(0.0, 1e-2),
    risk_multiplier=st.floats(0.0, 2.0),
    win_rate=st.none() | unit,
    payoff_ratio=st.none() | st.floats(0.1, 5.0),
    trades=st.integers(0, 100),
)


def _check_caps(inputs: SizingInputs, decision: SizingDecision, config: SizingConfig) -> None:
    q = decision.quantity
    assert q >= 0.0
    lots = q / config.lot_step
    assert lots == math.floor(lots)
    assert q == 0.0 or q >= config.min_quantity
    if q == 0.0:
        assert decision.blocked_by is not None
        return
    assert decision.blocked_by is None
    side, position, price = inputs.side, inputs.current_position, inputs.price
    exposure = side * (position + side * q)  # resulting position in the order's direction
    tol = 1e-9 * max(1.0, abs(position), q)
    if config.max_position is not None:
        assert exposure <= config.max_position + tol
    if config.max_equity_share is not None:
        assert exposure * price <= config.max_equity_share * inputs.equity * (1 + 1e-12) + tol
    if config.margin_rate > 0.0:
        reducing = max(0.0, -side * position)
        margin = (q - reducing) * price * config.margin_rate
        assert margin <= max(inputs.free_margin, 0.0) * (1 + 1e-12) + tol


@settings(max_examples=300, deadline=None)
@given(inputs_strategy)
def test_property_caps_lots_and_sign(inputs: SizingInputs) -> None:
    for config in (CAPPED, SizingConfig()):
        _check_caps(inputs, size_position(inputs, config), config)


@settings(max_examples=300, deadline=None)
@given(inputs_strategy, unit, unit)
def test_property_monotone_in_confidence(inputs: SizingInputs, c1: float, c2: float) -> None:
    lo, hi = min(c1, c2), max(c1, c2)
    for config in (CAPPED, SizingConfig(confidence_exponent=2.5, max_equity_share=None)):
        q_lo = size_position(inputs._replace(confidence=lo), config).quantity
        q_hi = size_position(inputs._replace(confidence=hi), config).quantity
        assert q_lo <= q_hi


@settings(max_examples=200, deadline=None)
@given(inputs_strategy, st.floats(0.0, 0.55, exclude_max=True))
def test_property_zero_below_threshold(inputs: SizingInputs, confidence: float) -> None:
    decision = size_position(inputs._replace(confidence=confidence), CAPPED)
    assert decision.quantity == 0.0
    assert decision.blocked_by == "confidence"


@settings(max_examples=200, deadline=None)
@given(inputs_strategy, st.floats(0.20, 1.0))
def test_property_zero_at_or_after_drawdown_limit(inputs: SizingInputs, drawdown: float) -> None:
    peak = inputs.equity / (1.0 - drawdown) if drawdown < 1.0 else inputs.equity * 1e9
    assume(1.0 - inputs.equity / peak >= CAPPED.max_drawdown)
    decision = size_position(inputs._replace(peak_equity=peak), CAPPED)
    assert decision.quantity == 0.0


@settings(max_examples=200, deadline=None)
@given(
    inputs_strategy,
    st.sampled_from(
        [
            "confidence",
            "risk_score",
            "price",
            "equity",
            "peak_equity",
            "free_margin",
            "current_position",
            "volatility",
            "risk_multiplier",
            "win_rate",
            "payoff_ratio",
        ]
    ),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_property_non_finite_rejected(inputs: SizingInputs, field: str, bad: float) -> None:
    with pytest.raises(SizingError, match=field):
        size_position(inputs._replace(**{field: bad}), CAPPED)


@settings(max_examples=200, deadline=None)
@given(inputs_strategy)
def test_property_quantity_steps_are_consistent(inputs: SizingInputs) -> None:
    decision = size_position(inputs, CAPPED)
    steps = decision.steps
    assert steps, "a decision always records at least the confidence step"
    assert steps[-1].size == decision.quantity or decision.quantity == 0.0
    if decision.blocked_by is not None:
        assert steps[-1].name == decision.blocked_by
    names = [step.name for step in steps]
    if "lot_step" in names:
        before = steps[names.index("lot_step") - 1].size  # units after the caps
        after = steps[names.index("lot_step")].size
        assert after <= before < after + CAPPED.lot_step  # rounded DOWN, by less than a lot
    json.dumps(decision.to_dict())


def test_lot_rounding_is_down_never_nearest() -> None:
    config = SizingConfig(max_equity_share=None, lot_step=1000.0, min_quantity=1000.0)
    # confidence 1, no risk: fraction 1.0, so 5,900 units at price 1 and equity 5,900
    inputs = _inputs(confidence=1.0, risk_score=0.0, price=1.0, equity=5_900.0, peak_equity=5_900.0)
    assert size_position(inputs, config).quantity == 5_000.0
    exact = inputs._replace(equity=6_000.0, peak_equity=6_000.0)
    assert size_position(exact, config).quantity == 6_000.0  # an exact multiple stays exact


def test_replace_validates_and_rejects_unknown_fields() -> None:
    config = SizingConfig()
    changed = config.replace(max_position=50_000.0, min_confidence=0.6)
    assert (changed.max_position, changed.min_confidence) == (50_000.0, 0.6)
    assert config.max_position is None  # the original is untouched
    with pytest.raises(SizingError, match="max_position"):
        config.replace(max_position=-1.0)
    with pytest.raises(SizingError, match="max_postion"):
        config.replace(max_postion=1.0)


def test_blocked_decision() -> None:
    decision = SizingDecision.blocked("sizing error: bad price")
    assert (decision.quantity, decision.side, decision.blocked_by) == (
        0.0,
        0,
        "sizing error: bad price",
    )
    assert decision.steps == ()
    json.dumps(decision.to_dict())


def test_vol_regime_accepts_feature_floats() -> None:
    config = SizingConfig(regime_high_multiplier=0.0)
    assert size_position(_inputs(vol_regime=1.0), config).blocked_by == "regime"
    assert size_position(_inputs(vol_regime=-1.0), config).quantity > 0
    with pytest.raises(SizingError, match="vol_regime"):
        size_position(_inputs(vol_regime=0.5), config)


@pytest.mark.parametrize(("price", "equity"), [(1e-320, 1.0), (1e-300, 1e300)])
def test_a_quantity_too_large_for_a_float_is_a_sizing_error(price: float, equity: float) -> None:
    """Uncapped (no equity share, no margin) sizing of a subnormal price or a huge equity gave
    an infinite quantity, and the lot rounding raised a bare OverflowError ("cannot convert
    float infinity to integer") instead of the SizingError the function documents."""
    config = SizingConfig(max_equity_share=None, margin_rate=0.0)
    inputs = _inputs(price=price, equity=equity, peak_equity=equity, free_margin=0.0)
    with pytest.raises(SizingError, match=r"^quantity: equity .* / price .* is not finite"):
        size_position(inputs, config)
