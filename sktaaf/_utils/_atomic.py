"""Atomic writes: every file sktaaf writes is replaced whole or not at all.

A writer (:func:`write_gctx`, :func:`write_gct`, ``save``, the checkpoints,
:func:`to_onnx`, :func:`to_torchscript`) writes into a temporary file beside
its target, then renames it onto the target (``os.replace``), so that an
interrupted or failed write leaves the previous file intact and no partial
file behind, and concurrent writers never share a file (the last rename wins,
each file whole). :func:`atomic_write` enforces the rules of the package:

- Only a regular file is ever replaced. A folder, character or block device
  (``/dev/null``), FIFO or socket as the target is refused with an OSError
  naming it, before anything is written (renaming a file onto
  ``/dev/null`` would replace the device node itself); sktaaf's formats are
  written with seeks or whole, so streaming into such a node is not offered.
  A symbolic link to a regular file (or to no file yet) is kept: the file it
  points to is written.
- A file written over keeps its permission bits, and its owner and group
  where the process may set them (as root); a read-only file is refused, as
  a shell redirection would refuse it. A new file gets ``0o666`` less the
  umask, as :func:`open` gives. (A hard link to the old file keeps the old
  content: the target's name gets a new file.)
- The temporary name is short (``.<start of the name>.<8 hex>.partial``,
  never longer than the folder's longest file name), so any valid target
  name can be written.
- A write failing midway because the disk is full or a file size limit is
  reached (``ENOSPC``, ``EFBIG``, ``EDQUOT``) raises an OSError naming the
  target and saying "disk full or file size limit"; other OSErrors are
  raised naming the target too.

Libraries written in C (HDF5, torch's zip writer) do not survive a failed
write well: HDF5 crashes the process at exit, torch aborts it.
:class:`DeferredErrorsFile` is a file object for them whose write errors are
kept, not raised, until it is closed, so that the library sees a successful
write and stays consistent; the error is raised once the library is done.

This module imports nothing from the package.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "DeferredErrorsFile",
    "atomic_binary_file",
    "atomic_file",
    "atomic_write",
    "as_path",
    "check_target",
    "same_file",
]

#: The errors of a write that ran out of room.
OUT_OF_SPACE = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
_SUFFIX = ".partial"
_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def as_path(path, action: str = "write") -> Path:
    """``path`` as a :class:`~pathlib.Path`; a TypeError saying what was
    given when it is no file name (``None``, a number, an open file)."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"Cannot {action} {path!r}: expected a file name (a str or a "
            f"path-like object); got {type(path).__name__}."
        )
    return Path(path)


def same_file(first, second) -> bool:
    """Whether ``first`` and ``second`` are one file (:func:`os.path.samefile`:
    hard and symbolic links included); False when either is absent or
    unreadable, for a writer that must never replace its own input."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):  # absent, unreadable, or a NUL in a name
        return False


def check_target(path, action: str = "write") -> tuple[Path, os.stat_result | None]:
    """The file that writing to ``path`` replaces, and its status (None if
    it does not exist yet); an OSError naming ``path`` when it cannot be.

    ``action`` starts the messages: ``"save the model to"`` gives "Cannot
    save the model to 'x': ...". Call it before long work to fail early;
    :func:`atomic_write` calls it again.
    """
    path = as_path(path, action)
    shown = repr(str(path))
    target = path
    try:
        if path.is_symlink():
            target = Path(os.path.realpath(path))
        status = os.stat(target)
    except FileNotFoundError:
        status = None
    except OSError as exc:  # a loop of links, a name too long, ...
        raise OSError(exc.errno, f"Cannot {action} {shown}: {exc.strerror}.") from exc
    if status is not None and stat.S_ISDIR(status.st_mode):
        raise IsADirectoryError(
            f"Cannot {action} {shown}: it is a folder; give a file name."
        )
    if status is not None and not stat.S_ISREG(status.st_mode):
        kind = next(name for test, name in _KINDS if test(status.st_mode))
        raise OSError(
            f"Cannot {action} {shown}: it is {kind}, not a regular file. sktaaf "
            "writes a file under a temporary name and moves it into place, which "
            "would replace it; give the path of a regular file."
        )
    folder = target.parent
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Cannot {action} {shown}: the folder {str(folder)!r} does not exist."
        )
    if status is not None and not os.access(target, os.W_OK):
        raise PermissionError(
            errno.EACCES,
            f"Cannot {action} {shown}: the file is read-only (not writable by "
            "this user); remove it or make it writable first.",
        )
    return target, status


def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def _new_partial(target: Path, status) -> tuple[Path, int]:
    """An exclusively created, empty temporary file beside ``target``, with
    ``target``'s mode and owner (``status``), or the umask's mode if new."""
    budget = _name_max(target.parent) - len(f"..{'0' * 8}{_SUFFIX}".encode())
    start = os.fsencode(target.name)[: max(budget, 0)]
    start = start.decode("utf-8", "ignore") if budget > 0 else ""
    for _ in range(100):
        partial = target.with_name(f".{start}.{secrets.token_hex(4)}{_SUFFIX}")
        try:
            # 0o600 while writing over an existing file (its mode is set
            # below), 0o666 less the umask for a new one.
            mode = 0o666 if status is None else 0o600
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            continue
        return partial, descriptor
    raise FileExistsError(f"Cannot create a temporary file beside {str(target)!r}.")


def _keep_owner_and_mode(descriptor: int, status) -> None:
    if status is None or not hasattr(os, "fchown"):  # Windows: no modes to keep
        return
    own = os.fstat(descriptor)
    if (own.st_uid, own.st_gid) != (status.st_uid, status.st_gid):
        for uid in (status.st_uid, -1):  # the owner needs root; the group may do
            try:
                os.fchown(descriptor, uid, status.st_gid)
                break
            except OSError:
                continue
    os.fchmod(descriptor, stat.S_IMODE(status.st_mode))


def _write_error(exc: OSError, path: Path, action: str) -> OSError:
    """``exc`` as an OSError (of the same subclass) naming ``path``."""
    reason = exc.strerror or str(exc)
    if exc.errno in OUT_OF_SPACE:
        reason = f"the write failed midway: disk full or file size limit ({reason})"
    message = f"Could not {action} {str(path)!r}: {reason}"
    return OSError(exc.errno, message) if exc.errno else OSError(message)


@contextmanager
def atomic_write(path, action: str = "write") -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto ``path`` when the block
    succeeds; see the module docstring for the rules.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    action : str, default="write"
        What the messages say was being done, e.g. ``"write the GCTX file"``.

    Yields
    ------
    partial : pathlib.Path
        An empty file to write (open it for writing; it may be truncated).
        On any exception it is removed and ``path`` is left as it was; an
        OSError is raised again naming ``path``.
    """
    path = as_path(path, action)
    target, status = check_target(path, action)
    partial = None
    try:
        with _ctrl_c_held():  # so that a created temporary file is always named
            partial, descriptor = _new_partial(target, status)
            try:
                _keep_owner_and_mode(descriptor, status)
            finally:
                os.close(descriptor)
        yield partial
        _sync(partial)
        os.replace(partial, target)
        partial = None
        _sync(target.parent, folder=True)
    except OSError as exc:
        raise _write_error(exc, path, action) from exc
    finally:
        if partial is not None:
            with _ctrl_c_held():
                partial.unlink(missing_ok=True)


@contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold Ctrl-C back for the block, then deliver it: a KeyboardInterrupt
    cannot land between creating a file and recording its name. Only in the
    main thread, where Python handles SIGINT, and only where a Python handler
    is installed (an ignored SIGINT stays ignored)."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        yield
        return
    pressed = []
    signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if pressed:
            previous(signal.SIGINT, pressed[-1])


@contextmanager
def atomic_file(path, mode: str = "w"):
    """:func:`atomic_write` for writers that take an open file: the file
    (text with ``newline=""``, or binary when ``mode`` has ``"b"``) whose
    content replaces ``path`` when the block succeeds."""
    text = "b" not in mode
    with (
        atomic_write(path, f"write {as_path(path).name}") as partial,
        open(partial, mode, newline="" if text else None) as file,  # noqa: SIM115
    ):
        yield file


@contextmanager
def atomic_binary_file(path, action: str = "write") -> Iterator[DeferredErrorsFile]:
    """:func:`atomic_write` for C libraries that write to a file object
    (``torch.save``, h5py): a :class:`DeferredErrorsFile` on the temporary
    file, whose write errors (and Ctrl-C) are raised once the library is done
    with it, before the file replaces ``path``."""
    with atomic_write(path, action) as partial, DeferredErrorsFile(partial) as file:
        yield file


def _sync(path: Path, folder: bool = False) -> None:
    """Flush the file ``path`` to the disk, so that a crash after the rename
    finds the new file whole (ENOSPC may only show here on some file
    systems); or, with ``folder``, the folder's entries, where it can be."""
    try:
        flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if folder else 0)
        descriptor = os.open(path, flags)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError:
        if not folder:
            raise


class DeferredErrorsFile(io.RawIOBase):
    """A file opened for writing and reading whose write errors, and Ctrl-C,
    are kept until :meth:`close`, which raises them.

    For C libraries that cannot recover from a failed write (h5py's
    ``fileobj`` driver, ``torch.save``): they see every write succeed, finish
    their work and leave their state consistent. Used as a context manager, it
    also holds back SIGINT (in the main thread, where Python has a handler):
    a ``KeyboardInterrupt`` raised inside the library's call into Python
    would crash HDF5 like a failed write. :attr:`failed` tells a writer's loop
    to stop early; writes after the first failure or Ctrl-C are skipped, and
    :meth:`close` then raises ``KeyboardInterrupt`` (after calling the
    previous handler) or the first ``OSError``.
    """

    def __init__(self, path):
        super().__init__()
        self._file = open(path, "r+b", buffering=0)  # noqa: SIM115
        self.error: OSError | None = None
        self.interrupted = False
        self._previous_handler = None

    def __enter__(self) -> DeferredErrorsFile:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # SIG_IGN, SIG_DFL: nothing raised in Python

                def hold(signum, frame):
                    self.interrupted = True

                signal.signal(signal.SIGINT, hold)
                self._previous_handler = previous
        return super().__enter__()

    @property
    def failed(self) -> bool:
        return self.error is not None or self.interrupted

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer) -> int:
        return self._file.readinto(buffer)

    def write(self, data) -> int:
        size = memoryview(data).nbytes
        if not self.failed:
            view, written = memoryview(data).cast("B"), 0
            try:
                while written < size:  # raw writes may be short
                    written += self._file.write(view[written:])
                return size
            except OSError as exc:
                self.error = exc
        self._file.seek(size, io.SEEK_CUR)
        return size

    def truncate(self, size: int | None = None) -> int:
        try:
            return self._file.truncate(size)
        except OSError as exc:
            self.error = self.error or exc
            return self.tell() if size is None else size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self.closed:
            return
        try:
            self._file.close()
        finally:
            super().close()
            previous, self._previous_handler = self._previous_handler, None
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
                if self.interrupted:
                    previous(signal.SIGINT, None)  # Python's: KeyboardInterrupt
        if self.interrupted:  # a handler that did not raise: the file is cut
            raise KeyboardInterrupt
        if self.error is not None:
            raise self.error
