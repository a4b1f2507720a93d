"""Every example notebook runs top to bottom from a clean kernel on the shared data.

The notebooks are committed without outputs (small diffs, no stale figures posing as results);
this test executes them as a user would, in a fresh folder, and fails on any cell error.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from nautilus_ai.paths import repo_root

EXAMPLES = repo_root() / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
#: The extra a notebook needs beyond the core: the training notebook fits the MLP (torch), the
#: experiments notebook runs on Ray and queries with DuckDB.
NOTEBOOK_EXTRAS = {
    "01_features_labels_training": "torch",
    "03_experiments": "experiments",
}


def test_there_are_example_notebooks() -> None:
    names = [p.name for p in NOTEBOOKS]
    assert "01_features_labels_training.ipynb" in names
    assert "02_backtest_report.ipynb" in names
    assert "03_experiments.ipynb" in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for index, cell in enumerate(book.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name} cell {index} has outputs: strip them"
            assert cell.execution_count is None, f"{path.name} cell {index} has a count"
    assert path.stat().st_size < 40_000


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.extra(NOTEBOOK_EXTRAS[p.stem]))
        if p.stem in NOTEBOOK_EXTRAS
        else p
        for p in NOTEBOOKS
    ],
    ids=[p.stem for p in NOTEBOOKS],
)
def test_notebook_runs_top_to_bottom(
    path: Path, tmp_path: Path, demo_catalog: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits this environment: the shared data, the session's demo catalog, one
    # torch / BLAS thread (2 shared cores), and a fresh folder for reports and artifacts.
    monkeypatch.setenv("NAUTILUS_AI_CATALOG", str(demo_catalog))
    monkeypatch.setenv("NAUTILUS_AI_DATA", str(data_dir))
    monkeypatch.setenv("NAUTILUS_AI_REPORTS", str(tmp_path / "reports"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    book = nbformat.read(path, as_version=4)
    client = NotebookClient(
        book,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute(cwd=str(tmp_path))
    except CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed:\n{str(exc)[-3000:]}")
    executed = tmp_path / path.name
    nbformat.write(book, executed)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, "reports"]  # nothing else
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} showed no figure"
    if os.environ.get("NAUTILUS_AI_KEEP_NOTEBOOKS"):
        keep = Path(os.environ["NAUTILUS_AI_KEEP_NOTEBOOKS"])
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(book, keep / path.name)
