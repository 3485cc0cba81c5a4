"""The data of the network estimators, validated once at the boundary of
``fit`` and ``predict`` and returned as row sources (:mod:`sktaaf._data._rows`).

In memory, ``X`` and ``y`` are validated by scikit-learn's ``validate_data``
(float32, C order, SciPy sparse matrices kept sparse); on disk (memory maps,
h5py datasets, :class:`~sktaaf._data._columns.ColumnRows`), chunk by chunk
without being loaded (:meth:`~sktaaf._data._rows.DiskRows.check`). AnnData
objects are refused with a pointer to :func:`sktaaf.datasets.anndata_to_frames`.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, validate_data

from .._utils._compat import validated_sample_weight
from ._rows import DiskRows, Rows, as_rows, is_on_disk
from ._targets import set_target_names

#: The sparse formats validation accepts as they are (others become CSR).
SPARSE_FORMATS = ("csr", "csc")


def validate_training_data(estimator, X, y, sample_weight, *, reset: bool):
    """Validate ``X``, ``y`` and ``sample_weight`` for ``estimator.fit``; set
    (``reset``) or check its ``n_features_in_``, ``feature_names_in_`` and
    ``target_names_``. Returns ``X, y`` as row sources
    (:class:`~sktaaf._data._rows.Rows`) and the checked ``sample_weight``."""
    check_not_anndata(X, "X")
    check_not_anndata(y, "y")
    on_disk = is_on_disk(X) or is_on_disk(y)
    set_target_names(estimator, None if on_disk else y, reset=reset)
    if on_disk:  # streamed from the files, chunk by chunk
        X, y = _validate_on_disk(estimator, X, y, reset=reset)
    else:
        X, y = validate_data(
            estimator,
            X,
            y,
            reset=reset,
            multi_output=True,
            y_numeric=True,
            dtype=np.float32,
            order="C",
            accept_sparse=SPARSE_FORMATS,
        )
        # Validated again as float32: a finite float64 beyond float32's
        # range must be an error, not an infinity.
        y = check_array(
            y,
            dtype=np.float32,
            order="C",
            ensure_2d=False,
            input_name="y",
            accept_sparse="csr",
        )
    sample_weight = check_sample_weight(sample_weight, X, estimator._criterion())
    return as_rows(X), as_rows(y), sample_weight


def validate_predict_data(estimator, X) -> tuple[Rows, np.dtype]:
    """Validate ``X`` for ``estimator.predict``: its number of features, and
    its values, in memory or chunk by chunk on disk. Returns ``X`` as a row
    source and the dtype of the predictions (float32 for float32 data, else
    float64)."""
    check_not_anndata(X, "X")
    if is_on_disk(X):
        _validate_on_disk(estimator, X, None, reset=False)
        return as_rows(X), np.float32 if X.dtype == np.float32 else np.float64
    X = validate_data(
        estimator,
        X,
        reset=False,
        dtype=(np.float64, np.float32),
        accept_sparse="csr",
    )
    return as_rows(X), X.dtype


def check_sample_weight(sample_weight, X, criterion) -> np.ndarray | None:
    """Validate the ``sample_weight`` of ``fit``: one non-negative finite
    real number per row of ``X``, not all zero.

    Returns the weights as float32, divided by their mean (computed in
    float64), so that only the relative weights matter: weights ``w`` and
    ``c * w`` train alike whether ``c`` is 1e-44 or 1e30 (unscaled, their sum
    can vanish into float32's subnormals or overflow to infinity). Returns
    None when there are none or when they are all equal, which weigh like no
    weights at all (the loss is normalised by the weights' sum), so that such
    a fit is exactly the unweighted one."""
    if sample_weight is None:
        return None
    values = np.asarray(sample_weight)
    if values.dtype.kind not in "biuf" and not (
        values.dtype.kind == "O"
        and all(isinstance(value, Real) for value in values.ravel().tolist())
    ):  # strings, complex numbers, other objects: not converted silently
        raise ValueError(
            f"sample_weight must hold real numbers; got {_describe(values)}."
        )
    sample_weight = validated_sample_weight(
        sample_weight, X, dtype=np.float64, ensure_non_negative=True
    )
    largest = sample_weight.max()
    if largest == 0:
        raise ValueError(
            "sample_weight are all zero: at least one sample must have a "
            "positive weight."
        )
    # Scaled by the largest first: the sum of huge weights must not overflow.
    sample_weight = sample_weight / largest
    sample_weight = (sample_weight / sample_weight.mean()).astype(np.float32)
    if (sample_weight == sample_weight[0]).all():
        return None
    if not isinstance(getattr(criterion, "reduction", None), str):
        raise ValueError(
            "sample_weight needs a loss that can give one loss per element (a "
            "torch.nn loss with a 'reduction' argument, such as 'mae' or "
            f"'mse'); the loss {criterion!r} has no 'reduction'."
        )
    return np.ascontiguousarray(sample_weight)


def check_split_weights(split, sample_weight, validation_fraction) -> None:
    """Refuse ``sample_weight`` that are 0 on every sample of one side of
    early stopping's validation ``split`` (a
    :class:`~sktaaf._data._batches.ShuffledSplit`, or None): with nothing weighed,
    that side's loss is 0 every epoch, so training learns nothing, or early
    stopping monitors nothing and stops at once."""
    if split is None or sample_weight is None:
        return
    for rows, side, consequence in [
        (split.valid_indices, "holds out for validation", "monitor nothing"),
        (split.train_indices, "leaves for training", "learn nothing"),
    ]:
        if not sample_weight[rows].any():
            raise ValueError(
                f"sample_weight is 0 on all {len(rows)} samples that early "
                f"stopping {side} (validation_fraction={validation_fraction}, "
                f"rows drawn with random_state): the loss there would be 0 "
                f"every epoch, and training would {consequence}. Give some of "
                "them a positive weight, draw another split (random_state, "
                "validation_fraction), or set early_stopping=False."
            )


def _describe(values) -> str:
    """``values`` in a few words: an array's dtype and a few of its values."""
    array = np.asarray(values)
    shown = ", ".join(repr(value) for value in array.ravel()[:3].tolist())
    more = ", ..." if array.size > 3 else ""
    return f"an array of dtype {array.dtype} ([{shown}{more}])"


def _validate_on_disk(estimator, X, y, *, reset: bool):
    """Check streamed data without loading it (the one of ``X`` and ``y``
    in memory as ``check_array`` does); set or check the number of features
    as ``validate_data`` does for arrays in memory."""
    if is_on_disk(X):
        DiskRows(X).check("X")
    else:
        X = check_array(X, dtype=np.float32, order="C", input_name="X")
    n_features = X.shape[1]
    if reset:
        estimator.n_features_in_ = n_features
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    if y is None:
        return X, None
    if is_on_disk(y):
        DiskRows(y).check("y", ensure_2d=False)
    else:
        y = check_array(y, dtype=np.float32, order="C", ensure_2d=False, input_name="y")
    if len(y) != len(X):
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{len(X)}, {len(y)}]"
        )
    return X, y


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
