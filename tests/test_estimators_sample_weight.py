"""sample_weight in fit: a weighted loss, with early stopping, metadata routing,
out-of-core data, blocks and checkpoints."""

import numpy as np
import pytest
import sklearn
import torch
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV

from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf._engine._net import weighted_loss

SETTINGS = {"hidden_layer_sizes": (8,), "max_epochs": 3, "batch_size": 16}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 6)).astype(np.float32)
    y = (X[:, :3] @ rng.normal(size=(3, 4))).astype(np.float32)
    weight = rng.uniform(0.1, 2.0, size=80)
    return X, y, weight


def test_weighted_loss_is_the_weighted_mean_of_per_sample_losses():
    y_pred = torch.tensor([[1.0, 2.0], [0.0, 0.0], [3.0, 1.0]])
    y_true = torch.tensor([[0.0, 0.0], [1.0, 3.0], [3.0, 3.0]])
    weight = torch.tensor([2.0, 0.0, 1.0])
    loss = weighted_loss(torch.nn.L1Loss(), y_pred, y_true, weight)
    per_sample = np.array([1.5, 2.0, 1.0])
    expected = (per_sample * [2, 0, 1]).sum() / 3
    assert loss.item() == pytest.approx(expected)
    criterion = torch.nn.MSELoss()
    weighted_loss(criterion, y_pred, y_true, weight)
    assert criterion.reduction == "mean"  # restored
    zero = weighted_loss(torch.nn.L1Loss(), y_pred, y_true, torch.zeros(3))
    assert zero.item() == 0


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
@pytest.mark.parametrize("value", [1.0, 3.5])
def test_equal_weights_are_no_weights_bit_for_bit(Estimator, data, value):
    X, y, _ = data
    plain = Estimator(**SETTINGS, random_state=0).fit(X, y)
    weighted = Estimator(**SETTINGS, random_state=0).fit(
        X, y, sample_weight=np.full(len(X), value)
    )
    assert_array_equal(weighted.predict(X), plain.predict(X))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_zero_weight_samples_do_not_count(data, early_stopping):
    """Rows of weight 0 can hold anything: training (and the validation loss
    of early stopping) ignores them exactly."""
    X, y, weight = data
    weight = weight.copy()
    weight[::3] = 0
    y_other = y.copy()
    y_other[::3] = 1000.0
    params = {**SETTINGS, "early_stopping": early_stopping, "random_state": 0}
    first = TAAFRegressor(**params).fit(X, y, sample_weight=weight)
    second = TAAFRegressor(**params).fit(X, y_other, sample_weight=weight)
    assert_array_equal(first.predict(X), second.predict(X))
    if early_stopping:
        assert [e["valid_loss"] for e in first.history_] == [
            e["valid_loss"] for e in second.history_
        ]
    # ...whereas they count without weights
    unweighted = TAAFRegressor(**params).fit(X, y_other)
    assert not np.array_equal(unweighted.predict(X), first.predict(X))


def test_weights_change_the_fit(data):
    X, y, weight = data
    plain = TAAFRegressor(**SETTINGS, random_state=0).fit(X, y)
    weighted = TAAFRegressor(**SETTINGS, random_state=0).fit(X, y, sample_weight=weight)
    assert not np.array_equal(weighted.predict(X), plain.predict(X))


@pytest.mark.parametrize(
    ("sample_weight", "match"),
    [
        (-np.ones(80), "(?i)negative"),
        (np.ones(79), r"sample_weight.shape == \(79,\)"),
        (np.zeros(80), "non-zero|all zero"),
    ],
)
def test_invalid_weights_are_errors(data, sample_weight, match):
    X, y, _ = data
    with pytest.raises(ValueError, match=match):
        TAAFRegressor(**SETTINGS).fit(X, y, sample_weight=sample_weight)


def test_a_loss_without_reduction_is_an_error(data):
    class Loss(torch.nn.Module):
        def forward(self, y_pred, y_true):
            return (y_pred - y_true).abs().mean()

    X, y, weight = data
    with pytest.raises(ValueError, match="'reduction'"):
        TAAFRegressor(**SETTINGS, loss=Loss()).fit(X, y, sample_weight=weight)
    # a torch loss works
    TAAFRegressor(**SETTINGS, loss=torch.nn.HuberLoss()).fit(X, y, sample_weight=weight)


def test_metadata_routing_in_grid_search(data):
    X, y, weight = data
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = TAAFRegressor(**SETTINGS, random_state=0)
        # weighted training, and a weighted score on each fold
        estimator.set_fit_request(sample_weight=True)
        estimator.set_score_request(sample_weight=True)
        search = GridSearchCV(estimator, {"learning_rate": [1e-3]}, cv=2)
        search.fit(X, y, sample_weight=weight)
    direct = TAAFRegressor(**SETTINGS, random_state=0, learning_rate=1e-3)
    direct.fit(X, y, sample_weight=weight)
    assert_array_equal(search.best_estimator_.predict(X), direct.predict(X))


def test_out_of_core_training_is_weighted_alike(data, tmp_path):
    X, y, weight = data
    X_map = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.float32, X.shape)
    y_map = np.lib.format.open_memmap(tmp_path / "y.npy", "w+", np.float32, y.shape)
    X_map[:], y_map[:] = X, y
    params = {**SETTINGS, "random_state": 0, "early_stopping": True}
    on_disk = TAAFRegressor(**params).fit(X_map, y_map, sample_weight=weight)
    in_memory = TAAFRegressor(**params).fit(X, y, sample_weight=weight)
    # One chunk: the batches are those of in-memory training.
    assert_allclose(on_disk.predict(X), in_memory.predict(X), rtol=1e-6, atol=1e-6)
    plain = TAAFRegressor(**params).fit(X_map, y_map)
    assert not np.array_equal(plain.predict(X), on_disk.predict(X))


def test_blocks_pass_the_weights(data):
    X, y, weight = data
    blocks = TargetBlockRegressor(TAAFRegressor(**SETTINGS, random_state=0), n_blocks=2)
    blocks.fit(X, y, sample_weight=weight)
    first = TAAFRegressor(**SETTINGS, random_state=0).fit(
        X, y[:, blocks.blocks_[0]], sample_weight=weight
    )
    assert_array_equal(blocks.estimators_[0].predict(X), first.predict(X))


def test_checkpoint_fingerprint_includes_the_weights(data, tmp_path):
    X, y, weight = data
    model = TAAFRegressor(**SETTINGS)
    assert model._fingerprint(X, y, weight) != model._fingerprint(X, y, weight * 2)
    assert model._fingerprint(X, y, weight) != model._fingerprint(X, y)
    # a checkpointed weighted fit resumes as the same run
    params = {**SETTINGS, "random_state": 0, "checkpoint_dir": str(tmp_path / "ck")}
    first = TAAFRegressor(**params).fit(X, y, sample_weight=weight)
    again = TAAFRegressor(**params).fit(X, y, sample_weight=weight)
    assert_array_equal(first.predict(X), again.predict(X))


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
@pytest.mark.parametrize("scale", [1e-44, 1e-30, 1e38, 1e300])
def test_only_the_relative_weights_matter(Estimator, data, scale):
    """Weights whose sum vanishes into float32's subnormals (1e-44) or
    overflows it (1e38 times 16 samples a batch) train as the same weights of
    scale 1."""
    X, y, weight = data
    params = {**SETTINGS, "early_stopping": True, "random_state": 0}
    reference = Estimator(**params).fit(X, y, sample_weight=weight)
    scaled = Estimator(**params).fit(X, y, sample_weight=weight * scale)
    assert_allclose(scaled.predict(X), reference.predict(X), rtol=1e-4, atol=1e-5)
    for epoch, expected in zip(scaled.history_, reference.history_, strict=True):
        assert epoch["train_loss"] == pytest.approx(expected["train_loss"], rel=1e-4)
        assert epoch["valid_loss"] == pytest.approx(expected["valid_loss"], rel=1e-4)


@pytest.mark.parametrize(
    "sample_weight",
    [
        np.array(["1.0"] * 80),
        np.full(80, 1 + 1j),
        np.array([1.0] * 79 + [None], dtype=object),
        [1.0] * 79 + ["a"],
    ],
    ids=["strings", "complex", "None", "a-string-in-a-list"],
)
def test_weights_that_are_not_real_numbers_are_named(data, sample_weight):
    X, y, _ = data
    with pytest.raises(ValueError, match="sample_weight must hold real numbers"):
        TAAFRegressor(**SETTINGS).fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("side", ["valid", "train"])
def test_weights_that_vanish_from_one_side_of_the_split_are_refused(data, side):
    """Weight 0 on every validation row would make valid_loss 0 each epoch
    (early stopping stops at once); on every training row, nothing is
    learned."""
    X, y, weight = data
    params = {**SETTINGS, "early_stopping": True, "random_state": 0}
    model = TAAFRegressor(**params)
    split = model._validation_split(len(X), np.random.RandomState(0))
    weight = weight.copy()
    weight[getattr(split, f"{side}_indices")] = 0
    side_words = "holds out for validation" if side == "valid" else "for training"
    with pytest.raises(ValueError, match=f"sample_weight is 0 on all .*{side_words}"):
        model.fit(X, y, sample_weight=weight)
    # the same weights without early stopping train
    TAAFRegressor(**{**params, "early_stopping": False}).fit(X, y, sample_weight=weight)
