"""File helpers shared by the loaders: optional imports, paths, read errors."""

from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from pathlib import Path

PathLike = str | os.PathLike


def _import(module: str, package: str, caller: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires the {package!r} package; install it with "
            f"`pip install {package}` or `pip install 'sktaaf[io]'`."
        ) from exc


def _check_file(path: PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        state = "is not a file" if path.exists() else "does not exist"
        raise FileNotFoundError(f"The {what} file {str(path)!r} {state}.")
    return path


@contextmanager
def _read_errors(path: Path, what: str, errors: tuple):
    """Turn ``errors``, which readers raise on damaged files, into ValueError."""
    try:
        yield
    except errors as exc:
        raise ValueError(
            f"The {what} file {str(path)!r} cannot be read (truncated, corrupted, "
            f"or another kind of file): {type(exc).__name__}: {exc}"
        ) from exc
