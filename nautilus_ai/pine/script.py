"""Assemble a Pine Script v6 ``strategy()`` from a feature spec and an embedded model.

Layout of the generated script (top to bottom):

1. ``//@version=6`` and a header naming the model card, the feature spec hash, the export date,
   the embedding (exact / distilled with its fidelity) and a warning that the strategy has no
   proven edge.
2. ``strategy(...)`` with ``process_orders_on_close=true``: orders fill at the close of the bar
   that decided them, as market orders do in the Nautilus backtest.
3. Inputs: confidence threshold, position management, ATR exits and the confidence sizer.
4. Features (:mod:`nautilus_ai.pine.features`), 5. the model (:mod:`nautilus_ai.pine.embed`).
6. Policy and orders, mirroring :func:`nautilus_ai.policy.decide` and
   ``strategies/ai_pattern.py``: market entries, a bracket at ``stop_loss_atr`` /
   ``take_profit_atr`` x ATR from the entry bar's close, reversal (or exit) on an opposite
   signal, ``max_holding_bars``, optional exit on hold.
7. Plots: every feature plus ``signal`` / ``action`` / ``confidence`` / ``risk`` in the data
   window (what the parity check reads), and signal markers on the chart.

The sizer mirrors :func:`nautilus_ai.sizing.size_position` steps 1-6 and 8-13 (confidence,
risk, regime, target volatility, drawdown throttle, runtime multiplier, units, position and
equity-share caps, lot step, minimum size). Not mirrored: the Kelly cap (it needs the live
model's trade statistics) and the free-margin cap (set ``margin_long`` / ``margin_short`` in the
strategy properties instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from nautilus_ai.bar_types import bar_period_ns, format_period
from nautilus_ai.features.spec import FeatureSpec
from nautilus_ai.pine.embed import EmbeddedModel
from nautilus_ai.pine.features import pine_features
from nautilus_ai.pine.literals import pine_float, pine_string
from nautilus_ai.policy import PolicyConfig
from nautilus_ai.sizing import SizingConfig

__all__ = [
    "MAX_PLOTS",
    "SIGNAL_PLOTS",
    "StrategyOptions",
    "build_script",
    "chart_seconds",
]

#: TradingView's limit on plot() / plotshape() calls per script.
MAX_PLOTS = 64
#: Plot titles carrying the model's output (besides one plot per feature).
SIGNAL_PLOTS = ("signal", "action", "confidence", "risk", "quantity", "equity")
_MARKERS = 2  # plotshape() markers for buy / sell signals
NO_EDGE_WARNING = (
    "WARNING: this strategy has NO PROVEN EDGE. It reproduces a research model for inspection",
    "and paper trading. TradingView backtests over data the model was trained or selected on are",
    "in-sample. Not investment advice: validate out of sample before risking money.",
)


def chart_seconds(bar_type: str | None) -> int | None:
    """The chart timeframe (s) a model fitted on ``bar_type`` is guarded to; ``None`` when no
    bar type is recorded or it is no time bar of whole seconds (a tick or volume bar has no
    chart timeframe to guard)."""
    ns = bar_period_ns(bar_type) if bar_type else None
    return None if ns is None or ns % 1_000_000_000 else ns // 1_000_000_000


@dataclass(frozen=True)
class StrategyOptions:
    """Defaults of the exported strategy's inputs (every one is editable on TradingView).

    Parameters
    ----------
    min_confidence : float
        Signals below this confidence are no signal (``AIPatternConfig.min_confidence``).
    reverse_on_opposite, exit_on_hold, max_holding_bars
        Position management (:class:`nautilus_ai.policy.PolicyConfig`).
    stop_loss_atr, take_profit_atr : float or None
        Bracket distances in ATRs from the entry bar's close; ``None`` for none.
    sizing : SizingConfig
        Sizer settings (its ``min_confidence`` is ignored: ``min_confidence`` above wins).
    initial_capital : float
        ``strategy(initial_capital=...)`` in the account currency.
    title : str or None
        Strategy title; default ``"nautilus-ai <model id>"``.
    """

    min_confidence: float = 0.55
    reverse_on_opposite: bool = True
    exit_on_hold: bool = False
    max_holding_bars: int | None = None
    stop_loss_atr: float | None = 2.0
    take_profit_atr: float | None = 3.0
    sizing: SizingConfig = field(default_factory=SizingConfig)
    initial_capital: float = 100_000.0
    title: str | None = None

    def __post_init__(self) -> None:
        PolicyConfig(
            min_confidence=self.min_confidence,
            reverse_on_opposite=self.reverse_on_opposite,
            exit_on_hold=self.exit_on_hold,
            max_holding_bars=self.max_holding_bars,
        )
        for name in ("stop_loss_atr", "take_profit_atr"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"StrategyOptions.{name} must be > 0 or None, was {value!r}")
        if not self.initial_capital > 0:
            raise ValueError(
                f"StrategyOptions.initial_capital must be > 0, was {self.initial_capital!r}"
            )


def build_script(
    spec: FeatureSpec,
    model: EmbeddedModel,
    options: StrategyOptions,
    *,
    exported_at: datetime | None = None,
    version: str = "",
    bar_type: str | None = None,
) -> str:
    """The whole Pine v6 strategy as text (ends with a newline).

    With the ``bar_type`` the model was fitted on (a time bar) the script stops with a runtime
    error on a chart of another timeframe (features and model were fitted on those bars: on
    1-hour bars a 1-minute model's signals mean something else), unless the user ticks the
    input that allows it.

    Raises
    ------
    ValueError
        More plots than TradingView allows (``MAX_PLOTS``) for this spec.
    """
    plots = len(spec.names) + len(SIGNAL_PLOTS) + _MARKERS
    if plots > MAX_PLOTS:
        raise ValueError(
            f"the spec has {len(spec.names)} features: {plots} plots exceed TradingView's "
            f"limit of {MAX_PLOTS}"
        )
    when = (exported_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    title = options.title or f"nautilus-ai {model.model_id}"
    features = pine_features(spec)
    lines = [
        "//@version=6",
        *_header(spec, model, options, when, version, bar_type),
        f'strategy({pine_string(title)}, shorttitle="nautilus-ai", overlay=true, '
        f"pyramiding=0, process_orders_on_close=true, "
        f"initial_capital={pine_float(options.initial_capital)}, "
        "default_qty_type=strategy.fixed, default_qty_value=1)",
        "",
        *_inputs(options),
        "",
        *_timeframe_guard(bar_type),
        *features.lines,
        "",
        *model.lines,
        "",
        *_policy(),
        "",
        *_plots(spec),
    ]
    return "\n".join(lines) + "\n"


def _header(
    spec: FeatureSpec,
    model: EmbeddedModel,
    options: StrategyOptions,
    when: datetime,
    version: str,
    bar_type: str | None,
) -> list[str]:
    rule = "// " + "=" * 96
    exits = (
        ", ".join(
            f"{label} {value!r} x ATR({spec.atr_period})"
            for label, value in (
                ("stop-loss", options.stop_loss_atr),
                ("take-profit", options.take_profit_atr),
            )
            if value is not None
        )
        or "no ATR exits"
    )
    policy = (
        f"min confidence {options.min_confidence!r}; "
        + ("reverse" if options.reverse_on_opposite else "exit")
        + " on an opposite signal; "
        + (f"max {options.max_holding_bars} bars held; " if options.max_holding_bars else "")
        + ("exit on hold; " if options.exit_on_hold else "")
        + exits
    )
    lines = [
        rule,
        f"// nautilus-ai Pine Script export - strategy for {model.model_id}",
        *(f"// {text}" for text in model.description),
        f"// Feature spec: hash {spec.hash} (FeatureSpec v{spec.version}, {len(spec.names)} "
        f"features, every one defined from bar {spec.warmup_bars - 1})",
        f"// Exported: {when.isoformat().replace('+00:00', 'Z')} by nautilus-ai {version} "
        "(nautilus-ai export-pine)".replace("  ", " "),
        f"// Policy defaults: {policy}",
        (
            f"// Bars: fitted on {bar_type}; on another chart timeframe the script "
            f"stops (input 'Run on another timeframe' overrides)"
            if chart_seconds(bar_type) is not None
            else "// Bars: the model's bar type is not recorded: no timeframe guard (use the "
            "timeframe it was fitted on)"
        ),
        "//",
        *(f"// {text}" for text in NO_EDGE_WARNING),
        rule,
    ]
    return lines


def _timeframe_guard(bar_type: str | None) -> list[str]:
    seconds = chart_seconds(bar_type)
    if seconds is None:
        return []
    period = format_period(seconds * 1_000_000_000)
    message = (
        f"nautilus-ai: this model was fitted on {period} bars ({bar_type}); the "
        "chart's timeframe is "
    )
    remedy = f": switch the chart to {period}, or tick 'Run on another timeframe' to run it anyway"
    return [
        f"// ---- Timeframe guard: the features and the model were fitted on {period} bars",
        f'i_any_timeframe = input.bool(false, "Run on another timeframe than {period}", '
        'group="Signal", tooltip="the signals were fitted on this bar length; on another '
        'timeframe they mean something else")',
        f"if barstate.isfirst and not i_any_timeframe and timeframe.in_seconds() != {seconds}",
        f"    runtime.error({pine_string(message)} + timeframe.period + {pine_string(remedy)})",
        "",
    ]


def _inputs(options: StrategyOptions) -> list[str]:
    s = options.sizing
    fl = pine_float

    def optional(value: float | None) -> str:
        return fl(value) if value is not None else "0.0"

    sl = optional(options.stop_loss_atr)
    tp = optional(options.take_profit_atr)
    return [
        "// ---- Inputs (defaults = the exported configuration)",
        f'i_min_conf = input.float({fl(options.min_confidence)}, "Min confidence", minval=0.0, '
        'maxval=1.0, step=0.01, group="Signal", tooltip="buy/sell below this confidence '
        'count as no signal")',
        f"i_reverse = input.bool({str(options.reverse_on_opposite).lower()}, "
        '"Reverse on an opposite signal (else exit)", group="Signal")',
        f"i_exit_on_hold = input.bool({str(options.exit_on_hold).lower()}, "
        '"Exit when there is no signal", group="Signal")',
        f'i_max_hold = input.int({options.max_holding_bars or 0}, "Max holding bars (0 = no '
        'limit)", minval=0, group="Signal")',
        f'i_sl_atr = input.float({sl}, "Stop-loss, x ATR (0 = none)", minval=0.0, step=0.1, '
        'group="Exits")',
        f'i_tp_atr = input.float({tp}, "Take-profit, x ATR (0 = none)", minval=0.0, '
        'step=0.1, group="Exits")',
        'i_sizing = input.string("Confidence", "Sizing", options=["Confidence", "Fixed"], '
        'group="Sizing")',
        f'i_fixed_qty = input.float({fl(s.min_quantity)}, "Fixed quantity (units)", '
        'minval=0.0, group="Sizing")',
        f'i_base_fraction = input.float({fl(s.base_fraction)}, "Exposure at min confidence '
        '(x equity)", minval=0.0, group="Sizing")',
        f'i_full_fraction = input.float({fl(s.full_fraction)}, "Exposure at confidence 1 '
        '(x equity)", minval=0.0, group="Sizing")',
        f'i_conf_exponent = input.float({fl(s.confidence_exponent)}, "Confidence exponent", '
        'minval=0.01, group="Sizing")',
        f'i_risk_weight = input.float({fl(s.risk_weight)}, "Risk weight", minval=0.0, '
        'maxval=1.0, group="Sizing")',
        f'i_regime_low = input.float({fl(s.regime_low_multiplier)}, "Low-volatility '
        'multiplier", minval=0.0, group="Sizing")',
        f'i_regime_normal = input.float({fl(s.regime_normal_multiplier)}, "Normal-volatility '
        'multiplier", minval=0.0, group="Sizing")',
        f'i_regime_high = input.float({fl(s.regime_high_multiplier)}, "High-volatility '
        'multiplier", minval=0.0, group="Sizing")',
        f'i_target_vol = input.float({optional(s.target_volatility)}, "Target ATR/close '
        '(0 = off)", minval=0.0, group="Sizing")',
        f'i_vol_scale_min = input.float({fl(s.volatility_scale_min)}, "Volatility scale min", '
        'minval=0.0, group="Sizing")',
        f'i_vol_scale_max = input.float({fl(s.volatility_scale_max)}, "Volatility scale max", '
        'minval=0.0, group="Sizing")',
        f'i_dd_start = input.float({fl(s.drawdown_throttle_start)}, "Drawdown throttle start", '
        'minval=0.0, maxval=1.0, group="Sizing")',
        f'i_max_dd = input.float({fl(s.max_drawdown)}, "Max drawdown (stop trading)", '
        'minval=0.0, maxval=1.0, group="Sizing")',
        f'i_dd_exponent = input.float({fl(s.drawdown_exponent)}, "Drawdown exponent", '
        'minval=0.01, group="Sizing")',
        'i_risk_mult = input.float(1.0, "Risk multiplier", minval=0.0, group="Sizing")',
        f'i_max_position = input.float({optional(s.max_position)}, "Max position, units '
        '(0 = none)", minval=0.0, group="Sizing")',
        f'i_max_share = input.float({optional(s.max_equity_share)}, "Max notional / equity '
        '(0 = none)", minval=0.0, group="Sizing")',
        f'i_lot_step = input.float({fl(s.lot_step)}, "Lot step, units", minval=0.000001, '
        'group="Sizing")',
        f'i_min_qty = input.float({fl(s.min_quantity)}, "Minimum order, units", minval=0.0, '
        'group="Sizing")',
    ]


def _policy() -> list[str]:
    return [
        "// ---- Sizing (nautilus_ai.sizing.size_position; Kelly and free-margin caps not "
        "mirrored)",
        "nai_size(float conf, float risk, float regime, float vol, float equity, float peak) =>",
        "    float u = (conf - i_min_conf) / (1.0 - i_min_conf)",
        "    float f = i_base_fraction + (i_full_fraction - i_base_fraction) * "
        "(i_conf_exponent == 1.0 ? u : math.pow(u, i_conf_exponent))",
        "    f := f * conf * (1.0 - i_risk_weight * risk)",
        "    f := f * (regime > 0.5 ? i_regime_high : regime < -0.5 ? i_regime_low : "
        "i_regime_normal)",
        "    if i_target_vol > 0",
        "        f := f * (vol <= 0 ? i_vol_scale_max : math.min(math.max(i_target_vol / vol, "
        "i_vol_scale_min), i_vol_scale_max))",
        "    float dd = peak <= equity ? 0.0 : 1.0 - equity / peak",
        "    f := dd >= i_max_dd ? 0.0 : dd <= i_dd_start ? f : "
        "f * math.pow((i_max_dd - dd) / (i_max_dd - i_dd_start), i_dd_exponent)",
        "    f := f * i_risk_mult",
        "    float q = equity > 0 and f > 0 ? equity * f / close : 0.0",
        "    if i_max_position > 0",
        "        q := math.min(q, i_max_position)",
        "    if i_max_share > 0",
        "        q := math.min(q, i_max_share * equity / close)",
        "    float lots = math.floor(q / i_lot_step + 1e-9)",
        "    lots := lots * i_lot_step > q ? lots - 1 : lots",
        "    q := lots * i_lot_step",
        "    conf < i_min_conf or q < i_min_qty or q <= 0 ? 0.0 : q",
        "",
        "// ---- Policy (nautilus_ai.policy.decide) and orders (strategies/ai_pattern.py).",
        "// Flat conditions, no nested blocks: the same decisions, easier to audit.",
        "int signal = m_confidence >= i_min_conf ? m_action : 0",
        "int pos_side = strategy.position_size > 0 ? 1 : strategy.position_size < 0 ? -1 : 0",
        "var int nai_entry_bar = 0",
        "var float nai_peak_equity = 0.0",
        "float nai_atr_px = f_atr_close * close  // ATR in price, as the Python strategy reads it",
        "bool nai_live = f_warm == 1.0",
        "bool nai_timed_out = nai_live and pos_side != 0 and i_max_hold > 0 and "
        "bar_index - nai_entry_bar >= i_max_hold",
        "bool nai_act = nai_live and not nai_timed_out",
        "bool nai_want_entry = nai_act and signal != 0 and signal != pos_side and "
        "(pos_side == 0 or i_reverse)",
        "bool nai_want_exit = nai_act and pos_side != 0 and ((signal == 0 and i_exit_on_hold) or "
        "(signal == -pos_side and not i_reverse))",
        "if nai_want_entry",
        "    nai_peak_equity := math.max(nai_peak_equity, strategy.equity)",
        'float nai_qty = not nai_want_entry ? 0.0 : i_sizing == "Fixed" ? i_fixed_qty : '
        "nai_size(m_confidence, m_risk, f_vol_regime, f_atr_close, strategy.equity, "
        "nai_peak_equity)",
        "bool nai_enter = nai_want_entry and nai_qty > 0",
        "// an opposite signal sized to zero still closes the position (Python: REVERSE -> EXIT)",
        "bool nai_exit = nai_want_exit or (nai_want_entry and not nai_enter and pos_side != 0)",
        'string nai_entry_id = signal > 0 ? "Long" : "Short"',
        "if nai_timed_out",
        '    strategy.close_all(comment="max_holding")',
        "if nai_exit",
        '    strategy.close_all(comment="signal_exit")',
        "if nai_enter",
        "    strategy.cancel_all()",
        "    strategy.entry(nai_entry_id, signal > 0 ? strategy.long : strategy.short, "
        'qty=nai_qty, comment=pos_side == 0 ? "enter" : "reversal")',
        "    nai_entry_bar := bar_index",
        "float nai_stop = i_sl_atr > 0 ? close - signal * i_sl_atr * nai_atr_px : na",
        "float nai_limit = i_tp_atr > 0 ? close + signal * i_tp_atr * nai_atr_px : na",
        "if nai_enter and nai_atr_px > 0 and (i_sl_atr > 0 or i_tp_atr > 0)",
        '    strategy.exit(nai_entry_id + " exit", from_entry=nai_entry_id, stop=nai_stop, '
        'limit=nai_limit, comment_loss="stop_loss", comment_profit="take_profit")',
    ]


def _plots(spec: FeatureSpec) -> list[str]:
    lines = [
        "// ---- Plots: features and model output in the data window (read by the parity check)",
    ]
    for name in spec.names:
        lines.append(f"plot(f_{name}, {pine_string(name)}, display=display.data_window)")
    lines += [
        'plot(signal, "signal", display=display.data_window)',
        'plot(m_action, "action", display=display.data_window)',
        'plot(m_confidence, "confidence", display=display.data_window)',
        'plot(m_risk, "risk", display=display.data_window)',
        'plot(nai_qty, "quantity", display=display.data_window)',
        'plot(strategy.equity, "equity", display=display.data_window)',
        'plotshape(signal > 0, "buy signal", shape.triangleup, location.belowbar, color.green, '
        "size=size.tiny)",
        'plotshape(signal < 0, "sell signal", shape.triangledown, location.abovebar, color.red, '
        "size=size.tiny)",
    ]
    return lines
