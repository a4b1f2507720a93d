"""Backtest glue: run configs, execution models, the runner (imports Nautilus)."""

__all__: list[str] = []
