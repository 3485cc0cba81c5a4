"""standardize=True: the networks hold each gene's location and scale."""

import pickle

import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST, make_data
from sklearn.preprocessing import StandardScaler

import sktaaf._data._rows
from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf._data._rows import as_rows
from sktaaf.nn import DGEXNetwork, TAAFNetwork


def _column_statistics(array, sample_weight=None):
    return as_rows(array).column_statistics(sample_weight)


def _shifted(X, y):
    """The data of ``make_data`` far from 0..1: genes of their own units."""
    rng = np.random.RandomState(1)
    x_shift = rng.uniform(-50, 50, X.shape[1]).astype(np.float32)
    x_scale = rng.uniform(0.1, 30, X.shape[1]).astype(np.float32)
    y_shift = rng.uniform(-50, 50, y.shape[1]).astype(np.float32)
    y_scale = rng.uniform(0.1, 30, y.shape[1]).astype(np.float32)
    return X * x_scale + x_shift, y * y_scale + y_shift


@pytest.mark.parametrize("chunk_rows", [4096, 7])
def test_column_statistics_match_numpy(monkeypatch, chunk_rows):
    monkeypatch.setattr(sktaaf._data._rows, "CHUNK_ROWS", chunk_rows)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(100, 5)) * [1, 10, 1e3, 1e-3, 5] + [0, -3, 1e4, 2, 0]
    X = X.astype(np.float32)
    mean, scale = _column_statistics(X)
    assert mean.dtype == scale.dtype == np.float32
    np.testing.assert_allclose(mean, X.astype(np.float64).mean(0), rtol=1e-6)
    np.testing.assert_allclose(scale, X.astype(np.float64).std(0), rtol=1e-5)
    mean_1d, scale_1d = _column_statistics(X[:, 1])
    np.testing.assert_array_equal((mean_1d, scale_1d), (mean[1:2], scale[1:2]))


def test_column_statistics_on_disk_equal_in_memory(monkeypatch, tmp_path):
    monkeypatch.setattr(sktaaf._data._rows, "CHUNK_ROWS", 16)
    X, _ = make_data(n_samples=100)
    path = tmp_path / "X.npy"
    np.save(path, X)
    on_disk = np.load(path, mmap_mode="r")
    np.testing.assert_array_equal(_column_statistics(on_disk), _column_statistics(X))


@pytest.mark.parametrize("total", [0.01, 0.1, 1.0, 150.0])
def test_weighted_column_statistics_match_standard_scaler(total):
    """Only the relative weights matter, whatever their total."""
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(60, 4)) * [1, 10, 0.1, 3] + [0, 5, -2, 1]).astype(np.float32)
    weight = rng.uniform(0, 1, size=60)
    weight[::7] = 0
    weight *= total / weight.sum()
    mean, scale = _column_statistics(X, weight)
    scaler = StandardScaler().fit(X.astype(np.float64), sample_weight=weight)
    np.testing.assert_allclose(mean, scaler.mean_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scale, scaler.scale_, rtol=1e-5, atol=1e-6)


def test_constant_columns_get_scale_one():
    X = np.zeros((20, 3), dtype=np.float32)
    X[:, 0] = 7.3
    X[:, 2] = np.arange(20)
    mean, scale = _column_statistics(X)
    np.testing.assert_array_equal(scale[:2], [1.0, 1.0])
    np.testing.assert_allclose(mean, [7.3, 0.0, 9.5], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("weighted", [False, True])
def test_values_too_far_apart_for_float32_get_a_finite_scale(weighted):
    # float32's largest value minus its smallest overflows float32: the
    # deviations are taken in float64 then (else the scale was inf).
    X = np.zeros((6, 2), dtype=np.float32)
    X[:, 0] = [3.4e38, -3.4e38, -3.4e38, 0, 0, 0]
    X[:, 1] = np.arange(6)
    weight = np.ones(6) if weighted else None
    mean, scale = _column_statistics(X, weight)
    expected = X.astype(np.float64)
    np.testing.assert_allclose(mean, expected.mean(0), rtol=1e-6)
    np.testing.assert_allclose(scale, expected.std(0), rtol=1e-6)
    assert np.isfinite(scale).all()


@pytest.mark.parametrize("Network", [TAAFNetwork, DGEXNetwork])
def test_network_maps_units_in_and_out(Network):
    torch.manual_seed(0)
    plain = Network(4, 2, hidden_layer_sizes=(8,), dropout=0.0)
    torch.manual_seed(0)
    scaled = Network(4, 2, hidden_layer_sizes=(8,), dropout=0.0, standardize=True)
    x_mean, x_scale = torch.tensor([1.0, 2, 3, 4]), torch.tensor([2.0, 1, 5, 1])
    y_mean, y_scale = torch.tensor([10.0, -3]), torch.tensor([4.0, 0.5])
    scaled.set_standardization(x_mean, x_scale, y_mean, y_scale)
    plain.load_state_dict(scaled.state_dict(), strict=False)  # same weights
    x = torch.randn(5, 4)
    expected = plain((x - x_mean) / x_scale) * y_scale + y_mean
    torch.testing.assert_close(scaled(x), expected)
    assert {"x_mean", "x_scale", "y_mean", "y_scale"} <= set(scaled.state_dict())
    assert not any(name.startswith(("x_", "y_")) for name in plain.state_dict())
    with pytest.raises(ValueError, match="standardize=True"):
        plain.set_standardization(x_mean, x_scale, y_mean, y_scale)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fit_stores_the_training_statistics(Estimator, data):
    X, y = _shifted(*data)
    est = Estimator(**FAST).fit(X, y)
    np.testing.assert_allclose(est.module_.x_mean.numpy(), X.mean(0), rtol=1e-5)
    np.testing.assert_allclose(est.module_.y_scale.numpy(), y.std(0), rtol=1e-5)
    off = Estimator(**FAST, standardize=False).fit(X, y)
    assert not hasattr(off.module_, "x_mean")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_standardize_learns_genes_of_any_units(Estimator, data):
    """Genes with their own location and scale are learnt without scalers,
    as well as the same genes in standard units (without the linear path,
    whose ridge initialisation standardises on its own)."""
    X, y = data
    X_shifted, y_shifted = _shifted(X, y)
    scale = y_shifted.std(0) / y.std(0)
    params = {**FAST, "linear_path": None}
    plain = Estimator(**params).fit(X, y)
    shifted = Estimator(**params).fit(X_shifted, y_shifted)
    error = np.abs(shifted.predict(X_shifted) - y_shifted) / scale
    off = Estimator(**params, standardize=False).fit(X_shifted, y_shifted)
    error_off = np.abs(off.predict(X_shifted) - y_shifted) / scale
    assert error.mean() < 1.5 * np.abs(plain.predict(X) - y).mean()
    assert error.mean() < 0.5 * error_off.mean()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_constant_genes(Estimator, data):
    X, y = data
    X, y = X.copy(), np.column_stack([y, np.full(len(y), 4.0, np.float32)])
    X[:, 0] = -2.0
    est = Estimator(**FAST).fit(X, y)
    prediction = est.predict(X)
    assert np.isfinite(prediction).all()
    np.testing.assert_allclose(prediction[:, -1], 4.0, atol=0.5)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_statistics_survive_save_load_and_pickle(Estimator, data, tmp_path):
    X, y = _shifted(*data)
    est = Estimator(**FAST).fit(X, y)
    est.save(tmp_path / "model.pt")
    copies = [Estimator.load(tmp_path / "model.pt"), pickle.loads(pickle.dumps(est))]
    for copy in copies:
        np.testing.assert_array_equal(copy.predict(X), est.predict(X))
        torch.testing.assert_close(copy.module_.y_mean, est.module_.y_mean)


def test_warm_start_keeps_the_first_statistics(data):
    X, y = _shifted(*data)
    params = {**FAST, "early_stopping": False, "max_epochs": 5}
    whole = TAAFRegressor(**{**params, "max_epochs": 10}).fit(X, y)
    est = TAAFRegressor(**params, warm_start=True).fit(X, y)
    y_mean = est.module_.y_mean.clone()
    est.fit(X, y)
    torch.testing.assert_close(est.module_.y_mean, y_mean)
    np.testing.assert_array_equal(est.predict(X), whole.predict(X))
    est.fit(X + 100, y)  # new data: the fitted network's units are kept
    torch.testing.assert_close(est.module_.y_mean, y_mean)


def test_model_saved_before_standardize_loads_as_before(data, tmp_path):
    """A file without the parameter was written before it existed."""
    import json

    from sktaaf._engine._state import digest

    X, y = data
    est = DGEXRegressor(**FAST, standardize=False).fit(X, y)
    path = tmp_path / "model.pt"
    est.save(path)
    payload = torch.load(path, weights_only=True)
    metadata = json.loads(payload["metadata"])
    assert metadata["params"].pop("standardize") is False
    payload["metadata"] = json.dumps(metadata)
    del payload["checksum"]
    payload["checksum"] = digest(payload)  # intact, as an older version saved it
    torch.save(payload, path)
    loaded = DGEXRegressor.load(path)
    assert loaded.standardize is False
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_reference_settings_train_as_the_old_defaults(data):
    """REFERENCE_SETTINGS: the paper's recipe, as TAAFRegressor's defaults
    were before standardize (the same network, loss and optimizer)."""
    from sktaaf import REFERENCE_SETTINGS

    X, y = data
    est = TAAFRegressor(**REFERENCE_SETTINGS, max_epochs=1, random_state=0).fit(X, y)
    assert est.standardize is False and not hasattr(est.module_, "x_mean")
    assert isinstance(est.net_.criterion_, torch.nn.L1Loss)
    assert est.net_.optimizer_.param_groups[0]["lr"] == 5e-4
    assert est.module_.dropout0.p == 0.25
    assert est.module_.hidden1.linear.out_features == 300


def test_standardized_taaf_output_starts_at_the_means(data):
    X, y = _shifted(*data)
    est = TAAFRegressor(**{**FAST, "max_epochs": 1, "learning_rate": 1e-9})
    prediction = est.fit(X, y).predict(X)
    offset = (prediction.mean(0) - y.mean(0)) / y.std(0)  # in standard units
    assert np.abs(offset).max() < 0.5


def test_training_in_standard_units_is_training_on_standardised_data(data):
    """standardize=True trains the network on each batch standardised, the
    loss in standard units: as the same network trained on data standardised
    beforehand, with the map back to the data's units only in predict."""
    from skorch.callbacks import Callback

    class BatchPredictions(Callback):
        def on_batch_end(self, net, batch=None, training=None, **kwargs):
            self.seen_.append((kwargs["y_pred"].mean().item(), batch[1].mean().item()))

        def initialize(self):
            self.seen_ = []
            return self

    X, y = _shifted(*data)
    params = {**FAST, "linear_path": None, "dropout": 0.0, "max_epochs": 3}
    est = DGEXRegressor(**params, callbacks=[("seen", BatchPredictions())])
    est.fit(X, y)
    x_mean, x_scale = _column_statistics(X)
    y_mean, y_scale = _column_statistics(y)
    Z, T = (X - x_mean) / x_scale, (y - y_mean) / y_scale
    plain = DGEXRegressor(**params, standardize=False).fit(Z, T)
    np.testing.assert_allclose(
        est.predict(X), plain.predict(Z) * y_scale + y_mean, rtol=1e-4, atol=1e-3
    )
    np.testing.assert_allclose(
        est.history_[:, "valid_loss"], plain.history_[:, "valid_loss"], rtol=1e-4
    )
    assert est.module_.standard_units is False  # predicts in the data's units
    # Callbacks see the batches as given and predictions in the same units.
    callback = dict(est.net_.callbacks_)["seen"]
    assert len(callback.seen_) > 3
    for y_pred_mean, y_true_mean in callback.seen_:
        assert abs(y_pred_mean - y_true_mean) < 0.5 * float(y.std(0).mean())
