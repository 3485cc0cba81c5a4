"""sktaaf.export: ONNX and TorchScript files that compute what predict does."""

import json
import warnings

import numpy as np
import pytest
import torch

import sktaaf
from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf.export import to_onnx, to_torchscript

SETTINGS = dict(hidden_layer_sizes=(16, 8), max_epochs=3, batch_size=32, random_state=0)


def _data():
    """Raw, un-standardised data: landmarks around 3 with spread 10, targets
    around 50; a model that scales them outside its network would export a
    graph whose outputs differ from predict."""
    rng = np.random.RandomState(0)
    X = (3 + 10 * rng.normal(size=(120, 7))).astype(np.float32)
    y = (50 + np.tanh(X[:, :4] / 10) + 0.1 * rng.normal(size=(120, 4))).astype(
        np.float32
    )
    return X, y


@pytest.fixture(
    scope="module",
    params=[
        (TAAFRegressor, None),
        (TAAFRegressor, "ridge"),
        (DGEXRegressor, "ridge"),
        (TAAFRegressor, "blend"),
    ],
    ids=["taaf", "taaf-linear-path", "dgex-linear-path", "taaf-blend"],
)
def fitted(request):
    X, y = _data()
    Estimator, linear_path = request.param
    return Estimator(**SETTINGS, linear_path=linear_path).fit(X, y), X


def _onnxruntime():
    pytest.importorskip("onnx", reason="the onnx extra is not installed")
    return pytest.importorskip(
        "onnxruntime", reason="onnxruntime is needed to run the exported file"
    )


def _run_onnx(path, X):
    ort = _onnxruntime()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"landmarks": X})[0]


def test_torchscript_matches_predict(fitted, tmp_path):
    model, X = fitted
    path = to_torchscript(model, tmp_path / "model.pt")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit", DeprecationWarning)
        scripted = torch.jit.load(str(path))
    for batch in (X, X[:1], X[:37]):  # the batch axis is not fixed
        with torch.no_grad():
            out = scripted(torch.from_numpy(batch)).numpy()
        np.testing.assert_allclose(out, model.predict(batch), rtol=1e-5, atol=1e-5)


def test_onnx_legacy_exporter_matches_predict(fitted, tmp_path):
    _onnxruntime()
    model, X = fitted
    path = to_onnx(model, tmp_path / "model.onnx", dynamo=False)
    for batch in (X, X[:1], X[:37]):
        out = _run_onnx(path, batch)
        np.testing.assert_allclose(out, model.predict(batch), rtol=1e-5, atol=1e-5)


def _metadata(path) -> dict:
    import onnx

    props = onnx.load(str(path)).metadata_props
    return {entry.key: json.loads(entry.value) for entry in props}


@pytest.mark.parametrize("dynamo", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_onnx_metadata_names_the_genes_and_versions(dynamo, tmp_path, capfd):
    pd = pytest.importorskip("pandas")
    _onnxruntime()
    X, y = _data()
    X = pd.DataFrame(X, columns=[f"LM{i}" for i in range(X.shape[1])])
    y = pd.DataFrame(y, columns=[f"T{i}" for i in range(y.shape[1])])
    model = TAAFRegressor(**SETTINGS, standardize=True).fit(X, y)
    capfd.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no stray warnings
        path = to_onnx(model, tmp_path / "model.onnx", dynamo=dynamo)
    assert "torchvision" not in capfd.readouterr().err
    metadata = _metadata(path)
    assert metadata == {
        "sktaaf.estimator": "TAAFRegressor",
        "sktaaf.landmark_ids": list(X.columns),
        "sktaaf.target_ids": list(y.columns),
        "sktaaf.standardize": True,
        "sktaaf.versions": {"sktaaf": sktaaf.__version__, "torch": torch.__version__},
    }
    np.testing.assert_allclose(
        _run_onnx(path, X.to_numpy()), model.predict(X), rtol=1e-5, atol=1e-5
    )


def test_onnx_metadata_without_names(fitted, tmp_path):
    _onnxruntime()
    model, _ = fitted
    metadata = _metadata(to_onnx(model, tmp_path / "model.onnx", dynamo=False))
    assert metadata["sktaaf.landmark_ids"] is None
    assert metadata["sktaaf.target_ids"] is None
    assert metadata["sktaaf.standardize"] is bool(model.standardize)


@pytest.mark.slow
def test_onnx_default_exporter_matches_predict(tmp_path):
    """The torch.export-based exporter (PyTorch's default), with a dynamic
    batch axis in the graph."""
    _onnxruntime()
    pytest.importorskip("onnxscript", reason="the dynamo exporter needs onnxscript")
    X, y = _data()
    model = TAAFRegressor(**SETTINGS).fit(X, y)
    path = to_onnx(model, tmp_path / "model.onnx", dynamo=True)
    import onnx

    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ["landmarks"]
    assert [o.name for o in graph.output] == ["targets"]
    batch_dim = graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param  # symbolic, not a fixed size
    for batch in (X, X[:1], X[:37]):
        out = _run_onnx(path, batch)
        np.testing.assert_allclose(out, model.predict(batch), rtol=1e-5, atol=1e-5)


def test_export_leaves_the_estimator_as_it_was(fitted, tmp_path):
    model, X = fitted
    before = model.predict(X)
    module = model.module_
    module.train()  # even a module left in training mode is exported in eval
    try:
        path = to_torchscript(model, tmp_path / "model.pt")
    finally:
        module.eval()
    assert model.module_ is module
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`torch.jit", DeprecationWarning)
        scripted = torch.jit.load(str(path))
    out = scripted(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(out, before, rtol=1e-5, atol=1e-5)  # no dropout
    np.testing.assert_array_equal(model.predict(X), before)


def test_export_errors(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        to_torchscript(TAAFRegressor(), tmp_path / "model.pt")
    with pytest.raises(TypeError, match="fitted sktaaf network estimator"):
        to_onnx(object(), tmp_path / "model.onnx")
    X, y = _data()
    blocks = TargetBlockRegressor(TAAFRegressor(**SETTINGS), n_blocks=2).fit(X, y)
    with pytest.raises(TypeError, match="no single network"):
        to_torchscript(blocks, tmp_path / "model.pt")
    model = TAAFRegressor(**SETTINGS).fit(X, y)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        to_torchscript(model, tmp_path / "absent" / "model.pt")
    with pytest.raises(ValueError, match="dynamo must be"):
        to_onnx(model, tmp_path / "model.onnx", dynamo="yes")


@pytest.mark.parametrize("opset_version", ["x", 17.0, True, 0])
def test_a_bad_opset_version_is_named(fitted, tmp_path, opset_version):
    model, _ = fitted
    with pytest.raises(
        ValueError, match=f"opset_version must be .* got {opset_version!r}"
    ):
        to_onnx(model, tmp_path / "m.onnx", opset_version=opset_version)
    assert not list(tmp_path.iterdir())


def test_an_export_to_a_folder_names_it_before_any_work(fitted, tmp_path):
    model, _ = fitted
    for export in (to_torchscript, to_onnx):
        with pytest.raises(
            IsADirectoryError, match="Cannot export to .*it is a folder"
        ):
            export(model, tmp_path)
