"""The assembled strategy: header facts, inputs, policy wiring, limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import TorchPredictor, save_artifact
from nautilus_ai.pine import StrategyOptions, export_mlp_artifact, export_rule
from nautilus_ai.pine.script import MAX_PLOTS
from nautilus_ai.sizing import SizingConfig

SPEC = FeatureSpec()
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = TorchPredictor.random(SPEC, seed=4, device="cpu")
    return save_artifact(model.module, model.card, tmp_path_factory.mktemp("a"))


def test_header_names_card_spec_date_and_warns(artifact: Path) -> None:
    export = export_mlp_artifact(artifact, exported_at=WHEN)
    head = export.script.split("strategy(", 1)[0]
    assert head.startswith("//@version=6\n")
    card = export.model.model_id
    assert f"Model card: {card} (artifact {card.split('/')[0]}/v1)" in head
    assert "Weights: model.safetensors sha256 " in head
    assert f"Feature spec: hash {SPEC.hash}" in head
    assert "Exported: 2026-03-04T05:06:07Z by nautilus-ai" in head
    assert "NO PROVEN EDGE" in head
    assert "Embedding: exact MLP 28 -> 64 -> 3 (relu)" in head
    assert export.exported_at == WHEN
    assert export.kind == "mlp"


def test_export_is_fast(artifact: Path) -> None:
    export = export_mlp_artifact(artifact)
    assert export.seconds < 1.0


def test_strategy_declaration_and_inputs_follow_the_options() -> None:
    options = StrategyOptions(
        min_confidence=0.6,
        reverse_on_opposite=False,
        exit_on_hold=True,
        max_holding_bars=30,
        stop_loss_atr=1.5,
        take_profit_atr=None,
        sizing=SizingConfig(base_fraction=0.1, lot_step=500.0, min_quantity=500.0),
        initial_capital=25_000.0,
    )
    script = export_rule(SPEC, options=options, exported_at=WHEN).script
    assert "process_orders_on_close=true" in script
    assert "initial_capital=25000.0" in script
    assert 'i_min_conf = input.float(0.6, "Min confidence"' in script
    assert "i_reverse = input.bool(false," in script
    assert "i_exit_on_hold = input.bool(true," in script
    assert "i_max_hold = input.int(30," in script
    assert "i_sl_atr = input.float(1.5," in script
    assert "i_tp_atr = input.float(0.0," in script  # None -> 0 = no take-profit
    assert "i_base_fraction = input.float(0.1," in script
    assert "i_lot_step = input.float(500.0," in script
    assert (
        "Policy defaults: min confidence 0.6; exit on an opposite signal; max 30 bars held"
        in script
    )


def test_policy_mirrors_the_python_strategy() -> None:
    script = export_rule(SPEC).script
    assert "int signal = m_confidence >= i_min_conf ? m_action : 0" in script
    assert 'strategy.close_all(comment="max_holding")' in script
    assert "strategy.cancel_all()" in script  # brackets of a reversed position go
    assert "stop=nai_stop, limit=nai_limit" in script
    assert "float nai_stop = i_sl_atr > 0 ? close - signal * i_sl_atr * nai_atr_px : na" in script
    assert "float nai_atr_px = f_atr_close * close" in script  # as the Python strategy reads it


def test_no_block_is_nested_more_than_one_level_below_a_function() -> None:
    """Deeply nested blocks make pynescript's parse minutes long; the generator stays flat."""
    script = export_rule(SPEC).script
    depth = max(len(m.group(1)) for m in re.finditer(r"^( *)\S", script, re.M))
    assert depth <= 8


def test_plots_every_feature_and_the_signals_within_tradingviews_limit() -> None:
    script = export_rule(SPEC).script
    titles = re.findall(r'^plot\([\w.]+, "([^"]+)"', script, re.M)
    assert titles == [*SPEC.names, "signal", "action", "confidence", "risk", "quantity", "equity"]
    assert len(re.findall(r"^plot(?:shape)?\(", script, re.M)) <= MAX_PLOTS


def test_too_many_features_for_tradingview_is_an_error() -> None:
    spec = FeatureSpec(return_lags=tuple(range(1, 40)))
    with pytest.raises(ValueError, match="exceed TradingView's limit of 64"):
        export_rule(spec)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"min_confidence": 1.5}, "min_confidence"), ({"stop_loss_atr": 0.0}, "stop_loss_atr"),
     ({"max_holding_bars": 0}, "max_holding_bars"), ({"initial_capital": -1.0}, "initial_capital")],
)  # fmt: skip
def test_options_are_validated(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StrategyOptions(**kwargs)  # type: ignore[arg-type]


def test_write(tmp_path: Path) -> None:
    export = export_rule(SPEC)
    path = export.write(tmp_path / "sub" / "rule.pine")
    assert path.read_text(encoding="utf-8") == export.script


def test_a_model_fitted_on_5_minute_bars_stops_on_another_chart_timeframe(
    tmp_path: Path,
) -> None:
    """A 1-minute model dropped on a 1-hour chart computed its features there and traded their
    signals without a word; the script now refuses other timeframes (an input overrides)."""
    model = TorchPredictor.random(SPEC, seed=4, device="cpu")
    card = model.card.model_copy(
        update={"metrics": {"data": {"bar_type": "EUR/USD.SIM-5-MINUTE-BID-EXTERNAL"}}}
    )
    export = export_mlp_artifact(save_artifact(model.module, card, tmp_path), exported_at=WHEN)
    assert export.bar_seconds == 300
    script = export.script
    assert "// Bars: fitted on EUR/USD.SIM-5-MINUTE-BID-EXTERNAL" in script
    assert "if barstate.isfirst and not i_any_timeframe and timeframe.in_seconds() != 300" in script
    assert 'runtime.error("nautilus-ai: this model was fitted on 5 min bars' in script
    # the guard sits before the features, so nothing is computed or traded on a wrong chart
    assert script.index("runtime.error(") < script.index("// ---- Features")


def test_without_a_recorded_bar_type_there_is_no_guard_and_the_header_says_so(
    artifact: Path,
) -> None:
    export = export_mlp_artifact(artifact, exported_at=WHEN)
    assert export.bar_seconds is None
    assert "runtime.error(" not in export.script
    assert "// Bars: the model's bar type is not recorded: no timeframe guard" in export.script
    guarded = export_rule(SPEC, bar_type="EUR/USD.SIM-1-HOUR-MID-EXTERNAL")
    assert "timeframe.in_seconds() != 3600" in guarded.script
    # a tick bar has no chart timeframe to guard
    assert export_rule(SPEC, bar_type="EUR/USD.SIM-100-TICK-MID-INTERNAL").bar_seconds is None
