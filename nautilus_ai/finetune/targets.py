"""Which linear layers get a LoRA adapter, chosen per architecture (explicit and overridable).

Target modules cannot be one list of names for every model: MiniCPM-V 4.6's text decoder
(Qwen3.5) is mostly gated linear-attention layers with ``in_proj_qkv`` / ``in_proj_z`` /
``out_proj`` and only every few layers a full attention with ``q_proj`` .. ``o_proj``, and its
vision tower has its own ``q_proj`` / ``out_proj`` that a name list would also catch. So a target
is a regular expression fully matched against module names (peft's string form), and:

* a known ``model_type`` (``config.json``) uses its preset from :data:`TARGET_PRESETS`: the text
  decoder's attention (full and linear) and MLP projections, never the vision tower or the
  ``lm_head``;
* an unknown one falls back to :data:`GENERIC_DECODER_PATTERN` (Llama-style decoder layers, any
  module path without ``vision`` / ``visual``), if that matches anything;
* ``override`` replaces both.

Every matched module must be a ``torch.nn.Linear``; the resolution (pattern, source, matched count
per projection) goes into the adapter's card.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GENERIC_DECODER_PATTERN",
    "TARGET_PRESETS",
    "TargetModules",
    "TargetModulesError",
    "resolve_target_modules",
]

_ATTENTION = r"self_attn\.(?:q_proj|k_proj|v_proj|o_proj)"
_MLP = r"mlp\.(?:gate_proj|up_proj|down_proj)"
# Qwen3.5 gated delta-net layers (MiniCPM-V 4.6's text model): no q/k/v/o projections.
_LINEAR_ATTENTION = r"linear_attn\.(?:in_proj_qkv|in_proj_z|out_proj)"

_LLAMA_STYLE = rf"model\.layers\.\d+\.(?:{_ATTENTION}|{_MLP})"

#: ``model_type`` -> regex over module names of the model as loaded by
#: :class:`~nautilus_ai.models.TransformersPredictor` (``AutoModelForImageTextToText`` /
#: ``AutoModelForCausalLM``).
TARGET_PRESETS: dict[str, str] = {
    "minicpmv4_6": (
        rf"model\.language_model\.layers\.\d+\.(?:{_ATTENTION}|{_LINEAR_ATTENTION}|{_MLP})"
    ),
    # MiniCPM 1/2/4/4.1 (remote code, `MiniCPMForCausalLM`): Llama-style module names.
    "minicpm": _LLAMA_STYLE,
    "llama": _LLAMA_STYLE,
    "mistral": _LLAMA_STYLE,
    "qwen2": _LLAMA_STYLE,
    "qwen3": _LLAMA_STYLE,
}

#: Fallback for other model types: attention / MLP projections of numbered decoder layers, outside
#: any vision tower.
GENERIC_DECODER_PATTERN = (
    rf"(?!.*\bvis(?:ion|ual))(?:.*\.)?layers\.\d+\.(?:{_ATTENTION}|{_LINEAR_ATTENTION}|{_MLP})"
)


class TargetModulesError(ValueError):
    """No usable LoRA target: nothing matched, or a match is not a linear layer."""


@dataclass(frozen=True)
class TargetModules:
    """The resolved choice.

    Attributes
    ----------
    pattern : str
        Regular expression fully matched against module names (what peft receives).
    source : str
        ``"preset:<model_type>"``, ``"generic"`` or ``"override"``.
    names : tuple of str
        Every matched module name, in model order.
    """

    pattern: str
    source: str
    names: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        """Matched modules per projection name (the last name component)."""
        return dict(sorted(Counter(name.rsplit(".", 1)[-1] for name in self.names).items()))

    def to_dict(self) -> dict[str, Any]:
        """JSON for the card (counts, not the full list of names)."""
        return {
            "pattern": self.pattern,
            "source": self.source,
            "matched": len(self.names),
            "per_projection": self.counts(),
        }


def resolve_target_modules(
    model: Any, model_type: str, override: str | None = None
) -> TargetModules:
    """Choose the LoRA target modules of ``model`` (see the module docstring).

    Parameters
    ----------
    model : torch.nn.Module
        The base model, before peft wraps it.
    model_type : str
        ``config.model_type`` of the model directory.
    override : str, optional
        A regular expression fully matched against module names; replaces the preset.

    Raises
    ------
    TargetModulesError
        Invalid regex, no match (the message lists the model's linear layer names by suffix),
        or a matched module that is not ``torch.nn.Linear``.
    """
    import torch

    if override is not None:
        pattern, source = override, "override"
    elif model_type in TARGET_PRESETS:
        pattern, source = TARGET_PRESETS[model_type], f"preset:{model_type}"
    else:
        pattern, source = GENERIC_DECODER_PATTERN, "generic"
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise TargetModulesError(
            f"target modules: invalid regular expression {pattern!r}: {exc}"
        ) from None
    names: list[str] = []
    linear_suffixes: Counter[str] = Counter()
    for name, module in model.named_modules():
        is_linear = isinstance(module, torch.nn.Linear)
        if is_linear:
            linear_suffixes[name.rsplit(".", 1)[-1]] += 1
        if name and compiled.fullmatch(name):
            if not is_linear:
                raise TargetModulesError(
                    f"target modules ({source}) {pattern!r} matches {name!r}, a "
                    f"{type(module).__name__}; only torch.nn.Linear layers can be targeted"
                )
            names.append(name)
    if not names:
        available = ", ".join(f"{suffix} x{n}" for suffix, n in sorted(linear_suffixes.items()))
        raise TargetModulesError(
            f"target modules ({source}) {pattern!r} match no module of this {model_type!r} "
            f"model; its linear layers are: {available or 'none'}. Pass a regular expression "
            "over full module names (--target-modules)"
        )
    return TargetModules(pattern=pattern, source=source, names=tuple(names))
