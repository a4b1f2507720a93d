"""Research at scale: walk-forward experiments and sweeps on Ray (:func:`run_experiment` over a
strict experiment file, :func:`load_experiment`), the results library (:class:`ResultsStore`,
one Parquet dataset), honest statistics (bootstrap intervals, spread over seeds, the deflated
Sharpe ratio, the probability of backtest overfitting), the PnL split into gross, commission and
spread cost, and the report a trader reads (plots over plain arrays).

Ray and Optuna (the optional ``experiments`` extra) are imported only when an experiment runs.
"""

from nautilus_ai.experiments.analysis import ExperimentAnalysis, analyse
from nautilus_ai.experiments.config import (
    Experiment,
    ExperimentConfigError,
    load_experiment,
    parse_experiment,
)
from nautilus_ai.experiments.runner import ExperimentOutcome, run_experiment
from nautilus_ai.experiments.stats import (
    ConfidenceInterval,
    DeflatedSharpe,
    OverfittingReport,
    SeedSpread,
    bootstrap_ci,
    deflated_sharpe_of_best,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    mean_ci,
    optimal_block_length,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    seed_spread,
    sharpe_ci,
    sharpe_ratio,
    stationary_bootstrap_indices,
    win_rate_ci,
)
from nautilus_ai.experiments.store import ResultsStore

__all__ = [
    "ConfidenceInterval",
    "DeflatedSharpe",
    "Experiment",
    "ExperimentAnalysis",
    "ExperimentConfigError",
    "ExperimentOutcome",
    "OverfittingReport",
    "ResultsStore",
    "SeedSpread",
    "analyse",
    "bootstrap_ci",
    "deflated_sharpe_of_best",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "load_experiment",
    "mean_ci",
    "optimal_block_length",
    "parse_experiment",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "run_experiment",
    "seed_spread",
    "sharpe_ci",
    "sharpe_ratio",
    "stationary_bootstrap_indices",
    "win_rate_ci",
]
