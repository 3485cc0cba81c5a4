"""Gene names carried through: target_names_, predict(as_frame=True), model
files and per-gene metrics."""

import json

import numpy as np
import pytest
import torch
from conftest import QUICK
from numpy.testing import assert_array_equal

from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf._engine._state import digest
from sktaaf.metrics import (
    mean_per_gene_pearson,
    per_gene_mae,
    per_gene_pearson,
    win_rate,
)

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def frames():
    rng = np.random.RandomState(0)
    samples = [f"CPC001_A375_{i}" for i in range(40)]
    X = pd.DataFrame(
        rng.normal(size=(40, 5)).astype(np.float32),
        index=samples,
        columns=["PSME1", "ATF1", "RHEB", "FOXO3", "RHOA"],
    )
    y = pd.DataFrame(
        rng.normal(size=(40, 3)).astype(np.float32),
        index=samples,
        columns=["TP53", "MYC", "EGFR"],
    )
    return X, y


@pytest.mark.parametrize("Estimator", [TAAFRegressor, DGEXRegressor])
def test_target_names_from_a_dataframe(Estimator, frames):
    X, y = frames
    model = Estimator(**QUICK).fit(X, y)
    assert_array_equal(model.target_names_, ["TP53", "MYC", "EGFR"])
    assert model.target_names_.dtype == object
    assert_array_equal(model.feature_names_in_, X.columns)
    # as scikit-learn's feature_names_in_: only when names were seen
    model.fit(X.to_numpy(), y.to_numpy())
    assert not hasattr(model, "target_names_")


def test_predict_as_frame(frames):
    X, y = frames
    model = TAAFRegressor(**QUICK).fit(X, y)
    y_pred = model.predict(X, as_frame=True)
    assert isinstance(y_pred, pd.DataFrame)
    assert list(y_pred.columns) == ["TP53", "MYC", "EGFR"]
    assert y_pred.index.equals(X.index)
    assert_array_equal(y_pred.to_numpy(), model.predict(X))
    assert isinstance(model.predict(X), np.ndarray)  # arrays stay the default
    # an array X: a default index; no names seen: integer columns
    unnamed = TAAFRegressor(**QUICK).fit(X.to_numpy(), y.to_numpy())
    frame = unnamed.predict(X.to_numpy(), as_frame=True)
    assert list(frame.columns) == [0, 1, 2]
    assert list(frame.index) == list(range(40))


def test_a_named_series_target(frames):
    X, y = frames
    model = TAAFRegressor(**QUICK).fit(X, y["MYC"])
    assert_array_equal(model.target_names_, ["MYC"])
    y_pred = model.predict(X, as_frame=True)
    assert isinstance(y_pred, pd.Series)
    assert y_pred.name == "MYC"
    assert y_pred.index.equals(X.index)


def test_model_files_keep_the_names(frames, tmp_path):
    X, y = frames
    model = TAAFRegressor(**QUICK).fit(X, y)
    path = tmp_path / "model.pt"
    model.save(path)
    loaded = TAAFRegressor.load(path)
    assert_array_equal(loaded.target_names_, model.target_names_)
    assert list(loaded.predict(X, as_frame=True).columns) == ["TP53", "MYC", "EGFR"]
    TAAFRegressor(**QUICK).fit(X.to_numpy(), y.to_numpy()).save(tmp_path / "un.pt")
    assert not hasattr(TAAFRegressor.load(tmp_path / "un.pt"), "target_names_")


def _rewrite(source, target, change):
    payload = torch.load(source, weights_only=True)
    metadata = json.loads(payload["metadata"])
    change(metadata["fitted"])
    payload["metadata"] = json.dumps(metadata)
    payload.pop("checksum", None)
    payload["checksum"] = digest(payload)
    torch.save(payload, target)
    return target


def test_files_without_target_names_still_load(frames, tmp_path):
    X, y = frames
    TAAFRegressor(**QUICK).fit(X, y).save(tmp_path / "model.pt")
    old = _rewrite(
        tmp_path / "model.pt",
        tmp_path / "old.pt",
        lambda fitted: fitted.pop("target_names_"),
    )
    loaded = TAAFRegressor.load(old)
    assert not hasattr(loaded, "target_names_")


@pytest.mark.parametrize(
    "names", [["TP53", "MYC"], ["TP53", "MYC", 3], "TP53", {"a": 1}]
)
def test_invalid_target_names_in_a_file_are_refused(frames, tmp_path, names):
    X, y = frames
    TAAFRegressor(**QUICK).fit(X, y).save(tmp_path / "model.pt")

    def change(fitted):
        fitted["target_names_"] = names

    bad = _rewrite(tmp_path / "model.pt", tmp_path / "bad.pt", change)
    with pytest.raises(ValueError, match="target_names_"):
        TAAFRegressor.load(bad)


def test_blocks_carry_the_names(frames):
    X, y = frames
    model = TargetBlockRegressor(TAAFRegressor(**QUICK), n_blocks=2).fit(X, y)
    assert_array_equal(model.target_names_, ["TP53", "MYC", "EGFR"])
    y_pred = model.predict(X, as_frame=True)
    assert list(y_pred.columns) == ["TP53", "MYC", "EGFR"]
    assert y_pred.index.equals(X.index)
    model.fit(X, y.to_numpy())
    assert not hasattr(model, "target_names_")


def test_warm_start_refuses_other_target_columns(frames):
    """The network's outputs stay in the order it was trained on: y's columns
    reordered or renamed are refused (as X's are), naming them, and the
    fitted model is left as it was."""
    X, y = frames
    model = TAAFRegressor(**QUICK, warm_start=True).fit(X, y)
    before = model.predict(X)
    reordered = y[["MYC", "TP53", "EGFR"]]
    with pytest.raises(ValueError, match=r"another order \(column 0 is 'MYC', was"):
        model.fit(X, reordered)
    renamed = y.set_axis(["TP53", "MYC", "KRAS"], axis=1)
    with pytest.raises(ValueError, match=r"new: \['KRAS'\]; missing: \['EGFR'\]"):
        model.fit(X, renamed)
    assert list(model.target_names_) == ["TP53", "MYC", "EGFR"]
    assert_array_equal(model.predict(X), before)
    # realigned by the user, training continues; unnamed y keeps the names
    model.fit(X, reordered[model.target_names_])
    model.fit(X, y.to_numpy())
    assert list(model.target_names_) == ["TP53", "MYC", "EGFR"]
    assert model.n_iter_ == 3 * QUICK["max_epochs"]
    # a new fit may have any columns
    model.set_params(warm_start=False).fit(X, reordered)
    assert list(model.target_names_) == ["MYC", "TP53", "EGFR"]


def test_metrics_label_genes_of_a_dataframe(frames):
    _, y = frames
    y_pred = y * 0.5 + 0.1
    for metric in (per_gene_mae, per_gene_pearson):
        values = metric(y, y_pred)
        assert isinstance(values, pd.Series)
        assert list(values.index) == ["TP53", "MYC", "EGFR"]
        plain = metric(y.to_numpy(), y_pred.to_numpy())
        assert isinstance(plain, np.ndarray)
        assert_array_equal(values.to_numpy(), plain)
    # arrays y_pred with a DataFrame y_true: still labelled by y_true
    assert isinstance(per_gene_mae(y, y_pred.to_numpy()), pd.Series)
    assert isinstance(mean_per_gene_pearson(y, y_pred), float)
    errors = per_gene_mae(y, y_pred)
    assert win_rate(errors, errors + 1) == 1.0
