"""A node restarted with ``load_state`` restores the strategy's saved controls (paused, risk,
model); saved settings the new config no longer allows, or a state it cannot read, must not
stop the node from starting (``Strategy.load`` re-raises what ``on_load`` raises)."""

from __future__ import annotations

from typing import Any

import pytest

from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

BASE = {"instrument_id": "EUR/USD.SIM", "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"}


def saved(**risk: Any) -> dict[str, bytes]:
    strategy = AIPatternStrategy(AIPatternConfig(**BASE))
    strategy.set_risk(**risk)
    strategy.pause_trading("before the restart")
    return strategy.on_save()


def test_saved_controls_are_restored() -> None:
    strategy = AIPatternStrategy(AIPatternConfig(**BASE))
    strategy.on_load(saved(min_confidence=0.65, risk_multiplier=1.5))
    controls = strategy.core.controls
    assert controls.paused and controls.min_confidence == 0.65
    assert controls.risk_multiplier == 1.5
    # The saved values win over the config's (documented); each one is named, in the status too.
    assert strategy.restored_over_config == (
        "paused False -> True",
        "min_confidence 0.55 -> 0.65",
        "risk_multiplier 1.0 -> 1.5",
    )


def test_a_restore_that_matches_the_config_names_nothing() -> None:
    strategy = AIPatternStrategy(AIPatternConfig(**BASE))
    state = AIPatternStrategy(AIPatternConfig(**BASE)).on_save()
    strategy.on_load(state)
    assert strategy.restored_over_config == ()


def test_a_saved_risk_the_config_no_longer_allows_keeps_the_configs_and_stays_paused() -> None:
    # The user lowered sizing.max_risk_multiplier to 1.5 and restarted: on_load raised
    # ValueError and the node could not start.
    config = AIPatternConfig(**BASE, sizing={"max_risk_multiplier": 1.5})
    strategy = AIPatternStrategy(config)
    strategy.on_load(saved(risk_multiplier=1.8))
    controls = strategy.core.controls
    assert controls.paused  # the saved pause holds
    assert controls.risk_multiplier == 1.0 and controls.min_confidence == 0.55  # the config's


@pytest.mark.parametrize(
    "raw", [b"{not json", b'{"paused": false}', b"[1, 2]", b'{"paused": "no", "min_confidence": 2}']
)
def test_an_unreadable_state_starts_paused_on_the_configs_settings(raw: bytes) -> None:
    strategy = AIPatternStrategy(AIPatternConfig(**BASE))
    strategy.on_load({"ai_pattern": raw})
    controls = strategy.core.controls
    assert controls.paused  # unknown state: no new entries until an operator resumes
    assert controls.min_confidence == 0.55 and controls.risk_multiplier == 1.0
    assert strategy._predictor_config == {"kind": "rule"}
