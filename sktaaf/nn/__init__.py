"""PyTorch modules of sktaaf: the TAAF activation, dense blocks and networks.

Nothing here depends on scikit-learn or skorch: these are plain ``torch.nn``
modules, usable in any PyTorch code.
"""

from ._activations import (
    ACTIVATIONS,
    TAAF,
    TAAF_PARAMETERS,
    get_activation,
    taaf_parameters,
)
from ._linear import (
    DEFAULT_RIDGE_ALPHAS,
    LinearPath,
    RidgeStatistics,
    l1_calibration,
    ridge_gcv,
    ridge_loo,
)
from ._losses import StandardizedLoss
from ._networks import DenseBlock, DGEXNetwork, TAAFDenseBlock, TAAFNetwork

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_RIDGE_ALPHAS",
    "TAAF",
    "TAAF_PARAMETERS",
    "DGEXNetwork",
    "DenseBlock",
    "LinearPath",
    "RidgeStatistics",
    "StandardizedLoss",
    "TAAFDenseBlock",
    "TAAFNetwork",
    "get_activation",
    "l1_calibration",
    "ridge_gcv",
    "ridge_loo",
    "taaf_parameters",
]
