"""Training and prediction from data that stays on disk.

Arrays that live in files (``np.memmap`` and ``.npy`` files opened with
``mmap_mode``, h5py datasets, or any 2-D object that reads rows through
slicing, such as :class:`sktaaf.datasets.ColumnRows`) are read in *chunks* of
rows (about :data:`CHUNK_BYTES`), converted to float32 chunk by chunk into
buffers reused from chunk to chunk, and never loaded whole. Pages of a memory
map are handed back to the kernel after every :data:`RELEASE_BYTES` read, so
the memory a fit holds does not grow with the number of samples.

Shuffling is by blocks: each epoch visits the blocks of consecutive rows in a
new random order, and shuffles the rows of each chunk (about a dozen blocks of
:data:`BLOCK_ROWS` rows for L1000-sized rows of ~10,000 genes) among
themselves. Batches therefore mix rows from a few distant parts of the
file rather than from the whole of it, which is the usual trade-off of
out-of-core training: contiguous reads keep the disk fast, and with blocks
much smaller than the data the batches are close to uniformly shuffled. When
all rows fit in one chunk, batches are exactly those of in-memory training.
"""

from __future__ import annotations

import math
import mmap
import os
from numbers import Integral

import numpy as np
import torch

from ._columns import ColumnRows

#: Bytes of data read per chunk (X and y rows together).
CHUNK_BYTES = 128 * 2**20
#: Consecutive rows shuffled as one block (at least one batch).
BLOCK_ROWS = 256
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


def release(array) -> None:
    """Drop the pages a memory map has read from this process's memory.

    The kernel keeps them in its page cache (reading them again is cheap), but
    they stop counting towards the process's resident memory. A no-op for
    other arrays, for copy-on-write maps (``mmap_mode="c"``: dropping pages
    would drop the changes made to them in memory) and where ``madvise`` is
    unavailable. :class:`~sktaaf.datasets.ColumnRows` views release the map
    they view.
    """
    if isinstance(array, ColumnRows):
        array = getattr(array, "matrix", None)
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


def _check_open(array, name: str) -> None:
    """Raise a ``ValueError`` when ``array`` is (a view of) a closed h5py dataset."""
    if isinstance(array, ColumnRows):
        array._check_open()  # its message names the file the view reads
    backing = _backing(array)
    identifier = getattr(backing, "id", None)
    module = type(backing).__module__ or ""
    if module.startswith("h5py") and not getattr(identifier, "valid", True):
        raise ValueError(
            f"{name} is an h5py dataset of a closed file; keep the file open "
            "(e.g. inside its `with h5py.File(...)` block) while fitting or "
            "predicting, or open it again."
        )


def _runs(rows: np.ndarray):
    """Split sorted row indices into ``(start, stop)`` runs of consecutive rows."""
    if len(rows) == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    starts = np.r_[rows[0], rows[breaks]]
    stops = np.r_[rows[breaks - 1], rows[-1]] + 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _slices(start: int, stop: int, row_bytes: int):
    """Split rows ``start:stop`` into ``(start, stop)`` slices of at most
    :data:`RELEASE_BYTES` (at least one row each)."""
    step = max(1, RELEASE_BYTES // max(row_bytes, 1))
    for first in range(start, stop, step):
        yield first, min(first + step, stop)


def _row_bytes(array) -> int:
    shape = array.shape
    return np.dtype(array.dtype).itemsize * (int(shape[1]) if len(shape) > 1 else 1)


def _row_runs(n_total: int, rows, start, stop) -> tuple[list, int]:
    """The ``(start, stop)`` runs of sorted ``rows`` (or of ``start:stop``) and
    their number of rows."""
    if rows is None:
        start, stop, _ = slice(start, stop).indices(n_total)
        return ([(start, stop)] if stop > start else []), max(stop - start, 0)
    return _runs(np.asarray(rows)), len(rows)


def _read_slices(array, runs, name: str = "the array"):
    """Yield ``(position, block)`` for the rows of ``runs``, read in slices of at
    most :data:`RELEASE_BYTES`; ``position`` is the block's first row among
    those read. A memory map's pages are released as the reads go (after the
    caller has copied each block)."""
    row_bytes = _row_bytes(array)
    position = unreleased = 0
    for run_start, run_stop in runs:
        for first, last in _slices(run_start, run_stop, row_bytes):
            check_mapped_size(array, name)  # a truncated file: an error, not SIGBUS
            yield position, array[first:last]
            position += last - first
            # Scattered rows map more pages than their bytes.
            unreleased += (last - first) * row_bytes + _MAPPED_PER_SLICE_BYTES
            if unreleased >= RELEASE_BYTES:
                release(array)
                unreleased = 0
    if unreleased:
        release(array)


def read_rows(
    array,
    rows: np.ndarray | None = None,
    start=0,
    stop=None,
    out=None,
    name: str = "the array",
) -> np.ndarray:
    """Read rows of ``array`` (sorted ``rows``, or ``start:stop``) as a C-ordered
    float32 array, through contiguous slices.

    The rows are copied into one float32 array (``out`` if given, e.g. a buffer
    reused from chunk to chunk) slice by slice, and a memory map's pages are
    released after every :data:`RELEASE_BYTES`, so reading a chunk holds the
    chunk and little more. A memory map whose file was truncated since it was
    opened raises an ``OSError`` naming the file (and ``name``).
    """
    runs, n_rows = _row_runs(len(array), rows, start, stop)
    if out is None:
        out = np.empty((n_rows, *array.shape[1:]), dtype=np.float32)
    for position, block in _read_slices(array, runs, name):
        out[position : position + len(block)] = block
    return out


def _shared_matrix(X, y):
    """The matrix of which ``X`` and ``y`` are both column views
    (:class:`~sktaaf.datasets.ColumnRows`), if they view the same one."""
    if isinstance(X, ColumnRows) and isinstance(y, ColumnRows):
        matrix = getattr(X, "matrix", None)
        if matrix is not None and matrix is getattr(y, "matrix", None):
            return matrix
    return None


def read_column_views(matrix, rows: np.ndarray, views_and_outs) -> None:
    """Read the sorted ``rows`` of ``matrix`` once, filling each ``out`` with the
    columns of its view: landmarks and targets of one file without reading
    every row twice."""
    runs, _ = _row_runs(len(matrix), rows, 0, None)
    for position, block in _read_slices(matrix, runs, "X and y"):
        block = np.asarray(block)
        for view, out in views_and_outs:
            out[position : position + len(block)] = block[:, view.columns]


def check_on_disk(array, name: str, *, ensure_2d: bool = True) -> None:
    """Validate a streamed array chunk by chunk: shape, dtype and finiteness,
    with the errors ``check_array`` gives in memory."""
    _check_open(array, name)
    check_mapped_size(array, name)
    shape = getattr(array, "shape", None)
    if shape is None or not all(isinstance(size, Integral) for size in shape):
        raise TypeError(f"{name} on disk must have a shape; got {type(array)!r}.")
    if len(shape) not in ((2,) if ensure_2d else (1, 2)):
        raise ValueError(
            f"Expected a 2D array for {name}, got an on-disk array of shape {shape}."
        )
    if shape[0] == 0 or (len(shape) == 2 and shape[1] == 0):
        raise ValueError(
            f"Found array with shape {shape} for {name}, while a minimum of 1 "
            "sample and 1 feature is required."
        )
    kind = np.dtype(array.dtype).kind
    if kind not in "biuf":
        raise ValueError(f"{name} on disk must hold numbers; got dtype {array.dtype}.")
    for start, stop in _slices(0, shape[0], _row_bytes(array)):
        check_mapped_size(array, name)
        block = np.asarray(array[start:stop])
        if kind == "f":
            with np.errstate(over="ignore"):
                finite = np.isfinite(block.astype(np.float32, copy=False)).all()
            if not finite:
                raise ValueError(
                    f"Input {name} contains NaN, infinity or a value too large for "
                    f"dtype('float32') (rows {start}-{stop - 1} on disk)."
                )
        del block
        release(array)


def _pack(parts):
    """A batch of ``(X, y)`` or ``(X, y, sample_weight)`` tensors as skorch
    takes it: ``(X, y)`` or ``(X, (y, sample_weight))``."""
    return (parts[0], parts[1]) if len(parts) == 2 else (parts[0], tuple(parts[1:]))


class DiskData(torch.utils.data.Dataset):
    """Feature and target arrays on disk, restricted to sorted ``rows``.

    The counterpart of :class:`~sktaaf._data._batches.TensorData` for streamed
    data: batches are read chunk by chunk and moved to ``device``. Optional
    ``sample_weight`` (a float32 array of one weight per row of the files,
    held in memory) travels with the targets of each batch.
    """

    def __init__(self, X, y, device: str = "cpu", rows=None, sample_weight=None):
        self.X = X
        self.y = y
        self.device = device
        self.rows = np.arange(len(X)) if rows is None else np.sort(rows)
        self.sample_weight = sample_weight

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        rows = self.rows[i]
        rows = np.atleast_1d(rows)
        return _pack(self._read(rows))

    def subset(self, indices: np.ndarray) -> DiskData:
        rows = self.rows[np.asarray(indices)]
        return DiskData(self.X, self.y, self.device, rows, self.sample_weight)

    def _chunk_rows(self, batch_size: int) -> int:
        row_bytes = 4 * (self.X.shape[1] + (self.y.shape[1] if self.y.ndim > 1 else 1))
        blocks = max(1, CHUNK_BYTES // (row_bytes * BLOCK_ROWS))
        return max(batch_size, blocks * BLOCK_ROWS)

    def _host_buffers(self, n_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Float32 host tensors for ``n_rows`` rows of X and y; pinned when
        training on CUDA, so that copies from them run asynchronously."""
        options = {"dtype": torch.float32, "pin_memory": self.device.startswith("cuda")}
        return (
            torch.empty((n_rows, self.X.shape[1]), **options),
            torch.empty((n_rows, *self.y.shape[1:]), **options),
        )

    def _read(self, rows: np.ndarray, buffers=None) -> tuple:
        """Rows of X and y (and their weights) as tensors on the device, read
        into ``buffers`` (host tensors of at least ``len(rows)`` rows) or into
        new ones."""
        n_rows = len(rows)
        X, y = buffers if buffers is not None else self._host_buffers(n_rows)
        X, y = X[:n_rows], y[:n_rows]
        matrix = _shared_matrix(self.X, self.y)
        if matrix is None:
            read_rows(self.X, rows, out=X.numpy(), name="X")
            read_rows(self.y, rows, out=y.numpy(), name="y")
        else:  # one file, two column views: read each row once
            read_column_views(matrix, rows, [(self.X, X.numpy()), (self.y, y.numpy())])
        parts = [X, y.reshape(n_rows, -1)]
        if self.sample_weight is not None:
            parts.append(torch.from_numpy(self.sample_weight[rows]))
        if self.device != "cpu":
            non_blocking = self.device.startswith("cuda")
            parts = [part.to(self.device, non_blocking=non_blocking) for part in parts]
        return tuple(parts)

    def iter_batches(self, batch_size: int, shuffle: bool, generator):
        chunk_rows = self._chunk_rows(batch_size)
        n_rows = len(self.rows)
        if not shuffle:
            for start in range(0, n_rows, chunk_rows):
                parts = self._read(self.rows[start : start + chunk_rows])
                n_read = len(parts[0])
                for first in range(0, n_read, batch_size):
                    batch = [part[first : first + batch_size] for part in parts]
                    if first + batch_size >= n_read:
                        # A view would keep the chunk alive in the caller's
                        # loop while the next one is read: copy the last batch.
                        batch = [part.clone() for part in batch]
                    yield _pack(batch)
                parts = batch = None  # free before the next read
            return
        if n_rows <= chunk_rows:  # one chunk: exactly in-memory training's batches
            chunks = [self.rows]
        else:
            n_blocks = math.ceil(n_rows / BLOCK_ROWS)
            order = torch.randperm(n_blocks, generator=generator).numpy()
            per_chunk = max(1, chunk_rows // BLOCK_ROWS)
            chunks = [
                np.sort(
                    np.concatenate(
                        [
                            self.rows[block * BLOCK_ROWS : (block + 1) * BLOCK_ROWS]
                            for block in order[first : first + per_chunk]
                        ]
                    )
                )
                for first in range(0, n_blocks, per_chunk)
            ]
        carry = None  # rows left over from the last chunk, to keep batches full
        # One pair of host buffers for all chunks: batches are gathered copies,
        # so a chunk's buffer can take the next one (once a copy from it to
        # the GPU is done); reading never allocates, and memory stays flat.
        buffers = self._host_buffers(max(len(rows) for rows in chunks))
        copied = None
        for rows in chunks:
            if copied is not None:
                copied.synchronize()
            parts = self._read(rows, buffers)
            if self.device.startswith("cuda"):
                copied = torch.cuda.Event()
                copied.record(torch.cuda.current_stream(self.device))
            # Batches are gathered through the permutation: no shuffled copy
            # of the whole chunk is made.
            order = torch.randperm(len(parts[0]), generator=generator)
            order = order.to(parts[0].device)
            if carry is not None:
                n_taken = batch_size - len(carry[0])
                taken, order = order[:n_taken], order[n_taken:]
                carry = [
                    torch.cat([kept, part[taken]])
                    for kept, part in zip(carry, parts, strict=True)
                ]
                if len(carry[0]) == batch_size:
                    yield _pack(carry)
                    carry = None
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                if len(batch) < batch_size:
                    carry = [part[batch] for part in parts]
                    break
                yield _pack([part[batch] for part in parts])
            parts = order = None  # let the chunk go before the next is read
        if carry is not None:
            yield _pack(carry)
