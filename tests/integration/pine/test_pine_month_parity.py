"""Acceptance: the exported script, run in PineTS on a month of real EUR/USD bars, computes every
feature within 1e-6 of the Python vectorised features and the embedded MLP's signals match.

One PineTS run (``month_run``) is shared by every test here.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from pine_fixtures import TRAINED_MIN_CONFIDENCE, MonthRun

from nautilus_ai.features import compute_features
from nautilus_ai.models import TorchPredictor
from nautilus_ai.pine import PineSyntaxChecker, check_export, compare_parity
from nautilus_ai.pine.check import reference_outputs

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def python_side(month_run: MonthRun, trained_artifact):  # type: ignore[no-untyped-def]
    b, spec = month_run.bars, month_run.export.spec
    features = compute_features(spec, b.ts_event, b.open, b.high, b.low, b.close, b.volume)
    predictor = TorchPredictor.from_artifact(trained_artifact, spec=spec, device="cpu")
    warm = features[:, spec.index("warm")] == 1.0
    sign, confidence, _ = reference_outputs(predictor, features, warm)
    return features, sign, confidence, predictor


def test_month_is_a_real_month(month_run: MonthRun) -> None:
    assert month_run.result.bars == len(month_run.bars) > 28_000
    days = (month_run.bars.ts_event[-1] - month_run.bars.ts_event[0]) / 86_400e9
    assert days > 27


def test_every_feature_matches_python_within_1e_6_after_warm_up(
    month_run: MonthRun,
    python_side,  # type: ignore[no-untyped-def]
) -> None:
    features, sign, confidence, _ = python_side
    spec = month_run.export.spec
    report = compare_parity(
        month_run.result.plots,
        features,
        spec,
        sign,
        confidence,
        min_confidence=TRAINED_MIN_CONFIDENCE,
    )
    print(report.summary())
    assert not report.missing_plots
    assert {f.name for f in report.features} == set(spec.names)
    for feature in report.features:
        assert feature.nan_mismatches == 0, feature
        assert feature.max_abs_error <= 1e-6, feature
        assert feature.compared_bars >= len(month_run.bars) - spec.warmup_bars
    # In fact far tighter than 1e-6: the scaled ta.* calls keep PineTS's rounding out.
    assert report.feature_max_error < 1e-9


def test_embedded_mlp_signals_match_on_at_least_99_5_percent(
    month_run: MonthRun,
    python_side,  # type: ignore[no-untyped-def]
) -> None:
    features, sign, confidence, _ = python_side
    report = compare_parity(
        month_run.result.plots,
        features,
        month_run.export.spec,
        sign,
        confidence,
        min_confidence=TRAINED_MIN_CONFIDENCE,
    )
    signals = report.signals
    print(report.summary())
    assert signals.signal_bars > 1000  # a check with no signals would prove little
    assert signals.agreement >= 0.995
    assert signals.unexplained == ()  # every mismatch sits within 1e-9 of a boundary
    assert signals.confidence_max_abs_error < 1e-8
    assert report.passed


# PineTS ignores ``process_orders_on_close=true`` (it fills every order at the next bar's open;
# TradingView fills it at the close of the deciding bar, as the Nautilus backtest does), so in
# PineTS a trade's entry bar is the bar AFTER its signal bar. The levels are still the signal
# bar's close -/+ k x ATR.


def test_pine_strategy_trades_like_the_python_strategy(month_run: MonthRun) -> None:
    strategy = month_run.result.strategy
    assert strategy is not None
    trades = strategy["closed_trades"]
    assert len(trades) > 20
    exits = Counter(trade["exit_comment"] for trade in trades)
    assert exits["stop_loss"] > 0 and exits["take_profit"] > 0  # bracket exits
    assert set(Counter(trade["entry_comment"] for trade in trades)) <= {"enter", "reversal"}
    signal = month_run.result.plots["signal"]
    b = month_run.bars
    for trade in trades:
        side = 1 if trade["size"] > 0 else -1
        decided = trade["entry_bar_index"] - 1
        assert signal[decided] == side  # the deciding bar had this signal
        assert trade["entry_price"] == b.open[trade["entry_bar_index"]]


def test_stop_and_target_are_atr_multiples_of_the_signal_close(month_run: MonthRun) -> None:
    b = month_run.bars
    atr = month_run.result.plots["atr_close"] * b.close
    checked = 0
    for trade in month_run.result.strategy["closed_trades"]:  # type: ignore[index]
        i, side = trade["entry_bar_index"] - 1, (1 if trade["size"] > 0 else -1)
        if trade["exit_comment"] == "stop_loss":
            level = b.close[i] - side * 2.0 * atr[i]
        elif trade["exit_comment"] == "take_profit":
            level = b.close[i] + side * 3.0 * atr[i]
        else:
            continue
        j = trade["exit_bar_index"]
        # filled at the level, or at the open when the bar gapped through it
        gapped = trade["exit_price"] == b.open[j]
        assert gapped or trade["exit_price"] == pytest.approx(level, abs=1e-12), trade
        assert b.low[j] <= trade["exit_price"] <= b.high[j]
        checked += 1
    assert checked > 20


def test_pine_sizer_mirrors_size_position(month_run: MonthRun) -> None:
    """On bars where Pine wants to enter (quantity > 0) and equity is at its peak, the Pine
    quantity equals nautilus_ai.sizing.size_position for the same inputs."""
    from nautilus_ai.sizing import SizingInputs, size_position

    plots, b = month_run.result.plots, month_run.bars
    options = month_run.export.options
    config = options.sizing.replace(min_confidence=options.min_confidence)
    equity = plots["equity"]
    at_peak = equity >= np.maximum.accumulate(equity)
    bars = np.flatnonzero((plots["quantity"] > 0) & at_peak)
    assert len(bars) >= 5  # entries are few: positions are held until a bracket exit
    for i in bars:
        side = int(plots["signal"][i])
        decision = size_position(
            SizingInputs(
                side=side,
                confidence=float(plots["confidence"][i]),
                risk_score=float(plots["risk"][i]),
                price=float(b.close[i]),
                equity=float(equity[i]),
                peak_equity=float(equity[i]),
                free_margin=float(equity[i]),
                vol_regime=float(plots["vol_regime"][i]),
                volatility=float(plots["atr_close"][i]),
            ),
            config,  # free margin = equity: its cap (30x) never binds below the 2x equity cap
        )
        assert decision.quantity == plots["quantity"][i], i


def test_check_export_reuses_the_run_and_reports_times(
    month_run: MonthRun,
    python_side,
    syntax_checker: PineSyntaxChecker,  # type: ignore[no-untyped-def]
) -> None:
    _, _, _, predictor = python_side
    report = check_export(
        month_run.export,
        month_run.bars,
        predictor,
        checker=syntax_checker,
        pinets_result=month_run.result,
    )
    print(report.summary())
    assert report.syntax.ok, report.syntax.describe()
    assert report.passed
    assert "check PASSED" in report.summary()
    assert report.pinets is not None and report.pinets.run_seconds > 0
    assert np.isfinite(report.seconds)
