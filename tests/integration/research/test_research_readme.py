"""The README's "Research in a notebook" lines, run as written on a catalog that holds data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nautilus_ai.features import FeatureSpec, compute_features
from nautilus_ai.models import build_predictor
from nautilus_ai.paths import repo_root


def readme_research_code() -> str:
    text = (repo_root() / "README.md").read_text()
    section = text.split("## Research in a notebook", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the research section shows one python block"
    return blocks[0]


def test_the_readme_shows_the_facade_in_ten_lines() -> None:
    lines = [line for line in readme_research_code().splitlines() if line.strip()]
    assert len(lines) <= 10
    assert lines[0] == "import nautilus_ai.research as nr"


def test_the_readme_research_lines_run_and_give_the_engine_numbers(
    tmp_path: Path, demo_catalog: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    (tmp_path / "catalogs").mkdir()
    (tmp_path / "catalogs" / "demo").symlink_to(demo_catalog, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    exec(compile(readme_research_code(), "README.md", "exec"), namespace)
    bars, X, y, p, q, report = (namespace[k] for k in ("bars", "X", "y", "p", "q", "report"))

    assert str(bars.index[0]) == "2017-01-02 07:01:00+00:00"  # the first imported bar
    assert str(bars.index[-1]) == "2017-03-31 20:59:00+00:00"  # [start, end): Friday close
    spec = FeatureSpec()
    expected = compute_features(spec, bars.index.asi8, *(bars[c].to_numpy() for c in bars.columns))
    assert X.to_numpy().tobytes() == expected.tobytes()
    assert set(np.unique(y["label"])) == {-1, 0, 1}
    accepted = p["accepted"].to_numpy()
    assert accepted.sum() == len(p) - (spec.warmup_bars - 1)
    batch = build_predictor({"kind": "rule"}, spec).predict_batch(X.to_numpy()[accepted])
    assert list(p["action"][accepted].astype(str)) == [b.action.value for b in batch]
    assert (q["quantity"][p["signal"] == 0] == 0).all() and (q["quantity"] > 0).any()
    assert report.summary["trades"] > 100
    printed = capsys.readouterr().out
    assert printed.startswith("naive signal evaluation, NOT a backtest")
    assert (tmp_path / "signals.png").stat().st_size > 20_000
