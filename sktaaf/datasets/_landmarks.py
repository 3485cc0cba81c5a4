"""The 978 landmark genes of the LINCS L1000 assay, shipped with the package."""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike

from ._common import _import
from ._ids import _as_ids

__all__ = ["l1000_landmark_ids", "load_l1000_landmarks", "map_landmark_ids"]

_FILE = "l1000_landmark_genes.tsv"
ID_TYPES = ("probe_id", "entrez_id", "symbol")


@functools.cache
def _table() -> tuple[tuple[str, ...], ...]:
    """The columns of the shipped list (probe ids, Entrez ids, symbols)."""
    text = resources.files(__package__).joinpath("data", _FILE).read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header, *rows = (line.split("\t") for line in lines)
    if tuple(header) != ID_TYPES:  # pragma: no cover - the file ships with us
        raise RuntimeError(f"The packaged {_FILE} has the header {header}.")
    return tuple(zip(*rows, strict=True))


def _check_id_type(id_type, name: str = "id_type") -> int:
    if id_type not in ID_TYPES:
        raise ValueError(f"{name} must be one of {list(ID_TYPES)}; got {id_type!r}.")
    return ID_TYPES.index(id_type)


def load_l1000_landmarks():
    """The 978 landmark genes of the LINCS L1000 assay, as a DataFrame.

    L1000 [1]_ measures 978 "landmark" transcripts and infers the rest of
    the transcriptome from them; D-GEX [2]_ and TAAF-D-GEX infer the target
    genes from these landmarks. The list ships with sktaaf as package data
    (``sktaaf/datasets/data/l1000_landmark_genes.tsv``). Its header says where
    it comes from: "The 978 landmark genes of the LINCS L1000 assay:
    Affymetrix probe id, NCBI Entrez gene id, HGNC symbol. Taken from the row
    metadata (pr_is_lmark == 1) of a Broad Institute GCT 1.3 file of L1000
    data." Symbols are those of that file; a file keyed by newer HGNC symbols
    may name a few genes differently. Requires pandas.

    Returns
    -------
    landmarks : DataFrame of shape (978, 3)
        Columns ``probe_id`` (Affymetrix HG-U133A probe set, e.g.
        ``"201000_at"``), ``entrez_id`` and ``symbol``, all as text (ids are
        compared as text by the loaders), one row per landmark gene.

    See Also
    --------
    l1000_landmark_ids : The ids of one kind, to split a file in one call.
    map_landmark_ids : Translate landmark ids between the three kinds.

    References
    ----------
    .. [1] A. Subramanian et al., "A Next Generation Connectivity Map: L1000
       Platform and the First 1,000,000 Profiles", Cell 171(6), 1437-1452,
       2017.
    .. [2] Y. Chen, Y. Li, R. Narayan, A. Subramanian and X. Xie, "Gene
       expression inference with deep learning", Bioinformatics 32(12),
       1832-1839, 2016.

    Examples
    --------
    >>> from sktaaf.datasets import load_l1000_landmarks
    >>> landmarks = load_l1000_landmarks()
    >>> landmarks.shape
    (978, 3)
    >>> landmarks.iloc[0].tolist()
    ['201000_at', '16', 'AARS']
    """
    pd = _import("pandas", "pandas", "load_l1000_landmarks")
    return pd.DataFrame(
        {
            name: np.array(column, dtype=object)
            for name, column in zip(ID_TYPES, _table(), strict=True)
        }
    )


def l1000_landmark_ids(id_type: str = "entrez_id") -> np.ndarray:
    """Ids of the 978 L1000 landmark genes, as probe ids, Entrez ids or symbols.

    Pass them as ``landmark_ids`` to split a file keyed by that kind of id in
    one call, e.g. ``load_gctx(path, l1000_landmark_ids("entrez_id"))`` for
    the LINCS GCTX files (rows keyed by Entrez id),
    ``load_hdf(path, l1000_landmark_ids("probe_id"))`` for the D-GEX data
    (Affymetrix probes), or ``split_landmarks(frame, None,
    l1000_landmark_ids("symbol"))`` for a table with gene symbols. The list
    is the one of :func:`load_l1000_landmarks`, in its order. Does not need
    pandas.

    Parameters
    ----------
    id_type : {"entrez_id", "probe_id", "symbol"}, default="entrez_id"
        The kind of id.

    Returns
    -------
    ids : ndarray of str (object dtype) of shape (978,)
        The ids of the landmark genes, one per landmark.

    See Also
    --------
    load_l1000_landmarks : The three ids of every landmark, as a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.datasets import l1000_landmark_ids, split_landmarks
    >>> l1000_landmark_ids("symbol")[:3]
    array(['AARS', 'ABCB6', 'ABCC5'], dtype=object)
    >>> genes = ["XIST", *l1000_landmark_ids("symbol")[::-1], "ACTB"]
    >>> matrix = np.zeros((2, len(genes)))  # 2 samples keyed by gene symbols
    >>> data = split_landmarks(matrix, genes, l1000_landmark_ids("symbol"))
    >>> data.X.shape, list(data.target_ids)
    ((2, 978), ['XIST', 'ACTB'])
    """
    column = _table()[_check_id_type(id_type)]
    ids = np.empty(len(column), dtype=object)
    ids[:] = column
    return ids


def map_landmark_ids(ids: ArrayLike, *, from_type: str, to_type: str) -> np.ndarray:
    """Translate ids of L1000 landmark genes from one kind to another.

    Parameters
    ----------
    ids : array-like of shape (n_ids,)
        Ids of landmark genes, of kind ``from_type`` (ints are read as text).
    from_type, to_type : {"probe_id", "entrez_id", "symbol"}
        The kinds of id given and wanted.

    Returns
    -------
    mapped : ndarray of str (object dtype) of shape (n_ids,)
        The ids of kind ``to_type``, in the order given.

    Raises
    ------
    ValueError
        When some ids are not those of L1000 landmarks (of ``from_type``).

    See Also
    --------
    load_l1000_landmarks : The table the translation uses.

    Examples
    --------
    >>> from sktaaf.datasets import map_landmark_ids
    >>> map_landmark_ids([16, 10058], from_type="entrez_id", to_type="symbol")
    array(['AARS', 'ABCB6'], dtype=object)
    >>> map_landmark_ids(["AARS"], from_type="symbol", to_type="probe_id")
    array(['201000_at'], dtype=object)
    """
    source = _table()[_check_id_type(from_type, "from_type")]
    target = _table()[_check_id_type(to_type, "to_type")]
    ids = _as_ids(ids, "ids", unique=False)
    lookup = dict(zip(source, target, strict=True))
    missing = [value for value in ids if value not in lookup]
    if missing:
        raise ValueError(
            f"{len(missing)} of the {len(ids)} ids are not {from_type}s of L1000 "
            f"landmark genes, e.g. {missing[:5]}."
        )
    mapped = np.empty(len(ids), dtype=object)
    mapped[:] = [lookup[value] for value in ids]
    return mapped
