"""Fuzzing of sktaaf.metrics: the per-gene metrics and the win rate (see
``_fuzzing.py`` for the property and the strategies)."""

from __future__ import annotations

import numpy as np
import pytest
from _fuzzing import _EMPTY, _ROWS, arrays_like, attempt, fuzz
from hypothesis import given
from hypothesis import strategies as st

from sktaaf.metrics import (
    mean_per_gene_pearson,
    per_gene_mae,
    per_gene_pearson,
    win_rate,
)

pytestmark = [
    # Expected along the way: feature-name and data-conversion warnings, the
    # divergence warning, numpy's overflow and complex-cast warnings.
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
]


# =================================================================== metrics
@fuzz(max_examples=150)
@given(
    y_true=arrays_like(columns=st.integers(0, 4), ndims=st.sampled_from([2, 2, 1, 3])),
    data=st.data(),
)
def test_per_gene_metrics_on_fuzzed_input(y_true, data):
    # y_pred: the same shape (mostly), its own dtype, values and container.
    same = data.draw(st.sampled_from([True, True, True, False]), "same shape")
    shape = y_true.shape if same and y_true.shape else None
    y_pred = data.draw(
        arrays_like(
            rows=st.just(shape[0]) if shape else _ROWS,
            columns=st.just(shape[1])
            if shape and len(shape) > 1
            else st.integers(0, 4),
            ndims=st.just(len(shape)) if shape else st.sampled_from([2, 1]),
            empty=st.just(False) if shape else _EMPTY,
        ),
        "y_pred",
    )
    n_targets = y_true.shape[1] if len(y_true.shape) == 2 else 1
    moderate = y_true.moderate and y_pred.moderate

    ok, mae = attempt(per_gene_mae, y_true.value, y_pred.value)
    if ok:
        assert mae.shape == (n_targets,) and mae.dtype == np.float64
        assert not np.isnan(mae).any() and (mae >= 0).all()
        if moderate:
            assert np.isfinite(mae).all()
    ok, r = attempt(per_gene_pearson, y_true.value, y_pred.value)
    if ok:
        assert r.shape == (n_targets,) and r.dtype == np.float64
        defined = r[~np.isnan(r)]
        assert ((-1 <= defined) & (defined <= 1)).all()
        if moderate:
            # NaN only for the genes constant in y_true or y_pred.
            true = y_true.numbers.reshape(y_true.shape[0], -1)
            pred = y_pred.numbers.reshape(y_pred.shape[0], -1)
            varies = (true != true[:1]).any(axis=0) & (pred != pred[:1]).any(axis=0)
            assert not np.isnan(r[varies]).any(), f"NaN r for varying genes: {r}"
    ok, mean_r = attempt(mean_per_gene_pearson, y_true.value, y_pred.value)
    if ok:
        assert isinstance(mean_r, float)
        assert np.isnan(mean_r) or -1 <= mean_r <= 1


@pytest.mark.parametrize("scale", [1e-200, 1e-160, 1e150, 1e200, 1e300])
def test_per_gene_pearson_is_scale_invariant(scale):
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.normal(size=(2, 20, 3))
    expected = per_gene_pearson(y_true, y_pred)
    np.testing.assert_allclose(
        per_gene_pearson(scale * y_true, scale * y_pred),
        expected,
        rtol=1e-12,
        atol=1e-12,
    )


@fuzz(max_examples=80)
@given(
    errors_a=arrays_like(ndims=st.sampled_from([1, 1, 1, 2, 0])),
    data=st.data(),
)
def test_win_rate_on_fuzzed_input(errors_a, data):
    length = errors_a.shape[0] if len(errors_a.shape) == 1 else None
    errors_b = data.draw(
        arrays_like(
            rows=st.just(length) if length is not None else _ROWS,
            ndims=st.sampled_from([1, 1, 1, 2]),
            empty=st.just(False) if length is not None else _EMPTY,
        ),
        "errors_b",
    )
    ok, rate = attempt(win_rate, errors_a.value, errors_b.value)
    if ok:
        assert isinstance(rate, float)
        assert np.isnan(rate) or 0 <= rate <= 1
