"""The core imports neither torch nor transformers, on either leg (checked in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import nautilus_ai.strategies.ai_pattern          # the strategy module
    import nautilus_ai.backtest.runner                 # the backtest path
    import nautilus_ai.live                            # the live path
    import nautilus_ai.models, nautilus_ai.training, nautilus_ai.workflows.oos
    import nautilus_ai.pine, nautilus_ai.catalog, nautilus_ai.control, nautilus_ai.research
    from nautilus_ai.cli import build_parser
    build_parser()                                     # every verb module, incl. backtest / live

    # MLP inference: a stored artifact read and run with numpy
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.models import MarketContext, build_predictor
    from nautilus_ai.pine.export import export_mlp_artifact
    spec = FeatureSpec()
    predictor = build_predictor({"kind": "torch", "path": sys.argv[1], "device": "cpu"}, spec)
    import numpy as np
    x = np.linspace(-1.0, 1.0, len(spec.names))
    prediction = predictor.predict(x, MarketContext("EUR/USD.SIM", 0, spec_hash=spec.hash))
    batch = predictor.predict_batch(np.stack([x, -x]))
    export_mlp_artifact(sys.argv[1])                   # Pine export of the trained model
    #INJECT
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "transformers"))
    print(json.dumps({"heavy": heavy, "action": str(prediction.action),
                      "kind": type(predictor).__name__, "batch": len(batch)}))
    """
)


def test_core_paths_import_neither_torch_nor_transformers(numpy_mlp_artifact: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(numpy_mlp_artifact)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["batch"] == 2
    assert result["kind"] == "MLPPredictor"


def test_the_guard_sees_a_heavy_module_when_one_is_imported(numpy_mlp_artifact: Path) -> None:
    # The same script with a stand-in `transformers` module loaded: it must be reported.
    fake = "import types; sys.modules['transformers'] = types.ModuleType('transformers')"
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("#INJECT", fake), str(numpy_mlp_artifact)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    ).stdout
    assert '"heavy": ["transformers"]' in out
