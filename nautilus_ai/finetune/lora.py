"""LoRA fine-tuning of a local Hugging Face model on :class:`FineTuneDataset` examples.

>>> from nautilus_ai.finetune import FineTuneConfig, LoRAFineTuner
>>> from nautilus_ai.models import TransformersConfig
>>> tuner = LoRAFineTuner(TransformersConfig(model_dir=Path("models/MiniCPM-V-4_6")),
...                       FineTuneConfig(steps=200))
>>> result = tuner.finetune(dataset)          # FineTuner protocol: finetune(dataset) -> result
>>> folder = result.save("artifacts", "minicpmv-lora")   # a NEW <root>/<name>/v<N>

How
---
* The base model is loaded by :class:`~nautilus_ai.models.TransformersPredictor` itself (local
  files only; ``trust_remote_code`` opt-in; CUDA + bfloat16 when present, else CPU + float32),
  and every training input is built by its :meth:`~TransformersPredictor.encode_rows`: the prompt
  trained on is, token for token, the prompt served.
* peft injects LoRA layers into the target modules (:mod:`nautilus_ai.finetune.targets`) and
  freezes everything else: the base weights are never changed.
* The target sequence after the prompt is the action word's tokens (tokenized alone, as
  restricted scoring scores them), the rest of the JSON answer and the end-of-sequence token.
  The loss is the mean cross-entropy over those answer tokens only (prompt and padding masked);
  only the logits of the answer positions are computed where the model allows it.
* Fixed seeds (adapter init, example order), AdamW, optional linear warm-up / decay, gradient
  clipping, gradient accumulation; a progress line per ``log_every`` optimizer steps and per
  epoch.
* Before and after training, up to ``max_eval_examples`` validation examples are scored: answer
  loss, and the accuracy of the predictor's own restricted-scoring action.

CUDA / bfloat16 are chosen by the predictor's ``device`` / ``dtype`` (``auto``); this repository's
tests run on CPU only (no GPU here).
"""

from __future__ import annotations

import inspect
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

from nautilus_ai.finetune.examples import ExampleSet, FineTuneDataset, answer_continuation
from nautilus_ai.finetune.targets import TargetModules, resolve_target_modules
from nautilus_ai.models.base import Action
from nautilus_ai.models.prompting import ACTION_CHOICES, ActionAnswer
from nautilus_ai.models.transformers_backend import TransformersConfig, TransformersPredictor

if TYPE_CHECKING:
    import torch

__all__ = [
    "EvalStats",
    "FineTuneConfig",
    "FineTuneDivergedError",
    "FineTuneResult",
    "FineTuner",
    "LoRAFineTuner",
    "LoRASettings",
    "StepStats",
]

Progress = Callable[[str], None]


class FineTuneDivergedError(ValueError):
    """The training loss stopped being a finite number: the adapter is broken, nothing is kept."""


class LoRASettings(BaseModel):
    """The adapter: rank, scaling, dropout and where it goes.

    Parameters
    ----------
    rank : int
        LoRA rank ``r``.
    alpha : int
        LoRA scaling numerator (the update is scaled by ``alpha / rank``).
    dropout : float
        Dropout on the LoRA input, in [0, 1).
    target_modules : str or None
        A regular expression fully matched against module names; ``None`` uses the
        architecture's preset (:data:`~nautilus_ai.finetune.targets.TARGET_PRESETS`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    rank: PositiveInt = 16
    alpha: PositiveInt = 32
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: str | None = None


class FineTuneConfig(BaseModel):
    """How to train (frozen; unknown fields are rejected, errors name the field).

    Parameters
    ----------
    lora : LoRASettings
    steps : int or None
        Optimizer steps. Exactly one of ``steps`` and ``epochs`` is set (default: 1 epoch).
    epochs : int or None
        Passes over the training examples.
    micro_batch_size : int
        Examples per forward pass.
    gradient_accumulation : int
        Forward passes per optimizer step (an optimizer step sees
        ``micro_batch_size * gradient_accumulation`` examples).
    learning_rate, weight_decay : float
        AdamW parameters.
    lr_schedule : {"constant", "linear"}
        After ``warmup_steps`` of linear warm-up: constant, or linear decay to 0 at the last step.
    warmup_steps : int
    max_grad_norm : float or None
        Gradient clipping (``None``: none).
    gradient_checkpointing : bool
        Recompute activations in the backward pass (less memory, ~30% slower): for large models.
    seed : int
        Seeds the adapter's initial weights and the example order.
    threads : int or None
        Torch intra-op threads during fine-tuning, restored afterwards (default:
        :func:`nautilus_ai.training.default_threads`, 1 on machines with <= 2 cores).
    log_every : int
        A progress line every this many optimizer steps (and at the first and last).
    max_eval_examples : int
        Validation examples scored before and after training (evenly spaced; 0: none).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    lora: LoRASettings = LoRASettings()
    steps: PositiveInt | None = None
    epochs: PositiveInt | None = None
    micro_batch_size: PositiveInt = 1
    gradient_accumulation: PositiveInt = 8
    learning_rate: float = Field(default=2e-4, gt=0.0, allow_inf_nan=False)
    weight_decay: float = Field(default=0.0, ge=0.0, allow_inf_nan=False)
    lr_schedule: Literal["constant", "linear"] = "linear"
    warmup_steps: int = Field(default=0, ge=0)
    max_grad_norm: float | None = Field(default=1.0, gt=0.0, allow_inf_nan=False)
    gradient_checkpointing: bool = False
    seed: int = Field(default=7, ge=0)
    threads: PositiveInt | None = None
    log_every: PositiveInt = 10
    max_eval_examples: int = Field(default=64, ge=0)

    @model_validator(mode="after")
    def _one_length(self) -> FineTuneConfig:
        if self.steps is not None and self.epochs is not None:
            raise ValueError("set steps or epochs, not both")
        return self

    @property
    def examples_per_step(self) -> int:
        return self.micro_batch_size * self.gradient_accumulation

    def total_steps(self, train_examples: int) -> int:
        """Optimizer steps for ``train_examples`` examples (the last one may be partial)."""
        if self.steps is not None:
            return self.steps
        epochs = self.epochs or 1
        return max(1, math.ceil(epochs * train_examples / self.examples_per_step))


@dataclass(frozen=True)
class StepStats:
    """One optimizer step: its mean answer-token loss."""

    step: int
    epoch: int
    loss: float
    learning_rate: float
    examples: int
    answer_tokens: int
    seconds: float

    def line(self, total: int) -> str:
        return (
            f"step {self.step:>5}/{total}  epoch {self.epoch}  loss {self.loss:.4f}  "
            f"lr {self.learning_rate:.2e}  {self.examples} ex  {self.seconds:.2f} s"
        )


@dataclass(frozen=True)
class EvalStats:
    """Validation figures: mean answer-token loss and restricted-scoring action accuracy."""

    examples: int
    loss: float
    accuracy: float
    predicted: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "loss": self.loss,
            "accuracy": self.accuracy,
            "predicted": dict(self.predicted),
        }


@dataclass
class FineTuneResult:
    """A trained adapter, live in memory, and what is needed to store it.

    Attributes
    ----------
    predictor : TransformersPredictor
        The base model with the trained adapter injected: it predicts with the fine-tuned model.
    peft_model : peft.PeftModel
    steps : list of StepStats
    validation_before, validation_after : EvalStats or None
    targets : TargetModules
    """

    predictor: TransformersPredictor
    peft_model: Any
    dataset: FineTuneDataset
    config: FineTuneConfig
    targets: TargetModules
    steps: list[StepStats]
    validation_before: EvalStats | None
    validation_after: EvalStats | None
    trainable_parameters: int
    total_parameters: int
    seconds: float
    device: str
    dtype: str
    saved_to: list[Path] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        """Mean loss of the last ``min(10, steps)`` optimizer steps."""
        tail = self.steps[-10:]
        return float(np.mean([s.loss for s in tail])) if tail else math.nan

    def metrics(self) -> dict[str, Any]:
        return {
            "final_loss": self.final_loss,
            "first_step_loss": self.steps[0].loss if self.steps else None,
            "loss_history": [round(s.loss, 6) for s in self.steps],
            "validation_before": self.validation_before.to_dict()
            if self.validation_before
            else None,
            "validation_after": self.validation_after.to_dict() if self.validation_after else None,
        }

    def summary_text(self) -> str:
        lines = [
            f"{len(self.steps)} steps in {self.seconds:.1f} s on {self.device} ({self.dtype}); "
            f"final loss {self.final_loss:.4f}",
            f"LoRA on {len(self.targets.names)} modules ({self.targets.source}): "
            f"{self.trainable_parameters:,} trainable of {self.total_parameters:,} parameters",
        ]
        if self.validation_before and self.validation_after:
            before, after = self.validation_before, self.validation_after
            lines.append(
                f"validation ({after.examples} ex): loss {before.loss:.4f} -> {after.loss:.4f}, "
                f"accuracy {before.accuracy:.3f} -> {after.accuracy:.3f}"
            )
        return "\n".join(lines)

    def save(self, root: str | os.PathLike[str], name: str = "lora", description: str = "") -> Path:
        """Write a NEW ``<root>/<name>/v<N>`` folder (see :mod:`nautilus_ai.finetune.card`)."""
        from nautilus_ai.finetune.artifact import save_adapter

        path = save_adapter(self, root, name, description=description)
        self.saved_to.append(path)
        return path


@runtime_checkable
class FineTuner(Protocol):
    """Anything that fine-tunes a model on a :class:`FineTuneDataset` (Qlib's ``ModelFT``)."""

    def finetune(self, dataset: FineTuneDataset) -> FineTuneResult:
        """Train on ``dataset.train`` (evaluating on ``dataset.validation``) and return the
        trained model; nothing is written to disk."""
        ...


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class LoRAFineTuner:
    """Fine-tune a local Hugging Face model with a peft LoRA adapter.

    Parameters
    ----------
    base : TransformersConfig
        The model directory and the prompt settings (chart / prompt bars, chart size, system
        prompt, chat template variables, ``trust_remote_code``, device, dtype) to train with; the
        stored adapter is pinned to them. ``spec_hash`` is pinned to the dataset's when unset.
        ``adapter_dir`` must be unset.
    config : FineTuneConfig
    progress : callable, optional
        Receives progress lines (default: stderr).
    """

    def __init__(
        self,
        base: TransformersConfig,
        config: FineTuneConfig | None = None,
        progress: Progress | None = _stderr,
    ) -> None:
        if base.adapter_dir is not None:
            raise ValueError("LoRAFineTuner: base.adapter_dir must be unset (train from the base)")
        self.base = base
        self.config = config or FineTuneConfig()
        self._progress = progress or (lambda line: None)

    def finetune(self, dataset: FineTuneDataset) -> FineTuneResult:
        """See :class:`FineTuner`. Raises ``ValueError`` for an unusable dataset."""
        import torch

        from nautilus_ai.training.fit import torch_threads

        config = self.config
        train = dataset.train
        if len(train) == 0:
            raise ValueError("FineTuneDataset.train has no examples")
        if self.base.spec_hash is not None and self.base.spec_hash != dataset.spec_hash:
            raise ValueError(
                f"base config is pinned to feature spec {self.base.spec_hash}, the dataset uses "
                f"{dataset.spec_hash}"
            )
        started = time.perf_counter()
        with torch_threads(config.threads):
            torch.manual_seed(config.seed)
            predictor = TransformersPredictor(
                self.base.model_copy(
                    update={
                        "spec_hash": dataset.spec_hash,
                        "model_id": self.base.model_id
                        or f"{self.base.model_dir.name}+lora-unsaved",
                    }
                )
            )
            needed = _bars_needed(predictor)
            if dataset.context_bars < needed:
                raise ValueError(
                    f"examples carry {dataset.context_bars} context bars, the prompt uses {needed} "
                    "(chart_bars / prompt_bars): build the examples with more"
                )
            session = _Session(predictor, config, self._progress)
            targets = resolve_target_modules(
                predictor.model, _model_type(predictor), config.lora.target_modules
            )
            peft_model = session.wrap(targets)
            eval_set = _evaluation_subset(dataset.validation, config.max_eval_examples)
            before = session.evaluate(eval_set) if eval_set is not None else None
            if before is not None:
                self._progress(f"validation before: {_eval_line(before)}")
            steps = session.train(train)
            after = session.evaluate(eval_set) if eval_set is not None else None
            if after is not None:
                self._progress(f"validation after:  {_eval_line(after)}")
        trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in peft_model.parameters())
        return FineTuneResult(
            predictor=predictor,
            peft_model=peft_model,
            dataset=dataset,
            config=config,
            targets=targets,
            steps=steps,
            validation_before=before,
            validation_after=after,
            trainable_parameters=int(trainable),
            total_parameters=int(total),
            seconds=time.perf_counter() - started,
            device=str(session.device),
            dtype=str(session.dtype).removeprefix("torch."),
        )


def _eval_line(stats: EvalStats) -> str:
    return (
        f"{stats.examples} examples, answer loss {stats.loss:.4f}, "
        f"action accuracy {stats.accuracy:.3f}, predicted {stats.predicted}"
    )


def _model_type(predictor: TransformersPredictor) -> str:
    return str(getattr(predictor.model.config, "model_type", ""))


def _bars_needed(predictor: TransformersPredictor) -> int:
    config = predictor.config
    return max(config.prompt_bars, config.chart_bars if predictor.image_text else 0, 1)


def _evaluation_subset(examples: ExampleSet | None, limit: int) -> ExampleSet | None:
    if examples is None or len(examples) == 0 or limit == 0:
        return None
    if len(examples) <= limit:
        return examples
    return examples.subset(np.linspace(0, len(examples) - 1, limit).round().astype(np.int64))


class _Session:
    """One fine-tuning run's state: the predictor (inputs), the peft model, the optimizer."""

    def __init__(
        self, predictor: TransformersPredictor, config: FineTuneConfig, progress: Progress
    ) -> None:
        self.predictor = predictor
        self.config = config
        self.progress = progress
        self.model: Any = predictor.model
        first = next(self.model.parameters())
        self.device: torch.device = first.device
        self.dtype: torch.dtype = first.dtype
        tokenizer = predictor.tokenizer
        self._choice_ids = dict(zip(ACTION_CHOICES, predictor.choice_token_ids, strict=True))
        self._eos: list[int] = (
            [int(tokenizer.eos_token_id)] if tokenizer.eos_token_id is not None else []
        )
        self._rest_cache: dict[str, list[int]] = {}
        self._keep_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        self.peft_model: Any = None

    # -- setup ----------------------------------------------------------------------------------

    def wrap(self, targets: TargetModules) -> Any:
        import peft
        import torch

        lora = self.config.lora
        peft_config = peft.LoraConfig(
            r=lora.rank,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=targets.pattern,
            bias="none",
            task_type="CAUSAL_LM",
        )
        if self.config.gradient_checkpointing:
            kwargs = {"use_reentrant": False}
            if hasattr(self.model, "activation_checkpointing_enable"):  # transformers >= 5.x
                self.model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
            else:
                self.model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
            # The embeddings are frozen: without this no gradient reaches a checkpointed layer.
            self.model.enable_input_require_grads()
        torch.manual_seed(self.config.seed)  # the adapter's initial A matrices
        with warnings.catch_warnings():
            # peft reads a transformers property deprecated in 5.x; not ours to fix.
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing`", FutureWarning)
            self.peft_model = peft.get_peft_model(self.model, peft_config)
        return self.peft_model

    # -- inputs ---------------------------------------------------------------------------------

    def continuation(self, answer: ActionAnswer) -> list[int]:
        """Token ids after the prompt: the action word as scored, the rest of the JSON, EOS."""
        word, rest = answer_continuation(answer)
        rest_ids = self._rest_cache.get(rest)
        if rest_ids is None:
            rest_ids = list(self.predictor.tokenizer(rest, add_special_tokens=False)["input_ids"])
            self._rest_cache[rest] = rest_ids
        return [*self._choice_ids[word], *rest_ids, *self._eos]

    def answer_loss(self, examples: ExampleSet, indices: Sequence[int]) -> tuple[Any, int]:
        """``(summed cross-entropy over the answer tokens, number of answer tokens)``."""
        import torch

        contexts = [examples.context(i) for i in indices]
        continuations = [self.continuation(examples.answer(i)) for i in indices]
        inputs = self.predictor.encode_rows(
            examples.features[list(indices)], contexts, continuations
        )
        longest = max(len(c) for c in continuations)
        if self._keep_logits:
            inputs["logits_to_keep"] = longest + 1
        logits = self.model(**inputs).logits[:, -(longest + 1) : -1, :].float()
        targets = inputs["input_ids"][:, -longest:].clone()
        for row, ids in enumerate(continuations):
            targets[row, : longest - len(ids)] = -100  # prompt and padding are not learned
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum"
        )
        return loss, sum(len(c) for c in continuations)

    # -- training -------------------------------------------------------------------------------

    def train(self, examples: ExampleSet) -> list[StepStats]:
        import torch

        config = self.config
        n = len(examples)
        total = config.total_steps(n)
        order = _example_order(n, total * config.examples_per_step, config.seed)
        params = [p for p in self.peft_model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(
            params, lr=config.learning_rate, weight_decay=config.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, total))
        self.progress(
            f"fine-tuning {total} steps x {config.examples_per_step} examples "
            f"({config.micro_batch_size} x {config.gradient_accumulation} accumulated) on "
            f"{n:,} training examples, {self.device} {str(self.dtype).removeprefix('torch.')}"
        )
        self.peft_model.train()
        stats: list[StepStats] = []
        consumed = 0
        epoch_losses: list[float] = []
        for step in range(1, total + 1):
            start = time.perf_counter()
            batch = order[(step - 1) * config.examples_per_step : step * config.examples_per_step]
            if batch.size == 0:
                break
            micro = [
                batch[i : i + config.micro_batch_size].tolist()
                for i in range(0, batch.size, config.micro_batch_size)
            ]
            tokens = sum(len(self.continuation(examples.answer(i))) for i in batch.tolist())
            optimizer.zero_grad(set_to_none=True)
            step_loss = 0.0
            for indices in micro:
                loss_sum, _ = self.answer_loss(examples, indices)
                scaled = loss_sum / tokens  # the step's loss: mean over all its answer tokens
                scaled.backward()
                step_loss += float(scaled.detach())
            learning_rate = float(scheduler.get_last_lr()[0])
            if not math.isfinite(step_loss):
                # Stepping on would fill the adapter with NaN, and it would be stored.
                raise FineTuneDivergedError(
                    f"the training loss is {step_loss} at step {step} (learning rate "
                    f"{learning_rate:g}, {str(self.dtype).removeprefix('torch.')}): the run "
                    "diverged and nothing is stored; lower --lr or use float32 / bfloat16"
                )
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            epoch = consumed // n + 1
            consumed += int(batch.size)
            record = StepStats(
                step, epoch, step_loss, learning_rate, int(batch.size), tokens,
                time.perf_counter() - start,
            )  # fmt: skip
            stats.append(record)
            epoch_losses.append(step_loss)
            if step == 1 or step == total or step % config.log_every == 0:
                self.progress(record.line(total))
            if consumed // n + 1 != epoch or step == total:
                self.progress(
                    f"epoch {epoch} done: mean loss {np.mean(epoch_losses):.4f} over "
                    f"{len(epoch_losses)} steps"
                )
                epoch_losses = []
        self.peft_model.eval()
        return stats

    def evaluate(self, examples: ExampleSet) -> EvalStats:
        """Answer loss (mean over answer tokens) and restricted-scoring action accuracy."""
        import torch

        was_training = self.peft_model.training
        self.peft_model.eval()
        total_loss, total_tokens = 0.0, 0
        size = self.config.micro_batch_size
        with torch.no_grad():
            for start in range(0, len(examples), size):
                indices = list(range(start, min(start + size, len(examples))))
                loss_sum, tokens = self.answer_loss(examples, indices)
                total_loss += float(loss_sum)
                total_tokens += tokens
        contexts = [examples.context(i) for i in range(len(examples))]
        predictions = self.predictor.predict_batch(examples.features, contexts)
        predicted = [p.action.value for p in predictions]
        truth = [ACTION_CHOICES[int(a)] for a in examples.actions]
        counts = {a.value: predicted.count(a.value) for a in (Action.BUY, Action.SELL, Action.HOLD)}
        if was_training:
            self.peft_model.train()
        return EvalStats(
            examples=len(examples),
            loss=total_loss / max(1, total_tokens),
            accuracy=float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)])),
            predicted=counts,
        )


def _example_order(n: int, needed: int, seed: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Concatenated seeded permutations of ``range(n)`` (one per epoch), ``needed`` long."""
    rng = np.random.default_rng(seed)
    epochs = max(1, math.ceil(needed / n))
    return np.concatenate([rng.permutation(n) for _ in range(epochs)])[:needed].astype(np.int64)


def _schedule(config: FineTuneConfig, total: int) -> Callable[[int], float]:
    warmup = config.warmup_steps

    def factor(step: int) -> float:  # step: optimizer steps taken so far
        if warmup and step < warmup:
            return (step + 1) / (warmup + 1)
        if config.lr_schedule == "constant":
            return 1.0
        remaining = total - max(step, warmup)
        return max(0.0, remaining / max(1, total - warmup))

    return factor
