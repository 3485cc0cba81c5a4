"""The ridge initialisation of the networks' linear path, in one chunked pass."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from . import _standardize
from .nn import RidgeStatistics, ridge_gcv


def ridge_statistics(X, y, sample_weight=None, train_rows=None) -> RidgeStatistics:
    """The ridge regression's sufficient statistics of ``X`` and ``y``,
    weighted by ``sample_weight``, over ``train_rows`` only (all rows when
    None): one pass over the rows, chunk by chunk, as
    :func:`~sktaaf._standardize.column_statistics` reads them."""
    if sp.issparse(X):
        X = X.tocsr()
    if sp.issparse(y):
        y = y.tocsr()
    n_samples = X.shape[0]
    weight = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    if train_rows is not None:
        kept = np.zeros(n_samples, dtype=bool)
        kept[train_rows] = True
        weight = np.where(kept, weight, 0.0)
    n_outputs = 1 if y.ndim == 1 else y.shape[1]
    stats = RidgeStatistics(X.shape[1], n_outputs)
    step = _standardize._CHUNK_ROWS  # read as the column statistics are
    for start in range(0, n_samples, step):
        stop = min(start + step, n_samples)
        stats.update(
            _standardize.chunk_rows(X, start, stop),
            _standardize.chunk_rows(y, start, stop),
            weight[start:stop],
        )
    return stats


def init_linear_path(module, X, y, sample_weight=None, split=None):
    """Set ``module``'s linear path to the ridge regression of ``y`` on
    ``X`` on the training rows (not ``split``'s validation rows), its
    penalty chosen by generalised cross-validation; return the penalties."""
    train_rows = None if split is None else split.train_indices
    stats = ridge_statistics(X, y, sample_weight, train_rows)
    coef, alpha, _ = ridge_gcv(stats)
    module.set_linear_path(stats, coef)
    return alpha
