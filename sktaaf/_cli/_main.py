"""The ``sktaaf`` command: train a model on a profiles file, infer genes with it,
score it, describe it, compare models.

``sktaaf fit`` reads a profiles file (GCTX, GCT, pandas HDF5 or .npz), trains
a :class:`~sktaaf.TAAFRegressor` or :class:`~sktaaf.DGEXRegressor` on its
landmark and target genes and saves the model file (``_fit``); ``sktaaf
predict`` reads new profiles, matches their genes to the model's landmarks by
id and writes the inferred target genes as GCTX (or GCT) with their metadata
and the input's sample metadata (``_predict``); ``sktaaf score`` compares a
model's predictions with a file's measured targets (``_score``); ``sktaaf
info`` prints a model card (``_info``); ``sktaaf compare`` runs the
comparison harness (:mod:`sktaaf._compare`). Errors the user can fix print
one line and exit with status 2.

Each command's module is imported only when it runs, so that ``--help`` and
``--version`` answer without importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ._errors import UsageError
from ._parser import build_parser

__all__ = ["main"]

_COMMANDS = ("fit", "predict", "score", "info", "compare")


def _runner(command: str):
    def run(args) -> int:
        return importlib.import_module(f"._{command}", __package__).run(args)

    return run


def _compare(args) -> int:
    from .._compare import check_args, run

    options = argparse.Namespace(
        **{
            key: value
            for key, value in vars(args).items()
            if key not in ("command", "run", "parser")
        }
    )
    run(check_args(args.parser, options))
    return 0


def _command_of(argv: list[str]) -> str | None:
    """The command named in ``argv`` (its first word not an option)."""
    return next((word for word in argv if not word.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """Run the ``sktaaf`` command with ``argv`` (default: ``sys.argv[1:]``);
    return its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    runs = {command: _runner(command) for command in _COMMANDS}
    runs["compare"] = _compare
    parser = build_parser(runs, compare_options=_command_of(argv) == "compare")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except BrokenPipeError:  # e.g. `sktaaf info model.pt | head`: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's exit flushes nothing
        return 141
    except (UsageError, OSError, ImportError, ValueError, TypeError) as exc:
        message = " ".join(str(exc).split())
        print(f"sktaaf {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sktaaf {args.command}: interrupted", file=sys.stderr)
        return 130
