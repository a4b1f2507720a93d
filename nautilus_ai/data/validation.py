"""Data-quality checks for bars and quotes, with a keep / flag / drop policy per check.

Checks: timestamps out of order and duplicated, gaps outside the FX weekly closure, crossed
(bid > ask) and locked (bid == ask) quotes, one-sample spikes, flat zero-volume candles and
OHLC-inconsistent bars. Each check has an action:

* ``keep``: rows stay; the report gives the count.
* ``flag``: rows stay; the report gives the count and examples, as a warning.
* ``drop``: rows are removed; the report gives the count and examples.

Nothing is removed unless its check says ``drop``, and every removal is counted in the report.
Out-of-order rows that are kept are sorted into place (stable), because a catalog needs time
order; the report says so. Gaps cannot be dropped (there is nothing to drop): keep or flag.
Everything here is vectorised numpy; the report is plain data (``to_dict``) or text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

from nautilus_ai.data.arrays import BarArrays, FloatArray, IntArray, QuoteArrays
from nautilus_ai.data.markethours import FX_CLOSURE_CLOCK, closed_ns_between
from nautilus_ai.timefmt import utc_millis

__all__ = [
    "BAR_POLICY",
    "QUOTE_POLICY",
    "Action",
    "CheckResult",
    "ValidationPolicy",
    "ValidationReport",
    "price_level_problem",
    "validate_bars",
    "validate_bid_ask_bars",
    "validate_quotes",
]

Action = Literal["keep", "flag", "drop"]
_ACTIONS = ("keep", "flag", "drop")
_MAX_EXAMPLES = 5
_NS = 1_000_000_000
Mask = npt.NDArray[np.bool_]
_T = TypeVar("_T", BarArrays, QuoteArrays)


@dataclass(frozen=True)
class ValidationPolicy:
    """What to do with each kind of problem, and the thresholds that define them.

    Parameters
    ----------
    out_of_order, duplicates, crossed, locked, spikes, flat, ohlc : {"keep", "flag", "drop"}
        Action per check (``crossed`` / ``locked`` apply to quotes, ``flat`` / ``ohlc`` to bars).
    gaps : {"keep", "flag"}
        Gaps cannot be dropped.
    gap_seconds : float
        A gap is a step between consecutive rows with more than this much OPEN-market time
        (the FX weekly closure is subtracted).
    spike_pips, spike_factor : float
        A spike is a one-sample excursion: the price (bar close, or quote mid) jumps by more than
        ``max(spike_pips, spike_factor x the series' median absolute step)`` and the next sample
        jumps most of the way back.
    closure_clock : str
        Clock of the weekly closure (Friday 17:00 to Sunday 17:00 in this clock).
    """

    out_of_order: Action = "drop"
    duplicates: Action = "drop"
    crossed: Action = "flag"
    locked: Action = "keep"
    spikes: Action = "flag"
    flat: Action = "keep"
    ohlc: Action = "drop"
    gaps: Literal["keep", "flag"] = "flag"
    gap_seconds: float = 30 * 60.0
    spike_pips: float = 30.0
    spike_factor: float = 20.0
    closure_clock: str = FX_CLOSURE_CLOCK

    def __post_init__(self) -> None:
        for name in ("out_of_order", "duplicates", "crossed", "locked", "spikes", "flat", "ohlc"):
            value = getattr(self, name)
            if value not in _ACTIONS:
                raise ValueError(
                    f"ValidationPolicy.{name} must be one of {_ACTIONS}, got {value!r}"
                )
        if self.gaps not in ("keep", "flag"):
            raise ValueError(f"ValidationPolicy.gaps must be 'keep' or 'flag', got {self.gaps!r}")
        if not self.gap_seconds > 0:
            raise ValueError(f"ValidationPolicy.gap_seconds must be > 0, got {self.gap_seconds}")
        if not self.spike_pips > 0:
            raise ValueError(f"ValidationPolicy.spike_pips must be > 0, got {self.spike_pips}")
        if not self.spike_factor > 0:
            raise ValueError(f"ValidationPolicy.spike_factor must be > 0, got {self.spike_factor}")

    def with_actions(self, **actions: str) -> ValidationPolicy:
        """A copy with some actions changed (validated)."""
        return replace(self, **actions)  # type: ignore[arg-type]


# Bars: a duplicate bar is the same minute twice, which a catalog cannot hold: drop (keep first).
BAR_POLICY = ValidationPolicy()
# Quotes: real feeds repeat millisecond timestamps (OANDA), so duplicates are flagged, not dropped.
QUOTE_POLICY = ValidationPolicy(duplicates="flag")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Parameters
    ----------
    name : str
        Check name.
    action : str
        ``keep``, ``flag``, ``drop`` (or ``sorted`` for kept out-of-order rows).
    count : int
        Rows (or gaps) found.
    dropped : int
        Rows removed because of this check.
    examples : tuple of str
        Up to five, with UTC timestamps.
    """

    name: str
    action: str
    count: int
    dropped: int
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "action": self.action,
            "count": self.count,
            "dropped": self.dropped,
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class ValidationReport:
    """What validation found and did. ``rows_out = rows_in - sum(dropped)``."""

    kind: str
    source: str
    rows_in: int
    rows_out: int
    first_ns: int | None
    last_ns: int | None
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def dropped(self) -> int:
        return sum(c.dropped for c in self.checks)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        """Checks with findings whose action is flag."""
        return tuple(c for c in self.checks if c.count and c.action == "flag")

    def check(self, name: str) -> CheckResult:
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(f"no check named {name!r} in this {self.kind} report")

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "source": self.source,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "dropped": self.dropped,
            "first": utc_millis(self.first_ns) if self.first_ns is not None else None,
            "last": utc_millis(self.last_ns) if self.last_ns is not None else None,
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        span = ""
        if self.first_ns is not None and self.last_ns is not None:
            span = f", {utc_millis(self.first_ns)} .. {utc_millis(self.last_ns)}"
        lines = [
            f"validation of {self.kind} from {self.source or '(arrays)'}: {self.rows_in} rows in, "
            f"{self.rows_out} out ({self.dropped} dropped){span}"
        ]
        for c in self.checks:
            done = {
                "drop": f"dropped {c.dropped}",
                "flag": "flagged, kept",
                "keep": "kept",
                "sorted": "kept, sorted into place",
            }[c.action]
            lines.append(f"  {c.name:<13} {c.count:>9}  {done}")
            lines.extend(f"      e.g. {e}" for e in c.examples)
        return "\n".join(lines)


#: Prices of every pair in the default pair table, in its own pips, lie in this range (EUR/USD
#: 0.8-1.6 is 8k-16k pips, USD/HKD ~78k, NZD/JPY 45-100 is 4.5k-10k, gold 250-5,000 is
#: 2.5k-50k). A file of another pair mislabelled across the JPY / non-JPY line is ~100x off.
PLAUSIBLE_PIPS = (1_000.0, 200_000.0)


def price_level_problem(prices: FloatArray, pip_size: float, what: str) -> str | None:
    """Why ``prices`` (a series' closes or bids) cannot be ``what`` (e.g. ``"EUR/USD.SIM"``)
    at a pip of ``pip_size``: their median outside :data:`PLAUSIBLE_PIPS`; None when plausible
    (or no finite price)."""
    finite = prices[np.isfinite(prices)]
    if finite.size == 0:
        return None
    median = float(np.median(finite))
    lo, hi = PLAUSIBLE_PIPS
    if lo <= median / pip_size <= hi:
        return None
    return (
        f"median price {median:g} is {median / pip_size:,.0f} pips of {pip_size:g}; {what} "
        f"trades at {lo * pip_size:g} - {hi * pip_size:g}: data of another instrument?"
    )


def _examples(ts: IntArray, mask: Mask, describe: list[str] | None = None) -> tuple[str, ...]:
    rows = np.flatnonzero(mask)[:_MAX_EXAMPLES]
    if describe is None:
        return tuple(f"row {r} at {utc_millis(int(ts[r]))}" for r in rows)
    return tuple(
        f"row {r} at {utc_millis(int(ts[r]))}: {d}" for r, d in zip(rows, describe, strict=False)
    )


class _Checker:
    """Collects results; applies drops at the end so every check sees the same rows."""

    def __init__(self, ts: IntArray) -> None:
        self.ts = ts
        self.drop = np.zeros(len(ts), dtype=bool)
        self.results: list[CheckResult] = []

    def add(self, name: str, action: str, mask: Mask, describe: list[str] | None = None) -> None:
        count = int(mask.sum())
        new = mask & ~self.drop if action == "drop" else np.zeros_like(mask)
        if action == "drop":
            self.drop |= mask
        examples = _examples(self.ts, mask, describe) if action != "keep" and count else ()
        self.results.append(CheckResult(name, action, count, int(new.sum()), examples))


def _order_checks(checker: _Checker, policy: ValidationPolicy) -> tuple[IntArray | None, Mask]:
    """Out-of-order and duplicate timestamps. Returns (sort order or None, duplicate mask)."""
    ts = checker.ts
    prior_max = np.maximum.accumulate(ts)
    out_of_order = np.zeros(len(ts), dtype=bool)
    out_of_order[1:] = ts[1:] < prior_max[:-1]
    order = None
    action: str = policy.out_of_order
    if out_of_order.any() and policy.out_of_order != "drop":
        order = np.argsort(ts, kind="stable")
        action = "sorted"
    checker.add("out_of_order", action, out_of_order)
    # Duplicates: same timestamp as an earlier kept row (after sorting / dropping disorder).
    considered = np.flatnonzero(~out_of_order) if order is None else order
    dup_sorted = np.zeros(len(considered), dtype=bool)
    dup_sorted[1:] = ts[considered[1:]] == ts[considered[:-1]]
    duplicates = np.zeros(len(ts), dtype=bool)
    duplicates[considered[dup_sorted]] = True
    checker.add("duplicates", policy.duplicates, duplicates)
    return order, duplicates


def _gap_check(
    checker: _Checker,
    policy: ValidationPolicy,
    valid: Mask,
    order: IntArray | None,
    interval_ns: int,
) -> None:
    """Report steps whose missing open-market time exceeds ``policy.gap_seconds``.

    Missing time = step - the normal interval (one bar length; 0 for ticks) - closure time.
    """
    ts = checker.ts
    index = np.flatnonzero(valid) if order is None else order[valid[order]]
    t = ts[index]
    steps = np.diff(t)
    threshold = int(policy.gap_seconds * _NS)
    candidates = np.flatnonzero(steps - interval_ns > threshold)
    open_ns = (
        steps[candidates]
        - interval_ns
        - closed_ns_between(t[candidates], t[candidates + 1], policy.closure_clock)
    )
    gaps = candidates[open_ns > threshold]
    describe = [
        f"{utc_millis(int(t[g]))} -> {utc_millis(int(t[g + 1]))} "
        f"({open_ns[open_ns > threshold][i] / 60e9:.0f} open-market minutes missing)"
        for i, g in enumerate(gaps[:_MAX_EXAMPLES])
    ]
    result_count = len(gaps)
    examples = tuple(describe) if policy.gaps == "flag" else ()
    checker.results.append(CheckResult("gaps", policy.gaps, result_count, 0, examples))


def _spike_mask(price: FloatArray, floor: float, factor: float) -> Mask:
    """One-sample excursions: a jump beyond the threshold and most of the way straight back.

    The threshold is ``max(floor, factor * median |step|)``, so it scales with the bar length
    (an hourly bar moves more than a tick). "Straight back" means the sample after the spike is
    closer to the sample before it than half the smaller jump: a real move that continues is not
    a spike.
    """
    mask = np.zeros(len(price), dtype=bool)
    if len(price) < 3:
        return mask
    step = np.diff(price)
    # The typical step is a scale estimate: a strided sample of <= 100k steps is plenty.
    sample = step[:: max(1, len(step) // 100_000)]
    moving = np.abs(sample[sample != 0])
    typical = float(np.median(moving)) if len(moving) else 0.0
    threshold = max(floor, factor * typical)
    first, second = step[:-1], step[1:]
    reverts = np.abs(first + second) < 0.5 * np.minimum(np.abs(first), np.abs(second))
    big = (np.abs(first) > threshold) & (np.abs(second) > threshold)
    mask[1:-1] = big & (np.sign(first) != np.sign(second)) & reverts
    return mask


def _bar_interval(ts: IntArray) -> int:
    """The bar length: the most common positive step between bar timestamps."""
    steps = np.diff(ts)
    steps = steps[steps > 0]
    if len(steps) == 0:
        return 0
    values, counts = np.unique(steps, return_counts=True)
    return int(values[np.argmax(counts)])


def _ohlc_bad(bars: BarArrays) -> Mask:
    o, h, low, c = bars.open, bars.high, bars.low, bars.close
    return np.asarray((h < low) | (h < np.maximum(o, c)) | (low > np.minimum(o, c)), dtype=bool)


def _flat(bars: BarArrays) -> Mask:
    o, h, low, c = bars.open, bars.high, bars.low, bars.close
    return np.asarray((o == h) & (h == low) & (low == c) & (bars.volume == 0), dtype=bool)


def _describe_bar(bars: BarArrays, rows: IntArray, label: str = "") -> list[str]:
    return [
        f"{label}o={bars.open[r]} h={bars.high[r]} l={bars.low[r]} c={bars.close[r]}"
        for r in rows[:_MAX_EXAMPLES]
    ]


def _bar_checks(
    bid: BarArrays, ask: BarArrays | None, policy: ValidationPolicy, pip_size: float
) -> tuple[_Checker, IntArray | None]:
    checker = _Checker(bid.ts_event)
    order, _ = _order_checks(checker, policy)
    ohlc = _ohlc_bad(bid)
    flat = _flat(bid)
    close = bid.close
    if ask is not None:
        ohlc = ohlc | _ohlc_bad(ask)
        flat = flat & _flat(ask)
        close = (bid.close + ask.close) * 0.5
    rows = np.flatnonzero(ohlc)
    describe = _describe_bar(bid, rows) if ask is None else _describe_bar(bid, rows, "bid ")
    checker.add("ohlc", policy.ohlc, ohlc, describe)
    checker.add("flat", policy.flat, flat)
    if ask is not None:
        crossed = bid.close > ask.close
        checker.add(
            "crossed",
            policy.crossed,
            crossed,
            [
                f"bid close {bid.close[r]} > ask close {ask.close[r]}"
                for r in np.flatnonzero(crossed)[:_MAX_EXAMPLES]
            ],
        )
        checker.add("locked", policy.locked, bid.close == ask.close)
    seq = order if order is not None else np.arange(len(bid))
    seq = seq[~checker.drop[seq]]
    spikes = np.zeros(len(bid), dtype=bool)
    spikes[seq] = _spike_mask(close[seq], policy.spike_pips * pip_size, policy.spike_factor)
    checker.add("spikes", policy.spikes, spikes)
    _gap_check(checker, policy, ~checker.drop, order, _bar_interval(bid.ts_event))
    return checker, order


def validate_bars(
    arrays: BarArrays,
    policy: ValidationPolicy = BAR_POLICY,
    *,
    pip_size: float,
    source: str = "",
) -> tuple[BarArrays, ValidationReport]:
    """Check bars and apply ``policy``.

    Parameters
    ----------
    arrays : BarArrays
        Bars in file order.
    policy : ValidationPolicy
        Actions and thresholds.
    pip_size : float
        Price of one pip (spike threshold unit).
    source : str
        Named in the report.

    Returns
    -------
    (BarArrays, ValidationReport)
        The bars to keep (time-ordered) and the report.
    """
    checker, order = _bar_checks(arrays, None, policy, pip_size)
    return _finish("bars", source, arrays, checker, order)


def validate_bid_ask_bars(
    bid: BarArrays,
    ask: BarArrays,
    policy: ValidationPolicy = BAR_POLICY,
    *,
    pip_size: float,
    source: str = "",
) -> tuple[BarArrays, BarArrays, ValidationReport]:
    """Check paired BID and ASK bars (same timestamps) and apply ``policy`` to both alike.

    Adds the quote checks on closes: crossed (bid close > ask close) and locked (equal). A row
    dropped for either side is dropped from both, so the pairs stay aligned (Nautilus' engine
    pairs BID and ASK bars by ``ts_init``).
    """
    if not np.array_equal(bid.ts_event, ask.ts_event):
        raise ValueError("BID and ASK bars must have identical timestamps, row for row")
    checker, order = _bar_checks(bid, ask, policy, pip_size)
    kept_bid, report = _finish("bid/ask bars", source, bid, checker, order)
    kept_ask, _ = _finish("bid/ask bars", source, ask, checker, order)
    return kept_bid, kept_ask, report


def validate_quotes(
    arrays: QuoteArrays,
    policy: ValidationPolicy = QUOTE_POLICY,
    *,
    pip_size: float,
    source: str = "",
) -> tuple[QuoteArrays, ValidationReport]:
    """Check quotes (ticks) and apply ``policy``; see :func:`validate_bars`."""
    checker = _Checker(arrays.ts_event)
    order, _ = _order_checks(checker, policy)
    bid, ask = arrays.bid, arrays.ask
    crossed = bid > ask
    checker.add(
        "crossed",
        policy.crossed,
        crossed,
        [f"bid {bid[r]} > ask {ask[r]}" for r in np.flatnonzero(crossed)[:_MAX_EXAMPLES]],
    )
    checker.add("locked", policy.locked, bid == ask)
    seq = order if order is not None else np.arange(len(arrays))
    seq = seq[~checker.drop[seq]]
    spikes = np.zeros(len(arrays), dtype=bool)
    spikes[seq] = _spike_mask(
        (bid[seq] + ask[seq]) * 0.5, policy.spike_pips * pip_size, policy.spike_factor
    )
    checker.add("spikes", policy.spikes, spikes)
    _gap_check(checker, policy, ~checker.drop, order, 0)
    return _finish("quotes", source, arrays, checker, order)


def _finish(
    kind: str, source: str, arrays: _T, checker: _Checker, order: IntArray | None
) -> tuple[_T, ValidationReport]:
    keep_rows = np.arange(len(arrays)) if order is None else order
    keep_rows = keep_rows[~checker.drop[keep_rows]]
    kept = arrays.take(keep_rows)
    ts = kept.ts_event
    report = ValidationReport(
        kind=kind,
        source=source,
        rows_in=len(arrays),
        rows_out=len(kept),
        first_ns=int(ts[0]) if len(ts) else None,
        last_ns=int(ts[-1]) if len(ts) else None,
        checks=tuple(checker.results),
    )
    return kept, report
