"""Real bulk expression sets with L1000 landmark genes, loaded at run time
through the SurvSet package (the ``real`` extra), never copied into sktaaf.

SurvSet (Drysdale 2022, https://github.com/ErikinBC/SurvSet, GPLv3) ships
survival data sets as pandas DataFrames, among them three breast-cancer
microarray studies from GEO (via the R package survJamda.data):

``gse1992``
    124 tumours x 15,528 genes (log ratios, centred on 0); 911 of the 978
    L1000 landmark genes are present.
``gse3143``
    158 tumours x 8,659 genes (log2 intensities); 790 landmarks present.
``gse4335``
    115 tumours x 12,793 genes (log ratios, centred on 0); 850 landmarks
    present.

Gene columns are named ``num_HS_<SYMBOL>``; every other column (patient id,
survival time and event, clinical factors and numbers such as ``num_age``) is
dropped. The landmarks are the L1000 landmark genes present, matched by HGNC
symbol (:func:`~sktaaf.datasets.l1000_landmark_ids`), in the data set's column
order; the targets are the ``n_targets`` other genes of highest variance over
all samples (an unsupervised, deterministic choice: ties keep column order),
in column order.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils import Bunch

from ._landmarks import l1000_landmark_ids

#: The bulk sets :func:`~sktaaf.datasets.load_real_example` takes.
BULK_EXAMPLES = ("gse1992", "gse3143", "gse4335")
#: The targets kept by default: enough for a real test, few enough that a
#: 5-fold ``sktaaf compare`` of the baselines takes minutes.
N_BULK_TARGETS = 1000
GENE_PREFIX = "num_HS_"
_STUDIES = {
    "gse1992": "breast tumours, log ratios",
    "gse3143": "breast tumours, log2 intensities",
    "gse4335": "breast tumours, log ratios",
}


def _survset_frame(name: str):
    """The DataFrame SurvSet ships for ``name``; ImportError naming the fix."""
    try:
        from SurvSet.data import SurvLoader
    except ImportError as exc:
        raise ImportError(
            f"The {name!r} data set ships with the 'survset' package, which is "
            'not installed: pip install "sktaaf[real]" (or pip install survset).'
        ) from exc
    with warnings.catch_warnings():
        # SurvSet's pickles name numpy.core, which numpy 2 deprecates.
        warnings.simplefilter("ignore", DeprecationWarning)
        return SurvLoader().load_dataset(ds_name=name)["df"]


def _top_variance(matrix: np.ndarray, columns: np.ndarray, n_keep) -> np.ndarray:
    """The ``n_keep`` of ``columns`` of highest variance, in column order."""
    if n_keep is None or n_keep >= len(columns):
        return columns
    variance = matrix[:, columns].var(axis=0, dtype=np.float64)
    order = np.argsort(-variance, kind="stable")[:n_keep]
    return np.sort(columns[order])


def load_bulk(name: str, n_targets: int | None = N_BULK_TARGETS) -> Bunch:
    """One SurvSet microarray set split into L1000 landmarks and targets.

    ``n_targets`` None keeps every gene that is not a landmark (checked by
    the caller). See the module docstring for the sets and the choice of genes.
    """
    frame = _survset_frame(name)
    gene_columns = [str(c) for c in frame.columns if str(c).startswith(GENE_PREFIX)]
    symbols = np.asarray([c[len(GENE_PREFIX) :] for c in gene_columns], dtype=object)
    matrix = frame[gene_columns].to_numpy(dtype=np.float32)
    is_landmark = np.isin(symbols, list(l1000_landmark_ids("symbol")))
    landmarks = np.flatnonzero(is_landmark)
    others = np.flatnonzero(~is_landmark)
    targets = _top_variance(matrix, others, n_targets)
    data = Bunch(
        X=np.ascontiguousarray(matrix[:, landmarks]),
        y=np.ascontiguousarray(matrix[:, targets]),
        landmark_ids=symbols[landmarks],
        target_ids=symbols[targets],
        sample_ids=frame["pid"].astype(str).to_numpy(dtype=object)
        if "pid" in frame
        else None,
    )
    chosen = (
        f"the {len(targets):,} most variable other genes"
        if len(targets) < len(others)
        else f"all {len(targets):,} other genes"
    )
    data.description = (
        f"{name} (GEO, via SurvSet), {len(matrix)} {_STUDIES[name]}; "
        f"{len(landmarks)} L1000 landmarks -> {chosen}"
    )
    return data
