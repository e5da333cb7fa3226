"""``%split``: choose the dataset, split it, make it active."""
from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase, preprocessing_arguments, preprocessing_options


@magics_class
class DataMagics(NbmlMagicsBase):
    @magic_arguments(name="split")
    @argument("data", help="DataFrame (or numpy array / Series) variable to split")
    @argument("--target", "-t", default=None, help="target column (none: clustering)")
    @argument("--test", default=None,
              help="test fraction below 1, e.g. 0.2 (default), or a whole percentage, e.g. 20")
    @argument("--val", default=None,
              help="validation fraction below 1, e.g. 0.2 (default), or a whole percentage, e.g. 20")
    @argument("--ratio", default=None,
              help="train-val-test adding up to 100, e.g. 70-15-15 (instead of --test/--val)")
    @argument("--seed", type=int, default=None, help="seed of the split (default %%config Nbml.seed)")
    @argument("--task", default="auto", choices=["auto", "classification", "regression", "clustering"],
              help="the task (default: inferred from the target)")
    @argument("--no-stratify", dest="stratify", action="store_false",
              help="classification: cut the parts at random, without keeping the class balance (as "
                   "train_test_split(X, y, test_size=0.2, random_state=42) does)")
    @argument("-o", "--out", default=None, help="also store the Split in this variable")
    @preprocessing_arguments
    @line_magic("split")
    def split_magic(self, line):
        """Split a dataset into train/validation/test and make it the active dataset.

        Stratified for classification (--no-stratify: not). Prints rows per part and the class
        balance. --target names a column of DATA, or a notebook variable holding the target values
        (an array, list or Series with one value per row: %split X --target y).
        """
        from nbml.data import split

        args = self.parse(self.split_magic, line)
        data = self.lookup(args.data, "DataFrame")
        target, note = self.target_of(data, args.target)
        with self.errors("%split"):
            # with --ratio, the %config defaults of test/val do not apply (both given is refused)
            test, val = (args.test, args.val) if args.ratio else (self.option(args.test, "test"),
                                                                   self.option(args.val, "val"))
            result = split(data, target=target, test=test, val=val, seed=self.option(args.seed, "seed"),
                           task=args.task, ratio=args.ratio, stratify=args.stratify, **preprocessing_options(args))
        if note:
            result.notes.insert(0, note)
        result.name = args.data
        return self.finish(result, args.out, self.silenced(line))

    @magic_arguments(name="coreset")
    @argument("data", nargs="?", default=None, help="DataFrame variable (or use --file)")
    @argument("--file", default=None, help="CSV or Parquet file, read in chunks (may be larger than memory)")
    @argument("--target", "-t", default=None, help="target column")
    @argument("--size", required=True, help="rows (e.g. 10000) or a fraction of the data (e.g. 0.01)")
    @argument("--method", default="auto", choices=["auto", "sensitivity", "lightweight", "uniform"])
    @argument("--rows", default="train", choices=["train", "train+val", "all"],
              help="of the active split's frame, the rows drawn from: its training rows (default), training and "
                   "validation rows (for --cv), or all (training on it against the split is then refused)")
    @argument("--seed", type=int, default=None, help="seed (default %%config Nbml.seed)")
    @argument("--chunksize", type=int, default=100_000, help="rows read at a time from --file")
    @argument("--preprocess", choices=["auto", "none"], default=None,
              help="auto: measure rows after nbml's preprocessing (the split's choices, the options below over "
                   "them), so text, categories, dates and missing values are fine; none: the columns as they are")
    @argument("-o", "--out", default=None, help="store the Coreset in this variable")
    @preprocessing_arguments
    @line_magic("coreset")
    def coreset_magic(self, line):
        """Build a small weighted subset that trains like the full data.

        Then `%%train --data NAME` fits with its weights and `%tune NAME --coreset NAME`
        searches on it. From the active split's frame it is drawn from the training rows only
        (the validation and test rows it is scored on stay out); it says so under its repr.
        Rows are measured as a model trained on them sees them: after the split's preprocessing
        (--preprocess auto, the default; --scale, --encode, … as %%train takes them), while the
        coreset holds the raw rows.
        """
        from nbml.coresets import coreset

        args = self.parse(self.coreset_magic, line)
        if (args.data is None) == (args.file is None):
            raise UsageError("give a DataFrame or --file PATH (one of them)")
        data = self.lookup(args.data, "DataFrame") if args.data else None
        target = self.target_of(data, args.target)[0] if data is not None else args.target
        size = args.size
        try:
            size = int(size) if size.strip().isdigit() else float(size)
        except ValueError:
            raise UsageError(f"--size {args.size!r} is not a row count or a fraction") from None
        with self.errors("%coreset"):
            result = coreset(data, target=target, size=size, method=args.method,
                             seed=self.option(args.seed, "seed"), file=args.file, chunksize=args.chunksize,
                             rows=args.rows, preprocess=self.option(args.preprocess, "preprocess"),
                             **preprocessing_options(args))
        return self.finish(result, args.out, self.silenced(line))
