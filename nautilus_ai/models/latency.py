"""Latency models: how long a decision takes to arrive, simulated in backtests.

A backtest computes each prediction inline, but a live model answers later. A latency model says
how much later, so the backtest applies each decision when it would really have been available
(see :class:`~nautilus_ai.models.scheduler.DecisionScheduler`). Every model is a frozen value;
:meth:`sampler` returns a fresh, seeded draw function, so two runs with the same model see the
same latencies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "EmpiricalLatency",
    "FixedLatency",
    "LatencyConfig",
    "LatencyModel",
    "LatencySpec",
    "LogNormalLatency",
    "RecordedLatency",
]

_NS_PER_MS = 1_000_000


@runtime_checkable
class LatencyModel(Protocol):
    """Anything that can hand out a deterministic sequence of latencies in nanoseconds."""

    def sampler(self) -> Callable[[], int]:
        """A fresh draw function (seeded: the same model gives the same sequence)."""
        ...


@dataclass(frozen=True, slots=True)
class FixedLatency:
    """Every decision takes ``latency_ns``."""

    latency_ns: int

    def __post_init__(self) -> None:
        if self.latency_ns < 0:
            raise ValueError(f"latency_ns must be >= 0, was {self.latency_ns!r}")

    def sampler(self) -> Callable[[], int]:
        value = int(self.latency_ns)
        return lambda: value


@dataclass(frozen=True, slots=True)
class LogNormalLatency:
    """Log-normal latencies (a long right tail, like real model servers).

    Parameters
    ----------
    median_ns : int
        The median latency (``exp(mu)``).
    sigma : float
        Shape: the standard deviation of ``log(latency)``; 0 gives a fixed latency.
    seed : int
        Seed of the draw sequence.
    max_ns : int or None
        Optional cap on a single draw. Without one, draws are capped at a day (the longest
        latency a config may give): a wide ``sigma`` would otherwise draw latencies past int64
        nanoseconds, or infinity, and stop the run with an OverflowError.
    """

    median_ns: int
    sigma: float
    seed: int = 0
    max_ns: int | None = None

    def __post_init__(self) -> None:
        if self.median_ns <= 0:
            raise ValueError(f"median_ns must be > 0, was {self.median_ns!r}")
        if not (self.sigma >= 0.0):
            raise ValueError(f"sigma must be >= 0, was {self.sigma!r}")
        if self.max_ns is not None and self.max_ns < self.median_ns:
            raise ValueError(f"max_ns ({self.max_ns}) must be >= median_ns ({self.median_ns})")

    def sampler(self) -> Callable[[], int]:
        rng = np.random.default_rng(self.seed)
        mu = float(np.log(self.median_ns))
        cap = float(self.max_ns if self.max_ns is not None else _MAX_DRAW_NS)

        def draw() -> int:
            return int(min(rng.lognormal(mu, self.sigma), cap))  # inf -> cap

        return draw


@dataclass(frozen=True, slots=True)
class EmpiricalLatency:
    """Latencies resampled (with replacement) from measured values, e.g. a TorchServe benchmark."""

    samples_ns: tuple[int, ...]
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.samples_ns:
            raise ValueError("samples_ns must not be empty")
        if min(self.samples_ns) < 0:
            raise ValueError("samples_ns must all be >= 0")

    def sampler(self) -> Callable[[], int]:
        rng = np.random.default_rng(self.seed)
        values = np.asarray(self.samples_ns, dtype=np.int64)

        def draw() -> int:
            return int(values[rng.integers(values.size)])

        return draw


@dataclass(frozen=True, slots=True)
class RecordedLatency:
    """A live run's answer times, replayed request by request (in submission order).

    Entry ``i`` is request ``i``'s latency in bar time (the bar it was applied on minus the bar
    it was asked for) or ``None`` when it was never answered (cancelled or skipped because the
    worker was busy); ``late[i]`` says that the deadline passed first, so what came was a hold.
    Build it from a live scheduler's timeline with
    :func:`~nautilus_ai.models.scheduler.recorded_latency`; requests beyond the recording are
    never answered.
    """

    latencies_ns: tuple[int | None, ...]
    late: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        if self.late and len(self.late) != len(self.latencies_ns):
            raise ValueError(
                f"late has {len(self.late)} flags for {len(self.latencies_ns)} latencies"
            )
        if any(value is not None and value < 0 for value in self.latencies_ns):
            raise ValueError("latencies_ns must all be >= 0 (or None: never answered)")

    def timed_sampler(self) -> Callable[[], tuple[int | None, bool]]:
        """A fresh draw of ``(latency_ns or None, late)`` per request, in order."""
        values = self.latencies_ns
        late = self.late or (False,) * len(values)
        position = [0]

        def draw() -> tuple[int | None, bool]:
            i = position[0]
            position[0] = i + 1
            if i >= len(values):
                return None, False
            return values[i], late[i]

        return draw

    def sampler(self) -> Callable[[], int]:
        """Latencies only (never-answered requests as the largest int64): prefer
        :meth:`timed_sampler`, which :class:`~nautilus_ai.models.DecisionScheduler` uses."""
        timed = self.timed_sampler()

        def draw() -> int:
            value, _late = timed()
            return int(np.iinfo(np.int64).max) if value is None else value

        return draw


#: The longest latency a config may give (a day): more is a unit mistake, and overflows ns.
_MAX_MS = 86_400_000.0
#: The longest log-normal draw without ``max_ns``: the same day.
_MAX_DRAW_NS = int(_MAX_MS) * _NS_PER_MS


class _FixedConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["fixed"] = "fixed"
    latency_ms: float = Field(ge=0.0, le=_MAX_MS, allow_inf_nan=False)


class _LogNormalConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["lognormal"]
    median_ms: float = Field(gt=0.0, le=_MAX_MS, allow_inf_nan=False)
    sigma: float = Field(ge=0.0, allow_inf_nan=False)
    seed: int = 0
    max_ms: float | None = Field(default=None, gt=0.0, le=_MAX_MS, allow_inf_nan=False)

    @model_validator(mode="after")
    def _cap_above_median(self) -> _LogNormalConfig:
        if self.max_ms is not None and self.max_ms < self.median_ms:
            raise ValueError(f"max_ms ({self.max_ms}) must be >= median_ms ({self.median_ms})")
        return self


class _EmpiricalConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["empirical"]
    samples_ms: tuple[Annotated[float, Field(ge=0.0, le=_MAX_MS, allow_inf_nan=False)], ...] = (
        Field(min_length=1)
    )
    seed: int = 0


class _RecordedConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["recorded"]
    latencies_ns: tuple[Annotated[int, Field(ge=0)] | None, ...]
    late: tuple[bool, ...] = ()


#: One latency model's JSON (``{"kind": "fixed", ...}``), discriminated on ``kind``: the schema
#: of a strategy's ``decision_latency`` dict.
LatencySpec = Annotated[
    _FixedConfig | _LogNormalConfig | _EmpiricalConfig | _RecordedConfig,
    Field(discriminator="kind"),
]


class LatencyConfig(BaseModel):
    """A latency model as plain JSON (for strategy and backtest configs).

    Examples: ``{"kind": "fixed", "latency_ms": 150}``,
    ``{"kind": "lognormal", "median_ms": 120, "sigma": 0.5, "seed": 7}``,
    ``{"kind": "empirical", "samples_ms": [3.9, 4.1, 4.4], "seed": 1}``,
    ``{"kind": "recorded", "latencies_ns": [120000000000, null], "late": [false, false]}`` (a
    live run's timeline, see :class:`RecordedLatency`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: LatencySpec

    @classmethod
    def parse(cls, data: dict[str, object]) -> LatencyModel:
        """Validate ``data`` (errors name the field) and build the latency model."""
        return cls.model_validate({"model": data}).build()

    def build(self) -> LatencyModel:
        spec = self.model
        if isinstance(spec, _FixedConfig):
            return FixedLatency(round(spec.latency_ms * _NS_PER_MS))
        if isinstance(spec, _LogNormalConfig):
            return LogNormalLatency(
                round(spec.median_ms * _NS_PER_MS),
                spec.sigma,
                spec.seed,
                None if spec.max_ms is None else round(spec.max_ms * _NS_PER_MS),
            )
        if isinstance(spec, _RecordedConfig):
            if spec.late and len(spec.late) != len(spec.latencies_ns):
                raise ValueError(
                    f"late has {len(spec.late)} flags for {len(spec.latencies_ns)} latencies"
                )
            return RecordedLatency(spec.latencies_ns, spec.late)
        return EmpiricalLatency(tuple(round(v * _NS_PER_MS) for v in spec.samples_ms), spec.seed)
