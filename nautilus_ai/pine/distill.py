"""Distil any predictor into a small decision tree that Pine can run (a plain-numpy CART).

Models that cannot be embedded in Pine (language models, chart models, large networks) are
exported as a classification tree fitted on feature rows -> the model's *trading signal*: the
action when its confidence reaches ``min_confidence``, else hold (the policy's target). Rows are
split in time: the first ``1 - holdout_fraction`` fit the tree, the rest measure its
**fidelity** (share of held-out rows where tree and model give the same signal). Because holds
dominate, :class:`DistillReport` also gives per-signal recall, so a tree that only ever says hold
cannot hide behind a high agreement.

The CART is the textbook one: binary splits ``x[f] <= threshold`` chosen by the largest Gini
decrease, thresholds halfway between adjacent distinct values, ``max_depth`` and
``min_samples_leaf`` as the stopping rules. One addition: two values closer than
``MIN_SPLIT_GAP`` (1e-9) are never split apart, so every threshold is at least 5e-10 away from
every training value. Such values are the same number up to rounding (e.g. ``sin`` of two
symmetric minutes, one ulp apart), a Pine feature equals its Python twin only to ~1e-11, and
PineTS compares floats with an absolute tolerance of 1e-10; a split between them would be noise.

A leaf predicts its majority signal; its confidence and risk are the model's mean confidence /
risk over the leaf's rows of that signal, so the Pine threshold input keeps its meaning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MIN_SPLIT_GAP",
    "DecisionTree",
    "DistillReport",
    "distill_signals",
    "fit_tree",
    "signal_of",
]

#: Adjacent values closer than this are never split apart (see the module docstring).
MIN_SPLIT_GAP = 1e-9

Float64Array = NDArray[np.float64]
IntArray = NDArray[np.int64]
_SIGNS = (-1, 0, 1)  # class index 0, 1, 2


def signal_of(
    sign: NDArray[np.integer[Any]], confidence: Float64Array, min_confidence: float
) -> NDArray[np.int8]:
    """The policy's target per row: ``sign`` where ``confidence >= min_confidence``, else 0."""
    return np.where(confidence >= min_confidence, np.asarray(sign), 0).astype(np.int8)


@dataclass(frozen=True)
class DecisionTree:
    """A fitted binary tree, as parallel node arrays (node 0 is the root).

    Parameters
    ----------
    feature_names : tuple of str
        Column names of the rows it was fitted on (the feature spec's names).
    feature : ndarray of int
        Split feature per node; -1 for a leaf.
    threshold : ndarray of float
        Go left when ``x[feature] <= threshold`` (unused on leaves).
    left, right : ndarray of int
        Child node indices; -1 for a leaf.
    action : ndarray of int8
        Predicted signal per node (-1, 0, 1): the majority of its training rows.
    confidence, risk : ndarray of float
        The model's mean confidence / risk score over the node's rows of that signal.
    samples : ndarray of int
        Training rows reaching the node.
    """

    feature_names: tuple[str, ...]
    feature: IntArray
    threshold: Float64Array
    left: IntArray
    right: IntArray
    action: NDArray[np.int8]
    confidence: Float64Array
    risk: Float64Array
    samples: IntArray

    @property
    def node_count(self) -> int:
        """Nodes (internal and leaves)."""
        return int(self.feature.shape[0])

    @property
    def depth(self) -> int:
        """Longest root-to-leaf path, in splits."""
        depth = np.zeros(self.node_count, dtype=np.int64)
        for node in range(self.node_count):  # children always come after their parent
            if self.feature[node] >= 0:
                depth[self.left[node]] = depth[self.right[node]] = depth[node] + 1
        return int(depth.max())

    def apply(self, features: Float64Array) -> IntArray:
        """Leaf index per row (vectorised walk, one level per step)."""
        x = np.asarray(features, dtype=np.float64)
        node = np.zeros(x.shape[0], dtype=np.int64)
        rows = np.arange(x.shape[0])
        while True:
            split = self.feature[node]
            active = split >= 0
            if not active.any():
                return node
            r = rows[active]
            n = node[active]
            go_left = x[r, split[active]] <= self.threshold[n]
            node[active] = np.where(go_left, self.left[n], self.right[n])

    def predict_arrays(
        self, features: Float64Array
    ) -> tuple[NDArray[np.int8], Float64Array, Float64Array]:
        """``(action sign, confidence, risk)`` per row."""
        leaf = self.apply(features)
        return self.action[leaf], self.confidence[leaf], self.risk[leaf]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists)."""
        return {
            "feature_names": list(self.feature_names),
            "feature": self.feature.tolist(),
            "threshold": self.threshold.tolist(),
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "action": self.action.tolist(),
            "confidence": self.confidence.tolist(),
            "risk": self.risk.tolist(),
            "samples": self.samples.tolist(),
        }


@dataclass(frozen=True)
class DistillReport:
    """How faithfully a distilled tree reproduces the model's signals.

    Parameters
    ----------
    fidelity : float
        Share of held-out rows where tree signal == model signal.
    train_agreement : float
        The same on the fitting rows.
    train_rows, holdout_rows : int
        Rows used to fit / to measure (held-out rows come after the fitting rows in time).
    min_confidence : float
        Threshold that turned the model's actions into signals.
    holdout_recall : dict
        Per model signal (``"sell"``, ``"hold"``, ``"buy"``): ``(rows, share the tree matched)``
        on held-out rows.
    model_signal_rate, tree_signal_rate : float
        Share of held-out rows with a buy or sell signal, model vs tree.
    max_depth, min_samples_leaf : int
        Tree settings.
    """

    fidelity: float
    train_agreement: float
    train_rows: int
    holdout_rows: int
    min_confidence: float
    holdout_recall: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    model_signal_rate: float = 0.0
    tree_signal_rate: float = 0.0
    max_depth: int = 0
    min_samples_leaf: int = 0

    def summary(self) -> str:
        """One line for the script header and the CLI."""
        recall = ", ".join(
            f"{name} {share:.1%} of {rows}" for name, (rows, share) in self.holdout_recall.items()
        )
        return (
            f"fidelity {self.fidelity:.2%} on {self.holdout_rows} held-out rows (train "
            f"{self.train_agreement:.2%} on {self.train_rows}); recall per model signal: {recall}; "
            f"signal rate model {self.model_signal_rate:.2%} vs tree {self.tree_signal_rate:.2%}"
        )


def fit_tree(
    features: Float64Array,
    signal: NDArray[np.integer[Any]],
    confidence: Float64Array,
    risk: Float64Array,
    *,
    feature_names: Sequence[str],
    max_depth: int = 8,
    min_samples_leaf: int = 50,
) -> DecisionTree:
    """Fit a Gini CART on ``features -> signal`` (signals in {-1, 0, 1}).

    Raises
    ------
    ValueError
        Shapes differ, a non-finite feature, a signal outside {-1, 0, 1}, or bad settings.
    """
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(signal).astype(np.int64)
    conf = np.asarray(confidence, dtype=np.float64)
    rsk = np.asarray(risk, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(feature_names):
        raise ValueError(
            f"features must be (n, {len(feature_names)}) for the named features, got {x.shape}"
        )
    n = x.shape[0]
    if y.shape != (n,) or conf.shape != (n,) or rsk.shape != (n,):
        raise ValueError("signal, confidence and risk need one value per feature row")
    if n == 0:
        raise ValueError("cannot fit a tree on 0 rows")
    if not np.isfinite(x).all():
        row, col = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"feature {feature_names[col]!r} is not finite at row {row}")
    if not np.isin(y, _SIGNS).all():
        raise ValueError(f"signals must be -1, 0 or 1, got {sorted(set(y.tolist()))}")
    if max_depth < 0 or min_samples_leaf < 1:
        raise ValueError(
            f"need max_depth >= 0 and min_samples_leaf >= 1, got {max_depth}, {min_samples_leaf}"
        )
    classes = y + 1  # -1, 0, 1 -> 0, 1, 2
    nodes: list[dict[str, Any]] = []
    stack: list[tuple[NDArray[np.intp], int, int]] = [(np.arange(n), 0, -1)]
    # Depth-first, children appended right after their parent is split (parents precede).
    while stack:
        rows, depth, parent_slot = stack.pop()
        index = len(nodes)
        counts = np.bincount(classes[rows], minlength=3)
        majority = int(np.argmax(counts[[1, 0, 2]]))  # ties prefer hold, then sell, then buy
        majority = (1, 0, 2)[majority]
        same = rows[classes[rows] == majority]
        chosen = same if len(same) else rows
        node: dict[str, Any] = {
            "feature": -1,
            "threshold": 0.0,
            "left": -1,
            "right": -1,
            "action": _SIGNS[majority],
            "confidence": float(conf[chosen].mean()),
            "risk": float(rsk[chosen].mean()),
            "samples": len(rows),
        }
        nodes.append(node)
        if parent_slot >= 0:
            parent, side = divmod(parent_slot, 2)
            nodes[parent]["right" if side else "left"] = index
        if depth >= max_depth or counts.max() == len(rows) or len(rows) < 2 * min_samples_leaf:
            continue
        split = _best_split(x[rows], classes[rows], min_samples_leaf)
        if split is None:
            continue
        feature, threshold = split
        go_left = x[rows, feature] <= threshold
        node["feature"], node["threshold"] = feature, threshold
        # Push right first so the left child is numbered first (stable, readable node order).
        stack.append((rows[~go_left], depth + 1, 2 * index + 1))
        stack.append((rows[go_left], depth + 1, 2 * index))
    return DecisionTree(
        feature_names=tuple(feature_names),
        feature=np.array([nd["feature"] for nd in nodes], dtype=np.int64),
        threshold=np.array([nd["threshold"] for nd in nodes], dtype=np.float64),
        left=np.array([nd["left"] for nd in nodes], dtype=np.int64),
        right=np.array([nd["right"] for nd in nodes], dtype=np.int64),
        action=np.array([nd["action"] for nd in nodes], dtype=np.int8),
        confidence=np.array([nd["confidence"] for nd in nodes], dtype=np.float64),
        risk=np.array([nd["risk"] for nd in nodes], dtype=np.float64),
        samples=np.array([nd["samples"] for nd in nodes], dtype=np.int64),
    )


def _best_split(x: Float64Array, classes: IntArray, min_leaf: int) -> tuple[int, float] | None:
    """``(feature, threshold)`` with the lowest weighted Gini impurity, or None."""
    n = x.shape[0]
    onehot = np.eye(3, dtype=np.float64)
    total = np.bincount(classes, minlength=3).astype(np.float64)
    parent = 1.0 - float(((total / n) ** 2).sum())
    best_score = parent - 1e-12  # a split must lower the impurity
    best: tuple[int, float] | None = None
    left_n = np.arange(1, n, dtype=np.float64)  # left size after position i (rows 0..i)
    right_n = n - left_n
    size_ok = (left_n >= min_leaf) & (right_n >= min_leaf)
    for feature in range(x.shape[1]):
        order = np.argsort(x[:, feature], kind="stable")
        xs = x[order, feature]
        left_counts = np.cumsum(onehot[classes[order]], axis=0)[:-1]
        right_counts = total - left_counts
        valid = size_ok & (xs[1:] - xs[:-1] > MIN_SPLIT_GAP)
        if not valid.any():
            continue
        gini_left = 1.0 - ((left_counts / left_n[:, None]) ** 2).sum(axis=1)
        gini_right = 1.0 - ((right_counts / right_n[:, None]) ** 2).sum(axis=1)
        score = (left_n * gini_left + right_n * gini_right) / n
        score[~valid] = np.inf
        i = int(np.argmin(score))
        if score[i] < best_score:
            lo, hi = float(xs[i]), float(xs[i + 1])
            best_score, best = float(score[i]), (feature, lo + (hi - lo) / 2.0)
    return best


def distill_signals(
    features: Float64Array,
    action_sign: NDArray[np.integer[Any]],
    confidence: Float64Array,
    risk: Float64Array,
    *,
    feature_names: Sequence[str],
    min_confidence: float,
    holdout_fraction: float = 0.2,
    max_depth: int = 8,
    min_samples_leaf: int = 50,
) -> tuple[DecisionTree, DistillReport]:
    """Fit a tree on the first rows' model signals and measure it on the last rows.

    Parameters
    ----------
    features : ndarray
        ``(n, k)`` warm feature rows in time order (no NaN).
    action_sign, confidence, risk : ndarray
        The model's prediction per row (sign -1/0/1).
    feature_names : sequence of str
        Column names.
    min_confidence : float
        The strategy threshold turning actions into signals.
    holdout_fraction : float
        Share of the LAST rows kept out of fitting, in (0, 1).

    Returns
    -------
    (DecisionTree, DistillReport)
    """
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction!r}")
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence!r}")
    n = len(features)
    cut = math.floor(n * (1.0 - holdout_fraction))
    if cut < 1 or cut >= n:
        raise ValueError(f"{n} rows are too few to hold out {holdout_fraction:.0%}")
    target = signal_of(action_sign, confidence, min_confidence)
    tree = fit_tree(
        features[:cut],
        target[:cut],
        confidence[:cut],
        risk[:cut],
        feature_names=feature_names,
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
    )
    sign, conf, _ = tree.predict_arrays(features)
    predicted = signal_of(sign, conf, min_confidence)
    train_match = predicted[:cut] == target[:cut]
    hold_match = predicted[cut:] == target[cut:]
    held = target[cut:]
    recall = {}
    for name, value in (("sell", -1), ("hold", 0), ("buy", 1)):
        mask = held == value
        rows = int(mask.sum())
        recall[name] = (rows, float(hold_match[mask].mean()) if rows else float("nan"))
    report = DistillReport(
        fidelity=float(hold_match.mean()),
        train_agreement=float(train_match.mean()),
        train_rows=cut,
        holdout_rows=n - cut,
        min_confidence=min_confidence,
        holdout_recall=recall,
        model_signal_rate=float((held != 0).mean()),
        tree_signal_rate=float((predicted[cut:] != 0).mean()),
        max_depth=max_depth,
        min_samples_leaf=min_samples_leaf,
    )
    return tree, report
