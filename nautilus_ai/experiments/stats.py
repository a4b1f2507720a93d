"""Honest statistics for backtests, as pure functions over numpy arrays.

Confidence intervals: the stationary bootstrap
----------------------------------------------
Strategy returns are not independent draws: volatility clusters, a position held for hours makes
consecutive bar returns move together, and regimes last weeks. Resampling single observations
(the iid bootstrap) ignores that and gives intervals that are too narrow. The **stationary
bootstrap** (Politis & Romano, "The Stationary Bootstrap", JASA 89(428), 1994) resamples blocks
of consecutive observations whose lengths are geometric with mean ``mean_block``, wrapping
around the end, so each resample keeps the short-range dependence and is itself stationary
(fixed-length moving blocks are not). ``mean_block`` defaults to the data-driven choice of
Politis & White ("Automatic Block-Length Selection for the Dependent Bootstrap", Econometric
Reviews 23(1), 2004) with the correction of Patton, Politis & White (Econometric Reviews 28(4),
2009): about 1 for uncorrelated data (then it *is* the iid bootstrap), longer the more the data
are autocorrelated. Intervals are percentile intervals of the resampled statistic.

Selection: the deflated Sharpe ratio and the probability of backtest overfitting
---------------------------------------------------------------------------------
:func:`deflated_sharpe_ratio`: Bailey & López de Prado, "The Deflated Sharpe Ratio: Correcting
for Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio Management
40(5), 2014. The probabilistic Sharpe ratio of the selected strategy against the Sharpe ratio the
best of ``n_trials`` skill-less trials would reach by luck.

:func:`probability_of_backtest_overfitting`: Bailey, Borwein, López de Prado & Zhu, "The
Probability of Backtest Overfitting", Journal of Computational Finance 20(4), 2017 (SSRN 2013):
combinatorially symmetric cross-validation (CSCV) over a matrix of per-period returns of every
configuration tried.

Sharpe ratios here are per period (not annualised) unless ``periods_per_year`` says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

__all__ = [
    "EULER_GAMMA",
    "ConfidenceInterval",
    "DeflatedSharpe",
    "OverfittingReport",
    "SeedSpread",
    "bootstrap_ci",
    "deflated_sharpe_of_best",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "mean_ci",
    "optimal_block_length",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "seed_spread",
    "sharpe_ci",
    "sharpe_ratio",
    "stationary_bootstrap_indices",
    "win_rate_ci",
]

F64 = NDArray[np.float64]
#: The Euler-Mascheroni constant (in the expected maximum of Gaussian draws).
EULER_GAMMA = 0.5772156649015329


def _vector(values: ArrayLike, what: str) -> F64:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{what} must be finite")
    return x


def sharpe_ratio(returns: ArrayLike, periods_per_year: float = 1.0) -> float:
    """``mean / std`` (``ddof=1``) of ``returns`` times ``sqrt(periods_per_year)``; NaN when
    fewer than two returns or no variation."""
    x = _vector(returns, "returns")
    if x.size < 2:
        return math.nan
    sd = float(x.std(ddof=1))
    return float(x.mean()) / sd * math.sqrt(periods_per_year) if sd > 0 else math.nan


# ---------------------------------------------------------------------- bootstrap


def optimal_block_length(values: ArrayLike) -> float:
    """Mean block length for the stationary bootstrap of the mean (Politis & White 2004, with
    Patton, Politis & White 2009), >= 1.

    The autocovariances up to the first run of ``K = max(5, log10 n)`` lags that are all
    insignificant (``|rho| < 2 sqrt(log10(n) / n)``) set the bandwidth ``M``; with the flat-top
    window ``lambda``, ``G = sum lambda(k/M) |k| R(k)``, ``D = 2 (sum lambda(k/M) R(k))^2`` and
    ``b = (2 G^2 / D)^(1/3) n^(1/3)``, capped at ``min(3 sqrt n, n / 3)``.
    """
    x = _vector(values, "values")
    n = x.size
    if n < 4:
        return 1.0
    eps = x - x.mean()
    if not np.any(eps):
        return 1.0
    k_n = max(5, int(math.log10(n)))
    m_max = min(math.ceil(math.sqrt(n)) + k_n, n - 2)
    b_max = math.ceil(min(3.0 * math.sqrt(n), n / 3.0))
    critical = 2.0 * math.sqrt(math.log10(n) / n)
    acv = np.array([float(eps[k:] @ eps[: n - k]) / n for k in range(m_max + 1)])
    if not acv[0] > 0.0:  # deviations so small their squares underflow: no dependence to see
        return 1.0
    acf = np.abs(acv / acv[0])
    m_hat = None
    for start in range(1, m_max - k_n + 2):
        if np.all(acf[start : start + k_n] < critical):
            m_hat = start - 1
            break
    bandwidth = min(2 * max(m_hat, 1), m_max) if m_hat is not None else m_max
    lags = np.arange(1, bandwidth + 1)
    ratio = lags / bandwidth
    window = np.where(ratio <= 0.5, 1.0, 2.0 * (1.0 - ratio))
    g = 2.0 * float(np.sum(window * lags * acv[1 : bandwidth + 1]))
    long_run = acv[0] + 2.0 * float(np.sum(window * acv[1 : bandwidth + 1]))
    if long_run <= 0.0 or g == 0.0:
        return 1.0
    d = 2.0 * long_run**2
    if not d > 0.0:  # the long-run variance squared underflows (tiny deviations)
        return 1.0
    block = (2.0 * g**2 / d) ** (1.0 / 3.0) * n ** (1.0 / 3.0)
    return float(min(max(block, 1.0), b_max))


def stationary_bootstrap_indices(
    n: int, mean_block: float, n_resamples: int, rng: np.random.Generator
) -> NDArray[np.intp]:
    """``(n_resamples, n)`` indices of stationary-bootstrap resamples (Politis & Romano 1994).

    Each position starts a new block with probability ``1 / mean_block`` (the first always
    does) at a uniform random index; otherwise it takes the index after the previous one,
    wrapping from ``n - 1`` to 0.
    """
    if n < 1 or n_resamples < 1:
        raise ValueError(f"need n >= 1 and n_resamples >= 1, got {n}, {n_resamples}")
    if not mean_block >= 1.0:
        raise ValueError(f"mean_block must be >= 1, got {mean_block!r}")
    starts = rng.integers(0, n, size=(n_resamples, n))
    new_block = rng.random((n_resamples, n)) < 1.0 / mean_block
    new_block[:, 0] = True
    positions = np.arange(n)
    block_start = np.maximum.accumulate(np.where(new_block, positions, 0), axis=1)
    first = np.take_along_axis(starts, block_start, axis=1)
    indices: NDArray[np.intp] = (first + (positions - block_start)) % n
    return indices


@dataclass(frozen=True)
class ConfidenceInterval:
    """A statistic and its bootstrap percentile interval.

    Parameters
    ----------
    estimate : float
        The statistic on the data.
    low, high : float
        Interval bounds at ``level``.
    level : float
        Two-sided coverage, e.g. 0.95.
    mean_block : float
        Mean block length used (1 = the iid bootstrap).
    resamples : int
        Bootstrap resamples drawn.
    n : int
        Observations.
    """

    estimate: float
    low: float
    high: float
    level: float
    mean_block: float
    resamples: int
    n: int

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    def text(self, fmt: str = ".3f") -> str:
        """``estimate [low, high]`` with the level."""
        return (
            f"{self.estimate:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}] "
            f"({100 * self.level:.0f}% CI)"
        )


def bootstrap_ci(
    values: ArrayLike,
    statistic: Callable[[F64], F64],
    *,
    level: float = 0.95,
    n_resamples: int = 2_000,
    mean_block: float | None = None,
    seed: int = 0,
) -> ConfidenceInterval:
    """Stationary-bootstrap percentile interval of ``statistic``.

    Parameters
    ----------
    values : array
        Observations in time order (returns, trade PnLs...).
    statistic : callable
        Vectorised over rows: ``(k, n) -> (k,)``; also called on ``(1, n)`` for the estimate.
    level : float
        Two-sided coverage in (0, 1).
    mean_block : float, optional
        Mean block length; default :func:`optimal_block_length` of ``values``.
    seed : int
        Seeds the resampling (same seed, same interval).
    """
    x = _vector(values, "values")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if x.size < 2:
        nan = math.nan
        return ConfidenceInterval(nan, nan, nan, level, 1.0, 0, int(x.size))
    block = optimal_block_length(x) if mean_block is None else float(mean_block)
    rng = np.random.default_rng(seed)
    estimate = float(statistic(x[None, :])[0])
    draws = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // x.size)  # bound the (resamples, n) index matrix
    for lo in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - lo)
        draws[lo : lo + k] = statistic(x[stationary_bootstrap_indices(x.size, block, k, rng)])
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return ConfidenceInterval(estimate, math.nan, math.nan, level, block, n_resamples, x.size)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [alpha, 1.0 - alpha])
    return ConfidenceInterval(estimate, float(low), float(high), level, block, n_resamples, x.size)


def _rows_mean(rows: F64) -> F64:
    out: F64 = rows.mean(axis=1)
    return out


def _rows_sharpe(periods_per_year: float) -> Callable[[F64], F64]:
    def sharpe(rows: F64) -> F64:
        sd = rows.std(axis=1, ddof=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: F64 = np.where(sd > 0, rows.mean(axis=1) / sd, np.nan)
        return out * math.sqrt(periods_per_year)

    return sharpe


def _rows_win_rate(rows: F64) -> F64:
    out: F64 = (rows > 0).mean(axis=1)
    return out


def mean_ci(returns: ArrayLike, **kwargs: float | int | None) -> ConfidenceInterval:
    """Stationary-bootstrap interval of the mean (see :func:`bootstrap_ci` for ``kwargs``)."""
    return bootstrap_ci(returns, _rows_mean, **kwargs)  # type: ignore[arg-type]


def sharpe_ci(
    returns: ArrayLike, periods_per_year: float = 1.0, **kwargs: float | int | None
) -> ConfidenceInterval:
    """Stationary-bootstrap interval of the Sharpe ratio (annualised with
    ``periods_per_year``); all NaN when a return is NaN (a day from an equity at or below zero:
    the ratio is not defined, see :func:`~nautilus_ai.reporting.daily_returns`)."""
    x = np.asarray(returns, dtype=np.float64)
    if np.isnan(x).any():
        nan = math.nan
        level = float(kwargs.get("level") or 0.95)
        return ConfidenceInterval(nan, nan, nan, level, 1.0, 0, int(x.size))
    return bootstrap_ci(returns, _rows_sharpe(periods_per_year), **kwargs)  # type: ignore[arg-type]


def win_rate_ci(trade_pnls: ArrayLike, **kwargs: float | int | None) -> ConfidenceInterval:
    """Stationary-bootstrap interval of the share of trades with PnL > 0 (trades in time
    order: a losing streak is dependence too)."""
    return bootstrap_ci(trade_pnls, _rows_win_rate, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SeedSpread:
    """A figure over repeated runs that differ only in their seed."""

    mean: float
    std: float
    low: float
    high: float
    n: int
    values: tuple[float, ...] = field(default=(), repr=False)

    def text(self, fmt: str = ".3f") -> str:
        """``mean ± std (min .. max, n seeds)``."""
        return (
            f"{self.mean:{fmt}} ± {self.std:{fmt}} ({self.low:{fmt}} .. {self.high:{fmt}}, "
            f"{self.n} seeds)"
        )


def seed_spread(values: Sequence[float] | ArrayLike) -> SeedSpread:
    """Mean ± sample standard deviation (``ddof=1``; 0 for one run), min and max over seeds."""
    x = _vector(values, "values")
    if x.size == 0:
        raise ValueError("seed_spread needs at least one value")
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    return SeedSpread(
        float(x.mean()), std, float(x.min()), float(x.max()), int(x.size), tuple(x.tolist())
    )


# ---------------------------------------------------------------------- deflated Sharpe


def expected_max_sharpe(n_trials: int, sharpe_variance: float, mean_sharpe: float = 0.0) -> float:
    """Expected maximum of ``n_trials`` independent Sharpe estimates of skill-less strategies
    (Bailey & López de Prado 2014, eq. for ``SR_0``)::

        E[max SR] = mean + sqrt(V) * ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e)))

    with ``g`` the Euler-Mascheroni constant. 0 excess for one trial.
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    if not sharpe_variance >= 0.0:
        raise ValueError(f"sharpe_variance must be >= 0, got {sharpe_variance!r}")
    if n_trials == 1:
        return mean_sharpe
    z = (1.0 - EULER_GAMMA) * norm.ppf(1.0 - 1.0 / n_trials) + EULER_GAMMA * norm.ppf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return mean_sharpe + math.sqrt(sharpe_variance) * float(z)


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, n_obs: int, skewness: float = 0.0, kurtosis: float = 3.0
) -> float:
    """Probability that the true (per-period) Sharpe ratio exceeds ``benchmark``, given the
    estimate from ``n_obs`` returns with that skewness and (non-excess) kurtosis::

        PSR = Z((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))
    """
    if n_obs < 2:
        raise ValueError(f"n_obs must be >= 2, got {n_obs}")
    variance = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if variance <= 0.0:
        raise ValueError(
            f"1 - skew*SR + (kurt-1)/4*SR^2 = {variance:.4g} <= 0: moments inconsistent"
        )
    z = (sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(variance)
    return float(norm.cdf(z))


@dataclass(frozen=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio and its inputs (Sharpe ratios per period).

    Parameters
    ----------
    dsr : float
        Probability that the selected strategy's true Sharpe exceeds ``benchmark``.
    sharpe : float
        The selected strategy's estimated Sharpe ratio (per period).
    benchmark : float
        ``E[max SR]`` of ``n_trials`` skill-less trials.
    n_trials, n_obs : int
    skewness, kurtosis : float
        Of the selected strategy's returns (kurtosis is not excess: 3 for a normal).
    sharpe_variance : float
        Variance of the Sharpe estimates across the trials (per period).
    """

    dsr: float
    sharpe: float
    benchmark: float
    n_trials: int
    n_obs: int
    skewness: float
    kurtosis: float
    sharpe_variance: float


def deflated_sharpe_ratio(
    *,
    sharpe: float,
    n_obs: int,
    n_trials: int,
    sharpe_variance: float,
    skewness: float = 0.0,
    kurtosis: float = 3.0,
) -> DeflatedSharpe:
    """Deflated Sharpe ratio (Bailey & López de Prado 2014): the PSR of the selected strategy's
    per-period Sharpe against :func:`expected_max_sharpe` of ``n_trials`` with the variance of
    the trials' Sharpe estimates.

    The paper's worked example (N = 100 trials, variance 1/2 of annualised Sharpe ratios, a
    selected annualised Sharpe of 2.5 over T = 1,250 daily returns with skewness -3 and
    kurtosis 10) gives ``E[max SR] ~ 0.1132`` per day and ``DSR ~ 0.9004``; the tests reproduce
    it. ``n_trials`` should count independent trials: correlated configurations (neighbouring
    parameters) are fewer effective trials. :func:`deflated_sharpe_of_best` takes every
    trial's returns instead.
    """
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    dsr = probabilistic_sharpe_ratio(sharpe, benchmark, n_obs, skewness, kurtosis)
    return DeflatedSharpe(
        dsr, sharpe, benchmark, n_trials, n_obs, skewness, kurtosis, sharpe_variance
    )


def deflated_sharpe_of_best(returns: ArrayLike) -> tuple[int, DeflatedSharpe]:
    """The configuration with the highest Sharpe ratio in a ``(T, N)`` matrix of per-period
    returns (every trial tried, same periods) and its deflated Sharpe ratio, with ``N`` trials,
    the variance of the ``N`` Sharpe estimates and the winner's skewness and kurtosis."""
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 3 or m.shape[1] < 1:
        raise ValueError(f"returns must be (T >= 3, N >= 1), got {m.shape}")
    sd = m.std(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sharpes = np.where(sd > 0, m.mean(axis=0) / sd, np.nan)
    if np.isnan(sharpes).all():
        raise ValueError("no trial has varying returns: no Sharpe ratio to deflate")
    best = int(np.nanargmax(sharpes))
    x = m[:, best]
    z = (x - x.mean()) / x.std()
    skewness, kurtosis = float(np.mean(z**3)), float(np.mean(z**4))
    # The spread of the trials' Sharpe ratios; with fewer than two (the other trials never
    # traded: flat, no Sharpe ratio) there is none to measure, as with a single trial.
    finite = int(np.isfinite(sharpes).sum())
    variance = float(np.nanvar(sharpes, ddof=1)) if finite > 1 else 0.0
    return best, deflated_sharpe_ratio(
        sharpe=float(sharpes[best]), n_obs=m.shape[0], n_trials=m.shape[1],
        sharpe_variance=variance, skewness=skewness, kurtosis=kurtosis,
    )  # fmt: skip


# ---------------------------------------------------------------------- CSCV / PBO


@dataclass(frozen=True)
class OverfittingReport:
    """CSCV over ``S`` row blocks of a ``(T, N)`` returns matrix.

    Parameters
    ----------
    pbo : float
        Probability of backtest overfitting: share of the ``C(S, S/2)`` splits where the
        configuration best in-sample ranks in the bottom half out of sample (logit <= 0).
    logits : ndarray
        Per split, ``ln(w / (1 - w))`` of the in-sample winner's relative out-of-sample rank
        ``w = rank / (N + 1)`` (rank 1 = worst).
    in_sample, out_of_sample : ndarray
        Per split, the in-sample winner's metric in and out of sample (performance
        degradation: a regression of the second on the first slopes down when overfit).
    probability_of_loss : float
        Share of splits whose in-sample winner has a negative out-of-sample metric.
    n_splits, n_configurations, n_rows : int
        ``S``, ``N`` and the rows used (``T`` rounded down to a multiple of ``S``).
    metric : str
    """

    pbo: float
    logits: F64 = field(repr=False)
    in_sample: F64 = field(repr=False)
    out_of_sample: F64 = field(repr=False)
    probability_of_loss: float
    n_splits: int
    n_configurations: int
    n_rows: int
    metric: str


def probability_of_backtest_overfitting(
    returns: ArrayLike,
    *,
    n_splits: int = 16,
    metric: Literal["sharpe", "mean"] = "sharpe",
) -> OverfittingReport:
    """PBO by combinatorially symmetric cross-validation (Bailey, Borwein, López de Prado & Zhu).

    ``returns`` is ``(T, N)``: per-period returns (rows in time order) of every configuration
    tried (columns). Rows are cut into ``n_splits`` contiguous blocks of equal length (trailing
    rows that do not fill a block are dropped); each half of the blocks is in turn the
    in-sample set and the other half the out-of-sample set. The metric is computed from block
    sums, so every split costs one matrix product.

    Raises
    ------
    ValueError
        Fewer than 2 configurations, an odd ``n_splits`` or fewer than 2 rows per block.
    """
    m = np.asarray(returns, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError(f"returns must be (T, N) with N >= 2 configurations, got {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError("returns must be finite")
    if n_splits < 2 or n_splits % 2:
        raise ValueError(f"n_splits must be an even number >= 2, got {n_splits}")
    per_block = m.shape[0] // n_splits
    if per_block < 2:
        raise ValueError(f"{m.shape[0]} rows are too few for {n_splits} blocks of >= 2 rows")
    rows = per_block * n_splits
    blocks = m[:rows].reshape(n_splits, per_block, m.shape[1])
    sums = blocks.sum(axis=1)  # (S, N)
    squares = (blocks**2).sum(axis=1)
    chosen = np.array(list(combinations(range(n_splits), n_splits // 2)), dtype=np.intp)
    in_mask = np.zeros((len(chosen), n_splits))
    np.put_along_axis(in_mask, chosen, 1.0, axis=1)
    out_mask = 1.0 - in_mask
    count = per_block * n_splits / 2
    is_metric = _metric(in_mask @ sums, in_mask @ squares, count, metric)
    oos_metric = _metric(out_mask @ sums, out_mask @ squares, count, metric)
    best = np.argmax(np.where(np.isnan(is_metric), -np.inf, is_metric), axis=1)
    n_configs = m.shape[1]
    split = np.arange(len(chosen))
    # average rank (1 = worst) of the in-sample winner among the out-of-sample metrics
    oos_ranked = np.nan_to_num(oos_metric, nan=-np.inf)
    winner = oos_ranked[split, best][:, None]
    below = (oos_ranked < winner).sum(axis=1)
    tied = (oos_ranked == winner).sum(axis=1)
    relative = (below + (tied + 1) / 2.0) / (n_configs + 1)
    logits = np.log(relative / (1.0 - relative))
    oos_best = oos_metric[split, best]
    return OverfittingReport(
        pbo=float(np.mean(logits <= 0.0)),
        logits=logits,
        in_sample=is_metric[split, best],
        out_of_sample=oos_best,
        probability_of_loss=float(np.mean(oos_best < 0.0)),
        n_splits=n_splits,
        n_configurations=n_configs,
        n_rows=rows,
        metric=metric,
    )


def _metric(sums: F64, squares: F64, count: float, metric: str) -> F64:
    mean = sums / count
    if metric == "mean":
        return mean
    if metric != "sharpe":
        raise ValueError(f"metric must be 'sharpe' or 'mean', got {metric!r}")
    variance = np.maximum((squares - count * mean**2) / (count - 1.0), 0.0)
    sd = np.sqrt(variance)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: F64 = np.where(sd > 0, mean / sd, np.nan)
    return out
