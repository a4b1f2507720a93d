"""``nautilus-ai finetune``: LoRA fine-tune a local Hugging Face model on a catalog's bars."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from nautilus_ai.cli import CliError
from nautilus_ai.cli.dataset_args import (
    add_data_arguments,
    add_label_arguments,
    catalog_from_args,
    check_embargo,
    describe_flag_errors,
    label_spec_from_args,
)

__all__ = ["register"]


def register(subparsers: Any) -> None:
    finetune = subparsers.add_parser(
        "finetune",
        help="fine-tune a local Hugging Face model (MiniCPM-V 4.6, MiniCPM 4.1...) with LoRA",
        description="Fine-tune a local Hugging Face model with a LoRA adapter (peft) on labelled "
        "bars of a catalog: each example is the prompt the transformers backend builds at that "
        "bar (features, recent bars and, for image-text models, the rendered chart) and the "
        "label as its JSON answer; the loss is on the answer tokens only. Writes a NEW folder "
        "<out>/<name>/v<N> (adapter safetensors + finetune_card.json). Nothing is downloaded.",
    )
    model = finetune.add_argument_group("model")
    model.add_argument("--model-dir", required=True, type=Path,
                       help="local model directory (config.json, weights, tokenizer)")  # fmt: skip
    model.add_argument("--trust-remote-code", action="store_true",
                       help="run Python code shipped in the model directory (MiniCPM 4.1); only "
                       "for directories you trust")  # fmt: skip
    model.add_argument("--modality", choices=("auto", "image-text", "text"), default="auto")
    model.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda[:N]")
    model.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"),
                       default="auto", help="auto: bfloat16 on CUDA, float32 on CPU")  # fmt: skip
    prompt = finetune.add_argument_group("prompt (pinned in the adapter: served the same way)")
    prompt.add_argument("--chart-bars", type=int, default=64, help="bars in the chart")
    prompt.add_argument("--prompt-bars", type=int, default=16, help="bars listed as text")
    prompt.add_argument("--chart-size", type=int, default=448, help="chart width = height (px)")
    add_data_arguments(finetune)
    windows = finetune.add_argument_group("windows (UTC, half-open [START, END))")
    windows.add_argument("--train", nargs=2, metavar=("START", "END"), required=True)
    windows.add_argument("--validation", nargs=2, metavar=("START", "END"),
                         help="scored before and after training (loss, accuracy)")  # fmt: skip
    windows.add_argument("--embargo", type=int, metavar="BARS",
                         help="bars skipped after a boundary (default: the horizon)")  # fmt: skip
    add_label_arguments(finetune)
    examples = finetune.add_argument_group("examples")
    examples.add_argument("--stride", type=int, default=1,
                          help="use every N-th labelled training bar (default: 1)")  # fmt: skip
    examples.add_argument("--hold-keep", type=float, default=1.0, metavar="FRACTION",
                          help="share of hold examples kept in training (default: 1)")  # fmt: skip
    examples.add_argument("--risk", choices=("fixed", "forward_return"), default="fixed",
                          help="risk value in the answers (default: fixed)")  # fmt: skip
    examples.add_argument("--fixed-risk", type=float, default=0.5)
    lora = finetune.add_argument_group("LoRA")
    lora.add_argument("--rank", type=int, default=16)
    lora.add_argument("--alpha", type=int, default=32)
    lora.add_argument("--dropout", type=float, default=0.05)
    lora.add_argument("--target-modules", metavar="REGEX",
                      help="regular expression over full module names (default: the "
                      "architecture's preset)")  # fmt: skip
    fit = finetune.add_argument_group("fit")
    length = fit.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="optimizer steps")
    length.add_argument("--epochs", type=int, help="passes over the examples (default: 1)")
    fit.add_argument("--micro-batch", type=int, default=1, help="examples per forward pass")
    fit.add_argument("--grad-accum", type=int, default=8, help="forward passes per step")
    fit.add_argument("--lr", type=float, default=2e-4)
    fit.add_argument("--weight-decay", type=float, default=0.0)
    fit.add_argument("--schedule", choices=("constant", "linear"), default="linear")
    fit.add_argument("--warmup", type=int, default=0, help="warm-up steps")
    fit.add_argument("--max-grad-norm", type=float, default=1.0, help="0: no clipping")
    fit.add_argument("--gradient-checkpointing", action="store_true")
    fit.add_argument("--seed", type=int, default=7)
    fit.add_argument("--threads", type=int, help="torch threads (default: 1 on <= 2 cores)")
    fit.add_argument("--eval-examples", type=int, default=64,
                     help="validation examples scored before / after (default: 64)")  # fmt: skip
    fit.add_argument("--log-every", type=int, default=10, help="progress line every N steps")
    out = finetune.add_argument_group("output")
    out.add_argument("--out", default="artifacts", help="artifacts root (default: artifacts)")
    out.add_argument("--name", default="lora", help="adapter name (default: lora)")
    out.add_argument("--json", action="store_true", help="print the result as JSON")
    finetune.set_defaults(handler=_finetune)


# FineTuneConfig / LoRASettings / TransformersConfig / AnswerSpec fields whose flag is not
# --field-name.
FINETUNE_FLAGS = {
    "micro_batch_size": "--micro-batch",
    "gradient_accumulation": "--grad-accum",
    "learning_rate": "--lr",
    "lr_schedule": "--schedule",
    "warmup_steps": "--warmup",
    "max_eval_examples": "--eval-examples",
    "chart_width": "--chart-size",
    "chart_height": "--chart-size",
    "chart_bars": "--chart-bars",
    "prompt_bars": "--prompt-bars",
    "model_dir": "--model-dir",
}


def _finetune(args: argparse.Namespace) -> int:
    from nautilus_ai.extras import require_extra

    require_extra("finetune", "nautilus-ai finetune")
    from pydantic import ValidationError

    from nautilus_ai.catalog.reader import CatalogReadError
    from nautilus_ai.datasets import Fold, Window
    from nautilus_ai.finetune import AnswerSpec, FineTuneConfig, LoRASettings, TargetModulesError
    from nautilus_ai.finetune.pipeline import finetune_from_catalog
    from nautilus_ai.models.base import PredictionError
    from nautilus_ai.models.card import ArtifactError
    from nautilus_ai.models.transformers_backend import TransformersConfig
    from nautilus_ai.training import FeatureMismatchError

    if not (args.model_dir / "config.json").is_file():
        raise CliError(f"--model-dir: {args.model_dir} has no config.json")
    try:
        fold = Fold(
            train=Window.parse(*args.train),
            validation=Window.parse(*args.validation) if args.validation else None,
        )
        label = label_spec_from_args(args)
        check_embargo(args.embargo, label)
        answer = AnswerSpec(risk=args.risk, fixed_risk=args.fixed_risk)
        model = TransformersConfig(
            model_dir=args.model_dir,
            modality=args.modality,
            trust_remote_code=args.trust_remote_code,
            device=args.device,
            dtype=args.dtype,
            chart_bars=args.chart_bars,
            prompt_bars=args.prompt_bars,
            chart_width=args.chart_size,
            chart_height=args.chart_size,
        )
        config = FineTuneConfig(
            lora=LoRASettings(
                rank=args.rank,
                alpha=args.alpha,
                dropout=args.dropout,
                target_modules=args.target_modules,
            ),
            steps=args.steps,
            epochs=args.epochs,
            micro_batch_size=args.micro_batch,
            gradient_accumulation=args.grad_accum,
            learning_rate=args.lr,
            weight_decay=args.weight_decay,
            lr_schedule=args.schedule,
            warmup_steps=args.warmup,
            max_grad_norm=args.max_grad_norm or None,
            gradient_checkpointing=args.gradient_checkpointing,
            seed=args.seed,
            threads=args.threads,
            log_every=args.log_every,
            max_eval_examples=args.eval_examples,
        )
    except ValidationError as exc:
        raise CliError(describe_flag_errors(exc, FINETUNE_FLAGS)) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    catalog = catalog_from_args(args)

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        result, folder = finetune_from_catalog(
            catalog,
            model=model,
            bar_type=args.bar_type,
            fold=fold,
            label=label,
            config=config,
            source=args.features,
            run_id=args.run_id,
            allow_open_run=args.allow_open_run,
            answer=answer,
            embargo_bars=args.embargo,
            stride=args.stride,
            hold_keep_fraction=args.hold_keep,
            artifacts_root=args.out,
            name=args.name,
            progress=progress,
        )
    except (
        CatalogReadError,
        FeatureMismatchError,
        TargetModulesError,
        PredictionError,
        ArtifactError,
        FileNotFoundError,
        ValueError,
    ) as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(
            json.dumps(
                {
                    "adapter": str(folder),
                    "model_id": f"{args.name}/{folder.name.removeprefix('v')}",
                    "metrics": result.metrics(),
                    "class_balance": result.dataset.class_balance,
                },
                indent=2,
            )
        )
    else:
        print(result.summary_text())
        print(f"adapter: {folder}")
    return 0
