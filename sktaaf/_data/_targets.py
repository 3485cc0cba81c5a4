"""Names of the target genes: taken from ``y`` in ``fit``, given back by
``predict(X, as_frame=True)`` and by the per-gene metrics.

scikit-learn records the names of the input columns (``feature_names_in_``)
but has no counterpart for the targets, nor a way to ask ``predict`` for a
DataFrame (``set_output`` is for ``transform``). The estimators therefore keep
``target_names_`` by the same convention as ``feature_names_in_`` (defined only
when ``y`` had string column names), and ``predict`` takes ``as_frame``, as
scikit-learn's dataset loaders do.
"""

from __future__ import annotations

import numpy as np

from .._utils._compat import column_names


def target_names(y) -> np.ndarray | None:
    """The names of ``y``'s columns (a DataFrame's, or a named Series'), as an
    object array of str; None when ``y`` has none."""
    name = getattr(y, "name", None)
    if getattr(y, "ndim", None) == 1 and hasattr(y, "index"):  # a pandas Series
        return np.asarray([name], dtype=object) if isinstance(name, str) else None
    if not hasattr(y, "columns"):
        return None
    return column_names(y)


def set_target_names(estimator, y, *, reset: bool = True) -> None:
    """Set (or delete) ``estimator.target_names_`` from ``y``, before ``y`` is
    converted to an array.

    With ``reset=False`` (a fit continuing the fitted network, as
    ``warm_start=True`` does), a ``y`` whose names differ from
    ``target_names_`` (other names, or the same in another order) is refused:
    the network's outputs stay in the order it was trained on. A ``y``
    without names then keeps ``target_names_``."""
    names = target_names(y)
    fitted = getattr(estimator, "target_names_", None)
    if not reset and names is not None and fitted is not None:
        if list(names) != list(fitted):
            raise ValueError(_mismatch_message(estimator, names, fitted))
    if names is not None:
        estimator.target_names_ = names
    elif reset and fitted is not None:
        del estimator.target_names_


def _mismatch_message(estimator, names, fitted) -> str:
    def shown(values) -> str:
        values = list(values)
        more = f", ... ({len(values)} in all)" if len(values) > 5 else ""
        return "[" + ", ".join(repr(value) for value in values[:5]) + more + "]"

    if sorted(names) == sorted(fitted):
        position = next(
            i for i, (a, b) in enumerate(zip(names, fitted, strict=True)) if a != b
        )
        difference = (
            f"the same columns in another order (column {position} is "
            f"{names[position]!r}, was {fitted[position]!r})"
        )
    else:
        fitted_set, names_set = set(fitted), set(names)
        unseen = [name for name in names if name not in fitted_set]
        missing = [name for name in fitted if name not in names_set]
        difference = "columns other than those of the first fit"
        if unseen:
            difference += f"; new: {shown(unseen)}"
        if missing:
            difference += f"; missing: {shown(missing)}"
    return (
        f"y has {difference}. warm_start=True continues training the fitted "
        f"network, whose outputs are the target_names_ {shown(fitted)} in that "
        "order. Pass y[model.target_names_] (the same genes in the fitted "
        "order), or set warm_start=False to train a new network."
    )


def as_frame(estimator, y_pred: np.ndarray, X):
    """``y_pred`` as a pandas DataFrame (a Series for a 1-D target) indexed
    like ``X`` (when ``X`` is a DataFrame) with ``target_names_`` as columns
    (0, 1, ... when the estimator has none)."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is in the io extra
        raise ImportError(
            "predict(X, as_frame=True) needs pandas: pip install 'sktaaf[io]'."
        ) from exc
    index = X.index if isinstance(X, pd.DataFrame) else None
    names = getattr(estimator, "target_names_", None)
    if y_pred.ndim == 1:
        return pd.Series(y_pred, index=index, name=None if names is None else names[0])
    columns = None if names is None else pd.Index(names)
    return pd.DataFrame(y_pred, index=index, columns=columns, copy=False)


def labelled(values: np.ndarray, y_true):
    """Per-gene ``values`` as a Series indexed by the columns of ``y_true``
    when it is a DataFrame; ``values`` unchanged otherwise."""
    columns = getattr(y_true, "columns", None)
    if columns is None or not hasattr(y_true, "iloc"):
        return values
    import pandas as pd

    return pd.Series(values, index=columns.copy())
