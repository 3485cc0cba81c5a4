"""scikit-learn's common estimator checks, with small but honest settings."""

from conftest import CHECK_PARAMS
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktaaf import DGEXRegressor, TAAFRegressor

# Checks expected to fail, with the reason. The goal is none.
EXPECTED_FAILED_CHECKS: dict = {
    # As for scikit-learn's MLPRegressor: mini-batch training draws batches of
    # rows, so a sample of weight 2 and the same sample twice give different
    # batches, hence different weights after training. The weighting itself is
    # tested in tests/test_estimators_sample_weight.py.
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training: a weight of 2 and a repeated row draw different batches"
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "mini-batch training: a weight of 2 and a repeated row draw different batches"
    ),
}


@parametrize_with_checks(
    [TAAFRegressor(**CHECK_PARAMS), DGEXRegressor(**CHECK_PARAMS)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
