"""Streaming views of the landmark and target columns of a file's matrix."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

from ._loaders import (
    _GCTX_ERRORS,
    _gctx_header,
    _open_gctx_file,
    _read_errors,
    _resolve_genes,
)


class ColumnRows:
    """Some columns of a samples x genes matrix, read row block by row block.

    A small array-like over an on-disk 2-D dataset (an h5py dataset, a
    ``np.memmap``, or any object whose row slices are arrays) that exposes
    only the given columns. Slicing rows reads those rows of the file and
    keeps the columns; nothing else is loaded. The estimators stream such
    objects chunk by chunk (see :meth:`sktaaf.TAAFRegressor.fit`), so the
    landmarks and the targets of one file can be given as ``X`` and ``y``
    without loading the matrix.

    Parameters
    ----------
    matrix : h5py.Dataset, numpy.memmap or array-like of shape (n_samples, n_genes)
        The samples x genes matrix.
    columns : array-like of int
        Positions of the columns to expose, in the order to expose them.

    Attributes
    ----------
    shape : tuple of int
        ``(n_samples, len(columns))``.
    dtype : numpy.dtype
        The matrix's dtype.

    See Also
    --------
    open_gctx : Landmark and target views of a GCTX file.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.datasets import ColumnRows
    >>> matrix = np.arange(12.0).reshape(3, 4)
    >>> view = ColumnRows(matrix, [3, 1])
    >>> view.shape
    (3, 2)
    >>> view[1:3]
    array([[ 7.,  5.],
           [11.,  9.]])
    """

    _sktaaf_rows = True  # streamed by the estimators, not loaded

    def __init__(self, matrix, columns) -> None:
        self.matrix = matrix
        self.columns = np.asarray(columns, dtype=np.intp)
        # h5py reads increasing columns; the order is restored after reading.
        self._sorted = np.unique(self.columns)
        self._order = np.searchsorted(self._sorted, self.columns)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.matrix.shape[0], len(self.columns))

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.matrix.dtype)

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        if not isinstance(rows, slice):
            raise TypeError("ColumnRows reads row slices, e.g. view[10:20].")
        block = np.asarray(self.matrix[rows])
        return block[:, self._sorted][:, self._order]

    def __repr__(self) -> str:
        return f"ColumnRows(shape={self.shape}, dtype={self.dtype})"


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
