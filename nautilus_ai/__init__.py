"""nautilus-ai: AI pattern strategies for NautilusTrader.

The core (features, models, sizing, labels, Pine export) is plain Python over numpy / pyarrow and
does not import Nautilus; the Nautilus wiring lives in ``nautilus_ai.strategies`` and the
catalog / backtest / live glue modules.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
