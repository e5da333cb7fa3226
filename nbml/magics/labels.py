"""``%labels``: likely mislabeled rows of the active split, and their review."""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase


@magics_class
class LabelMagics(NbmlMagicsBase):
    @magic_arguments(name="labels")
    @argument("result", help="a TrainResult variable (from %%train -o NAME) whose model scores the rows")
    @argument("--cv", type=int, default=None, help="folds for the out-of-fold probabilities (default 5)")
    @argument("--coreset", default=None,
              help="large data: fit each fold's model on a coreset of this many rows (or a fraction)")
    @argument("--filter-by", default="prune_by_class", help="cleanlab's rule (default prune_by_class)")
    @argument("--review", action="store_true",
              help="open the review panel: one row at a time, Keep / Relabel / Drop, with shortcuts")
    @argument("--accept", action="store_true",
              help="take every undecided flagged row's suggested action (relabel when confident, else drop)")
    @argument("--name", default=None, help="the review's name in the store (default: the variable's name)")
    @argument("-o", "--out", default=None, help="store the LabelIssues in this variable")
    @line_magic("labels")
    def labels_magic(self, line):
        """Find likely mislabeled rows: out-of-fold probabilities from cross-validation on
        the training rows, then cleanlab's confident learning; most likely wrong first. Decisions apply
        to a cleaned copy (never to your DataFrame), are kept in the store and can be undone;
        LabelIssues.retrain() trains again on the cleaned data."""
        from nbml.labels import label_issues

        args = self.parse(self.labels_magic, line)
        result = self.lookup(args.result, "result")
        size = _size(args.coreset)
        name = args.name or (args.result if args.result.isidentifier() else None)
        with self.errors(f"%labels {args.result}"):
            try:
                issues = label_issues(result, cv=self.option(args.cv, "cv") or 5, seed=None, coreset=size,
                                      filter_by=args.filter_by, name=name, storage=self.nbml.storage or None)
            except ImportError as exc:
                raise UsageError(str(exc)) from None
            if args.accept:
                issues.accept()
        if args.review:
            from nbml.widgets import review_labels

            self.store(args.out, issues)
            with self.errors("the label review"):
                return review_labels(issues, result=result)
        return self.finish(issues, args.out, self.silenced(line))


def _size(text):
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--coreset {text!r} is not a size: give rows (e.g. 5000) or a fraction (e.g. 0.1)") from None
    return int(value) if value >= 1 and value.is_integer() else value
