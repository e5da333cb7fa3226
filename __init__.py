"""Makes a clone of the nbml repository work as the ``nbml`` package from the folder above it.

A notebook started in a folder that holds the clone (``./nbml/``) imports that folder, not the
installed package: without this file Python would make it an empty namespace package, and
``%load_ext nbml`` would say only "The nbml module is not an IPython extension". This file points
the import at the package inside the clone, ``nbml/nbml/``, and runs its ``__init__``.
"""
import os as _os

__path__ = [_os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "nbml")]
__file__ = _os.path.join(__path__[0], "__init__.py")
with open(__file__, encoding="utf-8") as _source:
    exec(compile(_source.read(), __file__, "exec"))
