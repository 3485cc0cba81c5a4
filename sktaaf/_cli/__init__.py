"""The ``sktaaf`` command line: fit, predict, score, info, compare."""

from ._main import main

__all__ = ["main"]
