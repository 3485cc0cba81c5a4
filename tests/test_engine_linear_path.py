"""The networks' linear path: its ridge initialisation (GCV from sufficient
statistics) and how the estimators wire it."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import ESTIMATORS, FAST, make_data
from sklearn.linear_model import Ridge
from sklearn.utils import check_random_state

from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf._data._rows import as_rows
from sktaaf._engine._linear_path import ridge_statistics as _ridge_statistics
from sktaaf.nn import (
    DEFAULT_RIDGE_ALPHAS,
    DGEXNetwork,
    LinearPath,
    RidgeStatistics,
    TAAFNetwork,
    ridge_gcv,
    ridge_loo,
)


def ridge_statistics(X, y, *args):
    """The ridge statistics of arrays (wrapped as the row sources fit reads)."""
    return _ridge_statistics(as_rows(X), as_rows(y), *args)


def _problem(n_samples=60, n_features=8, n_targets=3, seed=0):
    rng = np.random.RandomState(seed)
    X = 2 + rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 3, n_features)
    Y = X[:, :3] @ rng.normal(size=(3, n_targets)) + 2 * rng.normal(
        size=(n_samples, n_targets)
    )
    return X.astype(np.float32), Y.astype(np.float32)


def _standardised(X, Y):
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    return (X - X.mean(0)) / X.std(0), (Y - Y.mean(0)) / Y.std(0)


def _brute_force_gcv(Z, T, alphas):
    """GCV from the explicit n x n hat matrix (intercept included)."""
    n = len(Z)
    centring = np.eye(n) - 1.0 / n
    Zc = centring @ Z
    errors = []
    for alpha in alphas:
        hat = Zc @ np.linalg.solve(Zc.T @ Zc + alpha * n * np.eye(Z.shape[1]), Zc.T)
        hat = hat + 1.0 / n
        residual = T - hat @ T
        errors.append((residual**2).mean(0) / (1 - np.trace(hat) / n) ** 2)
    return np.array(errors)


@pytest.mark.parametrize("n_samples", [60, 6])  # and fewer samples than inputs
def test_gcv_is_generalised_cross_validation(n_samples):
    X, Y = _problem(n_samples=n_samples)
    stats = RidgeStatistics(X.shape[1], Y.shape[1])
    stats.update(X, Y)
    coef, alpha, gcv = ridge_gcv(stats)
    assert gcv.shape == (len(DEFAULT_RIDGE_ALPHAS), Y.shape[1])
    Z, T = _standardised(X, Y)
    expected = _brute_force_gcv(Z, T, DEFAULT_RIDGE_ALPHAS)
    np.testing.assert_allclose(gcv, expected, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(alpha, DEFAULT_RIDGE_ALPHAS[expected.argmin(0)])
    for target in range(Y.shape[1]):
        ridge = Ridge(alpha=alpha[target] * n_samples).fit(Z, T[:, target])
        np.testing.assert_allclose(coef[:, target], ridge.coef_, rtol=1e-3, atol=1e-5)


def test_one_penalty_for_all_targets():
    X, Y = _problem()
    stats = RidgeStatistics(X.shape[1], Y.shape[1])
    stats.update(X, Y)
    _, alpha, gcv = ridge_gcv(stats, per_target=False)
    assert np.all(alpha == DEFAULT_RIDGE_ALPHAS[gcv.mean(1).argmin()])


def test_statistics_merge_chunks_and_weights():
    X, Y = _problem()
    whole = RidgeStatistics(8, 3)
    whole.update(X, Y)
    chunked = RidgeStatistics(8, 3)
    for start in range(0, len(X), 7):
        chunked.update(X[start : start + 7], Y[start : start + 7])
    for name in ("x_mean", "y_mean", "xtx", "xty", "yty"):
        np.testing.assert_allclose(
            getattr(chunked, name), getattr(whole, name), rtol=1e-5, atol=1e-5
        )
    # Weight 2 is the row twice; weight 0 is no row.
    weight = np.r_[np.full(20, 2.0), np.zeros(10), np.ones(30)]
    weighted = RidgeStatistics(8, 3)
    weighted.update(X, Y, weight)
    rows = np.r_[np.arange(20), np.arange(20), np.arange(30, 60)]
    repeated = RidgeStatistics(8, 3)
    repeated.update(X[rows], Y[rows])
    np.testing.assert_allclose(weighted.xtx, repeated.xtx, rtol=1e-5)
    np.testing.assert_allclose(weighted.xty, repeated.xty, rtol=1e-5, atol=1e-4)


def test_constant_columns_get_zero_coefficients():
    X, Y = _problem()
    X[:, 2] = 5.0
    Y[:, 1] = -1.0
    stats = RidgeStatistics(8, 3)
    stats.update(X, Y)
    coef, _, _ = ridge_gcv(stats)
    assert np.isfinite(coef).all()
    assert not coef[2].any() and not coef[:, 1].any()


def test_inputs_that_do_not_vary_in_float32_get_zero_coefficients():
    # The networks' standardisation treats the first two inputs as constant
    # (scale 1): a spread of 1e-39 (float32 denormals), and one within
    # float32's rounding of the mean; a ridge weight on them would overflow
    # the float32 path (or be noise). The third one's spread overflows.
    X, Y = _problem(n_features=5)
    X = X.astype(np.float64)
    X[:, 0] = X[:, 0] * 1e-39
    X[:, 1] = 1e6 + X[:, 1] * 1e-4
    X[:1, 2], X[1:3, 2] = 1e200, -1e200
    stats = RidgeStatistics(5, 3)
    with np.errstate(over="ignore", invalid="ignore"):
        stats.update(X, Y)
    coef, _, _ = ridge_gcv(stats)
    coef_loo, alpha, loo, _ = ridge_loo(stats, X, Y)
    for solution in (coef, coef_loo):
        assert np.isfinite(solution).all()
        assert not solution[:3].any() and solution[3:].all()
    assert np.isfinite(loo).all() and np.isfinite(alpha).all()
    reference = RidgeStatistics(2, 3)
    reference.update(X[:, 3:], Y)
    np.testing.assert_allclose(coef[3:], ridge_gcv(reference)[0])


def test_statistics_of_values_too_far_apart_for_float32():
    X, Y = _problem(n_features=3)
    X[:1, 2], X[1:3, 2] = 3.4e38, -3.4e38
    Y[:1, 0], Y[1:3, 0] = 3.4e38, -3.4e38
    stats = RidgeStatistics(3, 3)
    stats.update(X, Y)
    reference = RidgeStatistics(3, 3)
    reference.update(X.astype(np.float64), Y.astype(np.float64))
    for name in ("xtx", "xty", "yty", "x_mean", "y_mean"):
        assert np.isfinite(getattr(stats, name)).all()
        np.testing.assert_allclose(getattr(stats, name), getattr(reference, name))


def test_a_target_that_overflows_gets_zero_coefficients():
    X, Y = _problem()
    Y = Y.astype(np.float64)
    Y[:1, 0], Y[1:3, 0] = 1e200, -1e200  # its sum of squares overflows
    stats = RidgeStatistics(8, 3)
    with np.errstate(over="ignore", invalid="ignore"):
        stats.update(X, Y)
        coef, alpha, loo, _ = ridge_loo(stats, X, Y)
        coef_gcv, _, _ = ridge_gcv(stats)
    for solution in (coef, coef_gcv):
        assert np.isfinite(solution).all()
        assert not solution[:, 0].any() and solution[:, 1:].any()
    assert np.isfinite(alpha).all() and np.isfinite(loo).all()


def test_a_path_that_overflows_float32_falls_back_to_the_mean():
    X, Y = _problem(n_features=3)
    stats = RidgeStatistics(3, 3)
    stats.update(X, Y)
    coef, _, _ = ridge_gcv(stats)
    coef[0, 1] = 1e40  # a solution float32 cannot hold, for the second output
    path = LinearPath(3, 3)
    path.set_ridge(stats, coef)
    assert torch.isfinite(path.weight).all() and torch.isfinite(path.bias).all()
    assert not path.weight[1].any() and path.weight[[0, 2]].all()
    assert path.bias[1].item() == pytest.approx(stats.y_mean[1], rel=1e-6)


@pytest.mark.parametrize("standardize", [True, False])
@pytest.mark.parametrize("network_class", [TAAFNetwork, DGEXNetwork])
def test_network_starts_at_the_ridge_solution(network_class, standardize):
    X, Y = _problem()
    stats = RidgeStatistics(8, 3)
    stats.update(X, Y)
    coef, alpha, _ = ridge_gcv(stats)
    network = network_class(
        8, 3, (5,), standardize=standardize, linear_path="ridge"
    ).eval()
    if standardize:
        network.set_standardization(X.mean(0), X.std(0), Y.mean(0), Y.std(0))
    network.set_linear_path(stats, coef)
    with torch.no_grad():
        output = network(torch.from_numpy(X)).numpy()
    Z, _ = _standardised(X, Y)
    for target in range(3):
        ridge = Ridge(alpha=alpha[target] * len(X)).fit(Z, Y[:, target])
        np.testing.assert_allclose(
            output[:, target], ridge.predict(Z), rtol=1e-4, atol=1e-3
        )


def test_linear_path_modes():
    trained = TAAFNetwork(4, 2, (3,), linear_path=True)
    assert trained.linear_path_mode == "ridge"
    assert trained.linear_path.weight.requires_grad
    fixed = TAAFNetwork(4, 2, (3,), linear_path="fixed")
    assert not fixed.linear_path.weight.requires_grad
    plain = TAAFNetwork(4, 2, (3,))
    assert plain.linear_path_mode is None and not hasattr(plain, "linear_path")
    with pytest.raises(ValueError, match="linear_path must be"):
        TAAFNetwork(4, 2, (3,), linear_path="lasso")
    with pytest.raises(ValueError, match="needs a network with a linear_path"):
        plain.set_linear_path(None, None)
    assert LinearPath(4, 2)(torch.ones(5, 4)).abs().sum() == 0


def _ridge_on_training_rows(estimator, X, y, sample_weight=None):
    split = estimator._validation_split(len(X), check_random_state(0))
    stats = ridge_statistics(X, y, sample_weight, split.train_indices)
    rows = split.train_indices
    direct = RidgeStatistics(X.shape[1], y.shape[1])
    direct.update(
        X[rows], y[rows], None if sample_weight is None else sample_weight[rows]
    )
    np.testing.assert_allclose(stats.xtx, direct.xtx, rtol=1e-5, atol=1e-4)
    return stats


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fixed_path_is_ridge_on_the_training_rows_only(Estimator, data):
    X, y = data
    weight = np.random.RandomState(1).uniform(0.5, 2, len(X))
    model = Estimator(**{**FAST, "max_epochs": 2}, linear_path="fixed")
    model.fit(X, y, sample_weight=weight)
    stats = _ridge_on_training_rows(model, X, y, weight)
    coef, _, _ = ridge_gcv(stats)
    expected = Estimator(**FAST, linear_path="fixed")._make_network(12, 3, (16,))
    expected.set_standardization(*(t.cpu() for t in _buffers(model.module_)))
    expected.set_linear_path(stats, coef)
    for name in ("weight", "bias"):
        np.testing.assert_allclose(
            getattr(model.module_.linear_path, name).detach().cpu().numpy(),
            getattr(expected.linear_path, name).detach().numpy(),
            rtol=1e-4,
            atol=1e-5,
        )


def _buffers(module):
    return module.x_mean, module.x_scale, module.y_mean, module.y_scale


def test_trained_path_moves_and_improves_on_ridge(data):
    X, y = data
    fixed = TAAFRegressor(**FAST, linear_path="fixed").fit(X, y)
    trained = TAAFRegressor(**FAST, linear_path="ridge").fit(X, y)
    assert not torch.equal(
        fixed.module_.linear_path.weight, trained.module_.linear_path.weight
    )
    assert trained.score(X, y) > 0.5


def test_sparse_and_on_disk_data_give_the_same_path(data, tmp_path):
    X, y = data
    X = X.copy()
    X[X < 0.5] = 0  # sparse-ish
    params = {**FAST, "max_epochs": 1, "linear_path": "fixed"}
    dense = TAAFRegressor(**params).fit(X, y)
    sparse = TAAFRegressor(**params).fit(sp.csr_matrix(X), y)
    path = tmp_path / "X.npy"
    np.save(path, X)
    memmap = TAAFRegressor(**params).fit(np.load(path, mmap_mode="r"), y)
    from sktaaf.datasets import ColumnRows

    wide = np.ascontiguousarray(np.c_[X, np.ones((len(X), 1), np.float32)])
    np.save(tmp_path / "wide.npy", wide)
    columns = ColumnRows(np.load(tmp_path / "wide.npy", mmap_mode="r"), range(12))
    others = [sparse, memmap, TAAFRegressor(**params).fit(columns, y)]
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "X.h5", "w") as file:
        file.create_dataset("X", data=X)
    with h5py.File(tmp_path / "X.h5", "r") as file:
        others.append(TAAFRegressor(**params).fit(file["X"], y))
    for other in others:
        np.testing.assert_allclose(
            other.module_.linear_path.weight.detach().numpy(),
            dense.module_.linear_path.weight.detach().numpy(),
            rtol=1e-5,
            atol=1e-6,
        )


def test_statistics_read_in_chunks(monkeypatch, tmp_path):
    """On-disk data is read a chunk of rows at a time, as the column
    statistics read it (one knob: ``_rows.CHUNK_ROWS``)."""
    from sktaaf._data import _rows

    X, Y = _problem(n_samples=50)
    whole = ridge_statistics(X, Y)
    np.save(tmp_path / "X.npy", X)
    read = []
    original = _rows.read_rows

    def read_rows(array, *args, **kwargs):
        rows = original(array, *args, **kwargs)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(_rows, "CHUNK_ROWS", 7)
    monkeypatch.setattr(_rows, "read_rows", read_rows)  # the one reader
    chunked = ridge_statistics(np.load(tmp_path / "X.npy", mmap_mode="r"), Y)
    assert read and max(read) <= 7
    np.testing.assert_allclose(chunked.xty, whole.xty, rtol=1e-5, atol=1e-5)


def test_target_blocks_warm_start_and_save_load(data, tmp_path):
    X, y = data
    blocks = TargetBlockRegressor(
        TAAFRegressor(**{**FAST, "max_epochs": 3}), n_blocks=2
    ).fit(X, y)
    assert blocks.predict(X).shape == y.shape
    model = TAAFRegressor(
        **{**FAST, "max_epochs": 3}, linear_path="ridge", warm_start=True
    ).fit(X, y)
    first = model.module_.linear_path.weight.detach().clone()
    model.fit(X, y)  # continues: the path is not set to ridge again
    assert len(model.history_) == 6
    assert not torch.equal(first, model.module_.linear_path.weight)
    model.save(tmp_path / "model.pt")
    loaded = TAAFRegressor.load(tmp_path / "model.pt")
    assert loaded.linear_path == "ridge"
    np.testing.assert_array_equal(
        loaded.module_.linear_path.scale.detach(),
        model.module_.linear_path.scale.detach(),
    )
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_the_estimators_default_to_a_blended_linear_path():
    for Estimator in (TAAFRegressor, DGEXRegressor):
        assert Estimator().linear_path == "blend"
        assert Estimator().loss == "mse"


def test_fewer_samples_than_landmarks():
    X, y = make_data(n_samples=30, n_features=40)
    model = TAAFRegressor(**FAST, early_stopping=False).fit(X, y)
    assert np.isfinite(model.predict(X)).all()


def test_a_file_saved_before_linear_path_loads_without_one(data, tmp_path):
    import json

    from sktaaf._engine._state import digest

    X, y = data
    est = TAAFRegressor(**{**FAST, "max_epochs": 2}, linear_path=None).fit(X, y)
    path = tmp_path / "model.pt"
    est.save(path)
    payload = torch.load(path, weights_only=True)
    metadata = json.loads(payload["metadata"])
    assert metadata["params"].pop("linear_path") is None
    payload["metadata"] = json.dumps(metadata)
    del payload["checksum"]
    payload["checksum"] = digest(payload)  # intact, as an older version saved it
    torch.save(payload, path)
    loaded = TAAFRegressor.load(path)
    assert loaded.linear_path is None
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
