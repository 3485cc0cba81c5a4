"""Small array helpers shared by the metrics, the baselines and the data
generators: constant columns, memory-bounded block sizes and gene names.

A leaf module: it imports numpy and scikit-learn's configuration only.
"""

from __future__ import annotations

import numpy as np
from sklearn import get_config


def is_constant(values: np.ndarray) -> np.ndarray:
    """Which columns hold one value only (exactly, unlike a zero variance)."""
    return (values == values[:1]).all(axis=0)


def block_size(row_bytes: int, n_rows: int, max_mib: float) -> int:
    """Rows per block whose temporaries of ``row_bytes`` bytes per row fit in
    scikit-learn's ``working_memory`` and in ``max_mib`` MiB: at least one,
    at most ``n_rows``."""
    budget = min(get_config()["working_memory"], max_mib) * 2**20
    return int(max(1, min(n_rows, budget // row_bytes)))


def gene_names(prefix: str, n_genes: int) -> list[str]:
    """``n_genes`` names ``prefix`` + a zero-padded number from 1 (at least
    four digits), such as ``LM0001``."""
    width = max(4, len(str(n_genes)))
    return [f"{prefix}{number:0{width}d}" for number in range(1, n_genes + 1)]
