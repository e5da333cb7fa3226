"""Multi-layer perceptrons in one line: ``nbml.mlp(n_in, hidden=(128, 64), n_out=2)``.

Each hidden block is ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``; the last layer is a
plain ``Linear`` producing logits (classification) or values (regression).

Called without ``n_in``/``n_out`` it returns an :class:`MLPSpec`, a small picklable recipe that the
estimators size from the data at fit time (``TorchClassifier(module=nbml.mlp(hidden=(64,)))``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class MLPSpec:
    """A picklable MLP recipe; ``spec(n_in, n_out)`` builds the ``nn.Sequential``."""

    hidden: tuple = (128, 64)
    dropout: float = 0.0
    batchnorm: bool = False
    activation: str = "relu"
    n_in: int | None = field(default=None)
    n_out: int | None = field(default=None)

    def __call__(self, n_in=None, n_out=None):
        n_in = self.n_in if self.n_in is not None else n_in
        n_out = self.n_out if self.n_out is not None else n_out
        return build_mlp(n_in, self.hidden, n_out, self.dropout, self.batchnorm, self.activation)


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
    return build_mlp(n_in, hidden, n_out, dropout, batchnorm, activation)
