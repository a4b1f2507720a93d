"""predict / size / evaluate / plots on synthetic bars: holds with reasons, one-line refusals."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import nautilus_ai.research as nr
from nautilus_ai.features import FeatureSpec
from nautilus_ai.models import Action, MarketContext, Prediction, PredictionError
from nautilus_ai.models.testing import ScriptedPredictor, synthetic_bars


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    raw = synthetic_bars(600, seed=4)
    index = pd.to_datetime(raw[:, 0].astype(np.int64), unit="ns", utc=True)
    frame = pd.DataFrame(raw[:, 1:], index=index, columns=list(nr.BAR_COLUMNS))
    return nr.as_bars(frame)


@pytest.fixture(scope="module")
def features(bars: pd.DataFrame) -> pd.DataFrame:
    return nr.features(bars)


class PickyPredictor(ScriptedPredictor):
    """Fails the batch call, and the single call on rows whose first feature is negative."""

    def predict(self, features: np.ndarray, context: MarketContext) -> Prediction:
        if features[0] < 0:
            raise PredictionError("negative ret_1, on purpose")
        return super().predict(features, context)

    def predict_batch(
        self, features: np.ndarray, contexts: Sequence[MarketContext] | None = None
    ) -> list[Prediction]:
        raise PredictionError("the whole batch fails")


class RecordingPredictor(ScriptedPredictor):
    contexts: list[MarketContext]

    def predict_batch(
        self, features: np.ndarray, contexts: Sequence[MarketContext] | None = None
    ) -> list[Prediction]:
        self.contexts = list(contexts or [])
        return super().predict_batch(features, contexts)


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def test_warm_up_and_non_finite_rows_are_holds_with_a_reason(features: pd.DataFrame) -> None:
    spec = FeatureSpec()
    damaged = features.copy()
    damaged.iloc[400, spec.index("rsi")] = np.inf  # warm, but not finite
    predictor = ScriptedPredictor(action=Action.SELL, confidence=0.7)
    frame = nr.predict(damaged, predictor)
    assert list(frame.columns) == list(nr.PREDICTION_COLUMNS)
    assert frame.index.equals(features.index)
    warm = features["warm"].to_numpy() == 1.0
    accepted = frame["accepted"].to_numpy()
    assert accepted.sum() == warm.sum() - 1 and predictor.calls == accepted.sum()
    assert frame["reason"].iloc[0].startswith("not predicted: warm-up")
    assert frame["reason"].iloc[400] == "not predicted: feature 'rsi' is inf"
    assert (frame["action"][accepted] == "sell").all() and (frame["signal"][accepted] == -1).all()
    assert (frame["action"][~accepted] == "hold").all()
    assert (frame["risk_score"][~accepted] == 1.0).all()


def test_a_failing_batch_falls_back_to_rows_and_only_bad_rows_hold(
    features: pd.DataFrame,
) -> None:
    frame = nr.predict(features, PickyPredictor())
    accepted = frame[frame["accepted"]]
    negative = features.loc[accepted.index, "ret_1"].to_numpy() < 0
    assert negative.any() and (~negative).any()
    assert (accepted["action"][negative] == "hold").all()
    assert accepted["reason"][negative].str.contains("negative ret_1, on purpose").all()
    assert (accepted["action"][~negative] == "buy").all()


def test_every_row_failing_is_an_error_not_a_frame_of_holds(features: pd.DataFrame) -> None:
    with pytest.raises(PredictionError, match=r"every one of \d+ accepted rows failed"):
        nr.predict(features, ScriptedPredictor(fail=True))


def test_a_config_is_built_for_the_spec(features: pd.DataFrame) -> None:
    frame = nr.predict(features, {"kind": "rule"})
    assert frame.attrs["model_id"].startswith("rule-trend-momentum/")
    with pytest.raises(Exception, match="unknown backend kind 'nope'"):
        nr.predict(features, {"kind": "nope"})


def test_contexts_carry_recent_bars_when_asked(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    predictor = RecordingPredictor()
    nr.predict(features, predictor, bars=bars, context_bars=5, instrument_id="EUR/USD.SIM")
    first = predictor.contexts[0]
    row = int(np.flatnonzero(features["warm"].to_numpy() == 1.0)[0])
    assert first.instrument_id == "EUR/USD.SIM" and first.spec_hash == FeatureSpec().hash
    assert first.ts_event == features.index.asi8[row]
    assert first.recent_bars is not None and first.recent_bars.shape == (5, 6)
    assert first.recent_bars[-1, 0] == float(features.index.asi8[row])
    with pytest.raises(nr.ResearchInputError) as error:
        nr.predict(features, RecordingPredictor(), context_bars=5)
    assert "needs bars=" in one_line(error)


def test_predict_refuses_frames_that_are_not_the_specs_features(features: pd.DataFrame) -> None:
    with pytest.raises(nr.ResearchInputError) as error:
        nr.predict(features.drop(columns=["rsi"]), ScriptedPredictor())
    assert "column #" in one_line(error) and "expects 'rsi'" in str(error.value)
    with pytest.raises(nr.ResearchInputError) as error:
        nr.predict(features.reset_index(drop=True), ScriptedPredictor())
    assert "index must be UTC times" in one_line(error)
    with pytest.raises(nr.ResearchInputError, match="expected a pandas DataFrame"):
        nr.predict(features.to_numpy(), ScriptedPredictor())  # type: ignore[arg-type]


def test_size_refusals_are_one_line(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    predictions = nr.predict(features, ScriptedPredictor())
    for kwargs, expected in (
        ({"equity": -5.0}, "equity: expected a finite number > 0"),
        ({"config": {"min_confidence": 0.5, "bogus": 1}}, "unknown field(s) 'bogus'"),
    ):
        with pytest.raises((nr.ResearchInputError, ValueError)) as error:
            nr.size(predictions, features, bars, **kwargs)  # type: ignore[arg-type]
        assert expected in one_line(error)
    with pytest.raises(nr.ResearchInputError) as error:
        nr.size(predictions.iloc[1:], features, bars)
    assert "different indexes" in one_line(error)
    with pytest.raises(nr.ResearchInputError) as error:
        nr.size(predictions, features, bars.iloc[5:])
    assert "is not a bar of `bars`" in one_line(error)
    part = slice(200, 300)  # a part of the bars: sized on the bars of those rows
    sized = nr.size(predictions.iloc[part], features.iloc[part], bars)
    assert sized.index.equals(features.index[part])


def test_evaluate_on_a_tiny_hand_checked_example() -> None:
    index = pd.date_range("2017-01-02 10:01", periods=6, freq="1min", tz="UTC")
    close = np.array([1.0000, 1.0010, 1.0005, 1.0020, 1.0015, 1.0030])
    bars = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 0.0}, index=index
    )
    predictions = pd.DataFrame(
        {"signal": np.array([1, -1, 0, 1, 1, -1], dtype=np.int8), "confidence": 0.8}, index=index
    )
    report = nr.evaluate(predictions, bars, horizon=2, cost_pips=1.0, pip_size=1e-4)
    # trades at rows 0, 1, 3 have a full horizon (row 4 and 5 do not)
    np.testing.assert_allclose(report.trades["gross_pips"], [5.0, -10.0, 10.0], atol=1e-9)
    np.testing.assert_allclose(report.trades["net_pips"], [4.0, -11.0, 9.0], atol=1e-9)
    assert report.summary["hit_rate"] == pytest.approx(2 / 3)
    assert report.summary["total_net_pips"] == pytest.approx(2.0)
    assert report.by_signal.loc["hold", "rows"] == 1
    assert report.pnl.tolist() == pytest.approx([4.0, -7.0, 2.0])
    filtered = nr.evaluate(predictions, bars, horizon=2, cost_pips=1.0, min_confidence=0.9)
    assert filtered.summary["trades"] == 0 and "nothing to evaluate" in filtered.text()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"horizon": 0}, "horizon: expected an int >= 1"),
        ({"cost_pips": -1.0}, "cost_pips: expected a number >= 0"),
        ({"pip_size": 0}, "pip_size: expected a number > 0"),
        ({"min_confidence": 2.0}, "min_confidence: expected a number >= 0 and <= 1"),
    ],
)
def test_evaluate_refusals(
    bars: pd.DataFrame, features: pd.DataFrame, kwargs: dict[str, object], expected: str
) -> None:
    predictions = nr.predict(features, ScriptedPredictor())
    with pytest.raises(nr.ResearchInputError) as error:
        nr.evaluate(predictions, bars, **kwargs)  # type: ignore[arg-type]
    assert expected in one_line(error)


def test_evaluate_refuses_predictions_outside_the_bars(
    bars: pd.DataFrame, features: pd.DataFrame
) -> None:
    predictions = nr.predict(features, ScriptedPredictor())
    with pytest.raises(nr.ResearchInputError) as error:
        nr.evaluate(predictions, bars.iloc[:100])
    assert "is not a bar of `bars`" in one_line(error)


def test_every_plot_is_one_call_returning_a_figure(
    tmp_path: Path, bars: pd.DataFrame, features: pd.DataFrame
) -> None:
    predictions = nr.predict(features, ScriptedPredictor(confidence=0.65))
    labels = nr.labels(bars)
    report = nr.evaluate(predictions, bars, horizon=10)
    figures = {
        "features": nr.plot_features(bars, features, ["rsi", "ret_5"]),
        "labels": nr.plot_label_balance(labels, freq="D"),
        "confidence": nr.plot_confidence(predictions, labels, min_confidence=0.6),
        "signals": nr.plot_signals(
            bars, predictions, start="2017-01-02 03:00", end="2017-01-02 05:00"
        ),
        "evaluation": nr.plot_evaluation(report),
    }
    for name, figure in figures.items():
        assert isinstance(figure, Figure) and figure.axes
        path = tmp_path / f"{name}.png"
        figure.savefig(path, dpi=60)
        assert path.stat().st_size > 5_000
    assert "pyplot" not in str(type(figures["features"].canvas))  # no global pyplot state


def test_plot_refusals_are_one_line(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    predictions = nr.predict(features, ScriptedPredictor())
    for call, expected in (
        (lambda: nr.plot_features(bars, features, ["nope"]), "not features here: 'nope'"),
        (lambda: nr.plot_features(bars.iloc[1:], features), "is not a bar of `bars`"),
        (lambda: nr.plot_signals(bars, predictions, start="2030-01-01"), "no bar in"),
        (lambda: nr.plot_label_balance(features), "expected nautilus_ai.research.labels"),
        (lambda: nr.plot_confidence(features), "expected nautilus_ai.research.predict"),
        (lambda: nr.plot_evaluation(predictions), "expected evaluate() output"),  # type: ignore[arg-type]
    ):
        with pytest.raises(nr.ResearchInputError) as error:
            call()
        assert expected in one_line(error)


@pytest.mark.parametrize("value", ["0.6", 2.0, -0.1, float("nan"), float("inf"), True, None, [0.5]])
def test_a_min_confidence_the_facade_cannot_use_is_one_line_everywhere(
    bars: pd.DataFrame, features: pd.DataFrame, value: object
) -> None:
    # plot_signals(min_confidence="0.6") failed in numpy (UFuncTypeError), plot_confidence in a
    # format spec; 2.0 or NaN drew a chart with every call left out, without a word.
    predictions = nr.predict(features, ScriptedPredictor())
    calls = [
        lambda: nr.plot_signals(bars, predictions, min_confidence=value),  # type: ignore[arg-type]
        lambda: nr.evaluate(predictions, bars, min_confidence=value),  # type: ignore[arg-type]
    ]
    if value is not None:  # plot_confidence: None means no threshold line
        calls.append(lambda: nr.plot_confidence(predictions, min_confidence=value))  # type: ignore[arg-type]
    for call in calls:
        with pytest.raises(nr.ResearchInputError) as error:
            call()
        assert one_line(error).startswith("min_confidence: expected a number >= 0 and <= 1")


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"cost_pips": float("inf")}, "cost_pips: expected a number >= 0 (finite), got inf"),
        ({"pip_size": float("inf")}, "pip_size: expected a number > 0 (finite), got inf"),
        ({"pip_size": float("nan")}, "pip_size: expected a number > 0 (finite), got nan"),
        ({"cost_pips": "0.3"}, "cost_pips: expected a number >= 0 (finite), got '0.3'"),
    ],
)
def test_evaluate_refuses_non_finite_costs_and_pip_sizes(
    bars: pd.DataFrame, features: pd.DataFrame, kwargs: dict[str, object], expected: str
) -> None:
    # cost_pips=inf gave an evaluation of infinite costs, pip_size=inf one of 0-pip moves.
    predictions = nr.predict(features, ScriptedPredictor())
    with pytest.raises(nr.ResearchInputError) as error:
        nr.evaluate(predictions, bars, **kwargs)  # type: ignore[arg-type]
    assert one_line(error) == expected


def test_numpy_numbers_are_numbers(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    predictions = nr.predict(features, ScriptedPredictor())
    report = nr.evaluate(predictions, bars, cost_pips=np.float64(0.3), min_confidence=np.float32(0))
    assert report.summary["label"] == nr.NOT_A_BACKTEST
    assert isinstance(nr.plot_signals(bars, predictions, min_confidence=np.float64(0.5)), Figure)


def test_a_sizing_config_or_a_model_that_cannot_load_is_a_research_error(
    tmp_path: Path, bars: pd.DataFrame, features: pd.DataFrame
) -> None:
    # SizingError and PatternStoreError came through as themselves: a notebook loop that
    # catches nr.ResearchInputError (the documented refusal) stopped on them.
    predictions = nr.predict(features, ScriptedPredictor())
    with pytest.raises(nr.ResearchInputError) as error:
        nr.size(predictions, features, bars, {"min_confidance": 0.5})
    assert one_line(error).startswith("config: SizingConfig: unknown field(s) 'min_confidance'")
    with pytest.raises(nr.ResearchInputError) as error:
        nr.size(predictions, features, bars, {"min_confidence": 1.5})
    assert one_line(error).startswith("config: SizingConfig.min_confidence must be in")
    missing = {"kind": "pattern_memory", "catalog_path": str(tmp_path), "name": "nope"}
    with pytest.raises(nr.ResearchInputError) as error:
        nr.predict(features, missing)
    message = one_line(error)
    assert message.startswith("predictor: ") and "no pattern store" in message


def test_numpy_integers_are_ints_and_bools_are_not(
    bars: pd.DataFrame, features: pd.DataFrame
) -> None:
    # horizon=np.int64(30) (from array arithmetic) was refused as "expected an int >= 1".
    predictions = nr.predict(features, ScriptedPredictor(), context_bars=np.int64(3), bars=bars)
    labels = nr.labels(bars)
    report = nr.evaluate(predictions, bars, horizon=np.int64(30))
    assert report.summary["label"] == nr.NOT_A_BACKTEST
    assert isinstance(nr.plot_confidence(predictions, labels, bins=np.int32(5)), Figure)
    assert isinstance(nr.plot_signals(bars, predictions, max_bars=np.int64(100)), Figure)
    with pytest.raises(nr.ResearchInputError) as error:
        nr.evaluate(predictions, bars, horizon=True)  # type: ignore[arg-type]
    assert one_line(error) == "horizon: expected an int >= 1, got True"
    with pytest.raises(nr.ResearchInputError) as error:
        nr.plot_confidence(predictions, labels, bins=np.int64(1))
    assert one_line(error).startswith("bins: expected an int >= 2, got ")


def test_plot_features_takes_one_column_name(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    # columns="rsi" was read letter by letter: "columns: not features here: 'r', 's', 'i'".
    figure = nr.plot_features(bars, features, "rsi")
    assert isinstance(figure, Figure) and len(figure.axes) == 2  # the price and rsi
    with pytest.raises(nr.ResearchInputError) as error:
        nr.plot_features(bars, features, "nope")
    assert one_line(error) == "columns: not features here: 'nope'"


def test_the_facade_imports_and_runs_without_torch(tmp_path: Path) -> None:
    """Torch is becoming optional: the facade must not need it unless a torch backend is used."""
    script = tmp_path / "no_torch.py"
    script.write_text(
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is blocked in this test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import numpy as np, pandas as pd\n"
        "import nautilus_ai.research as nr\n"
        "from nautilus_ai.models.testing import synthetic_bars\n"
        "raw = synthetic_bars(400)\n"
        "idx = pd.to_datetime(raw[:, 0].astype(np.int64), unit='ns', utc=True)\n"
        "bars = nr.as_bars(pd.DataFrame(raw[:, 1:], index=idx, columns=list(nr.BAR_COLUMNS)))\n"
        "X = nr.features(bars)\n"
        "p = nr.predict(X, {'kind': 'rule'})\n"
        "nr.size(p, X, bars)\n"
        "nr.evaluate(p, bars)\n"
        "nr.plot_signals(bars, p)\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok', len(p))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok 400"


def test_the_core_error_for_pandas_times_names_the_facade(bars: pd.DataFrame) -> None:
    """The first thing a notebook user tries: compute_features on the frame's own index."""
    from nautilus_ai.features import compute_features

    columns = [bars[c] for c in nr.BAR_COLUMNS]
    for index in (bars.index, bars.index.tz_localize(None)):
        with pytest.raises(ValueError, match=r"use nautilus_ai\.research\.features\(df\)"):
            compute_features(FeatureSpec(), index, *columns)


def test_a_predictor_built_for_another_spec_is_refused(features: pd.DataFrame) -> None:
    from nautilus_ai.models import build_predictor

    other = build_predictor({"kind": "rule"}, FeatureSpec(rsi_period=10))
    with pytest.raises(nr.ResearchInputError) as error:
        nr.predict(features, other)
    assert "was built for feature spec" in one_line(error)


def test_a_model_path_or_an_artifact_that_does_not_load_is_one_research_line(
    features: pd.DataFrame, tmp_path: Path
) -> None:
    """A model folder given as a path ended in "AttributeError: 'str' object has no attribute
    'spec_hash'"; a folder that is not a model raised ArtifactError, not ResearchInputError."""
    with pytest.raises(nr.ResearchInputError) as error:
        nr.predict(features, str(tmp_path))
    assert one_line(error) == (
        "predictor: expected a Predictor or a backend config mapping, got str (a model folder: "
        f"{{'kind': 'torch', 'path': {str(tmp_path)!r}}})"
    )
    with pytest.raises(nr.ResearchInputError) as error:
        nr.predict(features, {"kind": "torch", "path": str(tmp_path)})
    assert one_line(error).startswith(f"predictor: no model_card.json in {tmp_path}")
    with pytest.raises(nr.ResearchInputError, match=r"predictor: .*min_conf: unknown key"):
        nr.predict(features, {"kind": "rule", "min_conf": 0.3})


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        (2.0, "predictions: column 'signal' must hold -1, 0 or +1; row 300"),
        (np.nan, "predictions: column 'signal' must hold -1, 0 or +1; row 300"),
        (0.5, "predictions: column 'signal' must hold -1, 0 or +1; row 300"),
    ],
)
def test_evaluate_and_size_refuse_a_signal_that_is_not_minus_one_zero_or_one(
    bars: pd.DataFrame, features: pd.DataFrame, signal: float, expected: str
) -> None:
    """A hand-made signal column of 2 doubled every trade's pips without a word, a NaN was cast
    to the smallest int64 and scored as a sell of -9e18 pips, 0.5 was cast to a hold."""
    predictions = nr.predict(features, ScriptedPredictor(action=Action.BUY, confidence=0.7))
    predictions["signal"] = predictions["signal"].astype(np.float64)
    predictions.iloc[300, predictions.columns.get_loc("signal")] = signal
    with pytest.raises(nr.ResearchInputError) as error:
        nr.evaluate(predictions, bars)
    assert one_line(error).startswith(expected)
    with pytest.raises(nr.ResearchInputError) as error:
        nr.size(predictions, features, bars)
    assert one_line(error).startswith(expected)


def test_evaluate_refuses_predictions_with_a_repeated_time(
    bars: pd.DataFrame, features: pd.DataFrame
) -> None:
    """Predictions concatenated with an overlap counted the repeated rows' trades twice."""
    predictions = nr.predict(features, ScriptedPredictor(action=Action.BUY, confidence=0.7))
    twice = pd.concat([predictions.iloc[:300], predictions.iloc[250:]])
    with pytest.raises(nr.ResearchInputError) as error:
        nr.evaluate(twice, bars)
    assert one_line(error).startswith("predictions: time 2017-01-02 04:11:00+00:00 (row 300)")
    assert "repeated" in one_line(error)


def test_plot_signals_refuses_a_signal_that_is_not_minus_one_zero_or_one(
    bars: pd.DataFrame, features: pd.DataFrame
) -> None:
    """A signal of 2 matched neither the buy nor the sell markers: the call was drawn nowhere
    and left out of the legend's counts, without a word."""
    predictions = nr.predict(features, ScriptedPredictor(action=Action.BUY, confidence=0.7))
    predictions["signal"] = predictions["signal"].astype(np.int64)
    predictions.iloc[300, predictions.columns.get_loc("signal")] = 2
    with pytest.raises(nr.ResearchInputError) as error:
        nr.plot_signals(bars, predictions)
    assert one_line(error).startswith("predictions: column 'signal' must hold -1, 0 or +1")
