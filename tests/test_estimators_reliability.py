"""Interrupted, continued and failing fits keep the user's work."""

import warnings

import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST, NO_STOP
from skorch.callbacks import Callback

from sktaaf import TAAFRegressor
from sktaaf.exceptions import TrainingInterruptedWarning


class InterruptAfter:
    """An activation that raises KeyboardInterrupt (as Ctrl-C does) on call n."""

    def __init__(self, n_calls):
        self.n_calls = n_calls

    def __call__(self, x):
        self.n_calls -= 1
        if self.n_calls == 0:
            raise KeyboardInterrupt
        return torch.tanh(x)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_ctrl_c_keeps_a_usable_model(data, early_stopping):
    X, y = data
    # 5 training batches per epoch, and 1 validation batch with early
    # stopping: the interrupting call falls in epoch 4 either way.
    est = TAAFRegressor(
        **{**FAST, "early_stopping": early_stopping},
        activation=InterruptAfter(20 if early_stopping else 18),
        output_activation="identity",
    )
    with pytest.warns(TrainingInterruptedWarning, match="interrupted at epoch 4"):
        est.fit(X, y)
    assert est.n_iter_ == 3  # finished epochs; the 4th is in history_, cut short
    assert len(est.history_) == 4 and est.history_[-1, "interrupted"]
    assert est.best_epoch_ <= 3 if early_stopping else est.best_epoch_ == 4
    assert np.isfinite(est.predict(X)).all()


class StopAtEpoch(Callback):
    """skorch's idiom for a callback that ends training."""

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 3:
            raise KeyboardInterrupt


def test_callback_stopping_training_is_not_an_interruption(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingInterruptedWarning)
        est = TAAFRegressor(**NO_STOP, callbacks=[StopAtEpoch()]).fit(X, y)
    assert est.n_iter_ == 3


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_continues_exactly(Estimator, data):
    X, y = data
    whole = Estimator(**{**NO_STOP, "max_epochs": 10}).fit(X, y)
    halves = Estimator(**{**NO_STOP, "max_epochs": 5}, warm_start=True)
    halves.fit(X, y).fit(X, y)
    assert halves.n_iter_ == halves.best_epoch_ == 10
    assert halves.history_[:, "train_loss"] == whole.history_[:, "train_loss"]
    np.testing.assert_array_equal(halves.predict(X), whole.predict(X))


def test_warm_start_with_early_stopping_continues_from_the_best_epoch(data):
    X, y = data
    est = TAAFRegressor(**FAST, warm_start=True).fit(X, y)
    first_loss = min(est.history_[:, "valid_loss"])
    est.fit(X, y)
    assert est.n_iter_ > FAST["max_epochs"]
    assert min(est.history_[:, "valid_loss"]) <= first_loss


def test_warm_start_refuses_other_shapes(data):
    X, y = data
    est = TAAFRegressor(**NO_STOP, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        est.fit(X[:, :3], y)
    with pytest.raises(ValueError, match="y has 2 targets"):
        est.fit(X, y[:, :2])
    with pytest.raises(ValueError, match="network of another shape"):
        est.set_params(hidden_layer_sizes=(7,)).fit(X, y)


def test_without_warm_start_fit_starts_over(data):
    X, y = data
    est = TAAFRegressor(**{**NO_STOP, "max_epochs": 3})
    first = est.fit(X, y).predict(X)
    np.testing.assert_array_equal(est.fit(X, y).predict(X), first)
    assert est.n_iter_ == 3


def raise_out_of_memory(x):
    raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")


def test_out_of_memory_in_fit_suggests_remedies(data):
    X, y = data
    est = TAAFRegressor(**FAST, activation=raise_out_of_memory)
    with pytest.raises(torch.cuda.OutOfMemoryError, match="smaller batch_size"):
        est.fit(X, y)


def test_out_of_memory_in_predict_suggests_remedies(data, monkeypatch):
    X, y = data
    est = TAAFRegressor(**FAST).fit(X, y)
    monkeypatch.setattr(est.module_, "forward", raise_out_of_memory)
    with pytest.raises(torch.cuda.OutOfMemoryError, match="during prediction"):
        est.predict(X)


def test_an_interrupted_epoch_is_marked_and_continued_consistently(data):
    X, y = data
    est = TAAFRegressor(
        **{**NO_STOP, "max_epochs": 5},
        activation=InterruptAfter(18),  # in epoch 4, after 2 of its 5 batches
        output_activation="identity",
    )
    with pytest.warns(
        TrainingInterruptedWarning,
        match="at epoch 4, after 3 finished epochs and 2 batches of the last",
    ):
        est.fit(X, y)
    last = est.history_[-1]
    assert last["interrupted"] and last["train_batch_count"] == 2
    assert np.isfinite(last["train_loss"])
    est.set_params(warm_start=True).fit(X, y)
    assert est.n_iter_ == 8  # the epoch cut short is not counted
    assert len(est.history_[:, "train_loss"]) == len(est.history_) == 9
    assert est.history_[:, "interrupted"] == [True]
