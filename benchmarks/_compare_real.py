"""Real expression data sets of ``benchmarks.compare``, loaded through the
packages that ship them (the ``real`` extra), never copied into this
repository.

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

REAL_DATASETS = ("pbmc68k", "celltypist")
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
            f"This data set ships with the {package!r} package: "
            "pip install 'sktaaf[real]' (or pip install scanpy celltypist)."
        ) from exc


def load_pbmc68k() -> Bunch:
    """scanpy's ``pbmc68k_reduced``, ``.raw``: 150 landmarks -> 615 targets."""
    _need("scanpy")
    import scanpy

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        adata = scanpy.datasets.pbmc68k_reduced()
    raw = adata.raw
    matrix = raw.X.toarray() if hasattr(raw.X, "toarray") else raw.X
    data = _split_by_variance(matrix, raw.var_names)
    data.description = (
        "pbmc68k_reduced (scanpy), 700 cells, log-normalised; 150 most variable "
        "genes -> 615 others"
    )
    return data


def load_celltypist() -> Bunch:
    """celltypist's demo cells, log-normalised: 150 landmarks -> 615 targets."""
    _need("celltypist")
    import pandas as pd
    from celltypist import samples

    counts = pd.read_csv(samples.get_sample_csv(), index_col=0)
    matrix = counts.to_numpy(dtype=np.float32)
    totals = matrix.sum(axis=1, keepdims=True)
    matrix = np.log1p(matrix * (1e4 / np.maximum(totals, 1.0)), dtype=np.float32)
    data = _split_by_variance(matrix, counts.columns)
    data.description = (
        "celltypist demo sample, 559 cells, log-normalised; 150 most variable "
        "of the 765 most variable genes -> 615 others"
    )
    return data


def load_real(name: str) -> Bunch:
    """Landmarks ``X``, targets ``y`` and gene ids of a real data set."""
    loaders = {"pbmc68k": load_pbmc68k, "celltypist": load_celltypist}
    if name not in loaders:
        raise ValueError(
            f"Unknown real data set {name!r}; expected one of {REAL_DATASETS}."
        )
    return loaders[name]()
