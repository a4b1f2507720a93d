"""``nautilus-ai doctor``: what this installation has and what a config needs (one screen).

Exit 0 when every needed thing is there; 1 when ``--config`` names a file that needs something
missing (each missing thing is a line saying how to get it); 2 for a file that cannot be read.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from nautilus_ai.cli import CliError

__all__ = ["format_report", "register"]

GIB = 1024**3


def register(subparsers: Any) -> None:
    doctor = subparsers.add_parser(
        "doctor",
        help="versions, extras, compute device, services and folders; what a config needs",
        description="Report Python, NautilusTrader, torch and transformers versions, the "
        "installed extras, the compute device (and which model sizes load on it), the "
        "programs the tests and live configs start, and the data / catalog folders. With "
        "--config, also check what that run file or live config needs; exit 1 if any of it is "
        "missing.",
    )
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")
    doctor.add_argument("--config", help="a backtest run file or live config to check")
    doctor.add_argument(
        "--no-probe", action="store_true", help="do not run the services to read their versions"
    )
    doctor.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    from nautilus_ai.doctor import config_needs, gather

    report = gather(probe_services=not args.no_probe)
    missing = 0
    if args.config:
        from nautilus_ai.cli.backtest import resolve_run_file

        try:
            needs = config_needs(resolve_run_file(args.config))
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        report["config"] = {
            "path": args.config,
            "needs": [{"what": n.what, "ok": n.ok, "detail": n.detail} for n in needs],
        }
        missing = sum(not n.ok for n in needs)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 1 if missing else 0


def _gib(value: float) -> str:
    return f"{value / GIB:.1f} GiB"


def format_report(report: dict[str, Any]) -> str:
    """The report as one screen of text."""
    packages = report["packages"]
    supported = "supported" if packages["nautilus_trader_supported"] else "NOT SUPPORTED"
    lines = [
        f"python          {report['python']['version']} ({report['python']['executable']})",
        f"nautilus-ai     {packages['nautilus-ai']}",
        f"nautilus_trader {packages['nautilus_trader']} ({supported}: "
        f"{packages['supported_range']})",
        f"torch           {packages['torch'] or 'not installed'}",
        f"transformers    {packages['transformers'] or 'not installed'}",
        "extras          "
        + "  ".join(
            f"{name} {'yes' if row['installed'] else 'no'}"
            for name, row in report["extras"].items()
        ),
    ]
    device = report["device"]
    if device["cuda"]:
        for gpu in device["cuda"]:
            lines.append(
                f"device          cuda:{gpu['index']} {gpu['name']}: "
                f"{_gib(gpu['free_bytes'])} free of {_gib(gpu['total_bytes'])}"
            )
    else:
        lines.append(
            f"device          cpu ({device['cpu_count']} cores, "
            f"{_gib(device['cpu_available_bytes'])} available; no CUDA device)"
        )
    fits = device["model_fits"]
    if fits:
        first = fits[0]
        where = f"{first['dtype']} on {first['device']}"
        verdicts = "  ".join(
            f"{f['label']} {'yes' if f['fits'] else 'no'} ({_gib(f['needed_bytes'])})" for f in fits
        )
        lines.append(f"hf models       {where} (weights + 20%):")
        lines.append(f"                {verdicts}")
    for name, row in report["services"].items():
        version = " ".join(str(row.get("version", "")).split()[:3])  # "Valkey server v=9.1.2"
        state = version or ("found" if row["found"] else "MISSING")
        where = row["where"] if row["found"] else row.get("hint", "")
        lines.append(f"{name:<15} {state}: {where}")
    folders = report["folders"]
    for name in ("data", "catalog", "reports"):
        row = folders[name]
        state = "ok" if row["exists"] else "missing"
        extra = ""
        if name == "catalog" and row.get("series"):
            extra = f" ({len(row['series'])} series: {', '.join(row['series'][:4])}"
            extra += ", ...)" if len(row["series"]) > 4 else ")"
        lines.append(f"{name + ' folder':<15} {state}: {row['path'] or row.get('problem')}{extra}")
    config = report.get("config")
    if config:
        lines.append(f"config          {config['path']}")
        for need in config["needs"]:
            mark = "ok     " if need["ok"] else "MISSING"
            lines.append(f"  {mark} {need['what']}: {need['detail']}")
    return "\n".join(lines)
