"""sktaaf: deep-learning gene-expression inference as scikit-learn estimators.

``TAAFRegressor`` and ``DGEXRegressor`` infer target genes from landmark genes
with the networks of TAAF-D-GEX and D-GEX, trained through skorch.
"""

from ._blocks import TargetBlockRegressor
from ._dgex import DGEXRegressor
from ._taaf import REFERENCE_SETTINGS, TAAFRegressor

#: The version of sktaaf (a PEP 440 string); saved in every model file.
__version__ = "0.1.0.dev0"

__all__ = [
    "REFERENCE_SETTINGS",
    "DGEXRegressor",
    "TAAFRegressor",
    "TargetBlockRegressor",
    "__version__",
]
