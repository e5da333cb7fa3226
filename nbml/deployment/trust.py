"""What a package's ``model.skops`` may contain, and the checks that make trusting it safe.

skops builds only types on an allow-list and never runs pickled code. Its defaults cover
scikit-learn's estimators and numpy; nbml adds exactly the types its own model families need
(``TRUSTED``) and nothing by prefix. Four of them skops leaves out on purpose: a fitted tree
(``sklearn.tree._tree.Tree``, ``TreePredictor``) or neighbour index (``KDTree``, ``BallTree``)
holds raw node and feature indices that scikit-learn follows without bounds checks, so a
crafted file could make ``predict`` read outside its arrays. nbml trusts them only together
with :func:`check_contents`, which walks the loaded model and checks every such index against
the arrays it points into before the model is used.
"""
from __future__ import annotations

import math

import numpy as np

from nbml.errors import NbmlError

# nbml's own parts a pipeline may hold (scratch models are added from nbml.scratch.__all__)
_NBML = [
    "numpy.dtype",
    "nbml.preprocess._to_object",
    "nbml.preprocess._to_float",
    "nbml.preprocess.DatetimeFeatures",
    "nbml.torch.estimators.TorchClassifier",
    "nbml.torch.estimators.TorchRegressor",
]
# scikit-learn internals the standard families and ensembles need beyond skops' defaults
_SKLEARN = [
    "sklearn.utils._bunch.Bunch",  # VotingClassifier/StackingClassifier.named_estimators_ (a dict)
    "sklearn.calibration._CalibratedClassifier",  # nbml.calibrate: one per fold, (estimator, calibrators)
    "sklearn.calibration._SigmoidCalibration",  # Platt's a and b
    # HistGradientBoosting with categorical columns validates its input with partial(check_array)
    # (skops still builds a partial only of types on this list)
    "functools.partial",
    "sklearn.utils.validation.check_array",
]
# nbml[boost]: the libraries' models and boosters. skops rebuilds a booster from the bytes or
# text its library wrote, through the library's own model parser (not pickle). That parser is
# the trust boundary: LightGBM's before 4.6 had an out-of-bounds write on a crafted model
# string (CVE-2024-43598), so its types are trusted only from lightgbm 4.6 on (BOOST_MINIMUM);
# XGBoost's trees are checked after loading (check_contents, like scikit-learn's); for a
# package that crosses a trust boundary, sign it (NBML_SIGNING_KEY) so that only bytes nbml.deploy
# wrote reach any parser.
_BOOST = {
    "lightgbm": ["lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier", "lightgbm.sklearn.LGBMRegressor",
                 "collections.OrderedDict"],  # the Booster's parameters
    "xgboost": ["xgboost.core.Booster", "xgboost.sklearn.XGBRegressor", "nbml.boost.XGBClassifier"],
    "catboost": ["catboost.core.CatBoostRegressor", "nbml.boost.CatBoostClassifier", "nbml.boost.CatBoostRegressor"],
}
# the first version of each library whose model parser nbml trusts
BOOST_MINIMUM = {"lightgbm": (4, 6), "xgboost": (2, 0), "catboost": (1, 2)}
# trusted only because check_contents checks every instance (module, class name)
_CHECKED = [
    ("sklearn.tree._tree", "Tree"),
    ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor"),
    ("sklearn.neighbors._kd_tree", "KDTree"),
    ("sklearn.neighbors._ball_tree", "BallTree"),
]
# distance metrics of a neighbour index: those whose state is (p, weights) and no callable
_METRICS = ["EuclideanDistance64", "ManhattanDistance64", "ChebyshevDistance64", "MinkowskiDistance64"]


class UntrustedPackageError(NbmlError):
    """A package that was tampered with, is signed wrongly, or holds types outside the allow-list."""


class DamagedModelError(UntrustedPackageError):
    """A trusted type whose content does not hold together (crafted or corrupted)."""


def trusted_types() -> list:
    """Every type name nbml lets a package contain beyond skops' defaults."""
    names = list(_NBML) + list(_SKLEARN) + [f"{m}.{c}" for m, c in _CHECKED]
    names += [f"sklearn.metrics._dist_metrics.{m}" for m in _METRICS]
    names += [name for library, types in _BOOST.items() if _recent(library) for name in types]
    try:
        from nbml import scratch

        for name in scratch.__all__:
            cls = getattr(scratch, name)
            names.append(f"{cls.__module__}.{cls.__qualname__}")
    except ImportError:  # scratch estimators are optional for loading
        pass
    return names


def _recent(library: str) -> bool:
    """Whether ``library`` is installed at a version whose model parser nbml trusts (no import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        parts = [int(p) for p in version(library).split(".")[:2] if p.isdigit()]
    except PackageNotFoundError:
        return True  # not installed: its types cannot load anyway, and the refusal then says so
    return tuple(parts) >= BOOST_MINIMUM[library]


def boost_refusal(names) -> str | None:
    """Why a boosting library's types are refused here (its version), or None."""
    for library, types in _BOOST.items():
        if set(names) & set(types) and not _recent(library):
            wanted = ".".join(map(str, BOOST_MINIMUM[library]))
            return (f"{library} models load through {library}'s own model parser, which nbml trusts from {library} "
                    f"{wanted} on" + (" (CVE-2024-43598 is fixed there)" if library == "lightgbm" else "") +
                    f": pip install '{library}>={wanted}'")
    return None


def untrusted(found) -> list:
    """The names among ``found`` (skops' ``get_untrusted_types``) outside the allow-list."""
    allowed = set(trusted_types())
    return sorted(n for n in found if n not in allowed)


def refusal(names) -> str:
    """Why ``names`` (from :func:`untrusted`) keep a model out of a package, and what to use."""
    text = f"the model contains types nbml does not trust to load safely: {', '.join(names)}; "
    if boost_refusal(names):
        return text + boost_refusal(names)
    if any("._dist_metrics." in n for n in names):
        return text + "a neighbours model can be deployed with the euclidean, manhattan, chebyshev or minkowski distance"
    return text + "use scikit-learn, nbml or torch.nn.Sequential parts"


# -- checking a loaded model ---------------------------------------------------------------

def _types():
    from sklearn.ensemble import BaseEnsemble
    from sklearn.ensemble._gb import BaseGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.metrics import _dist_metrics
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.tree._tree import Tree

    return {"Tree": Tree, "TreePredictor": TreePredictor, "binary": (KDTree, BallTree), "KDTree": KDTree,
            "metric": _dist_metrics.DistanceMetric64, "ensemble": BaseEnsemble, "gb": BaseGradientBoosting,
            "hgb": BaseHistGradientBoosting, "metrics": tuple(getattr(_dist_metrics, m) for m in _METRICS)}


def check_contents(model) -> int:
    """Check every tree, histogram-tree predictor and neighbour index inside ``model``; raise
    ``DamagedModelError`` saying what does not hold together. Returns how many were checked."""
    t = _types()
    checked, found, seen = set(), [], set()
    stack = [model]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (str, bytes, int, float, bool, type)):
            continue
        seen.add(id(obj))
        if isinstance(obj, (t["Tree"], t["TreePredictor"], t["binary"], t["metric"])):
            found.append(obj)
            continue
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                stack.extend(obj.ravel().tolist())
            continue
        if isinstance(obj, dict):
            stack.extend(obj.values())
            continue
        if isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
            continue
        checked |= _check_owner(obj, t)
        stack.extend(getattr(obj, "__dict__", {}).values())
    loose = [o for o in found if id(o) not in checked]
    if loose:
        raise DamagedModelError(f"a {type(loose[0]).__name__} sits outside the estimator that uses it")
    return len(found)


def _check_owner(obj, t) -> set:
    """Check the trees/indices ``obj`` holds directly; return the ids checked."""
    done = set()
    n_features = getattr(obj, "n_features_in_", None)
    tree = obj.__dict__.get("tree_") if hasattr(obj, "__dict__") else None
    if isinstance(tree, t["Tree"]):
        check_tree(tree, n_features)
        done.add(id(tree))
    index = obj.__dict__.get("_tree") if hasattr(obj, "__dict__") else None
    if isinstance(index, t["binary"]):
        done |= check_binary_tree(index, n_features, isinstance(index, t["KDTree"]), t)
    if isinstance(obj, t["hgb"]):
        done |= check_hist_gradient_boosting(obj)
    if isinstance(obj, t["ensemble"]) and not isinstance(obj, t["hgb"]):
        _check_members(obj, t)
    if type(obj).__module__ == "xgboost.core" and type(obj).__name__ == "Booster":
        check_xgboost(obj)
    return done


def check_xgboost(booster) -> None:
    """An XGBoost booster's trees: children inside the tree, split features inside its columns
    (XGBoost may reuse pruned node ids, so a child is not always numbered after its parent)."""
    import json

    learner = json.loads(bytes(booster.save_raw("json")))["learner"]
    n_features = int(learner["learner_model_param"]["num_feature"])
    booster_model = learner["gradient_booster"]
    trees = booster_model.get("gbtree", booster_model).get("model", {}).get("trees", [])  # dart wraps a gbtree
    for tree in trees:
        left, right, feature = (np.asarray(tree[k], dtype=np.int64) for k in ("left_children", "right_children",
                                                                             "split_indices"))
        n = len(left)
        if not n or len(right) != n or len(feature) != n:
            raise DamagedModelError("an XGBoost tree's node arrays do not match")
        inner = left != -1
        bad = inner & ((left < 0) | (left >= n) | (right < 0) | (right >= n) | (feature < 0) | (feature >= n_features))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DamagedModelError(f"an XGBoost tree's node {i} points outside its {n} nodes or {n_features} columns")


def _check_members(ensemble, t):
    """Forests and gradient boosting hand their rows to their trees unchecked: every member
    must read exactly the ensemble's columns (and gradient boosting's outputs fit its stages)."""
    members = getattr(ensemble, "estimators_", None)
    from sklearn.ensemble._bagging import BaseBagging

    if members is None or isinstance(ensemble, BaseBagging):  # bagging's members check their own input
        return
    width = getattr(ensemble, "n_features_in_", None)
    for member in np.asarray(members, dtype=object).ravel():
        if getattr(member, "n_features_in_", width) != width:
            raise DamagedModelError(f"a member of {type(ensemble).__name__} reads {member.n_features_in_} columns, "
                                    f"the ensemble {width}")
    if isinstance(ensemble, t["gb"]):
        stages = np.asarray(members, dtype=object)
        if stages.ndim != 2 or width is None:
            raise DamagedModelError(f"{type(ensemble).__name__}.estimators_ is not a table of stages")
        try:
            raw = ensemble._raw_predict_init(np.zeros((1, width), dtype=np.float32))
        except Exception as exc:  # noqa: BLE001 - its initial estimator cannot predict: damaged
            raise DamagedModelError(f"{type(ensemble).__name__}'s initial model fails: {type(exc).__name__}") from None
        if raw.ndim != 2 or raw.shape[1] != stages.shape[1]:
            raise DamagedModelError(f"{type(ensemble).__name__} has {stages.shape[1]} trees per stage for "
                                    f"{raw.shape[-1]} outputs")


def check_tree(tree, n_features) -> None:
    """A fitted ``sklearn.tree._tree.Tree``: children after their parent and inside the tree,
    split features inside the columns the estimator reads."""
    n = tree.node_count
    if n < 1 or tree.capacity != n:  # capacity: the rows really allocated; node_count: what is read
        raise DamagedModelError(f"a decision tree claims {n} nodes but holds {tree.capacity}")
    if n_features is None or tree.n_features != n_features:
        raise DamagedModelError(f"a decision tree reads {tree.n_features} columns, its estimator {n_features}")
    left, right, feature = (np.asarray(a, dtype=np.int64) for a in (tree.children_left, tree.children_right,
                                                                    tree.feature))
    _check_nodes("a decision tree", left == -1, left, right, feature, n_features)
    if np.any((left == -1) & (right != -1)):
        raise DamagedModelError("a decision tree has a leaf with one child")
    if tree.value.shape != (n, tree.n_outputs, tree.max_n_classes):
        raise DamagedModelError("a decision tree's values do not match its nodes")


def _check_nodes(what, leaf, left, right, feature, n_features):
    n = len(left)
    ids = np.arange(n)
    inner = ~leaf
    # a child numbered after its parent: every path ends (sklearn's builders number nodes so)
    bad = inner & ((left <= ids) | (left >= n) | (right <= ids) | (right >= n))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DamagedModelError(f"{what}'s node {i} points to nodes {left[i]} and {right[i]} of {n}")
    bad = inner & ((feature < 0) | (feature >= n_features))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DamagedModelError(f"{what}'s node {i} splits on column {feature[i]} of {n_features}")


def check_hist_gradient_boosting(model) -> set:
    """A fitted HistGradientBoosting model's predictors and categorical bitsets."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    if not any(hasattr(model, a) for a in ("_predictors", "_preprocessor", "_bin_mapper", "n_features_in_")):
        return set()  # unfitted: the template a wrapper keeps (FixedThresholdClassifier.estimator) holds no tree
    width = getattr(model, "n_features_in_", None)
    if width is None:
        raise DamagedModelError(f"{type(model).__name__} does not say how many columns it reads")
    pre = getattr(model, "_preprocessor", None)
    if pre is not None:
        out = sum(_width(cols) for _, step, cols in pre.transformers_ if step != "drop")
        if out != width:
            raise DamagedModelError(f"{type(model).__name__}'s column encoder gives {out} columns, not {width}")
    categorical = getattr(getattr(model, "_bin_mapper", None), "is_categorical_", None)
    done = set()
    for predictor in (p for stage in getattr(model, "_predictors", []) for p in stage):
        nodes = getattr(predictor, "nodes", None)
        if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 \
                or not len(nodes):
            raise DamagedModelError("a histogram tree's nodes are not a node table")
        leaf = nodes["is_leaf"] != 0
        feature = nodes["feature_idx"].astype(np.int64)
        _check_nodes("a histogram tree", leaf, nodes["left"].astype(np.int64), nodes["right"].astype(np.int64),
                     feature, width)
        cat = ~leaf & (nodes["is_categorical"] != 0)
        for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
            bits = getattr(predictor, name)
            if not isinstance(bits, np.ndarray) or bits.ndim != 2 or bits.shape[1] != 8 or bits.dtype != np.uint32:
                raise DamagedModelError(f"a histogram tree's {name} is not a table of 256-bit sets")
            if np.any(nodes["bitset_idx"][cat] >= bits.shape[0]):
                raise DamagedModelError("a histogram tree names a category set it does not have")
        if cat.any() and (not isinstance(categorical, np.ndarray) or categorical.shape != (width,)
                          or not categorical[feature[cat]].all()):
            raise DamagedModelError("a histogram tree splits a column as categorical that is not")
        done.add(id(predictor))
    return done


def _width(columns) -> int:
    """How many columns a ColumnTransformer's selection picks (a boolean mask or a list of them)."""
    columns = np.atleast_1d(columns)
    return int(columns.sum()) if columns.dtype == bool else len(columns)


def check_binary_tree(index, n_features, kd: bool, t) -> set:
    """A KDTree/BallTree: a permutation of the rows, node ranges inside it, children inside
    the node table, bounds and weights of the right shapes, a known distance metric."""
    state = index.__getstate__()
    data, order, nodes, bounds = state[:4]
    n_nodes, metric, weights = state[6], state[11], state[12]
    if not isinstance(data, np.ndarray) or data.ndim != 2 or (n_features is not None and data.shape[1] != n_features):
        raise DamagedModelError("a neighbour index's data is not a table of the estimator's columns")
    n, width = data.shape
    if not isinstance(order, np.ndarray) or order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
        raise DamagedModelError("a neighbour index's row order is not a permutation of its rows")
    if not isinstance(nodes, np.ndarray) or nodes.dtype.names is None or nodes.shape != (n_nodes,) or n_nodes < 1:
        raise DamagedModelError("a neighbour index's node table does not match its node count")
    start, end = nodes["idx_start"], nodes["idx_end"]
    inner = np.flatnonzero(nodes["is_leaf"] == 0)
    if np.any((start < 0) | (start > end) | (end > n)) or np.any(2 * inner + 2 >= n_nodes):
        raise DamagedModelError("a neighbour index's nodes point outside its rows or nodes")
    if not isinstance(bounds, np.ndarray) or bounds.shape != ((2 if kd else 1), n_nodes, width):
        raise DamagedModelError("a neighbour index's bounds do not match its nodes")
    if weights is not None and np.shape(weights) != (n,):
        raise DamagedModelError("a neighbour index's weights do not match its rows")
    if not isinstance(metric, t["metrics"]):
        raise DamagedModelError(f"a neighbour index uses distance {type(metric).__name__}, which nbml does not load")
    p, vec = metric.__getstate__()[:2]
    minkowski = type(metric).__name__ == "MinkowskiDistance64"  # the only one reading its weights
    if not isinstance(p, (int, float)) or not p >= 1 or (minkowski and (not math.isfinite(p)
                                                                        or np.size(vec) not in (0, width))):
        raise DamagedModelError("a neighbour index's distance parameters do not fit its columns")
    return {id(index), id(metric)}
