"""Research in a notebook: the engine's features, labels, models and sizer over pandas frames.

>>> import nautilus_ai.research as nr
>>> bars = nr.bars("catalogs/demo", "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
...                start="2017-03-01", end="2017-04-01")       # UTC index = bar close time
>>> X = nr.features(bars)                  # columns = FeatureSpec().names, bit for bit
>>> y = nr.labels(bars)                    # label -1 / 0 / +1 from bars t+1 .. t+horizon
>>> p = nr.predict(X, {"kind": "rule"})    # any backend; warm-up rows are holds with a reason
>>> q = nr.size(p, X, bars)                # the strategy's sizer on every buy / sell
>>> nr.evaluate(p, bars, horizon=30, cost_pips=0.3)   # hit rate, forward move: NOT a backtest
>>> nr.plot_signals(bars, p)               # a matplotlib Figure

Every function takes and returns pandas frames indexed by the bar close time in UTC
(``DatetimeIndex[ns, UTC]`` named ``ts_event``), and calls the same code the strategy runs:
:func:`features` is :func:`nautilus_ai.features.compute_features`, :func:`predict` is the
predictor's own ``predict_batch`` on the rows the strategy would ask about, :func:`size` is
:func:`nautilus_ai.sizing.size_position`. Any OHLCV frame works in place of :func:`bars`;
:func:`as_bars` checks it (and converts it: tz-aware times in any zone, int ns, naive times with
``tz=``). Bad input is refused with one line naming the problem (:class:`ResearchInputError`).

Importing this package imports neither torch nor Nautilus nor matplotlib: :func:`bars` loads
Nautilus, the plots load matplotlib, and only a torch backend loads torch.
"""

from nautilus_ai.research.catalog import bars
from nautilus_ai.research.compute import LABEL_COLUMNS, features, labels
from nautilus_ai.research.evaluation import NOT_A_BACKTEST, SignalEvaluation, evaluate
from nautilus_ai.research.frames import BAR_COLUMNS, INDEX_NAME, ResearchInputError, as_bars
from nautilus_ai.research.plots import (
    plot_confidence,
    plot_evaluation,
    plot_features,
    plot_label_balance,
    plot_signals,
)
from nautilus_ai.research.predictions import PREDICTION_COLUMNS, SIZING_COLUMNS, predict, size

__all__ = [
    "BAR_COLUMNS",
    "INDEX_NAME",
    "LABEL_COLUMNS",
    "NOT_A_BACKTEST",
    "PREDICTION_COLUMNS",
    "ResearchInputError",
    "SIZING_COLUMNS",
    "SignalEvaluation",
    "as_bars",
    "bars",
    "evaluate",
    "features",
    "labels",
    "plot_confidence",
    "plot_evaluation",
    "plot_features",
    "plot_label_balance",
    "plot_signals",
    "predict",
    "size",
]
