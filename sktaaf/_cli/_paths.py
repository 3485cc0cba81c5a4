"""Checks of the command's output paths, made before any long work.

An output must be a regular file (or a new one) in an existing, writable
folder, and never one of the command's inputs: the same file by
:func:`os.path.samefile` (hard links and symbolic links included). Each check
raises a :class:`UsageError` of one line naming the paths; the command prints
it and exits with status 2, before it trains or predicts anything.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .._utils._atomic import same_file
from ._errors import UsageError

__all__ = ["check_output", "os_error_message"]


def check_output(output: str, inputs: dict, option: str = "-o") -> Path:
    """``output`` as a path, after checking that writing it is possible and
    harms no input.

    Parameters
    ----------
    output : str
        The path given to ``option``.
    inputs : dict
        The command's input files by description (e.g. ``{"the profiles
        file": "P.gctx"}``); None values are skipped.
    option : str, default="-o"
        The option that named ``output``, for the messages.

    Returns
    -------
    path : Path
    """
    if not str(output).strip():
        raise UsageError(f"{option}: the output path is empty; give a file name.")
    if "\x00" in str(output):
        raise UsageError(f"{option}: {output!r} holds a NUL character.")
    path = Path(output)
    for what, source in inputs.items():
        if source is not None and same_file(path, source):
            raise UsageError(
                f"{option} {str(path)!r} is {what} {str(source)!r}: writing the "
                "output would replace its own input; give another output name."
            )
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UsageError(
            f"{option}: cannot use {str(path)!r}: {exc.strerror}."
        ) from exc
    if mode is not None and stat.S_ISDIR(mode):
        raise UsageError(
            f"{option}: {str(path)!r} is a folder; give a file name inside it."
        )
    if mode is not None and not stat.S_ISREG(mode):
        raise UsageError(
            f"{option}: {str(path)!r} is not a regular file (a device, a FIFO or "
            "a socket); give the name of a file to write."
        )
    if str(output).endswith(("/", os.sep)):
        raise UsageError(
            f"{option}: {output!r} ends in a slash, as a folder does; give a file name."
        )
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(
            f"{option}: the folder of {str(path)!r}, {str(folder)!r}, does not exist."
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"{option}: the folder {str(folder)!r} is not writable, so "
            f"{path.name!r} cannot be written there."
        )
    return path


def os_error_message(exc: OSError, path) -> str:
    """One line for an ``OSError`` raised while writing ``path``, naming it."""
    message = " ".join(str(exc).split())
    if str(path) not in message:
        message = f"cannot write {str(path)!r}: {message}"
    reasons = (os.strerror(errno.EFBIG), os.strerror(errno.ENOSPC))
    is_full = exc.errno in (errno.EFBIG, errno.ENOSPC) or any(
        reason in message for reason in reasons
    )
    if is_full and "full" not in message:
        message += " (the disk is full, or a file size limit was reached)"
    return message
