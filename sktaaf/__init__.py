"""sktaaf: deep-learning gene-expression inference as scikit-learn estimators.

``TAAFRegressor`` and ``DGEXRegressor`` infer target genes from landmark genes
with the networks of TAAF-D-GEX and D-GEX, trained through skorch.

The estimators are imported on first use (PEP 562), so that ``import sktaaf``
and the ``sktaaf`` command's ``--help`` and ``--version`` do not spend
seconds importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:  # what the names are, for type checkers and linters
    from ._dgex_regressor import DGEXRegressor
    from ._taaf_regressor import REFERENCE_SETTINGS, TAAFRegressor
    from ._target_blocks import TargetBlockRegressor

# Each public name, by the module that defines it (imported when first used).
_LAZY = {
    "REFERENCE_SETTINGS": "._taaf_regressor",
    "DGEXRegressor": "._dgex_regressor",
    "TAAFRegressor": "._taaf_regressor",
    "TargetBlockRegressor": "._target_blocks",
}

__all__ = [
    "REFERENCE_SETTINGS",
    "DGEXRegressor",
    "TAAFRegressor",
    "TargetBlockRegressor",
    "__version__",
]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sktaaf' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
