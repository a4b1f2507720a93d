"""Fine-tuning: LoRA step time on tiny random-weight models (CPU, 1 torch thread).

For a tiny MiniCPM-V 4.6 (chart path) and a tiny Llama-style text model, built offline:

- ``encode``: building one example's training input with the predictor's own request builder
  (chart rendering + image processing for the VLM, chat template, tokenization, padding);
- ``step``: one optimizer step of ``micro_batch x accumulation`` examples (encode + forward +
  masked answer loss + backward + AdamW), median over the run, and its examples / s;
- ``data share``: encode time of a step's examples / step time (what a faster input path could
  save at most).

Tiny models measure the pipeline's overhead, not a real model's compute: on a real 1-8B model
the forward / backward dominates and runs on a GPU (not measurable here: no GPU).

Run: ``python -m benchmarks.bench_finetune [--steps N] [--micro-batch M] [--accumulation A]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _dataset(n: int, context_bars: int):  # type: ignore[no-untyped-def]
    from nautilus_ai.finetune import AnswerSpec, ExampleSet, FineTuneDataset
    from nautilus_ai.models.testing import synthetic_bars

    table = synthetic_bars(n + context_bars + 10, seed=0)
    rng = np.random.default_rng(0)
    names = tuple(f"f{i}" for i in range(28))  # the default FeatureSpec's width
    train = ExampleSet(
        name="train",
        instrument_id="EUR/USD.SIM",
        feature_names=names,
        spec_hash="bench",
        bars=table,
        bar_ts=table[:, 0].astype(np.int64),
        rows=np.arange(context_bars, context_bars + n, dtype=np.int64),
        features=rng.normal(size=(n, len(names))),
        actions=rng.integers(0, 3, size=n).astype(np.int64),
        risks=np.full(n, 0.5),
        context_bars=context_bars,
    )
    return FineTuneDataset(
        train=train, validation=None, feature_spec={}, label_spec={}, label_hash="bench",
        answer_spec=AnswerSpec(), bar_type="EUR/USD.SIM-1-MINUTE-BID-EXTERNAL", windows={},
        embargo_bars=30, class_balance={"train": train.class_counts()},
    )  # fmt: skip


def bench_model(kind: str, model_dir: Path, steps: int, micro: int, accumulation: int) -> None:
    from nautilus_ai.finetune import FineTuneConfig, LoRAFineTuner, LoRASettings
    from nautilus_ai.models.transformers_backend import TransformersConfig, TransformersPredictor

    base = TransformersConfig(model_dir=model_dir, device="cpu")  # default prompt: 448 px chart
    dataset = _dataset(max(64, steps * micro * accumulation), context_bars=64)
    predictor = TransformersPredictor(base.model_copy(update={"spec_hash": "bench"}))
    train = dataset.train
    encode: list[float] = []
    for i in range(40):
        start = time.perf_counter()
        predictor.encode_rows(train.features[[i]], [train.context(i)], [[1, 2, 3]])
        encode.append(time.perf_counter() - start)
    length = predictor.encode_rows(train.features[[0]], [train.context(0)], [[]])["input_ids"]
    predictor.close()
    config = FineTuneConfig(
        steps=steps, micro_batch_size=micro, gradient_accumulation=accumulation,
        lora=LoRASettings(rank=8), log_every=10_000, seed=1,
    )  # fmt: skip
    result = LoRAFineTuner(base, config, progress=None).finetune(dataset)
    step_s = statistics.median(s.seconds for s in result.steps[1:])  # first step warms up
    encode_ms = statistics.median(encode) * 1e3
    per_step = micro * accumulation
    print(
        f"{kind:<5} prompt {length.shape[1]:>4} tokens  encode {encode_ms:6.2f} ms/example  "
        f"step ({micro}x{accumulation}) {step_s * 1e3:7.1f} ms = {per_step / step_s:6.1f} ex/s  "
        f"data share {encode_ms * per_step / (step_s * 1e3):5.1%}  "
        f"LoRA {result.trainable_parameters:,} / {result.total_parameters:,} params  "
        f"loss {result.steps[0].loss:.3f} -> {result.final_loss:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--micro-batch", type=int, default=1)
    parser.add_argument("--accumulation", type=int, default=8)
    args = parser.parse_args(argv)

    import torch

    from nautilus_ai.models.tiny_models import build_tiny_minicpmv, build_tiny_text_model

    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, CPU")
    with tempfile.TemporaryDirectory() as tmp:
        vlm = build_tiny_minicpmv(Path(tmp) / "vlm")
        text = build_tiny_text_model(Path(tmp) / "text", chat_template=True)
        for kind, model_dir in (("vlm", vlm), ("text", text)):
            bench_model(kind, model_dir, args.steps, args.micro_batch, args.accumulation)
    return 0


if __name__ == "__main__":
    sys.exit(main())
