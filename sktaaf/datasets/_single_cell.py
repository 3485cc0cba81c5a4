"""Small real single-cell expression data sets, loaded through the packages
that ship them (the ``real`` extra: ``pip install "sktaaf[real]"``), never
copied into this package. ``sktaaf compare --real NAME`` uses them.

``pbmc68k``
    scanpy's bundled ``pbmc68k_reduced``: 700 peripheral blood cells (10x
    Genomics, a subsample of Zheng et al. 2017). Its ``.raw`` holds 765 genes
    as log-normalised counts, 67% zeros. The 150 genes of highest variance
    are the landmarks, the other 615 the targets.
``celltypist``
    celltypist's bundled demo sample (``celltypist.samples.get_sample_csv``):
    559 immune cells by 32,786 genes, raw UMI counts. Normalised to 10,000
    counts per cell and ``log1p``-transformed (as scanpy's tutorials do); the
    765 genes of highest variance are kept, the 150 most variable of them are
    the landmarks, the other 615 the targets.

Landmarks are chosen on all cells (an unsupervised choice, as L1000's
landmarks were chosen on other data); every model sees the same split.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils import Bunch

#: The names :func:`load_single_cell_example` takes.
SINGLE_CELL_EXAMPLES = ("pbmc68k", "celltypist")
N_LANDMARKS = 150
N_GENES = 765


def _split_by_variance(matrix, gene_ids, n_landmarks=N_LANDMARKS, n_genes=N_GENES):
    matrix = np.asarray(matrix, dtype=np.float32)
    order = np.argsort(-matrix.var(axis=0), kind="stable")[:n_genes]
    landmarks, targets = order[:n_landmarks], np.sort(order[n_landmarks:])
    landmarks = np.sort(landmarks)
    gene_ids = np.asarray(gene_ids, dtype=object)
    return Bunch(
        X=np.ascontiguousarray(matrix[:, landmarks]),
        y=np.ascontiguousarray(matrix[:, targets]),
        landmark_ids=gene_ids[landmarks],
        target_ids=gene_ids[targets],
    )


def _need(package: str):
    try:
        return __import__(package)
    except ImportError as exc:
        raise ImportError(
            f"This data set ships with the {package!r} package, which is not "
            'installed: pip install "sktaaf[real]" (or pip install scanpy '
            "celltypist)."
        ) from exc


def _n_genes(n_targets: int | None) -> int | None:
    """Genes kept: the landmarks and ``n_targets`` targets (None: all)."""
    return None if n_targets is None else N_LANDMARKS + n_targets


def _load_pbmc68k(n_targets: int | None = N_GENES - N_LANDMARKS) -> Bunch:
    """scanpy's ``pbmc68k_reduced``, ``.raw``: 150 landmarks -> 615 targets."""
    _need("scanpy")
    import scanpy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = scanpy.datasets.pbmc68k_reduced()
    raw = adata.raw
    matrix = raw.X.toarray() if hasattr(raw.X, "toarray") else raw.X
    data = _split_by_variance(matrix, raw.var_names, n_genes=_n_genes(n_targets))
    data.description = (
        "pbmc68k_reduced (scanpy), 700 cells, log-normalised; 150 most variable "
        f"genes -> {data.y.shape[1]} others"
    )
    return data


def _load_celltypist(n_targets: int | None = N_GENES - N_LANDMARKS) -> Bunch:
    """celltypist's demo cells, log-normalised: 150 landmarks -> 615 targets."""
    _need("celltypist")
    import pandas as pd
    from celltypist import samples

    counts = pd.read_csv(samples.get_sample_csv(), index_col=0)
    matrix = counts.to_numpy(dtype=np.float32)
    totals = matrix.sum(axis=1, keepdims=True)
    matrix = np.log1p(matrix * (1e4 / np.maximum(totals, 1.0)), dtype=np.float32)
    data = _split_by_variance(matrix, counts.columns, n_genes=_n_genes(n_targets))
    n_genes = data.X.shape[1] + data.y.shape[1]
    data.description = (
        "celltypist demo sample, 559 cells, log-normalised; 150 most variable "
        f"of the {n_genes} most variable genes -> {data.y.shape[1]} others"
    )
    return data


def load_single_cell_example(name: str) -> Bunch:
    """Load a small real single-cell data set split into landmarks and targets.

    The genes of highest variance (over all cells) are the landmarks, the
    next most variable ones the targets: an unsupervised choice, as L1000's
    landmarks were chosen on other data.

    Parameters
    ----------
    name : {"pbmc68k", "celltypist"}
        ``"pbmc68k"``: scanpy's ``pbmc68k_reduced`` (700 cells, ``.raw``,
        log-normalised), 150 landmarks -> 615 targets. ``"celltypist"``:
        celltypist's demo sample (559 cells), normalised to 10,000 counts
        per cell and ``log1p``-transformed, 150 landmarks -> 615 targets.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X`` (cells x landmarks, float32), ``y`` (cells x targets, float32),
        ``landmark_ids``, ``target_ids`` and a one-line ``description``.

    Raises
    ------
    ValueError
        If ``name`` is not one of the data sets above.
    ImportError
        If the package that ships the data set (scanpy or celltypist) is not
        installed: ``pip install "sktaaf[real]"``.

    Examples
    --------
    >>> from sktaaf.datasets import SINGLE_CELL_EXAMPLES, load_single_cell_example
    >>> SINGLE_CELL_EXAMPLES
    ('pbmc68k', 'celltypist')
    >>> data = load_single_cell_example("pbmc68k")  # doctest: +SKIP
    >>> data.X.shape, data.y.shape  # doctest: +SKIP
    ((700, 150), (700, 615))
    """
    loaders = {"pbmc68k": _load_pbmc68k, "celltypist": _load_celltypist}
    if name not in loaders:
        raise ValueError(
            f"Unknown single-cell example {name!r}; expected one of "
            f"{SINGLE_CELL_EXAMPLES}."
        )
    return loaders[name]()
