"""Fuzzing of the estimators (TAAFRegressor, DGEXRegressor, KNNGERegressor,
TargetBlockRegressor, QuantileNormalizer): fit and predict on fuzzed X and y,
DataFrames with other columns, warm starts, invalid parameters (see
``_fuzzing.py`` for the property and the strategies)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch
from _fuzzing import (
    _TEXT,
    NETWORK_BAD_PARAMS,
    NETWORKS,
    Fuzzed,
    _bad_int,
    _float_dtype,
    _not,
    _raised_inside,
    arrays_like,
    attempt,
    clean_data,
    fuzz,
    pd,
)
from conftest import TINY
from hypothesis import event, given
from hypothesis import strategies as st

import sktaaf._base
import sktaaf._data._batches
from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf.baselines import KNNGERegressor
from sktaaf.preprocessing import QuantileNormalizer

pytestmark = [
    # Expected along the way: feature-name and data-conversion warnings, the
    # divergence warning, numpy's overflow and complex-cast warnings.
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]


# ================================================================ estimators
ESTIMATORS = {
    "TAAFRegressor": lambda: TAAFRegressor(**TINY),
    "DGEXRegressor": lambda: DGEXRegressor(**TINY),
    "KNNGERegressor": lambda: KNNGERegressor(n_neighbors=1),
    "TargetBlockRegressor": lambda: TargetBlockRegressor(TAAFRegressor(**TINY)),
    "QuantileNormalizer": QuantileNormalizer,
}
REGRESSORS = [name for name in ESTIMATORS if name != "QuantileNormalizer"]


def _apply(estimator, X):
    if isinstance(estimator, QuantileNormalizer):
        return estimator.transform(X)
    return estimator.predict(X)


def _fit_apply(estimator, X, y):
    if isinstance(estimator, QuantileNormalizer):
        return estimator.fit(X).transform(X)
    return estimator.fit(X, y).predict(X)


def _check_output(output, X: Fuzzed, n_outputs):
    expected = (X.n_rows, n_outputs)
    assert output.shape == expected, f"{output.shape} != {expected} for {X.label}"
    assert output.dtype == _float_dtype(X.value), f"{output.dtype} for {X.label}"
    if X.moderate:
        assert np.isfinite(output).all(), f"non-finite output for {X.label}"


@pytest.mark.parametrize("name", ESTIMATORS)
@fuzz(max_examples=60)
@given(X=arrays_like())
def test_fit_on_fuzzed_X(name, X):
    estimator = ESTIMATORS[name]()
    n_rows = X.n_rows if X.n_rows is not None else 5
    y = np.random.default_rng(0).normal(size=(n_rows, 2))
    ok, output = attempt(_fit_apply, estimator, X.value, y)
    if ok:
        n_outputs = X.shape[1] if name == "QuantileNormalizer" else 2
        assert estimator.n_features_in_ == X.shape[1]
        _check_output(output, X, n_outputs)
        if name == "KNNGERegressor":  # valid landmark columns for both targets
            neighbors = estimator.neighbors_
            assert neighbors.shape == (2, 1) and neighbors.dtype == np.intp
            assert ((0 <= neighbors) & (neighbors < X.shape[1])).all()


@pytest.mark.parametrize("name", REGRESSORS)
@fuzz(max_examples=50)
@given(
    y=arrays_like(columns=st.integers(0, 4), ndims=st.sampled_from([2, 2, 1, 1, 3])),
    row_offset=st.sampled_from([0, 0, 0, 0, 1, -1]),
)
def test_fit_on_fuzzed_y(name, y, row_offset):
    n_rows = max(y.n_rows + row_offset, 0) if y.n_rows is not None else 6
    if row_offset:
        event("y: length differs from X")
    X = np.random.default_rng(1).normal(size=(n_rows, 3))
    estimator = ESTIMATORS[name]()
    ok, prediction = attempt(lambda: estimator.fit(X, y.value).predict(X))
    if ok:
        assert row_offset == 0
        one_dimensional = len(y.shape) == 1
        n_outputs = None if one_dimensional else y.shape[1]
        assert prediction.shape == (
            (n_rows,) if one_dimensional else (n_rows, n_outputs)
        )
        assert prediction.dtype == np.float64  # that of X
        if y.moderate:
            assert np.isfinite(prediction).all()


@pytest.fixture(scope="module")
def fitted():
    """Every estimator, fitted on clean data as an ndarray and as a DataFrame."""
    X, y = clean_data()
    frame = pd.DataFrame(X, columns=[f"LM{i}" for i in range(X.shape[1])])
    models = {}
    for name, make in ESTIMATORS.items():
        models[name, "ndarray"] = make().fit(X, y)
        models[name, "DataFrame"] = make().fit(frame, y)
    return models


@pytest.mark.parametrize("fitted_on", ["ndarray", "DataFrame"])
@pytest.mark.parametrize("name", ESTIMATORS)
@fuzz(max_examples=80)
@given(X=arrays_like(columns=st.sampled_from([4, 4, 4, 0, 3, 5])))
def test_predict_on_fuzzed_X(fitted, name, fitted_on, X):
    estimator = fitted[name, fitted_on]
    ok, output = attempt(_apply, estimator, X.value)
    if ok:
        assert X.shape[1] == 4
        _check_output(output, X, 4 if name == "QuantileNormalizer" else 2)


# Decision: a DataFrame whose columns differ from those seen in fit, reordered
# or missing included, is a ValueError (scikit-learn's feature-name check).
@pytest.mark.parametrize("name", ESTIMATORS)
@fuzz(max_examples=12)
@given(
    names=st.lists(st.text(max_size=8), min_size=2, max_size=6, unique=True),
    change=st.sampled_from(["reordered", "missing", "extra", "renamed"]),
    data=st.data(),
)
def test_dataframe_with_other_columns_is_rejected(name, names, change, data):
    X, y = clean_data(n_features=len(names))
    frame = pd.DataFrame(X, columns=names)
    estimator = ESTIMATORS[name]().fit(frame, y)
    event(f"columns: {change}")
    if change == "reordered":
        order = data.draw(st.permutations(names), "order")
        if order == names:  # a rotation is never the identity
            order = order[1:] + order[:1]
        other = frame[order]
    elif change == "missing":
        other = frame.drop(columns=data.draw(st.sampled_from(names), "dropped"))
    elif change == "extra":
        other = frame.assign(**{"".join(names) + "_extra": 1.0})
    else:
        other = frame.rename(columns={names[0]: "".join(names) + "_renamed"})
    with pytest.raises(ValueError, match="(?i)feature names"):
        _apply(estimator, other)
    # The same columns in the same order are fine; so is a bare ndarray (with
    # scikit-learn's warning that it has no feature names).
    assert _apply(estimator, frame).shape[0] == len(frame)
    with pytest.warns(UserWarning, match="valid feature names"):
        assert _apply(estimator, X).shape[0] == len(X)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_dataframe_with_int_column_names(name):
    """Non-string names are not feature names (scikit-learn): reordering them
    is not detected, but a missing column still is, by its count."""
    X, y = clean_data(n_features=3)
    frame = pd.DataFrame(X, columns=[0, 1, 2])
    estimator = ESTIMATORS[name]().fit(frame, y)
    assert not hasattr(estimator, "feature_names_in_")
    assert _apply(estimator, frame[[2, 0, 1]]).shape[0] == len(X)
    with pytest.raises(ValueError, match="expecting 3 features"):
        _apply(estimator, frame[[0, 1]])
    mixed = pd.DataFrame(X, columns=["a", 1, "c"])
    with pytest.raises(TypeError, match="string names"):
        ESTIMATORS[name]().fit(mixed, y)


@pytest.mark.parametrize("Estimator", NETWORKS)
@fuzz(max_examples=15)
@given(X=arrays_like(columns=st.sampled_from([4, 4, 3])))
def test_warm_start_on_fuzzed_X(Estimator, X):
    data, y = clean_data()
    estimator = Estimator(**{**TINY, "warm_start": True}).fit(data, y)
    n_rows = X.n_rows if X.n_rows is not None else 5
    ok, _ = attempt(estimator.fit, X.value, y[:1].repeat(n_rows, axis=0))
    if ok:
        assert X.shape[1] == 4 and estimator.n_iter_ == 2
        assert np.isfinite(estimator.predict(data)).all()


# ------------------------------------------------------------ bad parameters
@pytest.fixture
def no_torch_work():
    """Fail the test if fit gets past validation into the torch work."""
    reached = AssertionError("fit got past validation into the torch work")
    with (
        mock.patch.object(sktaaf._data._batches, "TensorData", side_effect=reached),
        mock.patch.object(sktaaf._base, "TrainingNet", side_effect=reached),
    ):
        yield


@pytest.mark.parametrize("parameter", NETWORK_BAD_PARAMS)
@pytest.mark.parametrize("Estimator", NETWORKS)
@fuzz(max_examples=8)
@given(data=st.data())
def test_invalid_network_parameter(Estimator, parameter, data, no_torch_work):
    value = data.draw(NETWORK_BAD_PARAMS[parameter], parameter)
    X, y = clean_data()
    estimator = Estimator(**TINY).set_params(**{parameter: value})
    with pytest.raises(ValueError, match=parameter) as caught:
        estimator.fit(X, y)
    assert _raised_inside(caught.value) is None
    assert not hasattr(estimator, "net_")


OTHER_BAD_PARAMS = {
    ("KNNGERegressor", "n_neighbors"): st.one_of(
        _bad_int(1),
        st.integers(5, 100),  # more than the 4 landmarks
    ),
    ("KNNGERegressor", "metric"): st.one_of(
        _TEXT.filter(_not({"euclidean", "correlation"})), st.integers(), st.none()
    ),
    ("TargetBlockRegressor", "n_blocks"): _bad_int(1),
    ("TargetBlockRegressor", "estimator"): st.one_of(
        st.none(),
        st.integers(),
        _TEXT,
        st.builds(QuantileNormalizer),  # no predict
    ),
    ("TargetBlockRegressor", "random_state"): NETWORK_BAD_PARAMS["random_state"],
}


@pytest.mark.parametrize("name, parameter", OTHER_BAD_PARAMS)
@fuzz(max_examples=15)
@given(data=st.data())
def test_invalid_parameter(name, parameter, data):
    value = data.draw(OTHER_BAD_PARAMS[name, parameter], parameter)
    X, y = clean_data()
    estimator = ESTIMATORS[name]().set_params(**{parameter: value})
    with pytest.raises(ValueError, match=parameter):
        estimator.fit(X, y)


# ================================================================ regressions
# Bugs of the estimator core (_base.py) that this fuzzing
# found, since fixed; deterministic cases.


@pytest.mark.parametrize("Estimator", NETWORKS)
def test_predict_rejects_values_beyond_float32(Estimator):
    X, y = clean_data()
    estimator = Estimator(**TINY).fit(X, y)
    X_huge = X.copy()
    X_huge[0, 0] = 1e39
    with pytest.raises(ValueError, match="too large for dtype\\('float32'\\)"):
        estimator.predict(X_huge)


@pytest.mark.parametrize("callbacks", [[3], [("name", "not a callback")]])
def test_callbacks_entries_are_validated(callbacks):
    X, y = clean_data()
    with pytest.raises((ValueError, TypeError), match="callbacks"):
        TAAFRegressor(**TINY, callbacks=callbacks).fit(X, y)


def test_origin_check_sees_errors_from_inside_torch():
    with pytest.raises(RuntimeError) as caught:
        torch.nn.Linear(2, 2)(torch.zeros(3, 3))
    assert _raised_inside(caught.value) == "torch"
    with pytest.raises(ValueError) as caught:
        TAAFRegressor(**TINY).fit(np.zeros((3, 2)), np.zeros(4))
    assert _raised_inside(caught.value) is None
