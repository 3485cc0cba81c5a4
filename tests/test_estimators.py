"""Behaviour of TAAFRegressor and DGEXRegressor beyond sklearn's common checks."""

import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST, make_data
from skorch import NeuralNet
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import LambdaLR

import sktaaf._base
from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf._data._batches import BatchIterator, TensorData
from sktaaf.nn import DGEXNetwork, TAAFDenseBlock, TAAFNetwork


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fitted_attributes(Estimator, data):
    X, y = data
    est = Estimator(**FAST).fit(X, y)
    assert est.n_features_in_ == X.shape[1]
    assert est.n_outputs_ == y.shape[1]
    assert isinstance(est.module_, (TAAFNetwork, DGEXNetwork))
    assert est.module_ is est.net_.module_
    assert not est.module_.training
    assert est.device_ == "cpu"
    assert 1 <= est.best_epoch_ <= est.n_iter_ <= FAST["max_epochs"]
    assert len(est.history_) == est.n_iter_
    assert {"train_loss", "valid_loss", "dur"} <= set(est.history_[-1])
    assert all(p.dtype == torch.float32 for p in est.module_.parameters())
    assert not hasattr(est, "feature_names_in_")


def test_default_architectures():
    X, y = make_data(n_samples=40)
    taaf = TAAFRegressor(max_epochs=1, random_state=0).fit(X, y)
    assert [
        size
        for size in (
            taaf.module_.hidden0.linear.out_features,
            taaf.module_.hidden1.linear.out_features,
        )
    ] == [300, 300]
    assert isinstance(taaf.module_.output, TAAFDenseBlock)
    assert isinstance(taaf.module_.output.taaf.activation, torch.nn.Sigmoid)
    assert taaf.net_.optimizer_.__class__ is torch.optim.NAdam
    assert taaf.net_.optimizer_.param_groups[0]["lr"] == 5e-3
    # Trained in standard units (the loss compares them directly); the
    # fitted network predicts in the data's units.
    assert type(taaf.net_.criterion_) is torch.nn.MSELoss
    assert taaf.module_.standardize and not taaf.module_.standard_units
    dgex = DGEXRegressor(hidden_layer_sizes=8, max_epochs=1, random_state=0).fit(X, y)
    assert isinstance(dgex.module_.hidden0.activation, torch.nn.Tanh)
    assert isinstance(dgex.module_.output.activation, torch.nn.Identity)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_learns_better_than_the_mean(Estimator, data):
    X, y = data
    est = Estimator(**FAST).fit(X[:120], y[:120])
    baseline = np.abs(y[120:] - y[:120].mean(axis=0)).mean()
    assert np.abs(est.predict(X[120:]) - y[120:]).mean() < 0.6 * baseline
    assert est.score(X[120:], y[120:]) > 0.5


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_dtype_follows_input(Estimator, dtype, data):
    X, y = data
    est = Estimator(**FAST).fit(X.astype(dtype), y.astype(dtype))
    assert est.predict(X.astype(dtype)).dtype == dtype
    np.testing.assert_allclose(
        est.predict(X.astype(np.float64)), est.predict(X), rtol=1e-6, atol=1e-6
    )


def test_one_dimensional_target(data):
    X, y = data
    est = TAAFRegressor(**FAST).fit(X, y[:, 0])
    assert est.n_outputs_ == 1
    assert est.predict(X).shape == (len(X),)
    column = TAAFRegressor(**FAST).fit(X, y[:, :1])
    assert column.predict(X).shape == (len(X), 1)


def test_float32_input_is_not_copied(monkeypatch, data):
    X, y = data
    seen = {}

    class SpyData(TensorData):
        def __init__(self, X_tensor, y_tensor, indices=None, **kwargs):
            seen["X"] = X_tensor
            super().__init__(X_tensor, y_tensor, indices, **kwargs)

    monkeypatch.setattr(sktaaf._data._batches, "TensorData", SpyData)
    X = np.ascontiguousarray(X, dtype=np.float32)
    TAAFRegressor(**{**FAST, "max_epochs": 1}).fit(X, y)
    assert seen["X"].data_ptr() == X.ctypes.data


def test_dataframe_input(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    columns = [f"landmark_{i}" for i in range(X.shape[1])]
    X_df = pd.DataFrame(X, columns=columns)
    y_df = pd.DataFrame(y, columns=["t0", "t1", "t2"])
    est = DGEXRegressor(**FAST).fit(X_df, y_df)
    assert list(est.feature_names_in_) == columns
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        from_array = est.predict(X)
    np.testing.assert_array_equal(est.predict(X_df), from_array)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_seeded_fits_are_identical(Estimator, data):
    X, y = data
    first = Estimator(**FAST).fit(X, y).predict(X)
    second = Estimator(**FAST).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    other = Estimator(**{**FAST, "random_state": 1}).fit(X, y).predict(X)
    assert not np.array_equal(first, other)


def test_fit_leaves_torch_global_rng_alone(data):
    X, y = data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    TAAFRegressor(**FAST).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_validation_split_is_shuffled_and_seeded(data):
    X, y = data
    est = TAAFRegressor(**{**FAST, "validation_fraction": 0.25}).fit(X, y)
    split = est.net_.train_split
    assert len(split.valid_indices) == 40
    assert set(split.valid_indices).isdisjoint(split.train_indices)
    assert len(split.valid_indices) + len(split.train_indices) == len(X)
    assert not np.array_equal(split.valid_indices, np.arange(40))
    again = TAAFRegressor(**{**FAST, "validation_fraction": 0.25}).fit(X, y)
    np.testing.assert_array_equal(
        again.net_.train_split.valid_indices, split.valid_indices
    )


def test_early_stopping_restores_best_epoch(data):
    X, y = data
    # A large learning rate makes the validation loss noisy, so the best
    # epoch is not the last one.
    est = TAAFRegressor(
        **{**FAST, "max_epochs": 80, "learning_rate": 0.05, "n_iter_no_change": 5},
        linear_path=None,  # predictions of the layers alone, whose loss it is
        loss="mae",
    ).fit(X, y)
    valid_losses = est.history_[:, "valid_loss"]
    assert est.n_iter_ < 80
    assert est.best_epoch_ == int(np.argmin(valid_losses)) + 1
    assert est.n_iter_ == est.best_epoch_ + 5
    rows = est.net_.train_split.valid_indices
    error = np.abs(est.predict(X[rows]) - y[rows])
    restored = (error / est.module_.y_scale.numpy()).mean()  # standard units
    assert restored == pytest.approx(min(valid_losses), rel=1e-5)


def test_without_early_stopping_all_samples_train(data):
    X, y = data
    est = DGEXRegressor(**{**FAST, "early_stopping": False, "max_epochs": 4}).fit(X, y)
    assert est.n_iter_ == est.best_epoch_ == 4
    assert "valid_loss" not in est.history_[-1]
    batches = est.history_[-1, "batches"]
    assert sum(batch["train_batch_size"] for batch in batches) == len(X)


def test_batch_iterator_reshuffles_every_epoch():
    X = torch.arange(10, dtype=torch.float32).reshape(-1, 1)
    generator = torch.Generator().manual_seed(0)
    iterator = BatchIterator(TensorData(X, X), 4, shuffle=True, generator=generator)
    epochs = [torch.cat([xb for xb, _ in iterator]).ravel().tolist() for _ in range(2)]
    assert len(iterator) == 3
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(10))
    assert epochs[0] != epochs[1]
    ordered = BatchIterator(TensorData(X, X).subset(np.array([7, 2, 5])), 2)
    assert [xb.ravel().tolist() for xb, _ in ordered] == [[7.0, 2.0], [5.0]]


def test_predictions_do_not_depend_on_batch_composition(data):
    X, y = data
    est = DGEXRegressor(**FAST).fit(X, y)
    together = est.predict(X)
    one_by_one = np.vstack([est.predict(X[i : i + 1]) for i in range(len(X))])
    np.testing.assert_array_equal(together, one_by_one)


def test_large_predict_is_batched(data):
    X, y = data
    est = DGEXRegressor(**FAST).fit(X, y)
    X_large = np.tile(X, (40, 1))  # 6,400 rows: two predict batches
    np.testing.assert_array_equal(
        est.predict(X_large), np.tile(est.predict(X), (40, 1))
    )


def test_losses_and_optimizer_options(data):
    X, y = data
    est = TAAFRegressor(
        **FAST, loss="mse", optimizer="sgd", optimizer_kwargs={"momentum": 0.9}
    ).fit(X, y)
    assert isinstance(est.net_.criterion_, torch.nn.MSELoss)
    assert est.net_.optimizer_.param_groups[0]["momentum"] == 0.9
    huber = TAAFRegressor(**FAST, loss=torch.nn.HuberLoss(), optimizer=torch.optim.Adam)
    assert isinstance(huber.fit(X, y).net_.criterion_, torch.nn.HuberLoss)


@pytest.mark.parametrize(
    "output_activation, has_taaf", [("same", True), ("tanh", True), (None, False)]
)
def test_output_activation(output_activation, has_taaf, data):
    X, y = data
    est = TAAFRegressor(
        **{**FAST, "max_epochs": 1}, output_activation=output_activation
    ).fit(X, y)
    assert isinstance(est.module_.output, TAAFDenseBlock) == has_taaf


def reference_schedule(epoch):
    # The reference's schedule, compressed 100-fold: /10, /100, /1000, /2000
    # after epochs 4, 4.75, 5.5, 5.75 -> here after epochs 4, 5, 6, 7.
    for start, factor in [(7, 1 / 2000), (6, 1 / 1000), (5, 1 / 100), (4, 1 / 10)]:
        if epoch > start:
            return factor
    return 1.0


def test_learning_rate_schedule_callback(data):
    X, y = data
    schedule = LRScheduler(policy=LambdaLR, lr_lambda=reference_schedule)
    est = TAAFRegressor(
        **{**FAST, "max_epochs": 9, "early_stopping": False, "learning_rate": 5e-4},
        callbacks=[schedule],
    ).fit(X, y)
    lrs = [record["event_lr"] for record in est.history_]
    expected = [5e-4 * reference_schedule(epoch) for epoch in range(9)]
    np.testing.assert_allclose(lrs, expected)
    assert not hasattr(schedule, "lr_scheduler_")  # the user's object is untouched


def test_verbose_prints_losses_and_progress(data, capsys):
    X, y = data
    TAAFRegressor(**{**FAST, "max_epochs": 2}, verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert "train_loss" in captured.out and "valid_loss" in captured.out
    assert len([line for line in captured.out.splitlines() if line.strip()]) == 2
    TAAFRegressor(**{**FAST, "max_epochs": 2}).fit(X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.cuda
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_cuda_fit_predict(Estimator, data, tmp_path):
    X, y = data
    # No dropout: CUDA draws its dropout masks from another generator than the
    # CPU, so with dropout the two fits differ by more than rounding.
    params = {**FAST, "dropout": 0.0}
    est = Estimator(**params, device="cuda").fit(X, y)
    assert est.device_ == "cuda"
    assert next(est.module_.parameters()).is_cuda
    est.save(tmp_path / "model.pt")
    on_cpu = Estimator.load(tmp_path / "model.pt", device="cpu")
    np.testing.assert_allclose(est.predict(X), on_cpu.predict(X), atol=1e-4)
    cpu = Estimator(**params, device="cpu").fit(X, y)
    np.testing.assert_allclose(est.predict(X), cpu.predict(X), atol=0.1)


def test_training_net_overrides_change_no_result(monkeypatch, data):
    # Without standardize (whose training in standard units is TrainingNet's
    # own: tests/test_data_standardize.py), TrainingNet only trims skorch's
    # per-batch bookkeeping: skorch's own NeuralNet gives the very same model.
    X, y = data
    params = {**FAST, "standardize": False}
    fast = TAAFRegressor(**params).fit(X, y)
    monkeypatch.setattr(sktaaf._base, "TrainingNet", NeuralNet)
    plain = TAAFRegressor(**params).fit(X, y)
    assert type(plain.net_) is NeuralNet
    np.testing.assert_array_equal(fast.predict(X), plain.predict(X))
    assert fast.history_[:, "train_loss"] == plain.history_[:, "train_loss"]
    assert fast.history_[:, "valid_loss"] == plain.history_[:, "valid_loss"]


def test_closure_optimizer(data):
    X, y = data
    est = DGEXRegressor(
        **{**FAST, "max_epochs": 3, "learning_rate": 0.1}, optimizer=torch.optim.LBFGS
    ).fit(X, y)
    assert np.isfinite(est.history_[:, "train_loss"]).all()
