"""Tests of sktaaf._persistence._format: save() writes tensors and JSON; load() never
unpickles code."""

import errno
import json
import subprocess
import sys
import textwrap
import threading
import warnings
import zipfile

import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST, NO_STOP
from sklearn.exceptions import NotFittedError
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import StepLR

import sktaaf._engine._state
import sktaaf._persistence._format
import sktaaf._utils._atomic
from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf.exceptions import (
    DeviceFallbackWarning,
    ModelVersionWarning,
    ParameterNotSavedWarning,
)


def softsign_squared(x):
    return torch.nn.functional.softsign(x) ** 2


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_round_trip(Estimator, data, tmp_path):
    X, y = data
    est = Estimator(**FAST).fit(X, y)
    est.save(tmp_path / "model.pt")
    loaded = Estimator.load(tmp_path / "model.pt")
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.get_params() == est.get_params()
    for name in ("n_features_in_", "n_outputs_", "best_epoch_", "n_iter_", "device_"):
        assert getattr(loaded, name) == getattr(est, name), name
    assert loaded.history_[:, "valid_loss"] == est.history_[:, "valid_loss"]
    assert not loaded.module_.training


def test_dataframe_and_one_dimensional_target(data, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = data
    X_df = pd.DataFrame(X, columns=[f"g{i}" for i in range(X.shape[1])])
    est = TAAFRegressor(**FAST).fit(X_df, y[:, 0])
    est.save(tmp_path / "model.pt")
    loaded = TAAFRegressor.load(tmp_path / "model.pt")
    assert list(loaded.feature_names_in_) == list(X_df.columns)
    assert loaded.predict(X_df).shape == (len(X),)
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(X_df[X_df.columns[::-1]])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_loaded_model_resumes_training_exactly(Estimator, data, tmp_path):
    X, y = data
    whole = Estimator(**{**NO_STOP, "max_epochs": 10}).fit(X, y)
    first = Estimator(**{**NO_STOP, "max_epochs": 5}).fit(X, y)
    first.save(tmp_path / "model.pt")
    resumed = Estimator.load(tmp_path / "model.pt").set_params(warm_start=True)
    resumed.fit(X, y)
    assert resumed.n_iter_ == 10
    np.testing.assert_array_equal(resumed.predict(X), whole.predict(X))


def test_file_is_tensors_and_json_only(data, tmp_path):
    X, y = data
    TAAFRegressor(**FAST).fit(X, y).save(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    metadata = json.loads(payload["metadata"])
    assert metadata["format"] == "sktaaf-model"
    assert metadata["params"]["hidden_layer_sizes"] == [16]
    assert {"sktaaf", "torch", "scikit-learn"} <= set(metadata["versions"])


def test_parameters_of_another_version_are_named(data, tmp_path):
    X, y = data
    path = tmp_path / "model.pt"
    TAAFRegressor(**FAST).fit(X, y).save(path)
    payload = torch.load(path, weights_only=True)
    metadata = json.loads(payload["metadata"])
    metadata["params"]["n_heads"] = 4  # a parameter of some other version
    payload["metadata"] = json.dumps(metadata)
    del payload["checksum"]
    payload["checksum"] = sktaaf._engine._state.digest(payload)  # intact, as saved
    torch.save(payload, path)
    with pytest.raises(TypeError, match=r"model.pt.*does not have: \['n_heads'\]"):
        TAAFRegressor.load(path)


class Exploit:
    def __reduce__(self):
        return (exec, ("import builtins; builtins.sktaaf_exploited = True",))


def test_a_file_carrying_code_is_refused_unexecuted(tmp_path):
    import builtins

    torch.save({"metadata": Exploit()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not a readable sktaaf model file"):
        TAAFRegressor.load(tmp_path / "evil.pt")
    assert not hasattr(builtins, "sktaaf_exploited")


def test_corrupted_truncated_and_missing_files(data, tmp_path):
    X, y = data
    path = tmp_path / "model.pt"
    TAAFRegressor(**FAST).fit(X, y).save(path)
    content = path.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(content[: len(content) // 2])
    (tmp_path / "noise.pt").write_bytes(np.random.RandomState(0).bytes(1000))
    (tmp_path / "other.pt").write_bytes(b"")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    for name in ("truncated.pt", "noise.pt", "other.pt", "foreign.pt"):
        with pytest.raises(ValueError, match="not a readable sktaaf model file"):
            TAAFRegressor.load(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="No sktaaf model file"):
        TAAFRegressor.load(tmp_path / "absent.pt")
    assert not list(tmp_path.glob("*.partial"))
    # torch's errors that say little are named by their kind.
    with pytest.raises(ValueError, match=r"another kind of file\): EOFError$"):
        TAAFRegressor.load(tmp_path / "other.pt")


def test_a_path_that_is_no_file_name_is_named(data, tmp_path):
    with pytest.raises(TypeError, match="expected a file name .* got NoneType"):
        TAAFRegressor.load(None)
    with pytest.raises(TypeError, match="expected a file name .* got int"):
        TAAFRegressor(**FAST).fit(*data).save(3)


def test_saving_to_a_folder_or_a_failed_write_leaves_nothing(
    data, tmp_path, monkeypatch
):
    X, y = data
    model = TAAFRegressor(**FAST).fit(X, y)
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        model.save(tmp_path)

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(sktaaf._utils._atomic.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "model.pt")
    assert not list(tmp_path.iterdir())


def test_wrong_class_and_unfitted(data, tmp_path):
    X, y = data
    TAAFRegressor(**FAST).fit(X, y).save(tmp_path / "model.pt")
    with pytest.raises(TypeError, match="holds a TAAFRegressor, not a DGEXRegressor"):
        DGEXRegressor.load(tmp_path / "model.pt")
    with pytest.raises(NotFittedError):
        TAAFRegressor().save(tmp_path / "unfitted.pt")


def test_other_versions_warn(data, tmp_path, monkeypatch):
    X, y = data
    TAAFRegressor(**FAST).fit(X, y).save(tmp_path / "model.pt")
    versions = sktaaf._persistence._format._versions()
    monkeypatch.setattr(
        sktaaf._persistence._format, "_versions", lambda: {**versions, "torch": "9.9.9"}
    )
    with pytest.warns(ModelVersionWarning, match="torch .* \\(now 9.9.9\\)"):
        TAAFRegressor.load(tmp_path / "model.pt")


def test_gpu_model_loads_on_cpu(data, tmp_path, monkeypatch):
    # Simulated: the file records a CUDA device; this machine has none.
    X, y = data
    est = TAAFRegressor(**FAST).fit(X, y)
    expected = est.predict(X)
    est.device_ = "cuda:0"
    est.save(tmp_path / "model.pt")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(
        DeviceFallbackWarning, match="fitted on cuda:0.*loaded on the CPU"
    ):
        loaded = TAAFRegressor.load(tmp_path / "model.pt")
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), expected)


def test_callable_parameters(data, tmp_path):
    X, y = data
    torch_function = TAAFRegressor(
        **FAST, activation=torch.sin, optimizer=torch.optim.Adam
    )
    torch_function.fit(X, y).save(tmp_path / "torch.pt")
    loaded = TAAFRegressor.load(tmp_path / "torch.pt")
    assert loaded.activation is torch.sin and loaded.optimizer is torch.optim.Adam

    own = TAAFRegressor(**FAST, activation=softsign_squared).fit(X, y)
    own.save(tmp_path / "own.pt")
    with pytest.raises(ValueError, match="custom_objects"):
        TAAFRegressor.load(tmp_path / "own.pt")
    loaded = TAAFRegressor.load(
        tmp_path / "own.pt", custom_objects={"softsign_squared": softsign_squared}
    )
    np.testing.assert_array_equal(loaded.predict(X), own.predict(X))


def test_unsaveable_parameters(data, tmp_path):
    X, y = data
    est = TAAFRegressor(**FAST, loss=torch.nn.HuberLoss()).fit(X, y)
    with pytest.raises(TypeError, match="Cannot save the parameter loss="):
        est.save(tmp_path / "model.pt")
    scheduled = TAAFRegressor(
        **FAST, callbacks=[LRScheduler(policy=StepLR, step_size=2)]
    ).fit(X, y)
    with pytest.warns(ParameterNotSavedWarning, match="callbacks are not saved"):
        scheduled.save(tmp_path / "scheduled.pt")
    assert TAAFRegressor.load(tmp_path / "scheduled.pt").callbacks is None
    seeded = TAAFRegressor(**{**FAST, "random_state": np.random.RandomState(0)})
    with pytest.warns(ParameterNotSavedWarning, match="saved as None"):
        seeded.fit(X, y).save(tmp_path / "seeded.pt")
    assert TAAFRegressor.load(tmp_path / "seeded.pt").random_state is None


# ----------------------------------------------- integrity and failed writes
def _flip(path, offset):
    damaged = bytearray(path.read_bytes())
    damaged[offset] ^= 0xFF
    path.write_bytes(bytes(damaged))


def test_a_damaged_file_is_refused_not_loaded(data, tmp_path):
    # One flipped byte anywhere: load fails, or loads the same model. The
    # weights' bytes are stored without a check of their own in the archive,
    # so flips there are what the checksum is for.
    X, y = data
    model = TAAFRegressor(**FAST).fit(X, y)
    expected = model.predict(X)
    path = tmp_path / "model.pt"
    model.save(path)
    content = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        records = [
            info
            for info in archive.infolist()
            if "/data/" in info.filename and info.file_size
        ]
    starts = [
        info.header_offset + 30 + len(info.filename) + len(info.extra)
        for info in records
    ]
    offsets = {start + n for start in starts for n in (0, 1, 7)}
    offsets |= set(range(0, len(content), len(content) // 200))
    loaded_differently = []
    for offset in sorted(offsets):
        path.write_bytes(content)
        _flip(path, offset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a flipped version number
            try:
                loaded = TAAFRegressor.load(path)
            except ValueError as exc:  # damage, never "another version"
                assert "model.pt" in str(exc)
                continue
        if not np.array_equal(loaded.predict(X), expected):
            loaded_differently.append(offset)
    assert loaded_differently == []


@pytest.mark.parametrize(
    ("text", "changed"),
    [
        (b'"dropout"', b'"dropouT"'),  # a parameter name
        (b'"TAAFRegressor"', b'"TAAFRegressoR"'),  # the class
        (b'"n_outputs_"', b'"n_outputs`"'),  # a fitted attribute
        (b'"format_version": 2', b'"format_version": 3'),
    ],
)
def test_a_changed_byte_in_the_metadata_is_damage(data, tmp_path, text, changed):
    """The checksum is verified before anything else is read: a flipped byte
    in a name is reported as damage, not as a parameter of another version,
    another class or a newer format."""
    X, y = data
    path = tmp_path / "model.pt"
    TAAFRegressor(**FAST).fit(X, y).save(path)
    content = path.read_bytes()
    assert content.count(text) == 1
    path.write_bytes(content.replace(text, changed))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing read before the check warns
        with pytest.raises(ValueError, match=r"model.pt' is damaged.*checksum"):
            TAAFRegressor.load(path)


def test_changed_weights_fail_the_checksum(data, tmp_path):
    X, y = data
    path = tmp_path / "model.pt"
    TAAFRegressor(**FAST).fit(X, y).save(path)
    payload = torch.load(path, weights_only=True)
    payload["module"]["output.linear.weight"] *= 2
    torch.save(payload, path)  # the checksum of the original content
    with pytest.raises(ValueError, match=r"model.pt' is damaged.*checksum"):
        TAAFRegressor.load(path)


def test_a_missing_entry_is_named(data, tmp_path):
    X, y = data
    path = tmp_path / "model.pt"
    TAAFRegressor(**FAST).fit(X, y).save(path)
    payload = torch.load(path, weights_only=True)
    del payload["generator_state"], payload["checksum"]
    payload["checksum"] = sktaaf._engine._state.digest(payload)  # intact, but lacking
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"model.pt.*'generator_state' is missing"):
        TAAFRegressor.load(path)


def test_concurrent_saves_to_one_path_each_write_a_whole_file(data, tmp_path):
    X, y = data
    model = TAAFRegressor(**FAST).fit(X, y)
    path = tmp_path / "model.pt"
    errors = []

    def save():
        try:
            model.save(path)
        except Exception as exc:  # collected for the assert below
            errors.append(exc)

    for _ in range(10):
        threads = [threading.Thread(target=save) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        np.testing.assert_array_equal(
            TAAFRegressor.load(path).predict(X), model.predict(X)
        )
    assert [file.name for file in tmp_path.iterdir()] == ["model.pt"]


def test_saving_where_it_cannot_write_names_the_file(data, tmp_path, monkeypatch):
    X, y = data
    model = TAAFRegressor(**FAST).fit(X, y)

    def read_only(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(sktaaf._utils._atomic.os, "open", read_only)
        with pytest.raises(PermissionError, match=r"save the model to .*model.pt"):
            model.save(tmp_path / "model.pt")
    assert not list(tmp_path.iterdir())


def test_a_write_failing_midway_is_an_os_error_naming_the_file(tmp_path):
    # A real failure inside torch's writer: a file size limit of 4 kB.
    script = textwrap.dedent(
        f"""
        import os, resource, signal
        import numpy as np
        from sktaaf import TAAFRegressor

        X = np.random.RandomState(0).normal(size=(50, 4)).astype(np.float32)
        model = TAAFRegressor(hidden_layer_sizes=(64,), max_epochs=1).fit(X, X)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))
        try:
            model.save({str(tmp_path / "model.pt")!r})
        except OSError as exc:
            print("OSError:", exc)
        """
    )
    resource = pytest.importorskip("resource")
    del resource
    process = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True
    )
    assert "Could not save the model to" in process.stdout, process.stderr
    assert "model.pt" in process.stdout and "failed midway" in process.stdout
    assert "disk full or file size limit" in process.stdout
    assert not list(tmp_path.iterdir())


def test_a_file_reads_as_a_plain_description_that_writes_it_back(data, tmp_path):
    """Persistence knows no estimator: read_model returns a SavedModel (plain
    data), from which write_model writes the same content again."""
    from sktaaf._persistence._format import read_model, write_model

    X, y = data
    est = TAAFRegressor(**FAST).fit(X, y)
    est.save(tmp_path / "model.pt")
    model = read_model(tmp_path / "model.pt", class_name="TAAFRegressor")
    assert model.class_name == "TAAFRegressor"
    assert model.params == est.get_params(deep=False)
    assert model.fitted["n_outputs_"] == est.n_outputs_
    assert model.fitted["target_is_1d"] is False
    assert model.state.best_epoch == est.best_epoch_
    assert len(model.state.history) == len(est.history_)
    assert model.target_scores.shape == (est.n_outputs_, 2)
    write_model(tmp_path / "again.pt", model)
    first, again = (
        torch.load(tmp_path / name, weights_only=True)
        for name in ("model.pt", "again.pt")
    )
    assert again["metadata"] == first["metadata"]
    assert again["checksum"] == first["checksum"]  # of all the content
    with pytest.raises(TypeError, match="holds a TAAFRegressor, not a DGEXRegressor"):
        read_model(tmp_path / "model.pt", class_name="DGEXRegressor")
