"""Coresets: small weighted subsets that train and tune like the full data.

``nbml.coreset(...)`` builds one from a DataFrame, arrays or a file; ``CoresetTree`` is the
merge-and-reduce structure used for files (bounded memory, ``add``, ``save``/``load``).
"""
from nbml.coresets.api import coreset
from nbml.coresets.base import Coreset
from nbml.coresets.search import weighted_search
from nbml.coresets.tree import CoresetTree

__all__ = ["Coreset", "CoresetTree", "coreset", "weighted_search"]
