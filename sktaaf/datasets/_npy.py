""".npy files, memory-mapped by default."""

from __future__ import annotations

import tokenize

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch

from ._common import PathLike, _check_file
from ._ids import _as_ids, _bunch

__all__ = ["load_npy"]

_MMAP_MODES = ["r", "r+", "c", None]  # never "w+", which overwrites the file


def _load_npy(path: PathLike, what: str, mmap_mode) -> np.ndarray:
    path = _check_file(path, what)
    try:
        if mmap_mode == "r+":  # np.memmap would pad a truncated file with zeros
            np.load(path, mmap_mode="r", allow_pickle=False)
        array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    # Truncated files raise EOFError; damaged headers, tokenize.TokenError.
    except (ValueError, EOFError, SyntaxError, tokenize.TokenError) as exc:
        raise ValueError(
            f"The {what} file {str(path)!r} cannot be read as a .npy array: {exc}"
        ) from exc
    if not isinstance(array, np.ndarray):
        raise ValueError(
            f"The {what} file {str(path)!r} holds a {type(array).__name__} (an "
            ".npz archive?), not a single .npy array."
        )
    if array.ndim != 2:
        raise ValueError(
            f"The {what} file {str(path)!r} holds an array of shape "
            f"{array.shape}; expected 2-D (samples x genes)."
        )
    return array


def load_npy(
    landmarks_path: PathLike,
    targets_path: PathLike,
    *,
    mmap_mode: str | None = "r",
    landmark_ids: ArrayLike | None = None,
    target_ids: ArrayLike | None = None,
    sample_ids: ArrayLike | None = None,
) -> Bunch:
    """Load landmarks and targets from two ``.npy`` files, memory-mapped by default.

    With ``mmap_mode="r"`` the arrays stay on disk and are paged in as they
    are read (``np.load(path, mmap_mode="r")``), so data larger than memory can
    be sliced or streamed; their dtype is the files'. The estimators stream
    memory maps chunk by chunk, converting each chunk to float32: save float32
    arrays to spare that conversion. For a single samples x genes ``.npy``
    matrix, load it with ``np.load`` and use :func:`split_landmarks`.

    Parameters
    ----------
    landmarks_path : str or path-like
        ``.npy`` file of the landmarks, shape (n_samples, n_landmarks).
    targets_path : str or path-like
        ``.npy`` file of the targets, shape (n_samples, n_targets).
    mmap_mode : {"r", "r+", "c"} or None, default="r"
        Passed to :func:`numpy.load`; None reads the arrays into memory.
    landmark_ids, target_ids, sample_ids : array-like, default=None
        Ids to attach, of lengths n_landmarks, n_targets and n_samples; a
        ``.npy`` file holds none, so they are None when not given.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y`` (memory maps unless ``mmap_mode=None``),
        ``landmark_ids``, ``target_ids``, ``sample_ids``.

    See Also
    --------
    split_landmarks : Split one samples x genes matrix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from sktaaf.datasets import load_npy
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     folder = pathlib.Path(folder)
    ...     np.save(folder / "X.npy", np.zeros((5, 3), dtype=np.float32))
    ...     np.save(folder / "y.npy", np.ones((5, 2), dtype=np.float32))
    ...     data = load_npy(folder / "X.npy", folder / "y.npy")
    ...     print(type(data.X).__name__, data.X.shape, data.y.shape)
    ...     del data  # release the memory maps before the folder goes
    memmap (5, 3) (5, 2)
    """
    if mmap_mode not in _MMAP_MODES:
        # np.load's "w+" would overwrite the file.
        raise ValueError(f"mmap_mode must be one of {_MMAP_MODES}; got {mmap_mode!r}.")
    X = _load_npy(landmarks_path, "landmarks", mmap_mode)
    y = _load_npy(targets_path, "targets", mmap_mode)
    if len(X) != len(y):
        raise ValueError(
            f"The landmarks file has {len(X)} samples (rows) but the targets "
            f"file has {len(y)}; they must hold the same samples."
        )
    if landmark_ids is not None:
        landmark_ids = _as_ids(landmark_ids, "landmark_ids", length=X.shape[1])
    if target_ids is not None:
        target_ids = _as_ids(target_ids, "target_ids", length=y.shape[1])
    if sample_ids is not None:
        sample_ids = _as_ids(sample_ids, "sample_ids", length=len(X), unique=False)
    return _bunch(X, y, landmark_ids, target_ids, sample_ids)
