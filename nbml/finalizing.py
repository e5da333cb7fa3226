"""``finalize()``: the production model, refit on every labelled row.

Once a model is chosen, its validation and test rows have done their job: the final model is
the same recipe fit on train+val+test. Nothing is left to score it on, so it keeps the
held-out scores measured before (and says so), and ``fitted_on == "all"`` makes
``evaluate(..., on="val" | "test")`` refuse it.
"""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from nbml.errors import NbmlError


def finalize(result):
    """A ``TrainResult`` of ``result``'s recipe fit on every labelled row (train, validation and
    test); its metrics are the held-out ones of ``result``, copied and named in ``note``."""
    from nbml.calibration import _trained
    from nbml.folds import fit_model

    source = _trained(result, "finalize")
    recipe, split = source.recipe, source.split
    if recipe.weights is not None:
        raise NbmlError(f"{source.name} was fit on a coreset; finalize refits on every row of the split: train "
                        f"the model on the split, then finalize it")
    if source.fitted_on == "all":
        raise NbmlError(f"{source.name} is already fit on every labelled row")
    if split.y_train is None:
        raise NbmlError(f"{source.name} has no labels to refit on (a clustering split): use it as it is")
    X = pd.concat([p for p in (split.X_train, split.X_val, split.X_test) if len(p)])
    y = pd.concat([p for p in (split.y_train, split.y_val, split.y_test) if len(p)])
    model = fit_model(recipe.model(), X, y, recipe.task, recipe.fit_params_for(X.index))
    where = f"{len(source.cv)}-fold CV on train+val" if source.cv is not None else "the validation rows"
    note = (f"Final model: refit on all {len(X)} labelled rows (train+val+test) for production. The scores shown "
            f"are {source.name}'s held-out scores on {where}, measured before finalizing; no rows are left to "
            f"score this model on.")
    return replace(source, fitted_model=model, fitted_on="all", name=f"{source.name} (final)",
                   note=" ".join(t for t in (source.note, note) if t))
