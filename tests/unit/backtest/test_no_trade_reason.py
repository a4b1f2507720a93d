"""Why a run that traded nothing failed, named for what blocked it."""

from __future__ import annotations

from types import SimpleNamespace

from nautilus_ai.backtest.runner import StrategyStatus, _assess_decisions


def _strategy(reason: str) -> SimpleNamespace:
    entry = SimpleNamespace(intent="enter", quantity=0.0, reason=reason, error=None)
    return SimpleNamespace(decisions=[entry, entry], tick_decisions=(), precomputed_fallbacks=0)


def test_entries_without_placeable_exits_point_at_the_exit_settings() -> None:
    """stop_loss_atr: 1e300 failed the run with "all 48 entry signals were sized to zero ...
    check the venue's balances and leverage and the sizing settings": neither was at fault."""
    status = StrategyStatus("S-1")
    reason = "exit prices outside (0, 1.7e+13] from close 1.06, ATR 9e-05: the stop / target..."
    _assess_decisions(status, _strategy(reason), {})
    assert status.status == "failed"
    assert status.reasons == [
        f"could not trade: all 2 entry signals had no placeable stop / target (first: {reason}); "
        "check stop_loss_atr and take_profit_atr"
    ]
    sized = StrategyStatus("S-2")
    _assess_decisions(sized, _strategy("sized to zero: equity"), {})
    assert "were sized to zero (first: sized to zero: equity)" in sized.reasons[0]
    assert "balances and leverage" in sized.reasons[0]
