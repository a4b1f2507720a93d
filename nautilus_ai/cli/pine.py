"""``nautilus-ai export-pine --model ARTIFACT [--out FILE] [--check]``: Pine Script v6 export.

``--model`` takes a torch MLP artifact folder (embedded exactly), ``rule`` (the RulePredictor as
plain Pine conditions) or a backend config, as a JSON file or inline JSON (``{"kind": ...}``,
see ``nautilus_ai.models.registry``): ``rule`` / ``torch`` configs are embedded exactly, every
other backend, and MLPs above ``--max-parameters``, are distilled into a decision tree on the
feature rows of ``--data`` (default: the shared EUR/USD HistData months) and the tree's held-out
fidelity is printed and written into the script header. ``--check`` parses the script with
pynescript and runs it in PineTS on a month of bars, comparing features and signals with Python.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError

__all__ = ["register"]

#: Distillation flags (argparse dest -> default) and the data flags, which distillation and
#: --check read; an exact export without --check reads neither.
_TREE_DEFAULTS: dict[str, Any] = {"max_depth": 8, "min_samples_leaf": 50, "holdout": 0.2}
_DATA_DEFAULTS: dict[str, Any] = {
    "data": None,
    "data_dir": None,
    "catalog": None,
    "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export-pine",
        help="export a model + feature spec as a Pine Script v6 strategy (and check it)",
        description="Write a TradingView Pine Script v6 strategy() that computes the feature "
        "spec with ta.* and embeds the model (exactly, or as a distilled decision tree). "
        "The exported strategy has no proven edge.",
    )
    parser.add_argument("--model", required=True, help="artifact folder (model_card.json + "
                        "model.safetensors), 'rule', or a backend config (JSON file or inline "
                        "JSON)")  # fmt: skip
    parser.add_argument("--out", help="output .pine file (default: <model name>.pine)")
    parser.add_argument("--embed", choices=("auto", "exact", "tree"), default="auto",
                        help="exact embedding, a distilled tree, or auto (exact when the model "
                        "can be embedded; default)")  # fmt: skip
    parser.add_argument("--max-parameters", type=int, default=None,
                        help="largest model embedded exactly (default 10000): an MLP's "
                        "parameters (a larger one is distilled under --embed auto), a LightGBM "
                        "ensemble's values (4 per split, 1 per leaf and tree; a larger one is "
                        "refused unless --embed tree)")  # fmt: skip
    parser.add_argument("--feature-spec", help="FeatureSpec JSON file for 'rule' / backend "
                        "configs (default: the current spec); a stored model is exported with "
                        "its card's spec")  # fmt: skip
    policy = parser.add_argument_group("strategy defaults (all are Pine inputs)")
    policy.add_argument(
        "--min-confidence",
        type=float,
        default=None,
        help="signal threshold (default: the threshold the training chose on its validation "
        "window, from the model card; else 0.55)",
    )
    policy.add_argument("--stop-loss-atr", type=_optional_float, default=2.0,
                        help="stop-loss in ATRs from the entry close, or 'none' "
                        "(default 2)")  # fmt: skip
    policy.add_argument("--take-profit-atr", type=_optional_float, default=3.0,
                        help="take-profit in ATRs, or 'none' (default 3)")  # fmt: skip
    policy.add_argument("--max-holding-bars", type=int, default=None)
    policy.add_argument("--no-reverse", action="store_true",
                        help="exit on an opposite signal instead of reversing")  # fmt: skip
    policy.add_argument("--exit-on-hold", action="store_true")
    policy.add_argument("--initial-capital", type=float, default=100_000.0)
    data = parser.add_argument_group("data (distillation and --check)")
    data.add_argument("--data", nargs="+", help="HistData M1 CSV files (default: the shared "
                      "EUR/USD 2017 months)")  # fmt: skip
    data.add_argument("--data-dir", help="market data folder (default: $NAUTILUS_AI_DATA or "
                      "../shared/data)")  # fmt: skip
    data.add_argument("--catalog", help="read bars from this Nautilus catalog instead")
    data.add_argument("--bar-type", default=_DATA_DEFAULTS["bar_type"],
                      help="bar type in --catalog")  # fmt: skip
    tree = parser.add_argument_group("distillation")
    tree.add_argument("--max-depth", type=int, default=_TREE_DEFAULTS["max_depth"])
    tree.add_argument("--min-samples-leaf", type=int,
                      default=_TREE_DEFAULTS["min_samples_leaf"])  # fmt: skip
    tree.add_argument("--holdout", type=float, default=_TREE_DEFAULTS["holdout"],
                      help="share of the LAST rows kept out to measure fidelity "
                      "(default 0.2)")  # fmt: skip
    check = parser.add_argument_group("check")
    check.add_argument("--check", action="store_true",
                       help="parse with pynescript and compare a PineTS run with "
                       "Python")  # fmt: skip
    check.add_argument("--check-bars", type=int, default=None,
                       help="bars to check (default: the first data file, about a "
                       "month)")  # fmt: skip
    check.add_argument("--pinets-dir", help="where PineTS is installed (default: "
                       "$NAUTILUS_AI_PINETS_DIR or <repo>/.cache/pinets)")  # fmt: skip
    parser.set_defaults(handler=_export_pine)


def _card_min_confidence(artifact: Path) -> float | None:
    """The threshold ``nautilus-ai train`` chose on validation (the one its backtests use)."""
    if not (artifact / "model_card.json").is_file():
        return None
    from nautilus_ai.workflows.oos import suggested_min_confidence

    return suggested_min_confidence(artifact)


def _optional_float(text: str) -> float | None:
    """A distance in ATRs > 0, or ``none`` / ``off`` for no order. ``0`` used to mean "none"
    without a word; a stop at 0 ATR is no stop a user means, so it is refused."""
    if text.strip().lower() in ("none", "off"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None
    if not (value > 0.0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(
            f"expected a distance in ATRs > 0, or 'none' for no order, got {text!r}"
        )
    return value


def _export_pine(args: argparse.Namespace) -> int:
    from nautilus_ai.extras import require_extra
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.card import ArtifactError
    from nautilus_ai.pine.export import MAX_EMBEDDED_PARAMETERS
    from nautilus_ai.pine.script import StrategyOptions

    min_confidence = args.min_confidence
    if min_confidence is None:
        try:
            min_confidence = _card_min_confidence(Path(args.model))
        except ArtifactError as exc:  # a card that is no JSON: one line, exit 2
            raise CliError(str(exc)) from None
        if min_confidence is not None:
            print(f"  min confidence {min_confidence:.4f} (from the model card)")
        else:
            min_confidence = 0.55
    try:
        options = StrategyOptions(
            min_confidence=min_confidence,
            reverse_on_opposite=not args.no_reverse,
            exit_on_hold=args.exit_on_hold,
            max_holding_bars=args.max_holding_bars,
            stop_loss_atr=args.stop_loss_atr,
            take_profit_atr=args.take_profit_atr,
            initial_capital=args.initial_capital,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if args.max_parameters is not None and args.max_parameters < 0:  # would distil every MLP
        raise CliError(
            f"--max-parameters: expected a number of parameters >= 0, got {args.max_parameters}"
        )
    if args.check_bars is not None and args.check_bars < 1:  # a slice of -5 drops the last 5
        raise CliError(f"--check-bars: expected a number of bars >= 1, got {args.check_bars}")
    if not args.check:
        for flag, value in (("--check-bars", args.check_bars), ("--pinets-dir", args.pinets_dir)):
            if value is not None:  # was ignored: no check ran, exit 0
                raise CliError(f"{flag} {value}: only with --check")
    if args.check:  # before an export that may distil for minutes: --check parses with pynescript
        require_extra("pine", "nautilus-ai export-pine --check")
    if args.out and Path(args.out).is_dir():  # before an export that may distil for minutes
        raise CliError(f"--out: {args.out} is a folder; name the .pine file to write")
    limit = args.max_parameters if args.max_parameters is not None else MAX_EMBEDDED_PARAMETERS
    try:
        config, spec = _model_config(args.model, args.feature_spec, FeatureSpec)
        export, make_reference, bars = _export(args, config, spec, options, limit)
    except (ArtifactError, ValueError, FileNotFoundError, AttributeError) as exc:
        raise CliError(str(exc)) from exc
    _refuse_unused_flags(args, export.kind)  # before anything is written
    out = Path(args.out) if args.out else Path(f"{_file_stem(export.model.model_id)}.pine")
    try:
        export.write(out)
    except OSError as exc:
        raise CliError(f"--out: cannot write {out}: {exc.strerror or exc}") from None
    print(f"wrote {out} ({len(export.script.splitlines())} lines, {len(export.script)} bytes)")
    print(f"  model: {export.model.model_id}, embedded as {_kind_text(export.kind)}")
    print(f"  feature spec: {export.spec.hash} ({len(export.spec.names)} features)")
    if export.distill_report is not None:
        print(f"  distilled tree {export.distill_report.summary()}")
    print(f"  export took {export.seconds:.3f} s")
    if not args.check:
        return 0
    return _check(args, export, make_reference, bars)


def _export(
    args: argparse.Namespace,
    config: dict[str, Any],
    spec: Any,
    options: Any,
    limit: int,
) -> tuple[Any, Callable[[], Any], Any]:
    """The export, the Python reference model for --check, and the bars used (or None)."""
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.rule import RuleConfig
    from nautilus_ai.pine.artifact import load_mlp_weights
    from nautilus_ai.pine.export import export_distilled, export_mlp_artifact, export_rule

    kind = config.get("kind")
    bars = None
    if kind == "lightgbm" and args.embed != "tree":
        from nautilus_ai.pine.export import export_lightgbm_artifact

        export = export_lightgbm_artifact(config["path"], options=options, max_parameters=limit)
        return export, lambda: _build(config, export.spec), None
    if kind == "torch":
        weights = load_mlp_weights(config["path"])
        spec = FeatureSpec.from_dict(weights.card.feature_spec)
        exact = args.embed == "exact" or (args.embed == "auto" and weights.parameter_count <= limit)
        if exact:
            export = export_mlp_artifact(config["path"], options=options)
            # torch is imported only if --check needs the Python model
            return export, lambda: _build(config, spec), None
    elif kind == "rule" and args.embed != "tree":
        rule = RuleConfig(**{k: v for k, v in config.items() if k != "kind"})
        from nautilus_ai.models.rule import RulePredictor

        return export_rule(spec, rule, options=options), lambda: RulePredictor(spec, rule), None
    elif args.embed == "exact":
        raise ValueError(f"a {kind!r} model cannot be embedded exactly; use --embed tree")
    predictor = _build(config, spec)
    bars, description = _load_bars(args)
    features = _features(spec, bars)
    print(f"distilling {predictor.model_id} on {description} ...", file=sys.stderr)
    export = export_distilled(
        predictor,
        spec,
        features,
        options=options,
        data_description=description,
        max_depth=args.max_depth,
        min_samples_leaf=args.min_samples_leaf,
        holdout_fraction=args.holdout,
        # the tree is fitted on these bars (HistData files are 1-minute bars)
        bar_type=args.bar_type if args.catalog else _DATA_DEFAULTS["bar_type"],
    )
    tree = export.tree
    return export, lambda: tree, bars


def _refuse_unused_flags(args: argparse.Namespace, kind: str) -> None:
    """A distillation flag given for an exact export, or a data flag for an exact export
    without --check, was ignored without a word: refused, naming the flag."""
    unused = dict(_TREE_DEFAULTS) if kind != "tree" else {}
    if kind != "tree" and not args.check:
        unused.update(_DATA_DEFAULTS)
    for dest, default in unused.items():
        value = getattr(args, dest)
        if value != default:
            flag = "--" + dest.replace("_", "-")
            shown = " ".join(value) if isinstance(value, list) else value
            remedy = "add --check" if dest in _DATA_DEFAULTS else "pass --embed tree to distil"
            raise CliError(
                f"{flag} {shown}: not used by this export (embedded as {_kind_text(kind)}: no "
                f"distillation{'' if args.check else ', no --check'}); drop it, or {remedy}"
            )


def _build(config: dict[str, Any], spec: Any) -> Any:
    from nautilus_ai.models.registry import BackendConfigError, build_predictor

    try:
        return build_predictor(config, spec)
    except BackendConfigError as exc:
        raise ValueError(str(exc)) from exc


def _check(
    args: argparse.Namespace, export: Any, make_reference: Callable[[], Any], bars: Any
) -> int:
    from nautilus_ai.pine.check import check_export, checkable_bars
    from nautilus_ai.pine.pinets import PineTSError, ensure_pinets

    start = time.perf_counter()
    reference = make_reference()
    if bars is None or args.check_bars is not None or args.data is None:
        bars, description = _load_bars(args, check=True)
    else:
        description = "the distillation data"
    if args.check_bars is not None:
        bars = bars.take(slice(0, args.check_bars))
    try:
        checkable_bars(export, bars)
    except ValueError as exc:
        raise CliError(f"--check on {description}: {exc}") from None
    try:
        modules = ensure_pinets(args.pinets_dir)
    except PineTSError as exc:
        raise CliError(str(exc)) from exc
    print(f"checking on {len(bars)} bars of {description} ...", file=sys.stderr)
    report = check_export(export, bars, reference, node_modules=str(modules))
    print(report.summary())
    print(f"  check run time {time.perf_counter() - start:.1f} s")
    return 0 if report.passed else 1


def _load_bars(args: argparse.Namespace, *, check: bool = False) -> tuple[Any, str]:
    from nautilus_ai.data import histdata_m1_files, read_histdata_m1

    if args.catalog:
        from nautilus_ai.data.catalog import read_bars

        arrays = read_bars(args.catalog, args.bar_type)
        if check and args.check_bars is None:
            arrays = arrays.take(slice(0, 31_500))
        return arrays, f"{args.bar_type} in {args.catalog}"
    files = [Path(p) for p in args.data] if args.data else histdata_m1_files(args.data_dir)
    if check and not args.data:
        files = files[:1]
    names = ", ".join(f.name for f in files)
    return read_histdata_m1(files), names


def _features(spec: Any, bars: Any) -> Any:
    from nautilus_ai.features import accepted_bars_mask, compute_features

    keep = accepted_bars_mask(
        bars.ts_event, bars.open, bars.high, bars.low, bars.close, bars.volume
    )
    used = bars.take(keep)
    return compute_features(
        spec, used.ts_event, used.open, used.high, used.low, used.close, used.volume
    )


def _model_config(model: str, spec_file: str | None, spec_cls: Any) -> tuple[dict[str, Any], Any]:
    """The backend config ``--model`` names (checked like a strategy's ``predictor``: unknown
    keys and bad values name the key) and the feature spec to export with: ``--feature-spec``
    (default: the v1 spec), or None for a stored model, whose card fixes its spec."""
    artifact = Path(model)
    if (artifact / "model_card.json").is_file():
        card = json.loads((artifact / "model_card.json").read_text(encoding="utf-8"))
        kind = "lightgbm" if card.get("kind") == "lightgbm" else "torch"
        config: dict[str, Any] = {"kind": kind, "path": str(artifact)}
    elif model == "rule":
        config = {"kind": "rule"}
    else:
        config = _backend_config(model)
    spec = _spec(spec_file, spec_cls)
    if config["kind"] not in ("torch", "lightgbm"):
        return config, spec
    if spec_file is not None:  # the export computes the card's spec, never the file's
        _check_card_spec(spec_file, spec, Path(config["path"]), spec_cls)
    return config, None


def _check_card_spec(spec_file: str, spec: Any, folder: Path, spec_cls: Any) -> None:
    """A ``--feature-spec`` given with a stored model must be the spec its card records: the
    export computes the card's spec, so another file would be ignored without a word."""
    card_file = folder / "model_card.json"
    try:
        stored = json.loads(card_file.read_text(encoding="utf-8")).get("feature_spec")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return  # the artifact's own reader refuses it, naming the file
    if not isinstance(stored, dict):
        return
    card_spec = spec_cls.from_dict(stored)
    if card_spec.hash != spec.hash:
        raise ValueError(
            f"--feature-spec {spec_file} (spec {spec.hash}) is not the feature spec the model "
            f"in {folder} was trained on ({card_file.name}: spec {card_spec.hash}); a stored "
            "model is exported with its card's spec: drop --feature-spec"
        )


def _spec(path: str | None, spec_cls: Any) -> Any:
    if path is None:
        return spec_cls()
    try:
        return spec_cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"--feature-spec {path}: {exc}") from exc


def _backend_config(text: str) -> dict[str, Any]:
    path = Path(text)
    try:
        raw = path.read_text(encoding="utf-8") if path.is_file() else text
        config = json.loads(raw)
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"--model {text!r} is neither an artifact folder, 'rule', nor a JSON backend config "
            f"({exc})"
        ) from exc
    if not isinstance(config, dict) or "kind" not in config:
        raise ValueError(f"--model config needs a 'kind', got {config!r}")
    from nautilus_ai.models.registry import BackendConfigError, validate_backend_config

    try:  # unknown keys (a typo), missing or bad values: one line naming the key
        validate_backend_config(config)
    except BackendConfigError as exc:
        raise ValueError(f"--model: {exc}") from None
    return config


def _kind_text(kind: str) -> str:
    return {
        "mlp": "exact MLP",
        "lightgbm": "exact LightGBM (every tree)",
        "rule": "exact rule (plain conditions)",
        "tree": "distilled decision tree",
    }[kind]


def _file_stem(model_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in model_id)
