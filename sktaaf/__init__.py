"""sktaaf: deep-learning gene-expression inference as scikit-learn estimators.

``TAAFRegressor`` and ``DGEXRegressor`` infer target genes from landmark genes
with the networks of TAAF-D-GEX and D-GEX, trained through skorch.
"""

from ._dgex import DGEXRegressor
from ._taaf import TAAFRegressor

__version__ = "0.1.0.dev0"

__all__ = ["DGEXRegressor", "TAAFRegressor", "__version__"]
