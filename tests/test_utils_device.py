"""Device handling (sktaaf._utils._device): the ``device`` and ``mixed_precision``
parameters, resolved in ``fit``."""

import pytest
import torch
from conftest import ESTIMATORS, FAST, make_data

from sktaaf._utils._device import DEVICE_PATTERN, is_available, resolve_device

SETTINGS = {**FAST, "max_epochs": 8}


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
    est = Estimator(**SETTINGS, device=device)
    with pytest.raises(ValueError, match="CUDA is not available"):
        est.fit(X, y)
    assert not hasattr(est, "net_")


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_auto_device_without_cuda_is_cpu(Estimator, data, monkeypatch):
    X, y = data
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    est = Estimator(**{**SETTINGS, "max_epochs": 1}, device="auto").fit(X, y)
    assert est.device_ == "cpu"
    assert all(p.device.type == "cpu" for p in est.module_.parameters())


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_cpu_device(Estimator, data, device):
    X, y = data
    est = Estimator(**{**SETTINGS, "max_epochs": 1}, device=device).fit(X, y)
    assert est.device_ == "cpu"


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("device", ["tpu", "cuda:x", "gpu", "", "CPU"])
def test_unknown_device_is_an_error(Estimator, data, device):
    X, y = data
    with pytest.raises(ValueError, match="'device'"):
        Estimator(**SETTINGS, device=device).fit(X, y)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n", True),
        ("flags\t\t: fpu sse2 avx2 amx_tile amx_bf16\n", True),
        ("Features\t: fp asimd bf16 i8mm\n", True),  # Arm
        ("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n", False),
        ("nothing of use\n", None),
    ],
)
def test_native_bf16_from_cpu_flags(tmp_path, monkeypatch, text, expected):
    from sktaaf._utils import _device

    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False, raising=False)
    (tmp_path / "cpuinfo").write_text(text)
    assert _device.cpu_has_native_bf16(tmp_path / "cpuinfo") is expected
    assert _device.cpu_has_native_bf16(tmp_path / "missing") is None


@pytest.mark.parametrize("native", [False, True, None])
def test_bf16_warns_at_fit_on_a_cpu_without_it(data, monkeypatch, native):
    import warnings

    from sktaaf import TAAFRegressor, _params
    from sktaaf.exceptions import SlowPrecisionWarning

    monkeypatch.setattr(_params, "cpu_has_native_bf16", lambda: native)
    X, y = data
    model = TAAFRegressor(**{**SETTINGS, "max_epochs": 1}, mixed_precision="bf16")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    slow = [w for w in caught if issubclass(w.category, SlowPrecisionWarning)]
    assert len(slow) == (native is False)
    if slow:
        assert "mixed_precision='bf16'" in str(slow[0].message)
        assert slow[0].filename == __file__  # points at the caller of fit
