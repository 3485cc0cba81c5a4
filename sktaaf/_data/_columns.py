"""On-disk row access: some columns of a matrix, read row block by row block.

A leaf module next to :mod:`sktaaf._data._rows`, which streams these views during
``fit``; it imports nothing from the estimators nor from the loaders.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ColumnRows"]


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
    source : str, default=None
        The file the matrix lives in, named in error messages.

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

    def __init__(self, matrix, columns, source: str | None = None) -> None:
        self.matrix = matrix
        self.columns = np.asarray(columns, dtype=np.intp)
        self.source = source
        # h5py reads increasing columns; the order is restored after reading.
        self._sorted = np.unique(self.columns)
        self._order = np.searchsorted(self._sorted, self.columns)

    def _check_open(self) -> None:
        # A dataset of a closed h5py file has an invalid id; reading it raises
        # h5py's "Invalid dataset identifier".
        identifier = getattr(self.matrix, "id", None)
        if identifier is not None and not getattr(identifier, "valid", True):
            where = f" {self.source!r}" if self.source else ""
            raise ValueError(
                f"The file{where} that this ColumnRows view reads is closed; "
                "keep it open while the view is used (e.g. reopen it with "
                "sktaaf.datasets.open_gctx), or load the data with load_gctx."
            )

    @property
    def shape(self) -> tuple[int, int]:
        self._check_open()
        return (self.matrix.shape[0], len(self.columns))

    @property
    def dtype(self) -> np.dtype:
        self._check_open()
        return np.dtype(self.matrix.dtype)

    @property
    def ndim(self) -> int:
        return 2

    def __len__(self) -> int:
        self._check_open()
        return self.matrix.shape[0]

    def __getitem__(self, rows) -> np.ndarray:
        if not isinstance(rows, slice):
            raise TypeError("ColumnRows reads row slices, e.g. view[10:20].")
        self._check_open()
        block = np.asarray(self.matrix[rows])
        return block[:, self._sorted][:, self._order]

    def __repr__(self) -> str:
        try:
            return f"ColumnRows(shape={self.shape}, dtype={self.dtype})"
        except ValueError:
            return f"ColumnRows(closed file {self.source!r})"
