"""KNNGERegressor: D-GEX's k-nearest-neighbour baseline, in gene space."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import gen_batches
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._utils._arrays import block_size, is_constant
from .._utils._compat import Interval, StrOptions, fit_context

METRICS = ("euclidean", "correlation")
# Blocks never exceed scikit-learn's working_memory, nor these sizes (MiB),
# beyond which they only got slower: at 1,000 landmarks x 10,000 targets x
# 10,000 float32 samples on 2 cores, fit took 1.3-2.6 s in 256 MiB blocks
# against 2.3-5.0 s in one 1 GiB block, and predict 0.3-0.9 s in 4 MiB blocks
# (cache-sized) against 0.8-2.2 s in one.
_FIT_BLOCK_MIB = 256
_PREDICT_BLOCK_MIB = 4


def _prepare_profiles(
    profiles: np.ndarray, metric: str, offset: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Turn gene profiles (columns) into what one matrix product compares.

    For ``"euclidean"``: the profiles minus ``offset`` (a per-sample vector
    subtracted from every gene, which leaves distances unchanged but makes the
    numbers smaller, so that ``|a|^2 + |b|^2 - 2 a.b`` loses less to rounding),
    and their squared norms. For ``"correlation"``: the profiles centred and
    scaled to unit norm, so that a dot product is Pearson's r; constant
    profiles become zero (r = 0 with everything).
    """
    if metric == "euclidean":
        prepared = profiles - offset
        return prepared, np.einsum("ij,ij->j", prepared, prepared)
    prepared = profiles - profiles.mean(axis=0)
    norms = np.sqrt(np.einsum("ij,ij->j", prepared, prepared))
    usable = (norms > 0) & ~is_constant(profiles)
    scale = np.zeros_like(norms)
    np.divide(1, norms, out=scale, where=usable)
    prepared *= scale
    return prepared, None


def _k_smallest(distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the k smallest entries of each row,
    ordered by value, then by index."""
    if k < distances.shape[1]:
        indices = np.argpartition(distances, k - 1, axis=1)[:, :k]
    else:
        indices = np.broadcast_to(np.arange(k), distances.shape)
    values = np.take_along_axis(distances, indices, axis=1)
    order = np.lexsort((indices, values), axis=1)
    return (
        np.take_along_axis(indices, order, axis=1),
        np.take_along_axis(values, order, axis=1),
    )


def nearest_landmarks(
    X: np.ndarray, y: np.ndarray, n_neighbors: int, metric: str
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_neighbors`` landmark columns of ``X`` nearest each column of ``y``.

    Distances between a block of target profiles and all landmark profiles come
    from one matrix product in ``X``'s dtype; blocks of targets stay within
    scikit-learn's ``working_memory`` (and 256 MiB), so memory stays bounded
    whatever the number of targets.

    Returns
    -------
    neighbors : ndarray of shape (n_targets, n_neighbors), dtype intp
        Landmark indices, nearest first.
    distances : ndarray of shape (n_targets, n_neighbors)
        Their distances, of ``X``'s dtype.
    """
    n_samples, n_landmarks = X.shape
    n_targets = y.shape[1]
    offset = X.mean(axis=1, keepdims=True) if metric == "euclidean" else None
    landmarks, landmark_sq_norms = _prepare_profiles(X, metric, offset)

    neighbors = np.empty((n_targets, n_neighbors), dtype=np.intp)
    distances = np.empty((n_targets, n_neighbors), dtype=X.dtype)
    # Per target: its prepared profile, a row of distances, argpartition's row
    # of indices and a boolean profile (the constancy test of "correlation").
    row_bytes = X.dtype.itemsize * (n_samples + n_landmarks) + 8 * n_landmarks
    row_bytes += n_samples
    n_block = block_size(row_bytes, n_targets, _FIT_BLOCK_MIB)
    for block in gen_batches(n_targets, n_block):
        targets, target_sq_norms = _prepare_profiles(
            y[:, block].astype(X.dtype, copy=False), metric, offset
        )
        block_distances = targets.T @ landmarks
        if metric == "euclidean":  # squared, until the k nearest are known
            block_distances *= -2
            block_distances += target_sq_norms[:, np.newaxis]
            block_distances += landmark_sq_norms
            np.maximum(block_distances, 0, out=block_distances)
        else:  # 1 - r, clipped to [0, 2] against rounding
            np.subtract(1, block_distances, out=block_distances)
            np.clip(block_distances, 0, 2, out=block_distances)
        neighbors[block], distances[block] = _k_smallest(block_distances, n_neighbors)
        del targets, block_distances  # before the next block's are made
    if metric == "euclidean":
        np.sqrt(distances, out=distances)
    return neighbors, distances


class KNNGERegressor(RegressorMixin, BaseEstimator):
    """Infer each target gene as the mean of its nearest landmark genes.

    KNN-GE, the k-nearest-neighbour baseline of D-GEX [1]_, works in gene
    space rather than sample space: a gene's *profile* is its column of
    expression values across the training samples. ``fit`` finds, for every
    target gene (column of ``y``), the ``n_neighbors`` landmark genes (columns
    of ``X``) whose training profiles are nearest to the target's; ``predict``
    returns, for every target, the mean of those landmark columns of the new
    ``X``. No coefficient is learned: a target is inferred on the scale of its
    neighbours, so the method suits data where genes share one scale, such as
    genes standardised to zero mean and unit variance (as D-GEX's data are).

    Parameters
    ----------
    n_neighbors : int, default=10
        Number of landmark genes averaged per target gene; at most the number
        of landmark genes.
    metric : {"euclidean", "correlation"}, default="euclidean"
        How far a landmark profile ``a`` lies from a target profile ``b``
        (both of length ``n_samples``):

        - ``"euclidean"``: ``||a - b||``, as in D-GEX. Neighbours must match
          the target in level and spread as well as in shape.
        - ``"correlation"``: ``1 - r(a, b)``, with ``r`` Pearson's correlation
          coefficient: ``0`` for profiles that rise and fall together, ``1``
          for uncorrelated ones, ``2`` for opposite ones. It ignores each
          gene's mean and scale, which the mean of raw landmark values does
          not: use it on standardised genes, or to inspect co-expression. A
          constant profile counts as uncorrelated with everything.

        On genes standardised over the training samples the two give the same
        neighbours, since then ``||a - b||^2 = 2 n_samples (1 - r(a, b))``.

    Attributes
    ----------
    neighbors_ : ndarray of shape (n_outputs_, n_neighbors)
        For each target gene, the column indices in ``X`` of its landmark
        neighbours, nearest first (equal distances in index order; which of
        several landmarks tied at the last place is kept is unspecified).
    distances_ : ndarray of shape (n_outputs_, n_neighbors)
        Their distances under ``metric`` on the training data, of ``X``'s
        dtype.
    n_features_in_ : int
        Number of landmark genes (features) seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the landmark genes seen during fit, when ``X`` had string
        column names (a pandas DataFrame).
    n_outputs_ : int
        Number of target genes.

    See Also
    --------
    sklearn.neighbors.KNeighborsRegressor : Nearest neighbours in sample space:
        averages the targets of the training samples nearest a new sample.
    dgex_baselines : KNN-GE with D-GEX's other comparison methods.

    Notes
    -----
    Fitting costs one ``(n_targets, n_samples) x (n_samples, n_landmarks)``
    matrix product, done in blocks of targets of at most 256 MiB of temporary
    memory (less if scikit-learn's ``working_memory`` setting, see
    :func:`sklearn.config_context`, is lower), in ``X``'s floating dtype
    (float32 or float64; other input is converted to float64) and with ``y``
    converted to the same dtype. Prediction is a sparse averaging product, in
    blocks of samples, and returns ``X``'s floating dtype. In float32,
    landmarks whose distances to a target differ by less than float32's
    rounding (relative differences of ~1e-6) may be ranked either way: fit on
    float64 ``X`` for an exact ranking.

    As no coefficient is fitted, KNN-GE scores poorly (low R^2) on data whose
    targets are not on their landmarks' scale; its ``poor_score`` tag tells
    scikit-learn's common checks so.

    References
    ----------
    .. [1] Y. Chen, Y. Li, R. Narayan, A. Subramanian and X. Xie, "Gene
       expression inference with deep learning", Bioinformatics 32(12),
       1832-1839, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.baselines import KNNGERegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 6))
    >>> y = np.column_stack([X[:, 4] + 0.1 * rng.normal(size=100),
    ...                      (X[:, 1] + X[:, 2]) / 2])
    >>> model = KNNGERegressor(n_neighbors=1).fit(X, y)
    >>> model.neighbors_
    array([[4],
           [1]])
    >>> model.set_params(n_neighbors=2).fit(X, y).neighbors_[1]
    array([1, 2])
    >>> model.predict(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions(set(METRICS))],
    }

    def __init__(self, n_neighbors=10, metric="euclidean"):
        self.n_neighbors = n_neighbors
        self.metric = metric

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Find the nearest landmark genes of every target gene.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_landmarks)
            Expression of the landmark genes (features).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Expression of the target genes.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
        )
        # In X's dtype (a float32 copy of a float64 y, not the reverse); checked
        # again after the conversion, so that a float64 beyond float32's range
        # is an error rather than an infinity.
        y = check_array(y, dtype=X.dtype, ensure_2d=False, input_name="y")
        if self.n_neighbors > self.n_features_in_:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} must be at most the number of "
                "landmark genes (columns of X), but X has n_features = "
                f"{self.n_features_in_}."
            )
        self._target_is_1d = y.ndim == 1
        y = y.reshape(len(y), -1)
        self.n_outputs_ = y.shape[1]
        self.neighbors_, self.distances_ = nearest_landmarks(
            X, y, self.n_neighbors, self.metric
        )
        return self

    def predict(self, X):
        """Average each target gene's landmark neighbours in ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_landmarks)
            Expression of the landmark genes.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs_)
            Inferred target genes, of ``X``'s floating dtype (float32 or
            float64), and 1-D when the estimator was fitted on a 1-D ``y``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        n_targets, n_neighbors = self.neighbors_.shape
        # Row t holds 1 / n_neighbors at the columns of t's neighbours.
        averaging = sparse.csr_array(
            (
                np.full(self.neighbors_.size, 1 / n_neighbors, dtype=X.dtype),
                self.neighbors_.ravel(),
                np.arange(0, self.neighbors_.size + 1, n_neighbors),
            ),
            shape=(n_targets, self.n_features_in_),
        )
        y_pred = np.empty((len(X), n_targets), dtype=X.dtype)
        # Per sample: a copy of its row of X and a transposed row of output.
        row_bytes = X.dtype.itemsize * (self.n_features_in_ + n_targets)
        n_block = block_size(row_bytes, len(X), _PREDICT_BLOCK_MIB)
        for block in gen_batches(len(X), n_block):
            y_pred[block] = (averaging @ X[block].T).T
        return y_pred.ravel() if self._target_is_1d else y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        tags.input_tags.allow_nan = False
        # No coefficient is fitted: on generic data, whose targets are not on
        # the features' scale, R^2 is low by design.
        tags.regressor_tags.poor_score = True
        return tags
