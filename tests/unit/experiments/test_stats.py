"""Honest statistics: the papers' worked example, an independent CSCV, and Monte Carlo checks
that the intervals and probabilities mean what they say."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy.signal import lfilter
from scipy.stats import rankdata

from nautilus_ai.experiments import (
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


def _ar1(n: int, phi: float, rng: np.random.Generator) -> NDArray[np.float64]:
    shocks = rng.normal(size=n + 200)
    x: NDArray[np.float64] = lfilter([1.0], [1.0, -phi], shocks)  # x_t = phi x_(t-1) + e_t
    return x[200:]


# ---------------------------------------------------------------------- deflated Sharpe


def test_deflated_sharpe_reproduces_the_papers_numerical_example() -> None:
    """Bailey & López de Prado (2014), numerical example: 100 trials whose annualised Sharpe
    ratios have variance 1/2, the best at 2.5 annualised over 5 years of daily returns (T =
    1,250) with skewness -3 and kurtosis 10: E[max SR] = 0.1132 a day, DSR = 0.9004."""
    days = 250
    result = deflated_sharpe_ratio(
        sharpe=2.5 / math.sqrt(days), n_obs=1_250, n_trials=100, sharpe_variance=0.5 / days,
        skewness=-3.0, kurtosis=10.0,
    )  # fmt: skip
    assert result.benchmark == pytest.approx(0.1132, abs=5e-5)
    assert result.dsr == pytest.approx(0.9004, abs=5e-5)


def test_expected_max_sharpe_matches_simulated_maxima() -> None:
    """The closed form against the mean maximum of N simulated skill-less Sharpe estimates
    (an approximation: within 4%, closer as N grows)."""
    rng = np.random.default_rng(1)
    for n_trials in (10, 100, 1_000):
        maxima = rng.normal(0.0, 0.3, size=(4_000, n_trials)).max(axis=1)
        assert expected_max_sharpe(n_trials, 0.09) == pytest.approx(maxima.mean(), rel=0.04)
    assert expected_max_sharpe(1, 0.09) == 0.0


def test_psr_is_calibrated_at_the_true_sharpe() -> None:
    """Returns with true Sharpe 0.1: PSR against 0.1 exceeds 0.95 about 5% of the time."""
    rng = np.random.default_rng(2)
    returns = rng.normal(0.1, 1.0, size=(3_000, 250))
    sharpes = returns.mean(axis=1) / returns.std(axis=1, ddof=1)
    psr = np.array([probabilistic_sharpe_ratio(s, 0.1, 250) for s in sharpes])
    assert 0.035 <= np.mean(psr > 0.95) <= 0.065


def test_deflation_removes_the_selection_bias_of_noise() -> None:
    """Best of 40 skill-less configurations: its plain PSR against 0 clears 0.95 most of the
    time, its deflated Sharpe ratio about as rarely as chance allows."""
    rng = np.random.default_rng(3)
    plain, deflated = [], []
    for _ in range(150):
        trials = rng.normal(0.0, 1.0, size=(500, 40))
        best, result = deflated_sharpe_of_best(trials)
        assert result.sharpe == pytest.approx(sharpe_ratio(trials[:, best]))
        plain.append(probabilistic_sharpe_ratio(result.sharpe, 0.0, 500))
        deflated.append(result.dsr)
    assert np.mean(np.array(plain) > 0.95) > 0.6
    assert np.mean(np.array(deflated) > 0.95) < 0.1


@given(st.integers(2, 2_000), st.integers(2, 2_000), st.floats(0.001, 1.0))
def test_more_trials_never_raise_the_dsr(n_small: int, n_large: int, variance: float) -> None:
    lo, hi = sorted((n_small, n_large))
    a = deflated_sharpe_ratio(sharpe=0.1, n_obs=500, n_trials=lo, sharpe_variance=variance)
    b = deflated_sharpe_ratio(sharpe=0.1, n_obs=500, n_trials=hi, sharpe_variance=variance)
    assert b.benchmark >= a.benchmark and b.dsr <= a.dsr


# ---------------------------------------------------------------------- PBO


def _pbo_by_the_book(m: NDArray[np.float64], s: int) -> tuple[float, NDArray[np.float64]]:
    """CSCV written out from the paper's steps, independently of the library's block sums:
    for every half of the S blocks, concatenate its rows, take each column's Sharpe ratio in
    and out of sample, rank the in-sample winner out of sample, and take the logit."""
    rows = (m.shape[0] // s) * s
    blocks = np.array_split(m[:rows], s)
    logits = []
    for train in combinations(range(s), s // 2):
        is_rows = np.concatenate([blocks[i] for i in train])
        oos_rows = np.concatenate([blocks[i] for i in range(s) if i not in train])
        r_is = is_rows.mean(axis=0) / is_rows.std(axis=0, ddof=1)
        r_oos = oos_rows.mean(axis=0) / oos_rows.std(axis=0, ddof=1)
        winner = int(np.argmax(r_is))
        omega = rankdata(r_oos)[winner] / (m.shape[1] + 1)
        logits.append(math.log(omega / (1.0 - omega)))
    values = np.array(logits)
    return float(np.mean(values <= 0.0)), values


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    configs=st.integers(2, 12),
    splits=st.sampled_from([2, 4, 6, 8]),
    rows=st.integers(40, 300),
)
def test_pbo_equals_an_independent_implementation(
    seed: int, configs: int, splits: int, rows: int
) -> None:
    rng = np.random.default_rng(seed)
    m = rng.normal(0.0, 1.0, size=(rows, configs)) + rng.normal(0.0, 0.05, size=configs)
    report = probability_of_backtest_overfitting(m, n_splits=splits)
    pbo, logits = _pbo_by_the_book(m, splits)
    assert report.pbo == pbo
    assert np.allclose(report.logits, logits, rtol=0, atol=1e-9)
    assert report.n_rows == (rows // splits) * splits


def test_pbo_is_a_coin_flip_for_noise_and_zero_for_a_real_edge() -> None:
    rng = np.random.default_rng(4)
    noise = [
        probability_of_backtest_overfitting(rng.normal(size=(1_600, 20)), n_splits=16).pbo
        for _ in range(6)
    ]
    assert 0.35 <= float(np.mean(noise)) <= 0.65
    edge = rng.normal(size=(1_600, 20))
    edge[:, 7] += 0.3  # one configuration with a true Sharpe of 0.3 a period
    report = probability_of_backtest_overfitting(edge, n_splits=16)
    assert report.pbo < 0.02
    assert report.probability_of_loss < 0.02
    assert report.logits.size == math.comb(16, 8)


def test_pbo_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match="N >= 2"):
        probability_of_backtest_overfitting(np.zeros((100, 1)))
    with pytest.raises(ValueError, match="even number"):
        probability_of_backtest_overfitting(np.zeros((100, 3)), n_splits=5)
    with pytest.raises(ValueError, match="too few"):
        probability_of_backtest_overfitting(np.zeros((20, 3)), n_splits=16)


# ---------------------------------------------------------------------- bootstrap


def test_iid_data_get_nominal_coverage() -> None:
    """90% intervals of the mean of 200 iid normal draws cover the true mean ~90% of the time."""
    rng = np.random.default_rng(5)
    covered = [
        mean_ci(rng.normal(0.3, 1.0, 200), level=0.9, n_resamples=400, seed=i).contains(0.3)
        for i in range(300)
    ]
    assert 0.85 <= np.mean(covered) <= 0.95


def test_stationary_bootstrap_keeps_coverage_where_the_iid_one_fails() -> None:
    """AR(1) with phi = 0.6 (the mean's variance is 4x the iid formula): resampling single
    observations covers far too rarely; the stationary bootstrap with the automatic block
    length stays near the nominal rate."""
    rng = np.random.default_rng(6)
    stationary, iid = [], []
    for i in range(200):
        x = _ar1(1_000, 0.6, rng)
        stationary.append(mean_ci(x, level=0.9, n_resamples=400, seed=i).contains(0.0))
        iid.append(mean_ci(x, level=0.9, n_resamples=400, seed=i, mean_block=1).contains(0.0))
    assert np.mean(stationary) >= 0.78
    assert np.mean(iid) <= 0.7


def test_block_length_follows_the_dependence() -> None:
    """Near 1 for white noise; for AR(1) near the theoretical optimum (2 G^2 / D)^(1/3) n^(1/3)
    with G = 2 phi / ((1 - phi^2)(1 - phi)^2), D = 2 / (1 - phi)^4 (unit shocks)."""
    rng = np.random.default_rng(7)
    assert optimal_block_length(rng.normal(size=5_000)) < 2.5
    n, phi = 20_000, 0.5
    g = 2 * phi / ((1 - phi**2) * (1 - phi) ** 2)
    d = 2 / (1 - phi) ** 4
    theory = (2 * g**2 / d) ** (1 / 3) * n ** (1 / 3)
    estimates = [optimal_block_length(_ar1(n, phi, rng)) for _ in range(5)]
    assert float(np.median(estimates)) == pytest.approx(theory, rel=0.35)


@given(
    n=st.integers(1, 60),
    block=st.floats(1.0, 80.0),
    seed=st.integers(0, 1_000),
)
def test_resamples_are_wrapped_blocks_of_the_data(n: int, block: float, seed: int) -> None:
    idx = stationary_bootstrap_indices(n, block, 20, np.random.default_rng(seed))
    assert idx.shape == (20, n) and idx.min() >= 0 and idx.max() < n
    if n > 1:  # a step is either "next index (wrapping)" or the start of a new block
        steps = (idx[:, 1:] - idx[:, :-1]) % n
        assert np.isin(steps, np.arange(n)).all()


def test_long_blocks_are_rotations_and_unit_blocks_are_iid() -> None:
    rng = np.random.default_rng(8)
    rotations = stationary_bootstrap_indices(50, 1e12, 30, rng)
    assert (((rotations[:, 1:] - rotations[:, :-1]) % 50) == 1).all()
    iid = stationary_bootstrap_indices(2_000, 1.0, 5, rng)
    continued = np.mean(((iid[:, 1:] - iid[:, :-1]) % 2_000) == 1)
    assert continued < 0.01  # new block every step: only chance continuations


@given(st.lists(st.floats(-5, 5), min_size=2, max_size=80), st.integers(0, 100))
def test_intervals_are_ordered_and_reproducible(values: list[float], seed: int) -> None:
    for ci in (
        sharpe_ci(values, n_resamples=100, seed=seed),
        win_rate_ci(values, n_resamples=100, seed=seed),
    ):
        if not math.isnan(ci.low):
            assert ci.low <= ci.high
    a = mean_ci(values, n_resamples=100, seed=seed)
    b = mean_ci(values, n_resamples=100, seed=seed)
    assert (a.low, a.high) == (b.low, b.high)
    assert a.low - 1e-12 <= max(values) and a.high + 1e-12 >= min(values)
    rate = win_rate_ci(values, n_resamples=100, seed=seed)
    assert 0.0 <= rate.low <= rate.high <= 1.0


def test_annualised_sharpe_interval_and_text() -> None:
    rng = np.random.default_rng(9)
    daily = rng.normal(0.001, 0.01, 500)
    ci = sharpe_ci(daily, periods_per_year=252, n_resamples=500)
    assert ci.estimate == pytest.approx(sharpe_ratio(daily, 252))
    assert ci.low < ci.estimate < ci.high
    assert "95% CI" in ci.text(".2f")
    custom = bootstrap_ci(daily, lambda rows: rows.max(axis=1), n_resamples=200)
    assert custom.estimate == daily.max()


def test_seed_spread() -> None:
    spread = seed_spread([1.0, 2.0, 3.0, 6.0])
    assert (spread.mean, spread.low, spread.high, spread.n) == (3.0, 1.0, 6.0, 4)
    assert spread.std == pytest.approx(np.std([1, 2, 3, 6], ddof=1))
    assert spread.text(".1f") == "3.0 ± 2.2 (1.0 .. 6.0, 4 seeds)"
    assert seed_spread([2.5]).std == 0.0
    with pytest.raises(ValueError, match="at least one"):
        seed_spread([])


def test_the_dsr_of_the_only_trial_that_traded_is_its_psr() -> None:
    """Three trials of which only one traded (the others flat: no Sharpe ratio) raised
    'sharpe_variance must be >= 0, got nan' (after a 'Degrees of freedom <= 0' warning): the
    experiment's analysis, its report and 'experiment show / best' all failed on it. With one
    Sharpe ratio there is no spread across trials to deflate by, as with a single trial."""
    rng = np.random.default_rng(0)
    returns = np.zeros((40, 3))
    returns[:, 1] = rng.normal(0.001, 0.01, 40)
    best, dsr = deflated_sharpe_of_best(returns)
    alone, single = deflated_sharpe_of_best(returns[:, 1:2])
    assert best == 1 and alone == 0
    assert dsr.n_trials == 3 and dsr.sharpe_variance == 0.0
    assert dsr.dsr == pytest.approx(single.dsr) and math.isfinite(dsr.dsr)
