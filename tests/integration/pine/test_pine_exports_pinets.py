"""The other embeddings, the syntax check, DST in PineTS, and the broken-feature regression, each
on a short window of real bars (the month-long run lives in test_pine_month_parity.py)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pine_fixtures import TRAINED_MIN_CONFIDENCE

from nautilus_ai.data import BarArrays
from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.models import RulePredictor, TorchPredictor, save_artifact
from nautilus_ai.pine import (
    PineSyntaxChecker,
    StrategyOptions,
    check_export,
    export_distilled,
    export_mlp_artifact,
    export_rule,
    run_pinets,
)
from nautilus_ai.pine import features as pine_features_module
from nautilus_ai.pine.embed import reference_erf

pytestmark = pytest.mark.slow

SHORT = 3_000  # bars per short run: ~2 days of M1 bars, warm after 114


def _short(bars: BarArrays, start: int = 0) -> BarArrays:
    return bars.take(slice(start, start + SHORT))


def test_rule_export_matches_the_rule_predictor(
    month_bars: BarArrays, pinets_modules: Path, syntax_checker: PineSyntaxChecker
) -> None:
    spec = FeatureSpec()
    export = export_rule(spec)
    # a window where the rule fires (it fires on a few percent of bars, in runs)
    report = check_export(
        export,
        month_bars.take(slice(0, 8_000)),
        RulePredictor(spec),
        checker=syntax_checker,
        node_modules=str(pinets_modules),
    )
    print(report.summary())
    assert report.passed, report.summary()
    assert report.parity is not None and report.parity.signals.signal_bars > 50
    assert report.parity.signals.mismatches == ()


def test_gelu_mlp_export_matches_torch(
    tmp_path: Path,
    month_bars: BarArrays,
    pinets_modules: Path,
    syntax_checker: PineSyntaxChecker,
) -> None:
    spec = FeatureSpec()
    model = TorchPredictor.random(spec, seed=3, hidden=(16, 8), activation="gelu", device="cpu")
    path = save_artifact(model.module, model.card, tmp_path)
    export = export_mlp_artifact(path)
    reference = TorchPredictor.from_artifact(path, spec=spec, device="cpu")
    report = check_export(
        export,
        _short(month_bars, 10_000),
        reference,
        checker=syntax_checker,
        node_modules=str(pinets_modules),
    )
    print(report.summary())
    assert report.passed, report.summary()
    assert report.parity is not None and report.parity.signals.signal_bars > 100


def test_pine_erf_matches_math_erf_in_pinets(pinets_modules: Path) -> None:
    """Both branches of the Pine erf (series below 2.5, continued fraction above)."""
    from nautilus_ai.pine.embed import erf_lines

    n = 1_601
    script = "\n".join(
        [
            "//@version=6",
            'indicator("erf")',
            *erf_lines(),
            "float x = (bar_index - 800) / 100.0",
            "[e, c] = nai_erf(x)",
            'plot(e, "erf")',
        ]
    )
    ts = (np.arange(n, dtype=np.int64) + 1) * 60_000_000_000 + 1_700_000_000_000_000_000
    ones = np.ones(n)
    result = run_pinets(script, ts, ones, ones, ones, ones, ones * 0, node_modules=pinets_modules)
    x = (np.arange(n) - 800) / 100.0
    expected = np.array([math.erf(v) for v in x])
    twin = np.array([reference_erf(v) for v in x])
    assert np.max(np.abs(result.plots["erf"] - expected)) < 1e-13
    assert np.max(np.abs(result.plots["erf"] - twin)) < 1e-13


def test_distilled_tree_export_runs_as_the_tree(
    trained_artifact: Path,
    fit_bars: BarArrays,
    month_bars: BarArrays,
    pinets_modules: Path,
    syntax_checker: PineSyntaxChecker,
) -> None:
    spec = FeatureSpec()
    predictor = TorchPredictor.from_artifact(trained_artifact, spec=spec, device="cpu")
    b = fit_bars
    features = compute_features(spec, b.ts_event, b.open, b.high, b.low, b.close, b.volume)
    export = export_distilled(
        predictor,
        spec,
        features,
        options=StrategyOptions(min_confidence=TRAINED_MIN_CONFIDENCE),
        data_description="HistData EUR/USD M1 2017-02..04",
    )
    report = export.distill_report
    assert report is not None and export.tree is not None
    print(report.summary())
    assert 0.5 < report.fidelity <= 1.0
    assert f"{report.fidelity:.2%}" in export.script  # fidelity is in the header
    check = check_export(
        export,
        _short(month_bars, 20_000),
        checker=syntax_checker,
        node_modules=str(pinets_modules),
    )
    print(check.summary())
    assert check.passed, check.summary()


@pytest.mark.parametrize(
    "moment",
    [
        # just before / after each 2017 and 2024 switch (UTC)
        "2017-03-12T06:59", "2017-03-12T07:00", "2017-11-05T05:59", "2017-11-05T06:00",  # US
        "2017-03-26T00:59", "2017-03-26T01:00", "2017-10-29T00:59", "2017-10-29T01:00",  # EU
        "2017-04-01T15:59", "2017-04-01T16:00", "2017-09-30T15:59", "2017-09-30T16:00",  # Sydney
        "2024-03-10T06:59", "2024-03-10T07:00", "2024-10-27T00:59", "2024-10-27T01:00",
        "2024-04-06T15:59", "2024-04-06T16:00", "2024-10-05T15:59", "2024-10-05T16:00",
    ],
)  # fmt: skip
def test_session_features_cross_dst_switches(moment: str, request: pytest.FixtureRequest) -> None:
    """Collected per moment; the PineTS run happens once in ``_dst_run``."""
    run = request.getfixturevalue("dst_run")
    stamp = int(datetime.fromisoformat(moment).replace(tzinfo=UTC).timestamp()) * 10**9
    i = int(np.flatnonzero(run["ts"] == stamp)[0])
    for name, column in run["python"].items():
        if name.startswith("session_"):
            assert run["pine"][name][i] == column[i], (moment, name)
        else:  # JavaScript's Math.sin / cos may differ from libm by an ulp
            assert abs(run["pine"][name][i] - column[i]) <= 1e-15, (moment, name)


@pytest.fixture(scope="module")
def dst_run(pinets_modules: Path) -> dict[str, object]:
    """Bars every minute around each DST switch (+-3 h), run once through the exported
    script; the session, hour and weekday features of both sides."""
    spec = FeatureSpec()
    centres = [
        "2017-03-12T07:00", "2017-11-05T06:00", "2017-03-26T01:00", "2017-10-29T01:00",
        "2017-04-01T16:00", "2017-09-30T16:00", "2024-03-10T07:00", "2024-10-27T01:00",
        "2024-04-06T16:00", "2024-10-05T16:00",
    ]  # fmt: skip
    stamps: list[int] = []
    for centre in centres:
        c = int(datetime.fromisoformat(centre).replace(tzinfo=UTC).timestamp()) // 60
        stamps += [(c + k) * 60 * 10**9 for k in range(-180, 181)]
    ts = np.array(sorted(set(stamps)), dtype=np.int64)
    n = len(ts)
    close = 1.1 + 0.001 * np.sin(np.arange(n) / 7.0)
    high, low = close + 0.0002, close - 0.0002
    volume = np.zeros(n)
    python = compute_features(spec, ts, close, high, low, close, volume)
    export = export_rule(spec)
    result = run_pinets(
        export.script, ts, close, high, low, close, volume, node_modules=pinets_modules
    )
    names = [name for name in spec.names if name.startswith(("session_", "hour_", "dow_"))]
    return {
        "ts": ts,
        "python": {name: python[:, spec.index(name)] for name in names},
        "pine": {name: result.plots[name] for name in names},
    }


def test_a_broken_feature_fails_the_parity_check(
    monkeypatch: pytest.MonkeyPatch,
    month_bars: BarArrays,
    pinets_modules: Path,
    syntax_checker: PineSyntaxChecker,
) -> None:
    """Regression guard for the proof itself: break one feature in the generator (RSI with
    the wrong period) and the check must fail, naming that feature and only that one."""

    def broken_rsi(spec: FeatureSpec) -> list[str]:
        return [f"float f_rsi = ta.rsi(close, {spec.rsi_period + 1}) / 100"]

    monkeypatch.setattr(pine_features_module, "_rsi_lines", broken_rsi)
    spec = FeatureSpec()
    export = export_rule(spec)
    assert f"ta.rsi(close, {spec.rsi_period + 1})" in export.script
    report = check_export(
        export,
        _short(month_bars),
        RulePredictor(spec),
        checker=syntax_checker,
        node_modules=str(pinets_modules),
    )
    print(report.summary())
    assert report.syntax.ok
    assert not report.passed
    assert report.parity is not None
    assert report.parity.failing_features == ("rsi",)
    assert "FAIL rsi" in report.summary()


def test_syntax_errors_carry_line_and_column(syntax_checker: PineSyntaxChecker) -> None:
    script = export_rule(FeatureSpec()).script
    lines = script.splitlines()
    target = next(i for i, line in enumerate(lines) if line.startswith("float f_rsi"))
    lines[target] = lines[target].replace("ta.rsi(close,", "ta.rsi(close,,")
    report = syntax_checker.check("\n".join(lines) + "\n")
    assert not report.ok
    assert report.line == target + 1
    assert report.column is not None and report.column > 1
    assert "ta.rsi(close,," in report.text
    assert f"line {target + 1}, column {report.column}" in report.describe()


def test_the_timeframe_guard_runs_in_pinets(month_bars: BarArrays, pinets_modules: Path) -> None:
    """On a chart of the model's own bars the guarded script runs; on another timeframe it
    stops with the runtime error naming both (PineTS is told the bars' timeframe)."""
    from nautilus_ai.pine import PineTSError

    bars = month_bars.take(slice(0, 300))
    spec = FeatureSpec()

    def run(bar_type: str, bar_seconds: int) -> object:
        script = export_rule(spec, bar_type=bar_type).script
        return run_pinets(
            script, bars.ts_event, bars.open, bars.high, bars.low, bars.close, bars.volume,
            bar_seconds=bar_seconds, node_modules=str(pinets_modules), timeout=120,
        )  # fmt: skip

    assert run("EUR/USD.SIM-1-MINUTE-BID-EXTERNAL", 60).plots["signal"].size == 300  # type: ignore[attr-defined]
    with pytest.raises(PineTSError, match=r"fitted on 5 min bars .*timeframe is 1: switch"):
        run("EUR/USD.SIM-5-MINUTE-BID-EXTERNAL", 60)
    with pytest.raises(PineTSError, match=r"fitted on 1 min bars .*timeframe is 240: switch"):
        run("EUR/USD.SIM-1-MINUTE-BID-EXTERNAL", 14_400)
