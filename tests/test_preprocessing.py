"""QuantileNormalizer and drop_near_duplicates."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktaaf import preprocessing
from sktaaf.preprocessing import QuantileNormalizer, drop_near_duplicates

# Checks expected to fail, with the reason. The goal is none.
EXPECTED_FAILED_CHECKS: dict = {}


@parametrize_with_checks(
    [QuantileNormalizer()],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


# ------------------------------------------------------- QuantileNormalizer
def naive_quantile_normalize(X, reference):
    """One sample and one distinct value at a time: the documented rule."""
    out = np.empty_like(X, dtype=np.float64)
    for row, values in enumerate(X):
        ordered = np.sort(values)
        for value in np.unique(values):
            first = np.searchsorted(ordered, value, side="left")
            last = np.searchsorted(ordered, value, side="right")
            out[row, values == value] = reference[first:last].mean()
    return out


@pytest.fixture(scope="module")
def profiles():
    rng = np.random.RandomState(0)
    return rng.lognormal(mean=2.0, size=(40, 25))


def test_reference_is_mean_of_sorted_profiles(profiles):
    normalizer = QuantileNormalizer().fit(profiles)
    np.testing.assert_allclose(
        normalizer.reference_, np.sort(profiles, axis=1).mean(axis=0)
    )
    assert normalizer.reference_.dtype == np.float64
    assert np.all(np.diff(normalizer.reference_) >= 0)


def test_fit_transform_gives_every_profile_the_reference(profiles):
    normalizer = QuantileNormalizer()
    Xt = normalizer.fit_transform(profiles)
    np.testing.assert_allclose(
        np.sort(Xt, axis=1), np.tile(normalizer.reference_, (len(Xt), 1))
    )
    # Ranks within each profile are unchanged.
    np.testing.assert_array_equal(np.argsort(Xt, axis=1), np.argsort(profiles, axis=1))


def test_new_samples_are_mapped_onto_the_training_reference(profiles):
    normalizer = QuantileNormalizer().fit(profiles[:30])
    new = profiles[30:] * 7.0 + 3.0  # a monotone change leaves ranks alone
    np.testing.assert_allclose(
        normalizer.transform(new), normalizer.transform(profiles[30:])
    )


def test_ties_get_the_mean_reference_over_their_ranks():
    rng = np.random.RandomState(1)
    X = rng.randint(0, 4, size=(30, 12)).astype(np.float64)  # many ties
    X[0] = 2.0  # a constant profile
    normalizer = QuantileNormalizer().fit(rng.normal(size=(50, 12)))
    Xt = normalizer.transform(X)
    # A reference of normal values: some near zero, hence the absolute tolerance.
    np.testing.assert_allclose(
        Xt, naive_quantile_normalize(X, normalizer.reference_), atol=1e-12
    )
    np.testing.assert_allclose(Xt[0], normalizer.reference_.mean(), atol=1e-12)
    # The mean of every profile is the reference's.
    np.testing.assert_allclose(
        Xt.mean(axis=1), normalizer.reference_.mean(), atol=1e-12
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(profiles, dtype):
    X = profiles.astype(dtype)
    Xt = QuantileNormalizer().fit(X).transform(X)
    assert Xt.dtype == dtype
    np.testing.assert_allclose(
        Xt, QuantileNormalizer().fit_transform(profiles), rtol=1e-5
    )


def test_chunked_transform_matches_one_chunk(profiles, monkeypatch):
    X = np.round(profiles, 0)  # with ties
    expected = QuantileNormalizer().fit(X).transform(X)
    monkeypatch.setattr(preprocessing, "_QN_CHUNK_ELEMENTS", 60)  # 2 rows a chunk
    normalizer = QuantileNormalizer().fit(X)
    np.testing.assert_allclose(normalizer.transform(X), expected)


def test_pipeline_and_feature_names(profiles):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(profiles, columns=[f"g{i}" for i in range(25)])
    normalizer = QuantileNormalizer().fit(frame)
    assert list(normalizer.get_feature_names_out()) == list(frame.columns)
    pipe = make_pipeline(QuantileNormalizer(), StandardScaler(), Ridge())
    pipe.fit(frame.iloc[:, :20], frame.iloc[:, 20:])
    assert pipe.predict(frame.iloc[:5, :20]).shape == (5, 5)
    assert list(pipe[:-1].get_feature_names_out()) == list(frame.columns[:20])


# ---------------------------------------------------- drop_near_duplicates
def brute_force_kept(X, threshold, compare_with):
    distances = cdist(X.astype(np.float64), X.astype(np.float64))
    kept = []
    for i in range(len(X)):
        earlier = kept if compare_with == "kept" else range(i)
        if not any(distances[i, j] < threshold for j in earlier):
            kept.append(i)
    return np.array(kept, dtype=np.intp)


def with_near_duplicates(n_samples=150, n_features=20, seed=0, dtype=np.float64):
    """Clusters of copies a little apart, far from the origin (float32 rounding)."""
    rng = np.random.RandomState(seed)
    centres = 100 + 3 * rng.normal(size=(n_samples // 3, n_features))
    X = centres[rng.randint(len(centres), size=n_samples)]
    X = X + rng.choice([0.0, 0.05, 0.2], size=(n_samples, 1)) * rng.normal(size=X.shape)
    return X.astype(dtype)


@pytest.mark.parametrize("compare_with", ["kept", "all"])
@pytest.mark.parametrize("block_size", [1, 7, 64, 2048])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_brute_force(compare_with, block_size, dtype):
    X = with_near_duplicates(dtype=dtype)
    kept = drop_near_duplicates(
        X, threshold=1.0, block_size=block_size, compare_with=compare_with
    )
    expected = brute_force_kept(X, 1.0, compare_with)
    assert 10 < len(expected) < len(X)
    np.testing.assert_array_equal(kept, expected)
    assert kept.dtype == np.intp


def test_kept_rule_guarantees():
    X = with_near_duplicates(seed=3)
    kept = drop_near_duplicates(X, threshold=1.5, block_size=16)
    distances = cdist(X, X)
    kept_distances = distances[np.ix_(kept, kept)]
    np.fill_diagonal(kept_distances, np.inf)
    assert kept_distances.min() >= 1.5  # no two kept samples are close
    for dropped in np.setdiff1d(np.arange(len(X)), kept):
        earlier_kept = kept[kept < dropped]
        assert distances[dropped, earlier_kept].min() < 1.5
    # "all" compares with more samples, so it keeps a subset.
    assert set(drop_near_duplicates(X, 1.5, compare_with="all")) <= set(kept)


def test_tiny_threshold_is_exact_despite_float32_rounding():
    rng = np.random.RandomState(0)
    X = (1000 + rng.normal(size=(50, 300))).astype(np.float32)
    X[10] = X[3]  # exact duplicate
    X[20] = X[4]
    X[20, 0] += 0.0625  # 0.0625 apart, exactly representable
    assert list(np.setdiff1d(np.arange(50), drop_near_duplicates(X, 1e-3))) == [10]
    dropped = np.setdiff1d(np.arange(50), drop_near_duplicates(X, 0.07))
    assert list(dropped) == [10, 20]


def test_memory_map_input(tmp_path):
    X = with_near_duplicates(dtype=np.float32)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    np.testing.assert_array_equal(
        drop_near_duplicates(mapped, block_size=32), drop_near_duplicates(X)
    )


def test_edge_cases():
    assert drop_near_duplicates(np.zeros((0, 3))).shape == (0,)
    np.testing.assert_array_equal(drop_near_duplicates(np.ones((1, 3))), [0])
    np.testing.assert_array_equal(drop_near_duplicates(np.ones((4, 3))), [0])
    np.testing.assert_array_equal(drop_near_duplicates([[0], [0.5], [5]]), [0, 2])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold": 0},
        {"threshold": -1.0},
        {"block_size": 0},
        {"compare_with": "first"},
    ],
)
def test_invalid_parameters(kwargs):
    with pytest.raises(InvalidParameterError):
        drop_near_duplicates(np.ones((3, 2)), **kwargs)


def test_non_finite_values_are_an_error():
    X = np.ones((5, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        drop_near_duplicates(X)
