"""Sizer speed: ``size_position`` per call on the paths a strategy hits.

Run: ``.venv/bin/python -m benchmarks.bench_sizing``. Figures are microseconds per call, the best
of 5 repeats (the box is shared and noisy).
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.bench_models import per_call_us


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_sizing")
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args(argv)

    from nautilus_ai.sizing import SizingConfig, SizingInputs, size_position

    full = SizingConfig(
        target_volatility=1.5e-4,
        max_position=1_000_000.0,
        kelly_multiplier=0.5,
        kelly_min_trades=10,
    )
    default = SizingConfig()
    inputs = SizingInputs(
        side=1,
        confidence=0.8,
        risk_score=0.3,
        price=1.0832,
        equity=100_000.0,
        peak_equity=104_000.0,
        free_margin=80_000.0,
        current_position=10_000.0,
        vol_regime=1,
        volatility=1.8e-4,
        risk_multiplier=1.0,
        win_rate=0.55,
        payoff_ratio=1.2,
        trades=40,
    )
    below = inputs._replace(confidence=0.3)
    decision = size_position(inputs, full)
    assert decision.quantity > 0 and len(decision.raw_steps) == 13, decision.to_dict()

    n = args.calls
    rows = [
        ("size_position, every step active (13 steps)", lambda: size_position(inputs, full)),
        ("size_position, default config", lambda: size_position(inputs, default)),
        ("size_position, blocked below min_confidence", lambda: size_position(below, full)),
        (
            "SizingInputs(...) construction",
            lambda: SizingInputs(1, 0.8, 0.3, 1.0832, 1e5, 1.04e5, 8e4),
        ),
        ("SizingDecision.to_dict()", decision.to_dict),
        ("SizingDecision.steps (named tuples)", lambda: decision.steps),
    ]
    for label, fn in rows:
        print(f"{label:48s} {per_call_us(fn, n):7.2f} us/call")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
