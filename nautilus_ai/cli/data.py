"""``nautilus-ai data``: download, import, validate and inspect market data.

* ``data download SYMBOL --start --end [--kind ticks|m1|h1|d1]``: Dukascopy files into the cache
  (optionally ``--import`` them into the catalog).
* ``data import FORMAT PATH...``: histdata-m1, histdata-ticks, lean, dukascopy, csv. Rows are
  merged into the catalog by timestamp: stored rows the files do not contain are always kept;
  ``--on-conflict error|replace|keep`` says what happens to a stored row the files contradict
  (default ``error``: nothing is written and the command exits 2). ``--dry-run`` reports the
  same counts and writes nothing.
* ``data validate FORMAT PATH...``: the import's validation report, nothing written.
* ``data info``: what a catalog holds.

Relative paths that do not exist under the working directory are looked up in the market data
folder (``--data-dir``, ``$NAUTILUS_AI_DATA``, default ``../shared/data``); quoted globs are
expanded. Progress goes to stderr (``--quiet`` silences it); results go to stdout (``--json`` for
machine-readable output). Heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError

__all__ = ["register"]

FORMATS = ("histdata-m1", "histdata-ticks", "lean", "dukascopy", "csv")
# What `data import histdata-m1` reads when no PATH is given: the demo's six months.
DEFAULT_PATHS = {"histdata-m1": ("histdata/DAT_ASCII_EURUSD_M1_2017*.csv",)}
_ACTIONS = ("keep", "flag", "drop")
_CHECKS = ("out_of_order", "duplicates", "crossed", "locked", "spikes", "flat", "ohlc", "gaps")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("data", help="download, import, validate and inspect data")
    verbs = parser.add_subparsers(dest="data_command", metavar="VERB", required=True)

    download = verbs.add_parser("download", help="download Dukascopy files into the cache")
    download.add_argument("symbol", help="e.g. EURUSD or EUR/USD")
    download.add_argument("--start", required=True, help="UTC date or datetime (inclusive)")
    download.add_argument("--end", required=True, help="UTC date or datetime (exclusive)")
    download.add_argument("--kind", choices=("ticks", "m1", "h1", "d1"), default="ticks")
    download.add_argument("--side", choices=("BID", "ASK"), action="append", help="candles")
    download.add_argument("--cache", help="cache folder ($NAUTILUS_AI_DUKASCOPY_CACHE)")
    download.add_argument("--base-url", help="datafeed root or mirror")
    download.add_argument("--workers", type=int, default=4)
    download.add_argument("--retries", type=int, default=4)
    download.add_argument("--timeout", type=float, default=20.0, help="read timeout, seconds")
    download.add_argument("--retry-failed", action="store_true", help="re-fetch corrupt files")
    download.add_argument(
        "--import",
        dest="do_import",
        action="store_true",
        help="then import the downloaded range into the catalog",
    )
    download.add_argument(
        "--max-connection-failures",
        type=int,
        default=5,
        metavar="N",
        help="give up after N requests in a row that fail to connect or get no answer (default 5)",
    )
    _catalog_options(download)
    _import_options(download)
    _write_options(download)
    _output_options(download)
    download.set_defaults(handler=_download)

    importer = verbs.add_parser("import", help="import files into the catalog")
    importer.add_argument("format", choices=FORMATS)
    importer.add_argument("paths", nargs="*", metavar="PATH")
    _catalog_options(importer)
    _import_options(importer)
    _write_options(importer)
    _output_options(importer)
    importer.set_defaults(handler=_import)

    validate = verbs.add_parser("validate", help="validate files (nothing is written)")
    validate.add_argument("format", choices=FORMATS)
    validate.add_argument("paths", nargs="*", metavar="PATH")
    validate.add_argument("--data-dir", help="market data folder ($NAUTILUS_AI_DATA)")
    validate.add_argument("--strict", action="store_true", help="exit 1 if anything is flagged")
    _import_options(validate)
    _output_options(validate)
    validate.set_defaults(handler=_validate)

    info = verbs.add_parser("info", help="what the catalog holds")
    info.add_argument("--catalog", help="catalog folder ($NAUTILUS_AI_CATALOG)")
    _output_options(info)
    info.set_defaults(handler=_info)


def _catalog_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--catalog", help="catalog folder ($NAUTILUS_AI_CATALOG)")
    parser.add_argument("--data-dir", help="market data folder ($NAUTILUS_AI_DATA)")


def _import_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--instrument-id", help="e.g. EUR/USD.SIM (default from the files)")
    parser.add_argument("--venue", help="venue when the id comes from the files (default SIM)")
    parser.add_argument(
        "--clock", help="source clock override: UTC, an IANA zone or an offset (--clock=-05:00)"
    )
    parser.add_argument(
        "--ask-spread-pips",
        type=float,
        help="histdata-m1: also write ASK = BID + this spread, in pips on the price grid "
        "(0.1 for EUR/USD; MODELLING ASSUMPTION, labelled in the summary)",
    )
    parser.add_argument(
        "--assumed-volume",
        type=float,
        help="histdata-m1: volume for bars with volume 0 (MODELLING ASSUMPTION)",
    )
    parser.add_argument("--preset", help=f"csv: a preset layout ({', '.join(_CSV_PRESETS)})")
    parser.add_argument("--spec", help="csv: JSON file with a CsvSpec")
    parser.add_argument(
        "--price-type",
        choices=("BID", "ASK", "MID", "LAST"),
        help="csv bars: what the prices are (default: the side the file names name, e.g. "
        "..._ASK.csv, else BID)",
    )
    parser.add_argument(
        "--bars",
        action="append",
        default=[],
        metavar="SECONDS:SIDE",
        help="dukascopy ticks: also build bars, e.g. 60:BID 60:ASK 60:MID",
    )
    parser.add_argument("--no-ticks", action="store_true", help="dukascopy: do not write ticks")
    parser.add_argument(
        "--keep-flats", action="store_true", help="dukascopy candles: keep zero-volume flat candles"
    )
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="CHECK=ACTION",
        help=f"validation action per check ({', '.join(_CHECKS)}; {'/'.join(_ACTIONS)})",
    )


# Kept in step with nautilus_ai.data.generic_csv.CSV_PRESETS (a test checks), for the help.
_CSV_PRESETS = ("dukascopy-csv-h1", "nautilus-fxcm-m1", "truefx-ticks")

# Kept in step with nautilus_ai.data.merge.CONFLICT_POLICIES (a test checks), without
# importing it here: `nautilus-ai --help` stays light.
_ON_CONFLICT = ("error", "replace", "keep")


def _write_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--on-conflict",
        choices=_ON_CONFLICT,
        default="error",
        help="a stored row at the same timestamp with a different value: error (default, the "
        "safest: nothing is written, exit 2, no stored value ever changes unasked), replace "
        "(the new value wins) or keep (the stored value stays). Identical rows are not "
        "conflicts; stored rows at other timestamps are always kept",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="report rows added / changed / unchanged / kept without writing anything",
    )


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


# -- helpers -------------------------------------------------------------------------------------

# Options that only some formats read: given for another format they would be ignored silently.
_FORMAT_OPTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ask_spread_pips": ("--ask-spread-pips", ("histdata-m1",)),
    "assumed_volume": ("--assumed-volume", ("histdata-m1",)),
    "clock": ("--clock", ("histdata-m1", "histdata-ticks", "lean")),
    "venue": ("--venue", ("histdata-m1", "histdata-ticks", "lean", "dukascopy")),
    "preset": ("--preset", ("csv",)),
    "spec": ("--spec", ("csv",)),
    "price_type": ("--price-type", ("csv",)),
    "bars": ("--bars", ("dukascopy",)),
    "no_ticks": ("--no-ticks", ("dukascopy",)),
    "keep_flats": ("--keep-flats", ("dukascopy",)),
}


def _given(args: argparse.Namespace, attr: str) -> bool:
    return getattr(args, attr, None) not in (None, False, [])


_VENUE = re.compile(r"[A-Za-z0-9_\-]+")


def _check_format_options(args: argparse.Namespace, fmt: str) -> None:
    """Refuse an option the format does not read (it would be ignored without a word)."""
    for attr, (flag, formats) in _FORMAT_OPTIONS.items():
        if _given(args, attr) and fmt not in formats:
            raise CliError(f"{flag} applies to {' / '.join(formats)} only, not {fmt}")


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    if args.quiet:
        return None
    return lambda message: print(f"nautilus-ai data: {message}", file=sys.stderr, flush=True)


def _emit(args: argparse.Namespace, payload: Mapping[str, object], text: str) -> None:
    print(json.dumps(payload, indent=2) if args.json else text)


def _resolve_paths(fmt: str, raw: Sequence[str], data_dir: str | None) -> list[str]:
    from nautilus_ai.paths import shared_data_dir

    patterns = list(raw) or list(DEFAULT_PATHS.get(fmt, ()))
    if not patterns:
        raise CliError(f"give at least one PATH for format {fmt!r}")
    resolved: list[str] = []
    base: Path | None = None
    for pattern in patterns:
        candidates = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else []
        if not candidates and Path(pattern).exists():
            candidates = [pattern]
        if not candidates and not Path(pattern).is_absolute():
            if base is None:
                try:
                    base = shared_data_dir(data_dir)
                except FileNotFoundError as exc:
                    raise CliError(str(exc)) from exc
            inside = str(base / pattern)
            candidates = sorted(glob.glob(inside)) if glob.has_magic(inside) else []
            if not candidates and Path(inside).exists():
                candidates = [inside]
        if not candidates:
            raise CliError(f"no such file: {pattern}")
        resolved.extend(candidates)
    return resolved


def _policy(args: argparse.Namespace, base: Any) -> Any:
    changes: dict[str, str] = {}
    for item in args.policy:
        check, _, action = item.partition("=")
        if check not in _CHECKS or action not in _ACTIONS:
            raise CliError(
                f"--policy wants CHECK=ACTION with CHECK in {_CHECKS} and ACTION in "
                f"{_ACTIONS}, got {item!r}"
            )
        changes[check] = action
    try:
        return base.with_actions(**changes)
    except ValueError as exc:
        raise CliError(str(exc)) from exc


# The checks each kind of data runs (LEAN and Dukascopy imports can hold both kinds, and LEAN
# bars come with both sides: every check may run there).
_BAR_CHECKS = ("out_of_order", "duplicates", "ohlc", "flat", "spikes", "gaps")
_QUOTE_CHECKS = ("out_of_order", "duplicates", "crossed", "locked", "spikes", "gaps")


def _check_policy_applies(args: argparse.Namespace) -> None:
    """Refuse a ``--policy`` for a check the format's data never runs (``crossed=drop`` on
    one-sided HistData bars was taken and ignored: the summary looked as asked)."""
    if not args.policy:
        return
    if args.format == "histdata-m1":
        kind, checks = "bars (one price side)", _BAR_CHECKS
    elif args.format == "histdata-ticks":
        kind, checks = "quote ticks", _QUOTE_CHECKS
    elif args.format == "csv" and bool(args.preset) != bool(args.spec):
        quotes = _csv_spec(args).kind == "quotes"
        kind = "quote ticks" if quotes else "bars (one price side)"
        checks = _QUOTE_CHECKS if quotes else _BAR_CHECKS
    else:
        return
    for item in args.policy:
        check = item.partition("=")[0]
        if check in _CHECKS and check not in checks:
            raise CliError(
                f"--policy {item}: {args.format} {kind} have no {check} check, so it would be "
                f"ignored; their checks: {', '.join(checks)}"
            )


def _csv_spec(args: argparse.Namespace) -> Any:
    from nautilus_ai.data.generic_csv import CSV_PRESETS, CsvSpec

    if bool(args.preset) == bool(args.spec):
        raise CliError(f"csv needs exactly one of --preset ({', '.join(CSV_PRESETS)}) or --spec")
    if args.preset:
        try:
            return CSV_PRESETS[args.preset]
        except KeyError:
            raise CliError(
                f"unknown preset {args.preset!r}; known: {sorted(CSV_PRESETS)}"
            ) from None
    from nautilus_ai.config_files import read_config_file

    # Strict like every config file: a key given twice ("close" pasted twice) kept only its
    # last value without a word. A .yaml spec is read as YAML, anything else as JSON.
    try:
        values = read_config_file(Path(args.spec), "CSV spec", ValueError)
    except ValueError as exc:  # names the file
        raise CliError(f"--spec {exc}") from exc
    try:
        return CsvSpec.from_dict(values)
    except (ValueError, TypeError) as exc:
        raise CliError(f"--spec {args.spec}: {exc}") from exc


def _bar_requests(items: Sequence[str]) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for item in items:
        seconds, _, side = item.partition(":")
        if not seconds.isdigit() or int(seconds) <= 0 or side not in ("BID", "ASK", "MID"):
            raise CliError(f"--bars wants SECONDS:BID|ASK|MID, got {item!r}")
        out.append((int(seconds), side))
    return out


def _parse_when(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"--{name}: not an ISO date or datetime: {text!r}") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# -- handlers ------------------------------------------------------------------------------------


def _run_import(args: argparse.Namespace, paths: list[str]) -> Any:
    from nautilus_ai.data import ingest
    from nautilus_ai.data.validation import BAR_POLICY, QUOTE_POLICY

    common: dict[str, Any] = {
        "catalog_path": args.catalog,
        "progress": _progress(args),
        "on_conflict": args.on_conflict,
        "dry_run": args.dry_run,
    }
    _check_format_options(args, args.format)
    _check_policy_applies(args)
    venue = "SIM" if args.venue is None else args.venue
    if not _VENUE.fullmatch(venue):  # '' was taken as SIM, 'SIM X' stored as a venue
        raise CliError(f"--venue: expected letters, digits, '_' or '-', got {venue!r}")
    if args.format in ("histdata-m1", "histdata-ticks"):
        kwargs: dict[str, Any] = dict(common, instrument_id=args.instrument_id, venue=venue)
        if args.clock:
            kwargs["clock"] = args.clock
        if args.format == "histdata-m1":
            return ingest.import_histdata_m1(
                paths,
                ask_spread_pips=args.ask_spread_pips,
                assumed_volume=args.assumed_volume,
                policy=_policy(args, BAR_POLICY),
                **kwargs,
            )
        return ingest.import_histdata_ticks(paths, policy=_policy(args, QUOTE_POLICY), **kwargs)
    if args.format == "lean":
        return ingest.import_lean(
            paths,
            instrument_id=args.instrument_id,
            venue=venue,
            clock=args.clock,
            bar_policy=_policy(args, BAR_POLICY),
            quote_policy=_policy(args, QUOTE_POLICY),
            **common,
        )
    if args.format == "dukascopy":
        return ingest.import_dukascopy(
            paths,
            instrument_id=args.instrument_id,
            venue=venue,
            write_ticks=not args.no_ticks,
            bars_from_ticks=_bar_requests(args.bars),
            keep_flats=args.keep_flats,
            bar_policy=_policy(args, BAR_POLICY),
            quote_policy=_policy(args, QUOTE_POLICY),
            **common,
        )
    if not args.instrument_id:
        raise CliError("csv needs --instrument-id (e.g. USD/JPY.SIM)")
    spec = _csv_spec(args)
    base = QUOTE_POLICY if spec.kind == "quotes" else BAR_POLICY
    return ingest.import_csv(
        paths,
        spec,
        instrument_id=args.instrument_id,
        price_type=args.price_type,
        policy=_policy(args, base),
        **common,
    )


def _import(args: argparse.Namespace) -> int:
    from nautilus_ai.data.errors import DataFormatError

    paths = _resolve_paths(args.format, args.paths, args.data_dir)
    try:
        summary = _run_import(args, paths)
    except (DataFormatError, KeyError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    _emit(args, summary.to_dict(), summary.to_text())
    return 1 if summary.failures else 0


def _validate(args: argparse.Namespace) -> int:
    from nautilus_ai.data import validation
    from nautilus_ai.data.errors import DataFormatError

    _check_format_options(args, args.format)
    _check_policy_applies(args)
    paths = _resolve_paths(args.format, args.paths, args.data_dir)
    try:
        reports, failures = _validate_reports(args, paths, validation)
    except (DataFormatError, KeyError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    payload = {"reports": [r.to_dict() for r in reports], "failures": failures}
    text = "\n".join([r.to_text() for r in reports] + [f"failed: {f}" for f in failures])
    _emit(args, payload, text)
    flagged = any(r.warnings for r in reports)
    return 1 if failures or (args.strict and flagged) else 0


def _validate_reports(
    args: argparse.Namespace, paths: list[str], v: Any
) -> tuple[list[Any], list[str]]:
    from nautilus_ai.data import histdata, lean
    from nautilus_ai.data.dukascopy.load import find_files, load_candles, load_ticks
    from nautilus_ai.data.dukascopy.scales import price_scale
    from nautilus_ai.data.generic_csv import read_csv_bars, read_csv_quotes
    from nautilus_ai.data.ingest import check_bar_sides, check_batch, check_quote_sides
    from nautilus_ai.data.symbols import fx_pair_spec

    # The import's checks of the batch (a file twice, files of several pairs, markets or
    # resolutions, an id of another pair): validating a batch it refuses reported nonsense.
    instrument_id = check_batch(
        args.format,
        paths,
        instrument_id=args.instrument_id or ("EUR/USD.SIM" if args.format == "csv" else None),
        venue="SIM" if args.venue is None else args.venue,
    )
    symbol = instrument_id.rpartition(".")[0]
    clock = {"clock": args.clock} if args.clock else {}
    bar_policy, quote_policy = _policy(args, v.BAR_POLICY), _policy(args, v.QUOTE_POLICY)
    name = paths[0] if len(paths) == 1 else f"{paths[0]} .. ({len(paths)} files)"
    if args.format == "histdata-m1":
        bars = histdata.read_histdata_m1(paths, **clock)
        pip = fx_pair_spec(symbol).pip_size
        return [v.validate_bars(bars, bar_policy, pip_size=pip, source=name)[1]], []
    if args.format == "histdata-ticks":
        quotes = histdata.read_histdata_ticks(paths, **clock)
        check_quote_sides(quotes, name)
        pip = fx_pair_spec(symbol).pip_size
        return [v.validate_quotes(quotes, quote_policy, pip_size=pip, source=name)[1]], []
    if args.format == "lean":
        layout = lean.lean_layout(paths[0])
        pip = fx_pair_spec(symbol).pip_size
        if layout.resolution == "tick":
            quotes = lean.read_lean_ticks(paths, clock=args.clock)
            check_quote_sides(quotes, name)
            return [v.validate_quotes(quotes, quote_policy, pip_size=pip, source=name)[1]], []
        bid, ask = lean.read_lean_bars(paths, clock=args.clock)
        check_bar_sides(bid, ask, f"LEAN {layout.resolution}", name)
        return [v.validate_bid_ask_bars(bid, ask, bar_policy, pip_size=pip, source=name)[2]], []
    if args.format == "csv":
        spec = _csv_spec(args)
        pip = fx_pair_spec(symbol).pip_size
        if spec.kind == "quotes":
            quotes = read_csv_quotes(paths, spec)
            check_quote_sides(quotes, name)
            return [v.validate_quotes(quotes, quote_policy, pip_size=pip, source=name)[1]], []
        bars = read_csv_bars(paths, spec)
        return [v.validate_bars(bars, bar_policy, pip_size=pip, source=name)[1]], []
    found = find_files(paths)
    if not found:
        raise CliError("no .bi5 files found")
    sym = found[0][1].symbol
    scale, pip = price_scale(sym), fx_pair_spec(symbol).pip_size
    reports: list[Any] = []
    failures: list[str] = []
    ticks = [p for p in found if p[1].kind == "ticks"]
    if ticks:
        quotes, failed = load_ticks(ticks, scale)
        failures += [str(f) for f in failed]
        check_quote_sides(quotes, name)
        reports.append(v.validate_quotes(quotes, quote_policy, pip_size=pip, source="ticks")[1])
    policy = bar_policy if args.keep_flats else bar_policy.with_actions(flat="drop")
    for kind in ("m1", "h1", "d1"):
        sides: dict[str, Any] = {}
        for side in ("BID", "ASK"):
            group = [p for p in found if p[1].kind == kind and p[1].side == side]
            if group:
                bars, failed = load_candles(group, scale)
                failures += [str(f) for f in failed]
                sides[side] = bars
                reports.append(
                    v.validate_bars(bars, policy, pip_size=pip, source=f"{kind} {side}")[1]
                )
        if len(sides) == 2:
            check_bar_sides(sides["BID"], sides["ASK"], kind, name)
    return reports, failures


def _info(args: argparse.Namespace) -> int:
    from nautilus_ai.data.catalog import catalog_info
    from nautilus_ai.paths import default_catalog_dir

    root = default_catalog_dir(args.catalog)
    if root.is_dir() and not (root / "data").is_dir():
        # An empty listing, exit 0, looked like an empty catalog (a parent folder given).
        inside = sorted(p.parent.name for p in root.glob("*/data") if p.is_dir())
        hint = f"; catalogs inside it: {', '.join(inside)}" if inside else ""
        raise CliError(f"{root} is not a catalog (it has no data/ folder){hint}")
    try:
        info = catalog_info(root)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    _emit(args, info.to_dict(), info.to_text())
    return 0


def _check_download_symbol(symbol: str) -> None:
    """A pair whose files no import can read (no price scale: 'EURUDS', a typo) was downloaded,
    a request an hour for the whole range, and then failed at --import, or never."""
    import difflib

    from nautilus_ai.data.dukascopy.scales import DUKASCOPY_PRICE_SCALES, dukascopy_symbol

    try:
        key = dukascopy_symbol(symbol)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if key not in DUKASCOPY_PRICE_SCALES:
        near = difflib.get_close_matches(key, list(DUKASCOPY_PRICE_SCALES), n=1)
        hint = f"; did you mean {near[0]}?" if near else ""
        raise CliError(
            f"{symbol}: not a pair whose Dukascopy files can be imported (no price scale; "
            f"known: {', '.join(sorted(DUKASCOPY_PRICE_SCALES))}){hint}"
        )


def _check_download_flags(args: argparse.Namespace) -> None:
    """Each download flag checked by its own name (the config's checks said
    'DownloadConfig.workers' / 'read_timeout'), and --side refused where nothing reads it."""
    if args.side and args.kind == "ticks":
        raise CliError(
            f"--side {' '.join(args.side)}: applies to candles (--kind m1, h1, d1), not ticks "
            "(a tick file holds both sides); it would be ignored"
        )
    for flag, value, least in (
        ("--workers", args.workers, 1),
        ("--retries", args.retries, 0),
        ("--max-connection-failures", args.max_connection_failures, 1),
    ):
        if value < least:
            raise CliError(f"{flag} must be >= {least}, got {value}")
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise CliError(f"--timeout must be a finite number of seconds > 0, got {args.timeout}")


def _download(args: argparse.Namespace) -> int:
    from nautilus_ai.data.dukascopy import (
        DUKASCOPY_BASE_URL,
        DownloadConfig,
        HttpDataSource,
        ServerUnreachableError,
        default_cache_dir,
        download_files,
        dukascopy_files,
    )

    if args.do_import:
        _check_format_options(args, "dukascopy")
    else:
        import_only = [flag for attr, (flag, _) in _FORMAT_OPTIONS.items() if _given(args, attr)]
        for flag in ("--catalog", "--instrument-id", "--policy", "--dry-run"):
            if _given(args, flag[2:].replace("-", "_")):
                import_only.append(flag)
        if args.on_conflict != "error":
            import_only.append("--on-conflict")
        if import_only:
            raise CliError(f"{', '.join(import_only)}: only with --import (nothing is imported)")
    _check_download_flags(args)
    _check_download_symbol(args.symbol)
    start, end = _parse_when(args.start, "start"), _parse_when(args.end, "end")
    sides = tuple(args.side) if args.side else ("BID", "ASK")
    try:
        files = list(dukascopy_files(args.symbol, start, end, args.kind, sides))
        config = DownloadConfig(
            workers=args.workers,
            retries=args.retries,
            retry_failed=args.retry_failed,
            max_connection_failures=args.max_connection_failures,
        )
        source = HttpDataSource(
            args.base_url or DUKASCOPY_BASE_URL, read_timeout=args.timeout, pool_size=args.workers
        )
    except (KeyError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    cache = default_cache_dir(args.cache)
    say = _progress(args)
    step = max(1, len(files) // 20)

    def progress(done: int, total: int, outcome: Any) -> None:
        if say is not None and (done % step == 0 or done == total or outcome.status == "failed"):
            say(f"[{done}/{total}] {outcome.status}: {outcome.file.key}")

    try:
        summary = download_files(files, cache, source, config, progress=progress)
    except ServerUnreachableError as exc:
        kept = exc.summary.count("downloaded")
        raise CliError(f"{exc}; the {kept} file(s) downloaded before are kept in {cache}") from exc
    finally:
        source.close()
    payload: dict[str, object] = {"cache": str(cache), "download": summary.to_dict()}
    text = f"cache {cache}\n{summary.to_text()}"
    status = 1 if summary.failures else 0
    if args.do_import:
        # Closed-market hours (empty files) go in too: they are part of what bars built from
        # the ticks cover (a bar reaching an hour that is not there is not built).
        good = [
            str(cache / o.file.key)
            for o in summary.outcomes
            if o.status in ("downloaded", "cached", "empty")
        ]
        if any(o.size > 0 for o in summary.outcomes if o.status in ("downloaded", "cached")):
            args.format = "dukascopy"
            imported = _run_import(args, good)
            payload["import"] = imported.to_dict()
            text += "\n" + imported.to_text()
            status = status or (1 if imported.failures else 0)
        else:  # said, not left to guess from the counts above (it printed nothing more)
            payload["import"] = None
            text += (
                f"\nnothing imported: none of the {len(summary.outcomes)} file(s) holds data "
                "(market closed, or not available)"
            )
    _emit(args, payload, text)
    return status
