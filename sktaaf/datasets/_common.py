"""File helpers shared by the loaders: optional imports, paths, read errors."""

from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

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


def cast_checked(values: np.ndarray, dtype, source: str, where) -> np.ndarray:
    """``values`` cast to ``dtype``; a ValueError when finite values overflow it.

    ``source`` names what holds the values (e.g. "The file 'x.gct'") and
    ``where(row, column)`` the position of the first overflowing value (of
    ``values``) in the message.
    """
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        converted = values.astype(dtype, copy=False)
    if (
        dtype.kind == "f"
        and values.dtype.kind == "f"
        and np.finfo(values.dtype).max > np.finfo(dtype).max
    ):
        overflow = np.isinf(converted) & np.isfinite(values)
        if overflow.any():
            row, column = np.argwhere(overflow)[0]
            raise ValueError(
                f"{source} holds {int(overflow.sum())} finite values "
                f"beyond the range of {dtype.name} (largest "
                f"{np.finfo(dtype).max:.6g}), e.g. {values[row, column]!r} at "
                f"{where(row, column)}; they would become infinite. Rescale the "
                "data (e.g. log-transform it), or use dtype=np.float64."
            )
    return converted
