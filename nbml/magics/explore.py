"""``%explore``: interactive explorers of how models learn (``%explore gd``)."""
from __future__ import annotations

from IPython.core.magic import line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from nbml.magics.common import NbmlMagicsBase


@magics_class
class ExploreMagics(NbmlMagicsBase):
    @magic_arguments(name="explore")
    @argument("problem", nargs="?", default="gd", help="what to explore: gd (gradient descent)")
    @argument("--model", default="linear", choices=["linear", "logistic"],
              help="1-D linear regression or 2-D logistic regression on generated data")
    @argument("--lr", type=float, default=0.1, help="starting learning rate")
    @argument("--batch-size", type=int, default=None, help="starting batch size (default: all rows)")
    @argument("--iterations", type=int, default=60, help="starting number of steps")
    @argument("--momentum", type=float, default=0.0)
    @argument("--reg", type=float, default=0.0, help="L2 regularization strength")
    @argument("--seed", type=int, default=0, help="seed of the generated data and the batches")
    @argument("-o", "--out", default=None, help="store the widget in this variable")
    @line_magic("explore")
    def explore_magic(self, line):
        """Open the gradient-descent explorer: sliders for learning rate (log scale), batch
        size, iterations, momentum and regularization; the loss curve, the loss surface with
        the optimizer's path and the fitted line / decision boundary redraw in place. A
        learning rate that is too high diverges, and the panel says so. Returns the widget."""
        from nbml.widgets.explore import explore

        args = self.parse(self.explore_magic, line)
        with self.errors("%explore"):
            widget = explore(args.problem, model=args.model, lr=args.lr, batch_size=args.batch_size,
                             iterations=args.iterations, momentum=args.momentum, reg=args.reg, seed=args.seed)
        return self.finish(widget, args.out, self.silenced(line))
