from __future__ import annotations

import pytest
from pydantic import ValidationError

from nautilus_ai.models.latency import (
    EmpiricalLatency,
    FixedLatency,
    LatencyConfig,
    LogNormalLatency,
)


def test_fixed_latency() -> None:
    draw = FixedLatency(150_000_000).sampler()
    assert [draw() for _ in range(3)] == [150_000_000] * 3
    with pytest.raises(ValueError, match="latency_ns"):
        FixedLatency(-1)


def test_lognormal_is_seeded_and_capped() -> None:
    model = LogNormalLatency(median_ns=100_000_000, sigma=0.8, seed=7, max_ns=300_000_000)
    first = [model.sampler()() for _ in range(1)]
    a = model.sampler()
    b = model.sampler()
    seq_a = [a() for _ in range(500)]
    seq_b = [b() for _ in range(500)]
    assert seq_a == seq_b
    assert first[0] == seq_a[0]
    assert max(seq_a) <= 300_000_000
    assert min(seq_a) > 0
    median = sorted(seq_a)[250]
    assert 70_000_000 < median < 140_000_000
    other = LogNormalLatency(median_ns=100_000_000, sigma=0.8, seed=8).sampler()
    assert [other() for _ in range(20)] != seq_a[:20]


def test_empirical_resamples_given_values() -> None:
    draw = EmpiricalLatency((1, 2, 3), seed=1).sampler()
    assert {draw() for _ in range(200)} == {1, 2, 3}
    with pytest.raises(ValueError, match="empty"):
        EmpiricalLatency(())


def test_config_builds_models_from_json() -> None:
    assert LatencyConfig.parse({"kind": "fixed", "latency_ms": 1.5}) == FixedLatency(1_500_000)
    model = LatencyConfig.parse({"kind": "lognormal", "median_ms": 120, "sigma": 0.5, "seed": 3})
    assert model == LogNormalLatency(120_000_000, 0.5, 3, None)
    empirical = LatencyConfig.parse({"kind": "empirical", "samples_ms": [4, 5]})
    assert empirical == EmpiricalLatency((4_000_000, 5_000_000), 0)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "fixed", "latency_ms": -1}, "latency_ms"),
        ({"kind": "lognormal", "median_ms": 0, "sigma": 1}, "median_ms"),
        ({"kind": "fixed", "latency_ms": 1, "typo": 2}, "typo"),
        ({"kind": "gamma"}, "kind"),
    ],
)
def test_config_errors_name_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        LatencyConfig.parse(data)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"kind": "empirical", "samples_ms": [1.0, -2.0]}, r"samples_ms\[1\]"),
        ({"kind": "lognormal", "median_ms": 100, "sigma": 0.5, "max_ms": 50}, "max_ms"),
        ({"kind": "fixed", "latency_ms": 1e300}, "latency_ms"),
    ],
)
def test_the_strategy_config_check_refuses_latencies_that_cannot_be_built(
    data: dict[str, object], where: str
) -> None:
    # The strategy's decision_latency dict passed its config check and failed later, when the
    # model was built ("samples_ns must all be >= 0", an int overflow), naming no key.
    from nautilus_ai.config_check import ConfigFieldError, check
    from nautilus_ai.models.latency import LatencySpec

    with pytest.raises(ConfigFieldError, match=where):
        check(data, LatencySpec)


def test_a_wide_lognormal_never_overflows() -> None:
    # sigma 500 (accepted by the config, no max_ms): about one draw in ten overflowed to
    # infinity and int() raised OverflowError in the middle of a backtest; others were far past
    # int64 nanoseconds. Draws without a cap now stop at a day.
    draw = LatencyConfig.parse({"kind": "lognormal", "median_ms": 100, "sigma": 500}).sampler()
    values = [draw() for _ in range(2_000)]
    assert min(values) >= 0 and max(values) == 86_400 * 10**9
    capped = LatencyConfig.parse(
        {"kind": "lognormal", "median_ms": 100, "sigma": 500, "max_ms": 250}
    ).sampler()
    assert max(capped() for _ in range(2_000)) == 250 * 10**6
