"""Research use: "the k past windows most like now, and what happened next", with a picture.

>>> found = similar_windows(memory, catalog, bar_type, k=10)       # now = the last bar
>>> print(found.to_text())
>>> found.plot("similar.png")

Only patterns whose outcome was known before the query bar are searched (the memory's rule),
so asking about a past bar shows what the memory would have said then.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from nautilus_ai.features import accepted_bars_mask, compute_features
from nautilus_ai.patterns.memory import PatternMemory
from nautilus_ai.patterns.spec import pattern_layout, pattern_vectors
from nautilus_ai.patterns.store import bar_step_ns, format_period
from nautilus_ai.timefmt import MAX_NS, utc_minute

if TYPE_CHECKING:
    from nautilus_ai.patterns.chart_embedding import ChartEmbedder

__all__ = ["SimilarWindows", "similar_windows"]

_NAMES = {-1: "sell", 0: "hold", 1: "buy"}


@dataclass(frozen=True)
class SimilarWindows:
    """The answer of :func:`similar_windows`.

    Attributes
    ----------
    ts_event : int
        The query bar (close time, UTC ns).
    window : ndarray
        Its last ``shape_bars`` closes.
    eligible : int
        Patterns the memory could use at that time.
    rows : ndarray of int64
        Store rows of the neighbours, nearest first.
    distances : ndarray of float64
        Their L2 distances.
    neighbour_paths : ndarray, shape (k, shape_bars + horizon)
        Each neighbour's closes from its window's first bar to the end of its outcome, where the
        bars are in the catalog (NaN otherwise).
    memory : PatternMemory
    requested : int
        The ``k`` asked for (an IVF memory may hold fewer in its probed lists; the table says so).
    """

    ts_event: int
    window: NDArray[np.float64]
    eligible: int
    rows: NDArray[np.int64]
    distances: NDArray[np.float64]
    neighbour_paths: NDArray[np.float64]
    memory: PatternMemory
    requested: int = 0  # the k asked for (0: not recorded)

    def records(self) -> list[dict[str, Any]]:
        """One dict per neighbour: when, instrument, distance and what happened next."""
        m = self.memory
        out = []
        for rank, (row, distance) in enumerate(zip(self.rows, self.distances, strict=True)):
            out.append(
                {
                    "rank": rank + 1,
                    "ts_event": int(m.ts_event[row]),
                    "time": utc_minute(int(m.ts_event[row])),
                    "instrument_id": m.instrument_id[row],
                    "distance": float(distance),
                    "outcome": _NAMES[int(m.label[row])],
                    "forward_return_atr": float(m.column("forward_return")[row]),
                    "mfe_atr": float(m.column("mfe")[row]),
                    "mae_atr": float(m.column("mae")[row]),
                    "known_at": utc_minute(int(m.available_ns[row])),
                }
            )
        return out

    def to_text(self) -> str:
        """A table a person reads in a terminal."""
        spec = self.memory.pattern_spec
        fewer = ""
        if len(self.rows) < min(self.requested, self.eligible):
            # an IVF index answers from the patterns of its nprobe nearest lists only
            fewer = (
                f"; {self.requested:,} asked: the index's probed lists hold only these "
                "(more needs a store built with --index-mode exact)"
            )
        lines = [
            f"{len(self.rows)} past windows most like {utc_minute(self.ts_event)} "
            f"(of {self.eligible:,} whose outcome was known by then; outcome over "
            f"{spec.horizon} bars, barrier {spec.barrier_atr:g} ATR{fewer})",
            f"{'#':>3} {'time (UTC)':<17} {'instrument':<14} {'dist':>6} {'outcome':>7} "
            f"{'fwd ATR':>8} {'MFE':>6} {'MAE':>6}",
        ]
        for r in self.records():
            lines.append(
                f"{r['rank']:>3} {r['time']:<17} {r['instrument_id']:<14} {r['distance']:>6.3f} "
                f"{r['outcome']:>7} {r['forward_return_atr']:>+8.2f} {r['mfe_atr']:>6.2f} "
                f"{r['mae_atr']:>6.2f}"
            )
        labels = [r["outcome"] for r in self.records()]
        returns = np.array([r["forward_return_atr"] for r in self.records()])
        if returns.size:
            lines.append(
                f"next {spec.horizon} bars: buy {labels.count('buy')}, hold "
                f"{labels.count('hold')}, sell {labels.count('sell')}; forward return median "
                f"{np.median(returns):+.2f} ATR (range {returns.min():+.2f} .. "
                f"{returns.max():+.2f})"
            )
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """PNG: the current window (z-scored) over its neighbours' windows and what followed,
        and the distribution of the neighbours' outcomes. ``path`` names the file, its suffix
        the format (checked first: :func:`plot_target`)."""
        target = plot_target(path)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        spec = self.memory.pattern_spec
        n_bars, horizon = spec.shape_bars, spec.horizon
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [2.2, 1]}
        )
        x_window = np.arange(-n_bars + 1, 1)
        x_path = np.arange(-n_bars + 1, horizon + 1)
        colours = {"buy": "tab:green", "sell": "tab:red", "hold": "tab:gray"}
        for record, path_row in zip(self.records(), self.neighbour_paths, strict=True):
            z = _zscore_by_window(path_row, n_bars)
            if z is None:
                continue
            left.plot(x_path, z, color=colours[record["outcome"]], alpha=0.45, lw=1)
        now = _zscore_by_window(self.window, n_bars)
        if now is not None:
            left.plot(x_window, now, color="black", lw=2.6, label="now")
        left.axvline(0, color="black", ls=":", lw=1)
        left.axvspan(0, horizon, color="tab:blue", alpha=0.06)
        left.set_title(
            f"now ({utc_minute(self.ts_event)} UTC) over its {len(self.rows)} "
            "nearest past windows\n"
            "closes z-scored on each window; after 0: what happened next (colour: barrier hit "
            "first, green up / red down / grey neither)",
            fontsize=9,
        )
        left.set_xlabel("bars from the decision bar")
        left.set_ylabel("close, z-score of the window")
        left.legend(loc="upper left")
        returns = np.array([r["forward_return_atr"] for r in self.records()])
        if returns.size:
            right.hist(returns, bins=max(5, min(20, returns.size)), color="tab:blue", alpha=0.7)
            right.axvline(0, color="black", lw=1)
            right.axvline(float(np.median(returns)), color="tab:orange", lw=2, label="median")
            labels = [r["outcome"] for r in self.records()]
            right.set_title(
                f"outcomes after {horizon} bars: buy {labels.count('buy')} / hold "
                f"{labels.count('hold')} / sell {labels.count('sell')}",
                fontsize=9,
            )
            right.legend()
        right.set_xlabel("forward return (ATR)")
        right.set_ylabel("neighbours")
        fig.tight_layout()
        target.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(target, dpi=110)
        plt.close(fig)
        return target


def similar_windows(
    memory: PatternMemory,
    catalog_path: str | os.PathLike[str],
    bar_type: str,
    *,
    at_ns: int | None = None,
    k: int = 10,
    chart_embedder: ChartEmbedder | None = None,
) -> SimilarWindows:
    """The ``k`` past windows most like the bar at ``at_ns`` (default: the catalog's last bar)
    of ``bar_type``, among the patterns whose outcome was known by then. A memory whose patterns
    carry a chart block needs the ``chart_embedder`` of that model."""
    from nautilus_ai.catalog.reader import read_bars

    _check_arguments(memory, at_ns, k)
    ts, ohlcv = read_bars(catalog_path, bar_type)
    keep = accepted_bars_mask(ts, *ohlcv.T)
    ts, ohlcv = ts[keep], np.ascontiguousarray(ohlcv[keep])
    period = bar_step_ns(ts)
    if None not in (memory.bar_ns, period) and memory.bar_ns != period:
        raise ValueError(
            f"the memory was built from bars {format_period(memory.bar_ns or 0)} apart, "
            f"{bar_type} is {format_period(period or 0)} bars: patterns of another bar period "
            "compare other time spans; build a store from this bar type"
        )
    spec = memory.feature_spec
    n_bars = memory.pattern_spec.shape_bars
    if at_ns is None:
        i = ts.size - 1
    else:
        i = int(np.searchsorted(ts, at_ns, side="right")) - 1
        if i < 0:
            raise ValueError(f"no bar of {bar_type} at or before {utc_minute(at_ns)}")
        if i == ts.size - 1 and at_ns > ts[-1] + (period or 0):
            # the answer would be the last bar's, months before the time asked about
            raise ValueError(
                f"{utc_minute(at_ns)} is after the last {bar_type} bar "
                f"({utc_minute(int(ts[-1]))}): no "
                "window at that time; ask at or before it (or leave the time out for the last bar)"
            )
    start = max(0, i - max(spec.warmup_bars, n_bars) * 3)
    features = compute_features(spec, ts[start : i + 1], *ohlcv[start : i + 1].T)
    pspec = memory.pattern_spec
    if features[-1, spec.index("warm")] != 1.0 or i + 1 < pspec.context_bars:
        raise ValueError(
            f"the bar at {utc_minute(int(ts[i]))} is not warm: not enough bars before it"
        )
    window = ohlcv[i - n_bars + 1 : i + 1, 3]
    layout = pattern_layout(spec.names, pspec)
    charts = None
    if pspec.chart_model is not None:
        if chart_embedder is None or chart_embedder.model_id != pspec.chart_model:
            raise ValueError(
                f"the memory's patterns carry chart embeddings of model {pspec.chart_model}: "
                "pass that model's chart_embedder"
            )
        lo = i - pspec.chart_bars + 1
        bars = np.column_stack([ts[lo : i + 1].astype(np.float64), ohlcv[lo : i + 1]])
        charts = chart_embedder.embed(bars[None])
    vector = pattern_vectors(layout, features[-1:], window[None, :], charts)
    # a k above the store's size asks for all of it: (1, k) answer arrays of a huge k would
    # take gigabytes for nothing
    found = memory.search(vector, int(ts[i]), max(1, min(k, len(memory))))
    rows = found.rows[0][found.rows[0] >= 0]
    distances = np.sqrt(found.distances[0][: rows.size])
    horizon = memory.pattern_spec.horizon
    paths = np.full((rows.size, n_bars + horizon), np.nan)
    for j, row in enumerate(rows.tolist()):
        p = int(np.searchsorted(ts, memory.ts_event[row]))
        same = memory.instrument_id[row] == bar_type.rsplit("-", 4)[0]
        if same and p < ts.size and ts[p] == memory.ts_event[row] and p >= n_bars - 1:
            segment = ohlcv[p - n_bars + 1 : p + horizon + 1, 3]
            paths[j, : segment.size] = segment
    return SimilarWindows(
        int(ts[i]), window, int(found.eligible[0]), rows, distances, paths, memory, int(k)
    )


def plot_target(path: str | os.PathLike[str]) -> Path:
    """The picture file ``path`` names, checked before anything is drawn: a folder, or a name
    without a picture suffix, was written to ``<name>.png`` by matplotlib while the caller
    reported ``<name>`` (exit 0, the file said to be there was not); an unknown suffix failed
    after the query with matplotlib's error.

    Raises
    ------
    ValueError
        Naming the path and the formats that exist.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    target = Path(path)
    if target.is_dir():
        raise ValueError(
            f"{target} is a folder: give the picture's file, e.g. {target / 'now.png'}"
        )
    formats = FigureCanvasBase.get_supported_filetypes()
    if target.suffix.lower().lstrip(".") not in formats:
        raise ValueError(
            f"{target}: the suffix names the picture format, one of "
            f"{', '.join('.' + f for f in sorted(formats))}"
        )
    return target


def _check_arguments(memory: Any, at_ns: Any, k: Any) -> None:
    """Refuse what would be answered wrongly: ``at_ns`` as a date string was compared with the
    bar times and answered at the catalog's last bar, a float was used rounded."""
    if not isinstance(memory, PatternMemory):
        is_path = isinstance(memory, (str, os.PathLike))
        hint = " (open a store folder with load_memory(folder))" if is_path else ""
        raise TypeError(f"memory must be a PatternMemory, got {memory!r}{hint}")
    if at_ns is not None and (
        isinstance(at_ns, (bool, np.bool_)) or not isinstance(at_ns, (int, np.integer))
    ):
        raise TypeError(f"at_ns must be an int (UTC ns) or None, got {at_ns!r}")
    if at_ns is not None and not 0 <= at_ns <= MAX_NS:
        # searched in the int64 bar times, it overflowed or printed as 'NaT'
        raise ValueError(f"at_ns must be a UTC ns time in [0, 2**63 - 1], got {at_ns!r}")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, was {k}")


def _zscore_by_window(values: NDArray[np.float64], n_bars: int) -> NDArray[np.float64] | None:
    head = values[:n_bars]
    if not np.isfinite(head).all():
        return None
    std = head.std()
    if std <= 0:
        return None
    out: NDArray[np.float64] = (values - head.mean()) / std
    return out
