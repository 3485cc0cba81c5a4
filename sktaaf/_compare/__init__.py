"""The comparison harness behind ``sktaaf compare`` (see ``_run``'s docstring)."""

from ._args import add_arguments, build_parser, check_args, parse_args
from ._run import main, run

__all__ = ["add_arguments", "build_parser", "check_args", "main", "parse_args", "run"]
