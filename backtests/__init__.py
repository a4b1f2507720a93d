"""Backtest run configs (installed as ``nautilus_ai.backtests``; the YAML files ship as data)."""
