"""``FeatureSpec``: the versioned, hashed definition of the feature vector.

Every parameter that changes a feature value lives here and feeds :attr:`FeatureSpec.hash`, so
a stored model can refuse a feature vector computed with a different definition. The formulas
are documented in the package docstring (:mod:`nautilus_ai.features`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

__all__ = [
    "CURRENT_VERSION",
    "FeatureSpec",
    "SESSION_TIMEZONES",
    "SUPPORTED_VERSIONS",
    "TICK_FEATURE_NAMES",
    "default_spec_hashes",
    "default_spec_of",
    "stored_spec",
]

# Every version ever released stays here: stored model cards and logged catalogs name their
# spec by version and parameters (``to_dict``), and must rebuild the same spec and hash.
# v1: the 28 bar features. v2 (the default): v1's bar features unchanged plus the quote-tick
# block ``tick_names`` (see :mod:`nautilus_ai.features.ticks`).
SUPPORTED_VERSIONS: tuple[int, ...] = (1, 2)
CURRENT_VERSION = 2

# Tick features of v2, in order (formulas in nautilus_ai.features.ticks).
TICK_FEATURE_NAMES: tuple[str, ...] = (
    "tick_spread",
    "tick_mid_ret",
    "tick_elapsed_s",
    "tick_count",
    "tick_imbalance",
)

# Session name -> IANA time zone whose local clock (DST included) defines the session hours.
SESSION_TIMEZONES: Mapping[str, str] = {
    "sydney": "Australia/Sydney",
    "tokyo": "Asia/Tokyo",
    "london": "Europe/London",
    "new_york": "America/New_York",
}

_INT_TUPLE_FIELDS = ("return_lags", "ema_periods")
_HOURS_FIELDS = (
    "session_sydney_hours",
    "session_tokyo_hours",
    "session_london_hours",
    "session_new_york_hours",
)


@dataclass(frozen=True)
class FeatureSpec:
    """Parameters of the feature vector (defaults: the v1 set).

    Parameters
    ----------
    version : int
        Definition version: ``2`` (default) = the v1 bar features plus the tick block
        :attr:`tick_names`; ``1`` = the bar features alone. A dict without ``version`` (written
        before versions mattered) means ``1``.
    return_lags : tuple of int
        Lags ``k`` of the log returns ``ret_k = log(close / close[k])``; distinct, positive.
    atr_period : int
        ``ta.atr`` length (Wilder RMA of the true range).
    rsi_period : int
        ``ta.rsi`` length.
    macd_fast, macd_slow, macd_signal : int
        ``ta.macd`` lengths; ``macd_fast < macd_slow``.
    bb_period : int
        ``ta.bb`` length (SMA and population standard deviation of close).
    bb_mult : float
        ``ta.bb`` multiplier (> 0).
    bb_flat_tolerance : float
        Bands whose width ``upper - lower`` is ``<= bb_flat_tolerance * basis`` count as flat:
        ``bb_pct_b = 0.5`` and ``bb_bandwidth = 0``. Absorbs rounding noise of a constant window
        (>= 0).
    ema_periods : tuple of int
        Lengths of the EMAs in ``ema{n}_dist_atr``; distinct, positive.
    vol_rank_window : int
        ``ta.percentrank`` length applied to the ATR.
    vol_regime_low, vol_regime_high : float
        ``vol_regime`` is -1 below ``low``, +1 above ``high``, else 0; ``0 <= low <= high <= 1``.
    session_sydney_hours, session_tokyo_hours, session_london_hours, session_new_york_hours :
        tuple of int
        ``(start_hour, end_hour)`` in the city's local time (0..24, start inclusive, end
        exclusive, ``start != end``; ``start > end`` wraps past midnight).
    """

    version: int = CURRENT_VERSION
    return_lags: tuple[int, ...] = (1, 5, 15)
    atr_period: int = 14
    rsi_period: int = 14
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    bb_period: int = 20
    bb_mult: float = 2.0
    bb_flat_tolerance: float = 1e-9
    ema_periods: tuple[int, ...] = (20, 50)
    vol_rank_window: int = 100
    vol_regime_low: float = 0.25
    vol_regime_high: float = 0.75
    session_sydney_hours: tuple[int, int] = (7, 16)
    session_tokyo_hours: tuple[int, int] = (9, 18)
    session_london_hours: tuple[int, int] = (8, 17)
    session_new_york_hours: tuple[int, int] = (8, 17)

    def __post_init__(self) -> None:
        # JSON gives lists; store tuples so the spec stays hashable and immutable.
        for name in (*_INT_TUPLE_FIELDS, *_HOURS_FIELDS):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        _check_int(self, "version", minimum=1)
        if self.version not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"FeatureSpec.version: unsupported version {self.version!r} "
                f"(supported: {SUPPORTED_VERSIONS})"
            )
        for name in _INT_TUPLE_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, tuple) or not value:
                raise ValueError(
                    f"FeatureSpec.{name}: expected a non-empty list of ints, got {value!r}"
                )
            for item in value:
                if not _is_int(item) or item < 1:
                    raise ValueError(
                        f"FeatureSpec.{name}: every item must be an int >= 1, got {value!r}"
                    )
            if len(set(value)) != len(value):
                raise ValueError(f"FeatureSpec.{name}: items must be distinct, got {value!r}")
        for name in ("atr_period", "rsi_period", "macd_fast", "macd_slow", "macd_signal"):
            _check_int(self, name, minimum=1)
        _check_int(self, "bb_period", minimum=1)
        _check_int(self, "vol_rank_window", minimum=1)
        if self.macd_fast >= self.macd_slow:
            raise ValueError(
                f"FeatureSpec.macd_fast: must be < macd_slow ({self.macd_slow}), "
                f"got {self.macd_fast}"
            )
        _check_float(self, "bb_mult")
        if self.bb_mult <= 0:
            raise ValueError(f"FeatureSpec.bb_mult: must be > 0, got {self.bb_mult!r}")
        _check_float(self, "bb_flat_tolerance")
        if self.bb_flat_tolerance < 0:
            raise ValueError(
                f"FeatureSpec.bb_flat_tolerance: must be >= 0, got {self.bb_flat_tolerance!r}"
            )
        _check_float(self, "vol_regime_low")
        _check_float(self, "vol_regime_high")
        if not 0.0 <= self.vol_regime_low <= self.vol_regime_high <= 1.0:
            raise ValueError(
                "FeatureSpec.vol_regime_low/vol_regime_high: need 0 <= low <= high <= 1, got "
                f"{self.vol_regime_low!r}, {self.vol_regime_high!r}"
            )
        for name in _HOURS_FIELDS:
            value = getattr(self, name)
            ok = (
                isinstance(value, tuple)
                and len(value) == 2
                and all(_is_int(h) and 0 <= h <= 24 for h in value)
                and value[0] % 24 != value[1] % 24
            )
            if not ok:
                raise ValueError(
                    f"FeatureSpec.{name}: expected [start_hour, end_hour], ints in 0..24 with "
                    f"start != end (mod 24), got {value!r}"
                )

    # ------------------------------------------------------------------ derived facts
    @cached_property
    def names(self) -> tuple[str, ...]:
        """Ordered feature names (the columns of :func:`compute_features`)."""
        return (
            *(f"ret_{k}" for k in self.return_lags),
            "body_ratio",
            "upper_wick_ratio",
            "lower_wick_ratio",
            "range_atr",
            "rsi",
            "macd_line",
            "macd_signal",
            "macd_hist",
            "bb_pct_b",
            "bb_bandwidth",
            "atr_close",
            *(f"ema{n}_dist_atr" for n in self.ema_periods),
            "hour_sin",
            "hour_cos",
            "dow_sin",
            "dow_cos",
            *(f"session_{city}" for city in SESSION_TIMEZONES),
            "session_overlap",
            "vol_pct_rank",
            "vol_regime",
            "warm",
        )

    @cached_property
    def tick_names(self) -> tuple[str, ...]:
        """Tick features computed per quote tick on top of the last completed bar's ``names``.

        Empty for v1. A tick decision sees ``names + tick_names`` (:attr:`tick_vector_names`).
        """
        return TICK_FEATURE_NAMES if self.version >= 2 else ()

    @cached_property
    def tick_vector_names(self) -> tuple[str, ...]:
        """Columns of a tick decision's vector: the bar features, then the tick features."""
        return (*self.names, *self.tick_names)

    @cached_property
    def defined_from(self) -> Mapping[str, int]:
        """Bar index (0-based, counting accepted bars) from which each feature is defined.

        Before it the feature is NaN in both paths; from it on it is never NaN.
        """
        atr_first = self.atr_period - 1
        first: dict[str, int] = {f"ret_{k}": k for k in self.return_lags}
        first.update(body_ratio=0, upper_wick_ratio=0, lower_wick_ratio=0)
        first["range_atr"] = atr_first
        first["rsi"] = self.rsi_period
        macd_first = self.macd_slow - 1
        first.update(
            macd_line=macd_first,
            macd_signal=macd_first + self.macd_signal - 1,
            macd_hist=macd_first + self.macd_signal - 1,
        )
        first.update(bb_pct_b=self.bb_period - 1, bb_bandwidth=self.bb_period - 1)
        first["atr_close"] = atr_first
        for n in self.ema_periods:
            first[f"ema{n}_dist_atr"] = max(n - 1, atr_first)
        for name in ("hour_sin", "hour_cos", "dow_sin", "dow_cos", "session_overlap"):
            first[name] = 0
        for city in SESSION_TIMEZONES:
            first[f"session_{city}"] = 0
        first["vol_pct_rank"] = atr_first + self.vol_rank_window
        first["vol_regime"] = atr_first + self.vol_rank_window
        first["warm"] = 0
        return {name: first[name] for name in self.names}

    @cached_property
    def warmup_bars(self) -> int:
        """Accepted bars needed before every feature is defined.

        The row of bar number ``warmup_bars`` (index ``warmup_bars - 1``) is the first with
        ``warm == 1``; ``FeatureEngine.is_warm`` is ``bars_seen >= warmup_bars``.
        """
        return max(self.defined_from.values()) + 1

    @cached_property
    def hash(self) -> str:
        """Stable 16-hex-digit digest of version, parameters and names (canonical JSON)."""
        payload: dict[str, Any] = {"params": self.to_dict(), "names": list(self.names)}
        if self.tick_names:  # v1's payload stays exactly what it was: its hash is pinned
            payload["tick_names"] = list(self.tick_names)
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def index(self, name: str) -> int:
        """Column of feature ``name``; ``KeyError`` naming the known features otherwise."""
        try:
            return self._index_map[name]
        except KeyError:
            raise KeyError(f"unknown feature {name!r}; known: {', '.join(self.names)}") from None

    @cached_property
    def _index_map(self) -> Mapping[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict of every parameter (tuples become lists)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """Build from :meth:`to_dict` output; unknown or invalid fields raise ``ValueError``.

        Missing fields take their defaults; a missing ``version`` means ``1`` (dicts written
        before v2 existed), so a stored spec keeps its definition and hash when the default
        version moves on.
        """
        if not isinstance(data, Mapping):
            raise ValueError(
                f"FeatureSpec.from_dict: expected a mapping, got {type(data).__name__}"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"FeatureSpec: unknown field(s) {', '.join(map(repr, unknown))}")
        kwargs = dict(data)
        kwargs.setdefault("version", 1)
        for name in (*_INT_TUPLE_FIELDS, *_HOURS_FIELDS):
            if name in kwargs and not isinstance(kwargs[name], list | tuple):
                raise ValueError(f"FeatureSpec.{name}: expected a list, got {kwargs[name]!r}")
        return cls(**kwargs)


def stored_spec(data: Mapping[str, Any], spec_hash: str, *, where: str) -> FeatureSpec:
    """Rebuild the spec a model card or a logged run was written with, and check its hash.

    Old versions stay computable: a v1 card rebuilds the v1 spec whatever the default is now.

    Raises
    ------
    ValueError
        One line naming ``where``: an invalid or unknown-version spec, or a hash that the
        rebuilt spec does not reproduce (the definition behind that hash is not known here).
    """
    try:
        spec = FeatureSpec.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{where}: stored feature spec: {exc}") from None
    if spec.hash != spec_hash:
        raise ValueError(
            f"{where}: stored feature spec rebuilds as {spec.hash}, not the stored hash "
            f"{spec_hash} (version {spec.version}); it was written by an unknown definition"
        )
    return spec


def default_spec_hashes() -> dict[str, int]:
    """Hash of every version's default spec -> version (old definitions stay addressable)."""
    return {FeatureSpec(version=v).hash: v for v in SUPPORTED_VERSIONS}


def default_spec_of(data: Mapping[str, Any], spec_hash: str | None) -> FeatureSpec | None:
    """The default spec of some version, rebuilt from a stored spec dict, or None if the stored
    spec is not one of the versions' defaults (a custom spec is never adopted silently)."""
    if spec_hash not in default_spec_hashes():
        return None
    try:
        return stored_spec(data, spec_hash, where="stored spec")
    except ValueError:
        return None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(spec: FeatureSpec, name: str, minimum: int) -> None:
    value = getattr(spec, name)
    if not _is_int(value) or value < minimum:
        raise ValueError(f"FeatureSpec.{name}: expected an int >= {minimum}, got {value!r}")


def _check_float(spec: FeatureSpec, name: str) -> None:
    value = getattr(spec, name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"FeatureSpec.{name}: expected a finite number, got {value!r}")
    if isinstance(value, int):
        object.__setattr__(spec, name, float(value))
