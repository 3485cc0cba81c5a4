"""TargetBlockRegressor: one network per block of target genes."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.validation import check_array, check_is_fitted

from ._base import BaseNetworkRegressor
from ._data._columns import ColumnRows
from ._data._rows import DiskRows, is_on_disk
from ._data._targets import as_frame as predictions_frame
from ._data._targets import set_target_names
from ._data._validation import check_not_anndata
from ._engine._scores import combine_scores
from ._utils._compat import HasMethods, Interval, fit_context


class TargetBlockRegressor(MetaEstimatorMixin, RegressorMixin, BaseEstimator):
    """Fit a copy of a regressor on each block of target genes.

    D-GEX could not hold all ~9,500 target genes in one network on its GPU,
    and trained two networks on two halves of them. This meta-estimator does
    the same for any regressor: the targets (columns of ``y``) are cut into
    ``n_blocks`` contiguous blocks of near-equal size, a clone of
    ``estimator`` is fitted on each, and ``predict`` stitches the blocks'
    predictions back in the original target order. Each network then needs
    a fraction of the memory, at the price of not sharing hidden units between
    blocks. On-disk targets stay on disk: each block reads its columns.

    Parameters
    ----------
    estimator : regressor
        The regressor to fit on each block, e.g. a :class:`TAAFRegressor`.
    n_blocks : int, default=2
        Number of blocks; capped at the number of targets.
    random_state : int, RandomState instance or None, default=None
        When set, each block's clone gets its own seed drawn from it (as its
        ``random_state``); when None, the clones keep ``estimator``'s.

    Attributes
    ----------
    estimators_ : list of regressors
        The fitted clones, one per block.
    blocks_ : list of ndarray
        The target columns of each block.
    n_features_in_ : int
        Number of features seen during fit.
    n_samples_fit_ : int
        Number of samples seen during fit, when the block estimators record
        it (the network estimators do).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when ``X`` had them.
    n_outputs_ : int
        Number of targets.
    target_names_ : ndarray of shape (n_outputs_,)
        Names of the targets seen during fit, when ``y`` had them (a
        DataFrame's columns).
    target_scores_ : pandas.DataFrame or None
        Each target's validation ``"mae"`` and ``"r"``, from the blocks'
        ``target_scores_`` put back in the target order (see
        :attr:`TAAFRegressor.target_scores_ <sktaaf.TAAFRegressor>`). Each
        block draws its own validation rows (from its own seed); ``attrs``
        ``"n_samples"`` is the smallest block's count. None when a block's
        estimator has none (``early_stopping=False``, or not a network).

    See Also
    --------
    sklearn.multioutput.MultiOutputRegressor : One regressor per target.

    References
    ----------
    .. [1] Y. Chen, Y. Li, R. Narayan, A. Subramanian and X. Xie, "Gene
       expression inference with deep learning", Bioinformatics 32(12),
       1832-1839, 2016.

    Examples
    --------
    >>> from sktaaf import TAAFRegressor, TargetBlockRegressor
    >>> from sktaaf.datasets import make_expression
    >>> X, y = make_expression(200, n_landmarks=20, n_targets=9, random_state=0)
    >>> model = TargetBlockRegressor(
    ...     TAAFRegressor(hidden_layer_sizes=(16,), max_epochs=3, random_state=0),
    ...     n_blocks=2,
    ... ).fit(X, y)
    >>> [len(block) for block in model.blocks_]
    [5, 4]
    >>> model.predict(X).shape
    (200, 9)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, n_blocks=2, random_state=None):
        self.estimator = estimator
        self.n_blocks = n_blocks
        self.random_state = random_state

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        """Fit one clone of ``estimator`` per block of target columns.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or on disk
            Input data; passed unchanged to every block's estimator.
        y : {array-like, sparse matrix} of shape (n_samples,) or \
                (n_samples, n_outputs), or on disk
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the ``fit`` of every block's estimator (when given).

        Returns
        -------
        self : object
            The fitted meta-estimator.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        check_not_anndata(X, "X")
        check_not_anndata(y, "y")
        set_target_names(self, None if is_on_disk(y) else y)
        # Networks stream on-disk targets block by block; others get arrays.
        streams = isinstance(self.estimator, BaseNetworkRegressor) and is_on_disk(y)
        if streams:
            DiskRows(y).check("y", ensure_2d=False)
        else:  # the block estimators check values; here shape and kind
            y = check_array(
                y,
                ensure_2d=False,
                dtype=None,
                ensure_all_finite=False,
                input_name="y",
                accept_sparse="csc",  # cheap column blocks
            )
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D; got shape {y.shape}.")
        self._target_is_1d = y.ndim == 1
        self.n_outputs_ = 1 if self._target_is_1d else y.shape[1]
        n_blocks = min(self.n_blocks, self.n_outputs_)
        self.blocks_ = np.array_split(np.arange(self.n_outputs_), n_blocks)
        seeds = [None] * n_blocks
        if self.random_state is not None:
            rng = check_random_state(self.random_state)
            seeds = rng.randint(np.iinfo(np.int32).max, size=n_blocks).tolist()
        self.estimators_ = []
        for block, seed in zip(self.blocks_, seeds, strict=True):
            estimator = clone(self.estimator)
            if seed is not None and "random_state" in estimator.get_params():
                estimator.set_params(random_state=seed)
            if self._target_is_1d:  # one target, one block: y as it is
                y_block = y
            else:
                y_block = ColumnRows(y, block) if streams else y[:, block]
            weights = {} if sample_weight is None else {"sample_weight": sample_weight}
            self.estimators_.append(estimator.fit(X, y_block, **weights))
        self.target_scores_ = combine_scores(
            [
                getattr(estimator, "target_scores_", None)
                for estimator in self.estimators_
            ],
            getattr(self, "target_names_", None),
            self.n_outputs_,
        )
        first = self.estimators_[0]
        self.n_features_in_ = first.n_features_in_
        if hasattr(first, "n_samples_fit_"):
            self.n_samples_fit_ = first.n_samples_fit_
        if hasattr(first, "feature_names_in_"):
            self.feature_names_in_ = first.feature_names_in_
        return self

    def predict(self, X, *, as_frame=False):
        """Predict every block and put the targets back in their order.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or on disk
            Input data.
        as_frame : bool, default=False
            Return a pandas DataFrame indexed like ``X`` with
            ``target_names_`` as columns (see
            :meth:`TAAFRegressor.predict <sktaaf.TAAFRegressor.predict>`).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs_)
            Predictions, as the block estimators return them; a DataFrame (a
            Series for a 1-D target) with ``as_frame=True``.
        """
        check_is_fitted(self)
        check_not_anndata(X, "X")
        parts = [
            np.asarray(estimator.predict(X)).reshape(-1, len(block))
            for estimator, block in zip(self.estimators_, self.blocks_, strict=True)
        ]
        y_pred = np.empty((len(parts[0]), self.n_outputs_), dtype=parts[0].dtype)
        for part, block in zip(parts, self.blocks_, strict=True):
            y_pred[:, block] = part
        y_pred = y_pred.ravel() if self._target_is_1d else y_pred
        return predictions_frame(self, y_pred, X) if as_frame else y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        inner = get_tags(self.estimator)
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.input_tags.sparse = inner.input_tags.sparse
        return tags
