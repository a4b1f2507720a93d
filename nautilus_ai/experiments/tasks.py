"""What a worker does: build one fold's model, backtest one run. Plain functions over plain
values, so they run the same in-process, in a Ray worker on this machine or on a cluster node.

:func:`prepare_model` reads only bars before the fold's test window (the training window to fit
or build, the validation window to calibrate and to choose a ``{signal_rate}`` threshold) and
returns the model's files as bytes (they travel through Ray's object store, so a cluster node
needs no shared folder for them), its card and its thresholds. :func:`run_backtest_task` puts
the files in a local folder, runs the real ``BacktestNode`` runner on the test window and
returns the figures, the equity curve and the trades with each one's confidence at entry and
its PnL split into gross, commission and spread.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import shutil
import socket
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.datasets import Fold, Window
from nautilus_ai.experiments.plan import ModelSpec, RunSpec

__all__ = [
    "MEMORY_CONTEXT_BARS",
    "PreparedModel",
    "RunResult",
    "hold_key",
    "prepare_model",
    "release_memory",
    "run_backtest_task",
    "threshold_for_rate",
]

#: Recent bars handed to the pattern memory (its shape needs at least 32).
MEMORY_CONTEXT_BARS = 64


@dataclass
class PreparedModel:
    """One fold's model, ready to backtest: files (relative path -> bytes), card, thresholds."""

    key: str
    family: str
    files: dict[str, bytes] = field(repr=False)
    card: dict[str, Any] | None
    thresholds: dict[str, float]
    predictor: dict[str, Any]
    context_bars: int
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    def threshold(self, rate: float) -> float:
        return self.thresholds[_rate_key(rate)]


@dataclass
class RunResult:
    """A finished run: scalar figures, the equity curve, the trades (columns), and timings."""

    key: str
    status: str  # "ok" | "failed"
    reasons: list[str]
    figures: dict[str, Any]
    equity_ts: NDArray[np.int64] = field(repr=False)
    equity: NDArray[np.float64] = field(repr=False)
    trades: dict[str, list[Any]] = field(repr=False)
    elapsed_s: float
    worker: str
    model_card: dict[str, Any] | None = None
    extra_curves: dict[str, NDArray[np.float64]] = field(default_factory=dict, repr=False)


def _rate_key(rate: float) -> str:
    return f"{float(rate):.6g}"


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc), so a long-lived worker's
    RSS says what it holds, not what it once held."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    if name and "libc" in name:
        with contextlib.suppress(OSError, AttributeError):  # not glibc
            ctypes.CDLL(name).malloc_trim(0)


# ------------------------------------------------------------------------------- models


def _fold_for_training(fold: Fold) -> Fold:
    """The fold without its test window: training and calibration never see it."""
    return Fold(train=fold.train, validation=fold.validation, test=None, index=fold.index)


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def prepare_model(spec: ModelSpec) -> PreparedModel:
    """Fit / build the fold's model on bars before its test window and choose its thresholds.

    ``mlp`` and ``lightgbm`` are trained on the training window with early stopping and
    temperature scaling on the validation window (labels purged at each window's end, the
    embargo after each boundary); ``pattern_memory`` is built from the training window's bars
    (outcomes past its end left out); ``rule`` has nothing to fit. Each ``signal_rate``
    threshold is chosen on the validation window's bars.
    """
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.training.data import load_training_frame

    started = time.perf_counter()
    assert spec.fold.validation is not None and spec.fold.test is not None
    cutoff = spec.fold.validation.end_ns
    if cutoff > spec.fold.test.start_ns:
        raise ValueError(f"fold {spec.fold.index}: validation ends after the test window starts")
    feature_spec = FeatureSpec()
    frame = load_training_frame(
        spec.catalog, spec.market.bar_type, feature_spec, source="bars", end_ns=cutoff
    )
    if frame.ts.size and int(frame.ts[-1]) >= spec.fold.test.start_ns:  # the reader's contract
        raise AssertionError("training data reaches into the test window")
    workdir = Path(tempfile.mkdtemp(prefix="nautilus-ai-model-"))
    try:
        predictor, card, context_bars, info = _build(spec, frame, feature_spec, workdir)
        files = _folder_bytes(workdir / "model")
        local = workdir / "model"
        config = dict(predictor)
        if "path" in config:
            config["path"] = str(local)
        thresholds = _thresholds(spec, config, feature_spec, frame, context_bars)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    predictor.pop("path", None)
    return PreparedModel(
        key=spec.key,
        family=spec.family,
        files=files,
        card=card,
        thresholds=thresholds,
        predictor=predictor,
        context_bars=context_bars,
        seconds=time.perf_counter() - started,
        info=info,
    )


def _build(
    spec: ModelSpec, frame: Any, feature_spec: Any, workdir: Path
) -> tuple[dict[str, Any], dict[str, Any] | None, int, dict[str, Any]]:
    from nautilus_ai.labels import LabelSpec

    label = LabelSpec.from_dict(dict(spec.label))
    fold = _fold_for_training(spec.fold)
    model_dir = workdir / "model"
    params = dict(spec.model_params)
    info: dict[str, Any] = {"bars_read": int(frame.ts.size)}
    if spec.family in ("mlp", "lightgbm"):
        seed = int(spec.seed if spec.seed is not None else 7)
        description = f"walk-forward fold {spec.fold.index} (no proven edge)"
        artifacts = workdir / "artifacts"
        if spec.family == "mlp":
            from nautilus_ai.training import TrainConfig, train_on_arrays

            mlp = train_on_arrays(
                frame.ts, frame.ohlcv, frame.features, feature_spec, fold=fold, label=label,
                config=TrainConfig(**params, seed=seed, threads=1), artifacts_root=artifacts,
                name="mlp", embargo_bars=spec.embargo_bars, description=description,
            )  # fmt: skip
            kind: dict[str, Any] = {"kind": "torch", "device": "cpu"}
            card = json.loads(mlp.card.model_dump_json())
            artifact, dataset = mlp.artifact_path, mlp.dataset
        else:
            from nautilus_ai.training.gbt import GBTConfig, train_gbt_on_arrays

            gbt = train_gbt_on_arrays(
                frame.ts, frame.ohlcv, frame.features, feature_spec, fold=fold, label=label,
                config=GBTConfig(**params, seed=seed, threads=1), artifacts_root=artifacts,
                name="gbt", embargo_bars=spec.embargo_bars, description=description,
            )  # fmt: skip
            kind = {"kind": "lightgbm"}
            card = json.loads(gbt.card.model_dump_json())
            artifact, dataset = gbt.artifact_path, gbt.dataset
        shutil.copytree(artifact, model_dir)
        info["train_rows"] = len(dataset.train)
        info["validation_rows"] = len(dataset.validation or [])
        return {**kind, "path": str(model_dir)}, card, 0, info
    if spec.family == "pattern_memory":
        from nautilus_ai.patterns import PatternMemory, build_from_catalog, save_memory

        patterns = build_from_catalog(
            spec.catalog, spec.market.bar_type,
            start_ns=fold.train.start_ns, end_ns=fold.train.end_ns,
        )  # fmt: skip
        if len(patterns) == 0:
            raise ValueError(f"no pattern in the training window {fold.train}")
        save_memory(PatternMemory(patterns), model_dir)
        info["patterns"] = len(patterns)
        card = {
            "kind": "pattern_memory",
            "patterns": len(patterns),
            "built_on": fold.train.to_dict(),
            "params": params,
        }
        predictor = {"kind": "pattern_memory", "path": str(model_dir), **params}
        return predictor, card, MEMORY_CONTEXT_BARS, info
    if spec.family == "rule":
        model_dir.mkdir()
        return {"kind": "rule", **params}, None, 0, info
    raise ValueError(f"unknown family {spec.family!r}")


def threshold_for_rate(
    actions: NDArray[Any], confidence: NDArray[np.float64], rate: float
) -> float:
    """The lowest confidence at which buy / sell calls (``actions != 0``) cover ``rate`` of the
    rows (1.0 when the model never calls one): the validation-chosen ``min_confidence``."""
    n = int(actions.size)
    acting = actions != 0
    if n == 0 or not acting.any():
        return 1.0
    ranked = np.sort(confidence[acting])[::-1]
    k = min(ranked.size, max(1, math.ceil(rate * n)))
    return float(ranked[k - 1])


def _thresholds(
    spec: ModelSpec,
    predictor_config: Mapping[str, Any],
    feature_spec: Any,
    frame: Any,
    context_bars: int,
) -> dict[str, float]:
    if not spec.signal_rates:
        return {}
    from nautilus_ai.models import MarketContext
    from nautilus_ai.models.registry import build_predictor

    assert spec.fold.validation is not None
    window = spec.fold.validation
    warm = frame.features[:, feature_spec.index("warm")] == 1.0
    inside = (frame.ts >= window.start_ns) & (frame.ts < window.end_ns) & warm
    rows = np.flatnonzero(inside & np.isfinite(frame.features).all(axis=1))
    predictor = build_predictor(dict(predictor_config), feature_spec)
    try:
        contexts = None
        if context_bars > 0:
            table = np.column_stack([frame.ts.astype(np.float64), frame.ohlcv])
            names = tuple(feature_spec.names)
            contexts = [
                MarketContext(
                    instrument_id=spec.market.instrument_id, ts_event=int(frame.ts[i]),
                    feature_names=names, spec_hash=feature_spec.hash,
                    recent_bars=table[max(0, i + 1 - context_bars) : i + 1],
                )
                for i in rows.tolist()
            ]  # fmt: skip
        predictions = predictor.predict_batch(frame.features[rows], contexts) if rows.size else []
    finally:
        predictor.close()
    actions = np.array([p.action.sign for p in predictions], dtype=np.int8)
    confidence = np.array([p.confidence for p in predictions], dtype=np.float64)
    return {
        _rate_key(rate): threshold_for_rate(actions, confidence, rate) for rate in spec.signal_rates
    }


# ------------------------------------------------------------------------------- runs


_MODEL_CACHE = Path(tempfile.gettempdir()) / f"nautilus-ai-experiment-models-{os.getuid()}"


def _materialise(model: PreparedModel) -> Path:
    """The model's files in a folder on this machine (written once per key, atomically)."""
    folder = _MODEL_CACHE / model.key
    if folder.is_dir():
        return folder
    staging = Path(tempfile.mkdtemp(prefix=f".{model.key}-", dir=_ensure(_MODEL_CACHE)))
    for name, content in model.files.items():
        target = staging / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    try:
        staging.rename(folder)
    except OSError:  # another worker won the race: same content
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _run_file(spec: RunSpec, predictor: Mapping[str, Any], overrides: Mapping[str, Any]) -> Any:
    from nautilus_ai.backtest.config import parse_run_file

    raw = copy.deepcopy(dict(spec.base_run))
    raw["name"] = f"{spec.experiment}-{spec.trial_label}-fold{spec.fold.index}"
    raw["sample"] = "out-of-sample"
    raw["report_dir"] = str(Path(tempfile.gettempdir()) / "nautilus-ai-experiment-reports")
    raw["description"] = f"experiment {spec.experiment}: {spec.describe()}"
    assert spec.fold.test is not None
    test = spec.fold.test
    run = raw["run"]
    bar_types = [spec.market.bar_type]
    if "-BID-" in spec.market.bar_type:
        bar_types.append(spec.market.bar_type.replace("-BID-", "-ASK-"))
    first = dict(run["data"][0])
    first.update(
        catalog_path=spec.catalog, instrument_id=spec.market.instrument_id, bar_types=bar_types,
        start_time=test.start_ns, end_time=test.end_ns - 1,  # Nautilus' end is inclusive
    )  # fmt: skip
    first.pop("bar_spec", None)
    run["data"] = [first]
    for venue in run["venues"]:
        venue.setdefault("fee_model", {}).setdefault("config", {})
        fee = venue["fee_model"]
        if str(fee.get("fee_model_path", "")).endswith("FXCommissionFeeModel"):
            fee["config"] = dict(spec.costs["commission"])
        fill = venue.get("fill_model")
        if fill is not None and str(fill.get("fill_model_path", "")).endswith("FXDepthFillModel"):
            fill["config"] = dict(spec.costs["fills"])
    strategies = run["engine"]["strategies"]
    config = strategies[0]["config"]
    config.update(
        instrument_id=spec.market.instrument_id, bar_type=spec.market.bar_type,
        predictor=dict(predictor), feature_source="precomputed", catalog_path=spec.catalog,
    )  # fmt: skip
    config.pop("feature_log", None)
    for name, value in overrides.items():
        if name == "sizing":
            config["sizing"] = {**config.get("sizing", {}), **value}
        else:
            config[name] = value
    run["engine"]["strategies"] = [strategies[0]]
    return parse_run_file(raw, Path(f"{spec.experiment}.yaml"))


def run_backtest_task(spec: RunSpec, model: PreparedModel | None) -> list[RunResult]:
    """Backtest one run on its fold's test window (baselines: the rule with the base run's
    settings, and buy & hold). A run that raised comes back as ``failed`` with the reason."""
    started = time.perf_counter()
    try:
        return _run(spec, model, started)
    except Exception as exc:  # reported per run: the experiment goes on
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return [_failed(spec.key, [f"raised {detail}"], started)]
    finally:
        release_memory()


def _failed(key: str, reasons: list[str], started: float) -> RunResult:
    empty_i = np.zeros(0, dtype=np.int64)
    return RunResult(key, "failed", reasons, {}, empty_i, np.zeros(0), {},
                     time.perf_counter() - started, _worker())  # fmt: skip


def _run(spec: RunSpec, model: PreparedModel | None, started: float) -> list[RunResult]:
    from nautilus_ai.backtest.runner import run_backtest

    overrides: dict[str, Any] = {}
    figures: dict[str, Any] = {}
    if spec.role == "trial":
        if model is None:
            raise ValueError("a trial run needs its prepared model")
        predictor = dict(model.predictor)
        folder = _materialise(model)
        if model.family in ("mlp", "lightgbm", "pattern_memory"):
            predictor["path"] = str(folder)
        if model.context_bars:
            overrides["context_bars"] = model.context_bars
        for name, value in spec.strategy_params.items():
            if name == "min_confidence" and isinstance(value, Mapping):
                rate = float(value["signal_rate"])
                threshold = model.threshold(rate)
                if threshold >= 1.0:  # threshold_for_rate's "never": the sizer refuses 1.0
                    raise ValueError(
                        f"fold {spec.fold.index}: no min_confidence below 1 gives signal_rate "
                        f"{rate:g} on the validation window {spec.fold.validation} (the model "
                        "made no buy / sell call there, or the window has no warm bar)"
                    )
                overrides["min_confidence"] = threshold
                figures["min_confidence"] = threshold
            else:
                overrides[name] = value
    else:
        predictor = {"kind": "rule"}
    run_file = _run_file(spec, predictor, overrides)
    outcome = run_backtest(run_file, write=False)
    figures.setdefault(
        "min_confidence",
        float(run_file.raw["run"]["engine"]["strategies"][0]["config"].get("min_confidence", 0.55)),
    )
    results = [_result(spec, outcome, figures, started, model)]
    if spec.role == "baseline":
        results.append(_buy_and_hold(spec, outcome, started))
    return results


def _result(
    spec: RunSpec,
    outcome: Any,
    figures: dict[str, Any],
    started: float,
    model: PreparedModel | None,
) -> RunResult:
    from nautilus_ai.experiments.costs import split_trades

    s = outcome.summary
    trades = _trade_columns(outcome.trades, outcome.decisions)
    n = len(trades["realized_pnl"])
    gross = commission = spread = 0.0
    if n and outcome.bar_ts.size:
        split = split_trades(trades, outcome.bar_ts, outcome.bid_close, outcome.ask_close)
        trades["gross"] = split.gross.tolist()
        trades["commission"] = split.commission.tolist()
        trades["spread"] = split.spread.tolist()
        gross = float(split.gross.sum())
        commission = float(split.commission.sum())
        spread = float(split.spread.sum())
    else:
        trades.update(gross=[], commission=[], spread=[])
    figures.update(
        pnl=s.pnl, return_pct=s.return_pct, trades=s.trades, win_rate=_finite(s.win_rate),
        sharpe_bars=_finite(s.sharpe), max_drawdown_pct=_finite(s.max_drawdown_pct),
        profit_factor=_finite(s.profit_factor), exposure=_finite(s.exposure), orders=s.orders,
        starting_equity=s.starting_equity, final_equity=s.final_equity, currency=s.currency,
        bars=s.bars, bars_per_s=_finite(s.bars_per_s), gross=gross, commission=commission,
        spread_cost=spread, notes=list(outcome.notes),
    )  # fmt: skip
    if model is not None:
        figures["model_seconds"] = model.seconds
        figures.update({f"model_{k}": v for k, v in model.info.items()})
    return RunResult(
        key=spec.key,
        status=outcome.status,
        reasons=list(outcome.reasons),
        figures=figures,
        equity_ts=np.asarray(outcome.bar_ts, dtype=np.int64),
        equity=np.asarray(outcome.equity, dtype=np.float64),
        trades=trades,
        elapsed_s=time.perf_counter() - started,
        worker=_worker(),
        model_card=model.card if model is not None else None,
    )


def _buy_and_hold(spec: RunSpec, outcome: Any, started: float) -> RunResult:
    from nautilus_ai.reporting import buy_and_hold_curve, summarise

    ts = np.asarray(outcome.bar_ts, dtype=np.int64)
    starting = float(outcome.summary.starting_equity)
    currency = outcome.summary.currency
    if ts.size:
        first_ask = float(outcome.ask_close[0])
        quantity = starting / first_ask
        curve = buy_and_hold_curve(ts, first_ask, outcome.bid_close, quantity, starting)
    else:
        quantity, curve = 0.0, np.zeros(0)
    summary = summarise(
        name="buy-and-hold", sample="out-of-sample", bar_ts=ts, equity=curve,
        position=np.full(ts.size, quantity), trade_pnls=[float(curve[-1] - starting)] if ts.size
        else [], orders=1, elapsed_s=0.0, bars_processed=int(ts.size), starting_equity=starting,
        currency=currency,
    )  # fmt: skip
    figures = {
        "pnl": summary.pnl, "return_pct": summary.return_pct, "trades": 0,
        "max_drawdown_pct": _finite(summary.max_drawdown_pct), "starting_equity": starting,
        "final_equity": summary.final_equity, "currency": currency, "bars": int(ts.size),
        "gross": summary.pnl, "commission": 0.0, "spread_cost": 0.0, "notes": [],
    }  # fmt: skip
    return RunResult(
        key=hold_key(spec.key), status="ok", reasons=[], figures=figures, equity_ts=ts,
        equity=curve, trades={}, elapsed_s=time.perf_counter() - started, worker=_worker(),
    )  # fmt: skip


def hold_key(run_key: str) -> str:
    """The key of the buy & hold row that comes with a baseline run."""
    from nautilus_ai.experiments.plan import canonical_hash

    return canonical_hash({"buy_and_hold_of": run_key})


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _trade_columns(trades: list[Any], decisions: list[Any]) -> dict[str, list[Any]]:
    confidence_at = {int(d.ts_event): float(d.confidence) for d in decisions}
    columns: dict[str, list[Any]] = {
        name: [] for name in ("ts_opened", "ts_closed", "side", "quantity", "avg_px_open",
                              "avg_px_close", "realized_pnl", "exit_reason", "decision_ts",
                              "confidence")
    }  # fmt: skip
    for t in trades:
        columns["ts_opened"].append(int(t.ts_opened))
        columns["ts_closed"].append(int(t.ts_closed))
        columns["side"].append(str(t.side))
        columns["quantity"].append(float(t.quantity))
        columns["avg_px_open"].append(float(t.avg_px_open))
        columns["avg_px_close"].append(float(t.avg_px_close))
        columns["realized_pnl"].append(float(t.realized_pnl))
        columns["exit_reason"].append(str(t.exit_reason))
        columns["decision_ts"].append(int(t.decision_ts))
        columns["confidence"].append(confidence_at.get(int(t.decision_ts), math.nan))
    return columns


def window_of(fold: Fold) -> Window:
    assert fold.test is not None
    return fold.test
