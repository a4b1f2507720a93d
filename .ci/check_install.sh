#!/usr/bin/env bash
# `pip install .` (not editable, no extras: no torch) into a fresh venv of the given Python, then
# the README's two data + backtest commands on the demo files. Fails unless the backtest trades.
# Usage: .ci/check_install.sh PYTHON   (make check-install PYTHON=python3.12)
set -euo pipefail
python_bin=${1:?usage: check_install.sh PYTHON}
cd "$(dirname "$0")/.."
checkout=$(pwd)
data=${NAUTILUS_AI_DATA:-$checkout/../shared/data}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python_bin" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "$checkout"
if "$work/venv/bin/python" -c 'import torch' 2>/dev/null; then
    echo "check-install: torch was installed by 'pip install .'" >&2
    exit 1
fi
export PATH="$work/venv/bin:$PATH" NAUTILUS_AI_CATALOG="$work/catalog" NAUTILUS_AI_REPORTS="$work/reports"
# The console script imports the installed package, not this checkout's source tree.
installed=$(cd "$work" && "$work/venv/bin/python" -c 'import nautilus_ai; print(nautilus_ai.__file__)')
case "$installed" in "$work"/*) ;; *) echo "check-install: imported $installed" >&2; exit 1 ;; esac

nautilus-ai data import histdata-m1 "$data"/histdata/DAT_ASCII_EURUSD_M1_2017*.csv \
    --ask-spread-pips 0.3 -q
nautilus-ai backtest backtests/demo.yaml --json > "$work/summary.json"
"$work/venv/bin/python" - "$work/summary.json" <<'PY'
import json, sys
import nautilus_trader
summary = json.load(open(sys.argv[1]))
print(
    f"check-install: nautilus_trader {nautilus_trader.__version__}, Python {sys.version.split()[0]}"
    f", no torch: {summary['bars']:,} bars, {summary['orders']:,} orders, "
    f"{summary['trades']:,} trades, PnL {summary['pnl']:,.2f}"
)
if summary["trades"] < 1000:
    sys.exit(f"check-install: expected the demo's ~1,380 trades, got {summary['trades']}")
PY
