"""Models as Pine v6 code: exact MLPs and LightGBM boosters, the rule as plain conditions,
distilled trees as arrays.

Each embedder returns :class:`EmbeddedModel` statements that read the feature variables
``f_<name>`` (see :mod:`nautilus_ai.pine.features`) and define three series the strategy part
uses, all gated on ``f_warm`` exactly like the Python strategy (no prediction before warm-up):

``m_action``      int: +1 buy, -1 sell, 0 hold.
``m_confidence``  float in [0, 1].
``m_risk``        float in [0, 1] (the predictor's risk score).

MLP (:func:`embed_mlp`): the standardisation ``(x - mean) / std`` is written out per feature
with the stored mean and std, every layer is a ``matrix<float>`` whose last column is the bias
(the input array carries a trailing 1.0), activations are unrolled per unit, and the softmax of
``logits / temperature`` gives ``argmax`` (first on ties), ``confidence = max p`` and
``risk = entropy / ln 3``: the same numbers as ``TorchPredictor`` up to float rounding. Weights
are float32 in the artifact and written as the exact float64 of each float32.

LightGBM (:func:`embed_lightgbm`): the splits and leaves of every tree as flat arrays, and one
user function that walks a tree from its root and returns the leaf index (an int). LightGBM's
rule, go left when ``x <= threshold``, is written as the sign test ``(x - threshold) * 2^100 <=
0.0``, the same comparison in IEEE arithmetic but out of reach of PineTS's 1e-10 comparison
tolerance. Each tree's leaf value is a declared ``float``; each class's raw score is the
left-to-right sum of its trees' values starting from 0.0, the order
:class:`~nautilus_ai.models.lightgbm.LightGBMPredictor` sums in, so a bar whose features equal
Python's gets the same raw scores bit for bit; then the MLP's tempered softmax.

No intermediate value goes through ``array.set`` / ``array.push``, ``:=`` or the scalar result
of a user function: PineTS rounds all of those to 10 decimals (TradingView does not), while
``array.from``, ``matrix.mult``, built-ins and tuple results keep full precision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nautilus_ai.features.spec import FeatureSpec
from nautilus_ai.models.lightgbm import GBTModelCard
from nautilus_ai.models.lightgbm_trees import TreeEnsemble
from nautilus_ai.models.rule import RULE_FEATURES, RuleConfig, RulePredictor
from nautilus_ai.pine.artifact import MLPWeights
from nautilus_ai.pine.distill import DecisionTree
from nautilus_ai.pine.features import feature_variable
from nautilus_ai.pine.literals import pine_float

__all__ = [
    "ACTION_SIGNS",
    "EmbeddedModel",
    "embed_lightgbm",
    "embed_mlp",
    "embed_rule",
    "embed_tree",
    "erf_lines",
]

#: Class name -> action sign.
ACTION_SIGNS = {"sell": -1, "hold": 0, "buy": 1}
_WRAP = 8  # literals per continuation line in long array.from(...) calls


@dataclass(frozen=True)
class EmbeddedModel:
    """A model as Pine statements.

    Parameters
    ----------
    kind : {"mlp", "lightgbm", "rule", "tree"}
        How the model is embedded.
    model_id : str
        The embedded model's id (for a tree: the distilled model's id, see ``description``).
    description : tuple of str
        Lines for the script header (architecture, thresholds, fidelity...).
    lines : tuple of str
        Top-level Pine statements defining ``m_action``, ``m_confidence`` and ``m_risk``.
    """

    kind: str
    model_id: str
    description: tuple[str, ...]
    lines: tuple[str, ...]


def _wrapped_call(head: str, items: Sequence[str], tail: str = ")") -> list[str]:
    """``head item, item, ...tail`` split over lines; continuation lines are indented by 2
    spaces (Pine continues a statement on a line indented by a non-multiple of 4)."""
    if len(items) <= _WRAP:
        return [head + ", ".join(items) + tail]
    lines = []
    for start in range(0, len(items), _WRAP):
        chunk = ", ".join(items[start : start + _WRAP])
        last = start + _WRAP >= len(items)
        text = chunk + (tail if last else ",")
        lines.append(head + text if start == 0 else "  " + text)
    return lines


def _indented(lines: Sequence[str], depth: int = 1) -> list[str]:
    pad = "    " * depth
    return [pad + line for line in lines]


def _softmax_lines(classes: Sequence[str], temperature: float) -> list[str]:
    """From ``nai_logits`` (array of 3) to the m_* series, as ``TorchPredictor`` decides."""
    signs = [ACTION_SIGNS[c] for c in classes]
    inv = pine_float(temperature)
    return [
        f"float nai_l0 = array.get(nai_logits, 0) / {inv}",
        f"float nai_l1 = array.get(nai_logits, 1) / {inv}",
        f"float nai_l2 = array.get(nai_logits, 2) / {inv}",
        "float nai_top = math.max(nai_l0, nai_l1, nai_l2)",
        "float nai_e0 = math.exp(nai_l0 - nai_top)",
        "float nai_e1 = math.exp(nai_l1 - nai_top)",
        "float nai_e2 = math.exp(nai_l2 - nai_top)",
        "float nai_esum = nai_e0 + nai_e1 + nai_e2",
        "float nai_p0 = nai_e0 / nai_esum",
        "float nai_p1 = nai_e1 / nai_esum",
        "float nai_p2 = nai_e2 / nai_esum",
        "// argmax (first class on ties), confidence = max p, risk = entropy / ln 3",
        "int nai_k = nai_p0 >= nai_p1 and nai_p0 >= nai_p2 ? 0 : nai_p1 >= nai_p2 ? 1 : 2",
        "float nai_pmax = nai_k == 0 ? nai_p0 : nai_k == 1 ? nai_p1 : nai_p2",
        "float nai_entropy = -((nai_p0 > 0 ? nai_p0 * math.log(nai_p0) : 0.0) + "
        "(nai_p1 > 0 ? nai_p1 * math.log(nai_p1) : 0.0) + "
        "(nai_p2 > 0 ? nai_p2 * math.log(nai_p2) : 0.0))",
        "bool nai_ready = f_warm == 1.0",
        f"int m_action = nai_ready ? (nai_k == 0 ? {signs[0]} : nai_k == 1 ? {signs[1]} : "
        f"{signs[2]}) : 0",
        "float m_confidence = nai_ready ? math.min(nai_pmax, 1.0) : 0.0",
        f"float m_risk = nai_ready ? math.max(math.min(nai_entropy / {pine_float(math.log(3.0))}, "
        "1.0), 0.0) : 1.0",
    ]


def embed_mlp(model: MLPWeights, spec: FeatureSpec) -> EmbeddedModel:
    """The MLP of an artifact, exactly: standardisation, layers, activation, temperature.

    Raises
    ------
    ValueError
        The artifact's feature names are not ``spec.names`` (the Pine features follow the spec).
    """
    card = model.card
    if tuple(card.feature_names) != tuple(spec.names) or card.spec_hash != spec.hash:
        raise ValueError(
            f"model {card.model_id} was trained on spec {card.spec_hash}, the export uses "
            f"{spec.hash}: feature lists differ"
        )
    arch = card.architecture
    sizes = " -> ".join(str(s) for s in model.layer_sizes)
    lines = [
        f"// ---- Model: MLP {sizes} ({arch.activation}), classes {list(arch.classes)}, "
        f"temperature {card.temperature!r}",
        "// Layer matrices hold [weights | bias]; inputs carry a trailing 1.0 for the bias.",
    ]
    layers = len(model.weights)
    for i in range(layers):
        cols = model.weights[i].shape[1]
        lines.append(f"var matrix<float> NAI_W{i} = matrix.new<float>(0, {cols + 1})")
    lines.append("if barstate.isfirst")
    for i in range(layers):
        augmented = np.column_stack([model.weights[i], model.biases[i]])
        for r, row in enumerate(augmented):
            call = _wrapped_call(
                f"matrix.add_row(NAI_W{i}, {r}, array.from(", [pine_float(v) for v in row], "))"
            )
            lines += _indented(call)
    lines.append("// Standardisation: (x - mean) / std per feature, in the card's feature order")
    standardised = [
        f"({feature_variable(name)} - {pine_float(m)}) / {pine_float(s)}"
        for name, m, s in zip(card.feature_names, model.mean, model.std, strict=True)
    ]
    lines += _wrapped_call("nai_a0 = array.from(", [*standardised, "1.0"])
    if arch.activation == "gelu":
        lines += erf_lines()
    root2 = pine_float(math.sqrt(2.0))
    for i in range(layers - 1):
        width = model.weights[i].shape[0]
        h = f"nai_h{i + 1}"
        lines.append(f"{h} = matrix.mult(NAI_W{i}, nai_a{i})")
        if arch.activation == "gelu":
            # exact GELU: 0.5 v (1 + erf(v / sqrt 2)); erf comes back as a tuple (see erf_lines)
            for j in range(width):
                lines.append(
                    f"[nai_erf{i + 1}_{j}, nai_erfc{i + 1}_{j}] = "
                    f"nai_erf(array.get({h}, {j}) / {root2})"
                )
            units = [
                f"0.5 * array.get({h}, {j}) * (1.0 + nai_erf{i + 1}_{j})" for j in range(width)
            ]
        else:
            units = [f"math.max(array.get({h}, {j}), 0.0)" for j in range(width)]
        lines += _wrapped_call(f"nai_a{i + 1} = array.from(", [*units, "1.0"])
    lines.append(f"nai_logits = matrix.mult(NAI_W{layers - 1}, nai_a{layers - 1})")
    lines += _softmax_lines(arch.classes, card.temperature)
    description = (
        f"Model card: {card.model_id} (artifact {model.path.parent.name}/{model.path.name}), "
        f"kind {card.kind}, created {card.created_at.isoformat()}",
        f"Weights: model.safetensors sha256 {model.weights_sha256}",
        f"Embedding: exact MLP {sizes} ({arch.activation}), {model.parameter_count} parameters, "
        f"temperature {card.temperature!r}",
    )
    return EmbeddedModel("mlp", card.model_id, description, tuple(lines))


def erf_lines() -> list[str]:
    """A Pine ``nai_erf(x)`` accurate to ~1e-15 (Pine has no ``math.erf``), returning the tuple
    ``[erf(x), erfc(|x|)]``.

    ``|x| < 2.5``: the Maclaurin series ``2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))`` with
    42 terms in Horner form (the first omitted term is < 1e-18; cancellation costs < 3e-15).
    ``|x| >= 2.5``: ``erfc(x) = exp(-x^2) / sqrt(pi) * 1 / (x + (1/2) / (x + 1 / (x + (3/2) /
    (x + ...))))``, the continued fraction evaluated from 60 levels deep, where it has converged
    to double precision for every ``x >= 2.5``. See :func:`reference_erf` for the Python twin.

    A tuple, because PineTS rounds the scalar result of every user function to 10 decimals
    (TradingView does not); tuple and array results pass through untouched.
    """
    coefficients = [pine_float(_taylor_coefficient(n)) for n in range(_ERF_TERMS)]
    # Horner's rule from the highest term down, in steps of _HORNER_STEP terms per statement
    # (one deeply nested expression is too much for parsers; the arithmetic is the same).
    body = ["    float ax = math.abs(x)", "    float x2 = x * x"]
    acc = coefficients[-1]
    top = _ERF_TERMS - 1
    while top > 0:
        low = max(top - _HORNER_STEP, 0)
        expr = acc
        for n in range(top - 1, low - 1, -1):
            expr = f"{coefficients[n]} + x2 * ({expr})"
        body.append(f"    float h{low} = {expr}")
        acc, top = f"h{low}", low
    return [
        "nai_erf(float x) =>",
        *body,
        "    float frac = 0.0",
        f"    if ax >= {pine_float(_ERF_SPLIT)}",
        f"        for k = {_ERF_CF_DEPTH} to 1",
        "            frac := (k / 2.0) / (ax + frac)",
        f"    float erfc = math.exp(-ax * ax) / {pine_float(math.sqrt(math.pi))} / (ax + frac)",
        f"    [ax < {pine_float(_ERF_SPLIT)} ? x * h0 : x > 0 ? 1.0 - erfc : erfc - 1.0, erfc]",
    ]


_ERF_TERMS = 42
_ERF_SPLIT = 2.5
_ERF_CF_DEPTH = 60
_HORNER_STEP = 6


def _taylor_coefficient(n: int) -> float:
    return 2.0 / math.sqrt(math.pi) * (-1.0) ** n / (math.factorial(n) * (2 * n + 1))


def reference_erf(x: float) -> float:
    """Python twin of the Pine ``nai_erf`` (same algorithm, same operation order)."""
    ax = abs(x)
    if ax < _ERF_SPLIT:
        x2 = x * x
        acc = _taylor_coefficient(_ERF_TERMS - 1)
        for n in range(_ERF_TERMS - 2, -1, -1):
            acc = _taylor_coefficient(n) + x2 * acc
        return x * acc
    frac = 0.0
    for k in range(_ERF_CF_DEPTH, 0, -1):
        frac = (k / 2.0) / (ax + frac)
    erfc = math.exp(-ax * ax) / math.sqrt(math.pi) / (ax + frac)
    return 1.0 - erfc if x > 0 else erfc - 1.0


def embed_rule(spec: FeatureSpec, config: RuleConfig | None = None) -> EmbeddedModel:
    """:class:`~nautilus_ai.models.rule.RulePredictor` as plain Pine conditions.

    Same checks in the same order, same operands (the derived constants such as
    ``rsi_overbought - 0.5`` are written as the floats the predictor computed).
    """
    predictor = RulePredictor(spec, config)  # validates that the spec has RULE_FEATURES
    c = predictor.config
    v = {name: feature_variable(name) for name in RULE_FEATURES}
    fl = pine_float
    trend_min = fl(c.trend_min_atr)
    lines = [
        f"// ---- Model: {predictor.model_id} (RulePredictor: trend + momentum, "
        "mean-reversion filter)",
        f"float r_e20 = {v['ema20_dist_atr']}",
        f"float r_e50 = {v['ema50_dist_atr']}",
        f"float r_hist = {v['macd_hist']}",
        f"float r_atr = {v['atr_close']}",
        f"float r_rsi = {v['rsi']}",
        f"float nai_risk = {fl(c.risk_rank_weight)} * {v['vol_pct_rank']} + "
        f"{fl(1.0 - c.risk_rank_weight)} * (({v['vol_regime']} + 1.0) * 0.5)",
        "float m_risk = f_warm == 1.0 ? (nai_risk < 0.0 ? 0.0 : nai_risk > 1.0 ? 1.0 : nai_risk) "
        ": 1.0",
        "// 1. warm, 2. volatility filter",
        f"bool r_ok = {v['warm']} >= 0.5 and "
        + ("true" if c.allow_low_volatility else f"not ({v['vol_regime']} < -0.5)"),
        f"// 3. trend: EMA50 distance >= {c.trend_min_atr} ATR and on the EMA20's side",
        f"bool r_up = r_e50 >= {trend_min} and r_e20 >= 0.0",
        f"bool r_down = not r_up and r_e50 <= -{trend_min} and r_e20 <= 0.0",
        "float r_side = r_up ? 1.0 : r_down ? -1.0 : 0.0",
        f"// 4. momentum: MACD histogram >= {c.momentum_min_atr} ATR in the trend's direction",
        "float r_momentum = r_atr > 0.0 ? r_hist / r_atr : 0.0",
        f"float r_strength_m = r_side * r_momentum - {fl(c.momentum_min_atr)}",
        f"// 5. not overextended (EMA20 distance <= {c.max_extension_atr} ATR), "
        f"RSI not beyond {c.rsi_overbought} / {c.rsi_oversold}",
        "bool r_fire = r_ok and (r_up or r_down) and r_strength_m >= 0.0 and "
        f"not (r_side * r_e20 > {fl(c.max_extension_atr)}) and "
        f"not (r_up and r_rsi > {fl(c.rsi_overbought)}) and "
        f"not (r_down and r_rsi < {fl(c.rsi_oversold)})",
        f"float r_room = r_up ? ({fl(c.rsi_overbought)} - r_rsi) / {fl(c.rsi_overbought - 0.5)} "
        f": (r_rsi - {fl(c.rsi_oversold)}) / {fl(0.5 - c.rsi_oversold)}",
        f"float r_st = math.min((r_side * r_e50 - {trend_min}) / "
        f"{fl(c.trend_full_atr - c.trend_min_atr)}, 1.0)",
        f"float r_sm = math.min(r_strength_m / {fl(c.momentum_full_atr - c.momentum_min_atr)}, "
        "1.0)",
        "float r_roomc = math.min(r_room, 1.0)",
        "int m_action = r_fire ? (r_up ? 1 : -1) : 0",
        f"float m_confidence = r_fire ? {fl(c.confidence_floor)} + "
        f"{fl(1.0 - c.confidence_floor)} * ((r_st + r_sm + r_roomc) / 3.0) : 0.0",
    ]
    description = (
        f"Model: {predictor.model_id} (RulePredictor), thresholds "
        + ", ".join(f"{k}={val!r}" for k, val in c.model_dump(exclude={"name"}).items()),
        "Embedding: exact (plain Pine conditions)",
    )
    return EmbeddedModel("rule", predictor.model_id, description, tuple(lines))


def embed_tree(
    tree: DecisionTree, spec: FeatureSpec, *, model_id: str, description: Sequence[str] = ()
) -> EmbeddedModel:
    """A distilled decision tree as node arrays walked by a ``while`` loop (<= depth steps).

    Node ``i``: feature index ``NAI_T_FEATURE[i]`` (-1 for a leaf), go left when
    ``x[feature] <= NAI_T_THRESHOLD[i]``; a leaf holds the action sign and the confidence
    (the distilled model's mean confidence on the training rows of that leaf) and the risk
    (its mean risk score there).
    """
    if tuple(tree.feature_names) != tuple(spec.names):
        raise ValueError("the tree was fitted on another feature list than the spec's")
    feature = [str(int(f)) for f in tree.feature]
    threshold = [
        pine_float(t) if f >= 0 else "0.0"
        for f, t in zip(tree.feature, tree.threshold, strict=True)
    ]
    lines = [
        f"// ---- Model: decision tree distilled from {model_id} ({tree.node_count} nodes, "
        f"depth {tree.depth})",
    ]
    lines += _wrapped_call("var array<int> NAI_T_FEATURE = array.from(", feature)
    lines += _wrapped_call("var array<float> NAI_T_THRESHOLD = array.from(", threshold)
    lines += _wrapped_call(
        "var array<int> NAI_T_LEFT = array.from(", [str(int(i)) for i in tree.left]
    )
    lines += _wrapped_call(
        "var array<int> NAI_T_RIGHT = array.from(", [str(int(i)) for i in tree.right]
    )
    lines += _wrapped_call(
        "var array<int> NAI_T_ACTION = array.from(", [str(int(a)) for a in tree.action]
    )
    lines += _wrapped_call(
        "var array<float> NAI_T_CONFIDENCE = array.from(",
        [pine_float(float(c)) for c in tree.confidence],
    )
    lines += _wrapped_call(
        "var array<float> NAI_T_RISK = array.from(", [pine_float(float(r)) for r in tree.risk]
    )
    lines += _wrapped_call("nai_x = array.from(", [feature_variable(name) for name in spec.names])
    lines += [
        "int nai_node = 0",
        "while array.get(NAI_T_FEATURE, nai_node) >= 0",
        "    int nai_f = array.get(NAI_T_FEATURE, nai_node)",
        "    nai_node := array.get(nai_x, nai_f) <= array.get(NAI_T_THRESHOLD, nai_node) ? "
        "array.get(NAI_T_LEFT, nai_node) : array.get(NAI_T_RIGHT, nai_node)",
        "bool nai_ready = f_warm == 1.0",
        "int m_action = nai_ready ? array.get(NAI_T_ACTION, nai_node) : 0",
        "float m_confidence = nai_ready ? array.get(NAI_T_CONFIDENCE, nai_node) : 0.0",
        "float m_risk = nai_ready ? array.get(NAI_T_RISK, nai_node) : 1.0",
    ]
    return EmbeddedModel("tree", model_id, tuple(description), tuple(lines))


_SUM_TERMS = 16  # tree values per summing statement
#: 2^100: ``(x - threshold) * 2^100 <= 0.0`` is exactly ``x <= threshold`` in IEEE arithmetic (the
#: difference keeps its sign and is zero only when x == threshold; scaling by a power of two is
#: exact), but PineTS compares floats with an absolute tolerance of 1e-10, so ``x <= threshold``
#: itself would go left for any x up to 1e-10 above the threshold (LightGBM puts thresholds at
#: +-1e-35 around zero, and features are often exactly 0). Scaled, only differences below
#: ~8e-41 remain inside that tolerance.
_SPLIT_SCALE = 2.0**100


def embed_lightgbm(
    ensemble: TreeEnsemble, card: GBTModelCard, spec: FeatureSpec, *, model_sha256: str = ""
) -> EmbeddedModel:
    """A LightGBM booster exactly: node arrays walked per tree, per-class sums in tree order,
    the tempered softmax.

    Raises
    ------
    ValueError
        The booster's features are not ``spec.names`` (the Pine features follow the spec).
    """
    if tuple(ensemble.feature_names) != tuple(spec.names) or card.spec_hash != spec.hash:
        raise ValueError(
            f"model {card.model_id} was trained on spec {card.spec_hash}, the export uses "
            f"{spec.hash}: feature lists differ"
        )
    classes = card.architecture.classes
    depth = int(ensemble.tree_depths().max())
    scale = pine_float(_SPLIT_SCALE)
    ints = [str(int(v)) for v in ensemble.split_feature]
    lines = [
        f"// ---- Model: LightGBM, {ensemble.num_iterations} iterations x {ensemble.num_class} "
        f"classes = {ensemble.num_trees} trees ({ensemble.num_nodes} splits, depth <= {depth}), "
        f"classes {list(classes)}, temperature {card.temperature!r}",
        "// Split i: feature NAI_G_FEATURE[i], go left when x <= NAI_G_THRESHOLD[i]; a child",
        "// >= 0 is a split, a child < 0 is leaf -child - 1 of NAI_G_LEAF. Tree t adds its leaf",
        "// value to the raw score of class t % 3.",
    ]
    lines += _wrapped_call("var array<int> NAI_G_FEATURE = array.from(", ints or ["0"])
    lines += _wrapped_call(
        "var array<float> NAI_G_THRESHOLD = array.from(",
        [pine_float(float(v)) for v in ensemble.threshold] or ["0.0"],
    )
    lines += _wrapped_call(
        "var array<int> NAI_G_LEFT = array.from(", [str(int(v)) for v in ensemble.left] or ["0"]
    )
    lines += _wrapped_call(
        "var array<int> NAI_G_RIGHT = array.from(", [str(int(v)) for v in ensemble.right] or ["0"]
    )
    lines += _wrapped_call(
        "var array<float> NAI_G_LEAF = array.from(",
        [pine_float(float(v)) for v in ensemble.leaf_value],
    )
    lines += _wrapped_call(
        "var array<int> NAI_G_ROOT = array.from(", [str(int(v)) for v in ensemble.tree_root]
    )
    lines += [
        "// One walk per tree; the leaf indices come back in an array (ints: PineTS's rounding",
        "// of := and array.set to 10 decimals cannot touch them). (x - t) * 2^100 <= 0 is",
        "// x <= t exactly, out of reach of PineTS's 1e-10 comparison tolerance.",
        "nai_leaves(array<float> x) =>",
        f"    array<int> out = array.new<int>({ensemble.num_trees}, 0)",
        f"    for t = 0 to {ensemble.num_trees - 1}",
        "        int node = array.get(NAI_G_ROOT, t)",
        "        while node >= 0",
        "            float d = array.get(x, array.get(NAI_G_FEATURE, node)) - "
        "array.get(NAI_G_THRESHOLD, node)",
        f"            node := d * {scale} <= 0.0 ? array.get(NAI_G_LEFT, node) : "
        "array.get(NAI_G_RIGHT, node)",
        "        array.set(out, t, -node - 1)",
        "    out",
    ]
    lines += _wrapped_call(
        "nai_gl = nai_leaves(array.from(", [feature_variable(n) for n in spec.names], "))"
    )
    lines.append("// Raw score of each class: its trees' leaf values summed in tree order from 0.0")
    finals = []
    for c in range(ensemble.num_class):
        terms = [
            f"array.get(NAI_G_LEAF, array.get(nai_gl, {t}))"
            for t in range(c, ensemble.num_trees, ensemble.num_class)
        ]
        previous = "0.0"
        for part, start in enumerate(range(0, len(terms), _SUM_TERMS)):
            name = f"nai_s{c}_{part}"
            chunk = [previous, *terms[start : start + _SUM_TERMS]]
            # one term per line; "+" ends the line and the next is indented by 2 (a Pine
            # continuation), left to right as Python adds them
            body = [f"{term} +" for term in chunk[:-1]] + [chunk[-1]]
            lines.append(f"float {name} = {body[0]}")
            lines += [f"  {term}" for term in body[1:]]
            previous = name
        finals.append(previous)
    lines.append(f"nai_logits = array.from({', '.join(finals)})")
    lines += _softmax_lines(classes, card.temperature)
    description = (
        f"Model card: {card.model_id}, kind {card.kind}, created {card.created_at.isoformat()}",
        f"Model: model.txt sha256 {model_sha256 or card.model_sha256}",
        f"Embedding: exact LightGBM, {ensemble.num_trees} trees as node arrays, "
        f"temperature {card.temperature!r}",
    )
    return EmbeddedModel("lightgbm", card.model_id, description, tuple(lines))
