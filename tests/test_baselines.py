"""KNNGERegressor and dgex_baselines."""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted

from sktaaf.baselines import KNNGERegressor, dgex_baselines
from sktaaf.metrics import per_gene_pearson_scorer

# Two neighbours: some common checks have only a few features.
CHECK_ESTIMATORS = [
    KNNGERegressor(n_neighbors=2),
    KNNGERegressor(n_neighbors=2, metric="correlation"),
]

# Checks expected to fail, with the reason. The goal is none. (The estimator
# tags itself poor_score: it fits no coefficient, so the R^2 > 0.5 demanded of
# regressors on generic data is out of its reach by design.)
EXPECTED_FAILED_CHECKS: dict = {}


@parametrize_with_checks(
    CHECK_ESTIMATORS,
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def make_genes(n_samples=80, n_landmarks=15, n_targets=6, level=0.0, seed=0):
    """Landmark genes and targets that are noisy mixtures of a few landmarks."""
    rng = np.random.RandomState(seed)
    X = level + rng.normal(size=(n_samples, n_landmarks))
    mixing = rng.uniform(size=(n_landmarks, n_targets)) ** 8
    y = X @ (mixing / mixing.sum(axis=0)) + 0.3 * rng.normal(
        size=(n_samples, n_targets)
    )
    return X, y


def brute_force_neighbors(X, y, n_neighbors, metric):
    distances = cdist(y.T, X.T, metric=metric)
    return np.argsort(distances, axis=1, kind="stable")[:, :n_neighbors], distances


@pytest.mark.parametrize("metric", ["euclidean", "correlation"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_neighbors_match_brute_force(metric, dtype):
    X, y = make_genes()
    model = KNNGERegressor(n_neighbors=4, metric=metric)
    model.fit(X.astype(dtype), y.astype(dtype))
    expected, distances = brute_force_neighbors(X, y, 4, metric)
    assert_array_equal(model.neighbors_, expected)
    assert model.neighbors_.shape == (y.shape[1], 4)
    assert model.distances_.dtype == dtype
    assert_allclose(
        model.distances_,
        np.take_along_axis(distances, expected, axis=1),
        rtol=1e-4 if dtype == np.float32 else 1e-10,
        atol=1e-6,
    )
    assert np.all(np.diff(model.distances_, axis=1) >= 0)


def test_float32_euclidean_on_a_large_common_level():
    # Expression-like values (a level of 1000, spread 1): float32 squared norms
    # of ~1e8 would swamp distances of ~1e2 without the per-sample offset.
    X, y = make_genes(n_samples=300, n_landmarks=40, n_targets=30, level=1000.0)
    model = KNNGERegressor(n_neighbors=5).fit(X.astype(np.float32), y)
    assert_array_equal(model.neighbors_, brute_force_neighbors(X, y, 5, "euclidean")[0])


def test_predict_is_the_mean_of_the_neighbour_columns():
    X, y = make_genes()
    model = KNNGERegressor(n_neighbors=3).fit(X, y)
    X_new = np.random.RandomState(1).normal(size=(7, X.shape[1]))
    assert_allclose(
        model.predict(X_new),
        X_new[:, model.neighbors_].mean(axis=2),
        rtol=1e-12,
        atol=1e-12,
    )


def test_one_neighbor_predicts_landmark_columns():
    X, y = make_genes(n_targets=10)
    model = KNNGERegressor(n_neighbors=1).fit(X, y)
    X_new = np.random.RandomState(1).normal(size=(9, X.shape[1])).astype(np.float32)
    y_pred = model.predict(X_new)
    for target in range(y.shape[1]):
        assert any(
            np.array_equal(y_pred[:, target], X_new[:, landmark])
            for landmark in range(X.shape[1])
        )
        assert_array_equal(y_pred[:, target], X_new[:, model.neighbors_[target, 0]])


def test_finds_copies_of_landmarks():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 8))
    y = np.column_stack([X[:, 5], 3 * X[:, 2] + 10])
    euclidean = KNNGERegressor(n_neighbors=1).fit(X, y)
    assert euclidean.neighbors_[0, 0] == 5
    assert euclidean.distances_[0, 0] == pytest.approx(0, abs=1e-6)
    # Only the correlation sees through the scale and the shift.
    correlation = KNNGERegressor(n_neighbors=1, metric="correlation").fit(X, y)
    assert_array_equal(correlation.neighbors_[:, 0], [5, 2])
    assert_allclose(correlation.distances_[:, 0], 0, atol=1e-12)


def test_metrics_agree_on_standardised_genes():
    X, y = make_genes(n_targets=12)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = (y - y.mean(axis=0)) / y.std(axis=0)
    euclidean = KNNGERegressor(n_neighbors=3).fit(X, y)
    correlation = KNNGERegressor(n_neighbors=3, metric="correlation").fit(X, y)
    assert_array_equal(euclidean.neighbors_, correlation.neighbors_)


def test_constant_profiles_under_correlation():
    X, y = make_genes(n_targets=2)
    X[:, 3] = 7.0
    y[:, 1] = 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = KNNGERegressor(n_neighbors=3, metric="correlation").fit(X, y)
    assert 3 not in model.neighbors_[0]  # uncorrelated with everything
    assert_allclose(model.distances_[1], 1.0)


def test_blocks_give_the_same_result():
    X, y = make_genes(n_targets=40)
    expected = KNNGERegressor(n_neighbors=3).fit(X, y)
    # A few targets (and samples) per block.
    with config_context(working_memory=0.005):
        blocked = KNNGERegressor(n_neighbors=3).fit(X, y)
        y_pred = blocked.predict(X)
    assert_array_equal(blocked.neighbors_, expected.neighbors_)
    assert_allclose(blocked.distances_, expected.distances_, rtol=1e-12, atol=1e-12)
    assert_array_equal(y_pred, expected.predict(X))


@pytest.mark.parametrize(
    "dtype, expected", [(np.float32, np.float32), (np.float64, np.float64)]
)
def test_predict_keeps_the_floating_dtype(dtype, expected):
    X, y = make_genes()
    model = KNNGERegressor(n_neighbors=2).fit(X.astype(dtype), y)
    assert model.predict(X.astype(dtype)).dtype == expected
    assert model.predict(X.astype(np.float32)).dtype == np.float32
    assert model.predict(np.rint(X).astype(np.int64)).dtype == np.float64


def test_1d_and_single_column_targets():
    X, y = make_genes()
    model_1d = KNNGERegressor(n_neighbors=2).fit(X, y[:, 0])
    assert model_1d.n_outputs_ == 1
    assert model_1d.predict(X).shape == (len(X),)
    model_2d = KNNGERegressor(n_neighbors=2).fit(X, y[:, :1])
    assert model_2d.predict(X).shape == (len(X), 1)
    assert_array_equal(model_1d.predict(X), model_2d.predict(X).ravel())


def test_too_many_neighbors():
    X, y = make_genes(n_landmarks=5)
    with pytest.raises(ValueError, match=r"n_neighbors=6 .* n_features = 5"):
        KNNGERegressor(n_neighbors=6).fit(X, y)
    model = KNNGERegressor(n_neighbors=5).fit(X, y)  # all landmarks is fine
    assert_array_equal(np.sort(model.neighbors_, axis=1), np.tile(np.arange(5), (6, 1)))
    assert_allclose(
        model.predict(X), np.repeat(X.mean(axis=1, keepdims=True), 6, 1), atol=1e-12
    )


@pytest.mark.parametrize(
    "params", [{"n_neighbors": 0}, {"n_neighbors": 2.5}, {"metric": "cosine"}]
)
def test_invalid_parameters(params):
    X, y = make_genes()
    with pytest.raises(InvalidParameterError):
        KNNGERegressor(**params).fit(X, y)


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        KNNGERegressor().predict(np.zeros((2, 3)))


def test_pandas_input_and_grid_search():
    X, y = make_genes(n_samples=60)
    X = pd.DataFrame(X, columns=[f"landmark{i}" for i in range(X.shape[1])])
    y = pd.DataFrame(y, columns=[f"target{i}" for i in range(y.shape[1])])
    search = GridSearchCV(
        KNNGERegressor(),
        {"n_neighbors": [1, 3], "metric": ["euclidean", "correlation"]},
        scoring=per_gene_pearson_scorer,
        cv=3,
    ).fit(X, y)
    model = search.best_estimator_
    assert_array_equal(model.feature_names_in_, X.columns)
    assert model.predict(X).shape == y.shape


def test_dgex_baselines():
    baselines = dgex_baselines(random_state=3)
    assert list(baselines) == ["linear_regression", "ridge", "knn_ge", "knn"]
    assert isinstance(baselines["linear_regression"], LinearRegression)
    assert isinstance(baselines["ridge"], Ridge)
    assert baselines["ridge"].random_state == 3
    assert isinstance(baselines["knn_ge"], KNNGERegressor)
    assert baselines["knn_ge"].n_neighbors == 10
    assert isinstance(baselines["knn"], KNeighborsRegressor)
    assert baselines["knn"].n_neighbors == 10

    X, y = make_genes(n_samples=60, n_landmarks=20, n_targets=4)
    for name, model in baselines.items():
        with pytest.raises(NotFittedError):
            check_is_fitted(model)
        clone(model)  # plain, cloneable estimators
        assert model.fit(X, y).predict(X).shape == y.shape, name
    # Fresh estimators at every call: fitting one set leaves the next unfitted.
    for model in dgex_baselines().values():
        with pytest.raises(NotFittedError):
            check_is_fitted(model)
