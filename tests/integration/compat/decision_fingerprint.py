"""A fingerprint of the packaged demo's decisions and trades over the demo's 186,348 bars.

The same strategy config must decide the same on every supported NautilusTrader release: both
CI legs (1.221 on Python 3.11, 1.231 on 3.12) compare their run with ONE committed fingerprint
(``demo_fingerprint.json``). The fingerprint holds counts (bars, decisions per action, orders,
trades) and SHA-256 digests of every decision (time, action, intent, quantity, order sent,
reason, confidence and risk to 1e-9) and every trade (times, side, quantity, prices to 1e-9,
PnL to the cent), so a run that decided nothing, or anything else, cannot match it.

Regenerate (only for an intended change of the demo, and say why in the commit):
``python tests/integration/compat/decision_fingerprint.py CATALOG`` with the demo catalog.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

FINGERPRINT_FILE = Path(__file__).with_name("demo_fingerprint.json")


def _digest(rows: list[str]) -> str:
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def fingerprint(outcome: Any) -> dict[str, Any]:
    """The fingerprint of a :class:`~nautilus_ai.backtest.runner.BacktestOutcome`."""
    decisions = outcome.decisions
    trades = outcome.trades
    summary = outcome.summary
    return {
        "bars": int(summary.bars),
        "decisions": len(decisions),
        "decisions_by_action": dict(sorted(Counter(d.action for d in decisions).items())),
        "orders_sent": int(sum(d.order_sent for d in decisions)),
        "decisions_sha256": _digest(
            [
                f"{d.ts_event}|{d.action}|{d.intent}|{d.quantity:.6f}|{d.order_sent}|{d.reason}|"
                f"{d.confidence:.9f}|{d.risk_score:.9f}"
                for d in decisions
            ]
        ),
        "orders": int(summary.orders),
        "trades": len(trades),
        "pnl": round(float(sum(t.realized_pnl for t in trades)), 2),
        "trades_sha256": _digest(
            [
                f"{t.ts_opened}|{t.ts_closed}|{t.side}|{t.quantity:.2f}|{t.avg_px_open:.9f}|"
                f"{t.avg_px_close:.9f}|{t.realized_pnl:.2f}|{t.exit_reason}"
                for t in trades
            ]
        ),
    }


def run_demo(catalog: str | Path, report_dir: str | Path) -> Any:
    """The packaged demo run file on ``catalog``, Jan-Jun 2017, no report folder."""
    from nautilus_ai.backtest.runner import run_backtest
    from nautilus_ai.workflows.oos import packaged_run_file, window_run_file

    run_file = window_run_file(
        packaged_run_file("demo"),
        name="demo-fingerprint",
        sample="in-sample",
        catalog_path=catalog,
        report_dir=report_dir,
    )
    return run_backtest(run_file, write=False)


def main(argv: list[str]) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as reports:
        print_ = fingerprint(run_demo(argv[1], reports))
    FINGERPRINT_FILE.write_text(json.dumps(print_, indent=2) + "\n")
    print(json.dumps(print_, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
