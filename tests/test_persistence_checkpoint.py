"""checkpoint_dir: a crashed or killed fit resumes to the uninterrupted result."""

import json
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

import sktaaf._engine._state
from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf.exceptions import (
    CheckpointWarning,
    NonFiniteLossWarning,
    TrainingInterruptedWarning,
)

SETTINGS = {**FAST, "max_epochs": 12, "n_iter_no_change": 4}


class CrashAtEpoch(Callback):
    """A crash (not a Ctrl-C) at the end of an epoch, before its checkpoint."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise RuntimeError("simulated crash")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("early_stopping", [True, False])
def test_crashed_fit_resumes_exactly(Estimator, early_stopping, data, tmp_path):
    X, y = data
    params = {**SETTINGS, "early_stopping": early_stopping}
    whole = Estimator(**params).fit(X, y)
    crashing = Estimator(**params, checkpoint_dir=tmp_path, callbacks=[CrashAtEpoch(5)])
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.fit(X, y)
    assert Estimator.load(tmp_path / "checkpoint.pt").n_iter_ == 4
    resumed = Estimator(**params, checkpoint_dir=tmp_path).fit(X, y)
    assert resumed.n_iter_ == whole.n_iter_
    assert resumed.best_epoch_ == whole.best_epoch_
    np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))


def test_finished_checkpoint_is_returned_without_training(data, tmp_path):
    X, y = data
    first = TAAFRegressor(**SETTINGS, checkpoint_dir=tmp_path).fit(X, y)
    again = TAAFRegressor(**SETTINGS, checkpoint_dir=tmp_path).fit(X, y)
    assert again.history_[:, "dur"] == first.history_[:, "dur"]  # nothing re-run
    assert again.best_epoch_ == first.best_epoch_
    np.testing.assert_array_equal(again.predict(X), first.predict(X))


def test_random_state_instance_resumes_silently(data, tmp_path):
    X, y = data
    params = {**SETTINGS, "checkpoint_dir": tmp_path}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "saved as None" warning per epoch
        crashing = TAAFRegressor(
            **{**params, "random_state": np.random.RandomState(0)},
            callbacks=[CrashAtEpoch(3)],
        )
        with pytest.raises(RuntimeError, match="simulated crash"):
            crashing.fit(X, y)
        resumed = TAAFRegressor(
            **{**params, "random_state": np.random.RandomState(0)}
        ).fit(X, y)
    whole = TAAFRegressor(**{**SETTINGS, "random_state": np.random.RandomState(0)})
    np.testing.assert_array_equal(resumed.predict(X), whole.fit(X, y).predict(X))


def test_checkpoint_of_other_data_is_not_used(data, tmp_path):
    X, y = data
    TAAFRegressor(**SETTINGS, checkpoint_dir=tmp_path).fit(X, y)
    with pytest.warns(UserWarning, match="belongs to other parameters or data"):
        other = TAAFRegressor(**SETTINGS, checkpoint_dir=tmp_path).fit(X[:100], y[:100])
    plain = TAAFRegressor(**SETTINGS).fit(X[:100], y[:100])
    np.testing.assert_array_equal(other.predict(X), plain.predict(X))
    with pytest.warns(UserWarning, match="belongs to other parameters or data"):
        TAAFRegressor(
            **{**SETTINGS, "learning_rate": 0.02}, checkpoint_dir=tmp_path
        ).fit(X[:100], y[:100])


def test_killed_process_resumes_exactly(data, tmp_path):
    # A real SIGKILL in the middle of training, in a separate process.
    X, y = data
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        import torch
        from skorch.callbacks import Callback
        from sktaaf import TAAFRegressor

        torch.set_num_threads(1)  # as in the test process: same arithmetic

        class Kill(Callback):
            def on_epoch_end(self, net, **kwargs):
                if len(net.history) == 6:
                    os.kill(os.getpid(), signal.SIGKILL)

        X = np.load({str(tmp_path / "X.npy")!r})
        y = np.load({str(tmp_path / "y.npy")!r})
        TAAFRegressor(**{SETTINGS!r}, checkpoint_dir={str(tmp_path)!r},
                      callbacks=[Kill()]).fit(X, y)
        """
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert process.returncode == -9, process.stderr.decode()
    assert TAAFRegressor.load(Path(tmp_path) / "checkpoint.pt").n_iter_ == 5
    resumed = TAAFRegressor(**SETTINGS, checkpoint_dir=tmp_path).fit(X, y)
    whole = TAAFRegressor(**SETTINGS).fit(X, y)
    np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))


class CrashAtTrainEnd(Callback):
    """A kill after the last epoch's checkpoint, before the final one."""

    def on_train_end(self, net, **kwargs):
        raise RuntimeError("simulated kill")


@pytest.mark.parametrize("early_stopping", [True, False])
def test_kill_after_the_last_epoch_resumes(early_stopping, data, tmp_path):
    X, y = data
    params = {**SETTINGS, "early_stopping": early_stopping}
    whole = TAAFRegressor(**params).fit(X, y)
    with pytest.raises(RuntimeError, match="simulated kill"):
        TAAFRegressor(
            **params, checkpoint_dir=tmp_path, callbacks=[CrashAtTrainEnd()]
        ).fit(X, y)
    for _ in range(2):  # the resumed fit ends the run; the next one returns it
        resumed = TAAFRegressor(**params, checkpoint_dir=tmp_path).fit(X, y)
        assert resumed.n_iter_ == whole.n_iter_
        assert resumed.best_epoch_ == whole.best_epoch_
        np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))


class SigintAtEpoch(Callback):
    """A real Ctrl-C (SIGINT) arriving while a callback runs."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            signal.raise_signal(signal.SIGINT)
            time.sleep(0.01)  # the handler runs at the next bytecode


def test_ctrl_c_during_a_callback_is_an_interruption(data, tmp_path, ctrl_c_raises):
    X, y = data
    params = {**SETTINGS, "max_epochs": 8, "early_stopping": False}
    interrupted = TAAFRegressor(
        **params, checkpoint_dir=tmp_path, callbacks=[SigintAtEpoch(3)]
    )
    with pytest.warns(TrainingInterruptedWarning, match="interrupted at epoch 3"):
        interrupted.fit(X, y)
    resumed = TAAFRegressor(**params, checkpoint_dir=tmp_path).fit(X, y)
    assert resumed.n_iter_ == 8
    whole = TAAFRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))


def test_a_callback_stopping_training_completes_the_checkpoint(data, tmp_path):
    # skorch's idiom (a callback raising KeyboardInterrupt) is a decision,
    # which the next fit of the same parameters would take again.
    X, y = data
    params = {**SETTINGS, "early_stopping": False}

    class StopAtEpoch(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 3:
                raise KeyboardInterrupt

    first = TAAFRegressor(**params, checkpoint_dir=tmp_path, callbacks=[StopAtEpoch()])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingInterruptedWarning)
        first.fit(X, y)
    again = TAAFRegressor(**params, checkpoint_dir=tmp_path, callbacks=[StopAtEpoch()])
    assert again.fit(X, y).n_iter_ == first.n_iter_ == 3


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_warm_start_with_checkpoint_dir_trains_every_time(Estimator, data, tmp_path):
    X, y = data
    params = {**SETTINGS, "max_epochs": 4, "early_stopping": False}
    whole = Estimator(**{**params, "max_epochs": 8}).fit(X, y)
    est = Estimator(**params, warm_start=True, checkpoint_dir=tmp_path / "a")
    est.fit(X, y).fit(X, y)
    assert est.n_iter_ == 8
    np.testing.assert_array_equal(est.predict(X), whole.predict(X))

    # A crash in the second run: fitting again resumes it exactly.
    est = Estimator(**params, warm_start=True, checkpoint_dir=tmp_path / "b")
    est.fit(X, y)
    with pytest.raises(RuntimeError, match="simulated crash"):
        est.set_params(callbacks=[CrashAtEpoch(7)]).fit(X, y)
    assert Estimator.load(tmp_path / "b" / "checkpoint.pt").n_iter_ == 6
    est.set_params(callbacks=None).fit(X, y)
    assert est.n_iter_ == 8
    np.testing.assert_array_equal(est.predict(X), whole.predict(X))


def test_a_crashed_warm_start_leaves_the_fitted_state_intact(data):
    # Without a checkpoint: the continued run must not have changed the
    # optimizer state that the estimator continues from next time.
    X, y = data
    params = {**SETTINGS, "max_epochs": 4, "early_stopping": False}
    whole = TAAFRegressor(**{**params, "max_epochs": 8}).fit(X, y)
    est = TAAFRegressor(**params, warm_start=True).fit(X, y)
    with pytest.raises(RuntimeError, match="simulated crash"):
        est.set_params(callbacks=[CrashAtEpoch(7)]).fit(X, y)
    est.set_params(callbacks=None).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), whole.predict(X))


def test_a_damaged_checkpoint_is_not_resumed(data, tmp_path):
    X, y = data
    with pytest.raises(RuntimeError, match="simulated crash"):
        TAAFRegressor(
            **SETTINGS, checkpoint_dir=tmp_path, callbacks=[CrashAtEpoch(5)]
        ).fit(X, y)
    path = tmp_path / "checkpoint.pt"
    payload = torch.load(path, weights_only=True)
    payload["module"]["output.linear.weight"] += 1  # the old checksum stays
    torch.save(payload, path)
    with pytest.warns(CheckpointWarning, match=r"checkpoint.pt' is damaged"):
        resumed = TAAFRegressor(**SETTINGS, checkpoint_dir=tmp_path).fit(X, y)
    whole = TAAFRegressor(**SETTINGS).fit(X, y)
    np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))


def test_a_checkpoint_missing_an_entry_is_named_and_replaced(data, tmp_path):
    X, y = data
    with pytest.raises(RuntimeError, match="simulated crash"):
        TAAFRegressor(
            **SETTINGS, checkpoint_dir=tmp_path, callbacks=[CrashAtEpoch(5)]
        ).fit(X, y)
    path = tmp_path / "checkpoint.pt"
    payload = torch.load(path, weights_only=True)
    metadata = json.loads(payload.pop("metadata"))
    del metadata["history"], payload["checksum"]
    payload["metadata"] = json.dumps(metadata)
    payload["checksum"] = sktaaf._engine._state.digest(payload)  # intact, but lacking
    torch.save(payload, path)
    with pytest.warns(CheckpointWarning, match=r"checkpoint.pt.*'history' is missing"):
        resumed = TAAFRegressor(**SETTINGS, checkpoint_dir=tmp_path).fit(X, y)
    whole = TAAFRegressor(**SETTINGS).fit(X, y)
    np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))
    assert TAAFRegressor.load(path).n_iter_ == whole.n_iter_  # replaced


def test_a_checkpoint_of_another_estimator_class_is_not_used(data, tmp_path):
    # The same parameter values, and networks that differ.
    X, y = data
    params = {**SETTINGS, "activation": "tanh", "output_activation": None}
    params["dropout"] = 0.1
    TAAFRegressor(**params, checkpoint_dir=tmp_path).fit(X, y)
    with pytest.warns(CheckpointWarning, match="belongs to other parameters"):
        dgex = DGEXRegressor(**params, checkpoint_dir=tmp_path).fit(X, y)
    plain = DGEXRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(dgex.predict(X), plain.predict(X))
    again = DGEXRegressor(**params, checkpoint_dir=tmp_path).fit(X, y)
    assert again.history_[:, "dur"] == dgex.history_[:, "dur"]  # its own, kept


@pytest.mark.slow  # worker processes: about 20 s
@pytest.mark.filterwarnings("ignore::sktaaf.exceptions.CheckpointWarning")
def test_a_grid_search_shares_one_checkpoint_dir(data, tmp_path):
    X, y = data
    params = {**SETTINGS, "max_epochs": 4}
    grid = {"learning_rate": [1e-2, 3e-2]}

    def search(**extra):
        return GridSearchCV(
            TAAFRegressor(**params, **extra), grid, cv=2, error_score="raise"
        )

    expected = search().fit(X, y).cv_results_["mean_test_score"]
    for _ in range(2):  # the second search finds every fit finished
        shared = search(checkpoint_dir=tmp_path)
        shared.set_params(n_jobs=2).fit(X, y)
        np.testing.assert_array_equal(shared.cv_results_["mean_test_score"], expected)
    assert len(list(tmp_path.rglob("checkpoint.pt"))) == 4 + 1  # and the refit


def test_a_diverged_fit_is_returned_as_it_ended(data, tmp_path):
    # The finished checkpoint of a diverged fit records the epoch whose
    # weights it kept (the last finite one), as the fit did.
    X, y = data
    params = {
        **SETTINGS,
        "loss": "mse",
        "optimizer": "sgd",
        "learning_rate": 1e6,
        "early_stopping": False,
    }
    with pytest.warns(NonFiniteLossWarning):
        first = DGEXRegressor(**params, checkpoint_dir=tmp_path).fit(X, y)
    again = DGEXRegressor(**params, checkpoint_dir=tmp_path).fit(X, y)
    assert again.best_epoch_ == first.best_epoch_ < first.n_iter_
    np.testing.assert_array_equal(again.predict(X), first.predict(X))


def test_an_empty_checkpoint_dir_is_refused(data, tmp_path, monkeypatch):
    """checkpoint_dir="" (an unset variable) does not mean the current folder."""
    X, y = data
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="'checkpoint_dir' parameter .* got ''"):
        TAAFRegressor(**SETTINGS, checkpoint_dir="").fit(X, y)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("inside", [False, True])
def test_a_checkpoint_dir_that_is_a_file_is_named(data, tmp_path, inside):
    X, y = data
    file = tmp_path / "notes.txt"
    file.write_text("keep me")
    folder = file / "run" if inside else file
    with pytest.raises(
        ValueError,
        match=rf"which {'lies inside' if inside else 'is'} "
        rf"the file '.*notes.txt', not a folder",
    ):
        TAAFRegressor(**SETTINGS, checkpoint_dir=folder).fit(X, y)
    assert file.read_text() == "keep me"
