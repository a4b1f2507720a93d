"""Nautilus ``Strategy`` / ``Actor`` subclasses (installed as ``nautilus_ai.strategies``).

Wiring only: they unwrap Nautilus objects into plain floats and call the pure core. Import the
classes from their modules (``nautilus_ai.strategies.ai_pattern:AIPatternStrategy``), which is
also the dotted path ``ImportableStrategyConfig`` wants.

In Python, build a strategy's ``ImportableStrategyConfig`` with :func:`strategy_config`: it
checks the ``config`` dict first, as a run file's is checked. Nautilus' own path encodes the
dict to JSON before its config class sees it, and that encoder writes NaN and infinity as
``null``, which an optional setting reads as "not set": ``decision_deadline_ms: nan`` turned
the deadline off, ``outlier_atr_multiple: nan`` the outlier guard, without a word.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nautilus_trader.config import ImportableStrategyConfig

__all__ = ["AI_PATTERN_CONFIG", "AI_PATTERN_STRATEGY", "strategy_config"]

AI_PATTERN_STRATEGY = "nautilus_ai.strategies.ai_pattern:AIPatternStrategy"
AI_PATTERN_CONFIG = "nautilus_ai.strategies.ai_pattern:AIPatternConfig"


def strategy_config(
    config: Mapping[str, Any],
    *,
    strategy_path: str = AI_PATTERN_STRATEGY,
    config_path: str = AI_PATTERN_CONFIG,
) -> ImportableStrategyConfig:
    """An ``ImportableStrategyConfig`` (for ``BacktestEngineConfig`` / ``TradingNodeConfig``)
    whose ``config`` was checked against its config class first.

    Parameters
    ----------
    config : mapping
        The strategy's settings (``instrument_id``, ``bar_type``, ``predictor``...).
    strategy_path, config_path : str
        ``module:Class`` paths; the AI pattern strategy by default.

    Raises
    ------
    nautilus_ai.config_check.ConfigFieldError
        The first problem, in one line naming the key path: an unknown key (with the nearest
        valid one), a wrong type, a value out of range, NaN or infinity where a number is due.
    """
    from nautilus_trader.config import ImportableStrategyConfig

    from nautilus_ai.config_check import check
    from nautilus_ai.config_nautilus import NAUTILUS_HOOKS

    settings = dict(config)
    data = {"strategy_path": strategy_path, "config_path": config_path, "config": settings}
    check(data, ImportableStrategyConfig, hooks=NAUTILUS_HOOKS)
    return ImportableStrategyConfig(
        strategy_path=strategy_path, config_path=config_path, config=settings
    )
