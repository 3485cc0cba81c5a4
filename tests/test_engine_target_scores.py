"""Tests of ``target_scores_``: each target gene's validation MAE and r, kept
after fit, saved in model files, and shipped as row metadata and a plot."""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from conftest import ESTIMATORS, SHORT, make_data
from sklearn.utils import check_random_state

import sktaaf._engine._state
from sktaaf import TAAFRegressor, TargetBlockRegressor
from sktaaf.datasets import inference_row_metadata
from sktaaf.metrics import per_gene_mae, per_gene_pearson

GENES = ["G1", "G2", "G3", "FLAT"]


@pytest.fixture(scope="module")
def frames():
    X, y = make_data(n_samples=200, n_targets=4, random_state=1)
    y[:, 3] = 2.5  # a constant gene: r undefined
    X = pd.DataFrame(X, columns=[f"L{i}" for i in range(X.shape[1])])
    return X, pd.DataFrame(y, columns=GENES)


def _validation_rows(n_samples, random_state, fraction=0.1):
    """The rows early stopping holds out, drawn as ``fit`` draws them: the
    first use of the estimator's random state."""
    rng = check_random_state(random_state)
    order = rng.permutation(n_samples)
    return np.sort(order[: int(np.ceil(fraction * n_samples))])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_scores_agree_with_an_independent_computation(Estimator, frames):
    X, y = frames
    model = Estimator(**SHORT).fit(X, y)
    scores = model.target_scores_
    assert list(scores.columns) == ["mae", "r"]
    assert list(scores.index) == GENES
    assert scores.attrs == {"source": "validation", "n_samples": 20}
    rows = _validation_rows(len(X), SHORT["random_state"])
    truth, pred = y.iloc[rows], model.predict(X.iloc[rows])
    expected_r = per_gene_pearson(truth, pred)
    np.testing.assert_allclose(scores["r"], expected_r, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(scores["mae"], per_gene_mae(truth, pred), rtol=1e-5)
    assert np.isnan(scores.loc["FLAT", "r"])
    assert scores["r"].mean() == pytest.approx(np.nanmean(expected_r), abs=1e-6)


def test_sample_weight_weighs_the_scores(frames):
    X, y = frames
    weight = np.random.RandomState(0).uniform(0, 2, size=len(X))
    weight[::7] = 0
    model = TAAFRegressor(**SHORT).fit(X, y, sample_weight=weight)
    rows = _validation_rows(len(X), SHORT["random_state"])
    rows = rows[weight[rows] > 0]
    w = weight[rows]
    truth = y.to_numpy()[rows].astype(np.float64)
    pred = model.predict(X.iloc[rows]).astype(np.float64)
    mae = (w @ np.abs(truth - pred)) / w.sum()
    centred_t = truth - (w @ truth) / w.sum()
    centred_p = pred - (w @ pred) / w.sum()
    with np.errstate(invalid="ignore"):  # the constant gene: 0 / 0
        r = (w @ (centred_t * centred_p)) / np.sqrt(
            (w @ centred_t**2) * (w @ centred_p**2)
        )
    scores = model.target_scores_
    assert scores.attrs["n_samples"] == len(rows)
    np.testing.assert_allclose(scores["mae"], mae, rtol=1e-5)
    np.testing.assert_allclose(scores["r"][:3], r[:3], rtol=1e-5, atol=1e-6)


def test_without_early_stopping_there_are_none(frames):
    X, y = frames
    model = TAAFRegressor(**{**SHORT, "early_stopping": False}).fit(X, y)
    assert model.target_scores_ is None
    assert inference_row_metadata(model) is None


def test_unnamed_targets_are_indexed_by_position():
    X, y = make_data(n_samples=80)
    model = TAAFRegressor(**SHORT).fit(X, y)
    assert list(model.target_scores_.index) == [0, 1, 2]
    one = TAAFRegressor(**SHORT).fit(X, y[:, 0])
    assert one.target_scores_.shape == (1, 2)


def test_out_of_core_and_sparse_data_score_alike(frames, tmp_path):
    X, y = (frame.to_numpy() for frame in frames)
    expected = TAAFRegressor(**SHORT).fit(X, y).target_scores_
    X_map = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.float32, X.shape)
    y_map = np.lib.format.open_memmap(tmp_path / "y.npy", "w+", np.float32, y.shape)
    X_map[:], y_map[:] = X, y
    on_disk = TAAFRegressor(**SHORT).fit(X_map, y_map).target_scores_
    pd.testing.assert_frame_equal(on_disk, expected, rtol=1e-5)
    sparse = TAAFRegressor(**SHORT).fit(sp.csr_matrix(X), sp.csr_matrix(y))
    pd.testing.assert_frame_equal(sparse.target_scores_, expected, rtol=1e-5)


def test_scores_survive_save_load_and_pickle(frames, tmp_path):
    X, y = frames
    model = TAAFRegressor(**SHORT).fit(X, y)
    path = tmp_path / "model.pt"
    model.save(path)
    loaded = TAAFRegressor.load(path)
    pd.testing.assert_frame_equal(loaded.target_scores_, model.target_scores_)
    assert loaded.target_scores_.attrs == model.target_scores_.attrs
    copied = pickle.loads(pickle.dumps(model))
    pd.testing.assert_frame_equal(copied.target_scores_, model.target_scores_)
    assert copied.target_scores_.attrs == model.target_scores_.attrs


def _rewrite_metadata(path, change):
    payload = torch.load(path, weights_only=True)
    metadata = json.loads(payload["metadata"])
    change(metadata["fitted"])
    payload["metadata"] = json.dumps(metadata)
    del payload["checksum"]
    payload["checksum"] = sktaaf._engine._state.digest(payload)
    torch.save(payload, path)


def test_older_files_load_without_scores_and_damage_is_refused(frames, tmp_path):
    X, y = frames
    path = tmp_path / "model.pt"
    TAAFRegressor(**SHORT).fit(X, y).save(path)
    _rewrite_metadata(path, lambda fitted: fitted.pop("target_scores_"))
    assert TAAFRegressor.load(path).target_scores_ is None
    TAAFRegressor(**SHORT).fit(X, y).save(path)
    _rewrite_metadata(path, lambda fitted: fitted["target_scores_"]["r"].pop())
    with pytest.raises(ValueError, match="target_scores_"):
        TAAFRegressor.load(path)


def test_warm_start_recomputes_the_scores(frames):
    X, y = frames
    model = TAAFRegressor(**{**SHORT, "warm_start": True}).fit(X, y)
    first = model.target_scores_.copy()
    model.set_params(max_epochs=8).fit(X, y)
    rows = _validation_rows(len(X), SHORT["random_state"])
    expected = per_gene_mae(y.iloc[rows], model.predict(X.iloc[rows]))
    np.testing.assert_allclose(model.target_scores_["mae"], expected, rtol=1e-5)
    assert not np.allclose(first["mae"], model.target_scores_["mae"])


def test_target_blocks_put_the_scores_back_in_order(frames):
    X, y = frames
    model = TargetBlockRegressor(TAAFRegressor(**SHORT), n_blocks=2).fit(X, y)
    scores = model.target_scores_
    assert list(scores.index) == GENES
    parts = [estimator.target_scores_ for estimator in model.estimators_]
    np.testing.assert_array_equal(
        scores["mae"], np.concatenate([part["mae"] for part in parts])
    )
    assert scores.attrs["source"] == "validation"
    no_stop = TAAFRegressor(**{**SHORT, "early_stopping": False})
    assert TargetBlockRegressor(no_stop).fit(X, y).target_scores_ is None


def test_inference_row_metadata(frames):
    X, y = frames
    model = TAAFRegressor(**SHORT).fit(X, y)
    scores = model.target_scores_
    meta = inference_row_metadata(model, r_threshold=0.5)
    assert list(meta.index) == GENES
    assert list(meta.columns) == [
        "pr_inference_r",
        "pr_inference_mae",
        "pr_is_inferred",
        "pr_is_well_inferred",
    ]
    np.testing.assert_array_equal(meta["pr_inference_r"], scores["r"])
    np.testing.assert_array_equal(meta["pr_inference_mae"], scores["mae"])
    assert (meta["pr_is_inferred"] == 1).all()
    expected = (scores["r"] >= 0.5).astype(int).tolist()
    assert meta["pr_is_well_inferred"].tolist() == expected
    assert meta.loc["FLAT", "pr_is_well_inferred"] == 0  # NaN r: not well
    with pytest.raises(ValueError, match="r_threshold"):
        inference_row_metadata(model, r_threshold=1.5)
