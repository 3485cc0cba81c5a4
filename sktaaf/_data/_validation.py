"""The training data of the network estimators: validated once, then wrapped
for skorch.

In memory, ``X`` and ``y`` are validated by scikit-learn's ``validate_data``
(float32, C order, SciPy sparse matrices kept sparse); on disk (memory maps,
h5py datasets, :class:`~sktaaf._data._columns.ColumnRows`), chunk by chunk without
being loaded. :func:`training_data` then wraps them, without copying, in the
dataset the training loop reads batches from.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, validate_data

from .._utils._compat import validated_sample_weight
from ._batches import TensorData, as_tensor
from ._disk import DiskData, check_on_disk, is_on_disk
from ._sparse import SPARSE_FORMATS, SparseRows, check_not_anndata
from ._targets import set_target_names


def validate_training_data(estimator, X, y, sample_weight, *, reset: bool):
    """Validate ``X``, ``y`` and ``sample_weight`` for ``estimator.fit``; set
    (``reset``) or check its ``n_features_in_``, ``feature_names_in_`` and
    ``target_names_``. Returns ``X, y, sample_weight, on_disk``."""
    check_not_anndata(X, "X")
    check_not_anndata(y, "y")
    on_disk = is_on_disk(X) or is_on_disk(y)
    set_target_names(estimator, None if on_disk else y, reset=reset)
    if on_disk:  # streamed from the files, chunk by chunk
        X, y = validate_on_disk(estimator, X, y, reset=reset)
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
    return X, y, sample_weight, on_disk


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


def validate_on_disk(estimator, X, y, *, reset: bool):
    """Check streamed data without loading it; set or check the number of
    features as ``validate_data`` does for arrays in memory."""
    if not is_on_disk(X):
        X = check_array(X, dtype=np.float32, order="C", input_name="X")
    check_on_disk(X, "X")
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
    if not is_on_disk(y):
        y = check_array(y, dtype=np.float32, order="C", ensure_2d=False, input_name="y")
    check_on_disk(y, "y", ensure_2d=False)
    if len(y) != len(X):
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{len(X)}, {len(y)}]"
        )
    return X, y


def training_data(X, y, sample_weight, device: str, on_disk: bool):
    """The dataset of validated ``X`` and ``y`` that training reads batches
    from: streamed from disk, rows of sparse matrices made dense per batch, or
    tensors sharing the arrays' memory (moved to ``device``)."""
    if on_disk:
        return DiskData(X, y, device, sample_weight=sample_weight)
    return TensorData(
        *(
            SparseRows(a, device)
            if sp.issparse(a)
            else as_tensor(a.reshape(len(a), -1)).to(device)
            for a in (X, y)
        ),
        sample_weight=None
        if sample_weight is None
        else as_tensor(sample_weight).to(device),
    )
