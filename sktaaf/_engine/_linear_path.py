"""The ridge initialisation of the networks' linear path, in one chunked pass,
and the blend of ``linear_path="blend"`` networks, fitted after training."""

from __future__ import annotations

import numpy as np
import torch

from .._data._rows import chunks_both, read_both
from ..metrics import mean_per_gene_pearson
from ..nn import (
    DEFAULT_RIDGE_ALPHAS,
    RidgeStatistics,
    l1_calibration,
    ridge_gcv,
    ridge_loo,
)

#: The smallest slope of a gene's calibration, in units of its blended
#: score's spread: a gene whose error is smallest at a constant prediction
#: (its median) keeps the order of the samples that the score gives.
MIN_SLOPE = 1e-3
#: The layers' shares of the blend to choose from (the path has the rest),
#: each model in units of its own spread over the training rows: the share
#: whose blend has the highest mean per-gene r on the early-stopping rows,
#: where neither model saw the truth; :data:`DEFAULT_SHARE` without them.
LAYERS_SHARES = (0.2, 0.35, 0.5, 0.65)
DEFAULT_SHARE = 0.5
#: The penalties the blend's ridge chooses from: every fourth of GCV's grid,
#: 1e-3 to 1e4 in half decades (each costs one rows x landmarks x targets
#: product).
LOO_ALPHAS = DEFAULT_RIDGE_ALPHAS[::4]
#: Leave-one-out predictions held at once (rows x targets): the blend is
#: fitted on a sample of the training rows when they have more.
_MAX_LOO_VALUES = 2**22


def ridge_statistics(X, y, sample_weight=None, train_rows=None) -> RidgeStatistics:
    """The ridge regression's sufficient statistics of ``X`` and ``y`` (row
    sources, :class:`~sktaaf._data._rows.Rows`), weighted by
    ``sample_weight``, over ``train_rows`` only (all rows when None): one
    pass over the rows, in the chunks that the column statistics read
    (:meth:`~sktaaf._data._rows.Rows.chunks`; column views of one matrix
    read once for both, :func:`~sktaaf._data._rows.chunks_both`)."""
    n_samples = X.shape[0]
    weight = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    if train_rows is not None:
        kept = np.zeros(n_samples, dtype=bool)
        kept[train_rows] = True
        weight = np.where(kept, weight, 0.0)
    stats = RidgeStatistics(X.shape[1], y.n_columns)
    for start, x_chunk, y_chunk in chunks_both(X, y):
        stats.update(x_chunk, y_chunk, weight[start : start + len(x_chunk)])
    return stats


def init_linear_path(module, X, y, sample_weight=None, split=None):
    """Set ``module``'s linear path to the ridge regression of ``y`` on
    ``X`` on the training rows (not ``split``'s validation rows), its
    penalty chosen by generalised cross-validation; return the penalties.
    A blended path is fitted after training instead (:func:`fit_blend`)."""
    if module.linear_path_mode == "blend":
        return None  # fit reset it to the layers alone
    train_rows = None if split is None else split.train_indices
    stats = ridge_statistics(X, y, sample_weight, train_rows)
    coef, alpha, _ = ridge_gcv(stats)
    module.set_linear_path(stats, coef)
    return alpha


def fit_blend(module, X, y, sample_weight=None, seed=0, valid_rows=None):
    """Fit the blend of a trained ``linear_path="blend"`` network; return the
    ridge penalties (None for other networks).

    The path is the ridge regression of ``y`` on ``X`` over all the rows of
    positive weight, each target's penalty chosen by its exact leave-one-out
    error. On those rows (a seeded sample of them when there are many), the
    path's leave-one-out predictions and the trained layers' predictions,
    each divided by its spread, are weighed into a score (the layers' share
    chosen among :data:`LAYERS_SHARES` by the mean per-gene r on
    ``valid_rows``, the early-stopping rows), and each target's offset and
    slope (at least :data:`MIN_SLOPE`) minimise the absolute error of
    ``offset + slope * score``: the blend is calibrated on predictions that
    did not see the rows' own targets (the layers' barely did: early
    stopping held them back). Rows on which either prediction is not finite
    (values too extreme for float32) are left out; without any row, or with
    a blend that does not fit the network's dtype, the network stays the
    layers alone.
    """
    if getattr(module, "linear_path_mode", None) != "blend":
        return None
    module.reset_blend()
    stats = ridge_statistics(X, y, sample_weight)
    n_outputs = stats.xty.shape[1]
    rows = _blend_rows(X.shape[0], sample_weight, n_outputs, seed)
    x_rows, y_rows = read_both(X, y, rows)
    weight = None if sample_weight is None else np.asarray(sample_weight)[rows]
    coef, alpha, loo, _ = ridge_loo(stats, x_rows, y_rows, weight, LOO_ALPHAS)
    module.set_linear_path(stats, coef)
    location, scale = _output_units(module, n_outputs)
    # Both predictions and the truth in the network's standardised units.
    y_std = np.sqrt(np.clip(stats.yty, 0.0, None) / stats.count)
    y_std = np.where((y_std > 0) & np.isfinite(y_std), y_std, 1.0)
    path = (stats.y_mean + loo * y_std - location) / scale
    layers = (_predict(module, x_rows) - location) / scale
    truth = (y_rows - location) / scale
    finite = np.isfinite(layers).all(axis=1) & np.isfinite(path).all(axis=1)
    if not finite.all():
        # Rows too extreme for float32 (the layers or the path overflow on
        # them) say nothing about the blend: it is fitted on the others,
        # and is the layers alone when there are none.
        if not finite.any():
            return alpha
        rows, layers, path = rows[finite], layers[finite], path[finite]
        truth = truth[finite]
        weight = None if weight is None else weight[finite]
    layers_unit = _inverse_spread(layers, weight)
    path_unit = _inverse_spread(path, weight)
    held_out = np.isin(rows, () if valid_rows is None else valid_rows)
    share = _best_share(
        layers[held_out] * layers_unit, path[held_out] * path_unit, truth[held_out]
    )
    layers_weight, path_weight = share * layers_unit, (1 - share) * path_unit
    score = layers_weight * layers + path_weight * path
    offset, slope = l1_calibration(score, truth, weight, min_slope=MIN_SLOPE)
    blend = np.array([layers_weight, path_weight, offset, slope])
    if torch.isfinite(torch.as_tensor(blend, dtype=module.blend.dtype)).all():
        module.set_blend(*blend)  # (one the buffer's dtype cannot hold: none)
    return alpha


def _best_share(layers: np.ndarray, path: np.ndarray, truth: np.ndarray) -> float:
    """The layers' share whose blend of ``layers`` and ``path`` (each in units
    of its spread) has the highest mean per-gene r against ``truth``: on the
    early-stopping rows, :data:`DEFAULT_SHARE` when there are fewer than 3."""
    if len(truth) < 3:
        return DEFAULT_SHARE
    scores = [
        mean_per_gene_pearson(truth, share * layers + (1 - share) * path)
        for share in LAYERS_SHARES
    ]
    if np.isnan(scores).all():  # no gene varies on those rows
        return DEFAULT_SHARE
    return float(LAYERS_SHARES[int(np.nanargmax(scores))])


def _blend_rows(n_samples: int, sample_weight, n_outputs: int, seed) -> np.ndarray:
    """The rows the blend is fitted on, sorted: those of positive weight, a
    seeded sample of them when they are more than the budget allows."""
    rows = np.arange(n_samples)
    if sample_weight is not None:
        rows = rows[np.asarray(sample_weight) > 0]
    budget = max(1000, _MAX_LOO_VALUES // max(n_outputs, 1))
    if len(rows) > budget:
        rng = np.random.RandomState(seed)
        rows = np.sort(rng.choice(rows, budget, replace=False))
    return rows


def _output_units(module, n_outputs: int) -> tuple[np.ndarray, np.ndarray]:
    """The location and scale of the network's standardised outputs."""
    if not getattr(module, "standardize", False):
        return np.zeros(n_outputs), np.ones(n_outputs)
    return (
        module.y_mean.detach().cpu().double().numpy(),
        module.y_scale.detach().cpu().double().numpy(),
    )


@torch.no_grad()
def _predict(module, x: np.ndarray, step: int = 4096) -> np.ndarray:
    """The network's (evaluation-mode) predictions of rows ``x``, float64."""
    was_training = module.training
    module.eval()
    parameter = next(module.parameters())
    parts = []
    try:
        for start in range(0, len(x), step):
            batch = torch.as_tensor(
                np.ascontiguousarray(x[start : start + step], np.float32),
                device=parameter.device,
            )
            parts.append(module(batch).float().cpu().numpy().astype(np.float64))
    finally:
        module.train(was_training)
    out = np.concatenate(parts) if parts else np.zeros((0, 0))
    return out.reshape(len(x), -1)


def _inverse_spread(values: np.ndarray, weight) -> np.ndarray:
    """One over each column's (weighted) standard deviation; 0 where it is 0."""
    w = np.ones(len(values)) if weight is None else np.asarray(weight, np.float64)
    mean = (w @ values) / w.sum()
    spread = np.sqrt((w @ (values - mean) ** 2) / w.sum())
    tiny = 1e-12 * max(float(spread.max(initial=0.0)), 1e-300)
    return np.where(spread > tiny, 1.0 / np.where(spread > tiny, spread, 1.0), 0.0)
