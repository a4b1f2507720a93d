"""Workflows that train models *and* run backtests: the demo's closed loop and the
out-of-sample comparison.

They sit above both :mod:`nautilus_ai.training` and :mod:`nautilus_ai.backtest` so that neither
imports the other: training knows nothing of Nautilus, the backtest runner nothing of fitting.
Import the functions from their modules (``nautilus_ai.workflows.demo``,
``nautilus_ai.workflows.oos``); this package itself imports nothing.
"""

__all__: list[str] = []
