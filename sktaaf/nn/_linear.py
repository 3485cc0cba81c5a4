"""The linear path of the networks and its closed-form ridge initialisation.

A network with a linear path computes ``network(z) + z @ W.T + b`` (in its
standardised units): the ridge regression of the targets on the inputs,
trained jointly with (or, frozen, beside) the nonlinear part. The ridge
solution is computed from sufficient statistics only (``X^T X``, ``X^T Y``
and each target's sum of squares, all centred): one ``d x d`` symmetric
eigendecomposition gives the solution and its generalised cross-validation
(GCV) error for every penalty of a grid and every target, without any
``n x n`` matrix, for fewer samples than inputs as well.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = [
    "DEFAULT_RIDGE_ALPHAS",
    "LinearPath",
    "RidgeStatistics",
    "l1_calibration",
    "ridge_gcv",
    "ridge_loo",
]

#: The penalties GCV chooses from, relative to the number of samples (the
#: penalty on correlation-scaled inputs): 1e-3 to 1e4, 8 per decade.
DEFAULT_RIDGE_ALPHAS = np.logspace(-3, 4, 57)


class RidgeStatistics:
    """Weighted, centred sufficient statistics of a ridge regression,
    accumulated chunk by chunk.

    Means, ``X^T X``, ``X^T Y`` and each target's sum of squares are merged
    with Chan et al.'s pairwise update, in float64 (only the ``d x d``,
    ``d x t`` and length-``t`` results are float64; chunks stay as given).

    Parameters
    ----------
    n_inputs : int
        Number of inputs (landmark genes), ``d``.
    n_outputs : int
        Number of targets, ``t``.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.nn import RidgeStatistics
    >>> rng = np.random.RandomState(0)
    >>> X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 2))
    >>> stats = RidgeStatistics(3, 2)
    >>> stats.update(X[:4], Y[:4]); stats.update(X[4:], Y[4:])
    >>> bool(np.allclose(stats.xtx, np.cov(X.T, bias=True) * 10))
    True
    """

    def __init__(self, n_inputs: int, n_outputs: int) -> None:
        self.count = 0.0
        self.n_rows = 0  # rows of positive weight
        self.x_mean = np.zeros(n_inputs)
        self.y_mean = np.zeros(n_outputs)
        self.xtx = np.zeros((n_inputs, n_inputs))
        self.xty = np.zeros((n_inputs, n_outputs))
        self.yty = np.zeros(n_outputs)

    def update(self, x, y, weight=None) -> None:
        """Add rows to the statistics.

        Parameters
        ----------
        x : array-like of shape (n_rows, n_inputs)
            Inputs of the rows.
        y : array-like of shape (n_rows, n_outputs)
            Targets of the rows.
        weight : array-like of shape (n_rows,), default=None
            Weight of each row (rows of weight 0 count for nothing); all 1
            when None.
        """
        x = np.asarray(x)
        y = np.asarray(y)
        if weight is None:
            weight = np.ones(len(x))
        weight = np.asarray(weight, dtype=np.float64)
        count = float(weight.sum())
        if count <= 0:
            return
        x_mean = (weight @ x) / count
        y_mean = (weight @ y) / count
        with np.errstate(over="ignore", invalid="ignore"):
            xtx, xty, yty = _centred_products(x, y, x_mean, y_mean, weight)
        if not all(np.isfinite(part).all() for part in (xtx, xty, yty)):
            # Values too far apart for their dtype (float32's largest minus
            # its smallest overflows): centred in float64 instead.
            xtx, xty, yty = _centred_products(
                x.astype(np.float64), y.astype(np.float64), x_mean, y_mean, weight
            )
        total = self.count + count
        dx, dy = x_mean - self.x_mean, y_mean - self.y_mean
        factor = self.count * count / total
        self.xtx += xtx + factor * np.outer(dx, dx)
        self.xty += xty + factor * np.outer(dx, dy)
        self.yty += yty + factor * dy**2
        self.x_mean += dx * (count / total)
        self.y_mean += dy * (count / total)
        self.count = total
        self.n_rows += int(np.count_nonzero(weight))


def _centred_products(x, y, x_mean, y_mean, weight):
    """The weighted ``X^T X``, ``X^T Y`` and the targets' sums of squares of
    a chunk, centred at the means, in float64 (the deviations in the
    chunk's dtype)."""
    xc = x - x_mean.astype(x.dtype)
    yc = y - y_mean.astype(y.dtype)
    wx = (xc * weight[:, None].astype(x.dtype)).astype(np.float64)
    xtx = wx.T @ xc.astype(np.float64)
    xty = wx.T @ yc.astype(np.float64)
    yty = np.einsum("i,ij,ij->j", weight, yc, yc)
    return xtx, xty, yty


def ridge_gcv(
    stats: RidgeStatistics, alphas=None, per_target: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ridge regression of standardised targets on standardised inputs,
    its penalty chosen by generalised cross-validation.

    Inputs and targets are scaled to unit weighted variance (columns that do
    not vary are left out), so that the penalty is relative: ``alphas`` are
    multiplied by the total weight. GCV scores each penalty ``a`` of each
    target by ``RSS(a) / (1 - df(a) / n)^2``, with ``df(a)`` the trace of the
    hat matrix (plus one for the intercept) and ``n`` the rows of positive
    weight, from the eigendecomposition of the inputs' correlation matrix.

    Parameters
    ----------
    stats : RidgeStatistics
        The accumulated statistics, of at least two rows.
    alphas : array-like of float, default=None
        Relative penalties to choose from; :data:`DEFAULT_RIDGE_ALPHAS` by
        default.
    per_target : bool, default=True
        Choose a penalty for each target (True) or one for all (False).

    Returns
    -------
    coef : ndarray of shape (n_inputs, n_outputs)
        Coefficients from standardised inputs to standardised targets (zero
        rows for inputs that do not vary).
    alpha : ndarray of shape (n_outputs,)
        The chosen relative penalty of each target.
    gcv : ndarray of shape (n_alphas, n_outputs)
        The GCV error of each penalty and target (in standardised units).

    See Also
    --------
    RidgeStatistics : The statistics, gathered a chunk of rows at a time.
    sklearn.linear_model.RidgeCV : Ridge with the penalty chosen by
        leave-one-out cross-validation, from the data in memory.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.nn import RidgeStatistics, ridge_gcv
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = X @ rng.normal(size=(5, 2)) + 0.1 * rng.normal(size=(200, 2))
    >>> stats = RidgeStatistics(5, 2)
    >>> stats.update(X, Y)
    >>> coef, alpha, gcv = ridge_gcv(stats)
    >>> coef.shape, alpha.shape
    ((5, 2), (2,))
    """
    alphas = np.asarray(DEFAULT_RIDGE_ALPHAS if alphas is None else alphas, float)
    problem = _EigenProblem(stats)
    count = stats.count
    total = count * np.where(problem.y_ok, 1.0, 0.0)  # each target's sum of squares
    n_rows = max(stats.n_rows, 2)
    penalties = alphas * count
    gcv = np.empty((len(alphas), stats.xty.shape[1]))
    squares = problem.projected**2
    eigenvalues = problem.eigenvalues
    for index, penalty in enumerate(penalties):
        shrink = eigenvalues / (eigenvalues + penalty)
        explained = (
            (eigenvalues + 2 * penalty) / (eigenvalues + penalty) ** 2
        ) @ squares
        rss = np.clip(total - explained, 0.0, None) / count * n_rows
        dof = shrink.sum() + 1.0
        gcv[index] = rss / n_rows / max(1.0 - dof / n_rows, 1e-6) ** 2
    if per_target:
        best = np.argmin(gcv, axis=0)
    else:
        best = np.full(gcv.shape[1], int(np.argmin(gcv.mean(axis=1))))
    return problem.coef(penalties[best]), alphas[best], gcv


#: float32's resolution and the square root of its smallest normal number.
_EPS32 = float(np.finfo(np.float32).eps)
_SQRT_TINY32 = float(np.finfo(np.float32).tiny) ** 0.5


def _varies_in_float32(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Whether each column of float32 data with this mean and standard
    deviation varies, by the networks' standardisation's rule (the scale
    1 of ``Rows.column_statistics`` in ``sktaaf._data._rows``): a finite
    deviation above float32 rounding of the mean and not too small to
    divide by. The
    networks see the other columns unscaled, so that a ridge weight on them
    would overflow float32 (a column varying by 1e-39, say) or be noise."""
    with np.errstate(invalid="ignore", over="ignore"):
        resolved = (std > 10 * _EPS32 * np.abs(mean)) & (std >= _SQRT_TINY32)
        return np.isfinite(std) & resolved


class _EigenProblem:
    """The ridge problem of ``stats`` in standardised units (unit weighted
    variance; inputs that do not vary left out), diagonalised once: the
    eigenvalues and eigenvectors of ``Z^T W Z`` and the projection
    ``V^T Z^T W Y`` from which every penalty's solution follows."""

    def __init__(self, stats: RidgeStatistics) -> None:
        self.stats = stats
        x_scale = np.sqrt(np.clip(np.diag(stats.xtx), 0.0, None))
        y_scale = np.sqrt(np.clip(stats.yty, 0.0, None))
        # Relative to the largest finite scale (an input whose values overflow
        # float32 arithmetic has an infinite one, and is left out).
        largest = float(x_scale.max(initial=0.0, where=np.isfinite(x_scale)))
        self.x_keep = x_scale > 1e-12 * max(largest, 1e-300)
        self.x_keep &= _varies_in_float32(stats.x_mean, x_scale / np.sqrt(stats.count))
        self.y_ok = (y_scale > 0) & np.isfinite(y_scale)
        xs = np.where(self.x_keep, x_scale, 1.0)
        ys = np.where(self.y_ok, y_scale, 1.0)
        keep = self.x_keep
        # Correlation-scaled: unit sum of squares per column, times the count.
        corr = stats.xtx[np.ix_(keep, keep)] / np.outer(xs[keep], xs[keep])
        cross = stats.xty[keep] / np.outer(xs[keep], ys)
        eigenvalues, self.eigenvectors = np.linalg.eigh(corr * stats.count)
        self.eigenvalues = np.clip(eigenvalues, 0.0, None)
        self.projected = self.eigenvectors.T @ (cross * stats.count)  # (k, t)
        # Unit-variance units: z = (x - mean) / x_std, and likewise for y.
        self.x_std = xs / np.sqrt(stats.count)
        self.y_std = ys / np.sqrt(stats.count)

    def coef(self, penalties: np.ndarray) -> np.ndarray:
        """The solution for each target's penalty, (n_inputs, n_outputs)."""
        inverse = 1.0 / (self.eigenvalues[:, None] + penalties[None, :])
        coef = np.zeros(self.stats.xty.shape)
        coef[self.x_keep] = self.eigenvectors @ (inverse * self.projected)
        coef[:, ~self.y_ok] = 0.0
        return coef

    def standardize(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Rows of ``x`` and ``y`` in the problem's unit-variance units."""
        stats = self.stats
        z = (np.asarray(x, np.float64) - stats.x_mean)[:, self.x_keep]
        z /= self.x_std[self.x_keep]
        t = (np.asarray(y, np.float64).reshape(len(z), -1) - stats.y_mean) / self.y_std
        return z, t


def ridge_loo(stats: RidgeStatistics, x, y, weight=None, alphas=None):
    """The ridge regression of standardised targets on standardised inputs,
    each target's penalty chosen by its exact leave-one-out error on rows
    the statistics were gathered from.

    Leaving row ``i`` out changes its prediction to
    ``(f_i - h_i t_i) / (1 - h_i)`` (centred), with ``f_i`` its fitted value,
    ``t_i`` its target and ``h_i`` the hat matrix's diagonal, all from the
    eigendecomposition of the statistics: exact for every row given, with
    no refit. Given all the rows, this is :class:`~sklearn.linear_model.RidgeCV`'s
    choice (``alpha_per_target=True``, on standardised inputs); given a
    sample of them, the mean over the sample estimates each penalty's error.

    Parameters
    ----------
    stats : RidgeStatistics
        The statistics of all the training rows.
    x : array-like of shape (n_rows, n_inputs)
        Rows that ``stats`` counts (all of them, or a sample).
    y : array-like of shape (n_rows, n_outputs)
        Their targets.
    weight : array-like of shape (n_rows,), default=None
        Their weights in ``stats`` (all 1 when None).
    alphas : array-like of float, default=None
        Relative penalties to choose from; :data:`DEFAULT_RIDGE_ALPHAS`.

    Returns
    -------
    coef : ndarray of shape (n_inputs, n_outputs)
        Coefficients from standardised inputs to standardised targets, as
        :func:`ridge_gcv` returns them.
    alpha : ndarray of shape (n_outputs,)
        The chosen relative penalty of each target.
    loo : ndarray of shape (n_rows, n_outputs)
        Each given row's leave-one-out prediction with its target's chosen
        penalty, in standardised units (unit variance).
    target : ndarray of shape (n_rows, n_outputs)
        The rows' targets in the same units.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.nn import RidgeStatistics, ridge_loo
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(50, 4))
    >>> Y = X @ rng.normal(size=(4, 2)) + rng.normal(size=(50, 2))
    >>> stats = RidgeStatistics(4, 2)
    >>> stats.update(X, Y)
    >>> coef, alpha, loo, target = ridge_loo(stats, X, Y)
    >>> coef.shape, loo.shape
    ((4, 2), (50, 2))
    """
    alphas = np.asarray(DEFAULT_RIDGE_ALPHAS if alphas is None else alphas, float)
    problem = _EigenProblem(stats)
    z, target = problem.standardize(x, y)
    weight = np.ones(len(z)) if weight is None else np.asarray(weight, np.float64)
    projected_rows = z @ problem.eigenvectors  # (m, k)
    squares = projected_rows**2
    penalties = alphas * stats.count
    n_outputs = target.shape[1]
    best = np.full(n_outputs, np.inf)
    chosen = np.zeros(n_outputs)
    loo = np.zeros_like(target)
    for penalty in penalties:
        inverse = 1.0 / (problem.eigenvalues + penalty)
        fitted = projected_rows @ (inverse[:, None] * problem.projected)
        hat = weight * (squares @ inverse + 1.0 / stats.count)
        left_out = (fitted - hat[:, None] * target) / np.clip(1.0 - hat, 1e-12, None)[
            :, None
        ]
        error = weight @ (left_out - target) ** 2
        better = error < best
        best[better] = error[better]
        chosen[better] = penalty
        loo[:, better] = left_out[:, better]
    # A target whose error is nowhere finite (rows too extreme for float64)
    # gets the strongest penalty: the solution nearest its mean.
    chosen[np.isinf(best)] = penalties[-1]
    chosen[~problem.y_ok] = penalties[0]
    return problem.coef(chosen), chosen / stats.count, loo, target


def l1_calibration(score, target, weight=None, min_slope=0.0, n_iter=50):
    """Each column's offset and slope minimising the absolute error of
    ``offset + slope * score`` against ``target``, the slope at least
    ``min_slope``: least absolute deviations by iteratively reweighted
    least squares, every column at once.

    Parameters
    ----------
    score, target : ndarray of shape (n_rows, n_columns)
        Predictions to calibrate (e.g. leave-one-out predictions) and the
        truth.
    weight : ndarray of shape (n_rows,), default=None
        Weight of each row (all 1 when None).
    min_slope : float, default=0.0
        The smallest slope allowed.
    n_iter : int, default=50
        Reweighting iterations.

    Returns
    -------
    offset : ndarray of shape (n_columns,)
        Each column's offset.
    slope : ndarray of shape (n_columns,)
        Each column's slope, at least ``min_slope``.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.nn import l1_calibration
    >>> s = np.arange(10.0)[:, None]
    >>> t = 1 + 2 * s
    >>> t[0] = 100.0  # an outlier barely moves the fit
    >>> offset, slope = l1_calibration(s, t)
    >>> bool(np.allclose([offset[0], slope[0]], [1, 2], atol=1e-2))
    True
    """
    score = np.asarray(score, np.float64)
    target = np.asarray(target, np.float64)
    rows = np.ones(len(score)) if weight is None else np.asarray(weight, np.float64)
    scale = max(float(np.abs(target).mean()), 1e-12)
    w = np.broadcast_to(rows[:, None], target.shape).copy()
    offset = np.zeros(target.shape[1])
    slope = np.zeros(target.shape[1])
    for _ in range(n_iter):
        total = np.maximum(w.sum(0), 1e-300)
        mean_s = (w * score).sum(0) / total
        mean_t = (w * target).sum(0) / total
        ds = score - mean_s
        spread = (w * ds * ds).sum(0)
        covariance = (w * ds * (target - mean_t)).sum(0)
        slope = np.where(spread > 0, covariance / np.where(spread > 0, spread, 1), 0)
        slope = np.maximum(slope, min_slope)
        offset = mean_t - slope * mean_s
        residual = np.abs(target - offset - slope * score)
        w = rows[:, None] / np.maximum(residual, 1e-6 * scale)
    return offset, slope


class LinearPath(nn.Module):
    """The linear part of a network: ``scale * (z @ weight.T + bias)``.

    Starts at zero (``scale`` at one); :meth:`set_ridge` sets ``weight`` and
    ``bias`` to a ridge solution given in standardised units and maps it
    into the units the network works in. ``scale``, one per output, is
    always trained: it lets the network weigh the linear path per output
    (e.g. shrink it for genes whose linear prediction hurts the loss).

    Parameters
    ----------
    n_inputs, n_outputs : int
        Sizes of the input and of the output.
    trainable : bool, default=True
        Train ``weight`` and ``bias`` with the network (True) or keep them
        as set (False).

    Examples
    --------
    >>> import torch
    >>> from sktaaf.nn import LinearPath
    >>> path = LinearPath(3, 2)
    >>> path(torch.ones(4, 3)).shape
    torch.Size([4, 2])
    """

    def __init__(self, n_inputs: int, n_outputs: int, trainable: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            torch.zeros(n_outputs, n_inputs), requires_grad=trainable
        )
        self.bias = nn.Parameter(torch.zeros(n_outputs), requires_grad=trainable)
        self.scale = nn.Parameter(torch.ones(n_outputs))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(z, self.weight, self.bias) * self.scale

    @torch.no_grad()
    def set_ridge(
        self,
        stats: RidgeStatistics,
        coef: np.ndarray,
        x_location=None,
        x_scale=None,
        y_location=None,
        y_scale=None,
    ) -> None:
        """Set the path to a ridge solution, in the units of a network that
        sees ``(x - x_location) / x_scale`` and predicts
        ``(y - y_location) / y_scale`` (raw units when not given).

        Parameters
        ----------
        stats : RidgeStatistics
            The statistics the solution was computed from.
        coef : ndarray of shape (n_inputs, n_outputs)
            The solution in standardised units, from :func:`ridge_gcv`.
        x_location, x_scale : array-like of shape (n_inputs,), default=None
            The network's input standardisation (none when None).
        y_location, y_scale : array-like of shape (n_outputs,), default=None
            The network's output standardisation (none when None).
        """
        n_inputs, n_outputs = coef.shape
        sx = np.sqrt(np.clip(np.diag(stats.xtx), 0.0, None) / stats.count)
        sy = np.sqrt(np.clip(stats.yty, 0.0, None) / stats.count)
        sx = np.where(sx > 0, sx, 1.0)
        a = np.zeros(n_inputs) if x_location is None else np.asarray(x_location, float)
        s = np.ones(n_inputs) if x_scale is None else np.asarray(x_scale, float)
        c = np.zeros(n_outputs) if y_location is None else np.asarray(y_location, float)
        r = np.ones(n_outputs) if y_scale is None else np.asarray(y_scale, float)
        # y = my + sy * coef^T (x - mx) / sx, with x = a + s z, t = (y - c) / r.
        raw = coef * (sy / r)[None, :] / sx[:, None]  # (d, t), x -> t units
        # An input of infinite scale reaches the network as 0: no weight.
        weight = (raw * np.where(np.isfinite(s), s, 0.0)[:, None]).T
        bias = (stats.y_mean - c) / r + (a - stats.x_mean) @ raw
        weight = torch.as_tensor(weight, dtype=self.weight.dtype)
        bias = torch.as_tensor(bias, dtype=self.bias.dtype)
        # An output whose solution overflows the network's dtype (inputs or
        # targets too extreme for it) gets its mean, the path of no input.
        broken = ~(torch.isfinite(weight).all(dim=1) & torch.isfinite(bias))
        if broken.any():
            mean = torch.as_tensor((stats.y_mean - c) / r, dtype=self.bias.dtype)
            weight[broken] = 0.0
            bias[broken] = torch.nan_to_num(mean[broken], posinf=0.0, neginf=0.0)
        self.weight.copy_(weight)
        self.bias.copy_(bias)
        self.scale.fill_(1.0)
