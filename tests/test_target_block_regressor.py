"""TargetBlockRegressor: one network per block of target genes."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import CHECK_PARAMS, FAST
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktaaf import DGEXRegressor, TAAFRegressor, TargetBlockRegressor
from sktaaf.datasets import make_expression


@parametrize_with_checks(
    [
        TargetBlockRegressor(TAAFRegressor(**CHECK_PARAMS), n_blocks=2),
        TargetBlockRegressor(LinearRegression(), n_blocks=3),
    ],
    # As for the networks (tests/test_estimators_common.py): mini-batches of a
    # weight of 2 and of a repeated row differ.
    expected_failed_checks=lambda estimator: (
        {
            f"check_sample_weight_equivalence_on_{kind}_data": "mini-batch training"
            for kind in ("dense", "sparse")
        }
        if isinstance(estimator.estimator, TAAFRegressor)
        else {}
    ),
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_blocks_reassemble_in_target_order():
    X, y = make_expression(150, n_landmarks=10, n_targets=7, random_state=0)
    blocked = TargetBlockRegressor(LinearRegression(), n_blocks=3).fit(X, y)
    assert [block.tolist() for block in blocked.blocks_] == [[0, 1, 2], [3, 4], [5, 6]]
    # Two separate least-squares fits (float32, different BLAS calls): equal to
    # rounding, with an absolute tolerance for predictions near zero.
    np.testing.assert_allclose(
        blocked.predict(X),
        LinearRegression().fit(X, y).predict(X),
        rtol=1e-4,
        atol=1e-4 * np.abs(y).max(),
    )


def test_each_block_is_its_own_network(data):
    X, y = data
    blocked = TargetBlockRegressor(TAAFRegressor(**FAST), n_blocks=2).fit(X, y)
    assert [est.n_outputs_ for est in blocked.estimators_] == [2, 1]
    alone = TAAFRegressor(**FAST).fit(X, y[:, 2:])
    np.testing.assert_array_equal(blocked.predict(X)[:, 2:], alone.predict(X))


def test_more_blocks_than_targets_and_1d_target(data):
    X, y = data
    blocked = TargetBlockRegressor(LinearRegression(), n_blocks=5).fit(X, y[:, 0])
    assert len(blocked.estimators_) == 1
    assert blocked.predict(X).shape == (len(X),)


def test_on_disk_targets_stream_per_block(data, tmp_path):
    X, y = data
    np.save(tmp_path / "y.npy", y)
    y_disk = np.load(tmp_path / "y.npy", mmap_mode="r")
    streamed = TargetBlockRegressor(TAAFRegressor(**FAST), n_blocks=2).fit(X, y_disk)
    in_memory = TargetBlockRegressor(TAAFRegressor(**FAST), n_blocks=2).fit(X, y)
    np.testing.assert_array_equal(streamed.predict(X), in_memory.predict(X))


def test_grid_search_over_blocks_and_network(data):
    X, y = data
    search = GridSearchCV(
        TargetBlockRegressor(DGEXRegressor(**{**FAST, "max_epochs": 5})),
        {"n_blocks": [1, 3], "estimator__hidden_layer_sizes": [(8,), (16,)]},
        cv=2,
    ).fit(X, y)
    assert set(search.best_params_) == {"n_blocks", "estimator__hidden_layer_sizes"}


def test_invalid_parameters(data):
    X, y = data
    with pytest.raises(ValueError, match="n_blocks"):
        TargetBlockRegressor(LinearRegression(), n_blocks=0).fit(X, y)
    with pytest.raises(ValueError, match="estimator"):
        TargetBlockRegressor("not an estimator").fit(X, y)


def test_invalid_targets_are_named():
    X = np.zeros((20, 3))
    with pytest.raises(ValueError, match="0 feature"):
        TargetBlockRegressor(LinearRegression()).fit(X, np.zeros((20, 0)))
    # sparse y goes to the block estimators, which say whether they take it
    with pytest.raises(TypeError, match="Sparse data was passed"):
        TargetBlockRegressor(LinearRegression()).fit(X, sp.csr_matrix(np.eye(20)))
    with pytest.raises(ValueError, match="dim 3"):
        TargetBlockRegressor(LinearRegression()).fit(X, np.zeros((20, 2, 2)))
