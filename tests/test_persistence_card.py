"""Tests of sktaaf._persistence._card: what a fitted model is, as JSON-able data."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SHORT, make_data
from sklearn.exceptions import NotFittedError

import sktaaf
from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf._persistence._card import WELL_INFERRED_R, model_card
from sktaaf.datasets._inference import DEFAULT_R_THRESHOLD


@pytest.fixture(scope="module")
def frames():
    X, y = make_data(n_samples=120, n_targets=7, random_state=2)
    X = pd.DataFrame(X, columns=[f"LM{i}" for i in range(X.shape[1])])
    return X, pd.DataFrame(y, columns=[f"T{i}" for i in range(y.shape[1])])


def test_card_of_a_fitted_and_a_loaded_model(frames, tmp_path):
    X, y = frames
    model = TAAFRegressor(**SHORT).fit(X, y)
    card = model_card(model)
    assert json.loads(json.dumps(card, allow_nan=False)) == card
    assert card["estimator"] == "TAAFRegressor"
    assert card["params"]["hidden_layer_sizes"] == [16]
    assert card["params"]["random_state"] == 0
    assert card["landmarks"] == {
        "count": 12,
        "named": True,
        "first_ids": ["LM0", "LM1", "LM2", "LM3", "LM4"],
    }
    assert card["targets"]["count"] == 7 and card["targets"]["first_ids"][0] == "T0"
    training = card["training"]
    assert (training["n_samples"], training["n_features"], training["n_outputs"]) == (
        120,
        12,
        7,
    )
    [run] = training["networks"]
    assert run["best_epoch"] == model.best_epoch_ and run["n_epochs"] == 4
    assert run["valid_loss"] == pytest.approx(
        min(model.history_[:, "valid_loss"]), rel=1e-12
    )
    validation = card["validation"]
    assert validation["n_samples"] == 12 and validation["n_targets"] == 7
    r = model.target_scores_["r"]
    assert validation["r"]["mean"] == pytest.approx(r.mean())
    assert validation["n_well_inferred"] == int((r >= WELL_INFERRED_R).sum())
    assert WELL_INFERRED_R == DEFAULT_R_THRESHOLD
    assert card["versions"]["sktaaf"] == sktaaf.__version__
    assert card["versions"]["torch"] == torch.__version__
    path = tmp_path / "model.pt"
    model.save(path)
    loaded = TAAFRegressor.load(path)
    assert loaded.n_samples_fit_ == 120
    assert model_card(loaded) == card


def test_card_without_names_or_scores():
    X, y = make_data(n_samples=60)
    model = DGEXRegressor(**{**SHORT, "early_stopping": False}).fit(X, y)
    card = model_card(model)
    assert card["landmarks"] == {"count": 12, "named": False, "first_ids": None}
    assert card["validation"] is None
    assert card["training"]["networks"][0]["valid_loss"] is None
    json.dumps(card, allow_nan=False)


def test_card_of_target_blocks(frames):
    X, y = frames
    model = TargetBlockRegressor(TAAFRegressor(**SHORT), n_blocks=3).fit(X, y)
    card = model_card(model)
    json.dumps(card, allow_nan=False)
    assert card["params"]["estimator"]["class"] == "TAAFRegressor"
    assert card["params"]["n_blocks"] == 3
    assert len(card["training"]["networks"]) == 3
    assert card["training"]["n_samples"] == 120
    assert card["validation"]["n_targets"] == 7
    assert card["standardize"] == model.estimator.standardize


def test_unfitted_is_refused():
    with pytest.raises(NotFittedError):
        model_card(TAAFRegressor())


def test_undefined_r_counts(frames):
    X, y = frames
    y = y.copy()
    y["T6"] = 1.0
    card = model_card(TAAFRegressor(**SHORT).fit(X, y))
    assert card["validation"]["n_targets_r_undefined"] == 1
    assert np.isfinite(card["validation"]["r"]["mean"])
