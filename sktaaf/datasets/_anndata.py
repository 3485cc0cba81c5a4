"""AnnData (single-cell) objects split into landmark and target frames."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike
from sklearn.utils import Bunch

from .._data._validation import is_anndata
from ._ids import _as_ids, _bunch, _resolve_genes

__all__ = ["anndata_to_frames"]


def _frame(matrix, index, columns):
    import pandas as pd

    if sp.issparse(matrix):  # sparse columns: the estimators keep them sparse
        return pd.DataFrame.sparse.from_spmatrix(matrix, index=index, columns=columns)
    return pd.DataFrame(
        np.asarray(matrix, dtype=np.float32), index=index, columns=columns, copy=False
    )


def _matrix(adata, layer, use_raw: bool):
    """The expression matrix to read, and its genes' names."""
    if use_raw not in (True, False):
        raise ValueError(f"use_raw must be True or False; got {use_raw!r}.")
    has_raw = adata.raw is not None
    if use_raw:
        if layer is not None:
            raise ValueError(
                f"use_raw=True reads adata.raw.X; it cannot be combined with "
                f"layer={layer!r} (use one or the other)."
            )
        if not has_raw:
            raise ValueError(
                "use_raw=True reads adata.raw, but this AnnData has none "
                "(adata.raw is None); read adata.X (use_raw=False) or a layer "
                f"(its layers are {sorted(adata.layers)})."
            )
        return adata.raw.X, adata.raw.var_names
    if layer is None:
        matrix = adata.X
    elif layer in adata.layers:
        matrix = adata.layers[layer]
    else:
        raw_hint = (
            "; adata.raw is not a layer: use_raw=True reads it"
            if has_raw
            else "; this AnnData has no adata.raw either"
            if layer == "raw"
            else ""
        )
        raise ValueError(
            f"layer={layer!r} is not a layer of the AnnData; its layers are "
            f"{sorted(adata.layers)} (layer=None reads adata.X{raw_hint})."
        )
    if matrix is None:
        raise ValueError("The AnnData has no expression matrix (adata.X is None).")
    return matrix, adata.var_names


def anndata_to_frames(
    adata,
    landmark_ids: ArrayLike,
    *,
    target_ids: ArrayLike | None = None,
    layer: str | None = None,
    use_raw: bool = False,
) -> Bunch:
    """Split an ``AnnData`` into landmark (``X``) and target (``y``) frames.

    The estimators do not take an ``AnnData`` directly: which genes are the
    landmarks, and whether to use ``adata.X`` or a layer, is for you to say.
    This helper picks the genes by name from ``adata.var_names`` and returns
    pandas DataFrames indexed by ``adata.obs_names`` with the gene names as
    columns, so that a model fitted on them keeps ``feature_names_in_`` and
    ``target_names_``, and ``predict(X, as_frame=True)`` returns named genes.

    A sparse matrix stays sparse: the frames then have sparse columns
    (``pandas.SparseDtype``), which the estimators take as a SciPy sparse
    matrix and densify one batch at a time. An AnnData opened in backed mode
    (``anndata.read_h5ad(path, backed="r")``) is read into memory, its
    sparse matrix staying sparse. Install with
    ``pip install 'sktaaf[anndata]'``.

    Parameters
    ----------
    adata : anndata.AnnData
        Cells (observations) by genes (variables).
    landmark_ids : array-like of shape (n_landmarks,)
        Names of the landmark genes among ``adata.var_names``, in the order
        wanted for the columns of ``X``.
    target_ids : array-like of shape (n_targets,), default=None
        Names of the target genes, in the order wanted for ``y``. None takes
        every gene that is not a landmark, in ``var_names``' order.
    layer : str, default=None
        The layer of ``adata.layers`` to read; None reads ``adata.X``.
    use_raw : bool, default=False
        Read ``adata.raw`` (its ``X`` and ``var_names``) instead: scanpy
        keeps there the expression as it was before genes were filtered or
        values scaled (``adata.raw = adata`` before ``sc.pp.scale``), often
        the values to infer. Cannot be combined with ``layer``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (DataFrame of shape (n_obs, n_landmarks)), ``y`` (DataFrame of
        shape (n_obs, n_targets)), float32 (dense or sparse columns);
        ``landmark_ids``, ``target_ids`` and ``sample_ids`` (the
        ``obs_names``), ndarrays of str.

    Raises
    ------
    TypeError
        If ``adata`` is not an AnnData.
    ValueError
        If a gene is not among ``var_names``, ``layer`` is not a layer, or
        ``use_raw=True`` and ``adata.raw`` is None.

    Examples
    --------
    >>> import numpy as np, anndata
    >>> from sktaaf.datasets import anndata_to_frames
    >>> adata = anndata.AnnData(np.arange(12, dtype=np.float32).reshape(3, 4))
    >>> adata.var_names = ["A", "B", "C", "D"]
    >>> data = anndata_to_frames(adata, ["C", "A"])
    >>> list(data.X.columns), list(data.y.columns)
    (['C', 'A'], ['B', 'D'])
    """
    if not is_anndata(adata):
        raise TypeError(
            f"adata must be an anndata.AnnData; got {type(adata).__name__}."
        )
    matrix, var_names = _matrix(adata, layer, use_raw)
    gene_ids = _as_ids(var_names, f"adata.{'raw.' if use_raw else ''}var_names")
    sample_ids = _as_ids(adata.obs_names, "adata.obs_names", unique=False)
    landmarks, targets, landmark_ids, target_ids = _resolve_genes(
        gene_ids, landmark_ids, target_ids
    )
    if callable(getattr(matrix, "to_memory", None)):  # backed mode, sparse
        matrix = matrix.to_memory()  # anndata's CSR/CSC dataset, read once
    if sp.issparse(matrix):
        matrix = sp.csc_matrix(matrix, dtype=np.float32)  # cheap column picks
    elif not isinstance(matrix, np.ndarray):  # e.g. a backed h5py dataset
        matrix = np.asarray(matrix[:, :])
    index = list(sample_ids)
    X = _frame(matrix[:, landmarks], index, list(landmark_ids))
    y = _frame(matrix[:, targets], index, list(target_ids))
    return _bunch(X, y, landmark_ids, target_ids, sample_ids)
