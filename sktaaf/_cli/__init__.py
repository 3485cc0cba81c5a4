"""The ``sktaaf`` command line (``sktaaf fit``, ``sktaaf predict``)."""

from ._main import main

__all__ = ["main"]
