"""Loaders of expression matrices: GCT/GCTX, pandas HDF5 and .npy files.

Every loader returns a :class:`sklearn.utils.Bunch` with the same fields:

``X``
    Landmark expression, ndarray of shape (n_samples, n_landmarks).
``y``
    Target expression, ndarray of shape (n_samples, n_targets).
``landmark_ids``, ``target_ids``
    Gene ids of the columns of ``X`` and ``y``: ndarrays of str (object
    dtype), or None where the file holds no ids (.npy).
``sample_ids``
    Ids of the rows, an ndarray of str (object dtype), or None.

Ids are compared as strings, so Entrez ids given as ints match the string
ids of a GCTX file.
"""

from __future__ import annotations

import gzip
import importlib
import os
import tokenize
import zlib
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.utils import Bunch

__all__ = [
    "load_gct",
    "load_gctx",
    "load_hdf",
    "load_hdf_pair",
    "load_npy",
    "split_landmarks",
]

# Nodes of a GCTX file (HDF5), as the CMap tools write them. h5py sees the
# matrix as samples x genes: its first axis holds the columns (cid), its second
# the rows (rid) of the genes x samples view that GCT files and cmapPy show.
_GCTX_MATRIX = "0/DATA/0/matrix"
_GCTX_ROW_IDS = "0/META/ROW/id"
_GCTX_COL_IDS = "0/META/COL/id"
# Samples read from a GCTX file at once: bounds the buffer to ~64 MB.
_GCTX_CHUNK_ELEMENTS = 2**24

PathLike = str | os.PathLike


# ------------------------------------------------------------------ helpers
def _import(module: str, package: str, caller: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires the {package!r} package; install it with "
            f"`pip install {package}` or `pip install 'sktaaf[io]'`."
        ) from exc


def _check_file(path: PathLike, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        state = "is not a file" if path.exists() else "does not exist"
        raise FileNotFoundError(f"The {what} file {str(path)!r} {state}.")
    return path


@contextmanager
def _read_errors(path: Path, what: str, errors: tuple):
    """Turn ``errors``, which readers raise on damaged files, into ValueError."""
    try:
        yield
    except errors as exc:
        raise ValueError(
            f"The {what} file {str(path)!r} cannot be read (truncated, corrupted, "
            f"or another kind of file): {type(exc).__name__}: {exc}"
        ) from exc


def _as_ids(
    ids, name: str, length: int | None = None, unique: bool = True
) -> np.ndarray:
    """Ids as a 1-D object array of str, checked for duplicates if ``unique``."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(
            f"{name} must be a sequence of ids (a list, an array, a pandas "
            f"Index), got {type(ids).__name__} {ids!r}."
        )
    values = [
        value.decode() if isinstance(value, bytes) else str(value) for value in ids
    ]
    if length is not None and len(values) != length:
        raise ValueError(f"{name} has {len(values)} ids but {length} were expected.")
    array = np.empty(len(values), dtype=object)
    array[:] = values
    if not unique:
        return array
    distinct, counts = np.unique(array.astype(str), return_counts=True)
    if (counts > 1).any():
        repeated = distinct[counts > 1]
        raise ValueError(
            f"{name} must be unique, but {len(repeated)} ids occur more than "
            f"once, e.g. {repeated[:5].tolist()}."
        )
    return array


def _positions(ids: np.ndarray, wanted: np.ndarray, name: str, among: str):
    """Positions of ``wanted`` in ``ids``; a clear error for unknown ids."""
    lookup = {value: position for position, value in enumerate(ids)}
    missing = [value for value in wanted if value not in lookup]
    if missing:
        raise ValueError(
            f"{len(missing)} of the {len(wanted)} {name} are not among the "
            f"{len(ids)} {among}, e.g. {missing[:5]}."
        )
    return np.fromiter((lookup[value] for value in wanted), np.intp, len(wanted))


def _resolve_genes(gene_ids, landmark_ids, target_ids):
    """Column positions and ids of the landmarks and of the targets."""
    landmark_ids = _as_ids(landmark_ids, "landmark_ids")
    landmarks = _positions(gene_ids, landmark_ids, "landmark ids", "gene ids")
    if target_ids is None:
        is_target = np.ones(len(gene_ids), dtype=bool)
        is_target[landmarks] = False
        targets = np.flatnonzero(is_target)
        target_ids = gene_ids[targets]
    else:
        target_ids = _as_ids(target_ids, "target_ids")
        overlap = np.intersect1d(landmark_ids.astype(str), target_ids.astype(str))
        if overlap.size:
            raise ValueError(
                f"{overlap.size} ids are both landmark and target ids, e.g. "
                f"{overlap[:5].tolist()}; a gene cannot be inferred from itself."
            )
        targets = _positions(gene_ids, target_ids, "target ids", "gene ids")
    return landmarks, targets, landmark_ids, target_ids


def _bunch(X, y, landmark_ids, target_ids, sample_ids) -> Bunch:
    return Bunch(
        X=X,
        y=y,
        landmark_ids=landmark_ids,
        target_ids=target_ids,
        sample_ids=sample_ids,
    )


# ------------------------------------------------------------------- split
def split_landmarks(
    matrix: ArrayLike,
    gene_ids: ArrayLike | None,
    landmark_ids: ArrayLike,
    *,
    target_ids: ArrayLike | None = None,
    sample_ids: ArrayLike | None = None,
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Split a samples x genes matrix into landmark and target matrices.

    Parameters
    ----------
    matrix : array-like or DataFrame of shape (n_samples, n_genes)
        Expression profiles, one sample per row, one gene per column; e.g. a
        ``np.load(..., mmap_mode="r")`` memory map (only the chosen columns are
        copied) or a DataFrame.
    gene_ids : array-like of shape (n_genes,) or None
        Ids of the columns of ``matrix``. None takes the columns of a
        DataFrame.
    landmark_ids : array-like of shape (n_landmarks,)
        Ids of the landmark genes, in the order wanted for the columns of
        ``X``. Every one must be in ``gene_ids``.
    target_ids : array-like of shape (n_targets,), default=None
        Ids of the target genes, in the order wanted for ``y``. None takes
        every gene that is not a landmark, in the matrix's order.
    sample_ids : array-like of shape (n_samples,), default=None
        Ids of the rows. None takes the index of a DataFrame, else no ids.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps the matrix's.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (n_samples, n_landmarks), ``y`` (n_samples, n_targets),
        ``landmark_ids``, ``target_ids`` and ``sample_ids`` (ndarrays of str,
        or None for unknown sample ids).

    Raises
    ------
    ValueError
        When ids are unknown or repeated, a gene is both landmark and target,
        or ``gene_ids`` does not match the matrix's columns.

    See Also
    --------
    load_gctx, load_gct, load_hdf : Read a matrix and split it.

    Examples
    --------
    >>> import numpy as np
    >>> from sktaaf.datasets import split_landmarks
    >>> matrix = np.arange(8.0).reshape(2, 4)
    >>> data = split_landmarks(matrix, ["a", "b", "c", "d"], ["c", "a"])
    >>> data.X
    array([[2., 0.],
           [6., 4.]], dtype=float32)
    >>> data.target_ids
    array(['b', 'd'], dtype=object)
    >>> split_landmarks(matrix, ["a", "b", "c", "d"], ["a", "z"])
    Traceback (most recent call last):
    ...
    ValueError: 1 of the 2 landmark ids are not among the 4 gene ids, e.g. ['z'].
    """
    if hasattr(matrix, "columns") and hasattr(matrix, "index"):  # a DataFrame
        if gene_ids is None:
            gene_ids = matrix.columns
        if sample_ids is None:
            sample_ids = matrix.index
        matrix = matrix.to_numpy()
    elif gene_ids is None:
        raise TypeError(
            "gene_ids=None needs a DataFrame, whose columns are the gene ids; "
            f"got a {type(matrix).__name__}. Give the gene ids."
        )
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(
            f"matrix must be 2-D (samples x genes), got shape {matrix.shape}."
        )
    gene_ids = _as_ids(gene_ids, "gene_ids")
    if len(gene_ids) != matrix.shape[1]:
        raise ValueError(
            f"matrix has {matrix.shape[1]} columns but gene_ids has "
            f"{len(gene_ids)} ids. The matrix must be samples x genes; "
            "transpose it if the genes are its rows."
        )
    if sample_ids is not None:
        sample_ids = _as_ids(
            sample_ids, "sample_ids", length=matrix.shape[0], unique=False
        )
    landmarks, targets, landmark_ids, target_ids = _resolve_genes(
        gene_ids, landmark_ids, target_ids
    )
    X = np.asarray(matrix[:, landmarks], dtype=dtype)
    y = np.asarray(matrix[:, targets], dtype=dtype)
    return _bunch(X, y, landmark_ids, target_ids, sample_ids)


# --------------------------------------------------------------------- GCT
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


# -------------------------------------------------------------------- GCTX
def _decode(values: np.ndarray) -> np.ndarray:
    strings = [
        value.decode() if isinstance(value, bytes) else str(value)
        for value in values.tolist()
    ]
    array = np.empty(len(strings), dtype=object)
    array[:] = strings
    return array


# h5py raises these on damaged HDF5 structures.
_GCTX_ERRORS = (OSError, RuntimeError, KeyError, UnicodeDecodeError)


def _open_gctx_file(path: PathLike, caller: str):
    """The GCTX file at ``path`` opened read-only with h5py, and its path."""
    h5py = _import("h5py", "h5py", caller)
    path = _check_file(path, "GCTX")
    try:
        return h5py.File(path, "r"), path
    except OSError as exc:
        raise ValueError(
            f"{str(path)!r} is not a GCTX file: h5py cannot open it as HDF5."
        ) from exc


def _gctx_header(file, path: Path):
    """The matrix dataset, gene ids and sample ids of an open GCTX file, checked."""
    h5py = _import("h5py", "h5py", "reading GCTX")
    for node in (_GCTX_MATRIX, _GCTX_ROW_IDS, _GCTX_COL_IDS):
        dataset = file.get(node)
        if not isinstance(dataset, h5py.Dataset):
            raise ValueError(
                f"{str(path)!r} is not a GCTX file: it has no /{node} dataset."
            )
        if node != _GCTX_MATRIX and dataset.ndim != 1:
            raise ValueError(
                f"The /{node} dataset of the GCTX file {str(path)!r} has shape "
                f"{dataset.shape}; expected 1-D, one id per row or column."
            )
    matrix = file[_GCTX_MATRIX]
    gene_ids = _as_ids(_decode(file[_GCTX_ROW_IDS][()]), "the file's row ids")
    sample_ids = _as_ids(
        _decode(file[_GCTX_COL_IDS][()]), "the file's column ids", unique=False
    )
    if matrix.shape != (len(sample_ids), len(gene_ids)):
        raise ValueError(
            f"The GCTX matrix of {str(path)!r} has shape {matrix.shape}, but "
            f"the file has {len(sample_ids)} column (sample) ids and "
            f"{len(gene_ids)} row (gene) ids; expected (n_samples, n_genes) "
            f"= ({len(sample_ids)}, {len(gene_ids)})."
        )
    return matrix, gene_ids, sample_ids


def load_gctx(
    path: PathLike,
    landmark_ids: ArrayLike,
    *,
    target_ids: ArrayLike | None = None,
    sample_ids: ArrayLike | None = None,
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Load a GCTX (HDF5) file, such as the LINCS L1000 data, as landmarks and targets.

    A GCTX file [1]_ stores a genes x samples matrix at ``/0/DATA/0/matrix``,
    the gene (row) ids at ``/0/META/ROW/id`` and the sample (column) ids at
    ``/0/META/COL/id``; h5py sees the matrix as samples x genes, the layout
    returned here. Samples are read a chunk at a time, so a subset of a large
    file (``sample_ids``) needs memory for that subset only. Metadata other
    than the ids is ignored. Requires h5py (cmapPy is not needed; version
    4.0.1 fails with NumPy 2 and pandas 3).

    Parameters
    ----------
    path : str or path-like
        The ``.gctx`` file.
    landmark_ids : array-like of shape (n_landmarks,)
        Row ids of the landmark genes (e.g. the Entrez ids of the L1000
        landmarks), in the order wanted for ``X``.
    target_ids : array-like of shape (n_targets,), default=None
        Row ids of the target genes; None takes every other gene, in file
        order.
    sample_ids : array-like, default=None
        Column ids of the samples to read, in the order wanted; None reads all.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps the file's.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``landmark_ids``, ``target_ids``, ``sample_ids``; see
        :func:`split_landmarks`.

    See Also
    --------
    load_gct : The text form of the same data.

    References
    ----------
    .. [1] Broad Institute, "GCTX format",
       https://clue.io/connectopedia/gctx_format; and cmapPy, "GCToo",
       https://github.com/cmap/cmapPy

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import h5py, numpy as np
    >>> from sktaaf.datasets import load_gctx
    >>> matrix = np.arange(6, dtype=np.float32).reshape(2, 3)  # samples x genes
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "tiny.gctx"
    ...     with h5py.File(path, "w") as file:
    ...         _ = file.create_dataset("0/DATA/0/matrix", data=matrix)
    ...         _ = file.create_dataset("0/META/ROW/id", data=[b"g1", b"g2", b"g3"])
    ...         _ = file.create_dataset("0/META/COL/id", data=[b"s1", b"s2"])
    ...     data = load_gctx(path, landmark_ids=["g3", "g1"], sample_ids=["s2"])
    >>> data.X, data.y, data.target_ids
    (array([[5., 3.]], dtype=float32), array([[4.]], dtype=float32), \
array(['g2'], dtype=object))
    """
    file, path = _open_gctx_file(path, "load_gctx")
    with file, _read_errors(path, "GCTX", _GCTX_ERRORS):
        matrix, gene_ids, all_sample_ids = _gctx_header(file, path)
        landmarks, targets, landmark_ids, target_ids = _resolve_genes(
            gene_ids, landmark_ids, target_ids
        )
        if sample_ids is None:
            rows = np.arange(len(all_sample_ids))
            sample_ids = all_sample_ids
        else:
            sample_ids = _as_ids(sample_ids, "sample_ids")
            rows = _positions(all_sample_ids, sample_ids, "sample ids", "column ids")
        out_dtype = matrix.dtype if dtype is None else np.dtype(dtype)
        X = np.empty((len(rows), len(landmarks)), dtype=out_dtype)
        y = np.empty((len(rows), len(targets)), dtype=out_dtype)
        # h5py reads ascending rows; put them back in the requested order.
        order = np.argsort(rows, kind="stable")
        chunk = max(1, _GCTX_CHUNK_ELEMENTS // max(len(gene_ids), 1))
        for start in range(0, len(rows), chunk):
            wanted = order[start : start + chunk]
            sorted_rows = rows[wanted]
            first, last = sorted_rows[0], sorted_rows[-1]
            if last - first + 1 == len(sorted_rows):  # contiguous: a slice
                block = matrix[first : last + 1]
            else:
                block = matrix[sorted_rows]
            X[wanted] = block[:, landmarks]
            y[wanted] = block[:, targets]
    return _bunch(X, y, landmark_ids, target_ids, sample_ids)


# --------------------------------------------------------------------- HDF5
def _read_hdf_frame(path: PathLike, key: str, what: str):
    pd = _import("pandas", "pandas", "load_hdf")
    _import("tables", "tables", "load_hdf")  # pandas.read_hdf needs PyTables
    if not isinstance(key, str):
        raise TypeError(
            f"key must be a str, the key of the DataFrame in the store; got "
            f"{type(key).__name__} {key!r}."
        )
    path = _check_file(path, what)
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as exc:  # PyTables raises several types for non-HDF5 files
        raise ValueError(
            f"The {what} file {str(path)!r} cannot be opened as a pandas HDF5 "
            f"store: {exc}"
        ) from exc
    with store:
        try:  # damaged or foreign stores: PyTables and pandas raise many types
            # pandas 3.1 with PyTables 3.11 also lists the root group, "/".
            keys = [name.strip("/") for name in store.keys() if name.strip("/")]
            frame = store.get(key) if key.strip("/") in keys else None
        except Exception as exc:
            raise ValueError(
                f"The {what} file {str(path)!r} cannot be read as a pandas HDF5 "
                f"store (damaged, or not written by pandas): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    if key.strip("/") not in keys:
        raise KeyError(
            f"The {what} file {str(path)!r} has no key {key!r}; its keys are {keys}."
        )
    if not isinstance(frame, pd.DataFrame) or frame.ndim != 2:
        raise TypeError(
            f"Key {key!r} of {str(path)!r} holds a {type(frame).__name__}, not a "
            "DataFrame of samples x genes."
        )
    return frame


def load_hdf(
    path: PathLike,
    landmark_ids: ArrayLike,
    *,
    key: str = "table",
    target_ids: ArrayLike | None = None,
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Load a samples x genes DataFrame from a pandas HDF5 file and split it.

    The file is a pandas ``HDFStore`` (``DataFrame.to_hdf``, "fixed" or
    "table" format) holding, at ``key``, a DataFrame with one row per sample
    (the index gives the sample ids) and one column per gene (the columns give
    the gene ids). Requires pandas and PyTables (``tables``).

    Parameters
    ----------
    path : str or path-like
        The HDF5 file.
    landmark_ids : array-like of shape (n_landmarks,)
        Column ids of the landmark genes, in the order wanted for ``X``.
    key : str, default="table"
        The key of the DataFrame in the store.
    target_ids : array-like of shape (n_targets,), default=None
        Column ids of the target genes; None takes every other column.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps the DataFrame's.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``landmark_ids``, ``target_ids``, ``sample_ids``; see
        :func:`split_landmarks`.

    See Also
    --------
    load_hdf_pair : The TAAF-D-GEX layout, landmarks and targets in two files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from sktaaf.datasets import load_hdf
    >>> frame = pd.DataFrame([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
    ...                      index=["s1", "s2"], columns=["g1", "g2", "g3"])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "profiles.h5"
    ...     frame.to_hdf(path, key="table")
    ...     data = load_hdf(path, landmark_ids=["g1", "g3"])
    >>> data.X, data.target_ids
    (array([[1., 3.],
           [4., 6.]], dtype=float32), array(['g2'], dtype=object))
    """
    frame = _read_hdf_frame(path, key, "HDF5")
    return split_landmarks(
        frame, None, landmark_ids, target_ids=target_ids, dtype=dtype
    )


def load_hdf_pair(
    landmarks_path: PathLike,
    targets_path: PathLike,
    *,
    key: str = "table",
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Load landmarks and targets from two pandas HDF5 files (TAAF-D-GEX layout).

    The reference implementation of TAAF-D-GEX [1]_ keeps each matrix in its
    own ``HDFStore`` file, under the key ``"table"``, as a samples x genes
    DataFrame: ``ddf_lm_dataset_*_train.h5`` for the landmarks and
    ``ddf_tg_dataset_*_train.h5`` for the targets (likewise ``*_test.h5``).
    The two files must hold the same samples in the same order; when both
    have a non-default index, the sample ids must agree. Requires pandas and
    PyTables (``tables``).

    Parameters
    ----------
    landmarks_path : str or path-like
        The landmarks file (``ddf_lm_*.h5``).
    targets_path : str or path-like
        The targets file (``ddf_tg_*.h5``).
    key : str, default="table"
        The key of the DataFrame in both stores.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps the DataFrames'.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y``, ``landmark_ids``, ``target_ids`` (the two files'
        columns) and ``sample_ids`` (the landmarks file's index); see
        :func:`split_landmarks`.

    See Also
    --------
    load_hdf : One file holding all genes.

    References
    ----------
    .. [1] V. Kunc and J. Kléma, "On transformative adaptive activation functions
       in neural networks for gene expression inference", PLoS ONE 16(1),
       e0243915, 2021.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, pandas as pd
    >>> from sktaaf.datasets import load_hdf_pair
    >>> landmarks = pd.DataFrame(np.ones((4, 3)), columns=["lm1", "lm2", "lm3"])
    >>> targets = pd.DataFrame(np.zeros((4, 2)), columns=["tg1", "tg2"])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     folder = pathlib.Path(folder)
    ...     landmarks.to_hdf(folder / "ddf_lm_dataset_small_train.h5", key="table")
    ...     targets.to_hdf(folder / "ddf_tg_dataset_small_train.h5", key="table")
    ...     data = load_hdf_pair(folder / "ddf_lm_dataset_small_train.h5",
    ...                          folder / "ddf_tg_dataset_small_train.h5")
    >>> data.X.shape, data.y.shape, list(data.target_ids)
    ((4, 3), (4, 2), ['tg1', 'tg2'])
    """
    pd = _import("pandas", "pandas", "load_hdf_pair")
    landmarks = _read_hdf_frame(landmarks_path, key, "landmarks")
    targets = _read_hdf_frame(targets_path, key, "targets")
    if len(landmarks) != len(targets):
        raise ValueError(
            f"The landmarks file has {len(landmarks)} samples (rows) but the "
            f"targets file has {len(targets)}; they must hold the same samples."
        )
    sample_ids = _as_ids(landmarks.index, "the landmarks file's index", unique=False)
    default = pd.RangeIndex(len(landmarks))
    if not (landmarks.index.equals(default) or targets.index.equals(default)):
        target_samples = _as_ids(
            targets.index, "the targets file's index", unique=False
        )
        differ = np.flatnonzero(sample_ids.astype(str) != target_samples.astype(str))
        if differ.size:
            first = differ[0]
            raise ValueError(
                f"The landmarks and targets files hold different samples: "
                f"{differ.size} sample ids differ, first at row {first} "
                f"({sample_ids[first]!r} vs {target_samples[first]!r})."
            )
    return _bunch(
        landmarks.to_numpy(dtype=dtype),
        targets.to_numpy(dtype=dtype),
        _as_ids(landmarks.columns, "the landmarks file's columns"),
        _as_ids(targets.columns, "the targets file's columns"),
        sample_ids,
    )


# ---------------------------------------------------------------------- npy
_MMAP_MODES = ["r", "r+", "c", None]  # never "w+", which overwrites the file


def _load_npy(path: PathLike, what: str, mmap_mode) -> np.ndarray:
    path = _check_file(path, what)
    try:
        if mmap_mode == "r+":  # np.memmap would pad a truncated file with zeros
            np.load(path, mmap_mode="r", allow_pickle=False)
        array = np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    # Truncated files raise EOFError; damaged headers, tokenize.TokenError.
    except (ValueError, EOFError, SyntaxError, tokenize.TokenError) as exc:
        raise ValueError(
            f"The {what} file {str(path)!r} cannot be read as a .npy array: {exc}"
        ) from exc
    if not isinstance(array, np.ndarray):
        raise ValueError(
            f"The {what} file {str(path)!r} holds a {type(array).__name__} (an "
            ".npz archive?), not a single .npy array."
        )
    if array.ndim != 2:
        raise ValueError(
            f"The {what} file {str(path)!r} holds an array of shape "
            f"{array.shape}; expected 2-D (samples x genes)."
        )
    return array


def load_npy(
    landmarks_path: PathLike,
    targets_path: PathLike,
    *,
    mmap_mode: str | None = "r",
    landmark_ids: ArrayLike | None = None,
    target_ids: ArrayLike | None = None,
    sample_ids: ArrayLike | None = None,
) -> Bunch:
    """Load landmarks and targets from two ``.npy`` files, memory-mapped by default.

    With ``mmap_mode="r"`` the arrays stay on disk and are paged in as they
    are read (``np.load(path, mmap_mode="r")``), so data larger than memory can
    be sliced or streamed; their dtype is the files'. The estimators stream
    memory maps chunk by chunk, converting each chunk to float32: save float32
    arrays to spare that conversion. For a single samples x genes ``.npy``
    matrix, load it with ``np.load`` and use :func:`split_landmarks`.

    Parameters
    ----------
    landmarks_path : str or path-like
        ``.npy`` file of the landmarks, shape (n_samples, n_landmarks).
    targets_path : str or path-like
        ``.npy`` file of the targets, shape (n_samples, n_targets).
    mmap_mode : {"r", "r+", "c"} or None, default="r"
        Passed to :func:`numpy.load`; None reads the arrays into memory.
    landmark_ids, target_ids, sample_ids : array-like, default=None
        Ids to attach, of lengths n_landmarks, n_targets and n_samples; a
        ``.npy`` file holds none, so they are None when not given.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X``, ``y`` (memory maps unless ``mmap_mode=None``),
        ``landmark_ids``, ``target_ids``, ``sample_ids``.

    See Also
    --------
    split_landmarks : Split one samples x genes matrix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from sktaaf.datasets import load_npy
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     folder = pathlib.Path(folder)
    ...     np.save(folder / "X.npy", np.zeros((5, 3), dtype=np.float32))
    ...     np.save(folder / "y.npy", np.ones((5, 2), dtype=np.float32))
    ...     data = load_npy(folder / "X.npy", folder / "y.npy")
    ...     print(type(data.X).__name__, data.X.shape, data.y.shape)
    ...     del data  # release the memory maps before the folder goes
    memmap (5, 3) (5, 2)
    """
    if mmap_mode not in _MMAP_MODES:
        # np.load's "w+" would overwrite the file.
        raise ValueError(f"mmap_mode must be one of {_MMAP_MODES}; got {mmap_mode!r}.")
    X = _load_npy(landmarks_path, "landmarks", mmap_mode)
    y = _load_npy(targets_path, "targets", mmap_mode)
    if len(X) != len(y):
        raise ValueError(
            f"The landmarks file has {len(X)} samples (rows) but the targets "
            f"file has {len(y)}; they must hold the same samples."
        )
    if landmark_ids is not None:
        landmark_ids = _as_ids(landmark_ids, "landmark_ids", length=X.shape[1])
    if target_ids is not None:
        target_ids = _as_ids(target_ids, "target_ids", length=y.shape[1])
    if sample_ids is not None:
        sample_ids = _as_ids(sample_ids, "sample_ids", length=len(X), unique=False)
    return _bunch(X, y, landmark_ids, target_ids, sample_ids)
