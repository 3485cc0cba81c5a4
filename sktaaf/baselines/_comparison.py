"""The baselines that D-GEX compares deep networks with, as unfitted estimators."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor

from ._knnge import KNNGERegressor


def dgex_baselines(random_state=None) -> dict[str, BaseEstimator]:
    """Unfitted baselines for gene-expression inference, as compared in D-GEX.

    D-GEX [1]_ measures its networks against linear regression (the method of
    the LINCS L1000 project), regularised linear regression and KNN-GE. This
    returns fresh scikit-learn estimators for that comparison, all of which
    accept multi-output ``y`` (landmark genes in, target genes out):

    ``"linear_regression"``
        :class:`~sklearn.linear_model.LinearRegression`: ordinary least
        squares, the LINCS method and D-GEX's main reference.
    ``"ridge"``
        :class:`~sklearn.linear_model.Ridge` with ``alpha=1.0``, L2-regularised
        least squares (D-GEX's LR-L2). With thousands of samples this stays
        close to ``"linear_regression"``; tune ``alpha`` when samples are few.
    ``"knn_ge"``
        :class:`KNNGERegressor` with ``n_neighbors=10``: each target gene as
        the mean of its 10 nearest landmark genes (gene space).
    ``"knn"``
        :class:`~sklearn.neighbors.KNeighborsRegressor` with
        ``n_neighbors=10``: each sample's target genes as the mean of those of
        the 10 training samples nearest in landmark expression (sample space).
        Ten is the same neighbourhood size as ``"knn_ge"``, so that the two
        differ only in the space they search; it is a starting point, not a
        tuned value: search e.g. ``[5, 10, 20, 50]`` with
        :class:`~sklearn.model_selection.GridSearchCV`.

    L1-regularised regression (D-GEX's LR-L1) is left out for its cost: a
    :class:`~sklearn.linear_model.Lasso` fits every target gene separately,
    which is slow for ~10,000 targets. Add it to the dictionary if needed.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Given to every baseline that takes a ``random_state``; today only
        ``Ridge``, whose default solver does not use it (its ``"sag"`` and
        ``"saga"`` solvers do).

    Returns
    -------
    baselines : dict of str to estimator
        Unfitted estimators, new at every call, in the order above.

    See Also
    --------
    KNNGERegressor : The gene-space nearest-neighbour baseline.
    sktaaf.metrics.per_gene_mae : Error per target gene, to compare them with.

    References
    ----------
    .. [1] Y. Chen, Y. Li, R. Narayan, A. Subramanian and X. Xie, "Gene
       expression inference with deep learning", Bioinformatics 32(12),
       1832-1839, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.baselines import dgex_baselines
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 12))
    >>> y = X[:, :3] + 0.1 * rng.normal(size=(60, 3))
    >>> for name, model in dgex_baselines(random_state=0).items():
    ...     print(name, model.fit(X, y).predict(X).shape)
    linear_regression (60, 3)
    ridge (60, 3)
    knn_ge (60, 3)
    knn (60, 3)
    """
    return {
        "linear_regression": LinearRegression(),
        "ridge": Ridge(alpha=1.0, random_state=random_state),
        "knn_ge": KNNGERegressor(n_neighbors=10),
        "knn": KNeighborsRegressor(n_neighbors=10),
    }
