"""Fuzzing of sktaaf.preprocessing's drop_near_duplicates (see ``_fuzzing.py``
for the property and the strategies)."""

from __future__ import annotations

import numpy as np
import pytest
from _fuzzing import (
    _TEXT,
    _bad_int,
    _bad_real,
    _float_dtype,
    _not,
    arrays_like,
    attempt,
    clean_data,
    fuzz,
)
from hypothesis import given
from hypothesis import strategies as st

from sktaaf.preprocessing import drop_near_duplicates

pytestmark = [
    # Expected along the way: feature-name and data-conversion warnings, the
    # divergence warning, numpy's overflow and complex-cast warnings.
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]


# ============================================================= preprocessing
def _check_kept(kept, n_samples):
    assert kept.dtype == np.intp and kept.ndim == 1
    assert np.all(np.diff(kept) > 0), "not ascending and unique"
    assert kept.size == 0 or 0 <= kept[0] and kept[-1] < n_samples
    assert (n_samples == 0) == (kept.size == 0)
    if n_samples:
        assert kept[0] == 0, "the first sample is always kept"


@fuzz(max_examples=120)
@given(
    X=arrays_like(),
    threshold=st.one_of(
        st.sampled_from([1e-3, 0.5, 1.0, 3.0]),
        st.floats(min_value=5e-324, max_value=1.7e308),
    ),
    block_size=st.integers(1, 12),
)
def test_drop_near_duplicates_on_fuzzed_X(X, threshold, block_size):
    ok, kept = attempt(drop_near_duplicates, X.value, threshold, block_size=block_size)
    if ok:
        _check_kept(kept, X.shape[0])
        everything = drop_near_duplicates(
            X.value, threshold, block_size=block_size, compare_with="all"
        )
        _check_kept(everything, X.shape[0])
        if X.moderate and X.shape[0]:  # beyond, squared distances overflow
            # A sample dropped as close to a kept one is close to an earlier one.
            assert set(everything) <= set(kept)
            # Exact duplicates go, whatever the threshold.
            rows = X.numbers.astype(_float_dtype(X.value)).reshape(X.shape[0], -1)
            _, first = np.unique(rows, axis=0, return_index=True)
            assert set(kept) <= set(first)


DND_BAD_PARAMS = {
    "threshold": _bad_real(0, None, low_closed=False, high_closed=False),
    "block_size": _bad_int(1),
    "compare_with": st.one_of(_TEXT.filter(_not({"kept", "all"})), st.integers()),
}


@pytest.mark.parametrize("parameter", DND_BAD_PARAMS)
@fuzz(max_examples=20)
@given(data=st.data())
def test_invalid_drop_near_duplicates_parameter(parameter, data):
    value = data.draw(DND_BAD_PARAMS[parameter], parameter)
    with pytest.raises(ValueError, match=parameter):
        drop_near_duplicates(clean_data()[0], **{parameter: value})


@pytest.mark.parametrize("compare_with", ["kept", "all"])
def test_drop_near_duplicates_with_thresholds_whose_square_is_out_of_range(
    compare_with,
):
    X = np.array([[0.0, 0.0], [1.0, 1.0], [1e10, 0.0], [1.0, 1.0]])
    for threshold in (1.4e154, 1e200, np.finfo(np.float64).max):
        kept = drop_near_duplicates(X, threshold, compare_with=compare_with)
        np.testing.assert_array_equal(kept, [0])
    # A threshold whose square underflows still drops exact duplicates, also
    # those equal to the mean (all zeros once centred).
    for threshold in (1e-170, 5e-324):
        kept = drop_near_duplicates(X, threshold, compare_with=compare_with)
        np.testing.assert_array_equal(kept, [0, 1, 2])
        for dtype in (np.float64, np.float32):
            same = np.ones((3, 2), dtype=dtype)
            kept = drop_near_duplicates(same, threshold, compare_with=compare_with)
            np.testing.assert_array_equal(kept, [0])
