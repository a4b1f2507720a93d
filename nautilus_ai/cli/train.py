"""``nautilus-ai train``: fit, calibrate and store the MLP from a catalog."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError
from nautilus_ai.cli.dataset_args import (
    add_data_arguments,
    add_label_arguments,
    catalog_from_args,
    check_embargo,
    describe_flag_errors,
    label_spec_from_args,
)

__all__ = ["register"]


#: The MLP's fit flags (argparse dest -> default): the LightGBM family has its own tree
#: settings, so ``--family lightgbm`` refuses any of them set to another value.
_MLP_DEFAULTS: dict[str, Any] = {
    "hidden": "64,32",
    "activation": "relu",
    "epochs": 40,
    "batch_size": 1024,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "patience": 5,
}


def register(subparsers: Any) -> None:
    train = subparsers.add_parser(
        "train",
        help="train the torch MLP from a catalog (labels, walk-forward split, calibration)",
        description="Train the MLP classifier (sell / hold / buy) on a catalog's bars: features "
        "recomputed from the bars or read from a logged run (and checked against the bars), "
        "forward-return or triple-barrier labels, train / validation / test windows with an "
        "embargo, early stopping and temperature calibration on validation, metrics per split. "
        "Writes a NEW artifact folder <out>/<name>/v<N> (safetensors + model_card.json).",
    )
    add_data_arguments(train)
    windows = train.add_argument_group("windows (UTC, half-open [START, END))")
    windows.add_argument("--train", nargs=2, metavar=("START", "END"), required=True)
    windows.add_argument("--validation", nargs=2, metavar=("START", "END"), required=True,
                         help="early stopping, temperature, confidence threshold")  # fmt: skip
    windows.add_argument("--test", nargs=2, metavar=("START", "END"),
                         help="out-of-sample evaluation window")  # fmt: skip
    windows.add_argument("--embargo", type=int, metavar="BARS",
                         help="bars skipped after a boundary (default: the horizon)")  # fmt: skip
    add_label_arguments(train)
    model = train.add_argument_group("model and fit")
    model.add_argument("--family", choices=("mlp", "lightgbm"), default="mlp",
                       help="model family (default: mlp); lightgbm needs the 'gbt' extra and "
                       "uses --seed, --threads, --class-weights, --no-calibrate and "
                       "--signal-rate with its own tree defaults")  # fmt: skip
    model.add_argument("--hidden", default=_MLP_DEFAULTS["hidden"],
                       help="hidden widths (default: 64,32)")  # fmt: skip
    model.add_argument("--activation", choices=("relu", "gelu"),
                       default=_MLP_DEFAULTS["activation"])  # fmt: skip
    model.add_argument("--epochs", type=int, default=_MLP_DEFAULTS["epochs"])
    model.add_argument("--batch-size", type=int, default=_MLP_DEFAULTS["batch_size"])
    model.add_argument("--lr", type=float, default=_MLP_DEFAULTS["lr"])
    model.add_argument("--weight-decay", type=float, default=_MLP_DEFAULTS["weight_decay"])
    model.add_argument("--patience", type=int, default=_MLP_DEFAULTS["patience"])
    model.add_argument("--class-weights", choices=("balanced", "none"), default="balanced")
    model.add_argument("--seed", type=int, default=7)
    model.add_argument("--threads", type=int, help="torch threads (default: 1 on <= 2 cores)")
    model.add_argument("--no-calibrate", action="store_true", help="keep temperature 1")
    model.add_argument("--signal-rate", type=float, default=0.03,
                       help="share of validation bars to act on when choosing the suggested "
                       "min_confidence (default: 0.03)")  # fmt: skip
    ticks = train.add_argument_group("quote ticks (a model for the strategy's tick mode)")
    ticks.add_argument(
        "--ticks",
        metavar="INSTRUMENT_ID",
        help="train on this instrument's quote ticks in the catalog: rows are the "
        "tick mode's decision ticks (bar + tick features), --horizon and "
        "--embargo count decision ticks, the label is the forward mid move",
    )
    ticks.add_argument(
        "--every-ticks",
        type=int,
        metavar="N",
        help="the tick mode's cadence the model will run at (default: 1)",
    )
    out = train.add_argument_group("output")
    out.add_argument("--out", default="artifacts", help="artifacts root (default: artifacts)")
    out.add_argument("--name", help="model name (default: mlp; gbt with --family lightgbm)")
    out.add_argument("--backtest", action="store_true",
                     help="also backtest the model, the rule model and buy & hold on the test "
                     "window (real BacktestNode runs; figures go into the card)")  # fmt: skip
    out.add_argument("--reports", help="report folder for --backtest (default: "
                     "$NAUTILUS_AI_REPORTS or reports)")  # fmt: skip
    out.add_argument("--json", action="store_true", help="print the result as JSON")
    train.set_defaults(handler=_train)


# TrainConfig fields whose flag is not --field-name.
TRAIN_FLAGS = {
    "learning_rate": "--lr",
    "target_signal_rate": "--signal-rate",
    "calibrate": "--no-calibrate",
}


def _train(args: argparse.Namespace) -> int:
    from nautilus_ai.extras import require_extra

    if args.family == "mlp":  # the LightGBM family needs no torch (its own extra: gbt)
        require_extra("torch", "nautilus-ai train")
    else:
        _refuse_mlp_flags(args)
    from pydantic import ValidationError

    from nautilus_ai.catalog.reader import CatalogReadError
    from nautilus_ai.datasets import Fold
    from nautilus_ai.paths import default_reports_dir
    from nautilus_ai.training import FeatureMismatchError, TrainConfig

    try:
        hidden = tuple(int(h) for h in args.hidden.split(",") if h.strip())
    except ValueError:
        raise CliError(f"--hidden: expected comma-separated ints, got {args.hidden!r}") from None
    try:
        fold = Fold(
            train=_window("--train", args.train),
            validation=_window("--validation", args.validation),
            test=_window("--test", args.test) if args.test else None,
        )
        label = label_spec_from_args(args)
        if args.ticks is None:  # with --ticks the embargo counts decision ticks
            check_embargo(args.embargo, label)
        config = TrainConfig(
            hidden=hidden,
            activation=args.activation,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            weight_decay=args.weight_decay,
            patience=args.patience,
            class_weights=args.class_weights,
            seed=args.seed,
            threads=args.threads,
            calibrate=not args.no_calibrate,
            target_signal_rate=args.signal_rate,
        )
    except ValidationError as exc:
        raise CliError(describe_flag_errors(exc, TRAIN_FLAGS)) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if args.family == "lightgbm":
        config = _gbt_config(args)
    name = args.name or ("gbt" if args.family == "lightgbm" else "mlp")
    _check_output(args.out, args.name)  # before minutes of training, not after
    if args.backtest and fold.test is None:
        raise CliError("--backtest needs a --test window")
    if args.ticks is not None:
        return _train_ticks(args, fold, label, config)
    if args.every_ticks is not None:
        raise CliError(f"--every-ticks {args.every_ticks}: only with --ticks INSTRUMENT_ID")
    catalog = catalog_from_args(args)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    evaluator = None
    failed: list[str] = []  # the out-of-sample runs the runner said failed
    if args.backtest:
        from nautilus_ai.workflows.oos import compare_out_of_sample, suggested_min_confidence

        reports = default_reports_dir(args.reports)

        def evaluator(staged: Path) -> dict[str, Any]:
            progress("backtesting the model, the rule model and buy & hold on the test window")
            assert fold.test is not None
            comparison = compare_out_of_sample(
                staged, catalog, fold.test, report_dir=reports,
                min_confidence=suggested_min_confidence(staged), name_prefix=name,
            )  # fmt: skip
            progress(comparison.table_text())
            failed.extend(comparison.failures)
            return comparison.to_dict()

    if args.family == "lightgbm":
        from nautilus_ai.training.gbt import train_gbt_model

        trainer: Any = train_gbt_model
    else:
        from nautilus_ai.training import train_model

        trainer = train_model
    try:
        result = trainer(
            catalog,
            bar_type=args.bar_type,
            fold=fold,
            label=label,
            config=config,
            source=args.features,
            run_id=args.run_id,
            allow_open_run=args.allow_open_run,
            artifacts_root=args.out,
            name=name,
            embargo_bars=args.embargo,
            oos_evaluator=evaluator,
            progress=progress,
        )
    except (CatalogReadError, FeatureMismatchError, ValueError, ImportError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "artifact": str(result.artifact_path),
                    "model_id": result.model_id,
                    "metrics": result.card.metrics,
                    "temperature": result.card.temperature,
                },
                indent=2,
            )
        )
    else:
        print(result.summary_text())
    for failure in failed:  # the model is stored; its comparison did not do its job
        print(f"nautilus-ai: error: out-of-sample backtest failed: {failure} (the model is "
              f"stored at {result.artifact_path})", file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


def _train_ticks(args: argparse.Namespace, fold: Any, label: Any, config: Any) -> int:
    """``--ticks``: :func:`nautilus_ai.training.ticks.train_tick_model`."""
    for flag, refused in (("--family lightgbm", args.family != "mlp"),
                          ("--features snapshots", args.features != "bars"),
                          ("--backtest", args.backtest)):  # fmt: skip
        if refused:
            raise CliError(f"--ticks: {flag} is not supported with quote ticks")
    from nautilus_ai.catalog.reader import CatalogReadError
    from nautilus_ai.tick_decisions import TickModeConfig
    from nautilus_ai.training.ticks import train_tick_model

    every = 1 if args.every_ticks is None else args.every_ticks
    try:
        result = train_tick_model(
            catalog_from_args(args), instrument_id=args.ticks, bar_type=args.bar_type,
            fold=fold, tick_mode=TickModeConfig(every_ticks=every), label=label,
            config=config, artifacts_root=args.out, name=args.name or "mlp-ticks",
            embargo=args.embargo,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )  # fmt: skip
    except (CatalogReadError, ValueError, ImportError) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps({"artifact": str(result.artifact_path), "model_id": result.model_id,
                          "metrics": result.card.metrics}, indent=2))  # fmt: skip
    else:
        print(result.summary_text())
    return 0


def _refuse_mlp_flags(args: argparse.Namespace) -> None:
    """``--family lightgbm`` with an MLP fit flag (``--epochs 3``) trained the trees with their
    own defaults and said nothing: refused, naming the flag."""
    for dest, default in _MLP_DEFAULTS.items():
        value = getattr(args, dest)
        if value != default:
            flag = "--" + dest.replace("_", "-")
            raise CliError(
                f"{flag} {value}: an MLP setting, not used by --family lightgbm (its trees "
                "take --seed, --threads, --class-weights, --no-calibrate and --signal-rate)"
            )


def _gbt_config(args: argparse.Namespace) -> Any:
    """The LightGBM config from the flags both families share (trees keep their defaults)."""
    from pydantic import ValidationError

    from nautilus_ai.models.card import describe_errors
    from nautilus_ai.training.gbt import GBTConfig

    try:
        return GBTConfig(
            seed=args.seed,
            threads=args.threads,
            class_weights=args.class_weights,
            calibrate=not args.no_calibrate,
            target_signal_rate=args.signal_rate,
        )
    except ValidationError as exc:
        raise CliError(describe_errors(exc)) from None


def _window(flag: str, values: list[str]) -> Any:
    """``Window.parse(START, END)``; a bad one is a ``CliError`` naming the flag."""
    from nautilus_ai.datasets import Window

    try:
        return Window.parse(*values)
    except ValueError as exc:
        raise CliError(f"{flag} {' '.join(values)}: {exc}") from None


def _check_output(out: str, name: str | None) -> None:
    """Refuse an artifacts root that is a file and a name the model card would refuse."""
    import re

    from nautilus_ai.models.card import MODEL_NAME_PATTERN

    if name is not None and not (re.fullmatch(MODEL_NAME_PATTERN, name) and len(name) <= 128):
        raise CliError(
            f"--name: letters, digits and _ . - only, starting with a letter or a digit, at most "
            f"128 characters (received {name!r})"
        )
    if Path(out).exists() and not Path(out).is_dir():
        raise CliError(f"--out: {out} is a file, not a folder for the artifacts")
