"""Build and run a ``TradingNode`` from a live config (:mod:`nautilus_ai.live.config`).

``nautilus-ai live CONFIG`` calls :func:`run_live`; ``nautilus-ai live CONFIG --check`` calls
:func:`prepare_live`, which is also the first thing :func:`run_live` does: every check a real
start makes before it connects anywhere runs in both (each strategy built with its predictor,
duplicate strategy ids, the control plane's secret and Redis URL, the trade log's folder, each
replay client's catalog, instrument, bar types and window, and that every strategy's venue has an
execution client and its instrument a data client). A problem is a
:class:`~nautilus_ai.live.config.LiveConfigError` naming the key path.

The node runs on the calling thread (it owns the asyncio loop and the SIGINT / SIGTERM
handlers) until it is stopped: by a signal, by ``max_runtime_secs``, when every replay data
client has emitted its last bar (``stop_after_replay``), or when a replay client's feed fails
(the run then fails). On the way out the runner collects each strategy's control status and
the controller's command outcomes, then disposes of the node.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from nautilus_trader.live.node import TradingNode

from nautilus_ai.adapters.replay import REPLAY_FINISHED_TOPIC, ReplayDataClientConfig
from nautilus_ai.config_check import ConfigFieldError, KeyPath, nearest
from nautilus_ai.control import Controllable, json_safe
from nautilus_ai.data.catalog_layout import BAR_FOLDER, QUOTE_FOLDER
from nautilus_ai.live.config import CONTROLLER_PATH, LiveConfigError, LiveRunFile
from nautilus_ai.live.trade_log import TradeLogActor
from nautilus_ai.strategies.controller import CONTROL_REFUSED_TOPIC, RemoteController

if TYPE_CHECKING:
    from nautilus_ai.control.presence import ClaimKeeper, TraderClaim

__all__ = [
    "LiveOutcome",
    "build_node",
    "cancel_pending_tasks",
    "check_databases",
    "check_trader_claim",
    "claim_databases",
    "dispose_node",
    "prepare_live",
    "run_live",
]


@dataclass
class LiveOutcome:
    """What a finished live run reports."""

    name: str
    trader_id: str
    stopped_by: str
    seconds: float
    strategies: dict[str, dict[str, Any]] = field(default_factory=dict)
    control: list[dict[str, Any]] = field(default_factory=list)
    replay: dict[str, dict[str, Any]] = field(default_factory=dict)
    trade_log: Path | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``"ok"``, or ``"failed"`` when a strategy never ran or stopped while the node ran."""
        return "failed" if self.reasons else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "name": self.name,
            "trader_id": self.trader_id,
            "stopped_by": self.stopped_by,
            "seconds": round(self.seconds, 3),
            "strategies": self.strategies,
            "control": self.control,
            "replay": self.replay,
            "trade_log": str(self.trade_log) if self.trade_log else None,
        }


def prepare_live(run_file: LiveRunFile, env: Mapping[str, str] | None = None) -> list[str]:
    """Every check a real start makes before it connects; returns what was checked.

    Raises
    ------
    LiveConfigError
        ``<file>: <key path>: <problem>``.
    """
    environ = os.environ if env is None else env
    try:
        return _prepare(run_file, environ)
    except ConfigFieldError as exc:
        raise LiveConfigError(f"{run_file.path}: {exc}") from None


def _prepare(run_file: LiveRunFile, env: Mapping[str, str]) -> list[str]:
    done: list[str] = []
    done += _check_strategies(run_file)
    done += _check_control_targets(run_file)
    done += _check_control(run_file, env)
    done += _check_trade_log(run_file)
    provided, bar_types, replay_done = _check_replay_clients(run_file)
    done += replay_done
    done += _check_venues(run_file, provided, bar_types)
    done += _check_bar_age(run_file, bar_types)
    done += _check_sandbox_quotes(run_file)
    return done


def _check_strategies(run_file: LiveRunFile) -> list[str]:
    """Build each strategy and its predictor (what the node does at start); no duplicate ids."""
    from nautilus_trader.trading.config import StrategyFactory

    from nautilus_ai.strategies.ai_pattern_control import build_as_on_start

    done = []
    seen: dict[str, int] = {}
    for index, importable in enumerate(run_file.node.strategies):
        where: KeyPath = ("node", "strategies", index)
        strategy = StrategyFactory.create(importable)
        sid = strategy.id.value
        if sid in seen:
            raise ConfigFieldError(
                (*where, "config", "order_id_tag"),
                f"strategy id {sid} is already used by node.strategies[{seen[sid]}]; give each "
                "strategy its own order_id_tag",
                received=importable.config.get("order_id_tag"),
            )
        seen[sid] = index
        try:
            built = build_as_on_start(strategy, importable.config)
        except Exception as exc:  # the build on_start would run: any error stops it
            raise ConfigFieldError(
                (*where, "config", "predictor"),
                f"cannot be built: {type(exc).__name__}: {' '.join(str(exc).split())}",
            ) from None
        if built is not None:
            done.append(f"strategy {sid}: built, predictor {built.model_id}")
            built.close()
        else:
            done.append(f"strategy {sid}: built")
    return done


def _check_control_targets(run_file: LiveRunFile) -> list[str]:
    """Every strategy id the controller names (``strategy_ids``, each schedule entry's
    ``strategy_id``) is one of the node's: a typo there would have every command for the real
    strategy refused ("unknown strategy") or a scheduled pause never applied, in a node that
    started without a word."""
    from nautilus_trader.trading.config import StrategyFactory

    controller = run_file.node.controller
    if controller is None or controller.controller_path != CONTROLLER_PATH:
        return []
    config = controller.config
    from_control = run_file.raw.get("control") is not None
    where: KeyPath = ("control",) if from_control else ("node", "controller", "config")
    ids = [StrategyFactory.create(s).id.value for s in run_file.node.strategies]
    named: list[tuple[KeyPath, Any]] = [
        ((*where, "strategy_ids", i), sid) for i, sid in enumerate(config.get("strategy_ids") or [])
    ]
    named += [
        ((*where, "schedule", i, "strategy_id"), entry.get("strategy_id"))
        for i, entry in enumerate(config.get("schedule") or [])
        if isinstance(entry, Mapping)
    ]
    for path, sid in named:
        if sid not in ids:
            raise ConfigFieldError(
                path,
                f"no strategy of this node has that id (node.strategies: "
                f"{', '.join(ids) or 'none'})",
                received=sid,
                suggestion=nearest(str(sid), ids),
            )
    if not named:
        return []
    return [f"control: the {len(named)} strategy id(s) it names are the node's"]


def _check_control(run_file: LiveRunFile, env: Mapping[str, str]) -> list[str]:
    from nautilus_ai.control import RedisSettings, load_secret, redis_url_from_env

    controller = run_file.node.controller
    if controller is None or not controller.config.get("listen"):
        return []
    config = controller.config
    secret_env = str(config.get("secret_env") or "NAUTILUS_AI_CONTROL_SECRET")
    try:
        secret = load_secret(env, secret_env)
    except Exception as exc:  # MissingSecretError: unset or too short
        raise ConfigFieldError(("control", "secret_env"), str(exc), received=secret_env) from None
    url = redis_url_from_env(config.get("redis_url"), env)
    try:
        settings = RedisSettings(url=url)
    except ValueError as exc:
        raise ConfigFieldError(("control", "redis_url"), str(exc)) from None
    return [
        f"control: secret ${secret_env} ({len(secret)} bytes), Redis {settings.redacted_url} "
        "(not contacted)"
    ]


def _check_trade_log(run_file: LiveRunFile) -> list[str]:
    path = run_file.run.trade_log
    if path is None:
        return []
    where: KeyPath = ("run", "trade_log")
    if path.is_dir():
        raise ConfigFieldError(where, "is a folder; give a file path", received=str(path))
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not _can_write_in(folder):
        raise ConfigFieldError(
            where, f"cannot be created: {folder} is not a writable folder", received=str(path)
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigFieldError(where, "exists and is not writable", received=str(path))
    return [f"trade log: {path} (folder writable)"]


def _can_write_in(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (a probe file, removed at once: permission
    bits say yes for root on read-only or virtual file systems)."""
    import tempfile

    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".nautilus-ai-check-")
    except OSError:
        return False
    os.close(handle)
    os.unlink(name)
    return True


def _check_replay_clients(
    run_file: LiveRunFile,
) -> tuple[dict[str, set[str]] | None, set[str], list[str]]:
    """Each replay client's catalog holds its instrument and bar types inside its window.

    Returns the instruments each venue's data comes from (``None`` when a client of another
    kind can provide anything), the replayed bar types, and what was checked.
    """
    from nautilus_ai.data.catalog import catalog_info

    provided: dict[str, set[str]] | None = {}
    bar_types: set[str] = set()
    done = []
    for name, spec in run_file.data_clients.items():
        config = spec.config
        where: KeyPath = ("data_clients", name, "config")
        if not isinstance(config, ReplayDataClientConfig):
            provided = _provided_by(config, provided)
            continue
        catalog = Path(config.catalog_path)
        if not catalog.is_dir():
            raise ConfigFieldError(
                (*where, "catalog_path"), "no catalog at this path", received=str(catalog)
            )
        info = catalog_info(catalog)
        if config.instrument_id not in info.instruments:
            raise ConfigFieldError(
                (*where, "instrument_id"),
                f"not in the catalog {catalog} (it has: {', '.join(info.instruments) or 'none'})",
                received=config.instrument_id,
                suggestion=nearest(config.instrument_id, info.instruments),
            )
        stored = {d.identifier: d for d in info.datasets if d.data_type == "bar" and d.rows}
        start = pd.Timestamp(config.start).value if config.start else None
        end = pd.Timestamp(config.end).value if config.end else None
        for position, bar_type in enumerate(config.bar_types):
            dataset = stored.get(bar_type)
            if dataset is None:
                raise ConfigFieldError(
                    (*where, "bar_types", position),
                    f"the catalog {catalog} holds no such bars (it has: "
                    f"{', '.join(stored) or 'no bars'})",
                    received=bar_type,
                    suggestion=nearest(bar_type, list(stored)),
                )
            missed = _missed_bound(dataset, start, end)
            if missed is not None:
                raise ConfigFieldError(
                    (*where, missed),
                    f"no {bar_type} bars in the replay window: {_held(dataset)}",
                    received=config.start if missed == "start" else config.end,
                )
            _check_window_holds_rows(config, catalog, BAR_FOLDER, bar_type, start, end, where)
            bar_types.add(bar_type)
        if config.emit_quotes and config.quotes == "catalog":
            _check_recorded_quotes(config, info, catalog, start, end, where)
        elif config.emit_quotes:
            _check_quote_size(config, catalog, where)
        if provided is not None:
            provided.setdefault(config.instrument_id.rsplit(".", 1)[-1], set()).add(
                config.instrument_id
            )
        done.append(
            f"replay {name}: {config.instrument_id} and {len(config.bar_types)} bar type(s) in "
            f"{catalog}"
        )
    return provided, bar_types, done


def _check_quote_size(config: ReplayDataClientConfig, catalog: Path, where: KeyPath) -> None:
    """The size of the quotes made from bars is one the instrument can hold: before, a size
    beyond Nautilus' largest quantity, or one that rounds to 0 at the instrument's size
    increment, failed the replay at its first quote, once the node had started."""
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    found = ParquetDataCatalog(str(catalog)).instruments(instrument_ids=[config.instrument_id])
    if not found:
        return  # the instrument check above names it
    try:
        found[0].make_qty(config.quote_size)
    except (ValueError, OverflowError) as exc:
        raise ConfigFieldError(
            (*where, "quote_size"),
            f"not a size of {config.instrument_id}: {' '.join(str(exc).split())}",
            received=config.quote_size,
        ) from None


def _check_recorded_quotes(
    config: ReplayDataClientConfig,
    info: Any,
    catalog: Path,
    start: int | None,
    end: int | None,
    where: KeyPath,
) -> None:
    """``quotes: catalog`` needs the instrument's quote ticks inside the replay window."""
    ticks = next(
        (d for d in info.datasets
         if d.data_type == "quote_tick" and d.identifier == config.instrument_id and d.rows),
        None,
    )  # fmt: skip
    if ticks is None:
        raise ConfigFieldError(
            (*where, "quotes"),
            f"the catalog {catalog} holds no quote ticks of {config.instrument_id} (import "
            "them, e.g. nautilus-ai data import dukascopy ..., or use quotes: bars)",
            received=config.quotes,
        )
    if _missed_bound(ticks, start, end) is not None:
        raise ConfigFieldError(
            (*where, "quotes"),
            f"no {config.instrument_id} quote ticks in the replay window: {_held(ticks)}",
            received=config.quotes,
        )
    _check_window_holds_rows(
        config, catalog, QUOTE_FOLDER, config.instrument_id, start, end, where, key="quotes"
    )


def _check_window_holds_rows(
    config: ReplayDataClientConfig,
    catalog: Path,
    folder: str,
    identifier: str,
    start: int | None,
    end: int | None,
    where: KeyPath,
    key: str = "start",
) -> None:
    """The window holds rows, not only the catalog's span around it: a window inside a gap
    (a weekend) passed the first / last check and the replay then failed at once."""
    if start is None and end is None:
        return
    from nautilus_ai.data.catalog import window_rows

    found = window_rows(catalog, folder, identifier, start, end)
    if found.rows:
        return
    what = "bars" if folder == BAR_FOLDER else "quote ticks"
    raise ConfigFieldError(
        (*where, key),
        f"the catalog {catalog} holds no {identifier} {what} between {config.start or 'its first'} "
        f"and {config.end or 'its last'} (the window falls in a gap of the data); the nearest "
        f"are at {_moment(found.before_ns)} (before) and {_moment(found.after_ns)} (after)",
        received=config.quotes if key == "quotes" else config.start,
    )


def _moment(ns: int | None) -> str:
    return "none" if ns is None else str(pd.Timestamp(ns, tz="UTC"))


def _missed_bound(dataset: Any, start: int | None, end: int | None) -> str | None:
    """``"start"`` / ``"end"``: the replay window's bound the catalog's rows all miss, or
    ``None`` when some rows fall inside it."""
    first, last = dataset.first_ns or 0, dataset.last_ns or 0
    if start is not None and last < start:
        return "start"
    if end is not None and first > end:
        return "end"
    return None


def _held(dataset: Any) -> str:
    first, last = dataset.first_ns or 0, dataset.last_ns or 0
    return f"the catalog holds {pd.Timestamp(first, tz='UTC')} .. {pd.Timestamp(last, tz='UTC')}"


def _provided_by(config: Any, provided: dict[str, set[str]] | None) -> dict[str, set[str]] | None:
    """Instruments a non-replay data client loads (``instrument_provider.load_ids``)."""
    if provided is None:
        return None
    load_ids = getattr(getattr(config, "instrument_provider", None), "load_ids", None)
    if not load_ids:
        return None  # it may provide anything: no venue / instrument check
    for instrument in load_ids:
        text = str(instrument)
        provided.setdefault(text.rsplit(".", 1)[-1], set()).add(text)
    return provided


def _check_venues(
    run_file: LiveRunFile, provided: dict[str, set[str]] | None, replayed: set[str]
) -> list[str]:
    """Each strategy's venue has an execution client; its instrument (and, when replayed,
    its bars) come from a data client; each Sandbox venue has market data."""
    exec_venues: set[str] | None = set()
    for spec in run_file.exec_clients.values():
        venue = getattr(spec.config, "venue", None)
        if isinstance(venue, str) and exec_venues is not None:
            exec_venues.add(venue)
            if provided is not None and venue not in provided:
                raise ConfigFieldError(
                    ("exec_clients", spec.name, "config", "venue"),
                    f"no data client provides {venue} instruments, so the simulated venue has "
                    f"no market (data for: {', '.join(sorted(provided)) or 'none'})",
                    received=venue,
                    suggestion=nearest(venue, sorted(provided)),
                )
        else:
            exec_venues = None  # a real venue's client (IB): it routes what it is given
    for index, importable in enumerate(run_file.node.strategies):
        config = importable.config
        where: KeyPath = ("node", "strategies", index, "config")
        instrument = config.get("instrument_id")
        if not isinstance(instrument, str):
            continue
        venue = instrument.rsplit(".", 1)[-1]
        if exec_venues is not None and venue not in exec_venues:
            raise ConfigFieldError(
                (*where, "instrument_id"),
                f"no execution client trades venue {venue} (exec client venues: "
                f"{', '.join(sorted(exec_venues)) or 'none'})",
                received=instrument,
            )
        if provided is not None and instrument not in provided.get(venue, set()):
            known = sorted(i for ids in provided.values() for i in ids)
            raise ConfigFieldError(
                (*where, "instrument_id"),
                f"no data client provides this instrument (provided: {', '.join(known)})",
                received=instrument,
                suggestion=nearest(instrument, known),
            )
        bar_type = config.get("bar_type")
        replays_it = provided is not None and replayed
        if replays_it and isinstance(bar_type, str) and bar_type not in replayed:
            raise ConfigFieldError(
                (*where, "bar_type"),
                f"not replayed by any data client (replayed: {', '.join(sorted(replayed))})",
                received=bar_type,
                suggestion=nearest(bar_type, sorted(replayed)),
            )
    return ["venues: every strategy has an execution client and a data client"]


def _check_bar_age(run_file: LiveRunFile, replayed: set[str]) -> list[str]:
    """A strategy with a bar staleness guard (``max_bar_age_secs``) whose bars come from a live
    feed (not a replay client) sets it. Refused, not warned: without it, the bars a feed
    delivers late after a stall (or a reconnect's backlog) are acted on at prices that are
    gone, and a warning among the checked lines of a headless start goes unread. An offline
    replay feeds historical bars under a live clock on purpose and needs no limit."""
    from nautilus_trader.trading.config import StrategyFactory

    done = []
    for index, importable in enumerate(run_file.node.strategies):
        config = StrategyFactory.create(importable).config
        if not hasattr(config, "max_bar_age_secs"):
            continue  # a strategy without the guard
        bar_type = str(getattr(config, "bar_type", ""))
        if bar_type in replayed:
            continue
        if config.max_bar_age_secs is None:
            raise ConfigFieldError(
                ("node", "strategies", index, "config", "max_bar_age_secs"),
                f"not set, and this strategy's bars ({bar_type}) come from a live feed: after a "
                f"feed stall it would act on stale bars; set it (e.g. {_two_periods(bar_type)} "
                "s: two bar periods)",
            )
        done.append(f"strategy {index}: bars older than {config.max_bar_age_secs:g} s are refused")
    return done


def _two_periods(bar_type: str) -> str:
    from nautilus_trader.model.data import BarType

    try:
        seconds = BarType.from_str(bar_type).spec.timedelta.total_seconds()
    except Exception:  # not a time bar (ticks, volume): no period to go by
        return "120"
    return f"{2 * seconds:g}"


def _check_sandbox_quotes(run_file: LiveRunFile) -> list[str]:
    """A Sandbox venue fed only by replay clients gets quotes from one of them: the Sandbox
    fills against quotes, and a replay emits them only from a BID and an ASK bar type (or its
    recorded quotes). Without, every order is rejected "no market" while the run says ok."""
    from nautilus_trader.adapters.sandbox.config import SandboxExecutionClientConfig

    data = run_file.data_clients.values()
    if any(not isinstance(spec.config, ReplayDataClientConfig) for spec in data):
        return []  # another feed (IB with SandboxQuoteFeed) may bring the quotes
    done = []
    for spec in run_file.exec_clients.values():
        if not isinstance(spec.config, SandboxExecutionClientConfig):
            continue
        venue = spec.config.venue
        feeds = [d for d in data if d.config.instrument_id.rsplit(".", 1)[-1] == venue]
        if not feeds:
            continue  # _check_venues names a venue without data
        quoting = [d.name for d in feeds if _emits_quotes(d.config)]
        if quoting:
            done.append(f"sandbox {spec.name}: quotes from replay {', '.join(quoting)}")
            continue
        config = feeds[0].config
        key = "bar_types" if config.emit_quotes else "emit_quotes"
        raise ConfigFieldError(
            ("data_clients", feeds[0].name, "config", key),
            f"no quotes for the Sandbox venue {venue}, which would reject every order 'no "
            "market': replay a BID and an ASK bar type (quotes are made from both), or "
            "quotes: catalog, with emit_quotes: true",
            received=config.bar_types if config.emit_quotes else config.emit_quotes,
        )
    return done


def _emits_quotes(config: ReplayDataClientConfig) -> bool:
    if not config.emit_quotes:
        return False
    if config.quotes == "catalog":
        return True
    from nautilus_trader.model.data import BarType
    from nautilus_trader.model.enums import PriceType

    sides = {BarType.from_str(bar_type).spec.price_type for bar_type in config.bar_types}
    return {PriceType.BID, PriceType.ASK} <= sides


def check_databases(run_file: LiveRunFile) -> list[str]:
    """Every Redis the node itself uses (``node.cache.database``,
    ``node.message_bus.database``) answers ``PING`` within its own timeout, before the node is
    built.

    Nautilus' adapters connect inside ``TradingNode(...)`` and retry an unreachable server
    without end (seen with 1.221: still waiting after 10 minutes), in native code where neither
    Ctrl-C nor SIGTERM stops the process. The control plane's Redis is not checked here: its
    listener reconnects with back-off while the strategy trades.

    Raises
    ------
    LiveConfigError
        ``<file>: node.cache.database: Redis at host:port did not answer ...``.
    """
    done = []
    for section, problem, address in _database_checks(run_file):
        if problem is not None:
            raise LiveConfigError(
                f"{run_file.path}: node.{section}.database: Redis at {address} {problem}; "
                "start it or give the file the address of one (nothing was started)"
            )
        done.append(f"node.{section}.database: Redis at {address} answered")
    return done


def check_trader_claim(run_file: LiveRunFile, env: Mapping[str, str] | None = None) -> list[str]:
    """No other live node holds this node's trader id on its control plane's Redis (two
    would split the commands between them; :mod:`nautilus_ai.control.presence`).

    Nothing is claimed here (the controller claims at start). A Redis that does not answer is
    not an error: the control plane's listener reconnects and claims the trader then.

    Raises
    ------
    LiveConfigError
        ``<file>: trader T is already live on redis://...: ... held by ...; expires in ...``.
    """
    from redis.exceptions import RedisError

    from nautilus_ai.control import (
        RedisSettings,
        StreamNames,
        TraderClaim,
        TraderClaimedError,
        connect,
        redis_url_from_env,
    )

    controller = run_file.node.controller
    if controller is None or not controller.config.get("listen"):
        return []
    environ = os.environ if env is None else env
    settings = RedisSettings(url=redis_url_from_env(controller.config.get("redis_url"), environ))
    trader = str(run_file.node.trader_id)
    client = connect(settings)
    names = StreamNames(trader)
    try:
        TraderClaim(client, names.presence, trader, where=settings.redacted_url).check()
    except TraderClaimedError as exc:
        raise LiveConfigError(f"{run_file.path}: {exc}") from None
    except (RedisError, OSError):
        return []
    finally:
        client.close()
    return [f"control: no other live node holds trader {trader}"]


def claim_databases(run_file: LiveRunFile) -> list[TraderClaim]:
    """Claim the node's trader id on every Redis it keeps Nautilus' own state in
    (``node.cache.database``, ``node.message_bus.database``; each server once), before the node
    is built: a second node of that trader id there would load and overwrite this one's orders,
    positions and strategy state, with or without a control plane
    (:func:`~nautilus_ai.control.presence.database_claim_key`).

    Returns the held claims (the caller keeps them alive with a
    :class:`~nautilus_ai.control.presence.ClaimKeeper` and releases them when the node is
    disposed).

    Raises
    ------
    LiveConfigError
        ``<file>: node.cache.database: trader T is already live on redis://host:port: ...``,
        or the Redis failed between :func:`check_databases` and the claim. Claims taken before
        the failure are released.
    """
    from nautilus_ai.control.presence import TraderClaim, TraderClaimedError, database_claim_key

    trader = str(run_file.node.trader_id)
    held: list[TraderClaim] = []
    seen: set[str] = set()
    try:
        for section, database in _node_databases(run_file):
            client, address, _ = _redis_client(database, decode_responses=True)
            if address in seen:
                client.close()
                continue
            seen.add(address)
            claim = TraderClaim(
                client, database_claim_key(trader), trader, where=f"redis://{address}"
            )
            try:
                claim.acquire()
            except TraderClaimedError as exc:
                raise LiveConfigError(f"{run_file.path}: node.{section}.database: {exc}") from None
            except Exception as exc:  # the Redis client's errors
                raise LiveConfigError(
                    f"{run_file.path}: node.{section}.database: cannot claim trader {trader} "
                    f"on Redis at {address} ({' '.join(str(exc).split())}); nothing was started"
                ) from None
            held.append(claim)
    except BaseException:
        _release(held)
        raise
    return held


def _release(claims: list[TraderClaim]) -> None:
    for claim in claims:
        with contextlib.suppress(Exception):  # the Redis client's errors: it lapses after its ttl
            claim.release()


def _redis_client(database: Any, *, decode_responses: bool = False) -> tuple[Any, str, float]:
    """``(client, "host:port", timeout)`` for a Nautilus ``DatabaseConfig`` (with ``AUTH`` when
    it has a password), with the config's connection timeout and no retries."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    host = database.host or "127.0.0.1"
    port = int(database.port or 6379)
    # 1.221 names it ``timeout``, 1.231 ``connection_timeout``
    timeout = getattr(database, "connection_timeout", None) or getattr(database, "timeout", None)
    seconds = float(timeout) if timeout else 2.0
    client = redis.Redis(
        host=host,
        port=port,
        username=database.username or None,
        password=database.password or None,
        ssl=bool(database.ssl),
        socket_connect_timeout=seconds,
        socket_timeout=seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        decode_responses=decode_responses,
    )
    return client, f"{host}:{port}", seconds


def _ping_redis(database: Any) -> tuple[str | None, str]:
    """``(problem or None, "host:port")`` after one ``PING`` (:func:`_redis_client`)."""
    import redis

    client, address, seconds = _redis_client(database)
    try:
        client.ping()
    except redis.exceptions.TimeoutError:
        return f"did not answer within {seconds:g} s", address
    except redis.exceptions.AuthenticationError as exc:
        return f"refused the credentials ({' '.join(str(exc).split())})", address
    except redis.exceptions.RedisError as exc:
        return f"cannot be reached ({' '.join(str(exc).split())})", address
    finally:
        client.close()
    return None, address


def build_node(run_file: LiveRunFile) -> TradingNode:
    """A built (not started) node with the config's client factories registered.

    The node gets a fresh event loop (set as the thread's current loop): a disposed node closes
    its loop, so reusing the thread's previous one would fail on a second run in one process.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    node = TradingNode(config=run_file.node, loop=loop)
    for name, spec in run_file.data_clients.items():
        node.add_data_client_factory(name, spec.factory)
    for name, spec in run_file.exec_clients.items():
        node.add_exec_client_factory(name, spec.factory)
    node.build()
    return node


def run_live(
    run_file: LiveRunFile,
    *,
    on_built: Callable[[TradingNode], None] | None = None,
) -> LiveOutcome:
    """Run the node until it is stopped; returns the outcome (the node is disposed).

    ``on_built`` is called with the built node before it starts (tests use it to reach the
    strategies and the loop).
    """
    started = time.monotonic()
    prepare_live(run_file)  # the checks `--check` runs, before anything connects
    check_databases(run_file)
    check_trader_claim(run_file)
    claims = claim_databases(run_file)
    keepers: list[ClaimKeeper] = []
    try:
        return _run_claimed(run_file, started, on_built, claims, keepers)
    finally:
        for keeper in keepers:  # after the node was disposed: its state is written
            keeper.stop()
        _release(claims)


def _run_claimed(
    run_file: LiveRunFile,
    started: float,
    on_built: Callable[[TradingNode], None] | None,
    claims: list[TraderClaim],
    keepers: list[ClaimKeeper],
) -> LiveOutcome:
    """:func:`run_live` once the trader is claimed on the node's databases: build, run,
    dispose; the claims are refreshed while it runs (their keepers go into ``keepers``)."""
    from nautilus_ai.control.presence import ClaimKeeper

    node = build_node(run_file)
    loop = node.kernel.loop
    reason = ["signal or external stop"]
    stopping = [False]

    def stop(why: str) -> None:
        watch.record()  # a strategy that stopped since the last look is still counted
        if not stopping[0]:
            stopping[0] = True
            reason[0] = why
            node.kernel.logger.info(f"Stopping: {why}")
            node.stop()

    replay_names = {
        name
        for name, spec in run_file.data_clients.items()
        if isinstance(spec.config, ReplayDataClientConfig)
    }
    replay: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    options = run_file.run

    def on_replay_finished(message: Any) -> None:
        info = json.loads(message)
        replay[info["client_id"]] = info
        if "error" in info:  # the feed broke: nothing more will come
            failed.append(f"replay data client {info['client_id']} failed: {info['error']}")
            loop.call_soon(stop, f"replay {info['client_id']} failed")
        elif options.stop_after_replay and replay_names <= set(replay):
            loop.call_later(options.replay_grace_secs, stop, "replay finished")

    def on_control_refused(message: Any) -> None:  # another node took the trader id first
        failed.append(f"control plane refused: {message}")
        loop.call_soon(stop, "control plane refused")

    def on_claim_lost(message: str) -> None:  # a keeper's thread: another node took the trader
        failed.append(f"trader claim lost: {message}")
        with contextlib.suppress(RuntimeError):  # the loop closed: the node is stopping anyway
            loop.call_soon_threadsafe(stop, "trader claim lost")

    node.kernel.msgbus.subscribe(REPLAY_FINISHED_TOPIC, on_replay_finished)
    node.kernel.msgbus.subscribe(CONTROL_REFUSED_TOPIC, on_control_refused)
    for claim in claims:
        keepers.append(ClaimKeeper(claim, on_claim_lost))
        keepers[-1].start()
    watch = _StrategyWatch(node, lambda: stopping[0], stop)
    loop.call_soon(watch.check)
    if options.max_runtime_secs is not None:
        loop.call_later(options.max_runtime_secs, stop, "max runtime")
    if on_built is not None:
        on_built(node)
    # A full (generation 2) collection walks every object the node built: ~100 ms measured
    # here, a stall of the event loop mid-session. Freeze them, so later collections scan only
    # what the session allocates (BENCHMARKS.md, issue 15).
    trade_logs = [actor for actor in node.trader.actors() if isinstance(actor, TradeLogActor)]
    gc.collect()
    gc.freeze()
    try:
        node.run(raise_exception=True)
        outcome = _collect(node, run_file, reason[0], time.monotonic() - started, replay)
        outcome.reasons = failed + watch.reasons() + _left_open(node) + _schedule_problems(node)
    finally:
        gc.unfreeze()
        cancel_pending_tasks(loop)
        lost = dispose_node(node, run_file)
        asyncio.set_event_loop(None)
    if lost is not None:
        outcome.reasons.append(lost)
    # after the dispose: the log's last record (stop) is written then
    outcome.reasons += [log.problem for log in trade_logs if log.problem is not None]
    return outcome


#: Seconds a node whose Redis went away is given to dispose (the server may come back).
DISPOSE_WAIT_SECS = 10.0


def dispose_node(node: TradingNode, run_file: LiveRunFile) -> str | None:
    """``node.dispose()``; ``None``, or what was lost when a Redis the node writes to
    (``node.cache.database``, ``node.message_bus.database``) does not answer as it stops.

    Nautilus' adapters flush to that server inside ``dispose`` and retry without end, in native
    code that holds the GIL (no other thread runs) and that Ctrl-C and SIGTERM cannot
    interrupt: a node whose Redis went away mid-session could never exit. So the server is
    given :data:`DISPOSE_WAIT_SECS` to come back; if it does not, the node is not disposed (its
    native writer keeps retrying in the background until the process ends).
    """
    give_up = time.monotonic() + DISPOSE_WAIT_SECS
    while True:
        down = [check for check in _database_checks(run_file) if check[1] is not None]
        if not down:
            node.dispose()
            return None
        if time.monotonic() >= give_up:
            break
        time.sleep(0.5)
    section, problem, address = down[0]
    return (
        f"node.{section}.database: Redis at {address} {problem} when the node stopped (waited "
        f"{DISPOSE_WAIT_SECS:g} s); what the node had not written to it yet (the strategies' "
        "saved state, recent orders and positions) is lost, and the node was not disposed"
    )


def _database_checks(run_file: LiveRunFile) -> list[tuple[str, str | None, str]]:
    """``(section, problem or None, "host:port")`` for each Redis the node itself uses."""
    return [(section, *_ping_redis(database)) for section, database in _node_databases(run_file)]


def _node_databases(run_file: LiveRunFile) -> list[tuple[str, Any]]:
    """``(section, DatabaseConfig)`` of each Redis the node itself uses (``node.cache`` and
    ``node.message_bus``, in that order)."""
    found = []
    for section in ("cache", "message_bus"):
        database = getattr(getattr(run_file.node, section, None), "database", None)
        if database is not None and getattr(database, "type", "redis") == "redis":
            found.append((section, database))
    return found


class _StrategyWatch:
    """Looks at the strategies' states while the trader runs (every 0.25 s on the node's loop,
    and once more when the run is asked to stop).

    While the trader is running every strategy should be: one that is not stopped itself (an
    error, no usable model...) or never started, and the run failed, whatever else happened.
    When no strategy is left running the node is stopped, since nothing would trade any more.
    Once the trader itself stops (a signal, ``max runtime``, the end of a replay) the watch ends.
    """

    PERIOD_SECS = 0.25

    def __init__(
        self, node: TradingNode, stopping: Callable[[], bool], stop: Callable[[str], None]
    ) -> None:
        self._node = node
        self._stopping = stopping
        self._stop = stop
        self._trader_ran = False
        self._not_running: dict[str, str] = {}

    def check(self) -> None:
        if self._stopping():
            return
        if not self._node.trader.is_running:
            if not self._trader_ran:  # not started yet
                self._node.kernel.loop.call_later(self.PERIOD_SECS, self.check)
            return  # the trader is stopping: the strategies stop with it
        if self.record() and not any(s.is_running for s in self._node.trader.strategies()):
            self._stop("every strategy stopped")
            return
        self._node.kernel.loop.call_later(self.PERIOD_SECS, self.check)

    def record(self) -> bool:
        """Note the strategies not running while the trader runs; True if there are any."""
        if not self._node.trader.is_running:
            return bool(self._not_running)
        self._trader_ran = True
        for strategy in self._node.trader.strategies():
            sid = strategy.id.value
            if not strategy.is_running and sid not in self._not_running:
                self._not_running[sid] = strategy.state.name
                self._node.kernel.logger.error(
                    f"{sid} is {strategy.state.name} while the trader is running"
                )
        return bool(self._not_running)

    def reasons(self) -> list[str]:
        reasons = [
            f"{sid} stopped while the node was running (state {state}); see its log"
            if state == "STOPPED"
            else f"{sid} did not run (state {state}); see its log"
            for sid, state in sorted(self._not_running.items())
        ]
        if not self._trader_ran:
            reasons.append("the trader never ran; see the log")
        return reasons


def cancel_pending_tasks(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and await what is still pending on the stopped node's loop before it is closed.

    ``TradingNode.dispose`` closes the loop with the actors' ``ActorExecutor`` worker tasks still
    pending; on Python 3.12 (with NautilusTrader 1.231) each is then destroyed at garbage
    collection with "Task was destroyed but it is pending" and a "RuntimeError: Event loop is
    closed" from inside the task. Cancelling them while the loop can still run ends them cleanly.
    """
    if loop.is_closed() or loop.is_running():
        return
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _schedule_problems(node: TradingNode) -> list[str]:
    """The control schedule's entries that were due while the node ran and were not applied
    (rejected, failed): the run did not do what its config asked. Entries due after the stop
    are not counted (a live node may be stopped at any time)."""
    now = node.kernel.clock.timestamp_ns()
    return [
        problem
        for actor in node.trader.actors()
        if isinstance(actor, RemoteController)
        for problem in actor.schedule_problems(due_by_ns=now)
    ]


def _left_open(node: TradingNode) -> list[str]:
    """A reason per strategy that was to close its positions on stop and still holds one (the
    closing order was refused or not filled before the node stopped): the run did not do what
    was asked, and the position is still open at the venue."""
    reasons = []
    for strategy in node.trader.strategies():
        config = strategy.config
        if not getattr(config, "close_positions_on_stop", False):
            continue
        if getattr(config, "observe_only", False):
            continue
        held = [
            f"{position.instrument_id} {position.side.name} {position.quantity}"
            for position in node.cache.positions_open(strategy_id=strategy.id)
        ]
        if held:
            reasons.append(
                f"{strategy.id} still holds a position after the stop ({', '.join(held)}) "
                f"although close_positions_on_stop is set: the closing order did not fill; "
                f"check the account"
            )
    return reasons


def _collect(
    node: TradingNode,
    run_file: LiveRunFile,
    stopped_by: str,
    seconds: float,
    replay: dict[str, dict[str, Any]],
) -> LiveOutcome:
    outcome = LiveOutcome(
        name=run_file.name,
        trader_id=node.trader_id.value,
        stopped_by=stopped_by,
        seconds=seconds,
        replay=replay,
        trade_log=run_file.run.trade_log,
    )
    for strategy in node.trader.strategies():
        status: dict[str, Any] = {"state": strategy.state.name}
        if isinstance(strategy, Controllable):
            try:
                status.update(json_safe(strategy.control_status()))
            except Exception as exc:
                status["status_error"] = f"{type(exc).__name__}: {exc}"
        outcome.strategies[strategy.id.value] = status
    for actor in node.trader.actors():
        if isinstance(actor, RemoteController):
            outcome.control = [reply.model_dump(mode="json") for reply in actor.replies]
    return outcome
