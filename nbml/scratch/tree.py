"""CART decision trees from scratch: greedy binary splits "x_j <= t".

At each node every feature is sorted once; walking through the sorted rows, cumulative
sums give the class weights (or sum of y and y^2) on the left of every possible threshold,
so all thresholds of a feature are scored in one vectorised step. The split with the largest
weighted impurity decrease wins:

    decrease = W_node * impurity(node) - W_left * impurity(left) - W_right * impurity(right)

Impurities: gini 1 - sum_k p_k^2, entropy -sum_k p_k log2 p_k, squared error = weighted
variance of y. Thresholds are midpoints between consecutive distinct values, like
scikit-learn's.

``loss_history_`` lists, for each split in the order it was made (depth first), the impurity
decrease divided by the total weight; it sums to the total impurity reduction, and summed per
feature and normalised it is ``feature_importances_`` (scikit-learn's definition).
"""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from nbml.scratch.linear import _seed

LEAF = -1


def _child_impurity_sums(C, criterion):
    """W * impurity for every row of C (cumulative class weights, or [w, wy, wy^2] sums)."""
    if criterion == "squared_error":
        W, S, SS = C[:, 0], C[:, 1], C[:, 2]
        # W * var = sum w y^2 - (sum w y)^2 / W
        return SS - np.divide(S * S, W, out=np.zeros_like(S), where=W > 0)
    W = C.sum(axis=1)
    if criterion == "gini":
        # W * (1 - sum p_k^2) = W - sum C_k^2 / W
        return W - np.divide((C * C).sum(axis=1), W, out=np.zeros_like(W), where=W > 0)
    # entropy: W * H = -sum C_k log2(C_k / W)
    P = np.divide(C, W[:, None], out=np.zeros_like(C), where=W[:, None] > 0)
    logP = np.log2(P, out=np.zeros_like(P), where=P > 0)
    return -(C * logP).sum(axis=1)


class _BaseTree(BaseEstimator):
    _parameter_constraints = {
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "min_samples_split": [Interval(Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "min_impurity_decrease": [Interval(Real, 0, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(self, criterion, max_depth=None, min_samples_split=2, min_samples_leaf=1,
                 min_impurity_decrease=0.0, max_features=None, random_state=None):
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_impurity_decrease = min_impurity_decrease
        self.max_features = max_features
        self.random_state = random_state

    def _stats(self, T, rows):
        """Per-row statistics whose sums describe a node (subclasses)."""
        raise NotImplementedError

    def _criterion(self):
        return self.criterion

    def _grow(self, X, T, k_value):
        """Build the tree depth first. T: (n, m) per-row weighted statistics."""
        crit = self._criterion()
        rng = np.random.default_rng(_seed(self.random_state))
        n, d = X.shape
        total_weight = self._total_weight(T)
        max_depth = np.inf if self.max_depth is None else self.max_depth
        min_leaf = self.min_samples_leaf
        feats, thresholds, lefts, rights, values, impurities, counts = ([] for _ in range(7))
        history, gains = [], np.zeros(d)
        stack = [(np.arange(n), 0, None, None)]          # (rows, depth, parent, is_left)
        while stack:
            rows, depth, parent, is_left = stack.pop()
            node = len(feats)
            if parent is not None:
                (lefts if is_left else rights)[parent] = node
            node_sum = T[rows].sum(axis=0)
            node_w = self._total_weight(node_sum[None, :])
            node_imp = _child_impurity_sums(node_sum[None, :], crit)[0]
            feats.append(LEAF), thresholds.append(np.nan), lefts.append(LEAF)
            rights.append(LEAF)
            values.append(self._leaf_value(node_sum)), counts.append(len(rows))
            impurities.append(node_imp / node_w if node_w > 0 else 0.0)
            if (depth >= max_depth or len(rows) < self.min_samples_split
                    or len(rows) < 2 * min_leaf or self._is_pure(T[rows])):
                continue
            best = self._best_split(X, T, rows, crit, node_imp, rng, d, min_leaf)
            if best is None:
                continue
            gain, j, t, left_mask = best
            if gain / total_weight < self.min_impurity_decrease or gain <= 0:
                continue
            feats[node], thresholds[node] = j, t
            history.append(gain / total_weight)
            gains[j] += gain / total_weight
            # push right first so the left child is numbered next (depth-first, left first)
            stack.append((rows[~left_mask], depth + 1, node, False))
            stack.append((rows[left_mask], depth + 1, node, True))
        self.feature_ = np.array(feats)
        self.threshold_ = np.array(thresholds)
        self.children_left_ = np.array(lefts)
        self.children_right_ = np.array(rights)
        self.value_ = np.array(values)
        self.impurity_ = np.array(impurities)
        self.n_node_samples_ = np.array(counts)
        self.loss_history_ = history
        self.feature_importances_ = gains / gains.sum() if gains.sum() > 0 else gains
        self.n_leaves_ = int(np.sum(self.feature_ == LEAF))
        self.max_depth_ = self._depth()

    def _best_split(self, X, T, rows, crit, node_imp, rng, d, min_leaf):
        features = np.arange(d)
        if self.max_features is not None and self.max_features < d:
            features = np.sort(rng.choice(d, self.max_features, replace=False))
        best = None
        m = len(rows)
        for j in features:
            x = X[rows, j]
            order = np.argsort(x, kind="stable")
            xs = x[order]
            # cumulative statistics of the rows left of each cut (cut after position i)
            cum = np.cumsum(T[rows[order]], axis=0)
            C, R = cum[:-1], cum[-1] - cum[:-1]              # left and right of each cut
            child = _child_impurity_sums(C, crit) + _child_impurity_sums(R, crit)
            n_left = np.arange(1, m)
            valid = (xs[1:] > xs[:-1]) & (n_left >= min_leaf) & (m - n_left >= min_leaf)
            if not valid.any():
                continue
            gain = np.where(valid, node_imp - child, -np.inf)
            top = gain.max()
            # first cut within rounding of the best: ties break the same way on any row order
            i = int(np.argmax(gain >= top - 1e-10 * max(abs(top), node_imp)))
            if best is None or top > best[0] + 1e-10 * max(abs(top), node_imp):
                t = 0.5 * (xs[i] + xs[i + 1])
                if t >= xs[i + 1]:                           # midpoint rounded up: use left
                    t = xs[i]
                best = (top, j, t, None)
        if best is None:
            return None
        gain, j, t, _ = best
        return gain, j, t, X[rows, j] <= t

    def _depth(self):
        depth = np.zeros(len(self.feature_), dtype=int)
        for node in range(len(self.feature_)):              # parents come before children
            for child in (self.children_left_[node], self.children_right_[node]):
                if child != LEAF:
                    depth[child] = depth[node] + 1
        return int(depth.max())

    def get_depth(self):
        check_is_fitted(self)
        return self.max_depth_

    def get_n_leaves(self):
        check_is_fitted(self)
        return self.n_leaves_

    def apply(self, X):
        """Index of the leaf each row ends in (all rows walk down together)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        node = np.zeros(X.shape[0], dtype=int)
        while True:
            active = np.flatnonzero(self.feature_[node] != LEAF)
            if active.size == 0:
                return node
            at = node[active]
            go_left = X[active, self.feature_[at]] <= self.threshold_[at]
            node[active] = np.where(go_left, self.children_left_[at], self.children_right_[at])

    def export_text(self, feature_names=None):
        """The tree as indented text, e.g. for printing in class."""
        check_is_fitted(self)
        names = feature_names or [f"x{j}" for j in range(self.n_features_in_)]
        lines = []

        def walk(node, indent):
            if self.feature_[node] == LEAF:
                lines.append(f"{indent}leaf: {self._describe(self.value_[node])}")
                return
            f, t = names[self.feature_[node]], self.threshold_[node]
            lines.append(f"{indent}if {f} <= {t:.4g}:")
            walk(self.children_left_[node], indent + "    ")
            lines.append(f"{indent}else:  # {f} > {t:.4g}")
            walk(self.children_right_[node], indent + "    ")

        walk(0, "")
        return "\n".join(lines)


class DecisionTreeClassifier(ClassifierMixin, _BaseTree):
    """A CART classification tree.

    Parameters
    ----------
    criterion : {"gini", "entropy", "log_loss"}  ("log_loss" = "entropy", as in scikit-learn)
    max_depth : int or None
    min_samples_split : int >= 2 -- a node with fewer rows is a leaf
    min_samples_leaf : int >= 1 -- every child keeps at least this many rows
    min_impurity_decrease : float -- a split must decrease impurity (/ total weight) this much
    max_features : int or None -- features tried per node, drawn with ``random_state``

    There is no ``max_iter``/``tol``: growth stops by the limits above. Rows with zero
    ``sample_weight`` are dropped before growing.

    Attributes
    ----------
    classes_, feature_, threshold_, children_left_, children_right_ (-1 at leaves),
    value_ (class proportions per node), impurity_, n_node_samples_, n_leaves_, max_depth_,
    feature_importances_, loss_history_ (impurity decrease of each split, see module doc).
    """

    _parameter_constraints = {
        **_BaseTree._parameter_constraints,
        "criterion": [StrOptions({"gini", "entropy", "log_loss"})],
    }

    def __init__(self, criterion="gini", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, min_impurity_decrease=0.0, max_features=None,
                 random_state=None):
        super().__init__(criterion, max_depth, min_samples_split, min_samples_leaf,
                         min_impurity_decrease, max_features, random_state)

    def _criterion(self):
        return "entropy" if self.criterion == "log_loss" else self.criterion

    @staticmethod
    def _total_weight(S):
        return float(S.sum())

    @staticmethod
    def _leaf_value(node_sum):
        return node_sum / node_sum.sum()

    @staticmethod
    def _is_pure(T):
        return np.count_nonzero(T.sum(axis=0)) <= 1

    def _describe(self, value):
        label = self.classes_[value.argmax()]
        label = label.item() if isinstance(label, np.generic) else label
        return f"class {label!r} (p={value.max():.2f})"

    def fit(self, X, y, sample_weight=None):
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        keep = s > 0
        T = np.zeros((keep.sum(), len(self.classes_)))      # weighted one-hot per row
        T[np.arange(keep.sum()), y_idx[keep]] = s[keep]
        self._grow(X[keep], T, len(self.classes_))
        return self

    def predict_proba(self, X):
        leaves = self.apply(X)
        return self.value_[leaves]

    def predict(self, X):
        idx = self.predict_proba(X).argmax(axis=1)
        return self.classes_[idx]


class DecisionTreeRegressor(RegressorMixin, _BaseTree):
    """A CART regression tree: leaves predict the (weighted) mean of their rows.

    criterion : {"squared_error", "mse"} -- the within-node weighted variance of y.
    Other parameters and attributes as ``DecisionTreeClassifier`` (``value_`` holds means).
    """

    _parameter_constraints = {
        **_BaseTree._parameter_constraints,
        "criterion": [StrOptions({"squared_error", "mse"})],
    }

    def __init__(self, criterion="squared_error", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, min_impurity_decrease=0.0, max_features=None,
                 random_state=None):
        super().__init__(criterion, max_depth, min_samples_split, min_samples_leaf,
                         min_impurity_decrease, max_features, random_state)

    def _criterion(self):
        return "squared_error"

    @staticmethod
    def _total_weight(S):
        return float(S[:, 0].sum())

    @staticmethod
    def _leaf_value(node_sum):
        return node_sum[1] / node_sum[0]

    @staticmethod
    def _is_pure(T):
        y = T[:, 1] / T[:, 0]
        return y.max() == y.min()

    def _describe(self, value):
        return f"{value:.4g}"

    def fit(self, X, y, sample_weight=None):
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        s = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        keep = s > 0
        s, yk = s[keep], y[keep]
        # per-row statistics: weight, weight * y, weight * y^2 (their sums give the variance)
        T = np.column_stack([s, s * yk, s * yk * yk])
        self._grow(X[keep], T, 1)
        return self

    def predict(self, X):
        leaves = self.apply(X)
        return self.value_[leaves]
