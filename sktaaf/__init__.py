"""sktaaf: deep-learning gene-expression inference as scikit-learn estimators.

``TAAFRegressor`` and ``DGEXRegressor`` infer target genes from landmark genes
with the networks of TAAF-D-GEX and D-GEX, trained through skorch.
"""

from ._blocks import TargetBlockRegressor
from ._dgex import DGEXRegressor
from ._taaf import REFERENCE_SETTINGS, TAAFRegressor
from ._version import __version__

__all__ = [
    "REFERENCE_SETTINGS",
    "DGEXRegressor",
    "TAAFRegressor",
    "TargetBlockRegressor",
    "__version__",
]
