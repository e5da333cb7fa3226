"""Display options shared by the views (``%config Nbml.plots = False`` sets them)."""

# draw plots under results in rich front ends (notebooks)
plots = True
