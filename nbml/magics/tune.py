"""``%tune`` / ``%%tune`` (hyperparameter search) and ``%runs`` (the store)."""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase


@magics_class
class TuneMagics(NbmlMagicsBase):
    @magic_arguments(name="tune")
    @argument("target", nargs="+", help="a TrainResult (from %%train -o NAME) or a model expression")
    @argument("--method", default="bayes", choices=["grid", "random", "bayes", "halving"],
              help="search method (default: bayes, Optuna TPE)")
    @argument("--trials", type=int, default=None,
              help="configurations to fit (grid: all); with --resume, the study's total: 6 done and "
                   "--trials 30 --resume fit 24 more")
    @argument("--cv", type=int, default=None, help="K-fold CV on train+val (default: the validation split)")
    @argument("--metric", default=None, help="metric to optimize (default: accuracy / r2 / silhouette)")
    @argument("--n-jobs", type=int, default=None, help="parallel trials (-1: all cores)")
    @argument("--timeout", type=float, default=None, help="stop starting trials after this many seconds")
    @argument("--study", default=None,
              help="study name in the store: the same name continues it (--trials more), also from two kernels "
                   "at once (no configuration fit twice)")
    @argument("--storage", default=None,
              help="SQLAlchemy URL or file (default: $NBML_STORE, %%config Nbml.storage, .nbml/nbml.db)")
    @argument("--resume", action="store_true",
              help="continue the last study of this model, method and data (or --study) until it has --trials "
                   "trials in all; trials a crash or Ctrl-C left running are marked failed")
    @argument("--scheduler", default=None, help="Dask scheduler address: run the fits on the cluster")
    @argument("--coreset", default=None, help="tune on a coreset (a Coreset variable)")
    @argument("--seed", type=int, default=None, help="seed (default: the result's or split's)")
    @argument("--prune", default=None, choices=["median", "halving", "hyperband"],
              help="stop hopeless trials early (bayes; per epoch or iteration for torch, SGD, MLP and "
                   "boosting models, else per CV fold)")
    @argument("--sampler", default=None, choices=["tpe", "gp", "cmaes", "random"], help="Optuna sampler (bayes)")
    @argument("--live", dest="live", action="store_true", default=None, help="show the live view")
    @argument("--no-live", dest="live", action="store_false", help="no live view")
    @argument("-o", "--out", default=None, help="store the TuneResult in this variable")
    @line_cell_magic("tune")
    def tune_magic(self, line, cell=None):
        """Tune hyperparameters of a trained result (or a model) on the active split.

        The %%tune cell body is the search space, one parameter a line: ``C = loguniform(1e-3, 10)``,
        ``max_depth = [3, 5, None]`` (helpers: uniform, loguniform, randint (both ends included,
        unlike scipy.stats.randint), logint, choice; a tuple (low, high) of numbers is a range;
        scipy.stats distributions as ``stats.uniform(0, 1)``). Without a body, a default space
        for the model. Returns a TuneResult, which shows the whole study.

        Every search is recorded in the store as it starts (``%runs`` lists it, also after a
        crash); a damaged or unreachable default store is left off with a warning
        (``NBML_STORE=off`` turns it off).
        """
        from nbml.tuning import tune

        args = self.parse(self.tune_magic, line)
        target = self.lookup(" ".join(args.target), "result or model")
        coreset = self.lookup(args.coreset, "coreset") if args.coreset else None
        space = cell if cell is not None and cell.strip() else None
        scheduler = args.scheduler if args.scheduler is not None else (self.nbml.scheduler or None)
        with self.errors(f"%tune {' '.join(args.target)}"):
            result = tune(target, space, method=args.method, trials=args.trials, cv=args.cv, metric=args.metric,
                          n_jobs=self.option(args.n_jobs, "n_jobs"), timeout=args.timeout, study=args.study,
                          storage=args.storage, resume=args.resume,
                          scheduler=scheduler, coreset=coreset,
                          seed=args.seed, prune=args.prune, sampler=args.sampler, live=args.live,
                          namespace=self.shell.user_ns)
        return self.finish(result, args.out, self.silenced(line))

    @magic_arguments(name="runs")
    @argument("--last", type=int, default=None, help="only the newest N runs")
    @argument("--kind", default=None, choices=["train", "tune"], help="only train or tune runs")
    @argument("--trials", default=None, metavar="STUDY", help="the trials of one study instead ('all': every study)")
    @argument("--storage", default=None, help="SQLAlchemy URL or file (default: .nbml/nbml.db)")
    @argument("-o", "--out", default=None, help="store the DataFrame in this variable")
    @line_magic("runs")
    def runs_magic(self, line):
        """Every recorded %%train and %tune run (or a study's trials) as a DataFrame; ``state``
        says whether a search finished, is running, or was interrupted (Ctrl-C, a crash)."""
        from nbml import store

        args = self.parse(self.runs_magic, line)
        if args.last is not None and args.last < 1:
            raise UsageError(f"--last {args.last} must be a positive number")
        with self.errors("%runs"):
            if args.trials:
                frame = store.trials(None if args.trials == "all" else args.trials, storage=args.storage)
                if args.last:
                    frame = frame.tail(args.last)
            else:
                frame = store.runs(last=args.last, kind=args.kind, storage=args.storage)
        return self.finish(frame, args.out, self.silenced(line))
