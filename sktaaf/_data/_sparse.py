"""Sparse input: SciPy sparse matrices densified batch by batch, never whole.

Single-cell expression comes as sparse matrices (mostly zeros). The estimators
keep such input sparse (as CSR, whose rows are cheap to gather) and turn only
the rows of one batch into a dense float32 block. AnnData objects are refused
with a pointer to :func:`sktaaf.datasets.anndata_to_frames`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from ._batches import as_tensor

#: The sparse formats validation accepts as they are (others become CSR).
SPARSE_FORMATS = ("csr", "csc")


def is_anndata(data) -> bool:
    """Whether ``data`` is an ``anndata.AnnData`` (told without importing it)."""
    cls = type(data)
    return cls.__name__ == "AnnData" and (cls.__module__ or "").startswith("anndata")


def check_not_anndata(data, name: str = "X") -> None:
    """Raise a TypeError pointing at the helper when ``data`` is an AnnData,
    or another object of anndata's (e.g. the sparse matrix of an AnnData
    opened in backed mode)."""
    module = type(data).__module__ or ""
    if (
        module.split(".")[0] == "anndata"
        and not is_anndata(data)
        # anndata's views of arrays and sparse matrices are arrays and matrices
        and not isinstance(data, np.ndarray)
        and not sp.issparse(data)
    ):
        raise TypeError(
            f"{name} is an anndata {type(data).__name__} (such as the matrix "
            "of an AnnData opened in backed mode), which the estimators do not "
            f"read directly. Read it into memory ({name}.to_memory() gives a "
            "SciPy sparse matrix), or split the AnnData with "
            "sktaaf.datasets.anndata_to_frames(adata, landmark_ids)."
        )
    if is_anndata(data):
        raise TypeError(
            f"{name} is an AnnData object, which the estimators do not take "
            "directly (which genes are landmarks and which are targets, and "
            "whether to use X or a layer, is yours to say). Split it with "
            "sktaaf.datasets.anndata_to_frames(adata, landmark_ids, layer=...) "
            "and pass the landmark and target frames it returns."
        )


def dense_rows(matrix, rows) -> np.ndarray:
    """Rows of a sparse ``matrix`` (a slice or indices) as a dense C-ordered
    float32 array."""
    block = matrix[rows]
    return np.ascontiguousarray(block.toarray(), dtype=np.float32)


class SparseRows:
    """A CSR matrix seen as a 2-D tensor whose row gathers are dense.

    Indexing with a slice or a tensor of row indices returns those rows as a
    dense float32 tensor on ``device``: the form in which
    :class:`~sktaaf._data._batches.TensorData` feeds batches, without ever holding
    the whole matrix dense. Row indices live on the CPU.
    """

    def __init__(self, matrix, device: str = "cpu") -> None:
        self.matrix = sp.csr_matrix(matrix) if not sp.isspmatrix_csr(matrix) else matrix
        self.target_device = device
        self.device = torch.device("cpu")  # where TensorData keeps row indices
        self.shape = self.matrix.shape

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows):
        if isinstance(rows, torch.Tensor):
            rows = rows.cpu().numpy()
        return as_tensor(dense_rows(self.matrix, rows)).to(self.target_device)
