"""Nautilus ``Strategy`` / ``Actor`` subclasses (installed as ``nautilus_ai.strategies``).

Wiring only: they unwrap Nautilus objects into plain floats and call the pure core.
"""

__all__: list[str] = []
