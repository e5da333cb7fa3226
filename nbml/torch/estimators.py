"""scikit-learn estimators around the nbml torch trainer.

``TorchClassifier`` and ``TorchRegressor`` train a ``torch.nn.Module`` -- by default an MLP
sized from the data (``hidden``, ``dropout``, ``batchnorm``, ``activation`` are estimator
parameters, so grid search, cross-validation, Pipelines and ``%tune`` work on them).

``module`` may be

- ``None``: an MLP ``n_features -> hidden... -> n_outputs`` is built at fit;
- an ``nn.Module`` instance: deep-copied at each fit (the object you pass is never trained);
- a callable ``(n_in, n_out) -> nn.Module``, e.g. ``nbml.mlp(hidden=(64,))``.
"""
from __future__ import annotations

import copy
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from nbml.errors import NbmlError
from nbml.torch import trainer as _trainer
from nbml.torch.mlp import MLPSpec, build_mlp, check_mlp_options, normalize_hidden

TASKS = ("classification", "regression")

# ``%%train`` options for a torch module: estimator parameter -> (type, help). The magic's flag
# is the name with dashes (``--batch-size``); values go to ``from_module(module, task, **opts)``.
MAGIC_OPTIONS = {
    "epochs": (int, "passes over the training data (default 20)"),
    "batch_size": (int, "rows per mini-batch (default 128)"),
    "lr": (float, "learning rate (default 1e-3)"),
    "optimizer": (str, "sgd | adam | adamw | rmsprop (default adam)"),
    "momentum": (float, "momentum for sgd and rmsprop (default 0.9)"),
    "weight_decay": (float, "L2 penalty / decoupled decay for adamw (default 0)"),
    "scheduler": (
        str,
        "step:STEP:GAMMA | cosine | onecycle | plateau:PATIENCE:FACTOR | exponential:GAMMA",
    ),
    "patience": (int, "early stopping: epochs without a better validation loss; best weights kept"),
    "init": (str, "xavier | he | normal | default (default: torch's own)"),
    "clip": (float, "clip the gradient norm to this value"),
    "class_weight": (str, "balanced (classification)"),
    "device": (str, "auto | cpu | cuda (default auto: cuda when present)"),
    "seed": (int, "random seed (default 0): same seed, same history on CPU"),
}
_FLOATS = (np.float64, np.float32)


def _one_line(error):
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _check_mlp_size(spec, n_in):
    """A network from ``nbml.mlp`` whose ``n_in`` is not what the pipeline gives: the call to write."""
    if spec.n_in is not None and spec.n_in != n_in:
        raise NbmlError(
            f"the pipeline gives {n_in} features; use {spec.call_text(n_in=n_in)} or leave n_in out "
            f"(n_in={spec.n_in} was given: preprocessing such as one-hot encoding changes the count)"
        )


def _mlp_output_hint(module, n_out):
    """'; use nbml.mlp(..., n_out=K) or leave n_out out' for a network nbml.mlp built."""
    if isinstance(module, MLPSpec):
        spec = module
    elif isinstance(getattr(module, "nbml_mlp", None), dict):
        spec = MLPSpec(**module.nbml_mlp)
    else:
        return ""
    return f"; use {spec.call_text(n_out=n_out)} or leave n_out out"


class _TorchEstimator(BaseEstimator):
    """Shared fit/predict machinery; subclasses define the task-specific parts."""

    # -------------------------------------------------------------- options
    def _train_options(self):
        return dict(
            lr=self.lr,
            epochs=self.epochs,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            scheduler=self.scheduler,
            patience=self.patience,
            validation_fraction=self.validation_fraction,
            init=self.init,
            clip=self.clip,
            device=self.device,
            seed=self.seed,
        )

    def _check_params(self):
        _trainer.check_options(**self._train_options())
        if self.module is None:
            normalize_hidden(self.hidden)
            check_mlp_options(self.dropout, self.activation)
        if isinstance(self.verbose, bool) or not isinstance(self.verbose, Integral):
            raise NbmlError(f"verbose={self.verbose!r} is not allowed: use 0 (silent) or 1")

    def _callbacks(self):
        callbacks = self.callbacks
        if callbacks is None:
            callbacks = []
        elif not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        callbacks = list(callbacks)
        if self.verbose:
            from nbml.torch.callbacks import TextProgress

            callbacks.append(TextProgress())
        return callbacks

    # -------------------------------------------------------------- module
    def _build_module(self, n_in, n_out):
        from torch import nn

        spec = self.module
        if spec is None:
            return build_mlp(
                n_in, self.hidden, n_out, self.dropout, self.batchnorm, self.activation
            )
        if isinstance(spec, MLPSpec):  # an nn.Module too: the recipe, sized from the data
            _check_mlp_size(spec, n_in)
            return spec(n_in, n_out)
        if isinstance(spec, nn.Module):
            if isinstance(getattr(spec, "nbml_mlp", None), dict):
                _check_mlp_size(MLPSpec(**spec.nbml_mlp), n_in)
            return copy.deepcopy(spec)
        if callable(spec):
            module = spec(n_in, n_out)
            if not isinstance(module, nn.Module):
                raise TypeError(
                    f"module={spec!r} returned {type(module).__name__}, not a torch.nn.Module"
                )
            return module
        raise TypeError(
            f"module={spec!r} is not allowed: use None (an MLP from hidden=...), a torch.nn.Module, "
            "or a callable (n_in, n_out) -> nn.Module such as nbml.mlp(hidden=(64,))"
        )

    def _output_size(self, module, X_probe):
        """Run two rows through the module (also initializes lazy layers); return outputs/row."""
        import torch

        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = module(X_probe)
        except Exception as error:  # noqa: BLE001 - reported as one clear line
            n_in = X_probe.shape[1]
            first = next((m for m in module.modules() if isinstance(getattr(m, "in_features", None), int)), None)
            if first is not None and first.in_features != n_in:
                raise NbmlError(
                    f"the pipeline gives {n_in} features but the module's first layer takes "
                    f"{first.in_features}: make it {type(first).__name__}({n_in}, ...) (preprocessing such as "
                    "one-hot encoding changes the count), or end the cell with nbml.mlp(hidden=...) to size "
                    "it from the data"
                ) from error
            raise NbmlError(
                f"the module could not process X with {n_in} features: "
                f"{type(error).__name__}: {_one_line(error)}"
            ) from error
        finally:
            module.train(was_training)
        if not isinstance(out, torch.Tensor) or out.dim() not in (1, 2):
            raise NbmlError(
                "the module must return a tensor of shape (n_rows, n_outputs); got "
                f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}"
            )
        return 1 if out.dim() == 1 else int(out.shape[1])

    # -------------------------------------------------------------- fit
    def _fit(self, X, y, sample_weight, X_val, y_val):
        import torch

        self._check_params()
        X, y = self._validate_xy(X, y)
        sample_weight = (
            None
            if sample_weight is None
            else _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        )
        y_enc = self._encode_target(y)
        sample_weight = self._apply_class_weight(y, y_enc, sample_weight)
        if (X_val is None) != (y_val is None):
            raise NbmlError("pass both X_val and y_val, or neither")
        if X_val is not None:
            X_val = validate_data(self, X_val, reset=False, dtype=_FLOATS)
            y_val = self._encode_target(self._check_y_val(y_val, len(X_val)), validation=True)
            X_tr, y_tr, w_tr = X, y_enc, sample_weight
        elif self.patience is not None:
            train_idx, val_idx = _trainer.holdout(
                len(X), self.validation_fraction, self.seed, stratify=self._stratify(y_enc)
            )
            X_tr, y_tr = X[train_idx], y_enc[train_idx]
            w_tr = None if sample_weight is None else sample_weight[train_idx]
            X_val, y_val = X[val_idx], y_enc[val_idx]
        else:
            X_tr, y_tr, w_tr = X, y_enc, sample_weight

        device = _trainer.resolve_device(self.device)
        trainer = _trainer.Trainer(
            lr=self.lr,
            epochs=self.epochs,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            scheduler=self.scheduler,
            patience=self.patience,
            clip=self.clip,
            device=str(device),
        )
        with _trainer.seeded(self.seed, device):
            module = self._build_module(X.shape[1], self._n_outputs)
            probe = torch.from_numpy(np.array(X[:2], dtype=np.float32))
            try:
                loss = self._loss_for(self._output_size(module, probe))
            except NbmlError as error:
                hint = _mlp_output_hint(self.module, self._n_outputs) if "outputs" in str(error) else ""
                if not hint:
                    raise
                raise NbmlError(f"{error}{hint}") from None
            _trainer.init_weights(module, self.init)
            trainer.fit(
                module,
                X_tr,
                y_tr,
                loss=loss,
                sample_weight=w_tr,
                X_val=X_val,
                y_val=y_val,
                callbacks=self._callbacks(),
                owner=self,
                on_outcome=self._store_outcome,
            )
        self.module_ = module.to("cpu").eval()
        self.loss_ = loss
        return self

    def _store_outcome(self, outcome):
        self.history_ = outcome.history
        self.best_epoch_ = outcome.best_epoch
        self.interrupted_ = outcome.interrupted
        self.stopped_early_ = outcome.stopped_early
        self.device_ = outcome.device
        self.n_epochs_ = len(outcome.history)

    def _outputs(self, X):
        """Raw module outputs as float64 numpy, shape (n, k)."""
        import torch

        check_is_fitted(self, "module_")
        X = validate_data(self, X, reset=False, dtype=_FLOATS)
        # Predictions run in float64 on a copy of the (float32) network: in float32 a row's
        # output moved by ~1e-7 with the number of rows predicted with it (matrix-product
        # blocking), so the same row could get a different probability in a different batch.
        import copy

        module = copy.deepcopy(self.module_).double()
        X_t = torch.from_numpy(np.require(X, dtype=np.float64, requirements=["C", "W", "E"]))
        out = _trainer.predict_raw(module, X_t).numpy()
        return out.reshape(len(X), -1)

    def _stratify(self, y_enc):
        return None


class TorchClassifier(ClassifierMixin, _TorchEstimator):
    """A torch network as a scikit-learn classifier (cross-entropy loss).

    By default an MLP ``n_features -> hidden -> n_classes`` (see the module docstring for other
    ``module`` forms). Training options: ``lr, epochs, batch_size, optimizer`` (sgd, adam, adamw,
    rmsprop), ``momentum, weight_decay, scheduler`` (``step:STEP:GAMMA``, ``cosine``,
    ``onecycle``, ``plateau:PATIENCE:FACTOR``, ``exponential:GAMMA``), ``patience`` (early
    stopping on validation loss, best weights restored; without ``X_val`` a stratified
    ``validation_fraction`` is held out), ``init`` (default, xavier, he, normal), ``clip``
    (gradient norm), ``class_weight`` (None, "balanced" or dict), ``device`` (auto, cpu, cuda),
    ``seed``, ``callbacks`` and ``verbose``.

    Fitted attributes: ``module_``, ``classes_``, ``n_features_in_``, ``history_`` (one row per
    epoch: ``epoch, train_loss, val_loss, val_accuracy, lr, time``), ``best_epoch_``,
    ``interrupted_``, ``stopped_early_``.
    """

    def __init__(
        self,
        module=None,
        hidden=(128, 64),
        dropout=0.0,
        batchnorm=False,
        activation="relu",
        lr=1e-3,
        epochs=20,
        batch_size=128,
        optimizer="adam",
        momentum=0.9,
        weight_decay=0.0,
        scheduler=None,
        patience=None,
        validation_fraction=0.1,
        init="default",
        clip=None,
        class_weight=None,
        device="auto",
        seed=0,
        callbacks=None,
        verbose=0,
    ):
        self.module = module
        self.hidden = hidden
        self.dropout = dropout
        self.batchnorm = batchnorm
        self.activation = activation
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.scheduler = scheduler
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.init = init
        self.clip = clip
        self.class_weight = class_weight
        self.device = device
        self.seed = seed
        self.callbacks = callbacks
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Train on ``X, y``; ``X_val, y_val`` (optional) drive the validation curve and
        early stopping."""
        return self._fit(X, y, sample_weight, X_val, y_val)

    def _validate_xy(self, X, y):
        X, y = validate_data(self, X, y, dtype=_FLOATS)
        self._check_label_type(y, "y")
        classes = np.unique(y)
        if len(classes) < 2:
            raise NbmlError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class: "
                f"{classes.tolist()!r}"
            )
        self.classes_ = classes
        self._n_outputs = len(classes)
        return X, y

    def _check_label_type(self, y, name):
        kind = type_of_target(y, input_name=name)
        if kind in ("binary", "multiclass"):
            return
        if kind.startswith("continuous"):
            raise NbmlError(
                f"Unknown label type: {kind!r}: {type(self).__name__} needs class labels (ints or "
                f"strings) but {name} holds continuous values such as {np.ravel(y)[0]!r}; "
                "use TorchRegressor for a numeric target"
            )
        raise NbmlError(
            f"Unknown label type: {kind!r}: {type(self).__name__} supports binary or multiclass "
            f"{name} with one label per row"
        )

    def _check_y_val(self, y_val, n):
        from sklearn.utils.validation import column_or_1d

        y_val = column_or_1d(np.asarray(y_val), warn=True)
        if len(y_val) != n:
            raise NbmlError(f"X_val has {n} rows but y_val has {len(y_val)}")
        return y_val

    def _encode_target(self, y, validation=False):
        y = np.asarray(y)
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if np.any(unknown):
            raise NbmlError(
                f"y_val holds labels not seen in y: {np.unique(y[unknown]).tolist()!r}; "
                f"known classes: {self.classes_.tolist()!r}"
            )
        return index.astype(np.int64)

    def _stratify(self, y_enc):
        return y_enc

    def _apply_class_weight(self, y, y_enc, sample_weight):
        if self.class_weight is None:
            return sample_weight
        from sklearn.utils.class_weight import compute_class_weight

        if not (self.class_weight == "balanced" or isinstance(self.class_weight, dict)):
            raise NbmlError(
                f"class_weight={self.class_weight!r} is not allowed: use None, 'balanced' or a "
                "dict {label: weight}"
            )
        weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        per_row = weights[y_enc]
        return per_row if sample_weight is None else sample_weight * per_row

    def _loss_for(self, n_out):
        n_classes = len(self.classes_)
        if n_out == n_classes:
            return "cross_entropy"
        if n_classes == 2 and n_out == 1:
            return "bce"
        allowed = f"{n_classes}" + (" (or 1 for binary)" if n_classes == 2 else "")
        raise NbmlError(
            f"the module outputs {n_out} value(s) per row but y has {n_classes} classes "
            f"{self.classes_.tolist()!r}: the last layer must have out_features={allowed}"
        )

    def predict_proba(self, X):
        """Class probabilities, shape ``(n_rows, n_classes)``, columns in ``classes_`` order."""
        out = self._outputs(X)
        if self.loss_ == "bce":
            p = 1.0 / (1.0 + np.exp(-out[:, 0]))
            proba = np.column_stack([1.0 - p, p])
        else:
            out = out - out.max(axis=1, keepdims=True)
            proba = np.exp(out)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X):
        return np.log(np.clip(self.predict_proba(X), 1e-300, None))

    def predict(self, X):
        """Most probable class label of each row."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class TorchRegressor(RegressorMixin, _TorchEstimator):
    """A torch network as a scikit-learn regressor (mean squared error loss).

    Same parameters as :class:`TorchClassifier` without ``class_weight``; ``y`` may have one
    column or several (multi-output). ``history_`` holds ``val_r2`` as its metric.
    """

    def __init__(
        self,
        module=None,
        hidden=(128, 64),
        dropout=0.0,
        batchnorm=False,
        activation="relu",
        lr=1e-3,
        epochs=20,
        batch_size=128,
        optimizer="adam",
        momentum=0.9,
        weight_decay=0.0,
        scheduler=None,
        patience=None,
        validation_fraction=0.1,
        init="default",
        clip=None,
        device="auto",
        seed=0,
        callbacks=None,
        verbose=0,
    ):
        self.module = module
        self.hidden = hidden
        self.dropout = dropout
        self.batchnorm = batchnorm
        self.activation = activation
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.scheduler = scheduler
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.init = init
        self.clip = clip
        self.device = device
        self.seed = seed
        self.callbacks = callbacks
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def fit(self, X, y, sample_weight=None, X_val=None, y_val=None):
        """Train on ``X, y``; ``X_val, y_val`` (optional) drive the validation curve and
        early stopping."""
        return self._fit(X, y, sample_weight, X_val, y_val)

    def _numeric_target(self, y, name):
        if y is None:
            return y
        array = np.asarray(y)
        if array.dtype.kind in "fiubc":  # complex: validate_data says it is not supported
            return array
        try:
            return array.astype(np.float64)
        except (TypeError, ValueError):
            example = np.ravel(array)[0] if array.size else None
            raise NbmlError(
                f"{type(self).__name__} needs a numeric target, but {name} holds values such as "
                f"{example!r} (dtype {array.dtype}); use TorchClassifier for class labels"
            ) from None

    def _validate_xy(self, X, y):
        y = self._numeric_target(y, "y")
        X, y = validate_data(self, X, y, dtype=_FLOATS, multi_output=True, y_numeric=True)
        self._y_ndim = np.ndim(y)
        self._n_outputs = 1 if np.ndim(y) == 1 else y.shape[1]
        return X, y

    def _check_y_val(self, y_val, n):
        y_val = self._numeric_target(y_val, "y_val")
        if len(y_val) != n:
            raise NbmlError(f"X_val has {n} rows but y_val has {len(y_val)}")
        if np.ndim(y_val) == 2 and y_val.shape[1] == 1 and self._y_ndim == 1:
            y_val = y_val.ravel()
        if (1 if np.ndim(y_val) == 1 else y_val.shape[1]) != self._n_outputs:
            raise NbmlError(
                f"y_val has a different number of targets than y ({self._n_outputs})"
            )
        return y_val

    def _encode_target(self, y, validation=False):
        return np.asarray(y, dtype=np.float32)

    def _apply_class_weight(self, y, y_enc, sample_weight):
        return sample_weight

    def _loss_for(self, n_out):
        if n_out != self._n_outputs:
            raise NbmlError(
                f"the module outputs {n_out} value(s) per row but y has {self._n_outputs} "
                f"target column(s): the last layer must have out_features={self._n_outputs}"
            )
        return "mse"

    def predict(self, X):
        """Predicted target(s): shape ``(n_rows,)`` for one target, ``(n_rows, k)`` for k."""
        out = self._outputs(X)
        return out.ravel() if self._y_ndim == 1 else out


def from_module(module, task, **params):
    """The estimator that trains ``module`` for ``task`` ("classification" or "regression").

    ``params`` are estimator parameters (``lr``, ``epochs``, ``patience``, ...). The module's
    output size is checked against the classes / targets at fit.
    """
    from torch import nn

    if task not in TASKS:
        raise NbmlError(f"task={task!r} is not allowed: use one of {', '.join(TASKS)}")
    if not (isinstance(module, nn.Module) or callable(module)):
        raise TypeError(
            f"module={module!r} is not allowed: use a torch.nn.Module or a callable "
            "(n_in, n_out) -> nn.Module"
        )
    cls = TorchClassifier if task == "classification" else TorchRegressor
    valid = set(cls._get_param_names()) - {"module"}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise NbmlError(
            f"unknown option(s) {', '.join(unknown)} for {cls.__name__}; valid: "
            f"{', '.join(sorted(valid))}"
        )
    if isinstance(module, MLPSpec) and module.n_in is None and module.n_out is None:
        # the estimator's own MLP, sized from the data: hidden, dropout, ... are then its
        # parameters, which %tune and %panel can vary
        layers = dict(hidden=module.hidden, dropout=module.dropout, batchnorm=module.batchnorm,
                      activation=module.activation)
        return cls(module=None, **{**layers, **params})
    return cls(module=module, **params)


def fit_with_validation(model, X, y, X_val, y_val, **fit_params):
    """Fit a torch estimator, or a Pipeline ending in one, with ``X_val``/``y_val`` for its
    validation curve and early stopping.

    In a Pipeline the validation rows go through the preprocessing steps fitted on ``X``
    (a Pipeline does not transform fit parameters itself). Steps must keep the rows of ``X``
    (no resampling); otherwise fit the model without validation data. Returns ``model``.
    """
    from sklearn.pipeline import Pipeline

    if not isinstance(model, Pipeline):
        return model.fit(X, y, X_val=X_val, y_val=y_val, **fit_params)
    preprocess, (_, final) = model[:-1], model.steps[-1]
    if len(model.steps) == 1:
        final.fit(X, y, X_val=X_val, y_val=y_val, **fit_params)
        return model
    Xt = preprocess.fit_transform(X, y)
    if len(Xt) != len(y):
        raise NbmlError(
            "the pipeline's preprocessing changed the number of training rows (resampling?): "
            "fit it without X_val/y_val"
        )
    final.fit(Xt, y, X_val=preprocess.transform(X_val), y_val=y_val, **fit_params)
    return model
