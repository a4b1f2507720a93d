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
