"""``%split``: choose the dataset, split it, make it active."""
from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase, preprocessing_arguments, preprocessing_options, user_errors


@magics_class
class DataMagics(NbmlMagicsBase):
    @magic_arguments(name="split")
    @argument("data", help="DataFrame (or numpy array / Series) variable to split")
    @argument("--target", "-t", default=None, help="target column (none: clustering)")
    @argument("--test", default=None, help="test fraction or percentage (default 0.2)")
    @argument("--val", default=None, help="validation fraction or percentage (default 0.2)")
    @argument("--ratio", default=None, help="train-val-test, e.g. 70-15-15 (instead of --test/--val)")
    @argument("--seed", type=int, default=None, help="seed of the split (default %%config Nbml.seed)")
    @argument("--task", default="auto", choices=["auto", "classification", "regression", "clustering"],
              help="the task (default: inferred from the target)")
    @argument("-o", "--out", default=None, help="also store the Split in this variable")
    @preprocessing_arguments
    @line_magic("split")
    def split_magic(self, line):
        """Split a dataset into train/validation/test and make it the active dataset.

        Stratified for classification. Prints rows per part and the class balance.
        """
        from nbml.data import split

        args = self.parse(self.split_magic, line)
        data = self.lookup(args.data, "DataFrame")
        with user_errors():
            result = split(data, target=args.target, test=self.option(args.test, "test"),
                           val=self.option(args.val, "val"), seed=self.option(args.seed, "seed"),
                           task=args.task, ratio=args.ratio, **preprocessing_options(args))
        result.name = args.data
        return self.finish(result, args.out, self.silenced(line))
