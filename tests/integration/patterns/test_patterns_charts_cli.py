"""The README's chart sequence, ``patterns build|query --chart-model``, on the
demo catalog's real bars, with a tiny random-weight ViT built offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def cli(*args: str) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "nautilus_ai.cli", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_build_and_query_a_chart_store(demo_catalog: Path, tmp_path: Path) -> None:
    import torch
    import transformers

    config = transformers.ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        image_size=32, patch_size=8,
    )  # fmt: skip
    torch.manual_seed(0)
    model = tmp_path / "tiny-vit"
    transformers.ViTModel(config).save_pretrained(model)
    catalog = str(demo_catalog)
    built = cli("patterns", "build", "--catalog", catalog, "--name", "charts-tiny",
                "--bar-type", BAR_TYPE, "--start", "2017-01-03", "--end", "2017-01-04",
                "--chart-model", str(model), "--chart-bars", "24", "--json")  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    summary = json.loads(built.stdout)
    assert summary["patterns"] > 1000 and summary["dims"] == 58 + 32
    assert len(summary["chart_model"]) == 16

    query = cli("patterns", "query", "--catalog", catalog, "--name", "charts-tiny",
                "--bar-type", BAR_TYPE, "--at", "2017-01-04T12:00", "--k", "5",
                "--chart-model", str(model), "--json")  # fmt: skip
    assert query.returncode == 0, query.stderr[-2000:]
    answer = json.loads(query.stdout)
    assert len(answer["neighbours"]) == 5
    assert all(n["known_at"] < "2017-01-04" for n in answer["neighbours"])

    # the store's chart model is required to query it: one line, exit 2
    missing = cli("patterns", "query", "--catalog", catalog, "--name", "charts-tiny",
                  "--bar-type", BAR_TYPE, "--at", "2017-01-04T12:00")  # fmt: skip
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("nautilus-ai: error:")
    assert summary["chart_model"] in missing.stderr
