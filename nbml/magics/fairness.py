"""``%fairness``: a model's metrics per group of held-out rows and the largest gaps."""
from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase


@magics_class
class FairnessMagics(NbmlMagicsBase):
    @magic_arguments(name="fairness")
    @argument("result", help="a TrainResult variable (from %%train -o NAME)")
    @argument("--by", required=True, help="the column(s) whose values make the groups, comma-separated")
    @argument("--on", default="val", choices=["val", "test"], help="the held-out rows: val (default) or test")
    @argument("--pos-label", default=None, help="classification: the positive class (default: the last class)")
    @argument("-o", "--out", default=None, help="store the FairnessReport in this variable")
    @line_magic("fairness")
    def fairness_magic(self, line):
        """Metrics per group of the held-out rows through fairlearn's MetricFrame (nbml[fairness]):
        accuracy, selection rate, true and false positive rates (classification) or MAE and R²
        (regression), with the largest gaps: demographic parity and equalized odds differences."""
        from nbml.fairness_report import fairness

        args = self.parse(self.fairness_magic, line)
        result = self.lookup(args.result, "result")
        with self.errors(f"%fairness {args.result}"):
            report = fairness(result, by=args.by, on=args.on, pos_label=args.pos_label)
        return self.finish(report, args.out, self.silenced(line))
