"""``%panel``: the live tuning panel of a trained result or a model."""
from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase


@magics_class
class PanelMagics(NbmlMagicsBase):
    @magic_arguments(name="panel")
    @argument("target", nargs="+", help="a TrainResult (from %%train -o NAME) or a model expression")
    @argument("--params", default=None, help="comma-separated parameters to control, e.g. C,penalty "
                                              "(default: the model's usual hyperparameters)")
    @argument("--space", default=None, help="a variable holding a search space (dict or %%tune-style text)")
    @argument("-o", "--out", default=None, help="store the panel widget in this variable")
    @line_magic("panel")
    def panel_magic(self, line):
        """Open a live tuning panel: sliders refit the model on the training rows, score it on
        the validation rows and redraw metrics, ROC / confusion matrix / residuals / loss
        curve in place. The keep button stores the current setting as a TrainResult in the
        notebook. Returns the widget."""
        from nbml.widgets import panel

        args = self.parse(self.panel_magic, line)
        target = self.lookup(" ".join(args.target), "result or model")
        space = self.lookup(args.space, "space") if args.space else None
        with self.errors("%panel"):
            widget = panel(target, space=space, params=args.params, namespace=self.shell.user_ns)
        return self.finish(widget, args.out, self.silenced(line))
