"""``%config Nbml.<option> = value``: defaults for every nbml magic."""
from __future__ import annotations

import sys

from traitlets import Bool, Enum, Float, Int, TraitError, Unicode, observe, validate
from traitlets.config import Configurable

# what each kind of option takes, for the line a refused %config value gets
KINDS = {Bool: "True or False", Int: "an integer", Float: "a number", Unicode: "a string (in quotes)"}


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
    short_errors = Bool(True, help="Show an unexpected error (a model's own failure, a bug) as one line; %tb "
                                   "shows its traceback. False: raise it with its traceback.").tag(config=True)
    storage = Unicode("", help="Run/trial store: a SQLAlchemy URL or a path (default .nbml/nbml.db).").tag(config=True)

    @observe("storage")
    def _storage_changed(self, change):
        from nbml.store import set_default

        set_default(change["new"] or None)

    # drift verdicts (nbml.deployment.monitoring.THRESHOLDS) and the prediction log
    # (nbml.deployment.log.LOG_SETTINGS)
    drift_p_value = Float(0.01, help="Significance of KS / chi-square over all features (Bonferroni).").tag(config=True)
    drift_psi = Float(0.25, help="PSI that, when significant, is 'drift'.").tag(config=True)
    drift_ks = Float(0.2, help="KS statistic that, when significant, is 'drift'.").tag(config=True)
    drift_performance_drop = Float(0.05, help="Drop of the primary metric that is 'drift'.").tag(config=True)
    drift_min_rows = Int(30, help="Fewer new rows than this: no drift verdict.").tag(config=True)
    drift_bins = Int(10, help="PSI bins (quantiles of the training data).").tag(config=True)
    log_sample = Float(1.0, help="Fraction of served predictions logged.").tag(config=True)
    log_max_rows = Int(100_000, help="Prediction-log rows kept per model.").tag(config=True)
    log_max_input_rows = Int(100, help="Input rows kept per logged request.").tag(config=True)

    _MODULE_SETTINGS = {"drift_": ("nbml.deployment.monitoring", "THRESHOLDS"),
                        "log_": ("nbml.deployment.log", "LOG_SETTINGS")}

    @observe(*[f"drift_{k}" for k in ("p_value", "psi", "ks", "performance_drop", "min_rows", "bins")],
             *[f"log_{k}" for k in ("sample", "max_rows", "max_input_rows")])
    def _module_setting_changed(self, change):
        self._apply(change["name"], change["new"])

    def _apply(self, name, value):
        from importlib import import_module

        for prefix, (module, table) in self._MODULE_SETTINGS.items():
            if name.startswith(prefix):
                getattr(import_module(module), table)[name[len(prefix):]] = value

    @observe("plots")
    def _plots_changed(self, change):
        from nbml import options

        options.plots = change["new"]

    @validate("cv")
    def _valid_cv(self, proposal):
        if proposal["value"] != 0 and proposal["value"] < 2:
            raise TraitError("is 0 (no cross-validation) or a number of folds, at least 2")
        return proposal["value"]

    @validate("test", "val")
    def _valid_share(self, proposal):
        if not 0 <= proposal["value"] < 1:
            raise TraitError("is a fraction below 1, e.g. 0.2")
        return proposal["value"]

    @validate("n_jobs")
    def _valid_n_jobs(self, proposal):
        if proposal["value"] == 0:
            raise TraitError("is a number of parallel jobs: 1, 2, … or -1 for all cores")
        return proposal["value"]

    def update_config(self, config):
        """``%config Nbml.<option> = value``: a value the option cannot take is refused in one line
        that names the option, what it takes and the value it keeps (IPython's ``%config`` would
        log traitlets' own message)."""
        try:
            super().update_config(config)
        except TraitError as exc:
            section = dict(config.get(type(self).__name__, {}))
            lines = [self._refusal(name, value) for name, value in section.items() if name in self.traits(config=True)]
            self._forget(section)
            print(next((line for line in lines if line), f"%config Nbml refused: {exc}"), file=sys.stderr)

    def _forget(self, section):
        """IPython's ``%config`` also merges the statement into the shell's own config (from which a
        later ``%load_ext nbml`` builds this object): there, the options keep the values they have."""
        shared = getattr(getattr(self, "parent", None), "config", None)
        if shared is not None and type(self).__name__ in shared:
            for name in section:
                if name in self.traits(config=True):
                    shared[type(self).__name__][name] = getattr(self, name)

    def _refusal(self, name, value) -> str | None:
        """The line for ``Nbml.name = value`` if the option refuses that value, else None."""
        trait = self.traits()[name]
        try:
            trait._validate(self, value)
        except TraitError as exc:
            message = str(exc)
            if "trait of" in message:  # traitlets' type check: say what the option takes instead
                values = getattr(trait, "values", None)
                kind = f"one of {', '.join(map(repr, values))}" if values else \
                    next((text for cls, text in KINDS.items() if isinstance(trait, cls)), "another value")
                message = f"takes {kind} ({trait.help.rstrip('.')})"
            return (f"%config Nbml.{name} = {value!r} refused: {name} {message}; it stays "
                    f"{getattr(self, name)!r}")
        return None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        from nbml import options

        options.plots = self.plots
        for name, trait in self.traits(config=True).items():  # values from ipython_config.py
            if name.startswith(("drift_", "log_")) and getattr(self, name) != trait.default_value:
                self._apply(name, getattr(self, name))
