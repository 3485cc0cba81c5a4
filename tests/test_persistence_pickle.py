"""Pickling and joblib persistence of fitted estimators (``__getstate__``,
``__setstate__``), on the CPU and on a GPU."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST, make_data
from skorch.exceptions import DeviceWarning

SETTINGS = {**FAST, "max_epochs": 8}


@pytest.fixture(scope="module")
def data():
    return make_data(n_samples=100, n_features=6)


@pytest.fixture(scope="module", params=ESTIMATORS, ids=lambda cls: cls.__name__)
def fitted(request, data):
    X, y = data
    return request.param(**SETTINGS).fit(X, y)


def _pickle_round_trip(est, tmp_path):
    path = tmp_path / "model.pkl"
    with open(path, "wb") as f:
        pickle.dump(est, f)
    with open(path, "rb") as f:
        return pickle.load(f)


def _joblib_round_trip(est, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(est, path)
    return joblib.load(path)


def _history_table(history):
    return [
        {key: value for key, value in epoch.items() if key != "dur"}
        for epoch in history
    ]


@pytest.mark.parametrize("round_trip", [_pickle_round_trip, _joblib_round_trip])
def test_round_trip_keeps_model_and_attributes(fitted, data, round_trip, tmp_path):
    X, _ = data
    loaded = round_trip(fitted, tmp_path)
    assert type(loaded) is type(fitted)
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    assert loaded.get_params() == fitted.get_params()
    assert loaded.n_features_in_ == fitted.n_features_in_
    assert loaded.n_outputs_ == fitted.n_outputs_
    assert loaded.best_epoch_ == fitted.best_epoch_
    assert loaded.n_iter_ == fitted.n_iter_
    assert loaded.device_ == fitted.device_ == "cpu"
    assert len(loaded.history_) == len(fitted.history_)
    assert _history_table(loaded.history_) == _history_table(fitted.history_)
    assert loaded.history_[:, "dur"] == fitted.history_[:, "dur"]
    # One network, not two copies of it.
    assert loaded.module_ is loaded.net_.module_
    assert not loaded.module_.training
    for p_loaded, p_fitted in zip(
        loaded.module_.parameters(), fitted.module_.parameters(), strict=True
    ):
        assert p_loaded is not p_fitted
        torch.testing.assert_close(p_loaded, p_fitted, rtol=0, atol=0)


def test_pickle_does_not_store_the_network_twice(fitted):
    # module_ is net_.module_; skorch pickles net_'s tensors on their own, so
    # module_ must not travel beside them as a second copy.
    assert fitted.module_ is fitted.net_.module_
    state = fitted.__getstate__()
    assert "module_" not in state
    assert "net_" in state
    assert "module_" in fitted.__dict__  # the estimator itself is unchanged


def test_pickled_estimator_can_be_refit(fitted, data, tmp_path):
    X, y = data
    loaded = _pickle_round_trip(fitted, tmp_path)
    before = loaded.predict(X)
    loaded.set_params(max_epochs=3)
    loaded.fit(X[::-1], y[::-1])
    assert loaded.n_iter_ <= 3
    assert loaded.module_ is loaded.net_.module_
    assert loaded.predict(X).shape == before.shape
    # Refitting the copy leaves the original alone.
    np.testing.assert_array_equal(fitted.predict(X), before)


def test_loaded_estimator_refits_like_a_fresh_one(fitted, data, tmp_path):
    X, y = data
    loaded = _joblib_round_trip(fitted, tmp_path)
    refit = loaded.fit(X, y).predict(X)
    np.testing.assert_array_equal(refit, fitted.predict(X))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_cuda_pickle_loads_on_cpu_only_machine(Estimator, data, monkeypatch):
    X, y = data
    est = Estimator(**SETTINGS).fit(X, y)
    expected = est.predict(X)
    # Pretend the model was trained on a GPU: skorch records the device on
    # the net and maps its tensors when loading.
    est.net_.device = "cuda"
    est.device_ = "cuda"
    payload = pickle.dumps(est)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(DeviceWarning):
        loaded = pickle.loads(payload)
    assert loaded.device_ == "cpu"
    assert str(loaded.net_.device) == "cpu"
    assert loaded.module_ is loaded.net_.module_
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    np.testing.assert_array_equal(loaded.predict(X), expected)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_cuda_fit_pickle_round_trip(Estimator, data, tmp_path):
    X, y = data
    est = Estimator(**SETTINGS, device="cuda").fit(X, y)
    assert est.device_ == "cuda"
    assert all(p.device.type == "cuda" for p in est.module_.parameters())
    expected = est.predict(X)
    for round_trip in (_pickle_round_trip, _joblib_round_trip):
        loaded = round_trip(est, tmp_path)
        assert loaded.device_ == "cuda"
        assert loaded.module_ is loaded.net_.module_
        assert all(p.device.type == "cuda" for p in loaded.module_.parameters())
        np.testing.assert_array_equal(loaded.predict(X), expected)
