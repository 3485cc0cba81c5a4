"""Device handling (sktaaf._device): the ``device`` and ``mixed_precision``
parameters, resolved in ``fit``."""

import pytest
import torch
from conftest import ESTIMATORS, FAST, make_data

from sktaaf._device import DEVICE_PATTERN, is_available, resolve_device

FAST = {**FAST, "max_epochs": 8}


@pytest.fixture(scope="module")
def data():
    return make_data(n_samples=100, n_features=6)


def test_resolve_device_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device(torch.device("cpu")) == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda:1")


def test_saved_devices_and_their_availability(monkeypatch):
    assert DEVICE_PATTERN.fullmatch("cuda:3") and not DEVICE_PATTERN.fullmatch("auto")
    assert is_available("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not is_available("cuda:0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
def test_explicit_cuda_without_cuda_is_an_error(Estimator, data, device):
    X, y = data
    est = Estimator(**FAST, device=device)
    with pytest.raises(ValueError, match="CUDA is not available"):
        est.fit(X, y)
    assert not hasattr(est, "net_")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_auto_device_without_cuda_is_cpu(Estimator, data, monkeypatch):
    X, y = data
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    est = Estimator(**{**FAST, "max_epochs": 1}, device="auto").fit(X, y)
    assert est.device_ == "cpu"
    assert all(p.device.type == "cpu" for p in est.module_.parameters())


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_cpu_device(Estimator, data, device):
    X, y = data
    est = Estimator(**{**FAST, "max_epochs": 1}, device=device).fit(X, y)
    assert est.device_ == "cpu"


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("device", ["tpu", "cuda:x", "gpu", "", "CPU"])
def test_unknown_device_is_an_error(Estimator, data, device):
    X, y = data
    with pytest.raises(ValueError, match="'device'"):
        Estimator(**FAST, device=device).fit(X, y)
