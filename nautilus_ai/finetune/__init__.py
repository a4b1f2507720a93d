"""Fine-tuning Hugging Face models with LoRA on labelled catalog bars.

>>> from nautilus_ai.finetune import FineTuneConfig, LoRAFineTuner
>>> result = LoRAFineTuner(TransformersConfig(model_dir=...), FineTuneConfig(steps=100)).finetune(
...     dataset)                                   # FineTuner protocol (Qlib's ModelFT)
>>> folder = result.save("artifacts", "minicpmv-lora")       # NEW <root>/<name>/v<N>
>>> TransformersPredictor(finetuned_predictor_config(folder))  # serve it as trained

* :mod:`~nautilus_ai.finetune.examples` - supervised examples (the predictor's own prompt + the
  label as the JSON answer), class balance, hold down-sampling.
* :mod:`~nautilus_ai.finetune.catalog_examples` - examples from a catalog through the labels and
  walk-forward splits of :mod:`nautilus_ai.labels` / :mod:`nautilus_ai.datasets`.
* :mod:`~nautilus_ai.finetune.targets` - LoRA target modules per architecture.
* :mod:`~nautilus_ai.finetune.lora` - the :class:`FineTuner` protocol and :class:`LoRAFineTuner`.
* :mod:`~nautilus_ai.finetune.card` / :mod:`~nautilus_ai.finetune.artifact` - the stored adapter.
* :mod:`~nautilus_ai.finetune.pipeline` - catalog to stored adapter in one call (the CLI's path).

Importing it imports torch (through :mod:`nautilus_ai.training`); peft is the ``finetune`` extra.
"""

from nautilus_ai.finetune.artifact import build_card, save_adapter
from nautilus_ai.finetune.card import (
    ADAPTER_CONFIG_FILE,
    ADAPTER_WEIGHTS_FILE,
    FINETUNE_CARD_FILE,
    BaseModelInfo,
    FineTuneCard,
    file_sha256,
    finetune_library_versions,
    finetuned_predictor_config,
    read_finetune_card,
)
from nautilus_ai.finetune.catalog_examples import examples_from_frame, load_finetune_dataset
from nautilus_ai.finetune.examples import (
    AnswerSpec,
    ExampleSet,
    FineTuneDataset,
    answer_continuation,
    answer_text,
    instrument_of_bar_type,
    select_rows,
)
from nautilus_ai.finetune.lora import (
    EvalStats,
    FineTuneConfig,
    FineTuneDivergedError,
    FineTuner,
    FineTuneResult,
    LoRAFineTuner,
    LoRASettings,
    StepStats,
)
from nautilus_ai.finetune.pipeline import finetune_from_catalog
from nautilus_ai.finetune.targets import (
    GENERIC_DECODER_PATTERN,
    TARGET_PRESETS,
    TargetModules,
    TargetModulesError,
    resolve_target_modules,
)

__all__ = [
    "ADAPTER_CONFIG_FILE",
    "ADAPTER_WEIGHTS_FILE",
    "AnswerSpec",
    "BaseModelInfo",
    "EvalStats",
    "ExampleSet",
    "FINETUNE_CARD_FILE",
    "FineTuneCard",
    "FineTuneConfig",
    "FineTuneDataset",
    "FineTuneDivergedError",
    "FineTuneResult",
    "FineTuner",
    "GENERIC_DECODER_PATTERN",
    "LoRAFineTuner",
    "LoRASettings",
    "StepStats",
    "TARGET_PRESETS",
    "TargetModules",
    "TargetModulesError",
    "answer_continuation",
    "answer_text",
    "build_card",
    "examples_from_frame",
    "file_sha256",
    "finetune_from_catalog",
    "finetune_library_versions",
    "finetuned_predictor_config",
    "instrument_of_bar_type",
    "load_finetune_dataset",
    "read_finetune_card",
    "resolve_target_modules",
    "save_adapter",
    "select_rows",
]
