"""``%%train`` / ``%train`` and ``%evaluate``."""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, argument_group, magic_arguments

from nbml.magics.common import NbmlMagicsBase, preprocessing_arguments, preprocessing_options

# %%train options passed through to torch models (dest -> estimator parameter)
TORCH_OPTIONS = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "scheduler",
                 "patience", "init", "clip", "class_weight", "device")


@magics_class
class TrainMagics(NbmlMagicsBase):
    @magic_arguments(name="train")
    @argument("model", nargs="*", help="(line form) the model expression, e.g. LogisticRegression(C=0.5)")
    @argument("-o", "--out", default=None, help="store the TrainResult in this variable")
    @argument("--cv", type=int, default=None, help="K-fold cross-validation on train+val (default: none)")
    @argument("--preprocess", choices=["auto", "none"], default=None,
              help="auto: impute, scale, one-hot, expand dates inside the pipeline; none: as given")
    @argument("--data", default=None, help="train on this DataFrame instead of the active split")
    @argument("--target", default=None, help="target column of --data")
    @argument("--seed", type=int, default=None, help="seed (default: the split's)")
    @argument("--n-jobs", type=int, default=None, help="parallel CV folds (-1: all cores)")
    @preprocessing_arguments
    @argument_group("torch models (a cell ending in a torch.nn.Module)")
    @argument("--epochs", type=int, default=None)
    @argument("--batch-size", type=int, default=None)
    @argument("--lr", type=float, default=None, help="learning rate")
    @argument("--optimizer", default=None, help="sgd | adam | adamw | rmsprop")
    @argument("--momentum", type=float, default=None)
    @argument("--weight-decay", type=float, default=None, help="L2 penalty")
    @argument("--scheduler", default=None,
              help="step:STEP:GAMMA | cosine | onecycle | plateau:PATIENCE:FACTOR | exponential:GAMMA")
    @argument("--patience", type=int, default=None, help="early stopping on validation loss")
    @argument("--init", default=None, help="xavier | he | normal | default")
    @argument("--clip", type=float, default=None, help="gradient-norm clipping")
    @argument("--class-weight", default=None, help="balanced")
    @argument("--device", default=None, help="auto | cpu | cuda")
    @argument("--no-live", action="store_true", help="no live loss curve while training")
    @argument("--lr-find", action="store_true",
              help="run the learning-rate range test instead of training; shows the suggested rate")
    @line_cell_magic("train")
    def train_magic(self, line, cell=None):
        """Train a model on the active split (see %split) and show train vs validation metrics.

        As a cell magic, the cell is Python run in the notebook; its last expression is the
        model (scikit-learn estimator, Pipeline or torch.nn.Module). As a line magic, the rest
        of the line is the model expression. Returns a TrainResult.
        """
        from nbml.training import train

        args = self.parse(self.train_magic, line)
        if cell is None:
            if not args.model:
                raise UsageError("give a model: %train LogisticRegression() (or use %%train with a cell)")
            model = self.lookup(" ".join(args.model), "model")
        else:
            if args.model:
                raise UsageError(f"unexpected {' '.join(args.model)!r} on the %%train line; options start with --")
            model = self.run_body(cell, "train")
        data = self.lookup(args.data, "DataFrame") if args.data else None
        if data is not None and args.target is None and not hasattr(data, "weights"):  # a coreset knows its target
            raise UsageError("--data needs --target COL")
        target = self.target_of(data, args.target)[0] if data is not None and not hasattr(data, "weights") \
            else args.target
        cv = self.option(args.cv, "cv") or None
        torch_options = {k: getattr(args, k) for k in TORCH_OPTIONS if getattr(args, k) is not None}
        seed = args.seed if args.seed is not None else (self.nbml.seed if data is not None else None)
        if args.lr_find:
            from nbml.training import find_lr

            with self.errors("the learning-rate finder"):
                found = find_lr(model, seed=seed, **torch_options)
            return self.finish(found, args.out, self.silenced(line, cell))
        model, torch_options = self._live_view(model, torch_options, live=not args.no_live and cv is None)
        with self.errors(model_name(model)):
            result = train(model, cv=cv, preprocess=self.option(args.preprocess, "preprocess"), seed=seed,
                           n_jobs=self.option(args.n_jobs, "n_jobs"), data=data, target=target,
                           **preprocessing_options(args), **torch_options)
        return self.finish(result, args.out, self.silenced(line, cell))

    @staticmethod
    def _live_view(model, torch_options, live):
        """Torch models train with the live loss curve (notebook) or a text line (terminal),
        unless the user gave callbacks of their own."""
        from nbml.training import is_torch_estimator, is_torch_module

        if not live or not (is_torch_module(model) or is_torch_estimator(model)):
            return model, torch_options
        if "callbacks" in torch_options or getattr(model, "callbacks", None) is not None:
            return model, torch_options
        from nbml.torch.callbacks import progress_view

        view = progress_view("auto")
        return model, ({**torch_options, "callbacks": [view]} if view is not None else torch_options)

    @magic_arguments(name="evaluate")
    @argument("result", help="a TrainResult variable (from %%train -o NAME)")
    @argument("--on", default="val", choices=["val", "test", "train"],
              help="val (default), or test: the final check on the untouched test rows")
    @argument("--plots", default=None,
              help="comma-separated: roc,pr,cm,residuals,actual,learning,calibration,lift,gain,ks,threshold,"
                   "class_report,error,boundary,tree,vc[:PARAM],rfe,cooks,shap; and importance "
                   "(permutation importance of your columns on the --on rows, with the model's own "
                   "coefficients or impurity importances), pdp (partial dependence of the top columns)")
    @argument("--interactive", action="store_true",
              help="toggle buttons between the plots (needs a notebook front end)")
    @argument("-o", "--out", default=None, help="store the Evaluation in this variable")
    @line_magic("evaluate")
    def evaluate_magic(self, line):
        """Metrics and plots of a trained result on its validation or test rows.

        --plots importance,pdp shows what the model relies on, computed on the held-out rows
        (--on): how much the score drops when each of your columns is shuffled, the model's
        own coefficients or impurity importances, and partial dependence of the top columns.
        """
        from nbml.evaluation import evaluate

        args = self.parse(self.evaluate_magic, line)
        result = self.lookup(args.result, "result")
        with self.errors(f"%evaluate {args.result}"):
            evaluation = evaluate(result, on=args.on, plots=args.plots)
        if args.interactive:
            from nbml.widgets import interactive_evaluation

            self.store(args.out, evaluation)
            with self.errors("the interactive evaluation"):
                return interactive_evaluation(evaluation, result=result)
        return self.finish(evaluation, args.out, self.silenced(line))

    @magic_arguments(name="ensemble")
    @argument("members", nargs="*", help="(line form) results by name, or estimator expressions without spaces")
    @argument("--method", default="soft", choices=["hard", "soft", "stacking", "bagging", "boosting"])
    @argument("--weights", default=None, help="comma-separated, one per member (voting)")
    @argument("--meta", default=None, help="stacking: the meta-model expression (default: logistic/ridge)")
    @argument("--cv", type=int, default=None, help="folds for scoring members and ensemble (default 5)")
    @argument("--n-estimators", type=int, default=10, help="bagging: number of copies")
    @argument("--seed", type=int, default=None)
    @argument("-o", "--out", default=None, help="store the ensemble's TrainResult in this variable")
    @line_cell_magic("ensemble")
    def ensemble_magic(self, line, cell=None):
        """Combine trained results or estimators; members and ensemble are scored on the same
        CV folds and shown in one table with the ensemble's gain.

        Members are names of results (from %%train -o NAME) or estimator expressions: on the
        line, or one per line in the cell.
        """
        from nbml.ensembling import ensemble

        args = self.parse(self.ensemble_magic, line)
        sources = list(args.members)
        if cell is not None:
            sources += [ln.strip().rstrip(";") for ln in cell.splitlines()
                        if ln.strip() and not ln.strip().startswith("#")]
        members = [self.lookup(src, "member") for src in sources]
        weights = None
        if args.weights:
            try:
                weights = [float(w) for w in args.weights.split(",")]
            except ValueError:
                raise UsageError(f"--weights {args.weights!r} must be comma-separated numbers, e.g. 2,1,1") from None
        meta = self.lookup(args.meta, "meta-model") if args.meta else None
        with self.errors("%ensemble"):
            result = ensemble(members, method=args.method, weights=weights, meta=meta,
                              cv=self.option(args.cv, "cv") or 5, seed=args.seed, n_estimators=args.n_estimators,
                              n_jobs=self.nbml.n_jobs)
        return self.finish(result, args.out, self.silenced(line, cell))

    @magic_arguments(name="compare")
    @argument("results", nargs="*", help="results by name (from %%train -o NAME)")
    @argument("--models", default=None, help="train standard models first: e.g. rf,lr,svm,knn,tree,gb or all")
    @argument("--cv", type=int, default=None, help="folds for --models (default 5)")
    @argument("--sort-by", default=None, help="metric to rank by (default: the task's primary metric); any "
                                              "metric nbml knows, scikit-learn scorer names included")
    @argument("--n-jobs", type=int, default=None, help="folds and models fit in parallel (default %%config Nbml.n_jobs)")
    @argument("--train-scores", action="store_true",
              help="also score the --models on their training rows (over/underfitting words; costs a predict per fold)")
    @argument("-o", "--out", default=None, help="store the leaderboard DataFrame in this variable")
    @line_magic("compare")
    def compare_magic(self, line):
        """A leaderboard of validation/CV scores with fit times, best first."""
        from nbml.training import compare

        args = self.parse(self.compare_magic, line)
        results = [self.lookup(name, "result") for name in args.results]
        with self.errors("%compare"):
            table = compare(*results, models=args.models, cv=self.option(args.cv, "cv") or 5,
                            sort_by=args.sort_by, labels=args.results, n_jobs=self.option(args.n_jobs, "n_jobs"),
                            train_scores=args.train_scores)
        if args.models == "all":  # families whose package is missing: one line each, how to install
            from nbml.standard import skipped

            print("\n".join(skipped()), end="\n" if skipped() else "")
        return self.finish(table, args.out, self.silenced(line))


def model_name(model) -> str:
    """The class name of the model (of a Pipeline's last step), for the line its failure gets."""
    steps = getattr(model, "steps", None)
    return model_name(steps[-1][1]) if isinstance(steps, list) and steps else type(model).__name__
