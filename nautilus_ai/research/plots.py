"""Research plots, one call each; every function returns a matplotlib ``Figure``.

The figures are built without pyplot (no global state, nothing left open): a notebook shows the
returned figure, ``fig.savefig("x.png")`` writes it. Times are drawn in UTC, lines break over
market closures (weekends) instead of drawing a straight line across them, and buy / sell /
hold keep one colour everywhere (green / red / grey).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from nautilus_ai.reporting import time_axis
from nautilus_ai.research.evaluation import NOT_A_BACKTEST, SignalEvaluation
from nautilus_ai.research.frames import (
    ResearchInputError,
    as_bars,
    check_int,
    check_number,
    signal_column,
    to_utc_timestamp,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "DEFAULT_FEATURE_PANELS",
    "plot_confidence",
    "plot_evaluation",
    "plot_features",
    "plot_label_balance",
    "plot_signals",
]

#: Features :func:`plot_features` draws when none are named (those the spec has).
DEFAULT_FEATURE_PANELS: tuple[str, ...] = ("rsi", "macd_hist", "ema50_dist_atr", "vol_pct_rank")

BUY = "#1a9850"
SELL = "#d73027"
HOLD = "#9e9e9e"
PRICE = "#1f3b5c"
ACCENT = "#3c78b4"
_CLASS_COLOURS = {"sell": SELL, "hold": HOLD, "buy": BUY}
# A step longer than this many median steps is a market closure: the line breaks there.
_GAP_STEPS = 5
# Windows up to this many bars are drawn as candles, longer ones as a close line.
_MAX_CANDLES = 300


def plot_features(
    bars: pd.DataFrame,
    features: pd.DataFrame,
    columns: list[str] | tuple[str, ...] | None = None,
    *,
    start: object = None,
    end: object = None,
    max_bars: int = 2_000,
    title: str | None = None,
) -> Figure:
    """Price on top, one panel per feature below, on one time axis.

    Parameters
    ----------
    bars, features : pandas.DataFrame
        A bars frame and its :func:`~nautilus_ai.research.features` (same index).
    columns : list of str, optional
        Features to draw (default :data:`DEFAULT_FEATURE_PANELS`).
    start, end : time, optional
        Window on the bar close time (``[start, end)``; a bound without a zone is UTC).
    max_bars : int
        Without a window, the last ``max_bars`` bars are drawn (minute features over months
        are noise to the eye); the title says so.
    """
    checked = _rows_of(as_bars(bars), features, "features")
    if isinstance(columns, str):  # one name: list("rsi") would be the letters 'r', 's', 'i'
        columns = [columns]
    names = list(columns) if columns is not None else _present(features, DEFAULT_FEATURE_PANELS)
    missing = [name for name in names if name not in features.columns]
    if missing:
        raise ResearchInputError(f"columns: not features here: {', '.join(map(repr, missing))}")
    if not names:
        raise ResearchInputError("columns: no feature to draw")
    window, note = _window(checked.index, start, end, max_bars)
    price = checked.iloc[window]
    feats = features.iloc[window]
    fig, axes = _figure(len(names) + 1, height_ratios=[2.2] + [1.0] * len(names))
    _draw_price(axes[0], price)
    if "warm" in feats.columns:
        _shade(axes, feats.index, feats["warm"].to_numpy() != 1.0, "warm-up (features not ready)")
    for ax, name in zip(axes[1:], names, strict=True):
        values = feats[name].to_numpy(dtype=np.float64)
        x, y = _gapped(feats.index, values)
        ax.plot(x, y, color=ACCENT, lw=0.9)
        if _reference_lines(ax, name, values):
            ax.fill_between(x, 0, y, where=y > 0, color=BUY, alpha=0.18, lw=0)
            ax.fill_between(x, 0, y, where=y < 0, color=SELL, alpha=0.18, lw=0)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    axes[0].legend(loc="upper left", fontsize=8, frameon=False)
    fig.suptitle(
        title or f"{_instrument(checked)} features over price, {_span(price.index)}{note}",
        fontsize=11,
        x=0.01,
        ha="left",
    )
    time_axis(axes[-1])
    return fig


def plot_label_balance(
    labels: pd.DataFrame, *, freq: str = "W", title: str | None = None
) -> Figure:
    """How often each label occurs, overall and per period (weeks by default).

    Parameters
    ----------
    labels : pandas.DataFrame
        :func:`~nautilus_ai.research.labels` output.
    freq : str
        pandas period for the right-hand panel (``"D"``, ``"W"``, ``"M"``).
    """
    from matplotlib.figure import Figure

    if not isinstance(labels, pd.DataFrame) or not {"label", "valid"} <= set(labels.columns):
        raise ResearchInputError("labels: expected nautilus_ai.research.labels output")
    valid = labels[labels["valid"].to_numpy(dtype=bool)]
    if valid.empty:
        raise ResearchInputError("labels: no valid label to count (is the frame too short?)")
    names = pd.Series(
        pd.Categorical.from_codes(
            valid["label"].to_numpy(dtype=np.int64) + 1, categories=["sell", "hold", "buy"]
        ),
        index=valid.index,
    )
    counts = names.value_counts().reindex(["sell", "hold", "buy"], fill_value=0)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 2.4])
    colours = [_CLASS_COLOURS[c] for c in counts.index]
    bars = left.bar(counts.index, counts.to_numpy(), color=colours, width=0.65)
    total = int(counts.sum())
    for rect, count in zip(bars, counts.to_numpy(), strict=True):
        left.annotate(
            f"{count:,}\n{100 * count / total:.1f}%",
            (rect.get_x() + rect.get_width() / 2, rect.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    left.set_ylim(0, counts.max() * 1.25)
    left.set_ylabel("labelled bars")
    left.set_title("overall", fontsize=10)
    _clean(left)

    try:
        periods = names.index.tz_convert(None).to_period(freq)
    except (ValueError, TypeError) as exc:
        raise ResearchInputError(f"freq: {freq!r} is not a pandas period ({exc})") from None
    table = pd.crosstab(periods, names).reindex(columns=["sell", "hold", "buy"], fill_value=0)
    shares = table.div(table.sum(axis=1), axis=0) * 100
    x = np.arange(len(shares))
    bottom = np.zeros(len(shares))
    for name in ("sell", "buy", "hold"):  # the two trade classes at the bottom, easy to compare
        values = shares[name].to_numpy()
        right.bar(
            x,
            values,
            bottom=bottom,
            color=_CLASS_COLOURS[name],
            alpha=0.45 if name == "hold" else 1.0,
            width=0.8,
            label=name,
        )
        bottom = bottom + values
    right.set_ylabel("% of labelled bars")
    step = max(1, len(shares) // 12)
    right.set_xticks(x[::step], [str(p.start_time.date()) for p in shares.index[::step]])
    right.tick_params(axis="x", labelsize=8, rotation=30)
    right.set_title(f"share per period ({freq})", fontsize=10)
    right.set_ylim(0, 100)
    right.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    _clean(right)
    description = labels.attrs.get("label_description", "")
    dropped = len(labels) - len(valid)
    fig.suptitle(
        title
        or f"Label balance: {description or 'labels'}  ({total:,} labelled bars; {dropped:,} "
        "without a label: horizon past the data or unit not defined yet)",
        fontsize=10,
        x=0.01,
        ha="left",
    )
    return fig


def plot_confidence(
    predictions: pd.DataFrame,
    labels: pd.DataFrame | None = None,
    *,
    bins: int = 10,
    min_confidence: float | None = None,
    include_holds: bool = False,
    title: str | None = None,
) -> Figure:
    """The confidence distribution of a model's calls and, with ``labels``, its reliability.

    Left: histogram of the confidence of buy and sell calls (and of holds, when the model gives
    holds a confidence), over the range the confidences actually take. Right (with ``labels``):
    a reliability diagram over the calls with a valid label, in ``bins`` equal-count bins: mean
    confidence per bin against how often the call matched the label; a calibrated model sits on
    the diagonal. ``include_holds`` adds hold calls (top-label calibration of every class).
    """
    from matplotlib.figure import Figure

    if not isinstance(predictions, pd.DataFrame) or not {
        "action",
        "confidence",
        "accepted",
        "signal",
    } <= set(predictions.columns):
        raise ResearchInputError("predictions: expected nautilus_ai.research.predict output")
    bins = check_int(bins, "bins", low=2)
    if min_confidence is not None:
        min_confidence = check_number(min_confidence, "min_confidence", low=0.0, high=1.0)
    accepted = predictions[predictions["accepted"].to_numpy(dtype=bool)]
    action = accepted["action"].astype(str).to_numpy()
    confidence = accepted["confidence"].to_numpy(dtype=np.float64)
    fig = Figure(figsize=(11 if labels is not None else 6.5, 4.2), layout="constrained")
    axes = fig.subplots(1, 2 if labels is not None else 1, squeeze=False)[0]
    hist = axes[0]
    holds_have_confidence = bool((confidence[action == "hold"] > 0).any())
    kinds = [k for k in ("buy", "sell", "hold") if k != "hold" or holds_have_confidence]
    groups = [confidence[action == k] for k in kinds]
    shown = np.concatenate(groups) if groups else np.zeros(0)
    lo, hi = _confidence_range(shown, min_confidence)
    if shown.size:
        hist.hist(
            [np.clip(g, lo, hi) for g in groups],
            bins=np.linspace(lo, hi, 26),
            color=[_CLASS_COLOURS[k] for k in kinds],
            alpha=0.85,
            label=[f"{k} ({g.size:,})" for k, g in zip(kinds, groups, strict=True)],
        )
        hist.legend(fontsize=8, frameon=False, loc="upper left")
    else:
        hist.text(0.5, 0.5, "no call to show", ha="center", transform=hist.transAxes)
    if min_confidence is not None:
        hist.axvline(min_confidence, color="black", ls="--", lw=1)
        hist.annotate(
            f" min_confidence {min_confidence:.3g}",
            (min_confidence, 0.98),
            xycoords=("data", "axes fraction"),
            va="top",
            fontsize=8,
        )
    calls = int(np.isin(action, ("buy", "sell")).sum())
    holds = int((action == "hold").sum())
    hist.set_xlim(lo, hi)
    hist.set_xlabel("confidence")
    hist.set_ylabel("rows")
    hist.set_title(
        f"confidence of calls: {calls:,} buy/sell, {holds:,} hold"
        + ("" if holds_have_confidence else " (hold confidence 0)"),
        fontsize=10,
    )
    _clean(hist)
    if labels is not None:
        _reliability(axes[1], predictions, labels, bins=bins, include_holds=include_holds)
    model = predictions.attrs.get("model_id", "model")
    fig.suptitle(title or f"Confidence of {model}", fontsize=11, x=0.01, ha="left")
    return fig


def plot_signals(
    bars: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    start: object = None,
    end: object = None,
    max_bars: int = 2_000,
    min_confidence: float = 0.0,
    title: str | None = None,
) -> Figure:
    """Buy / sell calls on the price chart, with their confidence in a panel below.

    Candles for windows up to 300 bars, a close line beyond. Markers sit under the low (buy)
    or over the high (sell) of the signal bar; their size grows with confidence. Calls below
    ``min_confidence`` are left out (the strategy would not trade them).
    """
    min_confidence = check_number(min_confidence, "min_confidence", low=0.0, high=1.0)
    checked = _rows_of(as_bars(bars), predictions, "predictions")
    window, note = _window(checked.index, start, end, max_bars)
    price = checked.iloc[window]
    pred = predictions.iloc[window]
    fig, (top, bottom) = _figure(2, height_ratios=[3.0, 1.0])
    _draw_price(top, price)
    signal = signal_column(pred)  # a 2 or a NaN was drawn nowhere, without a word
    confidence = pred["confidence"].to_numpy(dtype=np.float64)
    chosen = confidence >= min_confidence
    span = float(price["high"].max() - price["low"].min()) or 1.0
    times = _naive_utc(pred.index)
    for sign, colour, marker, column, offset in (
        (1, BUY, "^", "low", -0.035),
        (-1, SELL, "v", "high", 0.035),
    ):
        rows = np.flatnonzero((signal == sign) & chosen)
        name = "buy" if sign > 0 else "sell"
        top.scatter(
            times[rows],
            price[column].to_numpy()[rows] + offset * span,
            marker=marker,
            s=18 + 70 * confidence[rows] ** 2,
            color=colour,
            edgecolor="white",
            linewidth=0.4,
            zorder=3,
            label=f"{name} ({rows.size:,})",
        )
        bottom.vlines(times[rows], 0, sign * confidence[rows], color=colour, lw=1.2)
    if min_confidence > 0:
        for level in (min_confidence, -min_confidence):
            bottom.axhline(level, color="black", ls="--", lw=0.8)
    bottom.axhline(0, color="black", lw=0.6)
    bottom.set_ylim(-1.05, 1.05)
    bottom.set_ylabel("confidence\n(+buy / -sell)", fontsize=9)
    top.legend(loc="upper left", fontsize=8, frameon=False, ncols=3)
    model = predictions.attrs.get("model_id", "model")
    fig.suptitle(
        title or f"{_instrument(checked)} signals of {model}, {_span(price.index)}{note}",
        fontsize=11,
        x=0.01,
        ha="left",
    )
    time_axis(bottom)
    return fig


def plot_evaluation(evaluation: SignalEvaluation, *, title: str | None = None) -> Figure:
    """The naive cumulative PnL (pips, after the stated cost) and the forward move per signal.

    Labelled as what it is: not a backtest (see :func:`~nautilus_ai.research.evaluate`).
    """
    from matplotlib.figure import Figure

    if not isinstance(evaluation, SignalEvaluation):
        raise ResearchInputError(
            f"evaluation: expected evaluate() output, got {type(evaluation).__name__}"
        )
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[2.4, 1])
    pnl = evaluation.pnl
    s = evaluation.summary
    if len(pnl):
        x = _naive_utc(pd.DatetimeIndex(pnl.index))
        y = pnl.to_numpy()
        left.plot(x, y, color=PRICE, lw=1.1, drawstyle="steps-post")
        left.fill_between(x, 0, y, where=y >= 0, color=BUY, alpha=0.15, step="post")
        left.fill_between(x, 0, y, where=y < 0, color=SELL, alpha=0.15, step="post")
        time_axis(left)
    else:
        left.text(0.5, 0.5, "no trade to show", ha="center", va="center", transform=left.transAxes)
    left.axhline(0, color="black", lw=0.6)
    left.set_ylabel("cumulative net pips")
    left.set_title(
        f"{s['trades']:,} one-unit trades, {evaluation.horizon} bars each, "
        f"{evaluation.cost_pips:g} pips cost per trade",
        fontsize=10,
    )
    _clean(left)
    trades = evaluation.trades
    names = ["buy", "sell"]
    slots = np.arange(len(names), dtype=np.float64)
    for offset, column, alpha in ((-0.2, "gross_pips", 0.45), (0.2, "net_pips", 0.95)):
        means = np.array(
            [trades.loc[trades["side"] == n, column].mean() if (trades["side"] == n).any()
             else np.nan for n in names]
        )  # fmt: skip
        rects = right.bar(
            slots + offset,
            np.nan_to_num(means),
            width=0.38,
            color=[_CLASS_COLOURS[n] for n in names],
            alpha=alpha,
        )
        for rect, name, mean in zip(rects, names, means, strict=True):
            side = trades[trades["side"] == name]
            text = "-" if not np.isfinite(mean) else f"{mean:+.2f}"
            if column == "net_pips" and len(side):
                text += f"\nhit {100 * (side['gross_pips'] > 0).mean():.0f}%\nn={len(side):,}"
            right.annotate(
                text,
                (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                ha="center",
                va="bottom" if rect.get_height() >= 0 else "top",
                fontsize=8,
            )
    right.set_xticks(slots, names)
    right.axhline(0, color="black", lw=0.6)
    low, high = right.get_ylim()
    low, high = min(low, 0.0), max(high, 0.0)
    pad = 0.4 * ((high - low) or 1.0)  # room for the labels and the legend on both sides
    right.set_ylim(low - pad, high + pad)
    right.set_ylabel("mean pips per trade, in the call's direction")
    from matplotlib.patches import Patch

    right.legend(
        handles=[
            Patch(color="#777777", alpha=0.45, label="gross"),
            Patch(color="#777777", alpha=0.95, label=f"net of {evaluation.cost_pips:g} pips"),
        ],
        loc="best",
        fontsize=8,
        frameon=False,
    )
    right.set_title(f"per call, {evaluation.horizon} bars ahead (hit = gross > 0)", fontsize=10)
    _clean(right)
    fig.suptitle(
        title or f"{s['model_id']}: {NOT_A_BACKTEST} (no fills, sizing or account)",
        fontsize=11,
        x=0.01,
        ha="left",
    )
    return fig


# ---------------------------------------------------------------------------------- helpers


def _reliability(
    ax: Axes,
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    bins: int,
    include_holds: bool,
) -> None:
    if not isinstance(labels, pd.DataFrame) or not {"label", "valid"} <= set(labels.columns):
        raise ResearchInputError("labels: expected nautilus_ai.research.labels output")
    joined = predictions.join(labels[["label", "valid"]], how="inner")
    if joined.empty:
        raise ResearchInputError("labels and predictions share no row (different times?)")
    action = joined["action"].astype(str).to_numpy()
    keep = joined["accepted"].to_numpy(dtype=bool) & joined["valid"].to_numpy(dtype=bool)
    if not include_holds:
        keep &= action != "hold"
    sign = signal_column(joined)[keep]
    correct = sign == joined["label"].to_numpy(dtype=np.int64)[keep]
    confidence = joined["confidence"].to_numpy(dtype=np.float64)[keep]
    what = "calls incl. holds" if include_holds else "buy/sell calls"
    ax.set_xlabel("mean confidence in bin")
    ax.set_ylabel("share of calls that matched the label")
    if confidence.size == 0:
        ax.text(0.5, 0.5, f"no {what} with a valid label", ha="center", transform=ax.transAxes)
        ax.set_title("reliability", fontsize=10)
        _clean(ax)
        return
    # Equal-count bins: model confidences often crowd into a narrow band, where fixed-width
    # bins would put nearly every call into one or two bins.
    order = np.argsort(confidence, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, confidence.size)) if g.size]
    mean_conf = np.array([confidence[g].mean() for g in groups])
    hit = np.array([correct[g].mean() for g in groups])
    counts = np.array([g.size for g in groups])
    ece = float(np.sum(counts * np.abs(hit - mean_conf)) / confidence.size)
    # 95% binomial band around each bin's hit rate: how far chance alone moves it.
    band = 1.96 * np.sqrt(np.clip(hit * (1 - hit), 1e-12, None) / counts)
    lo = max(0.0, min(mean_conf.min(), (hit - band).min()) - 0.05)
    hi = min(1.0, max(mean_conf.max(), (hit + band).max()) + 0.05)
    ax.plot([lo, hi], [lo, hi], color="black", ls="--", lw=0.8, label="calibrated")
    ax.fill_between(mean_conf, hit - band, hit + band, color=ACCENT, alpha=0.15, lw=0,
                    label="95% band (chance)")  # fmt: skip
    ax.plot(mean_conf, hit, "o-", color=ACCENT, ms=4, lw=1.2, label=f"model (ECE {ece:.3f})")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_title(
        f"reliability of {confidence.size:,} {what} ({len(groups)} bins of "
        f"~{int(np.median(counts)):,})",
        fontsize=10,
    )
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    _clean(ax)


def _confidence_range(values: NDArray[np.float64], marker: float | None) -> tuple[float, float]:
    """The x range of the confidence histogram: where 99.8% of the values are (and the marker),
    padded; the few beyond are drawn in the edge bins."""
    if values.size:
        points = [float(np.quantile(values, 0.001)), float(np.quantile(values, 0.999))]
    else:
        points = [0.0, 1.0]
    if marker is not None:
        points.append(float(marker))
    lo, hi = min(points), max(points)
    pad = max(0.02, 0.08 * (hi - lo))
    return max(0.0, lo - pad), min(1.0, hi + pad)


def _figure(rows: int, height_ratios: list[float]) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    height = 1.3 * sum(height_ratios) + 0.9
    fig = Figure(figsize=(12, height), layout="constrained")
    axes = fig.subplots(rows, 1, sharex=True, height_ratios=height_ratios, squeeze=False)[:, 0]
    for ax in axes:
        _clean(ax)
        ax.grid(axis="y", color="#e6e6e6", lw=0.6)
    return fig, list(axes)


def _draw_price(ax: Axes, bars: pd.DataFrame) -> None:
    if len(bars) <= _MAX_CANDLES:
        _candles(ax, bars)
    else:
        x, y = _gapped(bars.index, bars["close"].to_numpy())
        ax.plot(x, y, color=PRICE, lw=0.9, label="close")
    ax.set_ylabel("price", rotation=0, ha="right", va="center", fontsize=9)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")


def _candles(ax: Axes, bars: pd.DataFrame) -> None:
    from matplotlib.dates import date2num

    x = np.asarray(date2num(_naive_utc(bars.index)), dtype=np.float64)  # type: ignore[no-untyped-call]
    step = float(np.median(np.diff(x))) if x.size > 1 else 1 / 1440
    o, h, lo, c = (bars[k].to_numpy() for k in ("open", "high", "low", "close"))
    up = c >= o
    for mask, colour in ((up, "#4d7ea8"), (~up, "#b5b5b5")):
        ax.vlines(x[mask], lo[mask], h[mask], color=colour, lw=0.8)
        ax.bar(
            x[mask],
            np.maximum(np.abs(c - o)[mask], 1e-12),
            bottom=np.minimum(o, c)[mask],
            width=step * 0.7,
            color=colour,
            edgecolor=colour,
        )
    ax.plot([], [], color="#4d7ea8", lw=4, label="bars (up / down)")
    ax.xaxis_date()


def _gapped(index: pd.DatetimeIndex, values: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
    """x / y with a NaN point inserted in every market closure, so the line breaks there."""
    x = _naive_utc(index)
    y = np.asarray(values, dtype=np.float64)
    if x.size < 3:
        return x, y
    steps = np.diff(x.astype("int64"))
    gap = np.flatnonzero(steps > _GAP_STEPS * np.median(steps))
    if not gap.size:
        return x, y
    return np.insert(x, gap + 1, x[gap]), np.insert(y, gap + 1, np.nan)


def _shade(axes: list[Axes], index: pd.DatetimeIndex, mask: NDArray[np.bool_], label: str) -> None:
    if not mask.any():
        return
    x = _naive_utc(index)
    rows = np.flatnonzero(mask)
    first, last = x[rows[0]], x[min(rows[-1] + 1, x.size - 1)]
    for i, ax in enumerate(axes):
        ax.axvspan(first, last, color="#f0e6cc", alpha=0.6, lw=0, label=label if i == 0 else None)


def _reference_lines(ax: Axes, name: str, values: NDArray[np.float64]) -> bool:
    """Guide lines for bounded features; True when the feature crosses zero (fill by sign)."""
    if name in ("rsi", "vol_pct_rank"):
        for level in (0.3, 0.7) if name == "rsi" else (0.25, 0.75):
            ax.axhline(level, color="#888888", ls=":", lw=0.8)
        ax.set_ylim(0, 1)
        return False
    if np.nanmin(values, initial=np.inf) < 0 < np.nanmax(values, initial=-np.inf):
        ax.axhline(0, color="#888888", lw=0.7)
        return True
    return False


def _window(
    index: pd.DatetimeIndex, start: object, end: object, max_bars: int
) -> tuple[slice, str]:
    max_bars = check_int(max_bars, "max_bars", low=2)
    if start is None and end is None:
        if len(index) > max_bars:
            return slice(len(index) - max_bars, None), f" (last {max_bars:,} bars)"
        return slice(None), ""
    lo = 0 if start is None else int(index.searchsorted(to_utc_timestamp(start, "start")))
    hi = len(index) if end is None else int(index.searchsorted(to_utc_timestamp(end, "end")))
    if hi <= lo:
        raise ResearchInputError(
            f"no bar in [{start}, {end}); the bars run {index[0]} .. {index[-1]}"
        )
    return slice(lo, hi), ""


def _rows_of(bars: pd.DataFrame, frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """The bars of ``frame``'s rows (``frame`` may cover part of the bars, not other times)."""
    if not isinstance(frame, pd.DataFrame):
        raise ResearchInputError(f"{what}: expected a pandas DataFrame, got {type(frame).__name__}")
    if frame.index.equals(bars.index):
        return bars
    position = bars.index.get_indexer(frame.index)
    if (position < 0).any():
        row = int(np.flatnonzero(position < 0)[0])
        raise ResearchInputError(
            f"{what}: time {frame.index[row]} (row {row}) is not a bar of `bars`; pass the bars "
            "they were computed from"
        )
    return bars.iloc[position]


def _present(frame: pd.DataFrame, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name in frame.columns]


def _naive_utc(index: pd.DatetimeIndex) -> NDArray[np.datetime64]:
    return np.asarray(index.tz_convert("UTC").tz_localize(None).to_numpy(), dtype="datetime64[ns]")


def _instrument(bars: pd.DataFrame) -> str:
    return str(bars.attrs.get("bar_type") or bars.attrs.get("instrument_id") or "bars")


def _span(index: pd.DatetimeIndex) -> str:
    if not len(index):
        return "no bars"
    fmt = "%Y-%m-%d %H:%M"
    return f"{index[0].strftime(fmt)} .. {index[-1].strftime(fmt)} UTC"


def _clean(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8)
