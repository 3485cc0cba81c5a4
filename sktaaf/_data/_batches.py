"""The datasets the training loop reads, in whole-batch tensor slices.

Data are fed to skorch as whole-batch tensor slices rather than through a
per-sample ``Dataset.__getitem__`` and a collate function. :func:`training_data`
builds the dataset from the row sources of :mod:`sktaaf._data._rows`: in memory,
a :class:`TensorData` over the float32 arrays, wrapped once without copying
(each batch is one gather; sparse rows are made dense batch by batch); on
disk, a :class:`DiskData`, which reads the rows in *chunks* (about
:data:`CHUNK_BYTES`) into buffers reused from chunk to chunk.

Out of core, shuffling is by blocks: each epoch visits the blocks of
consecutive rows in a new random order, and shuffles the rows of each chunk
(about a dozen blocks of :data:`BLOCK_ROWS` rows for L1000-sized rows of
~10,000 genes) among themselves. Batches therefore mix rows from a few distant
parts of the file rather than from the whole of it, which is the usual
trade-off of out-of-core training: contiguous reads keep the disk fast, and
with blocks much smaller than the data the batches are close to uniformly
shuffled. When all rows fit in one chunk, batches are exactly those of
in-memory training.

With ``sample_weight``, the targets of a batch are a :class:`WeightedTargets`
(made by :func:`batch_targets`, read by the loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ._rows import Rows, as_tensor, read_both

#: Bytes of data read per chunk (X and y rows together) by :class:`DiskData`.
CHUNK_BYTES = 128 * 2**20
#: Consecutive rows shuffled as one block (at least one batch).
BLOCK_ROWS = 256


@dataclass(frozen=True)
class WeightedTargets:
    """The targets of a batch and the weight of each of its rows.

    Sliced like the rows of a tensor (``batch[rows]``, ``tensor_split``), so
    that batches are gathered and sharded alike with or without weights.
    """

    targets: torch.Tensor
    weight: torch.Tensor

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, rows) -> WeightedTargets:
        return WeightedTargets(self.targets[rows], self.weight[rows])

    def tensor_split(self, sections: int) -> list[WeightedTargets]:
        return [
            WeightedTargets(targets, weight)
            for targets, weight in zip(
                self.targets.tensor_split(sections),
                self.weight.tensor_split(sections),
                strict=True,
            )
        ]


def batch_targets(targets: torch.Tensor, weight=None):
    """The targets of a batch as the loss receives them: the tensor, or a
    :class:`WeightedTargets` when the rows have weights."""
    return targets if weight is None else WeightedTargets(targets, weight)


def training_data(X: Rows, y: Rows, sample_weight, device: str):
    """The dataset that training reads batches of ``X`` and ``y`` (row
    sources) from: streamed from disk when either is on disk, else tensors
    on ``device`` (sharing the arrays' memory where they can, rows of sparse
    matrices made dense per batch)."""
    if X.on_disk or y.on_disk:
        return DiskData(X, y, device, sample_weight=sample_weight)
    return TensorData(
        X.batch_rows(device),
        y.batch_rows(device),
        sample_weight=None
        if sample_weight is None
        else as_tensor(sample_weight).to(device),
        index_device=X.index_device(device),
    )


def pad_rows(array: np.ndarray, multiple: int) -> np.ndarray:
    """Return ``array`` as C-contiguous float32, zero-padded to a multiple of
    ``multiple`` rows (no copy when it already is all that)."""
    n_missing = -len(array) % multiple
    if n_missing:
        padding = np.zeros((n_missing, array.shape[1]), dtype=np.float32)
        array = np.concatenate([array.astype(np.float32, copy=False), padding])
    return np.ascontiguousarray(array, dtype=np.float32)


class TensorData(torch.utils.data.Dataset):
    """Feature and target tensors, restricted to some rows by ``indices``.

    ``X`` and ``y`` are 2-D tensors, or objects indexed like them (the rows
    of a sparse matrix, made dense per batch; see
    :meth:`~sktaaf._data._rows.Rows.batch_rows`). A subset holds indices (on
    ``index_device``, by default ``X``'s device) into the full tensors, not a
    copy of the rows. With ``sample_weight`` (a 1-D tensor), the targets of a
    batch are a :class:`WeightedTargets`.
    """

    def __init__(
        self, X, y, indices=None, sample_weight=None, index_device=None
    ) -> None:
        self.X = X
        self.y = y
        self.indices = indices
        self.sample_weight = sample_weight
        self.index_device = X.device if index_device is None else index_device

    def __len__(self) -> int:
        return len(self.X) if self.indices is None else len(self.indices)

    def __getitem__(self, i):
        rows = i if self.indices is None else self.indices[i]
        return self.X[rows], self._targets(rows)

    def _targets(self, rows):
        targets = self.y[rows]
        if self.sample_weight is None:
            return targets
        return batch_targets(targets, self.sample_weight[rows])

    def subset(self, indices: np.ndarray) -> TensorData:
        rows = torch.as_tensor(indices, dtype=torch.long, device=self.index_device)
        if self.indices is not None:
            rows = self.indices[rows]
        return TensorData(
            self.X,
            self.y,
            rows,
            sample_weight=self.sample_weight,
            index_device=self.index_device,
        )

    def iter_batches(self, batch_size: int, shuffle: bool, generator):
        X, rows = self.X, self.indices
        n_samples = len(self)
        if not shuffle:
            for start in range(0, n_samples, batch_size):
                if rows is None:  # contiguous views: no copy at all
                    batch = slice(start, start + batch_size)
                else:
                    batch = rows[start : start + batch_size]
                yield X[batch], self._targets(batch)
            return
        order = torch.randperm(n_samples, generator=generator).to(self.index_device)
        if rows is not None:
            order = rows[order]
        for start in range(0, n_samples, batch_size):
            batch = order[start : start + batch_size]
            yield X[batch], self._targets(batch)


def _batch(parts):
    """A batch of ``[X, y]`` or ``[X, y, sample_weight]`` tensors as skorch
    takes it: ``(X, targets)``."""
    return parts[0], batch_targets(*parts[1:])


class DiskData(torch.utils.data.Dataset):
    """Feature and target rows (:class:`~sktaaf._data._rows.Rows`, one or
    both on disk), restricted to sorted ``rows``.

    The counterpart of :class:`TensorData` for streamed data: batches are
    read chunk by chunk and moved to ``device``. Optional ``sample_weight`` (a
    float32 array of one weight per row of the files, held in memory) travels
    with the targets of each batch.
    """

    def __init__(
        self, X: Rows, y: Rows, device: str = "cpu", rows=None, sample_weight=None
    ):
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
        return _batch(self._read(rows))

    def subset(self, indices: np.ndarray) -> DiskData:
        rows = self.rows[np.asarray(indices)]
        return DiskData(self.X, self.y, self.device, rows, self.sample_weight)

    def _chunk_rows(self, batch_size: int) -> int:
        row_bytes = 4 * (self.X.n_columns + self.y.n_columns)
        blocks = max(1, CHUNK_BYTES // (row_bytes * BLOCK_ROWS))
        return max(batch_size, blocks * BLOCK_ROWS)

    def _host_buffers(self, n_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Float32 host tensors for ``n_rows`` rows of X and y; pinned when
        training on CUDA, so that copies from them run asynchronously."""
        options = {"dtype": torch.float32, "pin_memory": self.device.startswith("cuda")}
        return (
            torch.empty((n_rows, self.X.n_columns), **options),
            torch.empty((n_rows, self.y.n_columns), **options),
        )

    def _read(self, rows: np.ndarray, buffers=None) -> tuple:
        """Rows of X and y (and their weights) as tensors on the device, read
        into ``buffers`` (host tensors of at least ``len(rows)`` rows) or into
        new ones."""
        n_rows = len(rows)
        X, y = buffers if buffers is not None else self._host_buffers(n_rows)
        X, y = X[:n_rows], y[:n_rows]
        read_both(self.X, self.y, rows, X.numpy(), y.numpy())
        parts = [X, y]
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
                    yield _batch(batch)
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
                    yield _batch(carry)
                    carry = None
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                if len(batch) < batch_size:
                    carry = [part[batch] for part in parts]
                    break
                yield _batch([part[batch] for part in parts])
            parts = order = None  # let the chunk go before the next is read
        if carry is not None:
            yield _batch(carry)


class BatchIterator:
    """Iterate over a :class:`TensorData` (or an on-disk
    :class:`DiskData`) in mini-batches of tensor slices.

    skorch calls it as it would a ``DataLoader``; each ``iter`` is one epoch.
    With ``shuffle``, every epoch draws a new permutation from ``generator`` (a
    CPU ``torch.Generator``, seeded by the estimator), so a seeded fit sees the
    same batches every time, and a continued fit continues the same stream.

    For data-parallel training over ``num_replicas`` processes, each process
    iterates over the same batches (its generator in the same state) and
    yields only its share, the ``rank``-th of ``num_replicas`` near-equal
    pieces of each batch: together the processes cover every sample once per
    epoch and take the same number of steps. A last batch smaller than
    ``num_replicas`` rows is topped up by repeating its rows, so that no
    process gets an empty one.
    """

    def __init__(
        self,
        dataset: TensorData,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
        num_replicas: int = 1,
        rank: int = 0,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.num_replicas = num_replicas
        self.rank = rank

    def __len__(self) -> int:
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        batches = self.dataset.iter_batches(
            self.batch_size, self.shuffle, self.generator
        )
        if self.num_replicas == 1:
            return batches
        return self._shards(batches)

    def _shards(self, batches):
        for X, y in batches:  # y: a tensor, or WeightedTargets sliced alike
            if len(X) < self.num_replicas:
                rows = torch.arange(self.num_replicas, device=X.device) % len(X)
                X, y = X[rows], y[rows]
            yield (
                X.tensor_split(self.num_replicas)[self.rank],
                y.tensor_split(self.num_replicas)[self.rank],
            )


class ShuffledSplit:
    """skorch ``train_split`` holding out given rows (drawn by the estimator)."""

    def __init__(self, valid_indices: np.ndarray, train_indices: np.ndarray) -> None:
        self.valid_indices = valid_indices
        self.train_indices = train_indices

    def __call__(self, dataset: TensorData, y=None, **fit_params):
        return dataset.subset(self.train_indices), dataset.subset(self.valid_indices)
