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

__all__ = ["DEFAULT_RIDGE_ALPHAS", "LinearPath", "RidgeStatistics", "ridge_gcv"]

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
        xc = x - x_mean.astype(x.dtype)
        yc = y - y_mean.astype(y.dtype)
        wx = (xc * weight[:, None].astype(x.dtype)).astype(np.float64)
        xtx = wx.T @ xc.astype(np.float64)
        xty = wx.T @ yc.astype(np.float64)
        yty = np.einsum("i,ij,ij->j", weight, yc, yc)
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
    n_inputs, n_outputs = stats.xty.shape
    x_scale = np.sqrt(np.clip(np.diag(stats.xtx), 0.0, None))
    y_scale = np.sqrt(np.clip(stats.yty, 0.0, None))
    x_keep = x_scale > 1e-12 * max(float(x_scale.max(initial=0.0)), 1e-300)
    y_ok = y_scale > 0
    xs = np.where(x_keep, x_scale, 1.0)
    ys = np.where(y_ok, y_scale, 1.0)
    # Correlation-scaled: unit sum of squares per column, times the count.
    corr = stats.xtx[np.ix_(x_keep, x_keep)] / np.outer(xs[x_keep], xs[x_keep])
    cross = stats.xty[x_keep] / np.outer(xs[x_keep], ys)
    count = stats.count
    eigenvalues, eigenvectors = np.linalg.eigh(corr * count)
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    projected = eigenvectors.T @ (cross * count)  # V^T X^T Y, (k, t)
    total = count * np.where(y_ok, 1.0, 0.0)  # each target's sum of squares
    n_rows = max(stats.n_rows, 2)
    penalties = alphas * count
    gcv = np.empty((len(alphas), n_outputs))
    squares = projected**2
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
        best = np.full(n_outputs, int(np.argmin(gcv.mean(axis=1))))
    chosen = penalties[best]
    inverse = 1.0 / (eigenvalues[:, None] + chosen[None, :])
    coef_kept = eigenvectors @ (inverse * projected)
    # Back from correlation-scaled to standardised (unit variance) units.
    coef = np.zeros((n_inputs, n_outputs))
    coef[x_keep] = coef_kept
    coef[:, ~y_ok] = 0.0
    return coef, alphas[best], gcv


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
        weight = (raw * s[:, None]).T
        bias = (stats.y_mean - c) / r + (a - stats.x_mean) @ raw
        self.weight.copy_(torch.as_tensor(weight, dtype=self.weight.dtype))
        self.bias.copy_(torch.as_tensor(bias, dtype=self.bias.dtype))
        self.scale.fill_(1.0)
