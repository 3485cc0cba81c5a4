"""Bad data and bad parameters fail early and clearly; divergence is survived."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from conftest import ESTIMATORS, FAST, make_data
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import sktaaf._base
from sktaaf import TAAFRegressor
from sktaaf.exceptions import NonFiniteLossWarning, SktaafWarning
from sktaaf.nn._activations import _FunctionActivation

SETTINGS = {**FAST, "max_epochs": 5}


@pytest.fixture(scope="module")
def data():
    X, y = make_data(n_samples=64, n_features=6)
    return X.astype(np.float64), y.astype(np.float64)


@pytest.fixture
def no_torch_work(monkeypatch):
    """Make any step of fit past validation fail the test."""

    def fail(*args, **kwargs):
        pytest.fail("fit got past input validation into the torch work")

    monkeypatch.setattr(sktaaf._base, "TrainingNet", fail)
    monkeypatch.setattr(sktaaf._data._batches, "TensorData", fail)
    for Estimator in ESTIMATORS:
        monkeypatch.setattr(Estimator, "_make_network", fail)


# -------------------------------------------------------------- bad data
def _with_value(array, value, index=(3, 1)):
    array = np.array(array, dtype=np.float64)
    array[index] = value
    return array


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_X_is_rejected(Estimator, data, value, dtype, no_torch_work):
    X, y = data
    X_bad = _with_value(X, value).astype(dtype)
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        Estimator(**SETTINGS).fit(X_bad, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("one_dimensional", [False, True])
def test_non_finite_y_is_rejected(
    Estimator, data, value, one_dimensional, no_torch_work
):
    X, y = data
    y_bad = _with_value(y, value)
    if one_dimensional:
        y_bad = y_bad[:, 1]
    with pytest.raises(ValueError, match=r"Input y contains (NaN|infinity)"):
        Estimator(**SETTINGS).fit(X, y_bad)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_X_too_large_for_float32_is_rejected(Estimator, data, no_torch_work):
    X, y = data
    with pytest.raises(ValueError, match=r"Input X contains infinity"):
        Estimator(**SETTINGS).fit(_with_value(X, 1e39), y)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_y_too_large_for_float32_is_rejected(Estimator, data, no_torch_work):
    X, y = data
    with pytest.raises(ValueError, match=r"Input y contains infinity"):
        Estimator(**SETTINGS).fit(X, _with_value(y, 1e39))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_X_in_predict_is_rejected(Estimator, data, value):
    X, y = data
    est = Estimator(**{**SETTINGS, "max_epochs": 1}).fit(X, y)
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        est.predict(_with_value(X, value))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "make_X, message",
    [
        (lambda X: X[:, 0], "Expected 2D array, got 1D array"),
        (lambda X: X[:, :, np.newaxis], "Found array with dim 3"),
        (lambda X: X.reshape(-1, 2, 3), "Found array with dim 3"),
    ],
    ids=["1d", "3d", "3d-reshaped"],
)
def test_X_of_wrong_dimension_is_rejected(
    Estimator, data, make_X, message, no_torch_work
):
    X, y = data
    with pytest.raises(ValueError, match=message):
        Estimator(**SETTINGS).fit(make_X(X), y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_3d_y_is_rejected(Estimator, data, no_torch_work):
    X, y = data
    with pytest.raises(ValueError, match="Found array with dim 3"):
        Estimator(**SETTINGS).fit(X, y[:, :, np.newaxis])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_empty_X_is_rejected(Estimator, data, no_torch_work):
    X, y = data
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        Estimator(**SETTINGS).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        Estimator(**SETTINGS).fit(X[:, :0], y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_string_data_is_rejected(Estimator, data, no_torch_work):
    X, y = data
    for X_str in (np.full(X.shape, "a", dtype=object), np.full(X.shape, "a")):
        with pytest.raises(ValueError, match="could not convert string to float"):
            Estimator(**SETTINGS).fit(X_str, y)
    y_str = np.full(y.shape, "b", dtype=object)
    with pytest.raises(ValueError):
        Estimator(**SETTINGS).fit(X, y_str)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_complex_data_is_rejected(Estimator, data, no_torch_work):
    X, y = data
    with pytest.raises(ValueError, match="Complex data not supported"):
        Estimator(**SETTINGS).fit(X + 1j, y)
    with pytest.raises(ValueError, match="Complex data not supported"):
        Estimator(**SETTINGS).fit(X, y + 1j)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sparse_X_with_nan_is_rejected(Estimator, data, no_torch_work):
    # sparse input is accepted (tests/test_data_sparse_anndata.py), checked alike
    X, y = data
    X = sp.csr_matrix(X)
    X.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Estimator(**SETTINGS).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_inconsistent_n_samples_is_rejected(Estimator, data, no_torch_work):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Estimator(**SETTINGS).fit(X[:-5], y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_predict_with_other_n_features_is_rejected(Estimator, data):
    X, y = data
    est = Estimator(**{**SETTINGS, "max_epochs": 1}).fit(X, y)
    n_features = X.shape[1]
    with pytest.raises(
        ValueError,
        match=f"X has {n_features - 2} features, but {Estimator.__name__} is "
        f"expecting {n_features} features",
    ):
        est.predict(X[:, :-2])
    with pytest.raises(ValueError, match=f"expecting {n_features} features"):
        est.predict(np.hstack([X, X]))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_predict_before_fit(Estimator, data):
    X, _ = data
    with pytest.raises(NotFittedError):
        Estimator(**SETTINGS).predict(X)
    with pytest.raises(NotFittedError):
        Estimator(**SETTINGS).score(X, np.zeros((len(X), 3)))


# -------------------------------------------------------- bad parameters
class _NotAnOptimizer:
    pass


def _id(value):
    """A test id that is the same in every process (no memory addresses)."""
    return getattr(value, "__name__", None) or repr(value)


INVALID_PARAMS = [
    ("dropout", -0.1),
    ("dropout", 1.0),
    ("dropout", 1.5),
    ("hidden_layer_sizes", ()),
    ("hidden_layer_sizes", []),
    ("hidden_layer_sizes", (0,)),
    ("hidden_layer_sizes", 0),
    ("hidden_layer_sizes", (10, -1)),
    ("hidden_layer_sizes", (2.5,)),
    ("hidden_layer_sizes", (True,)),
    ("hidden_layer_sizes", True),  # not a 1-unit network
    ("hidden_layer_sizes", ((16, 8),)),  # not two layers
    ("hidden_layer_sizes", np.array([[16, 8]])),
    ("hidden_layer_sizes", {16, 8}),  # no order
    ("hidden_layer_sizes", {16: 8}),
    ("batch_size", True),
    ("max_epochs", True),
    ("n_iter_no_change", True),
    ("learning_rate", True),
    ("dropout", False),
    ("hidden_layer_sizes", "abc"),
    ("activation", "swishy"),
    ("activation", 3),
    ("output_activation", "nope"),
    ("loss", "huberish"),
    ("loss", torch.nn.functional.mse_loss),  # a function, not a Module
    ("optimizer", "adamax2"),
    ("optimizer", int),
    ("optimizer", _NotAnOptimizer),
    ("optimizer", torch.nn.Linear),
    ("learning_rate", 0),
    ("learning_rate", -1e-3),
    ("batch_size", 0),
    ("batch_size", 2.5),
    ("max_epochs", 0),
    ("validation_fraction", 0.0),
    ("validation_fraction", 1.0),
    ("n_iter_no_change", 0),
    ("optimizer_kwargs", [("momentum", 0.9)]),
    ("callbacks", "lr"),
    ("device", "tpu"),
    ("device", "cuda:x"),
    ("random_state", "seed"),
    ("verbose", "loud"),
    ("early_stopping", "yes"),
]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "name, value", INVALID_PARAMS, ids=[f"{n}={_id(v)}" for n, v in INVALID_PARAMS]
)
def test_invalid_parameter_is_rejected(Estimator, data, name, value, no_torch_work):
    X, y = data
    est = Estimator(**SETTINGS).set_params(**{name: value})
    with pytest.raises(ValueError, match=f"'{name}'"):
        est.fit(X, y)
    assert not hasattr(est, "net_")


VALID_PARAMS = [
    ("hidden_layer_sizes", 5),
    ("hidden_layer_sizes", [6, 4]),
    ("hidden_layer_sizes", np.array([6, 4])),
    ("hidden_layer_sizes", (np.int64(5),)),
    ("hidden_layer_sizes", np.array(5)),
    ("optimizer", torch.optim.Adagrad),
    ("loss", torch.nn.HuberLoss()),
    ("output_activation", None),
    ("output_activation", "identity"),
    ("optimizer_kwargs", {"weight_decay": 1e-4}),
    ("dropout", 0.0),
]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "name, value", VALID_PARAMS, ids=[f"{n}={_id(v)}" for n, v in VALID_PARAMS]
)
def test_valid_parameter_forms(Estimator, data, name, value):
    X, y = data
    est = Estimator(**{**SETTINGS, "max_epochs": 2}).set_params(**{name: value})
    est.fit(X, y)
    assert np.isfinite(est.predict(X)).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_early_stopping_with_one_sample(Estimator, data, no_torch_work):
    X, y = data
    with pytest.raises(ValueError, match="n_samples = 1"):
        Estimator(**SETTINGS, early_stopping=True).fit(X[:1], y[:1])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_one_sample_without_early_stopping(Estimator, data):
    X, y = data
    est = Estimator(**{**SETTINGS, "max_epochs": 2}, early_stopping=False).fit(
        X[:1], y[:1]
    )
    assert est.predict(X[:3]).shape == (3, y.shape[1])


# ------------------------------------------------------------- divergence
class NaNGradientAfter(torch.nn.Module):
    """MSE whose value is always finite but whose gradient turns NaN after
    ``n_clean`` calls (0 * inf in the backward pass of sqrt at 0)."""

    def __init__(self, n_clean):
        super().__init__()
        self.n_clean = n_clean
        self.n_calls = 0

    def forward(self, y_pred, y_true):
        self.n_calls += 1
        loss = torch.nn.functional.mse_loss(y_pred, y_true)
        if self.n_calls > self.n_clean:
            poison = torch.sqrt((y_pred - y_pred.detach()).abs()).sum()
            loss = loss + 0.0 * poison
        return loss


class NaNAfter(torch.nn.Module):
    """MSE that returns NaN (with NaN gradients) after ``n_finite`` calls."""

    def __init__(self, n_finite):
        super().__init__()
        self.n_finite = n_finite
        self.n_calls = 0

    def forward(self, y_pred, y_true):
        self.n_calls += 1
        loss = torch.nn.functional.mse_loss(y_pred, y_true)
        return loss * float("nan") if self.n_calls > self.n_finite else loss


def test_non_finite_loss_warning_hierarchy():
    assert issubclass(NonFiniteLossWarning, SktaafWarning)
    assert issubclass(NonFiniteLossWarning, ConvergenceWarning)
    assert issubclass(NonFiniteLossWarning, UserWarning)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_nan_loss_stops_and_keeps_last_finite_epoch(Estimator, data):
    X, y = data  # 64 samples in batches of 32: two calls of the loss per epoch
    kwargs = {**SETTINGS, "max_epochs": 20, "early_stopping": False}
    with pytest.warns(NonFiniteLossWarning, match="epoch 4"):
        est = Estimator(**kwargs, loss=NaNAfter(n_finite=6)).fit(X, y)
    assert est.n_iter_ == 4 < kwargs["max_epochs"]
    assert est.best_epoch_ == 3
    assert np.isnan(est.history_[-1, "train_loss"])
    pred = est.predict(X)
    assert np.isfinite(pred).all()
    assert all(torch.isfinite(p).all() for p in est.module_.parameters())
    # The kept weights are exactly those of a clean 3-epoch fit.
    reference = Estimator(**{**kwargs, "max_epochs": 3}, loss=torch.nn.MSELoss())
    np.testing.assert_array_equal(pred, reference.fit(X, y).predict(X))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("early_stopping", [False, True])
def test_diverging_sgd_fit_warns_and_stays_usable(Estimator, data, early_stopping):
    X, y = data
    max_epochs = 20
    est = Estimator(
        **{**SETTINGS, "max_epochs": max_epochs, "learning_rate": 1e6},
        loss="mse",
        optimizer="sgd",
        early_stopping=early_stopping,
        n_iter_no_change=max_epochs,
    )
    with pytest.warns(NonFiniteLossWarning, match="non-finite"):
        est.fit(1e3 * X, 1e3 * y)
    assert est.n_iter_ < max_epochs
    assert 0 <= est.best_epoch_ < est.n_iter_
    assert np.isfinite(est.predict(X)).all()
    assert np.isfinite(est.predict(1e3 * X)).all()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_nan_gradient_in_last_batch_of_an_epoch_leaves_finite_model(Estimator, data):
    X, y = data  # two batches per epoch; the 4th step (end of epoch 2) is poisoned
    kwargs = {**SETTINGS, "max_epochs": 20, "early_stopping": False}
    with pytest.warns(NonFiniteLossWarning):
        est = Estimator(**kwargs, loss=NaNGradientAfter(n_clean=3)).fit(X, y)
    assert est.n_iter_ < kwargs["max_epochs"]
    assert all(torch.isfinite(p).all() for p in est.module_.parameters())
    assert np.isfinite(est.predict(X)).all()


def test_full_batch_divergence_leaves_finite_model(data):
    X, y = data
    est = TAAFRegressor(
        **{**SETTINGS, "max_epochs": 10, "batch_size": len(X), "learning_rate": 1e30},
        loss="mse",
        optimizer="sgd",
        early_stopping=False,
    )
    with pytest.warns(NonFiniteLossWarning):
        est.fit(X, y)
    assert est.n_iter_ < 10
    assert np.isfinite(est.predict(X)).all()


# ------------------------------------------------------ custom activations
def _activation_modules(est, kind):
    return [m for m in est.module_.modules() if isinstance(m, kind)]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "activation, kind",
    [
        (torch.sin, _FunctionActivation),
        (torch.nn.Softsign(), torch.nn.Softsign),
        (torch.nn.Softsign, torch.nn.Softsign),
    ],
    ids=["function", "module-instance", "module-class"],
)
def test_custom_activation_fits_and_predicts(Estimator, data, activation, kind):
    X, y = data
    est = Estimator(**SETTINGS, activation=activation, output_activation="same")
    est.fit(X, y)
    assert est.activation is activation  # the parameter itself is not replaced
    found = _activation_modules(est, kind)
    # One per hidden layer, one at the output; each layer has its own module.
    assert len(found) == 2
    assert found[0] is not found[1]
    if isinstance(activation, torch.nn.Module):
        assert all(module is not activation for module in found)
    pred = est.predict(X)
    assert pred.shape == y.shape
    assert np.isfinite(pred).all()
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict(X), pred)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_lambda_activation_fits_and_predicts(Estimator, data):
    X, y = data
    est = Estimator(**SETTINGS, activation=lambda x: torch.sin(x)).fit(X, y)
    assert np.isfinite(est.predict(X)).all()
