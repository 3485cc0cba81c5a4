"""One entry point to every small real data set that sktaaf loads through the
packages that ship them (the ``real`` extra): single-cell sets from scanpy and
celltypist, bulk microarray sets with L1000 landmarks from SurvSet."""

from __future__ import annotations

import numbers

from sklearn.utils import Bunch

from ._bulk import BULK_EXAMPLES, N_BULK_TARGETS, load_bulk
from ._single_cell import (
    N_GENES,
    N_LANDMARKS,
    SINGLE_CELL_EXAMPLES,
    _load_celltypist,
    _load_pbmc68k,
)

#: The names :func:`load_real_example` takes: single-cell, then bulk sets.
REAL_EXAMPLES = SINGLE_CELL_EXAMPLES + BULK_EXAMPLES


def _check_n_targets(n_targets):
    """None (the set's default), "all" (-> None) or a positive int."""
    if isinstance(n_targets, str) and n_targets == "all":
        return None
    if isinstance(n_targets, numbers.Integral) and not isinstance(n_targets, bool):
        if n_targets >= 1:
            return int(n_targets)
    raise ValueError(
        f"n_targets must be a positive integer, 'all' or None; got {n_targets!r}."
    )


def load_real_example(name: str, n_targets: int | str | None = None) -> Bunch:
    """Load a small real expression data set split into landmarks and targets.

    The data come from the package that ships them, installed with
    ``pip install "sktaaf[real]"``; nothing is copied into sktaaf.

    Single-cell sets (scanpy, celltypist): the 150 genes of highest variance
    over all cells are the landmarks, the next most variable ones the targets.
    Bulk sets (SurvSet, breast-cancer microarrays from GEO): the L1000
    landmark genes present, matched by symbol, are the landmarks; the other
    genes of highest variance over all samples the targets. Both choices are
    unsupervised and deterministic, made on all samples, as L1000's landmarks
    were chosen on other data.

    Parameters
    ----------
    name : {"pbmc68k", "celltypist", "gse1992", "gse3143", "gse4335"}
        ``"pbmc68k"``: scanpy's ``pbmc68k_reduced`` (700 cells, ``.raw``,
        log-normalised). ``"celltypist"``: celltypist's demo sample (559
        cells), normalised to 10,000 counts per cell and
        ``log1p``-transformed. ``"gse1992"``: 124 tumours, 911 L1000
        landmarks of 15,528 genes; ``"gse3143"``: 158 tumours, 790 of 8,659;
        ``"gse4335"``: 115 tumours, 850 of 12,793 (SurvSet's ``num_HS_*``
        gene columns; the clinical columns are dropped).
    n_targets : int, "all" or None, default=None
        How many of the most variable non-landmark genes are the targets
        (all of them if the set has fewer). None: the set's default, 615 for
        the single-cell sets and 1,000 for the bulk sets (so that a 5-fold
        ``sktaaf compare`` of the baselines takes minutes); ``"all"``: every
        non-landmark gene.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X`` (samples x landmarks, float32), ``y`` (samples x targets,
        float32), ``landmark_ids`` and ``target_ids`` (gene symbols, in the
        source's column order), ``sample_ids`` (bulk sets; None for
        single-cell sets) and a one-line ``description``.

    Raises
    ------
    ValueError
        If ``name`` is not one of the data sets above, or ``n_targets`` is
        neither a positive integer, ``"all"`` nor None.
    ImportError
        If the package that ships the data set (scanpy, celltypist or
        survset) is not installed: ``pip install "sktaaf[real]"``.

    See Also
    --------
    load_single_cell_example : The single-cell sets alone (the older name).
    l1000_landmark_ids : The L1000 landmark genes the bulk sets are split by.

    References
    ----------
    .. [1] E. Drysdale, "SurvSet: An open-source time-to-event dataset
       repository", arXiv:2203.03094, 2022 (the SurvSet package).
    .. [2] A. Subramanian et al., "A Next Generation Connectivity Map: L1000
       Platform and the First 1,000,000 Profiles", Cell 171(6), 2017.

    Examples
    --------
    >>> from sktaaf.datasets import REAL_EXAMPLES, load_real_example
    >>> REAL_EXAMPLES
    ('pbmc68k', 'celltypist', 'gse1992', 'gse3143', 'gse4335')
    >>> data = load_real_example("gse1992")  # needs survset
    >>> data.X.shape, data.y.shape
    ((124, 911), (124, 1000))
    >>> list(data.landmark_ids[:3]), list(data.target_ids[:3])
    (['AARS', 'ABCB6', 'ABCC5'], ['AADAT', 'ABCC11', 'ABCC8'])
    >>> load_real_example("gse1992", n_targets="all").y.shape
    (124, 14617)
    """
    if name not in REAL_EXAMPLES:
        raise ValueError(
            f"Unknown real example {name!r}; expected one of {REAL_EXAMPLES}."
        )
    default = N_BULK_TARGETS if name in BULK_EXAMPLES else N_GENES - N_LANDMARKS
    n_targets = default if n_targets is None else _check_n_targets(n_targets)
    if name in BULK_EXAMPLES:
        return load_bulk(name, n_targets)
    loader = _load_pbmc68k if name == "pbmc68k" else _load_celltypist
    data = loader(n_targets)
    data.sample_ids = None
    return data
