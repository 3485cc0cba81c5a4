"""GCTX files (HDF5), the binary form of GCT used by LINCS L1000."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.utils import Bunch

from .._columns import ColumnRows
from ._common import PathLike, _check_file, _import, _read_errors
from ._ids import _as_ids, _bunch, _positions, _resolve_genes

__all__ = ["load_gctx", "open_gctx"]

# Nodes of a GCTX file (HDF5), as the CMap tools write them. h5py sees the
# matrix as samples x genes: its first axis holds the columns (cid), its second
# the rows (rid) of the genes x samples view that GCT files and cmapPy show.
_GCTX_MATRIX = "0/DATA/0/matrix"
_GCTX_ROW_IDS = "0/META/ROW/id"
_GCTX_COL_IDS = "0/META/COL/id"
# Samples read from a GCTX file at once: bounds the buffer to ~64 MB.
_GCTX_CHUNK_ELEMENTS = 2**24


def _decode(values: np.ndarray) -> np.ndarray:
    strings = [
        value.decode() if isinstance(value, bytes) else str(value)
        for value in values.tolist()
    ]
    array = np.empty(len(strings), dtype=object)
    array[:] = strings
    return array


# h5py raises these on damaged HDF5 structures.
_GCTX_ERRORS = (OSError, RuntimeError, KeyError, UnicodeDecodeError)


def _open_gctx_file(path: PathLike, caller: str):
    """The GCTX file at ``path`` opened read-only with h5py, and its path."""
    h5py = _import("h5py", "h5py", caller)
    path = _check_file(path, "GCTX")
    try:
        return h5py.File(path, "r"), path
    except OSError as exc:
        raise ValueError(
            f"{str(path)!r} is not a GCTX file: h5py cannot open it as HDF5."
        ) from exc


def _gctx_header(file, path: Path):
    """The matrix dataset, gene ids and sample ids of an open GCTX file, checked."""
    h5py = _import("h5py", "h5py", "reading GCTX")
    for node in (_GCTX_MATRIX, _GCTX_ROW_IDS, _GCTX_COL_IDS):
        dataset = file.get(node)
        if not isinstance(dataset, h5py.Dataset):
            raise ValueError(
                f"{str(path)!r} is not a GCTX file: it has no /{node} dataset."
            )
        if node != _GCTX_MATRIX and dataset.ndim != 1:
            raise ValueError(
                f"The /{node} dataset of the GCTX file {str(path)!r} has shape "
                f"{dataset.shape}; expected 1-D, one id per row or column."
            )
    matrix = file[_GCTX_MATRIX]
    gene_ids = _as_ids(_decode(file[_GCTX_ROW_IDS][()]), "the file's row ids")
    sample_ids = _as_ids(
        _decode(file[_GCTX_COL_IDS][()]), "the file's column ids", unique=False
    )
    if matrix.shape != (len(sample_ids), len(gene_ids)):
        raise ValueError(
            f"The GCTX matrix of {str(path)!r} has shape {matrix.shape}, but "
            f"the file has {len(sample_ids)} column (sample) ids and "
            f"{len(gene_ids)} row (gene) ids; expected (n_samples, n_genes) "
            f"= ({len(sample_ids)}, {len(gene_ids)})."
        )
    return matrix, gene_ids, sample_ids


def load_gctx(
    path: PathLike,
    landmark_ids: ArrayLike,
    *,
    target_ids: ArrayLike | None = None,
    sample_ids: ArrayLike | None = None,
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Load a GCTX (HDF5) file, such as the LINCS L1000 data, as landmarks and targets.

    A GCTX file [1]_ stores a genes x samples matrix at ``/0/DATA/0/matrix``,
    the gene (row) ids at ``/0/META/ROW/id`` and the sample (column) ids at
    ``/0/META/COL/id``; h5py sees the matrix as samples x genes, the layout
    returned here. Samples are read a chunk at a time, so a subset of a large
    file (``sample_ids``) needs memory for that subset only. Metadata other
    than the ids is ignored. Requires h5py (cmapPy is not needed; version
    4.0.1 fails with NumPy 2 and pandas 3).

    Parameters
    ----------
    path : str or path-like
        The ``.gctx`` file.
    landmark_ids : array-like of shape (n_landmarks,)
        Row ids of the landmark genes (e.g. the Entrez ids of the L1000
        landmarks), in the order wanted for ``X``.
    target_ids : array-like of shape (n_targets,), default=None
        Row ids of the target genes; None takes every other gene, in file
        order.
    sample_ids : array-like, default=None
        Column ids of the samples to read, in the order wanted; None reads all.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps the file's.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``landmark_ids``, ``target_ids``, ``sample_ids``; see
        :func:`split_landmarks`.

    See Also
    --------
    load_gct : The text form of the same data.

    References
    ----------
    .. [1] Broad Institute, "GCTX format",
       https://clue.io/connectopedia/gctx_format; and cmapPy, "GCToo",
       https://github.com/cmap/cmapPy

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import h5py, numpy as np
    >>> from sktaaf.datasets import load_gctx
    >>> matrix = np.arange(6, dtype=np.float32).reshape(2, 3)  # samples x genes
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "tiny.gctx"
    ...     with h5py.File(path, "w") as file:
    ...         _ = file.create_dataset("0/DATA/0/matrix", data=matrix)
    ...         _ = file.create_dataset("0/META/ROW/id", data=[b"g1", b"g2", b"g3"])
    ...         _ = file.create_dataset("0/META/COL/id", data=[b"s1", b"s2"])
    ...     data = load_gctx(path, landmark_ids=["g3", "g1"], sample_ids=["s2"])
    >>> data.X, data.y, data.target_ids
    (array([[5., 3.]], dtype=float32), array([[4.]], dtype=float32), \
array(['g2'], dtype=object))
    """
    file, path = _open_gctx_file(path, "load_gctx")
    with file, _read_errors(path, "GCTX", _GCTX_ERRORS):
        matrix, gene_ids, all_sample_ids = _gctx_header(file, path)
        landmarks, targets, landmark_ids, target_ids = _resolve_genes(
            gene_ids, landmark_ids, target_ids
        )
        if sample_ids is None:
            rows = np.arange(len(all_sample_ids))
            sample_ids = all_sample_ids
        else:
            sample_ids = _as_ids(sample_ids, "sample_ids")
            rows = _positions(all_sample_ids, sample_ids, "sample ids", "column ids")
        out_dtype = matrix.dtype if dtype is None else np.dtype(dtype)
        X = np.empty((len(rows), len(landmarks)), dtype=out_dtype)
        y = np.empty((len(rows), len(targets)), dtype=out_dtype)
        # h5py reads ascending rows; put them back in the requested order.
        order = np.argsort(rows, kind="stable")
        chunk = max(1, _GCTX_CHUNK_ELEMENTS // max(len(gene_ids), 1))
        for start in range(0, len(rows), chunk):
            wanted = order[start : start + chunk]
            sorted_rows = rows[wanted]
            first, last = sorted_rows[0], sorted_rows[-1]
            if last - first + 1 == len(sorted_rows):  # contiguous: a slice
                block = matrix[first : last + 1]
            else:
                block = matrix[sorted_rows]
            X[wanted] = block[:, landmarks]
            y[wanted] = block[:, targets]
    return _bunch(X, y, landmark_ids, target_ids, sample_ids)


def open_gctx(path, landmark_ids, *, target_ids=None) -> Bunch:
    """Open a GCTX file for streaming: landmark and target views, not arrays.

    Unlike :func:`load_gctx`, nothing is read but the ids: ``X`` and ``y`` are
    :class:`ColumnRows` views of the file's matrix, which the estimators read
    chunk by chunk, so files larger than memory can be trained on.

    Parameters
    ----------
    path : str or path-like
        The GCTX file.
    landmark_ids : sequence of str
        Ids of the landmark genes (rows ids of the GCTX matrix).
    target_ids : sequence of str, default=None
        Ids of the target genes; by default every gene that is not a landmark.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X`` and ``y`` (:class:`ColumnRows`), ``landmark_ids``, ``target_ids``,
        ``sample_ids``, and ``file``, the open ``h5py.File`` (close it, or use
        the bunch's file as a context manager, when done).

    Examples
    --------
    >>> import os, tempfile
    >>> import h5py, numpy as np
    >>> from sktaaf.datasets import open_gctx
    >>> path = os.path.join(tempfile.mkdtemp(), "data.gctx")
    >>> with h5py.File(path, "w") as file:
    ...     _ = file.create_dataset("0/DATA/0/matrix", data=np.eye(3, dtype="f4"))
    ...     _ = file.create_dataset("0/META/ROW/id", data=[b"g1", b"g2", b"g3"])
    ...     _ = file.create_dataset("0/META/COL/id", data=[b"s1", b"s2", b"s3"])
    >>> data = open_gctx(path, landmark_ids=["g3", "g1"])
    >>> data.X.shape, data.y.shape
    ((3, 2), (3, 1))
    >>> data.X[0:3]
    array([[0., 1.],
           [0., 0.],
           [1., 0.]], dtype=float32)
    >>> data.file.close()
    """
    file, path = _open_gctx_file(path, "open_gctx")
    try:
        with _read_errors(path, "GCTX", _GCTX_ERRORS):
            matrix, gene_ids, sample_ids = _gctx_header(file, path)
        landmarks, targets, landmark_ids, target_ids = _resolve_genes(
            gene_ids, landmark_ids, target_ids
        )
    except Exception:
        file.close()
        raise
    return Bunch(
        X=ColumnRows(matrix, landmarks),
        y=ColumnRows(matrix, targets),
        landmark_ids=landmark_ids,
        target_ids=target_ids,
        sample_ids=sample_ids,
        file=file,
    )
