"""``%automl``: search across model families under a time budget, ending in an ensemble."""
from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase


def _cv(text):
    from argparse import ArgumentTypeError

    if text == "holdout":
        return text
    try:
        return int(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a fold count or 'holdout'") from None


@magics_class
class AutoMLMagics(NbmlMagicsBase):
    @magic_arguments(name="automl")
    @argument("data", nargs="?", default=None, help="a DataFrame to split first (default: the active split)")
    @argument("--target", "-t", default=None, help="the target column of DATA")
    @argument("--budget", type=float, required=True, help="seconds for the whole run, final refits included")
    @argument("--models", default=None, help="short family names, e.g. hgb,lgbm,rf,lr (default: every one installed)")
    @argument("--metric", default=None, help="metric to optimize (default: roc_auc / log_loss / r2)")
    @argument("--cv", type=_cv, default=None,
              help="K-fold CV on train+val, or 'holdout' (default: 5, or the holdout on large data for the budget)")
    @argument("--n-jobs", type=int, default=None, help="parallel trials (-1: all cores)")
    @argument("--scheduler", default=None, help="Dask scheduler address: run the trials on the cluster")
    @argument("--study", default=None, help="study name in the store (the same name continues it)")
    @argument("--storage", default=None, help="SQLAlchemy URL or file (default: the store)")
    @argument("--resume", action="store_true", help="continue the last automl study of this data (or --study)")
    @argument("--no-ensemble", dest="ensemble", action="store_false", help="end with the best single model")
    @argument("--seed", type=int, default=0)
    @argument("--live", dest="live", action="store_true", default=None, help="show the live leaderboard")
    @argument("--no-live", dest="live", action="store_false", help="no live leaderboard")
    @argument("-o", "--out", default=None, help="store the AutoMLResult in this variable")
    @line_magic("automl")
    def automl_magic(self, line):
        """Search model families within --budget seconds: each family's defaults (cheapest first),
        then Bayesian trials for the promising ones, then an ensemble of the best trials chosen on
        held-out predictions when it beats the best single model. Scores are out-of-fold on
        train+val (on a holdout fifth of it for data large for the budget); the test rows stay
        untouched until %evaluate NAME --on test. Ctrl-C keeps the best so far. Returns an
        AutoMLResult (a TrainResult with .leaderboard, .best, .ensemble, .history)."""
        from nbml.auto import automl

        args = self.parse(self.automl_magic, line)
        data = self.lookup(args.data, "DataFrame") if args.data else None
        target = self.target_of(data, args.target)[0] if data is not None else args.target
        scheduler = args.scheduler if args.scheduler is not None else (self.nbml.scheduler or None)
        with self.errors("%automl"):
            result = automl(budget=args.budget, models=args.models, metric=args.metric, cv=args.cv, seed=args.seed,
                            ensemble=args.ensemble, n_jobs=self.option(args.n_jobs, "n_jobs"), scheduler=scheduler,
                            study=args.study, storage=args.storage, resume=args.resume, live=args.live, data=data,
                            target=target)
        return self.finish(result, args.out, self.silenced(line))
