"""The precomputed path on a window that starts inside the catalog: the same decisions and
trades as the incremental path (both start cold at the window's first bar)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fixtures.strategy_engine import run_engine


def _fills(engine: Any) -> list[tuple[Any, ...]]:
    report = engine.trader.generate_fills_report()
    return [(int(r.ts_event.value), str(r.order_side), str(r.last_qty), str(r.last_px))
            for r in report.itertuples()]  # fmt: skip


def test_a_window_inside_the_catalog_trades_as_the_incremental_path(
    january_bars: tuple[Any, list[Any]], demo_catalog: Path
) -> None:
    instrument, bars = january_bars
    window = bars[4000:14000]  # bid and ask bars: two days in, about 3.5 days long
    runs = {}
    for source in ("precomputed", "incremental"):
        strategy, engine, _ = run_engine(
            instrument, window, feature_source=source, catalog_path=str(demo_catalog)
        )
        runs[source] = (strategy, _fills(engine))
        engine.dispose()
    (fast, fast_fills), (slow, slow_fills) = runs["precomputed"], runs["incremental"]
    assert fast.precomputed_fallbacks == 0
    assert fast_fills and fast_fills == slow_fills
    fast_d = [(d.ts_event, d.action, d.confidence, d.intent, d.quantity, d.reason)
              for d in fast.decisions]  # fmt: skip
    slow_d = [(d.ts_event, d.action, d.confidence, d.intent, d.quantity, d.reason)
              for d in slow.decisions]  # fmt: skip
    assert len(fast_d) > 1000 and fast_d == slow_d
    assert [t.realized_pnl for t in fast.trades] == [t.realized_pnl for t in slow.trades]


def _decisions(strategy: Any) -> list[tuple[Any, ...]]:
    return [(d.ts_event, d.action, d.confidence, d.intent, d.quantity, d.reason)
            for d in strategy.decisions]  # fmt: skip


def test_the_precompute_covers_the_run_not_the_catalog(
    january_bars: tuple[Any, list[Any]], demo_catalog: Path
) -> None:
    # The run's end bounds what is read and computed (a window early in a long catalog); an end
    # set before the run's last bar only moves the rest to incremental features: the same
    # decisions and fills as the incremental path either way.
    instrument, bars = january_bars
    window = bars[4000:14000]
    last_ns = max(b.ts_event for b in window)
    slow, engine, _ = run_engine(
        instrument, window, feature_source="incremental", catalog_path=str(demo_catalog)
    )
    slow_fills = _fills(engine)
    engine.dispose()
    for end_ns, fallbacks in ((last_ns, 0), (last_ns - 86_400 * 10**9, 1)):
        fast, engine, _ = run_engine(
            instrument, window, feature_source="precomputed", catalog_path=str(demo_catalog),
            precompute_end_time=end_ns,
        )  # fmt: skip
        fills = _fills(engine)
        assert fast.precomputed_fallbacks == fallbacks
        if fallbacks == 0:  # (the series is dropped when the engine is disposed)
            series = fast.precomputed
            assert series is not None and len(series) == len(window) // 2  # bid bars only
            assert series.ts[-1] == last_ns
        engine.dispose()
        assert fills and fills == slow_fills
        assert len(_decisions(fast)) > 1000 and _decisions(fast) == _decisions(slow)


def test_a_precompute_end_before_the_first_bar_runs_incrementally(
    january_bars: tuple[Any, list[Any]], demo_catalog: Path
) -> None:
    # A stale or mistyped end (before the run's first bar) leaves nothing to precompute: the
    # run continues bar by bar with the incremental path's decisions, it does not crash.
    instrument, bars = january_bars
    window = bars[4000:8000]
    runs = {}
    for source, end in (("incremental", None), ("precomputed", int(window[0].ts_event) - 60)):
        strategy, engine, _ = run_engine(
            instrument, window, feature_source=source, catalog_path=str(demo_catalog),
            precompute_end_time=end,
        )  # fmt: skip
        runs[source] = (_decisions(strategy), _fills(engine), strategy.precomputed_fallbacks)
        engine.dispose()
    assert runs["precomputed"][2] == 1 and runs["incremental"][2] == 0
    assert len(runs["precomputed"][0]) > 500 and runs["precomputed"][:2] == runs["incremental"][:2]
