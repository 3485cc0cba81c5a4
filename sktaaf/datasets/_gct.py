"""GCT text files (versions 1.2 and 1.3), plain or gzipped."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.utils import Bunch

from ._common import PathLike, _check_file, _import, _read_errors
from ._ids import split_landmarks

__all__ = ["load_gct"]


def _read_gct(path: Path):
    """The data of a GCT 1.2 or 1.3 file: genes x samples values and ids."""
    pd = _import("pandas", "pandas", "load_gct")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as file:
        version = file.readline().strip()
        dimensions = [field for field in file.readline().split() if field]
        header = file.readline().rstrip("\r\n").split("\t")
    try:
        dimensions = [int(field) for field in dimensions]
    except ValueError:
        dimensions = []
    if version == "#1.2" and len(dimensions) >= 2:
        n_rows, n_cols = dimensions[:2]
        n_row_meta, n_col_meta = 1, 0  # the Description column
    elif version == "#1.3" and len(dimensions) >= 4:
        n_rows, n_cols, n_row_meta, n_col_meta = dimensions[:4]
    else:
        raise ValueError(
            f"{str(path)!r} is not a GCT file: expected '#1.2' or '#1.3' on the "
            "first line and the dimensions on the second, got "
            f"{version[:20]!r} and {' '.join(map(str, dimensions))[:40]!r}."
        )
    if len(header) != 1 + n_row_meta + n_cols:
        raise ValueError(
            f"The GCT header of {str(path)!r} has {len(header)} fields, but its "
            f"dimensions line declares 1 id + {n_row_meta} row-metadata + "
            f"{n_cols} sample columns."
        )
    first_value = 1 + n_row_meta
    value_columns = range(first_value, first_value + n_cols)
    frame = pd.read_csv(
        path,
        sep="\t",
        header=None,
        skiprows=3 + n_col_meta,
        usecols=[0, *value_columns],
        dtype={0: str},
        keep_default_na=False,  # ids are never missing values
        na_values=dict.fromkeys(value_columns, ["", "NA", "NaN", "nan", "NAN"]),
    )
    if frame.shape != (n_rows, 1 + n_cols):
        raise ValueError(
            f"The GCT file {str(path)!r} declares {n_rows} genes x {n_cols} "
            f"samples but holds {frame.shape[0]} data rows."
        )
    try:
        values = frame.iloc[:, 1:].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"The GCT file {str(path)!r} has values that are not numbers."
        ) from exc
    return values, frame.iloc[:, 0].to_numpy(), header[first_value:]


def load_gct(
    path: PathLike,
    landmark_ids: ArrayLike,
    *,
    target_ids: ArrayLike | None = None,
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Load a GCT text file (genes x samples) as landmarks and targets.

    Reads GCT versions 1.2 and 1.3 [1]_, plain or gzipped (``.gct.gz``).
    Row and column metadata are skipped; the row ids are the gene ids, the
    column ids the sample ids. Requires pandas.

    Parameters
    ----------
    path : str or path-like
        The ``.gct`` or ``.gct.gz`` file.
    landmark_ids : array-like of shape (n_landmarks,)
        Ids (row ids of the file) of the landmark genes, in the order wanted
        for ``X``.
    target_ids : array-like of shape (n_targets,), default=None
        Ids of the target genes; None takes every other gene, in file order.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps float64.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``landmark_ids``, ``target_ids``, ``sample_ids``; see
        :func:`split_landmarks`.

    See Also
    --------
    load_gctx : The binary (HDF5) form of the same data.
    split_landmarks : Split a matrix already in memory.

    References
    ----------
    .. [1] Broad Institute, "GCT: Gene Cluster Text file format",
       https://clue.io/connectopedia/gct_format and
       https://software.broadinstitute.org/cancer/software/gsea/wiki/index.php/Data_formats

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sktaaf.datasets import load_gct
    >>> text = ("#1.2\\n2\\t3\\nName\\tDescription\\ts1\\ts2\\ts3\\n"
    ...         "g1\\tna\\t1\\t2\\t3\\ng2\\tna\\t4\\t5\\t6\\n")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "tiny.gct"
    ...     _ = path.write_text(text)
    ...     data = load_gct(path, landmark_ids=["g2"])
    >>> data.X.ravel(), data.y.ravel(), list(data.sample_ids)
    (array([4., 5., 6.], dtype=float32), array([1., 2., 3.], dtype=float32), \
['s1', 's2', 's3'])
    """
    path = _check_file(path, "GCT")
    # Damaged gzip streams raise OSError, EOFError or zlib.error.
    with _read_errors(
        path, "GCT", (UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error)
    ):
        values, gene_ids, sample_ids = _read_gct(path)
    return split_landmarks(
        values.T,
        gene_ids,
        landmark_ids,
        target_ids=target_ids,
        sample_ids=sample_ids,
        dtype=dtype,
    )
