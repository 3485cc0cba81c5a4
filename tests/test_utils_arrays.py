"""Tests of sktaaf._utils._arrays, the array helpers shared by several modules."""

import numpy as np
import pytest
import sklearn

from sktaaf._utils._arrays import block_size, gene_names, is_constant
from sktaaf.datasets import make_expression


def test_is_constant_is_exact_per_column():
    values = np.array([[1.0, 1.0, 0.0], [1.0, 1.0 + 1e-7, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(is_constant(values), [True, False, True])


@pytest.mark.parametrize(
    "row_bytes, n_rows, max_mib, expected",
    [(2**20, 100, 4, 4), (2**30, 100, 4, 1), (1, 10, 4, 10)],
)
def test_block_size_bounds(row_bytes, n_rows, max_mib, expected):
    assert block_size(row_bytes, n_rows, max_mib) == expected


def test_block_size_follows_working_memory():
    with sklearn.config_context(working_memory=2):
        assert block_size(2**20, 100, 4) == 2


def test_gene_names_match_the_synthetic_data():
    X, y = make_expression(
        n_samples=4, n_landmarks=3, n_targets=12_345, as_frame=True, random_state=0
    )
    assert list(X.columns) == gene_names("LM", 3) == ["LM0001", "LM0002", "LM0003"]
    assert list(y.columns) == gene_names("TG", 12_345)
    assert gene_names("TG", 12_345)[-1] == "TG12345"
