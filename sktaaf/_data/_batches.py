"""The datasets the training loop reads, in whole-batch tensor slices.

Data are fed to skorch as whole-batch tensor slices rather than through a
per-sample ``Dataset.__getitem__`` and a collate function: the float32 arrays are
wrapped once, without copying, and each batch is one gather.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

#: The ``mixed_precision`` options and the dtypes autocast computes in.


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """Wrap a numpy array as a tensor sharing its memory.

    Read-only arrays (memory maps, broadcast views) are shared too: sktaaf never
    writes to its input, so torch's warning about them does not apply.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not")
        return torch.from_numpy(array)


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

    A subset holds indices into the full tensors, not a copy of the rows. With
    ``sample_weight`` (a 1-D tensor), the targets of a batch are the pair
    ``(y, sample_weight)``, which :meth:`TrainingNet.get_loss` weighs by.
    """

    def __init__(
        self, X: torch.Tensor, y: torch.Tensor, indices=None, sample_weight=None
    ) -> None:
        self.X = X
        self.y = y
        self.indices = indices
        self.sample_weight = sample_weight

    def __len__(self) -> int:
        return len(self.X) if self.indices is None else len(self.indices)

    def __getitem__(self, i):
        rows = i if self.indices is None else self.indices[i]
        return self.X[rows], self._targets(rows)

    def _targets(self, rows):
        if self.sample_weight is None:
            return self.y[rows]
        return self.y[rows], self.sample_weight[rows]

    def subset(self, indices: np.ndarray) -> TensorData:
        rows = torch.as_tensor(indices, dtype=torch.long, device=self.X.device)
        if self.indices is not None:
            rows = self.indices[rows]
        return TensorData(self.X, self.y, rows, self.sample_weight)

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
        order = torch.randperm(n_samples, generator=generator).to(X.device)
        if rows is not None:
            order = rows[order]
        for start in range(0, n_samples, batch_size):
            batch = order[start : start + batch_size]
            yield X[batch], self._targets(batch)


class BatchIterator:
    """Iterate over a :class:`TensorData` (or an on-disk
    :class:`~sktaaf._data._disk.DiskData`) in mini-batches of tensor slices.

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
        for X, y in batches:
            weighted = isinstance(y, tuple)  # (targets, sample weights)
            parts = (X, *y) if weighted else (X, y)
            if len(X) < self.num_replicas:
                rows = torch.arange(self.num_replicas, device=X.device) % len(X)
                parts = tuple(part[rows] for part in parts)
            parts = tuple(
                part.tensor_split(self.num_replicas)[self.rank] for part in parts
            )
            yield parts[0], (parts[1:] if weighted else parts[1])


class ShuffledSplit:
    """skorch ``train_split`` holding out given rows (drawn by the estimator)."""

    def __init__(self, valid_indices: np.ndarray, train_indices: np.ndarray) -> None:
        self.valid_indices = valid_indices
        self.train_indices = train_indices

    def __call__(self, dataset: TensorData, y=None, **fit_params):
        return dataset.subset(self.train_indices), dataset.subset(self.valid_indices)
