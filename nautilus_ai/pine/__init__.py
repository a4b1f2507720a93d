"""Pine Script v6 export of a feature spec + model as a TradingView ``strategy()``, with proof.

Export (``nautilus-ai export-pine``):

* :func:`export_mlp_artifact` - a torch MLP artifact embedded exactly (standardisation, weights,
  activation, temperature as Pine matrices and arrays);
* :func:`export_lightgbm_artifact` - a LightGBM artifact embedded exactly (every tree as a
  nested ternary, per-class sums in LightGBM's order, the temperature);
* :func:`export_rule` - the :class:`~nautilus_ai.models.RulePredictor` as plain Pine conditions;
* :func:`export_distilled` - any other predictor (LLM, chart model, large net) distilled into a
  decision tree on feature rows, with its held-out fidelity in the header.

The features are re-implemented with ``ta.*`` and Pine's time functions for the spec's
parameters (:mod:`nautilus_ai.pine.features`); the strategy part mirrors the Python policy and
``AIPatternStrategy`` (market entries, ATR stop-loss / take-profit, reversal, max holding bars,
confidence sizing).

Checks (``nautilus-ai export-pine --check``; tests):

* syntax - :class:`PineSyntaxChecker` parses the script with ``pynescript`` (line and column on
  error);
* semantics - :func:`run_pinets` runs the script in PineTS (npm ``pinets``, AGPL, a separate node
  process installed by :func:`ensure_pinets`) on the same bars, and :func:`compare_parity`
  compares every plotted feature and the signals with the Python feature engine and predictor
  bar by bar.
"""

from nautilus_ai.pine.check import CheckReport, check_export
from nautilus_ai.pine.distill import DecisionTree, DistillReport, distill_signals, fit_tree
from nautilus_ai.pine.embed import (
    EmbeddedModel,
    embed_lightgbm,
    embed_mlp,
    embed_rule,
    embed_tree,
)
from nautilus_ai.pine.export import (
    MAX_EMBEDDED_PARAMETERS,
    PineExport,
    export_distilled,
    export_lightgbm_artifact,
    export_mlp_artifact,
    export_rule,
    lightgbm_embedded_values,
)
from nautilus_ai.pine.features import PineFeatureCode, pine_features
from nautilus_ai.pine.parity import FeatureParity, ParityReport, SignalParity, compare_parity
from nautilus_ai.pine.pinets import PineTSError, PineTSResult, ensure_pinets, run_pinets
from nautilus_ai.pine.script import StrategyOptions, build_script
from nautilus_ai.pine.syntax import PineSyntaxChecker, SyntaxReport

__all__ = [
    "CheckReport",
    "DecisionTree",
    "DistillReport",
    "EmbeddedModel",
    "FeatureParity",
    "MAX_EMBEDDED_PARAMETERS",
    "ParityReport",
    "PineExport",
    "PineFeatureCode",
    "PineSyntaxChecker",
    "PineTSError",
    "PineTSResult",
    "SignalParity",
    "StrategyOptions",
    "SyntaxReport",
    "build_script",
    "check_export",
    "compare_parity",
    "distill_signals",
    "embed_lightgbm",
    "embed_mlp",
    "embed_rule",
    "embed_tree",
    "ensure_pinets",
    "export_distilled",
    "export_lightgbm_artifact",
    "export_mlp_artifact",
    "export_rule",
    "fit_tree",
    "lightgbm_embedded_values",
    "pine_features",
    "run_pinets",
]
