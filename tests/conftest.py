"""Shared fixtures: the real market data folder (never committed; see ../shared/data/README.md),
and the two test legs.

**Legs.** ``make test`` is the full leg: every extra installed (torch, transformers, peft,
TorchServe...), every test runs, and a missing extra is a failure. ``make test-core`` sets
``NAUTILUS_AI_TEST_LEG=core``: the core install (no torch, no transformers) on the newest
NautilusTrader; tests that need an extra are skipped there, and only there. Which tests need
which extra is found here, systematically: :func:`_extras_of` reads each test's imports (the
module's, the test function's, its fixtures' and the local helper modules it imports) and maps
them with :data:`nautilus_ai.extras.MODULE_EXTRAS`; needs that no import shows (a backend named
in a config dict) carry an explicit ``@pytest.mark.extra("torch")``. An unmarked test that needs
a missing extra fails on the core leg, which is how a missing mark (or a core module that
imports torch) is found.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from nautilus_ai.extras import EXTRAS, extra_installed, extra_of_module, install_hint
from nautilus_ai.paths import shared_data_dir

# Tiny torch / transformers models are ~50x slower with 2 threads on a loaded 2-core box.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Property tests run beside the rest of the suite on a shared 2-core box: an example slower than
# Hypothesis' 200 ms deadline, or slow generation ('too_slow'), is the machine's load, not a
# fault of the code (both failed tests under load: test_canonical_hash_ignores_key_order). A
# test's own @settings still wins for what it sets.
settings.register_profile(
    "nautilus-ai", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("nautilus-ai")

#: ``core`` (``make test-core``) or ``full`` (``make test``, the default).
TEST_LEG = os.environ.get("NAUTILUS_AI_TEST_LEG", "full")
#: Extras that the core leg must NOT have: the point of that leg is a core install.
HEAVY_EXTRAS = ("torch", "hf", "finetune", "serve")
TESTS_ROOT = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    if TEST_LEG not in ("core", "full"):
        raise pytest.UsageError(f"NAUTILUS_AI_TEST_LEG must be 'core' or 'full', was {TEST_LEG!r}")
    if TEST_LEG == "core":
        present = [name for name in ("torch", "transformers") if importlib.util.find_spec(name)]
        if present:
            raise pytest.UsageError(
                f"core leg: {', '.join(present)} is installed; the core leg tests a core install "
                "(build its venv with `make test-core`)"
            )
    else:
        missing = [name for name in EXTRAS if not extra_installed(name)]
        if missing:
            raise pytest.UsageError(
                f"full leg: extras {', '.join(missing)} not installed (`make test` installs the "
                "dev extra; `make test-core` runs the core leg)"
            )


def _imported_names(tree: ast.AST) -> Iterator[str]:
    """Every module (and ``module.name``) an AST imports, at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


@functools.cache
def _parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _local_module(name: str, near: Path) -> Path | None:
    """A test helper module that ``import name`` finds beside ``near`` or under the repo."""
    relative = Path(*name.split("."))
    for base in (near.parent, TESTS_ROOT, TESTS_ROOT.parent):
        for candidate in (base / relative.with_suffix(".py"), base / relative / "__init__.py"):
            if candidate.is_file() and TESTS_ROOT in candidate.resolve().parents:
                return candidate.resolve()
    return None


def _extras_of_names(names: Iterable[str], near: Path, seen: set[Path]) -> set[str]:
    found: set[str] = set()
    for name in names:
        extra = extra_of_module(name)
        if extra is None and name.startswith("nautilus_ai.training."):
            # `from nautilus_ai.training import train_model`: the package's lazy torch names
            extra = _training_name_extra(name.rpartition(".")[2])
        if extra is not None:
            found.add(extra)
            continue
        helper = _local_module(name, near)
        if helper is not None and helper not in seen:
            seen.add(helper)
            found |= _extras_of_names(_imported_names(_parsed(helper)), helper, seen)
    return found


def _training_name_extra(name: str) -> str | None:
    import nautilus_ai.training

    lazy = nautilus_ai.training.TORCH_NAMES
    return "torch" if name in lazy else None


def _module_level_names(tree: ast.Module) -> Iterator[str]:
    for statement in tree.body:
        if isinstance(statement, (ast.Import, ast.ImportFrom)):
            yield from _imported_names(statement)


def _function_extras(function: Callable[..., Any], seen: set[Any] | None = None) -> set[str]:
    """Extras that a test or fixture function imports in its body, or through the test helper
    functions it calls (functions defined under tests/, followed recursively)."""
    seen = set() if seen is None else seen
    function = inspect.unwrap(function)
    if function in seen:
        return set()
    seen.add(function)
    try:
        path = Path(inspect.getfile(function)).resolve()
        source, _ = inspect.getsourcelines(function)
    except (OSError, TypeError):
        return set()
    tree = ast.parse(textwrap.dedent("".join(source)))
    found = _extras_of_names(_imported_names(tree), path, set())
    namespace = getattr(function, "__globals__", {})
    for node in ast.walk(tree):
        target = namespace.get(node.id) if isinstance(node, ast.Name) else None
        if inspect.isfunction(target) and _defined_in_tests(target):
            found |= _function_extras(target, seen)
    return found


def _defined_in_tests(function: Callable[..., Any]) -> bool:
    try:
        return TESTS_ROOT in Path(inspect.getfile(function)).resolve().parents
    except TypeError:
        return False


def _extras_of(item: pytest.Item) -> set[str]:
    """What ``item`` needs: its module's imports, its own body's, its fixtures', its marks."""
    found = {str(mark.args[0]) for mark in item.iter_markers("extra")}
    path = Path(str(item.path)).resolve()
    found |= _extras_of_names(_module_level_names(_parsed(path)), path, set())
    function = getattr(item, "function", None)
    if function is not None:
        found |= _function_extras(function)
    for definitions in item._fixtureinfo.name2fixturedefs.values():
        for definition in definitions:
            found |= _function_extras(definition.func)
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        needs = sorted(_extras_of(item))
        for extra in needs:
            item.add_marker(pytest.mark.extra(extra))
        missing = [extra for extra in needs if not extra_installed(extra)]
        if missing and TEST_LEG == "core":
            item.add_marker(
                pytest.mark.skip(
                    reason=f"core leg: needs the {', '.join(missing)} extra "
                    f"({install_hint(missing[0])})"
                )
            )


class _CoreLegSkippedModule(pytest.Module):
    """A test module whose top-level imports need a missing extra, on the core leg: reported as
    skipped (it cannot even be imported there)."""

    reason = ""

    def collect(self) -> list[pytest.Item]:  # type: ignore[override]
        pytest.skip(self.reason)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Any:
    if TEST_LEG != "core":
        return None
    path = module_path.resolve()
    needs = _extras_of_names(_module_level_names(_parsed(path)), path, set())
    missing = sorted(extra for extra in needs if not extra_installed(extra))
    if not missing:
        return None
    module = _CoreLegSkippedModule.from_parent(parent, path=module_path)
    module.reason = f"core leg: the module imports the {', '.join(missing)} extra"
    return module


def pytest_report_header(config: pytest.Config) -> str:
    import nautilus_trader

    return (
        f"nautilus-ai test leg: {TEST_LEG} (Python {sys.version.split()[0]}, nautilus_trader "
        f"{nautilus_trader.__version__}; extras: "
        f"{', '.join(name for name in EXTRAS if extra_installed(name)) or 'none'})"
    )


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder. Missing data is a failure, not a skip: CI must have it."""
    return shared_data_dir()


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """The demo catalog (six months of real EUR/USD M1 bid + ask bars), imported once."""
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    path, _ = ensure_demo_catalog(tmp_path_factory.mktemp("demo_catalog"), data_dir)
    return path


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """``read_only(folder)``: make ``folder`` and everything under it unwritable for this test
    (mode bits; as root, which ignores them, ``chattr +i``), restored afterwards. Skips where
    neither holds (root without CAP_LINUX_IMMUTABLE or a filesystem without the flag)."""
    import subprocess

    made: list[Path] = []

    def freeze(folder: Path) -> None:
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                path.chmod(path.stat().st_mode & ~0o222)
        elif subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("cannot make a folder read-only for root here (chattr +i failed)")
        made.append(folder)

    yield freeze
    for folder in made:
        if os.geteuid() != 0:
            for path in [folder, *folder.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
        else:
            subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)


# -- tiny offline Hugging Face models (built once a session; backends and fine-tuning tests) ----


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight MiniCPM-V 4.6 model directory (action words are single tokens)."""
    from nautilus_ai.models.tiny_models import build_tiny_minicpmv

    return build_tiny_minicpmv(tmp_path_factory.mktemp("tiny-vlm"))


@pytest.fixture(scope="session")
def tiny_text_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight Llama-architecture text model directory with a chat template."""
    from nautilus_ai.models.tiny_models import build_tiny_text_model

    return build_tiny_text_model(tmp_path_factory.mktemp("tiny-text"), chat_template=True)


# -- AIPatternStrategy in a low-level BacktestEngine on real January 2017 bars ------------------


@pytest.fixture(scope="session")
def january_bars(demo_catalog: Path) -> tuple[Any, list[Any]]:
    """EUR/USD.SIM and the demo catalog's January 2017 bid + ask minute bars (by ts_init)."""
    from nautilus_trader.persistence.catalog import ParquetDataCatalog

    catalog = ParquetDataCatalog(str(demo_catalog))
    instrument = catalog.instruments(instrument_ids=["EUR/USD.SIM"])[0]
    bar_types = ["EUR/USD.SIM-1-MINUTE-BID-EXTERNAL", "EUR/USD.SIM-1-MINUTE-ASK-EXTERNAL"]
    bars = catalog.bars(bar_types=bar_types, end="2017-02-01")
    bars.sort(key=lambda b: b.ts_init)
    return instrument, bars


@pytest.fixture
def january_backtest(
    january_bars: tuple[Any, list[Any]], demo_catalog: Path
) -> Iterator[Callable[..., tuple[Any, Any]]]:
    """``run(bar_limit=None, **config overrides) -> (strategy, engine)``.

    Runs ``AIPatternStrategy`` (rule predictor, min confidence 0.6, 240-bar holding limit unless
    overridden) on the first ``bar_limit`` of :func:`january_bars` (all when None; a minute is a
    bid and an ask bar) in a netting margin account with our FX fee and fill models. The engines
    are disposed after the test.
    """
    from fixtures.strategy_engine import sim_engine

    from nautilus_ai.strategies.ai_pattern import AIPatternConfig, AIPatternStrategy

    instrument, bars = january_bars
    engines: list[Any] = []

    def run(bar_limit: int | None = None, **overrides: Any) -> tuple[Any, Any]:
        config: dict[str, Any] = {
            "instrument_id": "EUR/USD.SIM",
            "bar_type": "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL",
            "predictor": {"kind": "rule"},
            "catalog_path": str(demo_catalog),
            "min_confidence": 0.6,
            "max_holding_bars": 240,
        }
        config.update(overrides)
        engine = sim_engine()
        engine.add_instrument(instrument)
        engine.add_data(bars[:bar_limit] if bar_limit else bars)
        strategy = AIPatternStrategy(AIPatternConfig(**config))
        engine.add_strategy(strategy)
        engine.run()
        engines.append(engine)
        return strategy, engine

    yield run
    for engine in engines:
        engine.dispose()
