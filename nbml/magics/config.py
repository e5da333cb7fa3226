"""``%config Nbml.<option> = value``: defaults for every nbml magic."""
from __future__ import annotations

from traitlets import Bool, Enum, Float, Int, Unicode, observe
from traitlets.config import Configurable


class Nbml(Configurable):
    """Defaults for nbml's magics; an option given on a magic's line wins."""

    seed = Int(0, help="Seed of every random step (splits, folds, models without their own).").tag(config=True)
    cv = Int(0, help="Cross-validation folds for %%train (0: fit on train, score on validation).").tag(config=True)
    test = Float(0.2, help="Test fraction for %split.").tag(config=True)
    val = Float(0.2, help="Validation fraction for %split.").tag(config=True)
    preprocess = Enum(["auto", "none"], "auto", help="Preprocessing pipeline for %%train.").tag(config=True)
    n_jobs = Int(1, help="Parallel jobs for cross-validation (-1: all cores).").tag(config=True)
    plots = Bool(True, help="Draw plots under results in notebooks.").tag(config=True)
    scheduler = Unicode("", help="Dask scheduler address for distributed search.").tag(config=True)

    @observe("plots")
    def _plots_changed(self, change):
        from nbml import options

        options.plots = change["new"]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from nbml import options

        options.plots = self.plots
