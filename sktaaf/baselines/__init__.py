"""Baselines for gene-expression inference: KNN-GE and D-GEX's comparison set.

``KNNGERegressor`` is D-GEX's gene-space nearest-neighbour method;
``dgex_baselines`` returns it together with scikit-learn's linear and
sample-space nearest-neighbour regressors, unfitted.
"""

from ._comparison import dgex_baselines
from ._knnge import KNNGERegressor

__all__ = ["KNNGERegressor", "dgex_baselines"]
