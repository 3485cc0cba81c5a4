"""Gene and sample ids, and the split of a matrix into landmarks and targets.

Every loader returns a :class:`sklearn.utils.Bunch` with the same fields:

``X``
    Landmark expression, ndarray of shape (n_samples, n_landmarks).
``y``
    Target expression, ndarray of shape (n_samples, n_targets).
``landmark_ids``, ``target_ids``
    Gene ids of the columns of ``X`` and ``y``: ndarrays of str (object
    dtype), or None where the file holds no ids (.npy).
``sample_ids``
    Ids of the rows, an ndarray of str (object dtype), or None.

Ids are compared as strings, so Entrez ids given as ints match the string
ids of a GCTX file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.utils import Bunch

__all__ = ["split_landmarks"]


def _as_ids(
    ids, name: str, length: int | None = None, unique: bool = True
) -> np.ndarray:
    """Ids as a 1-D object array of str, checked for duplicates if ``unique``."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(
            f"{name} must be a sequence of ids (a list, an array, a pandas "
            f"Index), got {type(ids).__name__} {ids!r}."
        )
    values = [
        value.decode() if isinstance(value, bytes) else str(value) for value in ids
    ]
    if length is not None and len(values) != length:
        raise ValueError(f"{name} has {len(values)} ids but {length} were expected.")
    array = np.empty(len(values), dtype=object)
    array[:] = values
    if not unique:
        return array
    distinct, counts = np.unique(array.astype(str), return_counts=True)
    if (counts > 1).any():
        repeated = distinct[counts > 1]
        raise ValueError(
            f"{name} must be unique, but {len(repeated)} ids occur more than "
            f"once, e.g. {repeated[:5].tolist()}."
        )
    return array


def _positions(ids: np.ndarray, wanted: np.ndarray, name: str, among: str):
    """Positions of ``wanted`` in ``ids``; a clear error for unknown ids."""
    lookup = {value: position for position, value in enumerate(ids)}
    missing = [value for value in wanted if value not in lookup]
    if missing:
        raise ValueError(
            f"{len(missing)} of the {len(wanted)} {name} are not among the "
            f"{len(ids)} {among}, e.g. {missing[:5]}."
        )
    if len(lookup) < len(ids):  # some ids repeat: refuse the ambiguous ones
        counts = Counter(list(ids))
        ambiguous = [value for value in dict.fromkeys(wanted) if counts[value] > 1]
        if ambiguous:
            raise ValueError(
                f"{len(ambiguous)} of the {len(wanted)} {name} name more than one "
                f"of the {len(ids)} {among}, e.g. {ambiguous[0]!r} names "
                f"{counts[ambiguous[0]]}; the file's ids repeat, so these cannot "
                "be picked by id."
            )
    return np.fromiter((lookup[value] for value in wanted), np.intp, len(wanted))


def _resolve_genes(gene_ids, landmark_ids, target_ids):
    """Column positions and ids of the landmarks and of the targets."""
    landmark_ids = _as_ids(landmark_ids, "landmark_ids")
    landmarks = _positions(gene_ids, landmark_ids, "landmark ids", "gene ids")
    if target_ids is None:
        is_target = np.ones(len(gene_ids), dtype=bool)
        is_target[landmarks] = False
        targets = np.flatnonzero(is_target)
        target_ids = gene_ids[targets]
    else:
        target_ids = _as_ids(target_ids, "target_ids")
        overlap = np.intersect1d(landmark_ids.astype(str), target_ids.astype(str))
        if overlap.size:
            raise ValueError(
                f"{overlap.size} ids are both landmark and target ids, e.g. "
                f"{overlap[:5].tolist()}; a gene cannot be inferred from itself."
            )
        targets = _positions(gene_ids, target_ids, "target ids", "gene ids")
    return landmarks, targets, landmark_ids, target_ids


def _bunch(X, y, landmark_ids, target_ids, sample_ids) -> Bunch:
    return Bunch(
        X=X,
        y=y,
        landmark_ids=landmark_ids,
        target_ids=target_ids,
        sample_ids=sample_ids,
    )


# ------------------------------------------------------------------- split
def split_landmarks(
    matrix: ArrayLike,
    gene_ids: ArrayLike | None,
    landmark_ids: ArrayLike,
    *,
    target_ids: ArrayLike | None = None,
    sample_ids: ArrayLike | None = None,
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Split a samples x genes matrix into landmark and target matrices.

    Parameters
    ----------
    matrix : array-like or DataFrame of shape (n_samples, n_genes)
        Expression profiles, one sample per row, one gene per column; e.g. a
        ``np.load(..., mmap_mode="r")`` memory map (only the chosen columns are
        copied) or a DataFrame.
    gene_ids : array-like of shape (n_genes,) or None
        Ids of the columns of ``matrix``. None takes the columns of a
        DataFrame.
    landmark_ids : array-like of shape (n_landmarks,)
        Ids of the landmark genes, in the order wanted for the columns of
        ``X``. Every one must be in ``gene_ids``.
    target_ids : array-like of shape (n_targets,), default=None
        Ids of the target genes, in the order wanted for ``y``. None takes
        every gene that is not a landmark, in the matrix's order.
    sample_ids : array-like of shape (n_samples,), default=None
        Ids of the rows. None takes the index of a DataFrame, else no ids.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps the matrix's.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_samples, n_landmarks), ``y`` (n_samples, n_targets),
        ``landmark_ids``, ``target_ids`` and ``sample_ids`` (ndarrays of str,
        or None for unknown sample ids).

    Raises
    ------
    ValueError
        When ids are unknown or repeated, a gene is both landmark and target,
        or ``gene_ids`` does not match the matrix's columns.

    See Also
    --------
    load_gctx, load_gct, load_hdf : Read a matrix and split it.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.datasets import split_landmarks
    >>> matrix = np.arange(8.0).reshape(2, 4)
    >>> data = split_landmarks(matrix, ["a", "b", "c", "d"], ["c", "a"])
    >>> data.X
    array([[2., 0.],
           [6., 4.]], dtype=float32)
    >>> data.target_ids
    array(['b', 'd'], dtype=object)
    >>> split_landmarks(matrix, ["a", "b", "c", "d"], ["a", "z"])
    Traceback (most recent call last):
    ...
    ValueError: 1 of the 2 landmark ids are not among the 4 gene ids, e.g. ['z'].
    """
    if hasattr(matrix, "columns") and hasattr(matrix, "index"):  # a DataFrame
        if gene_ids is None:
            gene_ids = matrix.columns
        if sample_ids is None:
            sample_ids = matrix.index
        matrix = matrix.to_numpy()
    elif gene_ids is None:
        raise TypeError(
            "gene_ids=None needs a DataFrame, whose columns are the gene ids; "
            f"got a {type(matrix).__name__}. Give the gene ids."
        )
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(
            f"matrix must be 2-D (samples x genes), got shape {matrix.shape}."
        )
    gene_ids = _as_ids(gene_ids, "gene_ids")
    if len(gene_ids) != matrix.shape[1]:
        raise ValueError(
            f"matrix has {matrix.shape[1]} columns but gene_ids has "
            f"{len(gene_ids)} ids. The matrix must be samples x genes; "
            "transpose it if the genes are its rows."
        )
    if sample_ids is not None:
        sample_ids = _as_ids(
            sample_ids, "sample_ids", length=matrix.shape[0], unique=False
        )
    landmarks, targets, landmark_ids, target_ids = _resolve_genes(
        gene_ids, landmark_ids, target_ids
    )
    X = np.asarray(matrix[:, landmarks], dtype=dtype)
    y = np.asarray(matrix[:, targets], dtype=dtype)
    return _bunch(X, y, landmark_ids, target_ids, sample_ids)
