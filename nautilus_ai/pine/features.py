"""The feature vector in Pine v6: ``ta.*`` and Pine's time functions, for a given FeatureSpec.

Every feature of :mod:`nautilus_ai.features` becomes one Pine variable ``f_<name>`` computed from
the spec's parameters (never hard-coded defaults), with the same NaN warm-up (``na`` before
``spec.defined_from[name]``) and the same edge cases (flat bars, ATR 0, flat Bollinger bands).

Two choices keep the Pine numbers equal to the Python ones to ~1e-11 after warm-up:

* **Power-of-two price scaling.** The price-level ``ta.*`` calls (ATR, MACD, Bollinger, EMA) run
  on ``close * 2^20`` (and ``ta.tr(true) * 2^20``) and the results are divided by ``2^20``.
  Multiplying by a power of two is exact in IEEE arithmetic and commutes with every step of those
  recursions, so on TradingView the numbers are bit-for-bit those of the unscaled calls. PineTS
  rounds every ``ta.*`` output (and every ``:=``) to 10 decimals; on 1-minute EUR/USD an ATR of
  2e-5 then carries a relative error of 2.5e-6, enough to move ``range_atr`` and the EMA
  distances by ~5e-6 and to create false ties in ``ta.percentrank``. Scaled, the rounding falls
  below one ulp of the numbers involved.
* ``ATR = ta.rma(ta.tr(true), n)``: TradingView's own definition of ``ta.atr(n)``, written out so
  the true range can be scaled. ``ta.tr(true)`` is ``high - low`` on the first bar, as in Python.

Sessions read the local wall clock of the bar close with ``hour(time_close, tz)`` /
``minute(time_close, tz)``: the IANA zone argument gives each city's DST on TradingView (and in
PineTS, through node's ICU time zone data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nautilus_ai.features.spec import SESSION_TIMEZONES, FeatureSpec
from nautilus_ai.features.ticks import PINE_UNSUPPORTED_TICK_FEATURES
from nautilus_ai.pine.literals import pine_float, pine_string

__all__ = [
    "PRICE_SCALE",
    "PineFeatureCode",
    "check_pine_computable",
    "feature_variable",
    "pine_features",
]

#: 2^20: the exact price scale used around the price-level ``ta.*`` calls (see module doc).
PRICE_SCALE = 1048576.0
_S = "NAI_PX"


def feature_variable(name: str) -> str:
    """Pine variable holding feature ``name`` (``f_<name>``)."""
    return f"f_{name}"


@dataclass(frozen=True)
class PineFeatureCode:
    """Pine statements computing a spec's features.

    Parameters
    ----------
    lines : tuple of str
        Top-level Pine statements (no indentation), comments included.
    variables : mapping of str to str
        Feature name -> Pine variable, in ``spec.names`` order.
    """

    lines: tuple[str, ...]
    variables: Mapping[str, str]


def pine_features(spec: FeatureSpec) -> PineFeatureCode:
    """Pine v6 statements computing every feature of ``spec`` into ``f_<name>``.

    The statements use ``high``, ``low``, ``open``, ``close``, ``time_close`` and
    ``bar_index`` (counted from the first chart bar, as the Python index counts accepted bars).
    """
    lines: list[str] = [
        f"// ---- Features: FeatureSpec v{spec.version}, hash {spec.hash} "
        f"({len(spec.names)} features, warm from bar {spec.warmup_bars - 1})",
        "// Price-level ta.* calls run on prices x 2^20 and are scaled back: exact on TradingView,",
        "// and it keeps PineTS's 10-decimal rounding of ta.* outputs out of the numbers.",
        f"float {_S} = {pine_float(PRICE_SCALE)}",
        "float nai_rng = high - low",
    ]
    for part in (
        _atr_lines,
        _return_lines,
        _candle_lines,
        _rsi_lines,
        _macd_lines,
        _bollinger_lines,
        _ema_lines,
        _calendar_lines,
        _session_lines,
        _volatility_lines,
        _warm_lines,
    ):
        lines.extend(part(spec))
    if spec.tick_names:
        lines.append(
            f"// Not exported: the tick features {', '.join(spec.tick_names)} of spec "
            f"v{spec.version} (Pine sees bars, not quote ticks)"
        )
    variables = {name: feature_variable(name) for name in spec.names}
    return PineFeatureCode(lines=tuple(lines), variables=variables)


def check_pine_computable(feature_names: Sequence[str], *, owner: str) -> None:
    """Refuse, in one line, a model that reads a feature Pine cannot compute (the tick block).

    Raises
    ------
    ValueError
        Names ``owner``, the first such feature and why Pine cannot compute it.
    """
    for name in feature_names:
        why = PINE_UNSUPPORTED_TICK_FEATURES.get(name)
        if why is not None:
            raise ValueError(
                f"{owner} reads {name!r}, which Pine cannot compute ({why}); "
                "tick features cannot be exported to Pine"
            )


# Each part below returns the statements of one group; the parity check exists to prove they
# equal the Python definitions (nautilus_ai/features/vectorised.py).


def _atr_lines(spec: FeatureSpec) -> list[str]:
    n = spec.atr_period
    return [
        f"// ATR({n}) = ta.rma(ta.tr(true), {n}), scaled",
        f"float nai_atr_s = ta.rma(ta.tr(true) * {_S}, {n})",
        f"float nai_atr = nai_atr_s / {_S}",
        "float f_range_atr = na(nai_atr_s) ? na : nai_atr_s == 0 ? 0.0 : nai_rng / nai_atr",
        "float f_atr_close = nai_atr / close",
    ]


def _return_lines(spec: FeatureSpec) -> list[str]:
    return [f"float f_ret_{k} = math.log(close / close[{k}])" for k in spec.return_lags]


def _candle_lines(spec: FeatureSpec) -> list[str]:
    return [
        "float f_body_ratio = nai_rng > 0 ? (close - open) / nai_rng : 0.0",
        "float f_upper_wick_ratio = nai_rng > 0 ? (high - math.max(open, close)) / nai_rng : 0.0",
        "float f_lower_wick_ratio = nai_rng > 0 ? (math.min(open, close) - low) / nai_rng : 0.0",
    ]


def _rsi_lines(spec: FeatureSpec) -> list[str]:
    return [f"float f_rsi = ta.rsi(close, {spec.rsi_period}) / 100"]


def _macd_lines(spec: FeatureSpec) -> list[str]:
    return [
        "[nai_macd_s, nai_signal_s, nai_hist_s] = "
        f"ta.macd(close * {_S}, {spec.macd_fast}, {spec.macd_slow}, {spec.macd_signal})",
        f"float f_macd_line = nai_macd_s / {_S} / close",
        f"float f_macd_signal = nai_signal_s / {_S} / close",
        f"float f_macd_hist = nai_hist_s / {_S} / close",
    ]


def _bollinger_lines(spec: FeatureSpec) -> list[str]:
    tol = pine_float(spec.bb_flat_tolerance)
    return [
        "[nai_bb_mid_s, nai_bb_up_s, nai_bb_lo_s] = "
        f"ta.bb(close * {_S}, {spec.bb_period}, {pine_float(spec.bb_mult)})",
        "float nai_bb_w_s = nai_bb_up_s - nai_bb_lo_s",
        f"bool nai_bb_flat = nai_bb_w_s <= {tol} * nai_bb_mid_s",
        f"float f_bb_pct_b = na(nai_bb_w_s) ? na : nai_bb_flat ? 0.5 : "
        f"(close * {_S} - nai_bb_lo_s) / nai_bb_w_s",
        "float f_bb_bandwidth = na(nai_bb_w_s) ? na : nai_bb_flat ? 0.0 : "
        "nai_bb_w_s / nai_bb_mid_s",
    ]


def _ema_lines(spec: FeatureSpec) -> list[str]:
    lines = []
    for n in spec.ema_periods:
        lines += [
            f"float nai_ema{n}_s = ta.ema(close * {_S}, {n})",
            f"float f_ema{n}_dist_atr = na(nai_ema{n}_s) or na(nai_atr_s) ? na : "
            f"nai_atr_s == 0 ? 0.0 : (close * {_S} - nai_ema{n}_s) / nai_atr_s",
        ]
    return lines


def _calendar_lines(spec: FeatureSpec) -> list[str]:
    return [
        "// Calendar: UTC minute of the day and weekday (Monday = 0) of the bar CLOSE time",
        'int nai_utc_minute = hour(time_close, "UTC") * 60 + minute(time_close, "UTC")',
        'int nai_utc_dow = (dayofweek(time_close, "UTC") + 5) % 7',
        "float f_hour_sin = math.sin(2 * math.pi * nai_utc_minute / 1440)",
        "float f_hour_cos = math.cos(2 * math.pi * nai_utc_minute / 1440)",
        "float f_dow_sin = math.sin(2 * math.pi * nai_utc_dow / 7)",
        "float f_dow_cos = math.cos(2 * math.pi * nai_utc_dow / 7)",
    ]


def _session_lines(spec: FeatureSpec) -> list[str]:
    lines = ["// Sessions: local wall clock of the bar close in each city (DST from the time zone)"]
    hours = {
        "sydney": spec.session_sydney_hours,
        "tokyo": spec.session_tokyo_hours,
        "london": spec.session_london_hours,
        "new_york": spec.session_new_york_hours,
    }
    for city, zone in SESSION_TIMEZONES.items():
        start, end = hours[city]
        tz = pine_string(zone)
        local = f"nai_lm_{city}"
        lo, hi = start * 60, end * 60
        inside = (
            f"{local} >= {lo} and {local} < {hi}"
            if lo < hi
            else f"{local} >= {lo} or {local} < {hi}"
        )
        lines += [
            f"int {local} = hour(time_close, {tz}) * 60 + minute(time_close, {tz})",
            f"float f_session_{city} = {inside} ? 1.0 : 0.0  "
            f"// [{start:02d}:00, {end:02d}:00) {zone}",
        ]
    lines.append(
        "float f_session_overlap = f_session_london == 1.0 and f_session_new_york == 1.0 ? "
        "1.0 : 0.0"
    )
    return lines


def _volatility_lines(spec: FeatureSpec) -> list[str]:
    first = spec.defined_from["vol_pct_rank"]
    low, high = pine_float(spec.vol_regime_low), pine_float(spec.vol_regime_high)
    return [
        f"// vol_pct_rank: share of the previous {spec.vol_rank_window} ATRs <= this one; defined "
        f"from bar {first} (once {spec.vol_rank_window} previous ATRs exist)",
        f"float nai_vol_rank = ta.percentrank(nai_atr_s, {spec.vol_rank_window}) / 100",
        f"float f_vol_pct_rank = bar_index < {first} ? na : nai_vol_rank",
        f"float f_vol_regime = na(f_vol_pct_rank) ? na : f_vol_pct_rank < {low} ? -1.0 : "
        f"f_vol_pct_rank > {high} ? 1.0 : 0.0",
    ]


def _warm_lines(spec: FeatureSpec) -> list[str]:
    return [f"float f_warm = bar_index >= {spec.warmup_bars - 1} ? 1.0 : 0.0"]
