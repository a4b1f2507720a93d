"""What this installation can do, and what a config needs that is missing (``nautilus-ai doctor``).

:func:`gather` collects the report: Python, NautilusTrader (and whether it is in the supported
range), torch / transformers versions (package metadata: nothing heavy is imported unless torch
is installed and a CUDA device is asked about), the extras, the compute device (CUDA name and
free memory; which Hugging Face model sizes would load on it in bf16, or on the CPU in float32),
the programs the tests and live configs start (:mod:`nautilus_ai.services`) and the data /
catalog / reports folders. :func:`config_needs` reads a backtest run file or a live config and
lists what it needs, each found or missing.

Memory figures are computed from parameter counts: bf16 weights take 2 bytes a parameter,
float32 4; a model "fits" when weights + :data:`LOAD_HEADROOM` (activations, KV cache, the
CUDA context) fit in the free memory.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nautilus_ai.compat import NAUTILUS_RANGE, parse_version
from nautilus_ai.extras import EXTRAS, extra_installed, install_hint

__all__ = [
    "LOAD_HEADROOM",
    "MODEL_SIZES",
    "ConfigNeed",
    "GpuDevice",
    "ModelFit",
    "config_needs",
    "gather",
    "gpu_devices",
    "model_fits",
]

GIB = 1024**3
#: Extra memory a loaded model needs beyond its weights (activations, KV cache, CUDA context).
LOAD_HEADROOM = 0.2
#: Hugging Face model sizes to judge (parameter counts): the MiniCPM family the transformers
#: backend targets and common open-weight sizes.
MODEL_SIZES: dict[str, float] = {
    "1B": 1.0e9,
    "3B": 3.0e9,
    "8B": 8.0e9,
    "14B": 14.0e9,
    "32B": 32.0e9,
    "70B": 70.0e9,
}
#: Seconds an external probe (nvidia-smi, a Redis PING) may take.
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class GpuDevice:
    """One CUDA device: index, name, total and free memory in bytes."""

    index: int
    name: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class ModelFit:
    """Whether a model of ``parameters`` loads in ``dtype`` on ``device``."""

    label: str
    parameters: float
    dtype: str
    device: str
    needed_bytes: int
    free_bytes: int

    @property
    def fits(self) -> bool:
        return self.needed_bytes <= self.free_bytes


@dataclass(frozen=True)
class ConfigNeed:
    """One thing a config needs: what, whether it is there, and what to do when it is not."""

    what: str
    ok: bool
    detail: str


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def gpu_devices(
    torch_module: Any = None, run: Callable[..., Any] = subprocess.run
) -> list[GpuDevice]:
    """The CUDA devices here: through torch when it is installed (``torch_module`` for tests),
    else ``nvidia-smi`` (with a timeout), else none."""
    torch = torch_module
    if torch is None and extra_installed("torch"):
        import torch  # the torch extra is installed: its CUDA view is the one backends use
    if torch is not None:
        if not torch.cuda.is_available():
            return []
        devices = []
        for index in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(index)
            devices.append(GpuDevice(index, torch.cuda.get_device_name(index), total, free))
        return devices
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    query = "--query-gpu=index,name,memory.total,memory.free"
    try:
        out = run(
            [smi, query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    devices = []
    for line in out.strip().splitlines():
        index, name, total_mib, free_mib = (part.strip() for part in line.split(","))
        devices.append(GpuDevice(int(index), name, int(total_mib) << 20, int(free_mib) << 20))
    return devices


def available_memory_bytes() -> int:
    """Memory available to a new process (``MemAvailable``; total physical memory elsewhere)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def model_fits(devices: list[GpuDevice], cpu_free_bytes: int) -> list[ModelFit]:
    """Each :data:`MODEL_SIZES` entry on the device the transformers backend would pick
    (``auto``: the first CUDA device in bf16, else the CPU in float32)."""
    if devices:
        gpu = devices[0]
        device, dtype, width, free = f"cuda:{gpu.index}", "bfloat16", 2, gpu.free_bytes
    else:
        device, dtype, width, free = "cpu", "float32", 4, cpu_free_bytes
    return [
        ModelFit(label, params, dtype, device, int(params * width * (1 + LOAD_HEADROOM)), free)
        for label, params in MODEL_SIZES.items()
    ]


def _range_text() -> str:
    (a, b, c), (x, y, z) = NAUTILUS_RANGE
    return f">={a}.{b}.{c},<={x}.{y}.{z}"


def _folder(path: Path) -> dict[str, Any]:
    return {"path": str(path), "exists": path.is_dir()}


def _catalog_series(catalog: Path) -> list[str]:
    from nautilus_ai.data.catalog_layout import BAR_FOLDER, QUOTE_FOLDER

    found = []
    for kind in (BAR_FOLDER, QUOTE_FOLDER):
        folder = catalog / "data" / kind
        if folder.is_dir():
            found += [f"{kind}/{p.name}" for p in sorted(folder.iterdir()) if p.is_dir()]
    return found


def gather(
    *,
    devices: list[GpuDevice] | None = None,
    probe_services: bool = True,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole report as plain JSON values (``devices`` given: no device probe, for tests)."""
    from nautilus_ai import services
    from nautilus_ai.paths import default_catalog_dir, default_reports_dir, shared_data_dir

    nautilus = _version("nautilus_trader")
    in_range = nautilus is not None and (
        NAUTILUS_RANGE[0] <= parse_version(nautilus) <= NAUTILUS_RANGE[1]
    )
    devices = gpu_devices() if devices is None else devices
    cpu_free = available_memory_bytes()
    fits = model_fits(devices, cpu_free)
    service_rows = {}
    for name, location in services.locate_all(environ).items():
        row: dict[str, Any] = {"found": location.found, "where": location.describe()}
        if location.found and probe_services:
            try:
                row["version"] = services.probe_version(location).text
            except services.ServiceNotFoundError as exc:
                row.update(found=False, where=str(exc))
        if not row["found"]:
            row["hint"] = services.SERVICES[name].hint
        row["needed_for"] = services.SERVICES[name].needed_for
        service_rows[name] = row
    try:
        data_dir: dict[str, Any] = _folder(shared_data_dir())
    except FileNotFoundError as exc:
        data_dir = {"path": None, "exists": False, "problem": str(exc)}
    catalog = default_catalog_dir()
    return {
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "packages": {
            "nautilus-ai": _version("nautilus-ai"),
            "nautilus_trader": nautilus,
            "nautilus_trader_supported": in_range,
            "supported_range": ">={}.{}.{},<={}.{}.{}".format(
                *NAUTILUS_RANGE[0], *NAUTILUS_RANGE[1]
            ),
            "torch": _version("torch"),
            "transformers": _version("transformers"),
        },
        "extras": {
            name: {"installed": extra_installed(name), "for": extra.purpose}
            for name, extra in EXTRAS.items()
        },
        "device": {
            "cuda": [asdict(d) for d in devices],
            "cpu_count": os.cpu_count(),
            "cpu_available_bytes": cpu_free,
            "model_fits": [{**asdict(f), "fits": f.fits} for f in fits],
        },
        "services": service_rows,
        "folders": {
            "data": data_dir,
            "catalog": {**_folder(catalog), "series": _catalog_series(catalog)},
            "reports": _folder(default_reports_dir()),
        },
    }


# -- what a config needs -----------------------------------------------------------------------


def _predictors(value: Any) -> Iterator[Mapping[str, Any]]:
    """Every backend config (a mapping with a string ``kind``) under ``value``, nested too."""
    if isinstance(value, Mapping):
        if isinstance(value.get("kind"), str) and "predictor" not in value:
            yield value
        for child in value.values():
            yield from _predictors(child)
    elif isinstance(value, list):
        for child in value:
            yield from _predictors(child)


def _strategy_configs(raw: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "node" not in raw:
        engine = (raw.get("run") or {}).get("engine") or {}
        strategies = engine.get("strategies") or []
    else:
        strategies = (raw.get("node") or {}).get("strategies") or []
    return [s.get("config") or {} for s in strategies if isinstance(s, Mapping)]


def _predictor_needs(
    predictor: Mapping[str, Any], strategy: Mapping[str, Any] | None = None
) -> list[ConfigNeed]:
    kind = predictor["kind"]
    needs: list[ConfigNeed] = []

    def extra(name: str, what: str) -> None:
        ok = extra_installed(name)
        needs.append(ConfigNeed(what, ok, "installed" if ok else install_hint(name)))

    if kind == "torch":
        device = str(predictor.get("device", "auto"))
        dtype = predictor.get("batch_dtype")
        if device not in ("auto", "cpu") or dtype not in (None, "float64"):
            extra("torch", f"predictor torch on {device} ({dtype or 'default'} batches)")
        needs.append(_artifact_need(kind, Path(str(predictor.get("path", "")))))
    elif kind == "lightgbm":
        needs.append(_artifact_need(kind, Path(str(predictor.get("path", "")))))
    elif kind == "pattern_memory":
        needs.append(_pattern_memory_need(predictor, strategy or {}))
    elif kind == "torch_random":
        extra("torch", "predictor torch_random")
    elif kind == "transformers":
        extra("hf", "predictor transformers")
        model_dir = Path(str(predictor.get("model_dir", "")))
        ok = (model_dir / "config.json").is_file()
        needs.append(
            ConfigNeed(f"model directory {model_dir}", ok, "found" if ok else "no config.json")
        )
    return needs


def _artifact_need(kind: str, path: Path) -> ConfigNeed:
    """Whether the ``torch`` / ``lightgbm`` artifact at ``path`` loads as a run would load it:
    card, weights / trees and their checksum, and the card's feature spec against its hash
    (checked with the numpy twins: no torch or lightgbm needed)."""
    from nautilus_ai.artifacts import ArtifactError
    from nautilus_ai.features.spec import stored_spec

    what = f"model artifact {path}"
    if not (path / "model_card.json").is_file():
        return ConfigNeed(what, False, "no model_card.json there")
    try:
        if kind == "lightgbm":
            from nautilus_ai.models.lightgbm import LightGBMPredictor, read_gbt_card

            card: Any = read_gbt_card(path)
            load: Any = LightGBMPredictor.from_artifact
        else:
            from nautilus_ai.models.card import read_model_card
            from nautilus_ai.models.mlp import MLPPredictor

            card, load = read_model_card(path), MLPPredictor.from_artifact
        spec = stored_spec(card.feature_spec, card.spec_hash, where=f"{path}/model_card.json")
        load(path, spec=spec).close()
    except (ArtifactError, ValueError) as exc:
        return ConfigNeed(what, False, " ".join(str(exc).split()))
    return ConfigNeed(what, True, f"loads ({card.model_id}, feature spec {card.spec_hash})")


def _pattern_memory_need(predictor: Mapping[str, Any], strategy: Mapping[str, Any]) -> ConfigNeed:
    """Whether the pattern memory a ``pattern_memory`` predictor names opens as a run would
    open it: the store of the strategy's feature spec (``<catalog>/patterns/<spec hash>/<name>``
    or ``path``), checked, and its index (faiss, the ``patterns`` extra, for an IVF index)."""
    from pydantic import ValidationError

    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models.pattern_memory import PatternMemoryConfig
    from nautilus_ai.patterns import load_memory

    what = "pattern memory"
    try:
        config = PatternMemoryConfig.model_validate(dict(predictor))
    except ValidationError as exc:
        detail = "; ".join(
            ".".join(str(p) for p in error["loc"]) + (": " if error["loc"] else "") + error["msg"]
            for error in exc.errors()
        )
        return ConfigNeed(what, False, f"predictor: {detail}")
    try:
        raw_spec = strategy.get("feature_spec")
        spec = FeatureSpec.from_dict(raw_spec) if isinstance(raw_spec, Mapping) else FeatureSpec()
        folder = config.folder(spec.hash)
        what = f"pattern memory {config.name!r}" if config.name else f"pattern memory {folder}"
        load_memory(folder, feature_spec_hash=spec.hash, index_config=config.index)
    except ImportError as exc:
        return ConfigNeed(what, False, " ".join(str(exc).split()))
    except (ValueError, TypeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ConfigNeed(what, False, first)
    return ConfigNeed(what, True, f"opens (feature spec {spec.hash})")


def _redis_need(what: str, url: str) -> ConfigNeed:
    from nautilus_ai.control.transport import RedisSettings, connect

    try:
        client = connect(
            RedisSettings(url=url, connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S)
        )
        client.ping()
        client.close()
    except Exception as exc:  # any failure to answer PING is the finding itself
        from nautilus_ai.services import locate

        server = locate("redis-server")
        start = f"start one ({server.describe()})" if server.found else server.name + " not found"
        return ConfigNeed(what, False, f"no Redis answers at {url}: {exc}; {start}")
    return ConfigNeed(what, True, f"Redis answers at {url}")


def config_needs(path: str | os.PathLike[str]) -> list[ConfigNeed]:
    """What the run file or live config at ``path`` needs, each checked here.

    Raises
    ------
    ValueError
        The file cannot be read, or is neither a run file (``run:``) nor a live config
        (``node:``).
    """
    from nautilus_ai.backtest.config import ConfigError, read_config_file, substitute_env

    file = Path(path)
    raw = substitute_env(read_config_file(file, "config", ConfigError), where=str(file))
    if not isinstance(raw, Mapping) or not ({"run", "node"} & set(raw)):
        raise ValueError(f"{file}: neither a run file ('run:') nor a live config ('node:')")
    needs: list[ConfigNeed] = []
    for config in _strategy_configs(raw):
        predictor = config.get("predictor")
        for backend in _predictors(predictor) if predictor is not None else []:
            needs += _predictor_needs(backend, config)
    if "node" not in raw:  # a live config has `run:` options too; only it has `node:`
        from nautilus_ai.backtest.config import parse_run_file
        from nautilus_ai.backtest.data_check import run_data_problems, series_needs

        run_file = parse_run_file(raw, file)
        problems = run_data_problems(run_file)
        needs += [ConfigNeed("catalog data", False, problem.text) for problem in problems]
        if not problems:
            named = ", ".join(sorted({n.bar_type for n in series_needs(run_file)}))
            needs.append(ConfigNeed("catalog data", True, f"bars found: {named}"))
    else:
        control = raw.get("control")
        if isinstance(control, Mapping) and control.get("redis_url"):
            needs.append(_redis_need("control plane Redis", str(control["redis_url"])))
        database = ((raw.get("node") or {}).get("cache") or {}).get("database")
        if isinstance(database, Mapping) and database.get("type", "redis") == "redis":
            host, port = database.get("host") or "127.0.0.1", database.get("port") or 6379
            password = database.get("password") or ""
            auth = f":{password}@" if password else ""
            needs.append(_redis_need("cache database Redis", f"redis://{auth}{host}:{port}/0"))
        for client in (raw.get("data_clients") or {}).values():
            needs += _replay_needs(client)
    return needs


def _replay_needs(client: Any) -> list[ConfigNeed]:
    if not isinstance(client, Mapping) or client.get("kind") != "replay":
        return []
    config = client.get("config") or {}
    from nautilus_ai.data.catalog_layout import BAR_FOLDER, series_directory

    needs = []
    catalog = str(config.get("catalog_path", ""))
    for bar_type in config.get("bar_types") or []:
        folder = series_directory(catalog, BAR_FOLDER, str(bar_type))
        ok = any(folder.glob("*.parquet")) if folder.is_dir() else False
        needs.append(
            ConfigNeed(
                f"replay bars {bar_type}", ok, f"in {catalog}" if ok else f"no bars in {folder}"
            )
        )
    return needs
