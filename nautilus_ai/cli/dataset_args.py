"""The catalog and label flags that ``train`` and ``finetune`` share (one definition for both).

Not a verb: helpers for verb modules. Heavy imports stay inside the functions.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nautilus_ai.cli import CliError

if TYPE_CHECKING:
    from nautilus_ai.labels import LabelSpec

__all__ = [
    "add_data_arguments",
    "add_label_arguments",
    "catalog_from_args",
    "check_embargo",
    "describe_flag_errors",
    "label_spec_from_args",
]


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--catalog``, ``--bar-type``, ``--features``, ``--run-id`` in a ``data`` group."""
    data = parser.add_argument_group("data")
    data.add_argument("--catalog", help="catalog folder (default: $NAUTILUS_AI_CATALOG or "
                      "catalogs/demo)")  # fmt: skip
    data.add_argument("--bar-type", default="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
                      help="bars to learn from (default: %(default)s)")  # fmt: skip
    data.add_argument("--features", choices=("bars", "snapshots"), default="bars",
                      help="recompute features from the bars, or use a logged run's "
                      "FeatureSnapshots (checked against the bars)")  # fmt: skip
    data.add_argument("--run-id", help="logged run to read with --features snapshots (default: "
                      "the only one)")  # fmt: skip
    data.add_argument("--allow-open-run", action="store_true",
                      help="read a logged run that never closed (killed, or a live node still "
                      "running) as it is: its rows may stop short")  # fmt: skip


def catalog_from_args(args: argparse.Namespace) -> Path:
    """The catalog folder of ``--catalog`` (or its default); :class:`CliError` if it is missing,
    or if ``--run-id`` is given without ``--features snapshots`` (it would be ignored)."""
    from nautilus_ai.paths import default_catalog_dir

    if args.allow_open_run and args.features != "snapshots":
        raise CliError("--allow-open-run applies to --features snapshots only")
    if args.run_id is not None and args.features != "snapshots":
        raise CliError(
            f"--run-id {args.run_id}: a logged run is read only with --features snapshots; "
            f"with --features {args.features} the features are recomputed from the bars"
        )
    catalog = default_catalog_dir(args.catalog)
    if not catalog.is_dir():
        raise CliError(f"no catalog at {catalog}")
    return catalog


def describe_flag_errors(exc: Any, flags: dict[str, str]) -> str:
    """A pydantic ``ValidationError`` of a config built from flags, naming the flag
    (``--lr: Input should be greater than 0 (received -1.0)``) instead of the model field.

    ``flags`` maps field names to flags where the flag is not ``--field-name``.
    """
    parts = []
    for error in exc.errors(include_url=False):
        names = [p for p in error["loc"] if isinstance(p, str)]  # ("lora", "rank") -> rank
        name = names[-1] if names else ""
        flag = flags.get(name, "--" + name.replace("_", "-")) if name else "<flags>"
        parts.append(f"{flag}: {error['msg']} (received {error.get('input')!r})")
    return "; ".join(parts)


def add_label_arguments(parser: argparse.ArgumentParser) -> None:
    """The :class:`~nautilus_ai.labels.LabelSpec` fields as flags, in a ``label`` group."""
    label = parser.add_argument_group("label")
    label.add_argument("--label", choices=("forward_return", "triple_barrier"),
                       default="forward_return")  # fmt: skip
    label.add_argument("--horizon", type=int, default=30, help="bars ahead (default: 30)")
    label.add_argument("--unit", choices=("atr", "pips"), default="atr")
    label.add_argument("--buy", type=float, default=1.5, help="buy threshold in units")
    label.add_argument("--sell", type=float, default=1.5, help="sell threshold in units")
    label.add_argument("--spread-pips", type=float, default=0.3)
    label.add_argument("--pip-size", type=float, default=1e-4)


def label_spec_from_args(args: argparse.Namespace) -> LabelSpec:
    """The :class:`~nautilus_ai.labels.LabelSpec` of :func:`add_label_arguments`' flags.

    Raises ``pydantic.ValidationError`` / ``ValueError`` for bad values (callers report them).
    """
    from nautilus_ai.labels import LabelSpec

    try:
        return LabelSpec(
            kind=args.label,
            horizon=args.horizon,
            unit=args.unit,
            buy_threshold=args.buy,
            sell_threshold=args.sell,
            spread_pips=args.spread_pips,
            pip_size=args.pip_size,
        )
    except ValueError as exc:  # "LabelSpec.horizon: ..." -> "--horizon (LabelSpec.horizon): ..."
        field, _, rest = str(exc).partition(": ")
        flag = LABEL_FLAGS.get(field.removeprefix("LabelSpec."))
        if flag is None or not field.startswith("LabelSpec."):
            raise
        raise ValueError(f"{flag} ({field}): {rest}") from None


def check_embargo(embargo: int | None, label: LabelSpec) -> None:
    """``--embargo`` (bars between splits) must cover the label's horizon: a shorter one lets a
    training label look into the validation window. Raises ``ValueError`` naming the flag."""
    if embargo is not None and embargo < label.horizon:
        raise ValueError(
            f"--embargo {embargo}: must be >= the label horizon ({label.horizon} bars, "
            "--horizon), or a training label looks into the next window"
        )


#: LabelSpec fields -> the flags of :func:`add_label_arguments`.
LABEL_FLAGS = {
    "kind": "--label",
    "horizon": "--horizon",
    "unit": "--unit",
    "buy_threshold": "--buy",
    "sell_threshold": "--sell",
    "spread_pips": "--spread-pips",
    "pip_size": "--pip-size",
}
