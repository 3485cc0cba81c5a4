"""The accuracy claims of the README that a test can afford to check."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split

from sktaaf import TAAFRegressor
from sktaaf.baselines import KNNGERegressor
from sktaaf.datasets import make_expression


@pytest.mark.slow
def test_taaf_beats_linear_regression_which_beats_knn_ge():
    """make_expression's mixed responses favour no model by construction;
    TAAF's defaults still beat linear regression, and KNN-GE trails."""
    X, y = make_expression(
        n_samples=3000, n_landmarks=200, n_targets=300, random_state=0
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=0
    )
    errors = {
        name: np.abs(model.fit(X_train, y_train).predict(X_test) - y_test).mean()
        for name, model in {
            "taaf": TAAFRegressor(
                hidden_layer_sizes=(256, 256), max_epochs=40, random_state=0
            ),
            "linear": LinearRegression(),
            "knn_ge": KNNGERegressor(),
        }.items()
    }
    assert errors["taaf"] < errors["linear"] < errors["knn_ge"], errors
