"""Preparing expression profiles: quantile normalisation and near-duplicate removal.

Per-gene standardisation is :class:`sklearn.preprocessing.StandardScaler`;
sktaaf does not reimplement it.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._utils._compat import Interval, StrOptions, fit_context, validate_params

__all__ = ["QuantileNormalizer", "drop_near_duplicates"]

# Rows sorted per chunk in QuantileNormalizer: bounds the int64 sort order and
# the float64 temporaries to a few tens of MB for ~1,000 genes.
_QN_CHUNK_ELEMENTS = 2**22


def _row_chunks(n_samples: int, n_features: int):
    rows = max(1, _QN_CHUNK_ELEMENTS // max(n_features, 1))
    for start in range(0, n_samples, rows):
        yield slice(start, min(start + rows, n_samples))


def _quantile_map(X: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Replace each row's values by ``reference`` at their ranks, ties averaged.

    ``reference`` is ascending, float64, of length ``X.shape[1]``. Tied values
    of a row spanning the sorted positions ``a..b`` all get the mean of
    ``reference[a..b]``, computed from cumulative sums.
    """
    n_samples, n_features = X.shape
    order = np.argsort(X, axis=1, kind="stable")
    sorted_values = np.take_along_axis(X, order, axis=1)
    mapped = np.empty(X.shape, dtype=X.dtype)
    mapped[:] = reference
    # Rows with ties (a value equal to its sorted neighbour) take the slow path.
    new_value = sorted_values[:, 1:] != sorted_values[:, :-1]
    tied_rows = np.flatnonzero(~new_value.all(axis=1))
    if tied_rows.size:
        new_value = new_value[tied_rows]
        true_column = np.ones((tied_rows.size, 1), dtype=bool)
        positions = np.arange(n_features)
        # First and last sorted position of each value's run of ties.
        first = np.where(np.hstack([true_column, new_value]), positions, 0)
        np.maximum.accumulate(first, axis=1, out=first)
        last = np.where(np.hstack([new_value, true_column]), positions, n_features)
        last = np.minimum.accumulate(last[:, ::-1], axis=1)[:, ::-1]
        cumulative = np.concatenate([[0.0], np.cumsum(reference)])
        run_means = (cumulative[last + 1] - cumulative[first]) / (last - first + 1)
        mapped[tied_rows] = run_means
    out = np.empty_like(mapped)
    np.put_along_axis(out, order, mapped, axis=1)
    return out


class QuantileNormalizer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Sample-wise quantile normalisation to a reference learned in ``fit``.

    Quantile normalisation [1]_ gives every expression profile (row) the same
    distribution of values, keeping the order of its genes: ``fit`` learns the
    reference distribution, the mean of the sorted training profiles
    (``reference_[r]`` is the mean over samples of each sample's r-th smallest
    value); ``transform`` replaces each value of a profile by the reference
    value at its rank within that profile. Fitting and transforming the same
    data is classical quantile normalisation, as applied to the GEO data of
    D-GEX [2]_; transforming new samples maps them onto the training reference,
    as a deployed model needs.

    Tied values within a profile, which occupy a run of ranks ``a..b``, all
    get the mean of ``reference_[a..b]``, so a profile's mean is always
    that of the reference. Tie-free profiles take a fully vectorised path.

    This transformer works across genes, within each sample. Scaling each
    gene (column) across samples is a different step: use
    :class:`sklearn.preprocessing.StandardScaler` for per-gene standardisation.

    Attributes
    ----------
    reference_ : ndarray of shape (n_features_in_,)
        The reference distribution, ascending, in float64.
    n_features_in_ : int
        Number of features (genes) seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when ``X`` had string column
        names (a pandas DataFrame).

    See Also
    --------
    sklearn.preprocessing.StandardScaler : Per-gene standardisation.
    sklearn.preprocessing.QuantileTransformer : Maps each *feature* (column) to
        a uniform or normal distribution; a different, per-gene operation.
    drop_near_duplicates : Remove near-duplicate profiles.

    References
    ----------
    .. [1] B. M. Bolstad, R. A. Irizarry, M. Åstrand and T. P. Speed, "A
       comparison of normalization methods for high density oligonucleotide
       array data based on variance and bias", Bioinformatics 19(2), 185-193,
       2003.
    .. [2] Y. Chen, Y. Li, R. Narayan, A. Subramanian and X. Xie, "Gene
       expression inference with deep learning", Bioinformatics 32(12),
       1832-1839, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.preprocessing import QuantileNormalizer
    >>> X = np.array([[5.0, 2.0, 3.0],
    ...               [4.0, 1.0, 4.0],
    ...               [3.0, 4.0, 6.0]])
    >>> normalizer = QuantileNormalizer().fit(X)
    >>> normalizer.reference_
    array([2.        , 3.66666667, 5.        ])

    Every profile now has the reference's values, in its own order; the tied
    4s of the second row share the mean of the two upper reference values:

    >>> normalizer.transform(X)
    array([[5.        , 2.        , 3.66666667],
           [4.33333333, 2.        , 4.33333333],
           [2.        , 3.66666667, 5.        ]])
    >>> normalizer.transform([[10.0, 20.0, 0.0]])
    array([[3.66666667, 5.        , 2.        ]])
    """

    _parameter_constraints: dict = {}

    def __init__(self):
        pass

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the reference distribution: the mean of the sorted profiles.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Expression profiles, one sample per row.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted normalizer.
        """
        X = validate_data(self, X, dtype=(np.float64, np.float32))
        n_samples, n_features = X.shape
        total = np.zeros(n_features, dtype=np.float64)
        for rows in _row_chunks(n_samples, n_features):
            total += np.sort(X[rows], axis=1).sum(axis=0, dtype=np.float64)
        self.reference_ = total / n_samples
        return self

    def transform(self, X):
        """Map each profile onto the reference distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Expression profiles, one sample per row.

        Returns
        -------
        X_normalized : ndarray of shape (n_samples, n_features)
            The normalised profiles, of X's floating dtype (float32 stays
            float32).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        out = np.empty(X.shape, dtype=X.dtype)
        for rows in _row_chunks(*X.shape):
            out[rows] = _quantile_map(X[rows], self.reference_)
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.allow_nan = False
        return tags


# ---------------------------------------------------------------- duplicates
def _squared_norms(block: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", block, block, dtype=np.float64)


def _exact_squared_distances(X, rows_a, rows_b, chunk=1024) -> np.ndarray:
    """Squared distances between rows ``rows_a[k]`` and ``rows_b[k]``, in float64."""
    out = np.empty(len(rows_a), dtype=np.float64)
    for start in range(0, len(rows_a), chunk):
        part = slice(start, start + chunk)
        diff = np.asarray(X[rows_a[part]], dtype=np.float64) - np.asarray(
            X[rows_b[part]], dtype=np.float64
        )
        out[part] = np.einsum("ij,ij->i", diff, diff)
    return out


def _finite_column_mean(X, block_size: int) -> np.ndarray:
    """The column means of ``X`` in its dtype, read ``block_size`` rows at a
    time (``X`` may be a memory map); raises if ``X`` holds NaN or infinity."""
    n_samples, n_features = X.shape
    total = np.zeros(n_features, dtype=np.float64)
    for start in range(0, n_samples, block_size):
        block = np.asarray(X[start : start + block_size], dtype=np.float64)
        if not np.isfinite(block).all():
            raise ValueError(
                "X contains NaN or infinity (in rows "
                f"{start}..{start + len(block) - 1}); drop_near_duplicates needs "
                "finite values."
            )
        total += block.sum(axis=0)
    return (total / max(n_samples, 1)).astype(X.dtype)


def _squared_threshold(threshold: float) -> float:
    """``threshold**2`` in float64, at least the smallest subnormal."""
    # Squared, a huge threshold overflows (every finite distance is below it)
    # and a tiny one underflows to 0, which must still drop exact duplicates.
    with np.errstate(over="ignore", under="ignore"):
        threshold2 = float(np.float64(threshold) ** 2)
    return max(threshold2, float(np.finfo(np.float64).smallest_subnormal))


@dataclass(frozen=True)
class _PairFinder:
    """Finds the pairs of rows of ``X`` closer than a threshold, from
    column-centred matrix products confirmed by exact distances."""

    X: np.ndarray
    mean: np.ndarray
    threshold2: float
    # Bound on the rounding error of |a|^2 + |b|^2 - 2 a.b in X's dtype, per
    # unit of |a|^2 + |b|^2 (a generous multiple of n_features * eps).
    tolerance: float

    @classmethod
    def for_data(cls, X, threshold: float, block_size: int) -> _PairFinder:
        # Centring leaves distances unchanged and shrinks the norms, hence the
        # cancellation error of the matrix-product distances.
        return cls(
            X=X,
            mean=_finite_column_mean(X, block_size),
            threshold2=_squared_threshold(threshold),
            tolerance=4 * X.shape[1] * float(np.finfo(X.dtype).eps),
        )

    def centred(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.X[rows], dtype=self.X.dtype) - self.mean

    def close_pairs(self, rows_a, block_a, norms_a, rows_b, block_b, norms_b, upper):
        """Pairs (i, j) of positions in rows_a, rows_b closer than threshold.

        The estimate |a|^2 + |b|^2 - 2 a.b < threshold^2 + tolerance * (|a|^2 +
        |b|^2), rearranged as a.b - c_b > r_a to take two passes over the
        products; ``upper`` keeps only i < j (a block against itself). Tested
        as >=: duplicates at the centre (a = b = 0) have 0 on the left, and r_a
        rounds to -0.0 for tiny thresholds.
        """
        dtype = self.X.dtype
        shrink = 1.0 - self.tolerance
        products = block_a @ block_b.T
        products -= (0.5 * shrink * norms_b).astype(dtype)
        limits = (0.5 * (shrink * norms_a - self.threshold2)).astype(dtype)
        close = products >= limits[:, None]
        if upper:
            close = np.triu(close, k=1)
        hit_rows = np.flatnonzero(close.any(axis=1))  # cheaper than a full nonzero
        i, j = np.nonzero(close[hit_rows])
        i = hit_rows[i]
        if i.size:
            exact = _exact_squared_distances(self.X, rows_a[i], rows_b[j])
            confirmed = exact < self.threshold2
            i, j = i[confirmed], j[confirmed]
        return i, j


def _drop_close_to(pairs: _PairFinder, rows, block, norms, alive, other_rows) -> None:
    """Mark dead the live samples of a block that lie close to ``other_rows``
    (earlier samples: the kept ones, or all of them)."""
    candidates = np.flatnonzero(alive)
    if other_rows.size == 0 or candidates.size == 0:
        return
    other = pairs.centred(other_rows)
    i, _ = pairs.close_pairs(
        rows[candidates],
        block[candidates],
        norms[candidates],
        other_rows,
        other,
        _squared_norms(other),
        upper=False,
    )
    alive[candidates[i]] = False


def _drop_within_block(pairs: _PairFinder, rows, block, norms, alive, keep_all):
    """Mark dead the samples of a block close to an earlier one of the same
    block: any earlier one (``keep_all``), else an earlier survivor."""
    candidates = np.flatnonzero(alive) if not keep_all else np.arange(len(rows))
    if candidates.size <= 1:
        return
    sub = block[candidates]
    sub_norms = norms[candidates]
    sub_rows = rows[candidates]
    i, j = pairs.close_pairs(
        sub_rows, sub, sub_norms, sub_rows, sub, sub_norms, upper=True
    )
    i, j = candidates[i], candidates[j]
    if keep_all:
        alive[j] = False
    elif i.size:
        _drop_greedily(i, j, alive)


def _drop_greedily(i: np.ndarray, j: np.ndarray, alive: np.ndarray) -> None:
    """In row order, a sample still alive drops its later partners: ``j[k]``
    is close to ``i[k] < j[k]``."""
    order = np.argsort(i, kind="stable")
    i, j = i[order], j[order]
    starts = np.flatnonzero(np.r_[True, i[1:] != i[:-1]])
    groups = np.split(j, starts[1:])
    for first, partners in zip(i[starts], groups, strict=True):
        if alive[first]:
            alive[partners] = False


@validate_params(
    {
        "X": ["array-like"],
        "threshold": [Interval(Real, 0, None, closed="neither")],
        "block_size": [Interval(Integral, 1, None, closed="left")],
        "compare_with": [StrOptions({"kept", "all"})],
    },
    prefer_skip_nested_validation=True,
)
def drop_near_duplicates(
    X: ArrayLike,
    threshold: float = 1.0,
    *,
    block_size: int = 2048,
    compare_with: str = "kept",
) -> np.ndarray:
    """Indices of the samples to keep once near-duplicate profiles are removed.

    Samples are visited in row order. With ``compare_with="kept"`` (the
    default), a sample is dropped when its Euclidean distance to an earlier
    *kept* sample is strictly below ``threshold``, and kept otherwise: the
    first of a group of near-duplicates survives, every dropped sample lies
    within ``threshold`` of a kept one, and no two kept samples are closer
    than ``threshold``. With ``compare_with="all"``, a sample is dropped when
    it lies within ``threshold`` of *any* earlier sample, kept or not, the
    rule of D-GEX's data preparation [1]_ (which applied it inside 100
    k-means clusters rather than to all pairs); it can drop more, e.g. the
    last of a chain ``a - b - c`` whose ends are far apart.

    The work is blocked: a block of ``block_size`` samples is compared to the
    earlier samples, ``block_size`` at a time, with squared distances from a
    matrix product ``|a|^2 + |b|^2 - 2 a.b`` on column-centred data, in X's
    floating dtype. Pairs that this estimate puts within its rounding error of
    the threshold are confirmed with exact float64 differences, so the result
    is that of exact distances between the given values, whatever the block
    size. Memory stays at a few
    ``block_size x block_size`` and ``block_size x n_features`` arrays besides
    ``X``, which can be a read-only memory map (``np.load(path,
    mmap_mode="r")``) and is never copied whole. Time grows as ``n_samples**2
    * n_features``: about a minute for 100,000 x 1,000 float32 on two CPU
    cores.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Expression profiles, one sample per row. float32 data is not copied
        to float64.
    threshold : float, default=1.0
        Samples closer than this (Euclidean distance, strictly below) count as
        near-duplicates; D-GEX used 1.0 on quantile-normalised log2 profiles.
        Must be positive: exact duplicates are removed with any threshold.
    block_size : int, default=2048
        Samples per block; trades memory for matrix-product efficiency.
    compare_with : {"kept", "all"}, default="kept"
        Whether a sample is compared with the earlier kept samples only or
        with every earlier sample, as described above.

    Returns
    -------
    kept : ndarray of shape (n_kept,), dtype=intp
        Row indices of the samples to keep, ascending. ``X[kept]`` is the
        de-duplicated data.

    See Also
    --------
    QuantileNormalizer : Sample-wise quantile normalisation, usually applied
        before looking for duplicates.

    References
    ----------
    .. [1] Y. Chen, Y. Li, R. Narayan, A. Subramanian and X. Xie, "Gene
       expression inference with deep learning", Bioinformatics 32(12),
       1832-1839, 2016; data preparation in ``nodup_idx.py`` of
       https://github.com/uci-cbcl/D-GEX.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.preprocessing import drop_near_duplicates
    >>> X = np.array([[0.0, 0.0],
    ...               [0.0, 0.6],   # 0.6 from sample 0: dropped
    ...               [0.0, 1.2],   # 1.2 from sample 0, the only kept one
    ...               [5.0, 5.0],
    ...               [5.0, 5.0]])  # exact duplicate of sample 3
    >>> drop_near_duplicates(X, threshold=1.0)
    array([0, 2, 3])
    >>> drop_near_duplicates(X, threshold=1.0, compare_with="all")
    array([0, 3])
    """
    X = check_array(
        X,
        dtype=(np.float64, np.float32),
        ensure_all_finite=False,  # checked block by block: X may be a memory map
        ensure_min_samples=0,
        copy=False,
    )
    keep_all = compare_with == "all"
    pairs = _PairFinder.for_data(X, threshold, block_size)
    n_samples = X.shape[0]
    kept_mask = np.zeros(n_samples, dtype=bool)
    for start in range(0, n_samples, block_size):
        rows = np.arange(start, min(start + block_size, n_samples))
        block = pairs.centred(rows)
        norms = _squared_norms(block)
        alive = np.ones(len(rows), dtype=bool)
        for earlier in range(0, start, block_size):
            other_rows = np.arange(earlier, min(earlier + block_size, start))
            if not keep_all:
                other_rows = other_rows[kept_mask[other_rows]]
            _drop_close_to(pairs, rows, block, norms, alive, other_rows)
        _drop_within_block(pairs, rows, block, norms, alive, keep_all)
        kept_mask[rows[alive]] = True
    return np.flatnonzero(kept_mask)
