"""Nautilus ``Strategy`` / ``Actor`` subclasses (installed as ``nautilus_ai.strategies``).

Wiring only: they unwrap Nautilus objects into plain floats and call the pure core. Import the
classes from their modules (``nautilus_ai.strategies.ai_pattern:AIPatternStrategy``), which is
also the dotted path ``ImportableStrategyConfig`` wants.
"""

__all__: list[str] = []
