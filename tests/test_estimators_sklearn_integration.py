"""The estimators inside scikit-learn's tooling: clone, pipelines, model selection."""

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import ESTIMATORS, FAST, make_data
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import StepLR

SETTINGS = {**FAST, "max_epochs": 10}


@pytest.fixture(scope="module")
def data():
    X, y = make_data(n_samples=120, n_features=8)
    return 3 * X + 2, y  # unscaled inputs, for the pipelines to standardise


# ------------------------------------------------------------------ clone
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_clone_unfitted(Estimator):
    est = Estimator(**SETTINGS, dropout=0.2, activation="relu")
    cloned = clone(est)
    assert cloned is not est
    assert type(cloned) is Estimator
    assert cloned.get_params() == est.get_params()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_clone_fitted_is_unfitted_with_equal_params(Estimator, data):
    X, y = data
    est = Estimator(**SETTINGS).fit(X, y)
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    for attribute in ("net_", "module_", "history_", "n_features_in_", "best_epoch_"):
        assert not hasattr(cloned, attribute)
    with pytest.raises(NotFittedError):
        cloned.predict(X)
    # The clone fits to the same model: the seeded design is reproducible.
    np.testing.assert_array_equal(cloned.fit(X, y).predict(X), est.predict(X))


# --------------------------------------------------------------- pipelines
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pipeline_fit_predict_score(Estimator, data):
    X, y = data
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("net", Estimator(**{**SETTINGS, "max_epochs": 30})),
        ]
    )
    pipe.fit(X, y)
    pred = pipe.predict(X)
    assert pred.shape == y.shape
    assert np.isfinite(pred).all()
    score = pipe.score(X, y)
    assert np.isfinite(score)
    assert score > 0.0  # standardised inputs: the network learns something
    assert pipe.named_steps["net"].n_features_in_ == X.shape[1]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_set_params_on_nested_pipeline(Estimator, data):
    X, y = data
    pipe = Pipeline([("scale", StandardScaler()), ("net", Estimator(**SETTINGS))])
    pipe.set_params(
        net__hidden_layer_sizes=(4, 3),
        net__activation="tanh",
        net__max_epochs=2,
        net__early_stopping=False,
    )
    net = pipe.named_steps["net"]
    assert net.hidden_layer_sizes == (4, 3)
    assert net.activation == "tanh"
    assert pipe.get_params()["net__max_epochs"] == 2
    pipe.fit(X, y)
    assert net.n_iter_ == 2
    assert net.module_.hidden0.linear.out_features == 4
    assert net.module_.hidden1.linear.out_features == 3
    assert pipe.predict(X).shape == y.shape


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("transform_output", ["default", "pandas"])
def test_make_pipeline_with_dataframe(Estimator, data, transform_output):
    X, y = data
    columns = [f"gene_{i}" for i in range(X.shape[1])]
    X_df = pd.DataFrame(X, columns=columns)
    pipe = make_pipeline(StandardScaler(), Estimator(**SETTINGS))
    pipe.set_output(transform=transform_output)
    pipe.fit(X_df, y)
    net = pipe[-1]
    np.testing.assert_array_equal(pipe.feature_names_in_, columns)
    assert net.n_features_in_ == X.shape[1]
    if transform_output == "pandas":  # the scaler hands the names on
        np.testing.assert_array_equal(net.feature_names_in_, columns)
    else:  # the scaler hands a plain array on
        assert not hasattr(net, "feature_names_in_")
    pred_df = pipe.predict(X_df)
    assert pred_df.shape == y.shape
    assert np.isfinite(pred_df).all()
    # Same columns, rows in another order: the same predictions, reordered.
    np.testing.assert_allclose(
        pipe.predict(X_df.iloc[::-1]), pred_df[::-1], rtol=1e-6, atol=1e-6
    )
    # Columns in another order are refused rather than silently misread.
    with pytest.raises(ValueError, match="feature names"):
        pipe.predict(X_df[columns[::-1]])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_dataframe_sets_feature_names_in(Estimator, data):
    X, y = data
    columns = [f"gene_{i}" for i in range(X.shape[1])]
    X_df = pd.DataFrame(X, columns=columns)
    est = Estimator(**SETTINGS).fit(X_df, y)
    np.testing.assert_array_equal(est.feature_names_in_, columns)
    pred = est.predict(X_df)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(pred, est.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(X_df[columns[::-1]])


# -------------------------------------------------------- model selection
_GRID = {
    "hidden_layer_sizes": [(8,), (16,)],
    "activation": ["sigmoid", "tanh"],
    "learning_rate": [1e-2, 3e-2],
}


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_grid_search_serial_and_parallel_agree(Estimator, data):
    X, y = data
    base = Estimator(**{**SETTINGS, "max_epochs": 5})
    searches = [
        GridSearchCV(base, _GRID, cv=2, n_jobs=n_jobs).fit(X, y) for n_jobs in (1, 2)
    ]
    serial, parallel = searches
    assert serial.best_params_ == parallel.best_params_
    scores = serial.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], scores, rtol=1e-5, atol=1e-6
    )
    assert serial.best_estimator_.predict(X).shape == y.shape
    # The base estimator is cloned, never fitted itself.
    assert not hasattr(base, "net_")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_cross_val_score(Estimator, data):
    X, y = data
    cv = KFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_val_score(Estimator(**{**SETTINGS, "max_epochs": 30}), X, y, cv=cv)
    assert scores.shape == (3,)
    assert np.isfinite(scores).all()
    again = cross_val_score(Estimator(**{**SETTINGS, "max_epochs": 30}), X, y, cv=cv)
    np.testing.assert_array_equal(scores, again)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_transformed_target_regressor(Estimator, data):
    X, y = data
    y_big = 100.0 * y + 50.0
    ttr = TransformedTargetRegressor(
        regressor=Estimator(**SETTINGS), transformer=StandardScaler()
    )
    ttr.fit(X, y_big)
    pred = ttr.predict(X)
    assert pred.shape == y.shape
    assert np.isfinite(pred).all()
    # Predictions come back in the original units of the targets.
    assert abs(pred.mean() - y_big.mean()) < 0.5 * y_big.std()
    assert ttr.regressor_.n_outputs_ == y.shape[1]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("n_targets", [1, 3, 7])
def test_native_multi_output(Estimator, n_targets):
    X, y = make_data(n_samples=80, n_features=8, n_targets=n_targets, random_state=1)
    est = Estimator(**SETTINGS).fit(X, y)
    assert est.n_outputs_ == n_targets
    assert est.predict(X).shape == (80, n_targets)
    assert np.isfinite(est.score(X, y))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_one_dimensional_target_predicts_one_dimension(Estimator, data):
    X, y = data
    est = Estimator(**SETTINGS).fit(X, y[:, 0])
    assert est.n_outputs_ == 1
    assert est.predict(X).shape == (len(X),)


# --------------------------------------------------------------- callbacks
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_lr_scheduler_callback_in_grid_search(Estimator, data):
    X, y = data
    schedule = LRScheduler(policy=StepLR, step_size=2, gamma=0.5)
    callbacks = [schedule]
    fingerprint = joblib.hash(callbacks)
    search = GridSearchCV(
        Estimator(
            **{**SETTINGS, "max_epochs": 6}, early_stopping=False, callbacks=callbacks
        ),
        {"learning_rate": [1e-2, 2e-2]},
        cv=2,
    )
    search.fit(X, y)

    # The user's callback objects are neither initialised nor changed by the fits.
    assert joblib.hash(callbacks) == fingerprint
    assert not hasattr(schedule, "lr_scheduler_")
    assert search.best_estimator_.callbacks[0] is not schedule

    # The schedule took effect: lr halves every 2 epochs.
    best = search.best_estimator_
    lr = best.learning_rate
    np.testing.assert_allclose(
        best.history_[:, "event_lr"],
        [lr, lr, lr / 2, lr / 2, lr / 4, lr / 4],
        rtol=1e-6,
    )
    assert best.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(lr / 8)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_callbacks_param_not_mutated_by_direct_fit(Estimator, data):
    X, y = data
    callbacks = [("schedule", LRScheduler(policy=StepLR, step_size=1, gamma=0.9))]
    est = Estimator(**SETTINGS, callbacks=callbacks)
    fingerprint = joblib.hash(est.get_params())
    est.fit(X, y)
    est.fit(X, y)  # a refit copies afresh rather than reusing the first copy
    assert joblib.hash(est.get_params()) == fingerprint
    assert est.callbacks is callbacks
    assert not hasattr(callbacks[0][1], "lr_scheduler_")
