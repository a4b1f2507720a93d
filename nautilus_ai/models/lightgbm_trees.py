"""LightGBM's text model format, read and evaluated in numpy (no ``lightgbm`` import).

A multiclass LightGBM model (``objective=multiclass``) is ``num_class`` trees per boosting
iteration; tree ``t`` adds one leaf value to the raw score (logit) of class ``t % num_class``.
:func:`parse_lightgbm_model` reads ``Booster.model_to_string()`` text into flat node arrays
(:class:`TreeEnsemble`); :class:`TreeEvaluator` turns feature rows into leaf indices and raw
scores. The decision rule is LightGBM's for numerical splits: go left when
``x[feature] <= threshold`` (float64 comparison, thresholds stored in 17 significant digits so
they read back exactly).

Two traversals that always pick the same leaves:

* one row (:meth:`TreeEvaluator.raw_scores_one`): QuickScorer (Lucchese et al., "QuickScorer: a
  Fast Algorithm to Rank Documents with Additive Ensembles of Regression Trees", SIGIR 2015).
  Every split whose test is false (``x > threshold``) rules out the leaves of its left subtree;
  AND-ing those leaf bitmasks per tree leaves the exit leaf as the lowest set bit. A fixed
  dozen numpy calls whatever the depth: no Python loop over trees or levels.
* many rows (:meth:`TreeEvaluator.raw_scores`): every (row, tree) pair walks down one level per
  pass over chunks of rows (a leaf steps onto itself, so no pair is ever dropped or copied).

The raw score of each class is summed in tree order starting from 0.0, exactly as LightGBM's
``Predict`` does, so both paths give the same float64 bits as each other and as
``Booster.predict(raw_score=True)`` (checked in the tests).

Supported: numerical splits (no categorical features, no linear trees), missing-value types
``None`` and ``NaN`` (non-finite inputs are refused upstream, so neither default direction is
ever taken), at most 64 leaves per tree (one 64-bit mask per tree).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "MAX_LEAVES",
    "LightGBMModelError",
    "TreeEnsemble",
    "TreeEvaluator",
    "parse_lightgbm_model",
]

#: Leaves per tree the QuickScorer masks hold (one uint64 per tree).
MAX_LEAVES = 64
_ALL_LEAVES = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
_ONE = np.uint64(1)
# decision_type bits (LightGBM tree.h): 1 = categorical, 2 = default left, bits 2-3 = missing type
_CATEGORICAL_BIT = 1
_MISSING_ZERO = 1

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


class LightGBMModelError(ValueError):
    """A LightGBM text model that cannot be read or is of a kind this evaluator does not run."""


@dataclass(frozen=True)
class TreeEnsemble:
    """A parsed multiclass LightGBM model as flat arrays over all trees.

    Internal nodes and leaves are numbered globally (tree 0's first). A child index ``>= 0`` is
    an internal node; a negative one is ``~leaf`` (``-leaf - 1``), as in LightGBM's own format.

    Parameters
    ----------
    num_class : int
        Classes (= trees per iteration).
    feature_names : tuple of str
        Input columns, in order.
    objective : str
        LightGBM's objective line (``"multiclass num_class:3"``).
    split_feature, threshold, left, right : ndarray
        Per internal node: feature index, threshold, children (global codes).
    leaf_value : ndarray
        Per leaf: the value added to its tree's class score (shrinkage already applied).
    tree_root : ndarray
        Per tree: its root node, or ``~leaf`` for a tree that is a single leaf.
    tree_nodes, tree_leaves : ndarray
        Per tree: first global internal node / first global leaf (prefix offsets).
    text : str
        The model text it was parsed from (what the artifact stores).
    """

    num_class: int
    feature_names: tuple[str, ...]
    objective: str
    split_feature: I64 = field(repr=False)
    threshold: F64 = field(repr=False)
    left: I64 = field(repr=False)
    right: I64 = field(repr=False)
    leaf_value: F64 = field(repr=False)
    tree_root: I64 = field(repr=False)
    tree_nodes: I64 = field(repr=False)
    tree_leaves: I64 = field(repr=False)
    text: str = field(repr=False, compare=False)

    @property
    def num_trees(self) -> int:
        return int(self.tree_root.shape[0])

    @property
    def num_iterations(self) -> int:
        return self.num_trees // self.num_class

    @property
    def num_nodes(self) -> int:
        """Internal nodes (splits) over all trees."""
        return int(self.split_feature.shape[0])

    @property
    def num_leaves(self) -> int:
        return int(self.leaf_value.shape[0])

    @property
    def max_leaves(self) -> int:
        """Most leaves in one tree."""
        return int(np.diff(self.tree_leaves).max())

    def tree_depths(self) -> I64:
        """Longest root-to-leaf path of each tree, in splits (0 for a single leaf)."""
        depth = np.zeros(self.num_nodes, dtype=np.int64)
        out = np.zeros(self.num_trees, dtype=np.int64)
        for t in range(self.num_trees):
            root = int(self.tree_root[t])
            if root < 0:
                continue
            stack = [(root, 1)]
            while stack:
                node, d = stack.pop()
                depth[node] = d
                out[t] = max(out[t], d)
                for child in (int(self.left[node]), int(self.right[node])):
                    if child >= 0:
                        stack.append((child, d + 1))
        return out

    def used_features(self) -> tuple[str, ...]:
        """Names of the features some split tests, in column order."""
        used = np.unique(self.split_feature)
        return tuple(self.feature_names[i] for i in used.tolist())


def _ints(value: str, key: str, where: str) -> list[int]:
    try:
        return [int(v) for v in value.split()]
    except ValueError:
        raise LightGBMModelError(f"{where}: {key} holds a non-integer: {value[:80]!r}") from None


def _floats(value: str, key: str, where: str) -> list[float]:
    try:
        return [float(v) for v in value.split()]
    except ValueError:
        raise LightGBMModelError(f"{where}: {key} holds a non-number: {value[:80]!r}") from None


def _blocks(text: str) -> tuple[dict[str, str], list[tuple[int, dict[str, str]]]]:
    """Header ``key=value`` pairs and each ``Tree=`` block's pairs (with its first line number)."""
    header: dict[str, str] = {}
    trees: list[tuple[int, dict[str, str]]] = []
    current: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line == "end of trees":
            break
        if not line or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if key == "Tree":
            current = {"Tree": value}
            trees.append((number, current))
        elif current is None:
            header[key] = value
        else:
            current[key] = value
    return header, trees


def parse_lightgbm_model(text: str, *, source: str = "model text") -> TreeEnsemble:
    """Parse ``Booster.model_to_string()`` output.

    Raises
    ------
    LightGBMModelError
        Not a LightGBM text model, not ``multiclass``, categorical splits, linear trees, the
        ``Zero`` missing type, more than :data:`MAX_LEAVES` leaves in a tree, or a malformed tree
        (named with its line number in ``source``).
    """
    header, trees = _blocks(text)
    if not text.startswith("tree") or "version" not in header:
        raise LightGBMModelError(f"{source}: not a LightGBM text model (no 'tree' / 'version')")
    for key in ("num_class", "num_tree_per_iteration", "max_feature_idx", "objective"):
        if key not in header:
            raise LightGBMModelError(f"{source}: header has no {key!r}")
    objective = header["objective"]
    if objective.split()[0] != "multiclass":
        raise LightGBMModelError(
            f"{source}: objective {objective!r} is not supported (train with "
            "objective='multiclass', the softmax over classes)"
        )
    num_class = int(header["num_class"])
    if int(header["num_tree_per_iteration"]) != num_class:
        raise LightGBMModelError(f"{source}: num_tree_per_iteration != num_class ({num_class})")
    n_features = int(header["max_feature_idx"]) + 1
    names = tuple(header.get("feature_names", "").split())
    if len(names) != n_features:
        raise LightGBMModelError(
            f"{source}: {len(names)} feature_names for max_feature_idx {n_features - 1}"
        )
    if not trees or len(trees) % num_class:
        raise LightGBMModelError(
            f"{source}: {len(trees)} trees is not a positive multiple of num_class {num_class}"
        )
    split_feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    leaf_value: list[float] = []
    tree_root: list[int] = []
    tree_nodes: list[int] = [0]
    tree_leaves: list[int] = [0]
    for position, (line, tree) in enumerate(trees):
        where = f"{source} line {line} (Tree={tree['Tree']})"
        if tree["Tree"].strip() != str(position):
            raise LightGBMModelError(f"{where}: expected Tree={position}")
        if int(tree.get("num_cat", "0")) != 0:
            raise LightGBMModelError(f"{where}: categorical splits are not supported")
        if int(tree.get("is_linear", "0")) != 0:
            raise LightGBMModelError(f"{where}: linear trees are not supported")
        n_leaves = int(tree.get("num_leaves", "0"))
        if not 1 <= n_leaves <= MAX_LEAVES:
            raise LightGBMModelError(
                f"{where}: {n_leaves} leaves; 1 to {MAX_LEAVES} are supported (num_leaves)"
            )
        values = _floats(tree.get("leaf_value", ""), "leaf_value", where)
        if len(values) != n_leaves or not all(np.isfinite(values)):
            raise LightGBMModelError(f"{where}: leaf_value needs {n_leaves} finite numbers")
        base_node, base_leaf = tree_nodes[-1], tree_leaves[-1]
        if n_leaves == 1:
            tree_root.append(~base_leaf)
        else:
            n_nodes = n_leaves - 1
            features = _ints(tree.get("split_feature", ""), "split_feature", where)
            thresholds = _floats(tree.get("threshold", ""), "threshold", where)
            decisions = _ints(tree.get("decision_type", ""), "decision_type", where)
            lefts = _ints(tree.get("left_child", ""), "left_child", where)
            rights = _ints(tree.get("right_child", ""), "right_child", where)
            for key, got in (("split_feature", features), ("threshold", thresholds),
                             ("decision_type", decisions), ("left_child", lefts),
                             ("right_child", rights)):  # fmt: skip
                if len(got) != n_nodes:
                    raise LightGBMModelError(f"{where}: {key} needs {n_nodes} values")
            for d in decisions:
                if d & _CATEGORICAL_BIT:
                    raise LightGBMModelError(f"{where}: categorical splits are not supported")
                if (d >> 2) & 3 == _MISSING_ZERO:
                    raise LightGBMModelError(
                        f"{where}: the 'Zero' missing type (zero_as_missing=true) is not supported"
                    )
            if not all(0 <= f < n_features for f in features):
                raise LightGBMModelError(f"{where}: split_feature out of range")
            if not all(np.isfinite(thresholds)):
                raise LightGBMModelError(f"{where}: non-finite threshold")
            _check_tree_shape(lefts, rights, n_leaves, where)
            split_feature += features
            threshold += thresholds
            left += [c + base_node if c >= 0 else ~(~c + base_leaf) for c in lefts]
            right += [c + base_node if c >= 0 else ~(~c + base_leaf) for c in rights]
            tree_root.append(base_node)
        leaf_value += values
        tree_nodes.append(base_node + n_leaves - 1)
        tree_leaves.append(base_leaf + n_leaves)
    return TreeEnsemble(
        num_class=num_class,
        feature_names=names,
        objective=objective,
        split_feature=np.array(split_feature, dtype=np.int64),
        threshold=np.array(threshold, dtype=np.float64),
        left=np.array(left, dtype=np.int64),
        right=np.array(right, dtype=np.int64),
        leaf_value=np.array(leaf_value, dtype=np.float64),
        tree_root=np.array(tree_root, dtype=np.int64),
        tree_nodes=np.array(tree_nodes, dtype=np.int64),
        tree_leaves=np.array(tree_leaves, dtype=np.int64),
        text=text,
    )


def _check_tree_shape(lefts: list[int], rights: list[int], n_leaves: int, where: str) -> None:
    """Every internal node but the root has one parent, every leaf one: a proper binary tree
    rooted at node 0 (so no walk can loop or miss a leaf)."""
    seen_nodes = [False] * len(lefts)
    seen_leaves = [False] * n_leaves
    seen_nodes[0] = True
    stack = [0]
    while stack:
        node = stack.pop()
        for child in (lefts[node], rights[node]):
            if child >= 0:
                if child >= len(lefts) or seen_nodes[child]:
                    raise LightGBMModelError(f"{where}: node {child} reached twice or missing")
                seen_nodes[child] = True
                stack.append(child)
            else:
                leaf = ~child
                if leaf >= n_leaves or seen_leaves[leaf]:
                    raise LightGBMModelError(f"{where}: leaf {leaf} reached twice or missing")
                seen_leaves[leaf] = True
    if not (all(seen_nodes) and all(seen_leaves)):
        raise LightGBMModelError(f"{where}: some nodes or leaves are not reachable")


class TreeEvaluator:
    """Leaf indices and raw class scores of a :class:`TreeEnsemble` (see the module docstring).

    Inputs are float64 feature rows, assumed finite (callers check).
    """

    def __init__(self, ensemble: TreeEnsemble, chunk_rows: int = 256) -> None:
        self.ensemble = e = ensemble
        self._chunk_rows = chunk_rows
        self._classes = e.num_class
        self._iterations = e.num_iterations
        # QuickScorer tables: one entry per internal node (a never-false dummy for single-leaf
        # trees), grouped by tree; leaves renumbered left to right within each tree.
        feature: list[int] = []
        threshold: list[float] = []
        mask: list[int] = []
        starts: list[int] = []
        leaf_by_bit: list[list[int]] = []
        for t in range(e.num_trees):
            starts.append(len(feature))
            root = int(e.tree_root[t])
            if root < 0:
                feature.append(0)
                threshold.append(float("inf"))
                mask.append(int(_ALL_LEAVES))
                leaf_by_bit.append([~root] * MAX_LEAVES)
                continue
            order = _leaves_left_to_right(e, root)
            bit = {leaf: i for i, leaf in enumerate(order)}
            first, last = int(e.tree_nodes[t]), int(e.tree_nodes[t + 1])
            for node in range(first, last):
                cleared = 0
                for leaf in _leaves_left_to_right(e, int(e.left[node])):
                    cleared |= 1 << bit[leaf]
                feature.append(int(e.split_feature[node]))
                threshold.append(float(e.threshold[node]))
                mask.append(int(_ALL_LEAVES) ^ cleared)
            leaf_by_bit.append(order + [order[-1]] * (MAX_LEAVES - len(order)))
        self._qs_feature = np.array(feature, dtype=np.intp)
        self._qs_threshold = np.array(threshold, dtype=np.float64)
        self._qs_mask = np.array(mask, dtype=np.uint64)
        self._qs_starts = np.array(starts, dtype=np.intp)
        # tree * 64 + bit -> global leaf, and its value
        self._leaf_by_bit = np.array(leaf_by_bit, dtype=np.intp).reshape(-1)
        self._value_by_bit = e.leaf_value[self._leaf_by_bit]
        self._bit_base = np.arange(e.num_trees, dtype=np.intp) * MAX_LEAVES
        self._zero_row = np.zeros((1, self._classes), dtype=np.float64)
        # Walk tables: internal nodes, then one node per leaf whose children are itself (so a
        # finished walk stays put); children of node i at 2 i (left) and 2 i + 1 (right).
        n_nodes, n_leaves = e.num_nodes, e.num_leaves
        self._first_leaf = n_nodes
        leaf_nodes = np.arange(n_nodes, n_nodes + n_leaves, dtype=np.int64)

        def code(children: I64) -> I64:
            return np.where(children >= 0, children, n_nodes + ~children)

        child = np.empty((n_nodes + n_leaves, 2), dtype=np.int64)
        child[:n_nodes, 0] = code(e.left)
        child[:n_nodes, 1] = code(e.right)
        child[n_nodes:, 0] = child[n_nodes:, 1] = leaf_nodes
        self._walk_child = child.reshape(-1)
        self._walk_feature = np.concatenate([e.split_feature, np.zeros(n_leaves, np.int64)])
        self._walk_threshold = np.concatenate([e.threshold, np.full(n_leaves, np.inf)])
        self._walk_root = code(e.tree_root)
        self._walk_value = np.concatenate([np.zeros(n_nodes), e.leaf_value])
        self._depth = int(e.tree_depths().max())

    # ------------------------------------------------------------------ one row

    def _exit_bits(self, x: F64) -> NDArray[np.intp]:
        false = x.take(self._qs_feature) > self._qs_threshold
        masks = np.where(false, self._qs_mask, _ALL_LEAVES)
        exits = np.bitwise_and.reduceat(masks, self._qs_starts)
        lowest = exits & (~exits + _ONE)
        bits: NDArray[np.intp] = np.frexp(lowest.astype(np.float64))[1] - 1
        return bits

    def leaves_one(self, x: F64) -> NDArray[np.intp]:
        """Global leaf index per tree for one row (QuickScorer)."""
        leaves: NDArray[np.intp] = self._leaf_by_bit.take(self._bit_base + self._exit_bits(x))
        return leaves

    def raw_scores_one(self, x: F64) -> F64:
        """``(num_class,)`` raw scores (logits) for one row, summed in tree order from 0.0."""
        values = self._value_by_bit.take(self._bit_base + self._exit_bits(x))
        stacked = np.concatenate([self._zero_row, values.reshape(self._iterations, -1)])
        out: F64 = np.add.accumulate(stacked, axis=0)[-1]
        return out

    # ------------------------------------------------------------------ many rows

    def _walk(self, features: F64) -> Iterator[tuple[int, I64]]:
        """Per chunk of rows: its first row and the ``(rows, num_trees)`` walk nodes reached.

        Every (row, tree) pair steps down one level per pass, for as many passes as the deepest
        tree (a leaf steps onto itself); chunks are small enough to stay in cache.
        """
        x = np.ascontiguousarray(features, dtype=np.float64)
        n, k = x.shape
        trees = self.ensemble.num_trees
        feature, threshold, child = self._walk_feature, self._walk_threshold, self._walk_child
        step = max(1, self._chunk_rows)
        for lo in range(0, n, step):
            flat = x[lo : lo + step].reshape(-1)
            m = flat.shape[0] // k
            node = np.tile(self._walk_root, m)
            row_base = np.repeat(np.arange(m, dtype=np.int64) * k, trees)
            for _ in range(self._depth):
                go_right = flat[row_base + feature[node]] > threshold[node]
                node = child[2 * node + go_right]
            yield lo, node.reshape(m, trees)

    def leaves(self, features: F64) -> I64:
        """``(n, num_trees)`` global leaf indices (the chunked level-by-level walk)."""
        out = np.empty((features.shape[0], self.ensemble.num_trees), dtype=np.int64)
        for lo, node in self._walk(features):
            out[lo : lo + node.shape[0]] = node - self._first_leaf
        return out

    def raw_scores(self, features: F64) -> F64:
        """``(n, num_class)`` raw scores, bit-identical to :meth:`raw_scores_one` per row."""
        c = self._classes
        out = np.empty((features.shape[0], c), dtype=np.float64)
        for lo, node in self._walk(features):
            m = node.shape[0]
            stacked = np.zeros((m, self._iterations + 1, c), dtype=np.float64)
            stacked[:, 1:, :] = self._walk_value.take(node).reshape(m, self._iterations, c)
            out[lo : lo + m] = np.add.accumulate(stacked, axis=1)[:, -1, :]
        return out


def _leaves_left_to_right(e: TreeEnsemble, node: int) -> list[int]:
    """Global leaf indices under ``node`` (a node or a ``~leaf`` code), left to right."""
    if node < 0:
        return [~node]
    out: list[int] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if current < 0:
            out.append(~current)
        else:
            stack.append(int(e.right[current]))
            stack.append(int(e.left[current]))
    return out
