"""Check a student's own implementation against a reference, with a hint when it differs.

Every helper answers with a :class:`CheckResult` (``passed``, ``message``, ``details``) that
prints as a one-line PASS/FAIL plus a hint in a terminal and as a coloured box in Jupyter.
A wrong answer never raises -- the student should see the hint; an error raised *inside* the
student's function is reported the same way. Unusable arguments to the helper itself (not a
callable, an unknown metric name) raise ``TypeError``/``ValueError``.

    >>> import nbml.check
    >>> nbml.check.metric(my_f1, "f1")
    >>> nbml.check.gradient(my_grad, my_loss, w0=np.zeros(3))
    >>> nbml.check.loss(my_log_loss, "log_loss")
    >>> nbml.check.model(MyLinearRegression, reference="linear_regression")
    >>> nbml.check.prediction(my_predictions, expected)
"""
import html
import traceback
from dataclasses import dataclass, field

import numpy as np

from nbml.errors import NbmlError

__all__ = ["CheckResult", "gradient", "metric", "loss", "model", "prediction"]


@dataclass
class CheckResult:
    """Outcome of one check: ``passed``, a human ``message`` and machine-readable ``details``.

    ``bool(result)`` is ``result.passed``, so ``assert nbml.check.metric(...)`` works in tests.
    """

    name: str
    passed: bool
    message: str
    details: dict = field(default_factory=dict)

    def __bool__(self):
        return bool(self.passed)

    def __str__(self):
        head = "PASS" if self.passed else "FAIL"
        return f"{head} {self.name}: {self.message}"

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        color, mark = ("#1a7f37", "&#10004; PASS") if self.passed else ("#cf222e", "&#10008; FAIL")
        body = html.escape(self.message).replace("\n", "<br>")
        return (f'<div style="border-left:4px solid {color};padding:4px 10px;margin:2px 0">'
                f'<b style="color:{color}">{mark}</b> <code>{html.escape(self.name)}</code>'
                f'<div style="white-space:pre-wrap;font-family:monospace">{body}</div></div>')


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------


def _require_callable(obj, what):
    if not callable(obj):
        raise TypeError(f"{what} must be a function (callable); got {type(obj).__name__}: "
                        f"{obj!r}.")


def _call_student(fn, *args):
    """Run the student's function; return (value, None) or (None, short error text)."""
    try:
        return fn(*args), None
    except Exception as exc:  # the student's bug is reported, not raised
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        return None, f"{type(exc).__name__}: {exc} (line {tb.lineno}: {tb.line})"


def _fmt(x):
    x = np.asarray(x)
    if x.size > 12:
        return np.array2string(x.ravel()[:12], precision=4, separator=", ")[:-1] + ", ...]"
    return np.array2string(x, precision=6, separator=", ") if x.ndim else f"{float(x):.6g}"


def _rel(expected, got):
    return float(abs(got - expected) / max(abs(expected), 1e-12))


def _compare(expected, got, rtol=0.0, atol=0.0, label="output", shape_only=False):
    """None when ``got`` matches ``expected``; otherwise (hint text, details dict)."""
    expected = np.asarray(expected, dtype=float)
    if got is None:
        return (f"your {label} is None: did the function forget to `return` its result?",
                {"got": None})
    try:
        got_arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return (f"your {label} could not be read as numbers: got {type(got).__name__} "
                f"{got!r:.80}", {"got": got})
    if got_arr.shape != expected.shape:
        hint = f"your {label} has shape {got_arr.shape}, expected {expected.shape}."
        if got_arr.size == expected.size:
            hint += " Same number of values: reshape or ravel it (e.g. y.ravel())."
        elif expected.ndim == 0:
            hint += " Expected a single number: reduce with a mean (np.mean) or sum."
        return hint, {"expected_shape": expected.shape, "got_shape": got_arr.shape}
    if shape_only:
        return None
    bad_nan = ~np.isfinite(got_arr) & np.isfinite(expected)
    close = np.isclose(got_arr, expected, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    idx = tuple(int(i) for i in np.argwhere(~close)[0]) if got_arr.ndim else ()
    e, g = float(expected[idx]), float(got_arr[idx])
    where = f" at index {idx if len(idx) > 1 else idx[0]}" if idx else ""
    hint = (f"first difference{where}: expected {e:.6g}, got {g:.6g} "
            f"(relative error {_rel(e, g):.2e})")
    hint += f"; {int((~close).sum())} of {close.size} values differ." if close.size > 1 else "."
    if bad_nan.any():
        hint += (" Your result has NaN/inf where a finite number was expected: look for a "
                 "division by zero or log(0).")
    return hint, {"index": idx, "expected": e, "got": g, "relative_error": _rel(e, g),
                  "n_different": int((~close).sum())}


# ----------------------------------------------------------------------------------------
# gradient
# ----------------------------------------------------------------------------------------


def gradient(grad_fn, loss_fn, w0=None, *, shape=None, args=(), n_points=3, eps=1e-6,
             rtol=1e-4, atol=1e-7, seed=0):
    """Compare ``grad_fn(w, *args)`` with central finite differences of ``loss_fn(w, *args)``.

    The gradient is checked at ``w0`` (or a random point of ``shape``, default (5,)) and at
    ``n_points - 1`` random points around it. Each coordinate's numerical derivative is
    (L(w + eps e_i) - L(w - eps e_i)) / (2 eps). Passes when the relative error
    ||g - g_num|| / (||g|| + ||g_num||) <= rtol (or all values are within ``atol``).
    The hint names the first coordinate that differs and spots a flipped sign or a constant
    factor (a missing 1/n or 2).
    """
    _require_callable(grad_fn, "grad_fn")
    _require_callable(loss_fn, "loss_fn")
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple of extra arguments; got {type(args).__name__}.")
    if not (isinstance(n_points, int) and n_points >= 1):
        raise NbmlError(f"n_points must be an int >= 1; got {n_points!r}.")
    if not eps > 0:
        raise NbmlError(f"eps must be > 0; got {eps!r}.")
    rng = np.random.default_rng(seed)
    where = ""
    if w0 is None:
        shape = (5,) if shape is None else tuple(np.atleast_1d(shape))
        where = (f"\n(checked at random w of shape {shape}; pass w0=... or shape=... if your "
                 "function expects another shape)")
        if not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape):
            raise NbmlError(f"shape must be positive ints, e.g. (3,); got {shape!r}.")
        w0 = rng.normal(size=shape)
    else:
        try:
            w0 = np.array(w0, dtype=float)
        except (TypeError, ValueError):
            raise TypeError(f"w0 must be an array of numbers; got {type(w0).__name__}.") from None
        if not np.all(np.isfinite(w0)):
            raise NbmlError("w0 contains NaN or inf; give a finite starting point.")
    points = [w0] + [w0 + rng.normal(scale=0.5, size=w0.shape) for _ in range(n_points - 1)]
    name = f"gradient {getattr(grad_fn, '__name__', 'grad_fn')}"
    worst = 0.0
    for k, w in enumerate(points):
        g, err = _call_student(grad_fn, w.copy(), *args)
        if err:
            return CheckResult(name, False, f"grad_fn raised at point {k}: {err}{where}")
        numeric = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            step = np.zeros_like(w)
            step[i] = eps
            up, err1 = _call_student(loss_fn, w + step, *args)
            down, err2 = _call_student(loss_fn, w - step, *args)
            if err1 or err2:
                return CheckResult(name, False, f"loss_fn raised: {err1 or err2}{where}")
            try:
                numeric[i] = (float(up) - float(down)) / (2 * eps)
            except (TypeError, ValueError):
                return CheckResult(name, False, "loss_fn must return one number (a scalar); "
                                   f"got {type(up).__name__} {np.shape(up)}.")
        problem = _compare(numeric, g, label="gradient", shape_only=True)
        if problem:
            return CheckResult(name, False, problem[0], problem[1])
        g = np.asarray(g, dtype=float)
        denom = np.linalg.norm(g) + np.linalg.norm(numeric)
        rel = 0.0 if denom == 0 else float(np.linalg.norm(g - numeric) / denom)
        worst = max(worst, rel)
        if rel > rtol and not np.allclose(g, numeric, rtol=0, atol=atol):
            hint, details = _compare(numeric, g, rtol=rtol, atol=atol, label="gradient") or (
                "", {})
            nn = float(numeric.ravel() @ numeric.ravel())
            if nn > 0:
                factor = float(g.ravel() @ numeric.ravel()) / nn
                if np.allclose(g, factor * numeric, rtol=1e-3, atol=atol) and abs(factor) > 0:
                    if np.isclose(factor, -1, rtol=1e-3):
                        hint += "\nYour gradient has the wrong sign everywhere."
                    else:
                        hint += (f"\nYour gradient is {factor:.4g} times the right one: "
                                 "a missing or extra constant (1/n, 2, or a mean vs a sum)?")
            details.update(point=k, relative_error=rel, w=w)
            return CheckResult(name, False,
                               f"differs from finite differences at point {k} "
                               f"(w = {_fmt(w)}; relative error {rel:.2e} > {rtol:g}).\n"
                               f"{hint}", details)
    return CheckResult(name, True, f"matches finite differences at {len(points)} point(s) "
                       f"(largest relative error {worst:.1e}).", {"relative_error": worst})


# ----------------------------------------------------------------------------------------
# metrics and losses
# ----------------------------------------------------------------------------------------

_LABEL_METRICS = ("accuracy", "precision", "recall", "f1", "balanced_accuracy")
_SCORE_METRICS = ("roc_auc", "log_loss")
_REGRESSION_METRICS = ("mse", "rmse", "mae", "r2")
METRICS = _LABEL_METRICS + _SCORE_METRICS + _REGRESSION_METRICS


def _reference_metric(name, average="binary"):
    from sklearn import metrics as m

    zero = {"zero_division": 0.0}
    return {
        "accuracy": m.accuracy_score,
        "balanced_accuracy": m.balanced_accuracy_score,
        "precision": lambda t, p: m.precision_score(t, p, average=average, **zero),
        "recall": lambda t, p: m.recall_score(t, p, average=average, **zero),
        "f1": lambda t, p: m.f1_score(t, p, average=average, **zero),
        "roc_auc": m.roc_auc_score,
        "log_loss": lambda t, p: m.log_loss(t, p, labels=[0, 1]),
        "mse": m.mean_squared_error,
        "rmse": m.root_mean_squared_error,
        "mae": m.mean_absolute_error,
        "r2": m.r2_score,
    }[name]


def _metric_cases(name, rng, n_random, n_classes):
    """(description, y_true, second argument) triples: random sets plus edge cases."""
    cases = []
    if name in _LABEL_METRICS:
        k = n_classes
        for i in range(n_random):
            n = int(rng.integers(8, 40))
            cases.append((f"random labels #{i + 1}", rng.integers(0, k, n),
                          rng.integers(0, k, n)))
        t = rng.integers(0, k, 12)
        t[:k] = np.arange(k)
        cases += [("all predictions correct", t, t.copy()),
                  ("all predictions wrong", t, (t + 1) % k),
                  ("no positive predictions", t, np.zeros_like(t)),
                  ("one positive among many", np.eye(1, 15, 3, dtype=int)[0],
                   np.eye(1, 15, 3, dtype=int)[0] | np.eye(1, 15, 7, dtype=int)[0])]
        if k == 2:
            cases += [("no positive labels at all", np.zeros(6, int),
                       np.array([0, 1, 0, 0, 1, 0])),
                      ("no positives anywhere (0/0)", np.zeros(6, int), np.zeros(6, int))]
    elif name in _SCORE_METRICS:
        for i in range(n_random):
            n = int(rng.integers(8, 40))
            t = rng.integers(0, 2, n)
            t[:2] = [0, 1]
            cases.append((f"random scores #{i + 1}", t, rng.uniform(0.01, 0.99, n)))
        t = np.array([0, 0, 1, 1, 0, 1, 0, 1])
        cases += [("perfect ranking", t, np.where(t == 1, 0.9, 0.1) + 0.01 * np.arange(8)),
                  ("tied scores", t, np.array([0.5, 0.5, 0.5, 0.8, 0.2, 0.5, 0.8, 0.5])),
                  ("confident and wrong", t, np.where(t == 1, 1e-6, 1 - 1e-6))]
    else:
        for i in range(n_random):
            n = int(rng.integers(8, 40))
            t = rng.normal(3, 2, n)
            cases.append((f"random values #{i + 1}", t, t + rng.normal(0, 1, n)))
        t = np.array([1.0, -2.0, 3.5, 0.0, 10.0])
        cases += [("perfect predictions", t, t.copy()),
                  ("constant prediction", t, np.full(5, 2.0)),
                  ("single value", t[:2], t[:2] + 1.0)]
    return cases


def _run_cases(fn, reference, cases, name, rtol, atol, hints):
    import warnings

    for description, a, b in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. scikit-learn's "ill-defined" warnings
            expected = float(reference(a.copy(), b.copy()))
        got, err = _call_student(fn, a.copy(), b.copy())
        inputs = f"y_true = {_fmt(a)}\n  second argument = {_fmt(b)}"
        if err:
            return CheckResult(name, False, f"case '{description}': your function raised "
                               f"{err}\n  {inputs}", {"case": description})
        problem = _compare(expected, got, rtol, atol, label="result")
        if problem:
            hint, details = problem
            extra = hints(description, expected, got, len(a))
            details.update(case=description, y_true=a, y_other=b)
            return CheckResult(name, False, f"case '{description}': {hint}{extra}\n  {inputs}",
                               details)
    return CheckResult(name, True, f"agrees with the reference on {len(cases)} cases "
                       "(random sets and edge cases).", {"n_cases": len(cases)})


def _common_hints(description, expected, got, n):
    try:
        got = float(got)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(got) and np.isfinite(expected):
        return ("\nHint: when a denominator is 0 the reference returns 0 "
                "(scikit-learn's zero_division=0); guard the division.")
    if expected != 0 and np.isclose(got, expected * n, rtol=1e-6):
        return "\nHint: you returned the sum over samples; the reference is the mean."
    if expected != 0 and np.isclose(got, expected / n, rtol=1e-6):
        return "\nHint: you divided by the number of samples once too often."
    if expected > 0 and got > 0 and (np.isclose(got, expected ** 2, rtol=1e-6)
                                     or np.isclose(got ** 2, expected, rtol=1e-6)):
        return "\nHint: check the square root: MSE has none, RMSE has one."
    if expected != 0 and np.isclose(got, 2 * expected, rtol=1e-6):
        return "\nHint: your value is twice the reference (an extra factor 2?)."
    return ""


def metric(fn, name, *, average="binary", n_random=4, rtol=1e-7, atol=1e-9, seed=0):
    """Compare ``fn(y_true, y_pred_or_score)`` with scikit-learn's metric ``name``.

    name: accuracy, balanced_accuracy, precision, recall, f1 (labels), roc_auc, log_loss
    (scores/probabilities of the positive class), mse, rmse, mae, r2 (regression).
    Cases: ``n_random`` random sets plus edge cases (all correct, all wrong, no positive
    predictions, a single positive, ties, ...). Where a ratio is 0/0 the reference answers 0
    (``zero_division=0``). ``average`` ("binary", "macro", "micro", "weighted") switches
    precision/recall/f1 to three-class labels averaged that way.
    """
    _require_callable(fn, "fn")
    if name not in METRICS:
        raise NbmlError(f"name must be one of {', '.join(METRICS)}; got {name!r}.")
    if average not in ("binary", "macro", "micro", "weighted"):
        raise NbmlError("average must be 'binary', 'macro', 'micro' or 'weighted'; "
                        f"got {average!r}.")
    n_classes = 3 if (average != "binary" and name in ("precision", "recall", "f1")) else 2
    cases = _metric_cases(name, np.random.default_rng(seed), n_random, n_classes)
    title = f"metric {name!r}" + (f" (average={average!r})" if n_classes == 3 else "")
    return _run_cases(fn, _reference_metric(name, average), cases, title, rtol, atol,
                      _common_hints)


LOSSES = ("log_loss", "binary_cross_entropy", "cross_entropy", "mse", "mae")


def loss(fn, name, *, one_hot=False, n_random=4, rtol=1e-6, atol=1e-9, seed=0):
    """Compare a loss ``fn(y_true, y_pred)`` (the mean over samples) with the reference.

    * "log_loss" / "binary_cross_entropy": y_true in {0, 1}, y_pred = P(y=1), shape (n,):
      mean of -[y log p + (1-y) log(1-p)].
    * "cross_entropy": y_true class indices (n,) -- or one-hot (n, K) with ``one_hot=True`` --
      and y_pred probabilities (n, K): mean of -log p[y].
    * "mse": mean (y - y_pred)^2;  "mae": mean |y - y_pred|.
    Cases include confident wrong predictions (p = 1e-7) and a single sample.
    """
    _require_callable(fn, "fn")
    if name not in LOSSES:
        raise NbmlError(f"name must be one of {', '.join(LOSSES)}; got {name!r}.")
    rng = np.random.default_rng(seed)
    if name in ("log_loss", "binary_cross_entropy"):
        def reference(y, p):
            return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
        cases = [(f"random #{i + 1}", rng.integers(0, 2, 20), rng.uniform(0.02, 0.98, 20))
                 for i in range(n_random)]
        t = np.array([1, 0, 1, 0])
        cases += [("confident and right", t, np.where(t == 1, 1 - 1e-7, 1e-7)),
                  ("confident and wrong", t, np.where(t == 1, 1e-7, 1 - 1e-7)),
                  ("single sample", np.array([1]), np.array([0.3]))]
    elif name == "cross_entropy":
        def reference(y, P):
            idx = y.argmax(axis=1) if one_hot else y
            return float(np.mean(-np.log(P[np.arange(len(P)), idx])))

        def probs(n, k):
            P = rng.uniform(0.05, 1, (n, k))
            return P / P.sum(axis=1, keepdims=True)

        def labels(y, k):
            return np.eye(k)[y] if one_hot else y
        cases = [(f"random #{i + 1}", labels(rng.integers(0, 3, 15), 3), probs(15, 3))
                 for i in range(n_random)]
        wrong = np.full((3, 4), 1e-7 / 3)
        wrong[np.arange(3), [1, 2, 3]] = 1 - 1e-7
        cases += [("confident and wrong", labels(np.array([0, 1, 2]), 4), wrong),
                  ("single sample", labels(np.array([2]), 3), probs(1, 3))]
    else:
        def reference(y, p):
            r = y - p
            return float(np.mean(r * r) if name == "mse" else np.mean(np.abs(r)))
        cases = [(f"random #{i + 1}", t, t + rng.normal(0, 1, 12))
                 for i, t in enumerate(rng.normal(0, 3, (n_random, 12)))]
        cases += [("perfect", np.arange(4.0), np.arange(4.0)),
                  ("single sample", np.array([2.0]), np.array([-1.0]))]
    return _run_cases(fn, reference, cases, f"loss {name!r}", rtol, atol, _common_hints)


# ----------------------------------------------------------------------------------------
# models and predictions
# ----------------------------------------------------------------------------------------

REFERENCES = ("linear_regression", "ridge", "lasso", "logistic_regression",
              "softmax_regression", "decision_tree_classifier", "decision_tree_regressor")


def _reference_setup(reference, student_params, seed):
    """(X, y, fitted reference estimator, task) for a small, well-conditioned problem."""
    from sklearn import linear_model, tree
    from sklearn.datasets import make_classification, make_regression

    if reference in ("linear_regression", "ridge", "lasso", "decision_tree_regressor"):
        X, y = make_regression(n_samples=80, n_features=4, noise=5.0, bias=3.0,
                               random_state=seed)
        X = (X - X.mean(0)) / X.std(0)
        task = "regression"
    else:
        n_classes = 3 if reference == "softmax_regression" else 2
        X, y = make_classification(n_samples=120, n_features=4, n_informative=3,
                                   n_redundant=0, n_classes=n_classes, flip_y=0.1,
                                   class_sep=1.0, random_state=seed)
        X = (X - X.mean(0)) / X.std(0)
        task = "classification"
    alpha = student_params.get("alpha", 1.0)
    depth = student_params.get("max_depth", 3)
    ref = {
        "linear_regression": lambda: linear_model.LinearRegression(),
        "ridge": lambda: linear_model.Ridge(alpha=alpha),
        "lasso": lambda: linear_model.Lasso(alpha=alpha, tol=1e-8, max_iter=10000),
        "logistic_regression": lambda: linear_model.LogisticRegression(C=1e4, max_iter=10000),
        "softmax_regression": lambda: linear_model.LogisticRegression(C=1e4, max_iter=10000),
        "decision_tree_classifier": lambda: tree.DecisionTreeClassifier(max_depth=depth,
                                                                        random_state=0),
        "decision_tree_regressor": lambda: tree.DecisionTreeRegressor(max_depth=depth,
                                                                      random_state=0),
    }[reference]()
    return X, y, ref.fit(X, y), task


def model(estimator, reference="linear_regression", *, params=None, tol=None, seed=0):
    """Fit the student's estimator (a class or an instance) and compare with scikit-learn.

    reference: linear_regression, ridge, lasso (same ``alpha`` as the student's model, in
    scikit-learn's convention), logistic_regression, softmax_regression (nearly unpenalised,
    C=1e4), decision_tree_classifier, decision_tree_regressor (same ``max_depth``, default 3).
    The data set is small, generated and standardised (80-120 rows, 4 features).

    Regression passes when the largest prediction difference is <= tol * std(y)
    (tol default 1e-2); classification when at least 1 - tol of the predicted labels agree
    (tol default 0.05), and, for logistic/softmax, probabilities agree within 0.05.
    """
    if reference not in REFERENCES:
        raise NbmlError(f"reference must be one of {', '.join(REFERENCES)}; "
                        f"got {reference!r}.")
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"params must be a dict of constructor arguments; got {params!r}.")
    name = f"model vs {reference}"
    if isinstance(estimator, type):
        est, err = _call_student(lambda: estimator(**(params or {})))
        if err:
            return CheckResult(name, False, f"could not create {estimator.__name__}: {err}")
    else:
        est = estimator
        if params:
            for key, value in params.items():
                setattr(est, key, value)
    for method in ("fit", "predict"):
        if not callable(getattr(est, method, None)):
            return CheckResult(name, False, f"your model has no {method}() method: an "
                               "estimator needs fit(X, y) and predict(X).")
    # the reference uses the student's own alpha / max_depth when the model has them
    student_params = {k: getattr(est, k) for k in ("alpha", "max_depth")
                      if getattr(est, k, None) is not None}
    X, y, ref, task = _reference_setup(reference, student_params, seed)
    fitted, err = _call_student(est.fit, X.copy(), y.copy())
    if err:
        return CheckResult(name, False, f"fit(X, y) raised {err}")
    note = "" if fitted is est else "\nNote: fit() should end with `return self`."
    got, err = _call_student(est.predict, X.copy())
    if err:
        return CheckResult(name, False, f"predict(X) raised {err}")
    expected = ref.predict(X)
    shape_problem = _compare(expected, got, label="predict(X) output", shape_only=True)
    if shape_problem:
        return CheckResult(name, False, shape_problem[0] + note, shape_problem[1])
    got = np.asarray(got)
    if task == "regression":
        tol = 1e-2 if tol is None else tol
        diff = np.abs(got.astype(float) - expected)
        scale = float(np.std(y))
        worst = int(diff.argmax())
        a = student_params.get("alpha", 1.0)
        convention = {
            "ridge": f"\nThe reference is scikit-learn's Ridge(alpha={a}): "
                     "it minimises sum (y - Xw - b)^2 + alpha ||w||^2 (a sum, not a mean; b "
                     "not penalised).",
            "lasso": f"\nThe reference is scikit-learn's Lasso(alpha={a}): "
                     "it minimises 1/(2n) sum (y - Xw - b)^2 + alpha ||w||_1 (b not penalised).",
        }.get(reference, "")
        details = {"max_difference": float(diff.max()), "row": worst,
                   "expected": float(expected[worst]), "got": float(got[worst])}
        if diff.max() > tol * scale:
            return CheckResult(name, False, (
                f"predictions differ by up to {diff.max():.4g} (allowed {tol * scale:.3g} = "
                f"{tol} x std(y)); first worst row {worst}: expected {expected[worst]:.6g}, "
                f"got {got[worst]:.6g}. Gradient descent may need more iterations or a "
                f"better learning rate; check the intercept too.{convention}{note}"), details)
        return CheckResult(name, True, f"predictions match scikit-learn (largest difference "
                           f"{diff.max():.2e}, {diff.max() / scale:.1e} x std(y)).{note}",
                           details)
    tol = 0.05 if tol is None else tol
    agree = float(np.mean(got == expected))
    details = {"agreement": agree}
    if agree < 1 - tol:
        first = int(np.flatnonzero(got != expected)[0])
        details.update(row=first, expected=expected[first], got=got[first])
        return CheckResult(name, False, (
            f"only {agree:.0%} of predicted labels agree with scikit-learn (need "
            f"{1 - tol:.0%}); first disagreement at row {first}: expected {expected[first]!r}, "
            f"got {got[first]!r}.{note}"), details)
    if reference in ("logistic_regression", "softmax_regression") and callable(
            getattr(est, "predict_proba", None)):
        proba, err = _call_student(est.predict_proba, X.copy())
        if err:
            return CheckResult(name, False, f"predict_proba(X) raised {err}")
        problem = _compare(ref.predict_proba(X), proba, rtol=0, atol=0.05,
                           label="predict_proba(X) output")
        if problem:
            return CheckResult(name, False, problem[0] + note, {**details, **problem[1]})
    return CheckResult(name, True, f"{agree:.0%} of predicted labels agree with "
                       f"scikit-learn.{note}", details)


def prediction(got, expected, *, rtol=1e-5, atol=1e-8, name="prediction"):
    """Compare any array of numbers (predictions, coefficients, a matrix) with the expected one.

    Passes when every value is within ``atol + rtol * |expected|``; otherwise the hint gives
    the first differing element, expected vs got and the relative error.
    """
    try:
        expected_arr = np.asarray(expected, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"expected must be an array of numbers; got {type(expected).__name__}"
                        ) from None
    if rtol < 0 or atol < 0:
        raise NbmlError(f"rtol and atol must be >= 0; got rtol={rtol}, atol={atol}.")
    problem = _compare(expected_arr, got, rtol, atol)
    if problem:
        return CheckResult(name, False, problem[0], problem[1])
    return CheckResult(name, True, f"all {expected_arr.size} value(s) match.")
