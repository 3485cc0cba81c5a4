"""checkpoint_dir: a crashed or killed fit resumes to the uninterrupted result."""

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import ESTIMATORS, FAST
from skorch.callbacks import Callback

from sktaaf import TAAFRegressor

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
