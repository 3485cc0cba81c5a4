"""Per-gene location and scale of the training data, for ``standardize=True``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._disk import read_rows

# Rows read at a time from data on disk: a few MiB of float32 per chunk.
_CHUNK_ROWS = 4096


def column_statistics(array, sample_weight=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each column of ``array``, as float32.

    One pass over the rows, chunk by chunk, so that arrays on disk (memory
    maps, HDF5 datasets, column views) are never loaded whole; chunk results
    are merged with Chan et al.'s update, accumulating in float64 over
    vectors of the columns' length only. A 1-D ``array`` is one column; a
    SciPy sparse matrix is made dense one chunk of rows at a time.
    Columns that do not vary (standard deviation zero, or too small to divide
    by in float32) get the scale 1, so that they pass through unchanged. With
    ``sample_weight`` the mean and deviation are weighted, so that rows of
    weight 0 do not count.

    Parameters
    ----------
    array : array-like, sparse matrix or on-disk array of shape \
            (n_samples, n_columns) or (n_samples,)
        The data, of at least one row.
    sample_weight : ndarray of shape (n_samples,), default=None
        Non-negative weights of the rows, not all zero; None weighs all alike.

    Returns
    -------
    mean, scale : ndarray of shape (n_columns,), float32
    """
    if sp.issparse(array):
        array = array.tocsr()  # no copy when it is CSR already
    n_columns = 1 if array.ndim == 1 else array.shape[1]
    count = 0
    mean = np.zeros(n_columns, dtype=np.float64)
    sum_squares = np.zeros(n_columns, dtype=np.float64)
    for start in range(0, array.shape[0], _CHUNK_ROWS):
        chunk = chunk_rows(array, start, start + _CHUNK_ROWS)
        if sample_weight is None:
            weight, chunk_count = None, len(chunk)
            chunk_mean = chunk.mean(axis=0, dtype=np.float64)
        else:
            weight = np.asarray(sample_weight[start : start + len(chunk)], np.float64)
            chunk_count = float(weight.sum())
            if chunk_count == 0:
                continue
            chunk_mean = (weight @ chunk) / chunk_count
        centred = chunk - chunk_mean.astype(chunk.dtype)
        if weight is None:
            chunk_squares = np.einsum("ij,ij->j", centred, centred, dtype=np.float64)
        else:
            chunk_squares = np.einsum("i,ij,ij->j", weight, centred, centred)
        delta = chunk_mean - mean
        total = count + chunk_count
        mean += delta * (chunk_count / total)
        sum_squares += chunk_squares + delta**2 * (count * chunk_count / total)
        count = total
    # The weighted (population) variance: divided by the weights' total,
    # whatever it is, so that only the relative weights matter.
    return _finish(mean, np.sqrt(sum_squares / (count or 1)))


def chunk_rows(array, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``array`` (dense, CSR, memory map, h5py or
    ColumnRows) as a dense 2-D array: a view of an in-memory array, one
    chunk made dense at a time of a sparse one, a chunked read of data on
    disk."""
    if isinstance(array, np.ndarray) and not isinstance(array, np.memmap):
        chunk = array[start:stop]  # a view, no copy
    elif sp.issparse(array):  # one chunk dense at a time, as in training
        chunk = array[start:stop].toarray()
    else:
        chunk = read_rows(array, start=start, stop=stop)
    return chunk.reshape(len(chunk), -1)


def gather_rows(array, rows: np.ndarray) -> np.ndarray:
    """The sorted ``rows`` of ``array`` (dense, CSR, memory map, h5py or
    ColumnRows) as a dense 2-D array, read as :func:`chunk_rows` reads."""
    if sp.issparse(array):  # dense a chunk of rows at a time, as in training
        chunk = np.empty((len(rows), array.shape[1]), dtype=np.float32)
        for start in range(0, len(rows), _CHUNK_ROWS):
            part = rows[start : start + _CHUNK_ROWS]
            chunk[start : start + len(part)] = array[part].toarray()
    elif isinstance(array, np.ndarray) and not isinstance(array, np.memmap):
        chunk = array[rows]
    else:  # memory maps, HDF5 datasets, column views: contiguous reads
        chunk = read_rows(array, rows=rows)
    return chunk.reshape(len(chunk), -1)


def _finish(mean: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The float32 mean and scale, with scale 1 for columns that do not vary."""
    mean, scale = np.asarray(mean, np.float64), np.array(scale, np.float64)
    # Constant up to float32 rounding, or too small to divide by: scale 1.
    eps, tiny = np.finfo(np.float32).eps, np.finfo(np.float32).tiny
    scale[(scale <= 10 * eps * np.abs(mean)) | (scale < tiny**0.5)] = 1.0
    return mean.astype(np.float32), scale.astype(np.float32)
