"""Out-of-sample backtests through the real ``BacktestNode`` runner (Nautilus glue).

A base run file (the packaged ``demo.yaml`` by default: venue, fees, fill model, strategy) is
re-targeted at a time window and a predictor; :func:`compare_out_of_sample` runs the trained
model and the rule model over the same window with the same venue, and adds buy & hold, so a
trained model is always judged against both baselines on data it has not seen.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.backtest.config import RunFile, load_run_file, parse_run_file
from nautilus_ai.bar_types import parse_bar_type
from nautilus_ai.catalog.reader import read_bars
from nautilus_ai.datasets import Window
from nautilus_ai.models.trained_bars import card_bar_type
from nautilus_ai.reporting import BacktestSummary, buy_and_hold_curve, summarise

__all__ = [
    "InSampleWindowError",
    "OosComparison",
    "artifact_predictor_config",
    "WindowRun",
    "buy_and_hold",
    "check_out_of_sample",
    "compare_out_of_sample",
    "on_bar_type",
    "packaged_run_file",
    "run_window",
    "suggested_min_confidence",
    "window_run_file",
]


def packaged_run_file(name: str = "demo") -> RunFile:
    """A run file shipped in ``nautilus_ai.backtests`` (``demo`` -> ``demo.yaml``)."""
    path = Path(str(resources.files("nautilus_ai.backtests") / f"{name}.yaml"))
    return load_run_file(path)


def window_run_file(
    base: RunFile,
    *,
    name: str,
    sample: str,
    catalog_path: str | os.PathLike[str],
    report_dir: str | os.PathLike[str],
    window: Window | None = None,
    predictor: dict[str, Any] | None = None,
    strategy_overrides: dict[str, Any] | None = None,
    sizing_overrides: dict[str, Any] | None = None,
    description: str = "",
) -> RunFile:
    """``base`` with another name, sample label, catalog, report folder, time window
    (``[start, end)``; the bars before ``start`` still warm the features up), predictor and
    strategy settings. Validated like a file read from disk."""
    raw = copy.deepcopy(dict(base.raw))
    raw["name"] = name
    raw["sample"] = sample
    raw["report_dir"] = str(report_dir)
    if description:
        raw["description"] = description
    run = raw["run"]
    for data in run["data"]:
        data["catalog_path"] = str(catalog_path)
        if window is not None:
            data["start_time"] = window.start_ns
            data["end_time"] = window.end_ns - 1  # Nautilus' end is inclusive
    for strategy in run["engine"]["strategies"]:
        config = strategy["config"]
        if "catalog_path" in config:
            config["catalog_path"] = str(catalog_path)
        if predictor is not None:
            config["predictor"] = predictor
        if sizing_overrides:
            config["sizing"] = {**config.get("sizing", {}), **sizing_overrides}
        config.update(strategy_overrides or {})
    return parse_run_file(raw, base.path)


def on_bar_type(base: RunFile, bar_type: str) -> RunFile:
    """``base`` with its strategies and its bar data on ``bar_type`` and its instrument (a
    ``-BID-`` series with its ``-ASK-`` twin, which the venue's quotes come from, as the demo
    has them); ``base`` itself when it runs that bar type already or ``bar_type`` is not one."""
    parts = parse_bar_type(bar_type)
    strategies = base.raw["run"]["engine"]["strategies"]
    if parts is None or all(s["config"].get("bar_type") == bar_type for s in strategies):
        return base
    bar_types = [bar_type]
    if "-BID-" in bar_type:
        bar_types.append(bar_type.replace("-BID-", "-ASK-"))
    raw = copy.deepcopy(dict(base.raw))
    run = raw["run"]
    for data in run["data"]:
        if "bar_types" in data or "bar_spec" in data:
            data.pop("bar_spec", None)
            data.update(instrument_id=parts.instrument_id, bar_types=bar_types)
    for strategy in run["engine"]["strategies"]:
        strategy["config"].update(instrument_id=parts.instrument_id, bar_type=bar_type)
    return parse_run_file(raw, base.path)


@dataclass
class WindowRun:
    """One backtest of the comparison."""

    label: str
    summary: BacktestSummary
    report_dir: Path | None
    bar_ts: NDArray[np.int64] = field(repr=False)
    equity: NDArray[np.float64] = field(repr=False)
    status: str = "ok"
    reasons: tuple[str, ...] = ()

    @property
    def failure(self) -> str | None:
        """``"<label>: <why>"`` when the runner said the run failed, else None."""
        if self.status == "ok":
            return None
        where = f" (report {self.report_dir})" if self.report_dir else ""
        return f"{self.label}{where}: " + "; ".join(self.reasons)

    def raise_if_failed(self) -> WindowRun:
        """This run, or :class:`~nautilus_ai.backtest.runner.BacktestFailedError` naming why."""
        from nautilus_ai.backtest.runner import BacktestFailedError

        if self.failure is not None:
            raise BacktestFailedError(f"backtest failed: {self.failure}")
        return self


def run_window(run_file: RunFile, label: str, *, write: bool = True) -> WindowRun:
    """Run ``run_file`` with the real runner (``BacktestNode``) and keep its equity curve and
    the runner's verdict (``status``, ``reasons``: a strategy that did not start, could not
    trade, ...). A comparison shows a failed run as failed, and its command exits 1."""
    from nautilus_ai.backtest.runner import run_backtest

    outcome = run_backtest(run_file, write=write)
    return WindowRun(
        label, outcome.summary, outcome.report_dir, outcome.bar_ts, outcome.equity,
        status=outcome.status, reasons=tuple(outcome.reasons),
    )  # fmt: skip


def buy_and_hold(
    catalog_path: str | os.PathLike[str],
    bid_bar_type: str,
    window: Window,
    starting_equity: float,
    currency: str = "USD",
) -> WindowRun:
    """Buy at the first bar's ask with all the equity (1x), mark at each bid close."""
    span = {"start_ns": window.start_ns, "end_ns": window.end_ns}
    ts, bid = read_bars(catalog_path, bid_bar_type, **span)
    ask_type = bid_bar_type.replace("-BID-", "-ASK-")
    try:
        ask_ts, ask = read_bars(catalog_path, ask_type, **span)
        first_ask = float(ask[0, 3]) if ask_ts.size and ask_ts[0] == ts[0] else float(bid[0, 3])
    except ValueError:
        first_ask = float(bid[0, 3])
    quantity = starting_equity / first_ask
    curve = buy_and_hold_curve(ts, first_ask, bid[:, 3], quantity, starting_equity)
    summary = summarise(
        name="buy-and-hold",
        sample="out-of-sample",
        bar_ts=ts,
        equity=curve,
        position=np.full(ts.size, quantity),
        trade_pnls=[float(curve[-1] - starting_equity)],
        orders=1,
        elapsed_s=0.0,
        bars_processed=int(ts.size),
        starting_equity=starting_equity,
        currency=currency,
        extra={"quantity": quantity, "entry_ask": first_ask},
    )
    return WindowRun("buy & hold (1x)", summary, None, ts, curve)


@dataclass
class OosComparison:
    """The trained model, the rule model and buy & hold over one out-of-sample window."""

    window: Window
    runs: dict[str, WindowRun]

    @property
    def failures(self) -> list[str]:
        """One line per run the runner said failed (see :attr:`WindowRun.failure`)."""
        return [run.failure for run in self.runs.values() if run.failure is not None]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"window": self.window.to_dict(), "sample": "out-of-sample"}
        for key, run in self.runs.items():
            s = run.summary
            out[key] = {
                "label": run.label,
                "status": run.status,
                "reasons": list(run.reasons),
                "pnl": s.pnl,
                "return_pct": s.return_pct,
                "trades": s.trades,
                "win_rate": s.win_rate,
                "sharpe": s.sharpe,
                "max_drawdown_pct": s.max_drawdown_pct,
                "profit_factor": s.profit_factor,
                "exposure": s.exposure,
                "report_dir": str(run.report_dir) if run.report_dir else None,
            }
        return out

    def table_text(self) -> str:
        """Aligned rows: PnL, return, trades, win rate, Sharpe, max drawdown."""
        lines = [
            f"OUT-OF-SAMPLE {self.window}",
            f"  {'':<24}{'PnL':>12}{'return':>9}{'trades':>8}{'win':>7}{'Sharpe':>8}{'maxDD':>8}",
        ]
        for run in self.runs.values():
            s = run.summary
            win = "n/a" if np.isnan(s.win_rate) else f"{100 * s.win_rate:.0f}%"
            lines.append(
                f"  {run.label:<24}{s.pnl:>12,.2f}{s.return_pct:>8.2f}%{s.trades:>8}{win:>7}"
                f"{s.sharpe:>8.2f}{s.max_drawdown_pct:>7.2f}%"
                + ("  FAILED" if run.status != "ok" else "")
            )
        lines += [f"  FAILED {failure}" for failure in self.failures]
        return "\n".join(lines)


def _card(artifact_path: str | os.PathLike[str]) -> tuple[str, Any]:
    """The artifact's model family (``"mlp"`` or ``"lightgbm"``) and its card, read through the
    family's own (strict) card schema."""
    import json

    from nautilus_ai.models.card import CARD_FILE, ArtifactError, read_model_card

    folder = Path(artifact_path)
    try:
        kind = json.loads((folder / CARD_FILE).read_text(encoding="utf-8")).get("kind", "mlp")
    except FileNotFoundError:
        raise ArtifactError(f"no {CARD_FILE} in {folder} (is it a model artifact?)") from None
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ArtifactError(f"{folder / CARD_FILE}: not a JSON model card ({exc})") from None
    if kind == "lightgbm":
        from nautilus_ai.models.lightgbm import read_gbt_card

        return "lightgbm", read_gbt_card(folder)
    return "mlp", read_model_card(folder)


def _card_kind_and_metrics(artifact_path: str | os.PathLike[str]) -> tuple[str, dict[str, Any]]:
    """The artifact's model family and its card's metrics."""
    kind, card = _card(artifact_path)
    return kind, dict(card.metrics)


class InSampleWindowError(ValueError):
    """An "out-of-sample" window that overlaps the data the model was fitted or tuned on."""


def check_out_of_sample(artifact_path: str | os.PathLike[str], window: Window) -> None:
    """Refuse ``window`` when it overlaps the model's training or validation window (its card's
    ``train_window`` / ``validation_window``): a backtest there is in-sample, and would be
    reported as out-of-sample.

    Raises
    ------
    InSampleWindowError
        Naming the window, the model window it overlaps and the artifact.
    """
    from nautilus_ai.models.fitted import fitted_overlap

    _card(artifact_path)  # a missing or malformed card is an ArtifactError, as before
    overlap = fitted_overlap(artifact_path, window.start_ns, window.end_ns)
    if overlap is not None:
        fitted = Window(overlap.start_ns, overlap.end_ns)
        raise InSampleWindowError(
            f"the out-of-sample window {window} overlaps {overlap.describe()}: a backtest "
            f"there is in-sample; start the window at or after {fitted.end.isoformat()}"
        )


def artifact_predictor_config(artifact_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The strategy's ``predictor`` config for a trained artifact of either family."""
    kind, _ = _card_kind_and_metrics(artifact_path)
    path = str(Path(artifact_path).resolve())
    if kind == "lightgbm":
        return {"kind": "lightgbm", "path": path}
    return {"kind": "torch", "path": path, "device": "cpu"}


def suggested_min_confidence(artifact_path: str | os.PathLike[str]) -> float | None:
    """The ``min_confidence`` the training chose on its validation fold (card
    ``metrics["decision"]``), or ``None`` when the card has none (either model family)."""
    _, metrics = _card_kind_and_metrics(artifact_path)
    decision = metrics.get("decision")
    if isinstance(decision, dict):
        value = decision.get("min_confidence")
        if isinstance(value, int | float):
            return float(value)
    return None


def compare_out_of_sample(
    artifact_path: str | os.PathLike[str],
    catalog_path: str | os.PathLike[str],
    window: Window,
    *,
    report_dir: str | os.PathLike[str],
    base: RunFile | None = None,
    min_confidence: float | None = None,
    sizing_overrides: dict[str, Any] | None = None,
    name_prefix: str = "oos",
) -> OosComparison:
    """Backtest the artifact and the rule model on ``window`` (same venue, fees and fills as
    ``base``) and add buy & hold.

    ``min_confidence`` and ``sizing_overrides`` apply to the trained model's run only (its
    threshold is chosen on the validation fold; the rule keeps the base run's settings).
    """
    check_out_of_sample(artifact_path, window)
    base = base or packaged_run_file("demo")
    _, metrics = _card_kind_and_metrics(artifact_path)
    trained_on = card_bar_type(metrics)
    if trained_on is not None:  # the bars it was trained on, not the base's (demo: 1-minute)
        base = on_bar_type(base, trained_on)
    strategy = base.raw["run"]["engine"]["strategies"][0]["config"]
    bar_type = str(strategy["bar_type"])
    overrides: dict[str, Any] = {}
    if min_confidence is not None:
        overrides["min_confidence"] = float(min_confidence)
    predictor = artifact_predictor_config(artifact_path)
    family = "LightGBM" if predictor["kind"] == "lightgbm" else "MLP"
    trained_file = window_run_file(
        base,
        name=f"{name_prefix}-trained",
        sample="out-of-sample",
        catalog_path=catalog_path,
        report_dir=report_dir,
        window=window,
        predictor=predictor,
        strategy_overrides=overrides,
        sizing_overrides=sizing_overrides,
        description=f"trained {family} on its out-of-sample window",
    )
    rule_file = window_run_file(
        base,
        name=f"{name_prefix}-rule",
        sample="out-of-sample",
        catalog_path=catalog_path,
        report_dir=report_dir,
        window=window,
        predictor={"kind": "rule"},
        description="rule model on the same window",
    )
    trained = run_window(trained_file, f"trained {family}")
    rule = run_window(rule_file, "rule model")
    starting = trained.summary.starting_equity
    hold = buy_and_hold(catalog_path, bar_type, window, starting, trained.summary.currency)
    return OosComparison(window, {"trained": trained, "rule": rule, "buy_and_hold": hold})
