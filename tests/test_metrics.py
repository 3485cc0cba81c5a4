"""Per-gene metrics, win rate and scorers."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from scipy.stats import pearsonr
from sklearn import config_context
from sklearn.linear_model import Ridge
from sklearn.metrics import get_scorer, mean_absolute_error
from sklearn.model_selection import GridSearchCV, KFold

from sktaaf.metrics import (
    dgex_scorers,
    mean_per_gene_pearson,
    per_gene_mae,
    per_gene_pearson,
    per_gene_pearson_scorer,
    win_rate,
)


@pytest.fixture(scope="module")
def targets():
    rng = np.random.RandomState(0)
    y_true = rng.normal(size=(50, 7))
    y_pred = 0.5 * y_true + rng.normal(size=(50, 7))
    return y_true, y_pred


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_per_gene_mae_matches_sklearn(targets):
    y_true, y_pred = targets
    expected = mean_absolute_error(y_true, y_pred, multioutput="raw_values")
    assert_allclose(per_gene_mae(y_true, y_pred), expected, rtol=1e-12)
    mae32 = per_gene_mae(y_true.astype(np.float32), y_pred.astype(np.float32))
    assert mae32.dtype == np.float64
    assert_allclose(mae32, expected, rtol=1e-6)


def test_per_gene_pearson_matches_scipy_and_numpy(targets):
    y_true, y_pred = targets
    r = per_gene_pearson(y_true, y_pred)
    assert r.shape == (7,)
    expected = [pearsonr(y_true[:, j], y_pred[:, j])[0] for j in range(7)]
    assert_allclose(r, expected, rtol=1e-12, atol=1e-12)
    corrcoef = np.corrcoef(y_true, y_pred, rowvar=False)
    assert_allclose(r, np.diag(corrcoef[:7, 7:]), rtol=1e-12, atol=1e-12)
    r32 = per_gene_pearson(y_true.astype(np.float32), y_pred.astype(np.float32))
    assert_allclose(r32, expected, rtol=1e-5, atol=1e-6)


def test_column_blocks_give_the_same_values(targets):
    y_true, y_pred = targets
    with config_context(working_memory=0.004):  # a couple of columns per block
        blocked = per_gene_pearson(y_true, y_pred), per_gene_mae(y_true, y_pred)
    # Other block shapes may sum in another order (SIMD width): equal to rounding.
    assert_allclose(
        blocked[0], per_gene_pearson(y_true, y_pred), rtol=1e-12, atol=1e-12
    )
    assert_allclose(blocked[1], per_gene_mae(y_true, y_pred), rtol=1e-12, atol=1e-12)


def test_sparse_truth_is_densified_one_column_block_at_a_time(
    targets, monkeypatch, no_warnings
):
    """Single-cell truth comes sparse (a SciPy matrix, or a DataFrame of sparse
    columns): the same values, made dense a block of columns at a time."""
    y_true, y_pred = targets
    y_true = np.where(y_true > 0.3, y_true, 0.0)  # mostly zeros
    y_true[:, 2] = 0.0  # an all-zero gene: r undefined
    expected = per_gene_pearson(y_true, y_pred), per_gene_mae(y_true, y_pred)
    widths = []
    toarray = sp.csc_matrix.toarray

    def recording(self, *args, **kwargs):
        widths.append(self.shape[1])
        return toarray(self, *args, **kwargs)

    monkeypatch.setattr(sp.csc_matrix, "toarray", recording)
    frame = pd.DataFrame.sparse.from_spmatrix(
        sp.csr_matrix(y_true), columns=[f"g{j}" for j in range(7)]
    )
    for truth in (sp.csr_matrix(y_true), sp.csc_matrix(y_true), frame):
        with config_context(working_memory=0.004):  # a couple of columns
            r, mae = per_gene_pearson(truth, y_pred), per_gene_mae(truth, y_pred)
        assert_allclose(r, expected[0], rtol=1e-12, atol=1e-12)
        assert_allclose(mae, expected[1], rtol=1e-12, atol=1e-12)
    assert list(r.index) == list(frame.columns)  # labelled by the genes
    assert np.isnan(r["g2"])
    assert widths and max(widths) < 7
    assert mean_per_gene_pearson(sp.csr_matrix(y_true), y_pred) == pytest.approx(
        np.nanmean(expected[0])
    )


def test_constant_columns_give_nan_silently(targets, no_warnings):
    y_true, y_pred = targets[0].copy(), targets[1].copy()
    y_true[:, 1] = 0.1  # centring 0.1s leaves rounding noise, not zeros
    y_pred[:, 4] = -3.0
    r = per_gene_pearson(y_true, y_pred)
    assert np.isnan(r[[1, 4]]).all()
    assert np.isfinite(np.delete(r, [1, 4])).all()
    expected = np.nanmean(np.delete(r, [1, 4]))
    assert mean_per_gene_pearson(y_true, y_pred) == pytest.approx(expected)


def test_no_defined_correlation(no_warnings):
    assert np.isnan(per_gene_pearson([[1.0, 2.0]], [[3.0, 4.0]])).all()  # 1 sample
    assert np.isnan(mean_per_gene_pearson(np.ones((5, 3)), np.arange(15).reshape(5, 3)))


def test_correlation_stays_within_bounds():
    y = np.array([1e-3, 2e-3, 3e-3 + 1e-18])
    r = per_gene_pearson(y, 7 * y + 1)
    assert -1 <= r[0] <= 1
    assert r[0] == pytest.approx(1)


def test_1d_input(targets):
    y_true, y_pred = targets
    r = per_gene_pearson(y_true[:, 0], y_pred[:, 0])
    assert r.shape == (1,)
    assert r[0] == pytest.approx(
        pearsonr(y_true[:, 0], y_pred[:, 0])[0], rel=1e-12, abs=1e-12
    )
    assert per_gene_mae(y_true[:, 0], y_pred[:, 0]).shape == (1,)
    # A 1-D y_true against a single-column y_pred.
    assert_allclose(per_gene_pearson(y_true[:, 0], y_pred[:, :1]), r)
    assert isinstance(mean_per_gene_pearson(y_true[:, 0], y_pred[:, 0]), float)


def test_pandas_input(targets):
    y_true, y_pred = targets
    frame = pd.DataFrame(y_true, columns=[f"gene{j}" for j in range(7)])
    assert_allclose(per_gene_pearson(frame, y_pred), per_gene_pearson(y_true, y_pred))
    assert_allclose(per_gene_mae(frame, y_pred), per_gene_mae(y_true, y_pred))
    series = pd.Series(y_true[:, 2])
    assert_allclose(per_gene_mae(series, y_pred[:, 2]), per_gene_mae(y_true, y_pred)[2])


@pytest.mark.parametrize("metric", [per_gene_mae, per_gene_pearson])
def test_shape_mismatch(metric, targets):
    y_true, y_pred = targets
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        metric(y_true, y_pred[:-1])
    with pytest.raises(ValueError, match="same number of target genes.*7 and 6"):
        metric(y_true, y_pred[:, :6])
    y_nan = y_pred.copy()
    y_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metric(y_true, y_nan)


def test_win_rate():
    a = [0.1, 0.2, 0.3, 0.4]
    b = [0.2, 0.2, 0.1, 0.5]
    assert win_rate(a, b) == 0.5
    assert win_rate(b, a) == 0.25  # the tie at 0.2 is no win for either
    assert win_rate(a, b, greater_is_better=True) == 0.25
    assert win_rate(np.array(a), pd.Series(b)) == 0.5


def test_win_rate_ignores_nan(no_warnings):
    assert win_rate([0.1, np.nan, 0.5], [0.2, 0.1, np.nan]) == 1.0
    assert np.isnan(win_rate([np.nan], [1.0]))


def test_win_rate_on_per_gene_errors(targets):
    y_true, y_pred = targets
    better = y_true + 0.01 * (y_pred - y_true)
    assert win_rate(per_gene_mae(y_true, better), per_gene_mae(y_true, y_pred)) == 1
    r_better, r = per_gene_pearson(y_true, better), per_gene_pearson(y_true, y_pred)
    assert win_rate(r_better, r, greater_is_better=True) == 1


def test_win_rate_validation():
    with pytest.raises(ValueError, match=r"same genes; got shapes \(3,\) and \(2,\)"):
        win_rate([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="errors_a must be 1-D"):
        win_rate(np.zeros((2, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="infinity"):
        win_rate([np.inf], [1.0])


def test_pearson_scorer_in_grid_search(targets):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 6))
    y = X[:, :3] @ rng.normal(size=(3, 4)) + rng.normal(size=(60, 4))
    cv = KFold(3)
    search = GridSearchCV(
        Ridge(), {"alpha": [0.1, 1e4]}, scoring=per_gene_pearson_scorer, cv=cv
    ).fit(X, y)
    assert search.best_params_ == {"alpha": 0.1}  # greater is better
    train, test = next(cv.split(X))
    model = Ridge(alpha=1e4).fit(X[train], y[train])
    expected = mean_per_gene_pearson(y[test], model.predict(X[test]))
    assert search.cv_results_["split0_test_score"][1] == pytest.approx(expected)
    assert per_gene_pearson_scorer(model, X, y) == pytest.approx(
        mean_per_gene_pearson(y, model.predict(X))
    )


def test_dgex_scorers(targets):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 5))
    y = X[:, :2] + 0.1 * rng.normal(size=(40, 2))
    model = Ridge().fit(X, y)
    scorers = dgex_scorers()
    assert set(scorers) == {"neg_mean_absolute_error", "mean_per_gene_pearson"}
    assert scorers["mean_per_gene_pearson"] is per_gene_pearson_scorer
    assert scorers["neg_mean_absolute_error"](model, X, y) == pytest.approx(
        -per_gene_mae(y, model.predict(X)).mean()
    )
    assert get_scorer("neg_mean_absolute_error")(model, X, y) == pytest.approx(
        scorers["neg_mean_absolute_error"](model, X, y)
    )
    assert dgex_scorers() is not scorers  # a new dict at every call
