"""make_expression(response=...): target shapes other than TAAF's own."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import InvalidParameterError

from sktaaf.datasets import make_expression

SHAPES = ["tanh", "linear", "relu", "log", "dropout"]


@pytest.mark.parametrize("response", [*SHAPES, "mixed"])
def test_every_response_gives_finite_float32(response):
    X, y = make_expression(
        n_samples=50, n_landmarks=6, n_targets=20, response=response, random_state=0
    )
    assert X.shape == (50, 6) and y.shape == (50, 20)
    assert X.dtype == y.dtype == np.float32
    assert np.isfinite(y).all()
    again = make_expression(
        n_samples=50, n_landmarks=6, n_targets=20, response=response, random_state=0
    )
    np.testing.assert_array_equal(y, again[1])


def test_landmarks_do_not_depend_on_the_response():
    X_tanh, _ = make_expression(
        n_samples=30, n_landmarks=5, response="tanh", random_state=1
    )
    X_relu, _ = make_expression(
        n_samples=30, n_landmarks=5, response="relu", random_state=1
    )
    np.testing.assert_array_equal(X_tanh, X_relu)


def test_only_dropout_genes_are_zero_inflated():
    kwargs = {"n_samples": 400, "n_landmarks": 10, "n_targets": 50, "random_state": 0}
    _, y = make_expression(response="dropout", **kwargs)
    assert 0.2 < (y == 0).mean() < 0.8
    assert (y >= 0).all()
    for response in ("tanh", "linear", "relu", "log"):
        _, y = make_expression(response=response, **kwargs)
        assert (y == 0).mean() == 0
    _, y = make_expression(**kwargs)  # mixed: some genes zero-inflated
    zero_share = (y == 0).mean(axis=0)
    assert 0 < (zero_share > 0.2).sum() < 50


def test_linear_targets_favour_linear_regression():
    def r2(response):
        X, y = make_expression(
            n_samples=1500,
            n_landmarks=40,
            n_targets=30,
            noise=0.0,
            response=response,
            random_state=0,
        )
        return LinearRegression().fit(X[:1000], y[:1000]).score(X[1000:], y[1000:])

    assert r2("linear") > 0.9
    assert r2("linear") > r2("relu") + 0.05
    assert r2("linear") > r2("tanh") + 0.05


def test_unknown_response_is_rejected():
    with pytest.raises(InvalidParameterError, match="response"):
        make_expression(n_samples=5, response="cubic")
