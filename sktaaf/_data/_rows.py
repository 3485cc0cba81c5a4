"""Rows of any ``X`` or ``y``: the one row source that fit and predict read.

:func:`as_rows` chooses, once, at the boundary of ``fit`` and ``predict``
(after validation), how the rows of an array are read:

- :class:`Rows`, arrays in memory: chunks are views, reads are copies;
- :class:`SparseRows`, SciPy sparse matrices (kept as CSR): made dense one
  chunk or one batch of rows at a time, never whole;
- :class:`DiskRows`, arrays that live in files (``np.memmap`` and ``.npy``
  files opened with ``mmap_mode``, h5py datasets, and
  :class:`~sktaaf.datasets.ColumnRows` views): read through row slices of at
  most :data:`RELEASE_BYTES`, converted to float32 slice by slice, and never
  loaded whole. Pages of a memory map are handed back to the kernel after
  every :data:`RELEASE_BYTES` read, so the memory a fit holds does not grow
  with the number of samples; a memory map whose file was truncated raises an
  ``OSError`` instead of killing the process with ``SIGBUS``.

Everything downstream (the column statistics of ``standardize=True``, the
ridge statistics of the linear path, the validation scores, predict and the
training datasets of :mod:`sktaaf._data._batches`) reads rows through these
few operations and never asks which kind it has.
"""

from __future__ import annotations

import mmap
import os
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch

from ._columns import ColumnRows

#: Rows read at a time by the column statistics and the ridge statistics
#: (:meth:`Rows.chunks`), and made dense at a time by sparse gathers: a few
#: MiB of float32 per chunk.
CHUNK_ROWS = 4096
#: Bytes read from a memory map before its pages are released.
RELEASE_BYTES = 8 * 2**20
# What a read of a few scattered rows may leave mapped: the kernel maps pages
# around each fault ("fault-around", 64 KiB) and whole large folios (measured:
# releasing by this much per slice keeps scattered reads flat on Linux 6.18).
_MAPPED_PER_SLICE_BYTES = 512 * 2**10


def is_on_disk(array) -> bool:
    """Whether ``array`` should be streamed rather than loaded whole."""
    if isinstance(array, np.memmap):
        return True
    module = type(array).__module__ or ""
    return module.startswith("h5py") or isinstance(array, ColumnRows)


def as_rows(array) -> Rows:
    """The row source of a validated ``array``: :class:`DiskRows` for arrays
    on disk, :class:`SparseRows` for SciPy sparse matrices, :class:`Rows`
    for arrays in memory."""
    if is_on_disk(array):
        return DiskRows(array)
    if sp.issparse(array):
        return SparseRows(array)
    return Rows(array)


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """Wrap a numpy array as a tensor sharing its memory.

    Read-only arrays (memory maps, broadcast views) are shared too: sktaaf never
    writes to its input, so torch's warning about them does not apply.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not")
        return torch.from_numpy(array)


# ------------------------------------------------------------ reading rows
def release(array) -> None:
    """Drop the pages a memory map has read from this process's memory.

    The kernel keeps them in its page cache (reading them again is cheap), but
    they stop counting towards the process's resident memory. A no-op for
    other arrays, for copy-on-write maps (``mmap_mode="c"``: dropping pages
    would drop the changes made to them in memory) and where ``madvise`` is
    unavailable. :class:`~sktaaf.datasets.ColumnRows` views release the map
    they view.
    """
    array = _backing(array)
    mapping = getattr(array, "_mmap", None)
    if mapping is None or getattr(array, "mode", None) == "c":
        return
    if hasattr(mmap, "MADV_DONTNEED"):
        try:
            mapping.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):  # closed map, or an unsupported platform
            pass


def _backing(array):
    """The array that holds the data: the matrix a
    :class:`~sktaaf.datasets.ColumnRows` view reads, else ``array`` itself."""
    if isinstance(array, ColumnRows):
        return getattr(array, "matrix", array)
    return array


def check_mapped_size(array, name: str = "the array") -> None:
    """Raise an ``OSError`` naming the file when the file under a memory map is
    shorter than the map (truncated after it was opened).

    Reading a page of a memory map beyond the end of its file kills the process
    with ``SIGBUS``; checking the file's size before each read turns that into
    an error. A no-op for arrays that are not memory maps.
    """
    array = _backing(array)
    mapping = getattr(array, "_mmap", None)
    if mapping is None:
        return
    filename = getattr(array, "filename", None)
    try:
        offset = int(getattr(array, "offset", 0) or 0)
        # numpy maps from the allocation boundary below the data's offset.
        needed = offset - offset % mmap.ALLOCATIONGRANULARITY + len(mapping)
        size = mapping.size()  # the mapped file itself, even if renamed
    except ValueError:  # a closed map
        raise ValueError(
            f"{name} is a memory map that was closed (file {filename!r}); "
            "open the file again."
        ) from None
    except OSError:
        if filename is None:
            return
        try:
            size = os.stat(filename).st_size
        except OSError as exc:
            raise OSError(
                f"Cannot read {name} from {filename!r}: {exc.strerror or exc}."
            ) from exc
    if size < needed:
        raise OSError(
            f"The file {filename!r} behind {name} is {size} bytes long, but its "
            f"header says {needed}: it was truncated after it was opened. "
            "Rewrite or restore the file, then open it again."
        )


def _runs(rows: np.ndarray):
    """Split sorted row indices into ``(start, stop)`` runs of consecutive rows."""
    if len(rows) == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.r_[rows[0], rows[breaks]]
    stops = np.r_[rows[breaks - 1], rows[-1]] + 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _row_bytes(array) -> int:
    shape = array.shape
    return np.dtype(array.dtype).itemsize * (int(shape[1]) if len(shape) > 1 else 1)


def _slices(start: int, stop: int, max_rows: int):
    """Split rows ``start:stop`` into ``(start, stop)`` slices of at most
    ``max_rows`` rows."""
    for first in range(start, stop, max_rows):
        yield first, min(first + max_rows, stop)


def read_sorted(array, rows, *, max_rows=None, gather=False, name="the array"):
    """Yield ``(position, block)`` for the sorted ``rows`` of ``array``
    (``position``: the block's first row among ``rows``), each block read in
    one go, of at most ``max_rows`` rows (by default :data:`RELEASE_BYTES`'
    worth, at least one).

    Runs of consecutive rows are read as slices. With ``gather``, the rows
    are taken ``max_rows`` at a time instead, and a group that is not one run
    is read with one index array (h5py reads such a selection at once, where
    reading it run by run would decompress a chunk of the file per run).

    Before each read, a memory map's file is checked (a truncated file: an
    ``OSError`` naming ``name``, not ``SIGBUS``); its pages are released after
    every :data:`RELEASE_BYTES` read (once the caller has copied the block).
    """
    row_bytes = _row_bytes(array)
    if max_rows is None:
        max_rows = max(1, RELEASE_BYTES // max(row_bytes, 1))
    rows = np.asarray(rows)
    if gather:
        groups = [rows[i : i + max_rows] for i in range(0, len(rows), max_rows)]
    else:
        groups = [
            slice(*piece) for run in _runs(rows) for piece in _slices(*run, max_rows)
        ]
    position = unreleased = 0
    for group in groups:
        if not isinstance(group, slice) and group[-1] - group[0] + 1 == len(group):
            group = slice(int(group[0]), int(group[-1]) + 1)  # one run: a slice
        check_mapped_size(array, name)  # a truncated file: an error, not SIGBUS
        block = array[group]
        n_read = len(block)
        yield position, block
        position += n_read
        # Scattered rows map more pages than their bytes.
        unreleased += n_read * row_bytes + _MAPPED_PER_SLICE_BYTES
        if unreleased >= RELEASE_BYTES:
            release(array)
            unreleased = 0
    if unreleased:
        release(array)


def read_rows(
    array, rows=None, start=0, stop=None, out=None, name: str = "the array"
) -> np.ndarray:
    """Rows of ``array`` (sorted ``rows``, or ``start:stop``) as a C-ordered
    2-D float32 array (``out`` if given, e.g. a buffer reused from chunk to
    chunk), copied slice by slice as :func:`read_sorted` reads them, so that
    reading holds the rows read and little more."""
    if rows is None:
        start, stop, _ = slice(start, stop).indices(len(array))
        rows = np.arange(start, max(start, stop))
    if out is None:
        width = int(np.prod(array.shape[1:], dtype=np.int64))
        out = np.empty((len(rows), width), dtype=np.float32)
    for position, block in read_sorted(array, rows, name=name):
        out[position : position + len(block)] = block.reshape(len(block), -1)
    return out


def _same_matrix(X: Rows, y: Rows):
    """The matrix that ``X`` and ``y`` both view when they are column views
    (:class:`~sktaaf.datasets.ColumnRows`) of one matrix, else None."""
    matrix = getattr(X.array, "matrix", None)
    if (
        isinstance(X.array, ColumnRows)
        and isinstance(y.array, ColumnRows)
        and matrix is not None
        and matrix is getattr(y.array, "matrix", None)
    ):
        return matrix
    return None


def read_both(X: Rows, y: Rows, rows: np.ndarray, x_out=None, y_out=None):
    """The sorted ``rows`` of ``X`` and ``y`` as 2-D float32 arrays (read
    into ``x_out`` and ``y_out`` when given), as :meth:`Rows.gather` reads
    them: once when both are column views
    (:class:`~sktaaf.datasets.ColumnRows`) of the same matrix, so that the
    landmarks and targets of one file are not read twice."""
    matrix = _same_matrix(X, y)
    if matrix is None:
        return X.gather(rows, out=x_out, name="X"), y.gather(rows, out=y_out, name="y")
    if x_out is None:
        x_out = np.empty((len(rows), X.n_columns), dtype=np.float32)
    if y_out is None:
        y_out = np.empty((len(rows), y.n_columns), dtype=np.float32)
    for position, block in read_sorted(matrix, rows, name="X and y"):
        block = np.asarray(block)
        for view, out in ((X.array, x_out), (y.array, y_out)):
            out[position : position + len(block)] = block[:, view.columns]
    return x_out, y_out


def chunks_both(X: Rows, y: Rows):
    """Yield ``(start, x_chunk, y_chunk)`` over all rows, as
    :meth:`Rows.chunks` yields them for each: the rows of column views of
    the same matrix read once for both."""
    if _same_matrix(X, y) is None:
        for (start, x_chunk), (_, y_chunk) in zip(X.chunks(), y.chunks(), strict=True):
            yield start, x_chunk, y_chunk
        return
    for start in range(0, len(X), CHUNK_ROWS):
        rows = np.arange(start, min(start + CHUNK_ROWS, len(X)))
        yield start, *read_both(X, y, rows)


# ------------------------------------------------------------- the sources
class Rows:
    """The rows of an array in memory (validated: a NumPy array).

    ``chunk`` and ``chunks`` give views; ``read`` and ``gather`` give
    C-ordered float32 copies. Every operation returns 2-D rows (a 1-D
    array is one column).

    Parameters
    ----------
    array : array of shape (n_samples, n_columns) or (n_samples,)
        The validated data, kept as ``array`` (the checkpoint's fingerprint
        reads it).
    """

    #: Whether the rows are streamed from a file (read by
    #: :class:`~sktaaf._data._batches.DiskData` in training).
    on_disk = False

    def __init__(self, array) -> None:
        self.array = array

    @property
    def shape(self) -> tuple:
        return tuple(self.array.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.array.dtype)

    @property
    def n_columns(self) -> int:
        return 1 if self.ndim == 1 else self.shape[1]

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int = 0, stop=None, out=None, name="the array"):
        """Rows ``start:stop`` as a C-ordered float32 array (``out`` if given)."""
        return read_rows(self.array, start=start, stop=stop, out=out, name=name)

    def gather(self, rows: np.ndarray, out=None, name="the array") -> np.ndarray:
        """The sorted ``rows`` as a 2-D array (``out`` if given; else, for an
        array in memory, of its dtype: float32 once validated for fit)."""
        if out is None:
            chunk = self.array[rows]
            return chunk.reshape(len(chunk), -1)
        return read_rows(self.array, rows, out=out, name=name)

    def chunk(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as a dense 2-D array (here a view, no copy)."""
        chunk = self.array[start:stop]
        return chunk.reshape(len(chunk), -1)

    def chunks(self):
        """Yield ``(start, chunk)`` over all rows, :data:`CHUNK_ROWS` at a
        time, each chunk as :meth:`chunk` gives it."""
        step = CHUNK_ROWS
        for start in range(0, len(self), step):
            yield start, self.chunk(start, start + step)

    def column_statistics(self, sample_weight=None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of each column, as float32.

        One pass over the :meth:`chunks`, so that arrays on disk are never
        loaded whole; chunk results are merged with Chan et al.'s update,
        accumulating in float64 over vectors of the columns' length only.
        Columns that do not vary (standard deviation zero, or too small to
        divide by in float32) get the scale 1, so that they pass through
        unchanged. With ``sample_weight`` (non-negative, not all zero) the
        mean and deviation are weighted, so that rows of weight 0 do not
        count.
        """
        count = 0
        mean = np.zeros(self.n_columns, dtype=np.float64)
        sum_squares = np.zeros(self.n_columns, dtype=np.float64)
        for start, chunk in self.chunks():
            if sample_weight is None:
                weight, chunk_count = None, len(chunk)
                chunk_mean = chunk.mean(axis=0, dtype=np.float64)
            else:
                weight = np.asarray(
                    sample_weight[start : start + len(chunk)], np.float64
                )
                chunk_count = float(weight.sum())
                if chunk_count == 0:
                    continue
                chunk_mean = (weight @ chunk) / chunk_count
            chunk_squares = _sum_squares(chunk, chunk_mean, weight)
            delta = chunk_mean - mean
            total = count + chunk_count
            mean += delta * (chunk_count / total)
            sum_squares += chunk_squares + delta**2 * (count * chunk_count / total)
            count = total
        # The weighted (population) variance: divided by the weights' total,
        # whatever it is, so that only the relative weights matter.
        return _location_scale(mean, np.sqrt(sum_squares / (count or 1)))

    def batch_rows(self, device: str):
        """The rows as the in-memory training dataset indexes them: a tensor
        on ``device`` sharing the array's memory where it can."""
        return as_tensor(self.array.reshape(len(self), -1)).to(device)

    def index_device(self, device: str) -> torch.device:
        """Where the row indices of :meth:`batch_rows` live."""
        return torch.device(device)


class SparseRows(Rows):
    """The rows of a SciPy sparse matrix, made dense a chunk or a batch at a
    time (from its CSR form, whose rows are cheap to gather; no copy when it
    is CSR already)."""

    def __init__(self, array) -> None:
        super().__init__(array)
        self.matrix = array.tocsr()

    def read(self, start: int = 0, stop=None, out=None, name="the array"):
        return _dense_rows(self.matrix, slice(start, stop), out)

    def gather(self, rows: np.ndarray, out=None, name="the array") -> np.ndarray:
        if out is None:
            out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        for start in range(0, len(rows), CHUNK_ROWS):  # dense a chunk at a time
            _dense_rows(self.matrix, rows[start : start + CHUNK_ROWS], out[start:])
        return out

    def chunk(self, start: int, stop: int) -> np.ndarray:
        return self.matrix[start:stop].toarray()

    def batch_rows(self, device: str) -> _SparseBatches:
        return _SparseBatches(self.matrix, device)

    def index_device(self, device: str) -> torch.device:
        return torch.device("cpu")  # the matrix's rows are gathered by NumPy


class DiskRows(Rows):
    """The rows of an array on disk, read through row slices."""

    on_disk = True

    def gather(self, rows: np.ndarray, out=None, name="the array") -> np.ndarray:
        return read_rows(self.array, rows, out=out, name=name)

    def chunk(self, start: int, stop: int) -> np.ndarray:
        return read_rows(self.array, start=start, stop=stop)

    def check(self, name: str, *, ensure_2d: bool = True) -> None:
        """Validate the array without loading it: still readable (its file
        open and whole), its shape, dtype and finiteness (slice by slice),
        with the errors ``check_array`` gives in memory."""
        array = self.array
        identifier = getattr(array, "id", None)
        if (type(array).__module__ or "").startswith("h5py") and not getattr(
            identifier, "valid", True
        ):
            raise ValueError(
                f"{name} is an h5py dataset of a closed file; keep the file open "
                "(e.g. inside its `with h5py.File(...)` block) while fitting or "
                "predicting, or open it again."
            )
        # A ColumnRows view of a closed file raises here, naming the file.
        shape = getattr(array, "shape", None)
        check_mapped_size(array, name)
        if shape is None or not all(isinstance(size, Integral) for size in shape):
            raise TypeError(f"{name} on disk must have a shape; got {type(array)!r}.")
        if len(shape) not in ((2,) if ensure_2d else (1, 2)):
            raise ValueError(
                f"Expected a 2D array for {name}, got an on-disk array of shape "
                f"{shape}."
            )
        if shape[0] == 0 or (len(shape) == 2 and shape[1] == 0):
            raise ValueError(
                f"Found array with shape {shape} for {name}, while a minimum of 1 "
                "sample and 1 feature is required."
            )
        kind = np.dtype(array.dtype).kind
        if kind not in "biuf":
            raise ValueError(
                f"{name} on disk must hold numbers; got dtype {array.dtype}."
            )
        step = max(1, RELEASE_BYTES // max(_row_bytes(array), 1))
        for start, stop in _slices(0, shape[0], step):
            check_mapped_size(array, name)
            block = np.asarray(array[start:stop])
            if kind == "f":
                with np.errstate(over="ignore"):
                    finite = np.isfinite(block.astype(np.float32, copy=False)).all()
                if not finite:
                    raise ValueError(
                        f"Input {name} contains NaN, infinity or a value too large "
                        f"for dtype('float32') (rows {start}-{stop - 1} on disk)."
                    )
            del block
            release(array)


class _SparseBatches:
    """A CSR matrix's rows as the in-memory training dataset gathers them:
    indexing with a slice or a CPU tensor of row indices gives those rows as
    a dense float32 tensor on ``device``."""

    def __init__(self, matrix, device: str) -> None:
        self.matrix = matrix
        self.device = device
        self.shape = matrix.shape

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows) -> torch.Tensor:
        if isinstance(rows, torch.Tensor):
            rows = rows.cpu().numpy()
        return as_tensor(_dense_rows(self.matrix, rows)).to(self.device)


def _dense_rows(matrix, rows, out=None) -> np.ndarray:
    """Rows of a sparse ``matrix`` (a slice or indices) as a dense C-ordered
    float32 array."""
    block = np.ascontiguousarray(matrix[rows].toarray(), dtype=np.float32)
    if out is None:
        return block
    out[: len(block)] = block
    return out[: len(block)]


def _sum_squares(chunk, mean, weight) -> np.ndarray:
    """Each column's (weighted) sum of squared deviations from ``mean``, in
    float64, the deviations in the chunk's dtype: in float64 instead for a
    chunk whose values are too far apart for it (float32's largest value
    minus its smallest overflows)."""
    with np.errstate(over="ignore", invalid="ignore"):
        centred = chunk - mean.astype(chunk.dtype)
        squares = _weighted_squares(centred, weight)
    if not np.isfinite(squares).all():
        squares = _weighted_squares(chunk - mean, weight)
    return squares


def _weighted_squares(centred, weight) -> np.ndarray:
    if weight is None:
        return np.einsum("ij,ij->j", centred, centred, dtype=np.float64)
    return np.einsum("i,ij,ij->j", weight, centred, centred)


def _location_scale(mean, scale) -> tuple[np.ndarray, np.ndarray]:
    """The float32 mean and scale, with scale 1 for columns that do not vary."""
    mean, scale = np.asarray(mean, np.float64), np.array(scale, np.float64)
    # Constant up to float32 rounding, or too small to divide by: scale 1.
    eps, tiny = np.finfo(np.float32).eps, np.finfo(np.float32).tiny
    scale[(scale <= 10 * eps * np.abs(mean)) | (scale < tiny**0.5)] = 1.0
    return mean.astype(np.float32), scale.astype(np.float32)
