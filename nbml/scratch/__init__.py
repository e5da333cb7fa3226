"""From-scratch machine learning models in numpy, written to be read in class.

Each class is a scikit-learn estimator, so it works with ``nbml.train``, ``%%train``,
``%tune``, pipelines and cross-validation like any other model, and its results can be
compared with scikit-learn's own implementation:

=============================  =========================================================
``LinearRegression``           normal equation, batch / mini-batch / stochastic GD
``Ridge``, ``Lasso``           L2 (closed form or GD) and L1 (coordinate descent)
``LogisticRegression``         GD, SGD, mini-batch, momentum, Adam; L1/L2; OvR or softmax
``SoftmaxRegression``          multinomial logistic regression
``MLPClassifier``              1-2 hidden layers, hand-written backprop, dropout
``DecisionTreeClassifier``     CART with gini / entropy
``DecisionTreeRegressor``      CART with squared error
=============================  =========================================================
"""
from nbml.scratch.linear import Lasso, LinearRegression, Ridge
from nbml.scratch.logistic import LogisticRegression, SoftmaxRegression
from nbml.scratch.mlp import MLPClassifier
from nbml.scratch.tree import DecisionTreeClassifier, DecisionTreeRegressor

__all__ = [
    "LinearRegression", "Ridge", "Lasso", "LogisticRegression", "SoftmaxRegression",
    "MLPClassifier", "DecisionTreeClassifier", "DecisionTreeRegressor",
]
