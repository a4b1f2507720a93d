"""The trader's report: derived series on hand-made numbers, every plot written as a real PNG
from plain arrays, and the Markdown page linking them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nautilus_ai.experiments import deflated_sharpe_of_best, probability_of_backtest_overfitting
from nautilus_ai.experiments.costs import split_trade_pnl
from nautilus_ai.experiments.report import (
    ReportSection,
    TradeMarks,
    daily_equity,
    monthly_returns,
    plot_confidence_vs_pnl,
    plot_cost_split,
    plot_equity_drawdown,
    plot_monthly_returns,
    plot_parameter_sensitivity,
    plot_pnl_distribution,
    plot_rolling_sharpe,
    plot_trades_on_price,
    rolling_sharpe,
    selection_table_markdown,
    write_markdown_report,
)

MINUTE = 60_000_000_000
T0 = int(np.datetime64("2017-01-02T00:00", "ns").astype(np.int64))


def _walk(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(n, dtype=np.int64) * 15 * MINUTE
    close = 1.05 + np.cumsum(rng.normal(0, 2e-4, n))
    ohlc = np.column_stack([np.r_[close[0], close[:-1]], close + 1e-4, close - 1e-4, close])
    equity = 100_000 * (1 + np.cumsum(rng.normal(2e-6, 3e-4, n)))
    return ts, ohlc, equity


def _is_png(path: Path, min_size: tuple[int, int] = (500, 200)) -> bool:
    with Image.open(path) as image:
        return image.format == "PNG" and image.size[0] >= min_size[0] and image.size[1] >= 100


def test_monthly_returns_chain_month_ends() -> None:
    dates = ("2017-01-03", "2017-01-31", "2017-02-15", "2017-02-28", "2018-03-01")
    ts = np.array([np.datetime64(d, "ns").astype(np.int64) for d in dates])
    equity = np.array([100.0, 110.0, 99.0, 121.0, 121.0])
    years, table = monthly_returns(ts, equity)
    assert years == [2017, 2018]
    assert table[0, 0] == pytest.approx(0.10)  # from the first bar to January's last
    assert table[0, 1] == pytest.approx(0.10)  # 110 -> 121
    assert table[1, 2] == pytest.approx(0.0) and np.isnan(table[0, 5])


def test_daily_equity_and_rolling_sharpe() -> None:
    day = 86_400 * 10**9
    ts = np.array([0, 1, day, day + 5, 2 * day, 3 * day, 4 * day], dtype=np.int64)
    _, closes = daily_equity(ts, np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]))
    assert closes.tolist() == [2.0, 4.0, 5.0, 6.0, 7.0]
    _, sharpe = rolling_sharpe(ts, np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]), window_days=2)
    assert np.isnan(sharpe[0]) and np.isfinite(sharpe[1:]).all()


def test_every_plot_writes_a_png_and_the_page_links_them(tmp_path: Path) -> None:
    ts, ohlc, equity = _walk(6_000)
    rng = np.random.default_rng(1)
    n = 120
    entry_i = np.sort(rng.choice(len(ts) - 10, n, replace=False))
    exit_i = entry_i + rng.integers(1, 10, n)
    side = rng.choice([-1.0, 1.0], n)
    qty = np.full(n, 20_000.0)
    entry_px, exit_px = ohlc[entry_i, 3] + side * 1.5e-5, ohlc[exit_i, 3] - side * 1.5e-5
    split = split_trade_pnl(
        side=side, quantity=qty, entry_price=entry_px, exit_price=exit_px,
        entry_mid=ohlc[entry_i, 3], exit_mid=ohlc[exit_i, 3], commission=np.full(n, 4.0),
    )  # fmt: skip
    marks = TradeMarks(ts[entry_i], ts[exit_i], entry_px, exit_px, side, split.net,
                       side * qty * (exit_px - entry_px))  # fmt: skip
    folds = [int(ts[0]), int(ts[2_000]), int(ts[4_000])]
    grid = rng.normal(0, 1, (3, 4))
    trials = rng.normal(0, 1e-3, (800, 12))
    _, dsr = deflated_sharpe_of_best(trials)
    pbo = probability_of_backtest_overfitting(trials, n_splits=8)
    images = [
        plot_equity_drawdown(tmp_path / "equity.png", ts, equity, title="stitched [OOS]",
                             fold_starts=folds, baselines={"buy & hold": equity * 0.99}),
        plot_trades_on_price(tmp_path / "trades.png", ts, ohlc, marks,
                             window=(int(ts[100]), int(ts[300])), title="trades"),
        plot_trades_on_price(tmp_path / "trades_line.png", ts, ohlc, marks,
                             window=(int(ts[0]), int(ts[-1])), title="all trades"),
        plot_monthly_returns(tmp_path / "monthly.png", ts, equity, title="monthly"),
        plot_rolling_sharpe(tmp_path / "sharpe.png", ts, equity, title="rolling"),
        plot_pnl_distribution(tmp_path / "pnl.png", split.net, title="pnl", cost_per_trade=4.6),
        plot_confidence_vs_pnl(tmp_path / "conf.png", rng.uniform(0.5, 0.9, n), split.net,
                               title="confidence"),
        plot_cost_split(tmp_path / "costs.png", split, title="costs"),
        plot_parameter_sensitivity(tmp_path / "grid.png", grid, x_values=[1, 2, 3, 4],
                                   y_values=[0.5, 0.6, 0.7], x_label="stop", y_label="conf",
                                   metric_label="Sharpe", title="grid"),
    ]  # fmt: skip
    assert all(_is_png(p) for p in images)
    table = selection_table_markdown(dsr, pbo)
    assert "| deflated Sharpe ratio |" in table and f"{pbo.pbo:.3f}" in table
    page = write_markdown_report(
        tmp_path, "synthetic", [ReportSection(p.stem, "text", p) for p in images]
        + [ReportSection("selection", table)], preface="**OUT-OF-SAMPLE**",
    )  # fmt: skip
    text = page.read_text()
    assert text.startswith("# synthetic\n\n**OUT-OF-SAMPLE**")
    for image in images:
        assert f"]({image.name})" in text
    assert "| probability of backtest overfitting |" in text


def test_no_report_legend_searches_its_best_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``loc="best"`` makes matplotlib test every point of every line against each legend
    place; on a loaded machine that passed its 1 s mark over the demo's stitched curves and
    its ``UserWarning`` failed the report where warnings are errors (the demo's last step in
    the test suite). Every report legend has a fixed place."""
    from matplotlib.legend import Legend

    def searched(self: Legend, *args: object, **kwargs: object) -> None:
        raise AssertionError(f"a legend searched its best position ({self.get_texts()[0]})")

    monkeypatch.setattr(Legend, "_find_best_position", searched)
    test_every_plot_writes_a_png_and_the_page_links_them(tmp_path)


def test_sensitivity_grid_shape_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"values must be \(2, 3\)"):
        plot_parameter_sensitivity(tmp_path / "x.png", np.zeros((3, 2)), x_values=[1, 2, 3],
                                   y_values=[1, 2], x_label="a", y_label="b", metric_label="m",
                                   title="t")  # fmt: skip


def test_empty_inputs_still_draw(tmp_path: Path) -> None:
    """A run with no trades gets pictures that say so, not a crash."""
    ts, ohlc, _ = _walk(50)
    none = TradeMarks(*(np.zeros(0) for _ in range(6)))  # type: ignore[arg-type]
    window = (int(ts[0]), int(ts[-1]))
    picture = plot_trades_on_price(tmp_path / "t.png", ts, ohlc, none, window=window, title="q")
    assert _is_png(picture)
    assert _is_png(plot_pnl_distribution(tmp_path / "p.png", [], title="quiet"))
    assert math.isnan(split_trade_pnl(side=[], quantity=[], entry_price=[], exit_price=[],
                                      entry_mid=[], exit_mid=[], commission=[])
                      .totals()["net_per_trade"])  # fmt: skip


@pytest.mark.parametrize("days", [1, 10])
def test_a_rolling_sharpe_of_too_few_days_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, days: int
) -> None:
    """The trader's report of a two-week run drew an empty 20-day rolling Sharpe titled 'above
    0 on nan% of days', on a time axis of 1 January 1970 when there was one day."""
    from nautilus_ai.experiments import report

    figures: list[object] = []
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.append(fig) or path)
    ts = T0 + np.arange(days, dtype=np.int64) * 1_440 * MINUTE
    equity = 100_000.0 + np.arange(days) * 10.0 * (-1.0) ** np.arange(days)
    plot_rolling_sharpe(tmp_path / "sharpe.png", ts, equity, title="short run")
    (ax,) = figures[0].axes  # type: ignore[attr-defined]
    assert "nan" not in ax.get_title() and ax.get_title().endswith("too few days")
    assert [t.get_text() for t in ax.texts] == [
        f"{days - 1} daily returns: a 20-day rolling Sharpe needs 20"
    ]
    left = np.datetime64(round(ax.get_xlim()[0] * 86_400e9), "ns")  # matplotlib day numbers
    assert left.astype("datetime64[D]") == np.datetime64("2017-01-02")


def test_a_sensitivity_map_without_any_defined_metric_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When no trial's metric is defined (no trade: no Sharpe ratio) the heat map was an empty
    frame with a colour bar, without a word."""
    from nautilus_ai.experiments import report

    figures: list[object] = []
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.append(fig) or path)
    plot_parameter_sensitivity(
        tmp_path / "grid.png", np.full((2, 3), np.nan), x_values=[1, 2, 3], y_values=[0.5, 0.6],
        x_label="stop", y_label="conf", metric_label="Sharpe", title="grid",
    )  # fmt: skip
    ax = figures[0].axes[0]  # type: ignore[attr-defined]
    assert [t.get_text() for t in ax.texts] == ["no Sharpe in any cell (no trial's is defined)"]
