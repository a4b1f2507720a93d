"""Read an MLP artifact's numbers (safetensors + model card) without importing torch.

The loader lives in :mod:`nautilus_ai.models.mlp` (the core's MLP backend reads artifacts the same
way); the exporter imports it from here.
"""

from __future__ import annotations

from nautilus_ai.models.mlp import MLPWeights, load_mlp_weights

__all__ = ["MLPWeights", "load_mlp_weights"]
