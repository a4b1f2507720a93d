"""Checks of a run file against the world, before a backtest loads anything.

:func:`~nautilus_ai.backtest.config.load_run_file` checks the file on its own (schema, types,
ranges); :func:`preflight` checks what it points at: each catalog exists and holds the
instruments and bar types the run loads, each instrument's venue has a venue config, each
strategy's bars are among the loaded ones and its own ``catalog_path`` (precomputed features)
holds them too. A problem is a :class:`~nautilus_ai.backtest.config.ConfigError` naming the key
path, so ``nautilus-ai backtest`` exits 2 before spending minutes loading data.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nautilus_trader.backtest.config import BacktestDataConfig

from nautilus_ai.backtest.config import ConfigError, RunFile
from nautilus_ai.config_check import ConfigFieldError, KeyPath, nearest
from nautilus_ai.config_nautilus import check_bar_spec
from nautilus_ai.data.catalog import CatalogInfo, catalog_info
from nautilus_ai.data.catalog_layout import BAR_FOLDER
from nautilus_ai.timefmt import utc_minute

__all__ = ["check_report_dir", "loaded_bar_types", "preflight"]


def loaded_bar_types(config: BacktestDataConfig) -> list[str]:
    """The bar types a data config loads (``bar_types``, or ``instrument_id(s)`` + ``bar_spec``)."""
    if config.bar_types:
        return [str(b) for b in config.bar_types]
    if config.bar_spec:
        spec = str(check_bar_spec(str(config.bar_spec)))
        ids = [str(config.instrument_id)] if config.instrument_id else []
        ids += [str(i) for i in config.instrument_ids or []]
        return [f"{i}-{spec}-EXTERNAL" for i in ids]
    return []


def preflight(run_file: RunFile) -> None:
    """Refuse a run whose data, venues or strategy bars do not line up.

    Raises
    ------
    ConfigError
        ``<file>: <key path>: <problem>``.
    """
    try:
        _check(run_file)
    except ConfigFieldError as exc:
        raise ConfigError(f"{run_file.path}: {exc}", exc) from None


def check_report_dir(run_file: RunFile) -> None:
    """Refuse a ``report_dir`` the report cannot be written into (a file, or under one, or a
    folder this user cannot write), before the run rather than after it.

    Raises
    ------
    ConfigError
        ``<file>: report_dir: <problem> (received ...)``.
    """
    import os

    folder = Path(run_file.report_dir)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    problem = ""
    if existing is not None and not existing.is_dir():
        problem = f"{existing} is a file, not a folder"
    elif existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable"
    if problem:
        error = ConfigFieldError(("report_dir",), problem, received=str(run_file.report_dir))
        raise ConfigError(f"{run_file.path}: {error}", error)


def _check(run_file: RunFile) -> None:
    run = run_file.run
    venues = [v.name for v in run.venues]
    if len(venues) > 1:
        raise ConfigFieldError(
            ("run", "venues", 1),
            f"a second venue ({', '.join(str(v) for v in venues)}): the run's report (equity "
            f"curve, statistics, reconciliation with the account) reads one account, "
            f"{venues[0]}'s, so the other venue's fills would be marked against it; run one "
            "venue per run file",
            received=str(venues[1]),
        )
    loaded: dict[str, KeyPath] = {}
    catalogs: dict[str, CatalogInfo] = {}
    instruments_by_venue: dict[str, list[str]] = {}
    for index, data in enumerate(run.data):
        where: KeyPath = ("run", "data", index)
        info = _catalog(data.catalog_path, data.catalog_fs_protocol, (*where, "catalog_path"))
        if info is not None:
            catalogs[str(data.catalog_path)] = info
        instruments = [str(data.instrument_id)] if data.instrument_id else []
        instruments += [str(i) for i in data.instrument_ids or []]
        for instrument in instruments:
            _venue_configured(instrument, venues, (*where, "instrument_id"))
            instruments_by_venue.setdefault(instrument.rsplit(".", 1)[-1], []).append(instrument)
            if info is not None and instrument not in info.instruments:
                raise ConfigFieldError(
                    (*where, "instrument_id"),
                    f"instrument not in the catalog {data.catalog_path} (it has: "
                    f"{', '.join(info.instruments) or 'none'})",
                    received=instrument,
                    suggestion=nearest(instrument, info.instruments),
                )
        for position, bar_type in enumerate(loaded_bar_types(data)):
            key = (*where, "bar_types", position) if data.bar_types else (*where, "bar_spec")
            loaded[bar_type] = key
            if info is not None:
                _bars_stored(info, bar_type, str(data.catalog_path), key)
        if data.start_time is not None and data.end_time is not None:
            start, end = _ns(data.start_time), _ns(data.end_time)
            if end < start:
                raise ConfigFieldError(
                    (*where, "end_time"),
                    f"is before start_time ({data.start_time})",
                    received=data.end_time,
                )
        if info is not None:
            for bar_type in loaded_bar_types(data):
                _bars_in_window(info, bar_type, data, where)
    _commission_minimum_currency(run_file, instruments_by_venue)
    _single_currency_balances(run_file)
    engine = run.engine
    if not (engine and (engine.strategies or engine.actors)):
        raise ConfigFieldError(
            ("run", "engine", "strategies"),
            "no strategy and no actor: the run would replay the data and trade nothing (is "
            "the strategies list indented under run.engine?)",
            received=list(engine.strategies) if engine else None,
        )
    for index, strategy in enumerate(engine.strategies):
        where = ("run", "engine", "strategies", index, "config")
        config: Mapping[str, Any] = strategy.config
        strategy_instrument = config.get("instrument_id")
        if isinstance(strategy_instrument, str):
            _venue_configured(strategy_instrument, venues, (*where, "instrument_id"))
        strategy_bar_type = config.get("bar_type")
        if isinstance(strategy_bar_type, str) and strategy_bar_type not in loaded:
            raise ConfigFieldError(
                (*where, "bar_type"),
                f"no data config loads these bars, so the strategy would see none (loaded: "
                f"{', '.join(loaded) or 'no bars'})",
                received=strategy_bar_type,
                suggestion=nearest(strategy_bar_type, list(loaded)),
            )
        own_catalog = config.get("catalog_path")
        if isinstance(own_catalog, str) and isinstance(strategy_bar_type, str):
            info = catalogs.get(own_catalog) or _catalog(
                own_catalog, None, (*where, "catalog_path")
            )
            if info is not None:
                _bars_stored(info, strategy_bar_type, own_catalog, (*where, "catalog_path"))
        if run_file.sample == "out-of-sample" and isinstance(strategy_bar_type, str):
            _model_not_fitted_on_the_run(run_file, catalogs, strategy_bar_type, config)
        feature_log = config.get("feature_log")
        if isinstance(feature_log, Mapping):
            _feature_log_writable(feature_log, (*where, "feature_log"))
        if isinstance(feature_log, Mapping) and isinstance(strategy_bar_type, str):
            _feature_log_free(run_file, feature_log, strategy_bar_type, (*where, "feature_log"))
        if isinstance(strategy_instrument, str) and not config.get("observe_only"):
            _balance_to_size_from(run_file, strategy_instrument, index)


def _feature_log_writable(feature_log: Mapping[str, Any], where: KeyPath) -> None:
    """A decision log into a catalog that cannot be written ran the whole backtest, kept every
    row in memory and failed at the end ("feature log incomplete"). Proven here as an import
    proves its catalog (:func:`~nautilus_ai.data.swap.check_writable`), creating nothing."""
    from nautilus_ai.data.swap import CatalogNotWritableError, check_writable

    catalog = feature_log.get("catalog_path")
    if not isinstance(catalog, str) or not catalog:
        return
    try:
        check_writable(Path(catalog), create=False)
    except CatalogNotWritableError as exc:
        raise ConfigFieldError(
            (*where, "catalog_path"),
            f"cannot write into {exc.folder} ({exc.reason}): every decision of the run would "
            "be lost at its end; make it writable or log into another catalog",
            received=catalog,
        ) from None


def _feature_log_free(
    run_file: RunFile, feature_log: Mapping[str, Any], bar_type: str, where: KeyPath
) -> None:
    """A decision log whose ``run_id`` already holds rows at or after the run's first bar: its
    parts are never rewritten, so the run wrote none of its rows and failed at the end, after
    ``--check`` had said OK. (A later window under the same id, a resumed run, is fine.)"""
    from nautilus_ai.catalog.schema import OUTCOME_DIR, SNAPSHOT_DIR
    from nautilus_ai.catalog.writer import last_stored_ts_init
    from nautilus_ai.data.catalog import window_rows

    run_id, catalog = feature_log.get("run_id"), feature_log.get("catalog_path")
    if not isinstance(run_id, str) or not isinstance(catalog, str):
        return  # no run id: a new folder per run
    stored = [
        last_stored_ts_init(catalog, folder, run_id) for folder in (SNAPSHOT_DIR, OUTCOME_DIR)
    ]
    last = max((ts for ts in stored if ts is not None), default=None)
    if last is None:
        return
    for data in run_file.run.data:
        if bar_type not in loaded_bar_types(data):
            continue
        start = _ns(data.start_time) if data.start_time is not None else None
        end = _ns(data.end_time) if data.end_time is not None else None
        clash = window_rows(data.catalog_path, BAR_FOLDER, bar_type, start, min(last, end or last))
        if clash.rows:
            raise ConfigFieldError(
                (*where, "run_id"),
                f"the catalog {catalog} already holds a decision log of run {run_id!r} up to "
                f"{utc_minute(last)} UTC, and this run's bars start before that: its rows would "
                "all be refused (logs are never rewritten); use a new run_id, or leave it out "
                "for a new one per run",
                received=run_id,
            )


def _balance_to_size_from(run_file: RunFile, instrument: str, strategy: int) -> None:
    """A trading strategy sizes from its account's balance in the account currency (the venue's
    ``base_currency``, else the instrument's quote currency): with none of it (``0 USD``, or
    only ``EUR`` on a USD account) every entry was sized to zero, and ``--check`` said OK."""
    venue_name = instrument.rsplit(".", 1)[-1]
    for index, venue in enumerate(run_file.run.venues):
        if str(venue.name) != venue_name:
            continue
        symbol = instrument.rsplit(".", 1)[0]
        quote = symbol.split("/")[1] if symbol.count("/") == 1 else None
        currency = str(venue.base_currency) if venue.base_currency else quote
        if currency is None:
            return  # an instrument whose quote currency its id does not tell
        balances = [str(b).split() for b in venue.starting_balances or []]
        held = sum(
            float(parts[0]) for parts in balances if len(parts) == 2 and parts[1] == currency
        )
        if held > 0:
            return
        source = "the venue's base_currency" if venue.base_currency else f"{symbol}'s quote"
        raise ConfigFieldError(
            ("run", "venues", index, "starting_balances"),
            f"holds no {currency}: run.engine.strategies[{strategy}] sizes its orders from the "
            f"account's {currency} balance ({source}), so every entry would be sized to zero "
            f"(give a positive {currency} balance, or set observe_only)",
            received=[str(b) for b in venue.starting_balances or []],
        )


def _model_not_fitted_on_the_run(
    run_file: RunFile,
    catalogs: Mapping[str, CatalogInfo],
    bar_type: str,
    config: Mapping[str, Any],
) -> None:
    """A run labelled out-of-sample must not trade on bars inside the model's training or
    validation window (its card's ``train_window`` / ``validation_window``): the report would
    call an in-sample result out-of-sample."""
    from nautilus_ai.models.fitted import fitted_overlap

    paths = _model_paths(config.get("predictor"))
    if not paths:
        return
    for index, data in enumerate(run_file.run.data):
        if bar_type not in loaded_bar_types(data):
            continue
        info = catalogs.get(str(data.catalog_path))
        stored = _stored_span(info, bar_type) if info is not None else None
        start = _ns(data.start_time) if data.start_time is not None else None
        end = _ns(data.end_time) if data.end_time is not None else None
        if start is None and stored is not None:
            start = stored[0]
        if end is None and stored is not None:
            end = stored[1]
        if start is None or end is None:
            continue
        overlaps = (fitted_overlap(path, start, end + 1) for path in paths)  # end inclusive
        overlap = next((o for o in overlaps if o is not None), None)
        if overlap is not None:
            raise ConfigFieldError(
                ("sample",),
                f"the run's bars ({utc_minute(start)} to {utc_minute(end)} UTC, "
                f"run.data[{index}]) overlap {overlap.describe()}: an in-sample result; move "
                f"start_time to {utc_minute(overlap.end_ns)} or later, or label the run "
                "in-sample",
                received=run_file.sample,
            )


def _single_currency_balances(run_file: RunFile) -> None:
    """A venue with a ``base_currency`` keeps a single-currency account: Nautilus refuses
    starting balances in several currencies when it builds the engine, after ``--check`` had
    said OK."""
    for index, venue in enumerate(run_file.run.venues):
        balances = [str(b) for b in venue.starting_balances or []]
        currencies = list(dict.fromkeys(b.split()[-1] for b in balances if b.split()))
        if venue.base_currency and len(currencies) > 1:
            raise ConfigFieldError(
                ("run", "venues", index, "starting_balances"),
                f"holds {', '.join(currencies)}, but the venue's base_currency "
                f"{venue.base_currency} makes a single-currency account (Nautilus refuses it); "
                f"keep one {venue.base_currency} balance, or set base_currency to null for a "
                "multi-currency account",
                received=balances,
            )


def _model_paths(predictor: Any) -> list[str]:
    """The ``path`` of the predictor config and of every backend nested in it (a fallback
    chain's ``backends``, an ensemble's ``members``, a cache's ``backend``): a model trained on
    the run's bars inside a chain was not checked."""
    if isinstance(predictor, Mapping):
        own = predictor.get("path")
        paths = [own] if isinstance(own, str) else []
        for value in predictor.values():
            paths += _model_paths(value)
        return paths
    if isinstance(predictor, list | tuple):
        return [path for item in predictor for path in _model_paths(item)]
    return []


def _commission_minimum_currency(run_file: RunFile, instruments: Mapping[str, list[str]]) -> None:
    """FXCommissionFeeModel charges its ``minimum`` only in the instrument's quote currency and
    skipped one in another currency without a word ('2.00 EUR' on EUR/USD: no minimum)."""
    for index, venue in enumerate(run_file.run.venues):
        fee = venue.fee_model
        path = str(getattr(fee, "fee_model_path", "") or "")
        config = getattr(fee, "config", None)
        if not path.endswith(":FXCommissionFeeModel") or not isinstance(config, Mapping):
            continue
        minimum = str(config.get("minimum", "2.00 USD")).split()
        currency = minimum[-1] if len(minimum) == 2 else None
        for instrument in instruments.get(str(venue.name), []):
            symbol = instrument.rsplit(".", 1)[0]
            quote = symbol.split("/")[1] if symbol.count("/") == 1 else None
            if currency is not None and quote is not None and quote != currency:
                raise ConfigFieldError(
                    ("run", "venues", index, "fee_model", "config", "minimum"),
                    f"is in {currency}, but {instrument} is quoted in {quote}: the minimum "
                    f"would never be charged (give it in {quote})",
                    received=config.get("minimum"),
                )


def _catalog(path: Any, protocol: str | None, where: KeyPath) -> CatalogInfo | None:
    if protocol not in (None, "file", "local"):
        return None  # a remote file system: checked when Nautilus opens it
    root = Path(str(path))
    if not root.is_dir():
        raise ConfigFieldError(where, "no catalog at this path", received=str(path))
    try:
        return catalog_info(root)
    except (OSError, ValueError) as exc:
        raise ConfigFieldError(
            where, f"cannot read the catalog: {exc}", received=str(path)
        ) from None


def _bars_stored(info: CatalogInfo, bar_type: str, catalog: str, where: KeyPath) -> None:
    stored = [d.identifier for d in info.datasets if d.data_type == "bar" and d.rows]
    if bar_type not in stored:
        raise ConfigFieldError(
            where,
            f"the catalog {catalog} holds no {bar_type} bars (it has: "
            f"{', '.join(stored) or 'no bars'})",
            suggestion=nearest(bar_type, stored),
        )


def _stored_span(info: CatalogInfo, bar_type: str) -> tuple[int, int] | None:
    """The first and last stored ``bar_type`` bar (UTC ns) over the catalog's files, or
    ``None`` when it holds none."""
    spans = [
        (d.first_ns, d.last_ns)
        for d in info.datasets
        if d.data_type == "bar" and d.identifier == bar_type and d.first_ns is not None
    ]
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans if b is not None)


def _bars_in_window(info: CatalogInfo, bar_type: str, data: Any, where: KeyPath) -> None:
    """A window that holds no stored bar loads none: the run could only fail (zero bars).

    The window is checked against the bars themselves (:func:`~nautilus_ai.data.catalog.
    window_rows`, the ``ts_init`` column only), not only against the first and last stored bar:
    a window inside the stored span can still hold none (a weekend, a gap in the data).
    ``backtest --check`` and the run itself (:func:`preflight` runs first) share this check.
    """
    from nautilus_ai.data.catalog import window_rows

    stored = _stored_span(info, bar_type)
    if stored is None or (data.start_time is None and data.end_time is None):
        return
    first, last = stored
    start = _ns(data.start_time) if data.start_time is not None else None
    end = _ns(data.end_time) if data.end_time is not None else None
    gap = ""
    if start is not None and start > last:
        key, received = "start_time", data.start_time
    elif end is not None and end < first:
        key, received = "end_time", data.end_time
    else:  # inside the stored span: count the bars the window holds
        found = window_rows(info.path, BAR_FOLDER, bar_type, start, end)
        if found.rows:
            return
        key = "start_time" if data.start_time is not None else "end_time"
        received = data.start_time if key == "start_time" else data.end_time
        gap = (
            f"; the window falls in a gap of the data (a weekend?), the nearest bars are at "
            f"{_moment(found.before_ns)} and {_moment(found.after_ns)} UTC"
        )
    window = (
        f"{_moment(start) if start is not None else 'the first bar'} to "
        f"{_moment(end) if end is not None else 'the last bar'}"
    )
    raise ConfigFieldError(
        (*where, key),
        f"the window ({window} UTC) holds no {bar_type} bars: the catalog holds them from "
        f"{utc_minute(first)} to {utc_minute(last)} UTC{gap}",
        received=received,
    )


def _moment(ns: int | None) -> str:
    return "none" if ns is None else utc_minute(ns)


def _venue_configured(instrument: str, venues: list[str], where: KeyPath) -> None:
    venue = instrument.rsplit(".", 1)[-1]
    if venue not in venues:
        raise ConfigFieldError(
            where,
            f"its venue {venue!r} has no venue config under run.venues (configured: "
            f"{', '.join(venues) or 'none'})",
            received=instrument,
        )


def _ns(value: str | int) -> int:
    import pandas as pd

    if isinstance(value, int):
        return value
    return int(pd.Timestamp(value).value)
