"""Data on disk that changes or closes under the estimators: clear errors, never
a crash of the process."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import FAST, make_data

from sktaaf import TAAFRegressor
from sktaaf._data._rows import check_mapped_size, read_rows

# Run in a child process: before the fix, reading a truncated memory map killed
# the process with SIGBUS, which would take pytest down with it.
TRUNCATED_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from skorch.callbacks import Callback
    from sktaaf import TAAFRegressor

    folder = sys.argv[1]
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4096, 64)).astype(np.float32)
    y = rng.normal(size=(4096, 2)).astype(np.float32)
    path = os.path.join(folder, "X.npy")
    params = dict(hidden_layer_sizes=(4,), max_epochs=3, batch_size=512,
                  random_state=0)

    def truncate():
        with open(path, "r+b") as file:
            file.truncate(4096)

    # 1. Truncated between opening and fit.
    np.save(path, X)
    X_disk = np.load(path, mmap_mode="r")
    truncate()
    try:
        TAAFRegressor(**params).fit(X_disk, y)
    except OSError as exc:
        print("fit:", exc)

    # 2. Truncated during fit, after the data were validated.
    class TruncateAfterFirstEpoch(Callback):
        def on_epoch_end(self, net, **kwargs):
            truncate()

    np.save(os.path.join(folder, "X2.npy"), X)
    path = os.path.join(folder, "X2.npy")
    X_disk = np.load(path, mmap_mode="r")
    try:
        TAAFRegressor(**params, callbacks=[TruncateAfterFirstEpoch()]).fit(X_disk, y)
    except OSError as exc:
        print("during fit:", exc)

    # 3. Truncated before predict.
    np.save(os.path.join(folder, "X3.npy"), X)
    path = os.path.join(folder, "X3.npy")
    X_disk = np.load(path, mmap_mode="r")
    model = TAAFRegressor(**params).fit(X, y)
    truncate()
    try:
        model.predict(X_disk)
    except OSError as exc:
        print("predict:", exc)
    """
)


def test_truncated_npy_raises_instead_of_crashing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", TRUNCATED_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["fit", "during fit", "predict"]
    for line, name in zip(lines, ["X.npy", "X2.npy", "X3.npy"], strict=True):
        assert name in line
        assert "behind X is 4096 bytes long" in line
        assert "truncated after it was opened" in line


def test_mapped_size_check(tmp_path):
    X, _ = make_data(n_samples=50)
    np.save(tmp_path / "X.npy", X)
    X_disk = np.load(tmp_path / "X.npy", mmap_mode="r")
    check_mapped_size(X_disk, "X")  # intact: nothing to say
    check_mapped_size(X_disk[10:20], "X")  # a view checks its whole file
    check_mapped_size(X, "X")  # not a memory map
    np.testing.assert_array_equal(read_rows(X_disk, start=0, stop=50), X)
    with open(tmp_path / "X.npy", "r+b") as file:
        file.truncate(1000)
    with pytest.raises(OSError, match=r"X\.npy.* behind X is 1000 bytes long"):
        check_mapped_size(X_disk, "X")
    with pytest.raises(OSError, match="truncated after it was opened"):
        read_rows(X_disk, start=40, stop=50)


def test_closed_h5py_dataset_is_a_clear_error(tmp_path, data):
    h5py = pytest.importorskip("h5py")
    X, y = data
    model = TAAFRegressor(**{**FAST, "max_epochs": 2}).fit(X, y)
    with h5py.File(tmp_path / "data.h5", "w") as file:
        file.create_dataset("X", data=X)
        file.create_dataset("y", data=y)
    with h5py.File(tmp_path / "data.h5", "r") as file:
        X_h5, y_h5 = file["X"], file["y"]
    for X_fit, y_fit, name in [(X_h5, y, "X"), (X, y_h5, "y")]:
        with pytest.raises(ValueError, match=f"{name} is an h5py dataset of a closed"):
            TAAFRegressor(**{**FAST, "max_epochs": 2}).fit(X_fit, y_fit)
    with pytest.raises(ValueError, match="X is an h5py dataset of a closed file"):
        model.predict(X_h5)
