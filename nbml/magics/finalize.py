"""``%calibrate``, ``%threshold`` and ``%finalize``: what is done to a chosen model before it ships."""
from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase


@magics_class
class FinalizeMagics(NbmlMagicsBase):
    @magic_arguments(name="calibrate")
    @argument("result", help="a classifier's TrainResult variable (from %%train -o NAME)")
    @argument("--method", default="sigmoid", choices=["sigmoid", "isotonic"],
              help="sigmoid (Platt, default; few rows) or isotonic (many rows)")
    @argument("-o", "--out", default=None, help="store the calibrated TrainResult in this variable")
    @line_magic("calibrate")
    def calibrate_magic(self, line):
        """Calibrate a classifier's probabilities (scikit-learn's CalibratedClassifierCV, 5 folds
        inside the training rows; multiclass one-vs-rest), scored on the validation rows, with the
        Brier score and log loss before and after. Returns a TrainResult."""
        from nbml.calibration import calibrate

        args = self.parse(self.calibrate_magic, line)
        result = self.lookup(args.result, "result")
        with self.errors(f"%calibrate {args.result}"):
            calibrated = calibrate(result, method=args.method)
        return self.finish(calibrated, args.out, self.silenced(line))

    @magic_arguments(name="threshold")
    @argument("result", help="a binary classifier's TrainResult variable (from %%train -o NAME)")
    @argument("--metric", default="f1", metavar="f1|balanced_accuracy|youden|cost:FP,FN",
              help="what the threshold maximizes (cost: the cost of one false positive, of one false negative; "
                   "minimized); default f1")
    @argument("--value", type=float, default=None, help="use this threshold instead of choosing one")
    @argument("--cv", type=int, default=5, help="folds inside the training rows the threshold is chosen on (default 5)")
    @argument("-o", "--out", default=None, help="store the thresholded TrainResult in this variable")
    @line_magic("threshold")
    def threshold_magic(self, line):
        """Choose a binary classifier's decision threshold on out-of-fold predictions of the
        training rows (scikit-learn's TunedThresholdClassifierCV), draw the metric against the
        threshold, and score the model at it on the validation rows. The threshold travels with
        the result: predict, %evaluate, %deploy and the service use it. Returns a TrainResult."""
        from nbml.thresholding import threshold

        args = self.parse(self.threshold_magic, line)
        result = self.lookup(args.result, "result")
        with self.errors(f"%threshold {args.result}"):
            chosen = threshold(result, metric=args.metric, value=args.value, cv=args.cv)
        return self.finish(chosen, args.out, self.silenced(line))

    @magic_arguments(name="finalize")
    @argument("result", help="a TrainResult variable (from %%train -o NAME)")
    @argument("-o", "--out", default=None, help="store the final TrainResult in this variable")
    @line_magic("finalize")
    def finalize_magic(self, line):
        """Refit a result's recipe on every labelled row (train+val+test) for production. It keeps
        the held-out scores measured before, and %evaluate --on val|test of it is refused."""
        from nbml.finalizing import finalize

        args = self.parse(self.finalize_magic, line)
        result = self.lookup(args.result, "result")
        with self.errors(f"%finalize {args.result}"):
            final = finalize(result)
        return self.finish(final, args.out, self.silenced(line))
