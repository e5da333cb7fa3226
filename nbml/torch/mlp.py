"""Multi-layer perceptrons in one line: ``nbml.mlp(n_in, hidden=(128, 64), n_out=2)``.

Each hidden block is ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``; the last layer is a
plain ``Linear`` producing logits (classification) or values (regression).

Called without ``n_in``/``n_out`` it returns an :class:`MLPSpec`, a small picklable recipe that the
estimators size from the data at fit time (``TorchClassifier(module=nbml.mlp(hidden=(64,)))``).
"""
from __future__ import annotations

from numbers import Integral

from nbml.errors import NbmlError

ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "selu", "silu", "tanh", "sigmoid")


def _activation(name):
    from torch import nn

    layers = {
        "relu": nn.ReLU,
        "leaky_relu": nn.LeakyReLU,
        "elu": nn.ELU,
        "gelu": nn.GELU,
        "selu": nn.SELU,
        "silu": nn.SiLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
    }
    return layers[name]()


def normalize_hidden(hidden):
    """``hidden`` as a tuple of positive ints (an int means one hidden layer; () or None: none)."""
    if hidden is None:
        return ()
    if isinstance(hidden, Integral) and not isinstance(hidden, bool):
        hidden = (hidden,)
    try:
        sizes = tuple(hidden)
    except TypeError:
        raise TypeError(
            f"hidden={hidden!r} is not allowed: give a tuple of layer sizes such as (128, 64), "
            "an int, or () for no hidden layer"
        ) from None
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, Integral) or size < 1:
            raise NbmlError(
                f"hidden={hidden!r} is not allowed: every layer size must be a positive int"
            )
    return tuple(int(s) for s in sizes)


def check_mlp_options(dropout, activation):
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise NbmlError(
            f"activation={activation!r} is not allowed: use one of {', '.join(ACTIVATIONS)}"
        )
    if isinstance(dropout, bool) or not (0.0 <= float(dropout) < 1.0):
        raise NbmlError(f"dropout={dropout!r} is not allowed: use a float in [0, 1)")


def build_mlp(n_in, hidden, n_out, dropout=0.0, batchnorm=False, activation="relu"):
    from torch import nn

    hidden = normalize_hidden(hidden)
    check_mlp_options(dropout, activation)
    for name, value in (("n_in", n_in), ("n_out", n_out)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise NbmlError(f"{name}={value!r} is not allowed: use a positive int")
    layers = []
    width = int(n_in)
    for size in hidden:
        layers.append(nn.Linear(width, size))
        if batchnorm:
            layers.append(nn.BatchNorm1d(size))
        layers.append(_activation(activation))
        if dropout > 0:
            layers.append(nn.Dropout(float(dropout)))
        width = size
    layers.append(nn.Linear(width, int(n_out)))
    return nn.Sequential(*layers)


try:  # an MLPSpec is a torch.nn.Module, so a cell ending in ``nbml.mlp(hidden=...)`` is a torch model
    from torch.nn import Module as _Module
except ImportError:  # pragma: no cover - without torch the spec is a plain recipe (building it needs torch)
    _Module = object

SPEC_FIELDS = ("hidden", "dropout", "batchnorm", "activation", "n_in", "n_out")


class MLPSpec(_Module):
    """A picklable MLP recipe; ``spec(n_in, n_out)`` builds the ``nn.Sequential``.

    It is a ``torch.nn.Module`` without parameters, so ``%%train`` takes a cell ending in
    ``nbml.mlp(hidden=(64, 32))`` as a torch model: the estimator builds the network when it is
    fit, with ``n_in`` the number of features the pipeline gives (one-hot columns included) and
    ``n_out`` the classes or targets — where they are left out."""

    def __init__(self, hidden=(128, 64), dropout=0.0, batchnorm=False, activation="relu", n_in=None, n_out=None):
        super().__init__()
        self.hidden = normalize_hidden(hidden)
        self.dropout = float(dropout)
        self.batchnorm = bool(batchnorm)
        self.activation = activation
        self.n_in = n_in
        self.n_out = n_out

    def __call__(self, n_in=None, n_out=None):
        n_in = self.n_in if self.n_in is not None else n_in
        n_out = self.n_out if self.n_out is not None else n_out
        return build_mlp(n_in, self.hidden, n_out, self.dropout, self.batchnorm, self.activation)

    def forward(self, *args, **kwargs):
        raise NbmlError("an MLPSpec is a recipe, not a network: build it with spec(n_in, n_out), or train it "
                        "(%%train, TorchClassifier(module=spec)) and it is sized from the data")

    def _fields(self):
        return tuple(getattr(self, name) for name in SPEC_FIELDS)

    def __eq__(self, other):
        return type(other) is type(self) and other._fields() == self._fields()

    def __hash__(self):
        return hash((type(self).__name__, *self._fields()))

    def __repr__(self):
        return f"MLPSpec({', '.join(f'{name}={value!r}' for name, value in zip(SPEC_FIELDS, self._fields()))})"

    def call_text(self, n_in=None, n_out=None) -> str:
        """The ``nbml.mlp(...)`` call that builds this network with ``n_in``/``n_out`` given."""
        n_in = self.n_in if n_in is None else n_in
        n_out = self.n_out if n_out is None else n_out
        parts = [] if n_in is None else [str(n_in)]
        parts.append(f"hidden={self.hidden!r}")
        if n_out is not None:
            parts.append(f"n_out={n_out}")
        defaults = {"dropout": 0.0, "batchnorm": False, "activation": "relu"}
        parts += [f"{name}={getattr(self, name)!r}" for name, value in defaults.items() if getattr(self, name) != value]
        return f"nbml.mlp({', '.join(parts)})"


def mlp(n_in=None, hidden=(128, 64), n_out=None, dropout=0.0, batchnorm=False, activation="relu"):
    """Build an MLP ``n_in -> hidden... -> n_out`` as a ``torch.nn.Sequential``.

    Parameters
    ----------
    n_in, n_out : int or None
        Input features and outputs (classes for classification, targets for regression). Leave
        either out to get an :class:`MLPSpec` that the estimators size from the data.
    hidden : tuple of int
        Hidden layer sizes; ``()`` gives a linear (softmax/linear regression) model.
    dropout : float in [0, 1)
        Dropout after each hidden activation.
    batchnorm : bool
        ``BatchNorm1d`` after each hidden ``Linear``.
    activation : str
        One of ``relu, leaky_relu, elu, gelu, selu, silu, tanh, sigmoid``.
    """
    hidden = normalize_hidden(hidden)
    check_mlp_options(dropout, activation)
    if n_in is None or n_out is None:
        return MLPSpec(hidden, float(dropout), bool(batchnorm), activation, n_in, n_out)
    net = build_mlp(n_in, hidden, n_out, dropout, batchnorm, activation)
    # what nbml.mlp was asked for, so a wrong size is told as the nbml.mlp call to write (a plain
    # dict: neither a submodule nor in the state_dict)
    net.nbml_mlp = dict(zip(SPEC_FIELDS, (hidden, float(dropout), bool(batchnorm), activation, n_in, n_out)))
    return net
