"""Coresets: small weighted subsets that train and tune like the full data.

``nbml.coreset(...)`` builds one from a DataFrame, arrays or a file; ``CoresetTree`` is the
merge-and-reduce structure used for files (bounded memory, ``add``, ``save``/``load``).
A coreset of the active split's frame is drawn from its training rows only;
``held_out_rows`` / ``check_held_out`` find the validation and test rows any coreset holds.
"""
from nbml.coresets.api import coreset
from nbml.coresets.base import Coreset
from nbml.coresets.heldout import HeldOutRowsError, check_held_out, held_out_rows
from nbml.coresets.search import weighted_search
from nbml.coresets.tree import CoresetTree

__all__ = ["Coreset", "CoresetTree", "HeldOutRowsError", "check_held_out", "coreset", "held_out_rows",
           "weighted_search"]
