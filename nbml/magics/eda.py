"""``%eda``: a first look at a DataFrame."""
from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase


@magics_class
class EdaMagics(NbmlMagicsBase):
    @magic_arguments(name="eda")
    @argument("data", help="DataFrame variable (or expression) to explore")
    @argument("--target", "-t", default=None,
              help="target column (or a variable holding the target values): class balance, features most "
                   "associated with it")
    @argument("--sample", type=int, default=None,
              help="plots use a seeded random sample of at most this many rows (default 50000)")
    @argument("--max-plots", type=int, default=None, help="panels per view on wide frames (default 12)")
    @argument("--seed", type=int, default=None, help="seed of the sample (default %%config Nbml.seed)")
    @argument("-o", "--out", default=None, help="also store the EdaReport in this variable")
    @line_magic("eda")
    def eda_magic(self, line):
        """Overview of a DataFrame: per-column statistics, outliers, duplicates, correlations,
        the target's balance, plots and findings that name the fix. Returns an EdaReport."""
        from nbml.eda_report import eda

        args = self.parse(self.eda_magic, line)
        data = self.lookup(args.data, "DataFrame")
        kwargs = {"sample": args.sample} if args.sample is not None else {}
        if args.max_plots is not None:
            kwargs["max_plots"] = args.max_plots
        target, _ = self.target_of(data, args.target)
        if target is not None and not isinstance(target, str):  # target values held in a variable: a column here
            from nbml.data import as_frame

            with self.errors("%eda"):
                data = as_frame(data).assign(**{str(target.name): target.to_numpy()})
            target = str(target.name)
        with self.errors("%eda"):
            report = eda(data, target=target, seed=self.option(args.seed, "seed"), **kwargs)
        return self.finish(report, args.out, self.silenced(line))
