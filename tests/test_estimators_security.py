"""Security and reliability of parameters and model files (issue 13): tampered
files, references to functions, invalid and conflicting parameters, random
state shared between threads, and the clarity of the errors."""

import json
import os
import sys
import threading

import joblib
import numpy as np
import pytest
import torch
from conftest import ESTIMATORS, FAST
from sklearn.model_selection import GridSearchCV

import sktaaf._params
from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf._engine._state import digest
from sktaaf.exceptions import DeviceFallbackWarning, NonFiniteLossWarning

SETTINGS = {**FAST, "max_epochs": 6, "early_stopping": False}


@pytest.fixture(scope="module")
def saved(data, tmp_path_factory):
    """A fitted TAAFRegressor saved to a file, and its predictions."""
    X, y = data
    path = tmp_path_factory.mktemp("saved") / "model.pt"
    model = TAAFRegressor(**FAST).fit(X, y)
    model.save(path)
    return path, model.predict(X)


def _tampered(source, target, change):
    """Copy the model file ``source`` to ``target`` with ``change(payload,
    metadata)`` applied, re-saved as a valid torch archive with a matching
    checksum: an attacker can recompute it (the checksum catches damage, not
    forgery), so validation must hold on its own."""
    payload = torch.load(source, weights_only=True)
    metadata = json.loads(payload["metadata"])
    change(payload, metadata)
    payload["metadata"] = json.dumps(metadata)
    payload.pop("checksum", None)
    payload["checksum"] = digest(payload)
    torch.save(payload, target)
    return target


# ------------------------------------------- references in a model file
@pytest.fixture
def dangerous_calls(monkeypatch):
    """Replace functions a hostile file could name by recorders of calls
    (torch.os and torch.sys are these very modules)."""
    calls = []
    for module, name in [(sys, "exit"), (os, "abort"), (os, "fork"), (os, "system")]:
        monkeypatch.setattr(
            module, name, lambda *args, _name=name, **kwargs: calls.append(_name)
        )
    return calls


REFERENCES = [
    "torch:sys.exit",
    "torch:os.abort",
    "torch:os.fork",
    "torch:os.system",
    "torch.nn.modules.activation:os.abort",
    "builtins:exec",
    "torch:load",
    "torch:nn.Linear",
    "os:abort",
]


@pytest.mark.parametrize("reference", REFERENCES)
@pytest.mark.parametrize(
    "param", ["loss", "activation", "output_activation", "optimizer"]
)
def test_a_model_file_cannot_make_load_call_functions(
    saved, tmp_path, dangerous_calls, param, reference
):
    path = _tampered(
        saved[0],
        tmp_path / "hostile.pt",
        lambda p, m: m["params"].update({param: {"__reference__": reference}}),
    )
    with pytest.raises(ValueError, match=f"'{param}'"):
        TAAFRegressor.load(path)
    assert dangerous_calls == []


@pytest.mark.parametrize(
    "params",
    [
        {"optimizer_kwargs": {"foreach": {"__reference__": "torch:os.abort"}}},
        {"compile": {"backend": {"__reference__": "torch:os.abort"}}},
        {"loss": {"__reference__": "torch:sin"}},  # allowed for activations only
        {"optimizer": {"__reference__": "torch:sigmoid"}},
        {"activation": {"__reference__": ["torch:os", "abort"]}},
    ],
    ids=str,
)
def test_references_are_allowed_only_where_they_belong(
    saved, tmp_path, dangerous_calls, params
):
    path = _tampered(
        saved[0], tmp_path / "hostile.pt", lambda p, m: m["params"].update(params)
    )
    with pytest.raises(ValueError, match=f"'{next(iter(params))}'"):
        TAAFRegressor.load(path)
    assert dangerous_calls == []


@pytest.mark.parametrize(
    "param, reference, expected",
    [
        ("optimizer", "torch.optim:NAdam", torch.optim.NAdam),
        ("activation", "torch.nn:Sigmoid", torch.nn.Sigmoid),
        ("activation", "torch.nn.functional:sigmoid", torch.nn.functional.sigmoid),
    ],
)
def test_public_paths_of_allowed_objects_load(
    saved, data, tmp_path, param, reference, expected
):
    """A reference written by another version of torch, where the object lives
    in another private module, still loads by its public path."""
    path = _tampered(
        saved[0],
        tmp_path / "public.pt",
        lambda p, m: m["params"].update({param: {"__reference__": reference}}),
    )
    loaded = TAAFRegressor.load(path)
    assert getattr(loaded, param) is expected
    np.testing.assert_array_equal(loaded.predict(data[0]), saved[1])


def softsign_squared(x):
    return torch.nn.functional.softsign(x) ** 2


@pytest.mark.parametrize(
    "params",
    [
        {"activation": torch.nn.functional.gelu, "optimizer": torch.optim.RAdam},
        {"activation": torch.nn.Softsign, "output_activation": torch.tanh},
        {"activation": torch.nn.PReLU(), "optimizer": torch.optim.SGD},
    ],
    ids=["gelu-radam", "softsign-tanh", "prelu-instance"],
)
def test_torch_classes_and_functions_still_load(data, tmp_path, params):
    X, y = data
    model = TAAFRegressor(**{**FAST, "max_epochs": 2}, **params).fit(X, y)
    try:
        model.save(tmp_path / "model.pt")
    except TypeError:  # module instances are refused at save, as before
        assert isinstance(params["activation"], torch.nn.Module)
        return
    loaded = TAAFRegressor.load(tmp_path / "model.pt")
    for name, value in params.items():
        assert getattr(loaded, name) is value
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_custom_objects_are_used_by_name(data, tmp_path):
    X, y = data
    model = TAAFRegressor(**{**FAST, "max_epochs": 2}, activation=softsign_squared)
    model.fit(X, y).save(tmp_path / "model.pt")
    with pytest.raises(ValueError, match="custom_objects=.*softsign_squared"):
        TAAFRegressor.load(tmp_path / "model.pt")
    loaded = TAAFRegressor.load(
        tmp_path / "model.pt", custom_objects={"softsign_squared": softsign_squared}
    )
    assert loaded.activation is softsign_squared


# --------------------------------------------- tampered metadata fields
def _set(section, field, value):
    def change(payload, metadata):
        metadata[section][field] = value

    return change


def _set_entry(entry, value):
    def change(payload, metadata):
        payload[entry] = value

    return change


TAMPERED = {
    "learning_rate='x'": (_set("params", "learning_rate", "x"), "learning_rate"),
    "learning_rate=-1": (_set("params", "learning_rate", -1), "learning_rate"),
    "batch_size=True": (_set("params", "batch_size", True), "batch_size"),
    "hidden_layer_sizes=[[16]]": (
        _set("params", "hidden_layer_sizes", [[16]]),
        "hidden_layer_sizes",
    ),
    "hidden_layer_sizes=[17]": (
        _set("params", "hidden_layer_sizes", [17]),
        "hidden_layer_sizes",
    ),
    "dropout=2": (_set("params", "dropout", 2), "dropout"),
    "hidden_layer_sizes=[10**30]": (
        _set("params", "hidden_layer_sizes", [10**30]),
        "hidden_layer_sizes",
    ),
    "callbacks=[{}]": (_set("params", "callbacks", [{}]), "callbacks"),
    "checkpoint_dir='/tmp'": (_set("params", "checkpoint_dir", "/tmp"), "checkpoint"),
    "random_state={}": (_set("params", "random_state", {}), "random_state"),
    "optimizer_kwargs lr": (
        _set("params", "optimizer_kwargs", {"lr": 5}),
        "optimizer_kwargs",
    ),
    "optimizer_kwargs list": (_set("params", "optimizer_kwargs", [1]), "optimizer_k"),
    "compile mode": (_set("params", "compile", {"mode": "bogus"}), "compile"),
    "n_outputs_=10**30": (_set("fitted", "n_outputs_", 10**30), "n_outputs_"),
    "n_outputs_=2": (_set("fitted", "n_outputs_", 2), "n_outputs_"),
    "n_outputs_='3'": (_set("fitted", "n_outputs_", "3"), "n_outputs_"),
    "n_features_in_=0": (_set("fitted", "n_features_in_", 0), "n_features_in_"),
    "n_features_in_=True": (_set("fitted", "n_features_in_", True), "n_features_in_"),
    "n_features_in_=13": (_set("fitted", "n_features_in_", 13), "n_features_in_"),
    "target_is_1d='no'": (_set("fitted", "target_is_1d", "no"), "target_is_1d"),
    "target_is_1d with 3 outputs": (
        _set("fitted", "target_is_1d", True),
        "target_is_1d",
    ),
    "feature_names_in_ too short": (
        _set("fitted", "feature_names_in_", ["a"]),
        "feature_names_in_",
    ),
    "feature_names_in_ numbers": (
        _set("fitted", "feature_names_in_", list(range(12))),
        "feature_names_in_",
    ),
    "device_='tpu'": (_set("fitted", "device_", "tpu"), "device_"),
    "best_epoch_=-1": (_set("fitted", "best_epoch_", -1), "best_epoch_"),
    "n_iter_=10**6": (_set("fitted", "n_iter_", 10**6), "n_iter_"),
    "n_iter_ missing": (lambda p, m: m["fitted"].pop("n_iter_"), "n_iter_"),
    "history not a list": (lambda p, m: m.update(history="x"), "history"),
    "history of numbers": (lambda p, m: m.update(history=[1, 2]), "history"),
    "versions a list": (lambda p, m: m.update(versions=["1.0"]), "versions"),
    "params a list": (lambda p, m: m.update(params=[]), "params"),
    "generator_state a str": (_set_entry("generator_state", "x"), "generator_st"),
    "rng_state a str": (_set_entry("rng_state", "abc"), "rng_state"),
    "optimizer a list": (_set_entry("optimizer", [1]), "optimizer"),
    "module not tensors": (_set_entry("module", {"a": 1}), "module"),
}


@pytest.mark.parametrize("damage", TAMPERED)
def test_tampered_fields_are_a_value_error_naming_them(saved, tmp_path, damage):
    change, field = TAMPERED[damage]
    path = _tampered(saved[0], tmp_path / "tampered.pt", change)
    with pytest.raises(ValueError, match=field) as caught:
        TAAFRegressor.load(path)
    assert type(caught.value) is ValueError  # not an InvalidParameterError/TypeError


def test_custom_objects_must_be_a_dict(saved):
    with pytest.raises(TypeError, match="custom_objects must be a dict"):
        TAAFRegressor.load(saved[0], custom_objects=["softsign_squared"])


def test_untampered_file_still_loads(saved, data, tmp_path):
    X, _ = data
    path = _tampered(saved[0], tmp_path / "same.pt", lambda p, m: None)
    np.testing.assert_array_equal(TAAFRegressor.load(path).predict(X), saved[1])


# ------------------------------------------------------- devices on load
def test_mps_model_loads_on_cpu_without_mps(saved, data, tmp_path, monkeypatch):
    X, _ = data
    path = _tampered(saved[0], tmp_path / "mps.pt", _set("fitted", "device_", "mps"))
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.warns(DeviceFallbackWarning, match="fitted on mps.*loaded on the CPU"):
        loaded = TAAFRegressor.load(path)
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict(X), saved[1])


def test_model_of_a_missing_cuda_device_loads_on_cpu(saved, tmp_path, monkeypatch):
    path = _tampered(
        saved[0], tmp_path / "cuda.pt", _set("fitted", "device_", "cuda:7")
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.warns(
        DeviceFallbackWarning, match="fitted on cuda:7.*loaded on the CPU"
    ):
        assert TAAFRegressor.load(path).device_ == "cpu"


# ------------------------------------------------------------ random state
def test_load_leaves_torch_global_random_state_alone(saved):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    TAAFRegressor.load(saved[0])
    assert torch.equal(torch.get_rng_state(), before)


def _fit(Estimator, X, y, seed):
    model = Estimator(**{**SETTINGS, "dropout": 0.25, "random_state": seed})
    return model.fit(X, y).predict(X)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_seeded_fits_in_threads_equal_sequential_fits(Estimator, data):
    X, y = data
    seeds = [0, 1, 2]
    expected = [_fit(Estimator, X, y, seed) for seed in seeds]
    torch.manual_seed(7)
    before = torch.get_rng_state()
    for _ in range(2):
        results = [None] * len(seeds)
        barrier = threading.Barrier(len(seeds))

        def run(index, results=results, barrier=barrier):
            barrier.wait()
            results[index] = _fit(Estimator, X, y, seeds[index])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(seeds))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for result, reference in zip(results, expected, strict=True):
            np.testing.assert_array_equal(result, reference)
    assert torch.equal(torch.get_rng_state(), before)


def test_grid_search_with_threads_equals_one_job(data):
    X, y = data
    search = GridSearchCV(
        TAAFRegressor(**SETTINGS, dropout=0.25),
        {"learning_rate": [1e-2, 3e-3], "random_state": [0, 1]},
        cv=2,
    )
    sequential = search.fit(X, y).cv_results_["mean_test_score"]
    with joblib.parallel_backend("threading", n_jobs=4):
        threaded = search.set_params(n_jobs=4).fit(X, y).cv_results_
    np.testing.assert_array_equal(threaded["mean_test_score"], sequential)


# ------------------------------------------------ parameters and errors
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"lr": 0.5}, ValueError, "optimizer_kwargs=.*'lr'.*NAdam.*learning_rate"),
        ({"lr": -1}, ValueError, "optimizer_kwargs=.*'lr'.*NAdam.*learning_rate"),
        ({"params": []}, ValueError, "optimizer_kwargs=.*'params'"),
        ({"foo": 1}, TypeError, "optimizer_kwargs=.*NAdam.*foo"),
        ({"weight_decay": -1}, ValueError, "optimizer_kwargs=.*NAdam.*weight_decay"),
        ({1: 2}, ValueError, "'optimizer_kwargs'.*str keys"),
    ],
    ids=str,
)
def test_optimizer_kwargs_are_checked_against_the_optimizer(
    Estimator, data, kwargs, error, match
):
    X, y = data
    model = Estimator(**FAST, optimizer_kwargs=kwargs)
    with pytest.raises(error, match=match):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_optimizer_kwargs_of_another_optimizer(data):
    X, y = data
    with pytest.raises(ValueError, match="optimizer_kwargs=.*SGD.*momentum"):
        TAAFRegressor(**FAST, optimizer="sgd", optimizer_kwargs={"momentum": -0.5}).fit(
            X, y
        )


class _NeedsBetas(torch.optim.Adam):
    def __init__(self, params, lr, betas):
        super().__init__(params, lr=lr, betas=betas)


def _rows_summed(x):
    return x.sum(dim=1)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"activation": torch.nn.Linear}, TypeError, "'activation'.*Linear.*argument"),
        (
            {"activation": torch.nn.Linear(16, 8)},
            ValueError,
            "'activation'.*same shape.*\\(2, 16\\) to \\(2, 8\\)",
        ),
        (
            {"activation": torch.nn.Linear(5, 5)},
            ValueError,
            "'activation'.*fails on a batch of shape \\(2, 16\\)",
        ),
        ({"activation": _rows_summed}, ValueError, "'activation'.*same shape"),
        (
            {"output_activation": torch.nn.Softmax2d()},
            ValueError,
            "'output_activation'",
        ),
        (
            {"loss": torch.nn.L1Loss(reduction="none")},
            ValueError,
            "'loss'.*one number.*\\(2, 3\\)",
        ),
        ({"loss": torch.nn.Linear(3, 3)}, ValueError, "'loss'.*fails"),
        ({"optimizer": _NeedsBetas}, ValueError, "create the optimizer _NeedsBetas"),
        ({"compile": {"mode": "bogus"}}, ValueError, "compile=.*bogus"),
        ({"compile": {"foo": 1}}, TypeError, "compile=.*foo"),
        (
            {"hidden_layer_sizes": (10**13,)},
            ValueError,
            "hidden_layer_sizes=\\(10000000000000,\\).*GiB",
        ),
    ],
    ids=str,
)
def test_unusable_parameters_give_clear_errors(Estimator, data, params, error, match):
    X, y = data
    model = Estimator(**{**FAST, **params})
    with pytest.raises(error, match=match):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_network_too_large_for_the_device_is_refused_before_building(data, monkeypatch):
    X, y = data
    monkeypatch.setattr(sktaaf._params, "device_memory", lambda device: 10_000)
    with pytest.raises(ValueError, match="hidden_layer_sizes=.*more than"):
        DGEXRegressor(**{**FAST, "hidden_layer_sizes": (1000,)}).fit(X, y)


class _InfiniteWhenValidating(torch.nn.L1Loss):
    """L1 loss, infinite on the validation batches only."""

    def forward(self, y_pred, y_true):
        loss = super().forward(y_pred, y_true)
        return loss if torch.is_grad_enabled() else loss * float("inf")


def test_divergence_warning_reports_the_non_finite_loss(data):
    X, y = data
    model = TAAFRegressor(**FAST, loss=_InfiniteWhenValidating())
    with pytest.warns(
        NonFiniteLossWarning, match="loss became non-finite \\(valid_loss inf\\)"
    ) as caught:
        model.fit(X, y)
    assert "train_loss" not in str(caught[0].message)
