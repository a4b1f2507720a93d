"""Live TradingNode configs and runners (installed as ``nautilus_ai.live``)."""
