"""LightGBM: training time on the demo data, and inference per row and per batch.

1. Training: ``train_gbt_on_arrays`` on the demo catalog's bars (features recomputed), train
   2017-01-01..04-10, validation ..05-01 (early stopping, temperature), test ..07-01, the
   default :class:`~nautilus_ai.training.gbt.GBTConfig` on ``--threads`` threads; wall time of
   the fit alone and of the whole call (dataset, fit, calibration, metrics, artifact).
2. Inference on the test window's real feature rows, for the trained model and for a larger
   one (150 iterations x 31 leaves, depth <= 8) fitted on the same rows:

   * one row: ``LightGBMPredictor.predict`` (QuickScorer in numpy + the Prediction),
     its raw-score part alone, and ``Booster.predict`` on a ``(1, k)`` array (1 thread);
   * a batch: ``predict_batch`` (level walk + per-row softmax + Prediction objects), its
     raw-score part alone, and ``Booster.predict(raw_score=True)`` (1 thread).

   Medians of ``--repeat`` runs over 2,000 single rows and the whole test window.

Run: ``python -m benchmarks.bench_lightgbm [--repeat N] [--threads N] [--catalog PATH]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

BAR_TYPE = "EUR/USD.SIM-1-MINUTE-BID-EXTERNAL"


def _median_seconds(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _inference(label: str, predictor: Any, booster: Any, rows: np.ndarray, repeat: int) -> None:
    from nautilus_ai.models import MarketContext

    context = MarketContext("EUR/USD.SIM", 0)
    singles = rows[:2_000]
    evaluator = predictor._evaluator  # the raw-score part alone (benchmark only)
    one_predict = _median_seconds(lambda: [predictor.predict(r, context) for r in singles], repeat)
    one_raw = _median_seconds(lambda: [evaluator.raw_scores_one(r) for r in singles], repeat)
    one_lgb = _median_seconds(
        lambda: [booster.predict(r[None, :], raw_score=True, num_threads=1) for r in singles],
        repeat,
    )
    batch_predict = _median_seconds(lambda: predictor.predict_batch(rows), repeat)
    batch_raw = _median_seconds(lambda: evaluator.raw_scores(rows), repeat)
    batch_lgb = _median_seconds(
        lambda: booster.predict(rows, raw_score=True, num_threads=1), repeat
    )
    per = 1e6 / len(singles)
    per_batch = 1e6 / len(rows)
    e = predictor.ensemble
    print(f"\n{label}: {e.num_trees} trees, {e.num_nodes} splits, depth <= "
          f"{int(e.tree_depths().max())}; batch of {len(rows):,} rows")  # fmt: skip
    print(f"  {'':<34}{'one row (us)':>14}{'batch (us/row)':>16}")
    print(f"  {'LightGBMPredictor.predict[_batch]':<34}{one_predict * per:>14.1f}"
          f"{batch_predict * per_batch:>16.2f}")  # fmt: skip
    print(f"  {'  of which raw scores (numpy)':<34}{one_raw * per:>14.1f}"
          f"{batch_raw * per_batch:>16.2f}")  # fmt: skip
    print(f"  {'Booster.predict (1 thread)':<34}{one_lgb * per:>14.1f}"
          f"{batch_lgb * per_batch:>16.2f}")  # fmt: skip
    print(f"  ratio Booster / ours (raw scores): one row {one_lgb / one_raw:.2f}x, "
          f"batch {batch_lgb / batch_raw:.2f}x")  # fmt: skip
    ours = evaluator.raw_scores(rows)
    theirs = booster.predict(rows, raw_score=True, num_threads=1)
    print(f"  raw scores equal to LightGBM bit for bit: {ours.tobytes() == theirs.tobytes()}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_lightgbm")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--catalog", help="demo catalog (default: imported into a temp folder)")
    args = parser.parse_args(argv)

    import lightgbm as lgb

    from nautilus_ai.datasets import Fold, Window
    from nautilus_ai.features import FeatureSpec
    from nautilus_ai.labels import LabelSpec
    from nautilus_ai.models.lightgbm import LightGBMPredictor, card_for
    from nautilus_ai.models.lightgbm_trees import parse_lightgbm_model
    from nautilus_ai.paths import shared_data_dir
    from nautilus_ai.training.data import load_fold_frame
    from nautilus_ai.training.gbt import GBTConfig, train_gbt_on_arrays
    from nautilus_ai.workflows.demo import ensure_demo_catalog

    with tempfile.TemporaryDirectory(prefix="bench-gbt-") as tmp:
        catalog = Path(args.catalog) if args.catalog else ensure_demo_catalog(
            Path(tmp) / "catalog", shared_data_dir()
        )[0]  # fmt: skip
        fold = Fold(
            train=Window.parse("2017-01-01", "2017-04-10"),
            validation=Window.parse("2017-04-10", "2017-05-01"),
            test=Window.parse("2017-05-01", "2017-07-01"),
        )
        frame, _ = load_fold_frame(catalog, BAR_TYPE, fold)
        label = LabelSpec(horizon=30, buy_threshold=1.5, sell_threshold=1.5)
        config = GBTConfig(threads=args.threads)
        start = time.perf_counter()
        result = train_gbt_on_arrays(
            frame.ts, frame.ohlcv, frame.features, frame.spec, fold=fold, label=label,
            config=config, artifacts_root=Path(tmp) / "artifacts",
        )  # fmt: skip
        total = time.perf_counter() - start
        fit = result.trained.fit
        rows = len(result.dataset.train) + len(result.dataset.validation or [])
        print(f"training ({args.threads} thread(s)), {len(result.dataset.train):,} train + "
              f"{rows - len(result.dataset.train):,} validation rows x "
              f"{len(frame.spec.names)} features:")  # fmt: skip
        print(f"  fit {fit.seconds:.2f} s ({fit.iterations_run} iterations run, best "
              f"{fit.best_iteration}, {fit.seconds / fit.iterations_run * 1e3:.1f} ms/iteration); "
              f"whole train_gbt_on_arrays {total:.2f} s")  # fmt: skip
        spec = FeatureSpec()
        trained = LightGBMPredictor.from_artifact(result.artifact_path, spec=spec)
        booster = lgb.Booster(model_str=(result.artifact_path / "model.txt").read_text())
        test = np.ascontiguousarray(result.dataset.test.features)
        _inference("trained model", trained, booster, test, args.repeat)

        train = result.dataset.train
        big = lgb.train(
            {**config.lightgbm_params(), "num_leaves": 31, "max_depth": 8},
            lgb.Dataset(train.features, label=train.y, feature_name=list(spec.names)),
            num_boost_round=150,
        )
        text = big.model_to_string()
        larger = LightGBMPredictor(
            parse_lightgbm_model(text), card_for(parse_lightgbm_model(text), spec, name="big"), spec
        )
        _inference("larger model (150 x 3 trees, 31 leaves)", larger, big, test, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
