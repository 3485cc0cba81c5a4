"""``linear_path="blend"``: the layers trained alone, then blended with an
exact leave-one-out ridge regression and calibrated for absolute error."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import FAST, TINY, make_data
from sklearn.linear_model import Ridge, RidgeCV

from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf._data._rows import as_rows
from sktaaf._engine import _linear_path
from sktaaf._engine._linear_path import ridge_statistics as _ridge_statistics
from sktaaf.exceptions import NonFiniteLossWarning
from sktaaf.nn import (
    DEFAULT_RIDGE_ALPHAS,
    TAAFNetwork,
    l1_calibration,
    ridge_gcv,
    ridge_loo,
)

BLEND = {**FAST, "linear_path": "blend", "loss": "mse"}


def ridge_statistics(X, y, *args):
    """The ridge statistics of arrays (wrapped as the row sources fit reads)."""
    return _ridge_statistics(as_rows(X), as_rows(y), *args)


def _problem(n_samples, n_features, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 3, n_features) + 2
    noise = rng.normal(size=(n_samples, 4)) * [0.1, 1.0, 5.0, 20.0]
    Y = X[:, :3] @ rng.normal(size=(3, 4)) + noise
    return X, Y


@pytest.mark.parametrize("shape", [(60, 10), (30, 50)])  # and n < d
def test_ridge_loo_is_ridgecv_and_exact_leave_one_out(shape):
    X, Y = _problem(*shape)
    n = len(X)
    stats = ridge_statistics(X, Y)
    coef, alpha, loo, target = ridge_loo(stats, X, Y)
    Z = (X - X.mean(0)) / X.std(0)
    reference = RidgeCV(alphas=DEFAULT_RIDGE_ALPHAS * n, alpha_per_target=True)
    reference.fit(Z, Y)
    np.testing.assert_allclose(alpha * n, reference.alpha_)
    np.testing.assert_allclose(coef * Y.std(0), reference.coef_.T, atol=1e-10)
    np.testing.assert_allclose(target, (Y - Y.mean(0)) / Y.std(0), atol=1e-12)
    for j in range(Y.shape[1]):  # refit without each row: the same predictions
        model = Ridge(alpha=alpha[j] * n)
        left_out = [
            model.fit(np.delete(Z, i, 0), np.delete(Y[:, j], i)).predict(Z[i : i + 1])
            for i in range(n)
        ]
        expected = (np.ravel(left_out) - Y[:, j].mean()) / Y[:, j].std()
        np.testing.assert_allclose(loo[:, j], expected, atol=1e-9)


def test_ridge_loo_on_a_sample_of_rows_and_with_weights():
    X, Y = _problem(80, 6)
    weight = np.random.RandomState(1).uniform(0.5, 2.0, len(X))
    stats = ridge_statistics(X, Y, weight)
    whole = ridge_loo(stats, X, Y, weight)
    rows = np.arange(0, 80, 3)
    part = ridge_loo(stats, X[rows], Y[rows], weight[rows])
    # The same statistics: each row's leave-one-out prediction is exact
    # whether or not the others are given (its penalty may differ).
    same = whole[1] == part[1]
    np.testing.assert_allclose(part[2][:, same], whole[2][rows][:, same], atol=1e-10)
    # Its coefficients match GCV's form of the same problem.
    coef_gcv, _, _ = ridge_gcv(stats, alphas=[whole[1][0]])
    np.testing.assert_allclose(whole[0][:, 0], coef_gcv[:, 0], atol=1e-10)


def test_l1_calibration_fits_least_absolute_deviations():
    rng = np.random.RandomState(0)
    score = rng.normal(size=(200, 3))
    target = 1.0 + np.array([2.0, 0.5, -1.0]) * score + rng.laplace(size=(200, 3))
    target[:5] = 100.0  # outliers barely move it
    offset, slope = l1_calibration(score, target)
    np.testing.assert_allclose(offset[:2], 1.0, atol=0.25)
    np.testing.assert_allclose(slope[:2], [2.0, 0.5], atol=0.25)
    assert slope[2] == 0.0  # a slope at least 0: never reversed...
    np.testing.assert_allclose(offset[2], np.median(target[:, 2]), atol=0.02)
    _, slope = l1_calibration(score, target, min_slope=1e-3)
    assert slope[2] == 1e-3
    weight = np.r_[np.zeros(5), np.ones(195)]  # the outliers weigh nothing
    offset, slope = l1_calibration(score, target, weight)
    np.testing.assert_allclose(offset[:2], 1.0, atol=0.25)


def test_a_blend_network_trains_its_layers_alone():
    network = TAAFNetwork(5, 3, (4,), dropout=0.0, linear_path="blend")
    assert not any(p.requires_grad for p in network.linear_path.parameters())
    with torch.no_grad():
        network.linear_path.weight.fill_(1.0)
    x = torch.randn(7, 5)
    network.eval()
    layers = network(x)  # the blend starts as the layers alone
    network.set_blend(
        np.full(3, 2.0), np.full(3, 3.0), np.full(3, 1.0), np.full(3, 0.5)
    )
    path = network.linear_path(x)
    torch.testing.assert_close(network(x), 1.0 + 0.5 * (2.0 * layers + 3.0 * path))
    network.train()
    torch.testing.assert_close(network(x), layers)  # no dropout in this one
    network.reset_blend()
    network.eval()
    torch.testing.assert_close(network(x), layers)


@pytest.fixture(scope="module")
def data():
    return make_data(n_samples=150, n_features=8, n_targets=3)


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
def test_the_blend_is_fitted_on_all_rows_after_training(Estimator, data):
    X, y = data
    model = Estimator(**BLEND).fit(X, y)
    network = model.module_
    blend = network.blend.numpy()
    assert (blend[0] > 0).all() and (blend[1] > 0).all()  # both have a share
    assert (blend[3] >= _linear_path.MIN_SLOPE).all()
    # The path is the ridge on every row (the early-stopping rows too).
    stats = ridge_statistics(X, y)
    coef, alpha, _, _ = ridge_loo(stats, X, y, alphas=_linear_path.LOO_ALPHAS)
    Z = (X - X.mean(0)) / X.std(0)
    expected = Ridge(alpha=alpha * len(X)).fit(Z, y).predict(Z)
    with torch.no_grad():
        z = (torch.as_tensor(X) - network.x_mean) / network.x_scale
        path = network.linear_path(z) * network.y_scale + network.y_mean
    np.testing.assert_allclose(path.numpy(), expected, rtol=1e-4, atol=1e-4)
    assert model.score(X, y) > 0.5


def test_blend_survives_save_load_pickle_and_warm_start(data, tmp_path):
    X, y = data
    model = TAAFRegressor(**BLEND, warm_start=True).fit(X, y)
    expected = model.predict(X)
    model.save(tmp_path / "model.pt")
    loaded = TAAFRegressor.load(tmp_path / "model.pt")
    assert loaded.linear_path == "blend"
    np.testing.assert_array_equal(loaded.predict(X), expected)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(model)).predict(X), expected
    )
    model.set_params(max_epochs=3).fit(X, y)  # continues, then blends again
    assert np.isfinite(model.predict(X)).all()
    assert not np.array_equal(model.predict(X), expected)


def test_sparse_on_disk_and_weighted_data(data, tmp_path):
    X, y = data
    X = X.copy()
    X[X < 0.5] = 0
    params = {**BLEND, "max_epochs": 2}
    dense = TAAFRegressor(**params).fit(X, y)
    np.save(tmp_path / "X.npy", X)
    for other in (sp.csr_matrix(X), np.load(tmp_path / "X.npy", mmap_mode="r")):
        np.testing.assert_allclose(
            TAAFRegressor(**params).fit(other, y).predict(X),
            dense.predict(X),
            rtol=1e-4,
            atol=1e-4,
        )
    # Rows of weight 0 are left out of the blend as of the path.
    weight = np.r_[np.zeros(20), np.ones(len(X) - 20)]
    X_bad = X.copy()
    X_bad[:20] = 1e3
    weighted = TAAFRegressor(**params, early_stopping=False).fit(X_bad, y, weight)
    assert np.isfinite(weighted.predict(X)).all()
    stats = ridge_statistics(X_bad, y, weight)
    coef, *_ = ridge_loo(stats, X_bad[20:], y[20:])
    assert np.abs(coef).max() < 100


def test_many_rows_fit_the_blend_on_a_seeded_sample(data, monkeypatch):
    X, y = data
    seen = []
    original = _linear_path.ridge_loo

    def spy(stats, x, *args, **kwargs):
        seen.append(len(x))
        return original(stats, x, *args, **kwargs)

    monkeypatch.setattr(_linear_path, "ridge_loo", spy)
    monkeypatch.setattr(_linear_path, "_MAX_LOO_VALUES", 3)  # budget: 1000 rows
    big_X, big_y = np.tile(X, (8, 1)), np.tile(y, (8, 1))
    params = {**BLEND, "max_epochs": 1}
    first = TAAFRegressor(**params).fit(big_X, big_y).predict(X)
    second = TAAFRegressor(**params).fit(big_X, big_y).predict(X)
    assert seen == [1000, 1000]
    np.testing.assert_array_equal(first, second)


def test_target_blocks_blend_each_block(data):
    X, y = data
    blocks = TargetBlockRegressor(TAAFRegressor(**BLEND), n_blocks=2).fit(X, y)
    assert blocks.predict(X).shape == y.shape
    assert all(m.module_.linear_path_mode == "blend" for m in blocks.estimators_)


def test_the_layers_share_follows_the_early_stopping_rows():
    rng = np.random.RandomState(0)
    truth = rng.normal(size=(40, 5))
    noise = rng.normal(size=(40, 5))
    best = _linear_path._best_share
    assert best(truth, noise, truth) == max(_linear_path.LAYERS_SHARES)
    assert best(noise, truth, truth) == min(_linear_path.LAYERS_SHARES)
    assert best(truth[:2], noise[:2], truth[:2]) == _linear_path.DEFAULT_SHARE


def test_the_share_is_chosen_on_the_validation_rows(data, monkeypatch):
    X, y = data
    seen = []
    original = _linear_path._best_share

    def spy(layers, path, truth):
        seen.append(len(truth))
        return original(layers, path, truth)

    monkeypatch.setattr(_linear_path, "_best_share", spy)
    TAAFRegressor(**BLEND).fit(X, y)
    TAAFRegressor(**BLEND, early_stopping=False).fit(X, y)
    assert seen == [int(np.ceil(0.1 * len(X))), 0]


# ------------------------------------------- degenerate data: finite, sensible
def clean_data():
    """The fuzz tests' clean data (tests/_fuzzing.py), 24 x 4 -> 2."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 4))
    return X, np.tanh(X[:, :2]) + 0.1 * rng.normal(size=(24, 2))


def _layers_alone(network):
    expected = torch.zeros_like(network.blend)
    expected[0] = expected[3] = 1.0
    return torch.equal(network.blend, expected)


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
@pytest.mark.parametrize("linear_path", ["blend", "ridge", "fixed"])
def test_an_input_varying_below_float32_resolution_is_left_out(Estimator, linear_path):
    # Found by the fuzz tests: the input varies by 1e-39 (a float32 denormal),
    # which the networks' standardisation treats as constant; the ridge gave
    # it a weight of 1e39, which overflowed float32 (NaN predictions).
    X = np.array([[1e-39], [-1.32e-161]])
    y = np.random.default_rng(0).normal(size=(2, 2))
    model = Estimator(**TINY, linear_path=linear_path).fit(X, y)
    if linear_path != "ridge":  # (trained from there)
        assert not model.module_.linear_path.weight.any()
    prediction = model.predict(X)
    assert np.isfinite(prediction).all()
    if linear_path == "blend":  # nothing to go on: the targets' mean
        np.testing.assert_allclose(prediction, np.tile(y.mean(0), (2, 1)), atol=1e-3)


def test_target_blocks_with_an_input_below_float32_resolution():
    X = np.array([[1e-39], [-1.32e-161]])
    y = np.random.default_rng(0).normal(size=(2, 2))
    model = TargetBlockRegressor(TAAFRegressor(**TINY), n_blocks=2).fit(X, y)
    np.testing.assert_allclose(model.predict(X), np.tile(y.mean(0), (2, 1)), atol=1e-3)


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
def test_warm_start_on_one_row_too_extreme_for_float32(Estimator):
    # Found by the fuzz tests: refitted on one row whose first input is near
    # float32's largest value, the layers predict NaN on it; the blend's
    # spreads and calibration took the NaN in and predicted NaN everywhere.
    X, y = clean_data()
    model = Estimator(**TINY, warm_start=True).fit(X, y)
    extreme = np.array([[3.40282347e38, -0.132, 0.640, 0.105]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonFiniteLossWarning)
        model.fit(extreme, y[:1])
    assert _layers_alone(model.module_)  # no row to calibrate on
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.filterwarnings("ignore::sktaaf.exceptions.NonFiniteLossWarning")
def test_the_blend_leaves_out_rows_too_extreme_for_float32():
    X, y = clean_data()
    extreme = np.r_[X, [[3.4e38, 0, 0, 0], [-3.4e38, 0, 0, 0], [-3.4e38, 0, 0, 0]]]
    model = TAAFRegressor(**TINY).fit(extreme, np.r_[y, y[:3]])
    assert not _layers_alone(model.module_)  # calibrated on the other rows
    assert np.isfinite(model.module_.blend.numpy()).all()
    assert np.isfinite(model.predict(X)).all()


@pytest.mark.parametrize(
    "case", ["constant_input", "constant_target", "one_row", "two_rows", "weights"]
)
@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
def test_degenerate_data_give_finite_blends(Estimator, case):
    X, y = clean_data()
    weight = None
    if case == "constant_input":
        X[:, 3] = 7.0
    elif case == "constant_target":
        y[:, 1] = 2.0
    elif case in ("one_row", "two_rows"):
        X, y = X[: 1 + (case == "two_rows")], y[: 1 + (case == "two_rows")]
    else:  # half the rows count for nothing
        weight = np.r_[np.zeros(12), np.ones(12)]
    model = Estimator(**TINY).fit(X, y, sample_weight=weight)
    assert np.isfinite(model.module_.blend.numpy()).all()
    assert np.isfinite(model.predict(X)).all()
    if case == "one_row":  # the blend predicts the row's target
        np.testing.assert_allclose(model.predict(X), y, rtol=1e-4, atol=1e-4)
