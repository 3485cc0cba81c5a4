"""Per-gene quality of a fitted model: ``target_scores_``.

At the end of ``fit`` with early stopping, the network estimators predict
early stopping's validation rows (rows the weights were never trained on,
though they chose the epoch kept) and keep each target gene's mean absolute
error and Pearson correlation there, in the genes' own units, as a small
DataFrame indexed by the target names: how far each inferred gene can be
trusted. The rows are read a chunk at a time (arrays in memory, SciPy sparse
matrices, memory maps, HDF5 datasets, column views alike), and the sums are
merged chunk by chunk, in float64, so the validation rows are never held
whole.

It reads the rows through the row sources it is given
(:class:`~sktaaf._data._rows.Rows`), and imports no estimator module. The
model file stores the table as JSON (:func:`encode_scores`,
:func:`decode_scores`, checked by :func:`check_encoded_scores`).
"""

from __future__ import annotations

import math

import numpy as np

from .._data._rows import read_both
from .._utils._arrays import block_size

#: The columns of ``target_scores_``, in order.
SCORE_COLUMNS = ("mae", "r")
#: Where the scores come from (``target_scores_.attrs["source"]``).
VALIDATION_SOURCE = "validation"
# Temporaries per chunk of validation rows (MiB).
_MAX_CHUNK_MIB = 64


class _Moments:
    """Weighted sums of one target block, merged chunk by chunk (Chan et al.):
    weight total, means of truth and prediction, centred (co)moments, the
    absolute error, and whether truth and prediction vary at all."""

    def __init__(self, n_columns: int) -> None:
        self.count = 0.0
        self.mean_true = np.zeros(n_columns)
        self.mean_pred = np.zeros(n_columns)
        self.ss_true = np.zeros(n_columns)
        self.ss_pred = np.zeros(n_columns)
        self.cross = np.zeros(n_columns)
        self.abs_error = np.zeros(n_columns)
        self.first = None  # the first weighed row of (truth, prediction)
        self.varies_true = np.zeros(n_columns, dtype=bool)
        self.varies_pred = np.zeros(n_columns, dtype=bool)

    def update(self, true: np.ndarray, pred: np.ndarray, weight) -> None:
        if weight is not None:  # rows of weight 0 do not count at all
            kept = weight > 0
            true, pred, weight = true[kept], pred[kept], weight[kept]
        if not len(true):
            return
        if self.first is None:
            self.first = (true[0].copy(), pred[0].copy())
        self.varies_true |= (true != self.first[0]).any(axis=0)
        self.varies_pred |= (pred != self.first[1]).any(axis=0)
        true, pred = true.astype(np.float64), pred.astype(np.float64)
        w = np.ones(len(true)) if weight is None else weight.astype(np.float64)
        count = w.sum()
        mean_true, mean_pred = (w @ true) / count, (w @ pred) / count
        self.abs_error += w @ np.abs(true - pred)
        centred_true, centred_pred = true - mean_true, pred - mean_pred
        ss_true = np.einsum("i,ij,ij->j", w, centred_true, centred_true)
        ss_pred = np.einsum("i,ij,ij->j", w, centred_pred, centred_pred)
        cross = np.einsum("i,ij,ij->j", w, centred_true, centred_pred)
        total = self.count + count
        share = self.count * count / total
        delta_true, delta_pred = mean_true - self.mean_true, mean_pred - self.mean_pred
        self.ss_true += ss_true + delta_true**2 * share
        self.ss_pred += ss_pred + delta_pred**2 * share
        self.cross += cross + delta_true * delta_pred * share
        self.mean_true += delta_true * (count / total)
        self.mean_pred += delta_pred * (count / total)
        self.count = total

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        mae = self.abs_error / self.count
        scale = np.sqrt(self.ss_true) * np.sqrt(self.ss_pred)
        defined = self.varies_true & self.varies_pred & (scale > 0)
        r = np.full(len(mae), np.nan)
        r[defined] = np.clip(self.cross[defined] / scale[defined], -1, 1)
        return mae, r


def validation_scores(predict, X, y, rows, sample_weight=None, names=None):
    """Each target's MAE and Pearson r over ``rows`` of ``X`` and ``y``.

    Parameters
    ----------
    predict : callable
        Maps a dense float32 chunk of rows of ``X`` to its predictions, an
        array of shape (n_rows, n_targets).
    X, y : Rows
        The validated training data, as row sources
        (:class:`~sktaaf._data._rows.Rows`; ``y`` 1-D or 2-D).
    rows : ndarray of int
        The validation rows, sorted.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the rows (those of ``fit``): the MAE is the weighted mean,
        r the weighted correlation; rows of weight 0 are left out.
    names : array-like of str, default=None
        The targets' names (``target_names_``); None indexes by position.

    Returns
    -------
    scores : pandas.DataFrame or None
        Columns ``"mae"`` and ``"r"`` (float64), one row per target; its
        ``attrs`` hold ``"source"`` (``"validation"``) and ``"n_samples"``
        (the validation rows of positive weight). None when no row has a
        positive weight.
    """
    rows = np.asarray(rows)
    n_targets = y.n_columns
    row_bytes = 4 * X.shape[1] + 5 * 8 * n_targets
    step = block_size(row_bytes, max(len(rows), 1), _MAX_CHUNK_MIB)
    moments = _Moments(n_targets)
    n_samples = 0
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        x_rows, y_rows = read_both(X, y, chunk)  # a file's views: read once
        pred = np.asarray(predict(x_rows)).reshape(len(chunk), -1)
        weight = None if sample_weight is None else np.asarray(sample_weight)[chunk]
        n_samples += len(chunk) if weight is None else int((weight > 0).sum())
        moments.update(y_rows, pred, weight)
    if n_samples == 0:
        return None
    mae, r = moments.scores()
    return scores_frame(mae, r, names, n_samples)


def scores_frame(mae, r, names, n_samples: int, source: str = VALIDATION_SOURCE):
    """The ``target_scores_`` DataFrame of per-target ``mae`` and ``r``."""
    import pandas as pd  # a core dependency, imported when first needed

    index = pd.RangeIndex(len(mae)) if names is None else pd.Index(list(names))
    frame = pd.DataFrame(
        {"mae": np.asarray(mae, np.float64), "r": np.asarray(r, np.float64)},
        index=index,
    )
    frame.attrs.update(source=source, n_samples=int(n_samples))
    return frame


def combine_scores(parts, names, n_outputs: int):
    """The scores of target blocks (each block's ``target_scores_``, in the
    order of the blocks, which cover the targets in order) as one table;
    None when a block has none."""
    if not parts or any(part is None for part in parts):
        return None
    mae = np.concatenate([part["mae"].to_numpy() for part in parts])
    r = np.concatenate([part["r"].to_numpy() for part in parts])
    if len(mae) != n_outputs:
        return None
    n_samples = min(part.attrs.get("n_samples", 0) for part in parts)
    return scores_frame(mae, r, names, n_samples, parts[0].attrs.get("source"))


def _json_numbers(values) -> list:
    """Numbers for JSON: NaN (undefined r) and infinities (a diverged
    prediction's error) as null."""
    return [float(value) if math.isfinite(value) else None for value in values]


def encode_scores(scores) -> dict | None:
    """``target_scores_`` as a JSON-able dict of a model file (non-finite
    values as null, read back as NaN)."""
    if scores is None:
        return None
    return {
        "source": str(scores.attrs.get("source", VALIDATION_SOURCE)),
        "n_samples": int(scores.attrs.get("n_samples", 0)),
        **{column: _json_numbers(scores[column].tolist()) for column in SCORE_COLUMNS},
    }


def decode_scores(encoded, names, n_outputs: int):
    """The ``target_scores_`` saved by :func:`encode_scores` (None: none)."""
    if encoded is None:
        return None
    values = {
        column: [np.nan if value is None else value for value in encoded[column]]
        for column in SCORE_COLUMNS
    }
    return scores_frame(
        values["mae"], values["r"], names, encoded["n_samples"], encoded["source"]
    )


def check_encoded_scores(encoded, n_outputs: int) -> bool:
    """Whether ``encoded`` is None or a valid :func:`encode_scores` dict for
    ``n_outputs`` targets."""
    if encoded is None:
        return True
    if not isinstance(encoded, dict) or set(encoded) != {
        "source",
        "n_samples",
        *SCORE_COLUMNS,
    }:
        return False
    if not isinstance(encoded["source"], str) or type(encoded["n_samples"]) is not int:
        return False
    return encoded["n_samples"] >= 0 and all(
        isinstance(encoded[column], list)
        and len(encoded[column]) == n_outputs
        and all(
            value is None or (type(value) in (int, float) and math.isfinite(value))
            for value in encoded[column]
        )
        for column in SCORE_COLUMNS
    )
