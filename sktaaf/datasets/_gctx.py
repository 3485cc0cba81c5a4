"""GCTX files (HDF5), the binary form of GCT used by LINCS L1000."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.utils import Bunch

from .._data._columns import ColumnRows
from .._data._rows import read_sorted
from .._utils._atomic import as_path, atomic_binary_file
from ._common import PathLike, _check_file, _import, _read_errors, cast_checked
from ._ids import _as_ids, _bunch, _positions, _resolve_genes
from ._metadata import (
    aligned_metadata,
    check_fields,
    check_metadata,
    landmarks_from_metadata,
    metadata_frame,
    profile_ids,
    profile_values,
    text_values,
)

__all__ = ["load_gctx", "open_gctx", "write_gctx"]

# Nodes of a GCTX file (HDF5), as the CMap tools write them. h5py sees the
# matrix as samples x genes: its first axis holds the columns (cid), its second
# the rows (rid) of the genes x samples view that GCT files and cmapPy show.
_GCTX_MATRIX = "0/DATA/0/matrix"
_GCTX_ROW_IDS = "0/META/ROW/id"
_GCTX_COL_IDS = "0/META/COL/id"
# Samples read from a GCTX file at once: bounds the buffer to ~64 MB.
_GCTX_CHUNK_ELEMENTS = 2**24
# HDF5 chunks of the matrix written: whole samples, at most ~1 MiB (cmapPy's
# max_chunk_kb), so that reading a block of samples reads few chunks.
_GCTX_WRITE_CHUNK_BYTES = 2**20
_GCTX_VERSION = "GCTX1.0"


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
    if matrix.dtype.kind not in "biuf":
        raise ValueError(
            f"The GCTX file {str(path)!r} holds {matrix.dtype} values in its "
            f"/{_GCTX_MATRIX} dataset; expected numbers (float32 or float64)."
        )
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


def _read_metadata(file, path: Path, axis: str, ids, positions=None):
    """The metadata of the rows (``axis="ROW"``) or columns of an open GCTX
    file as a DataFrame indexed by ``ids``; ``positions`` picks columns."""
    h5py = _import("h5py", "h5py", "reading GCTX")
    group = file[f"0/META/{axis}"]
    n_total = group["id"].shape[0]
    fields = {}
    for name, dataset in group.items():
        if name == "id" or not isinstance(dataset, h5py.Dataset):
            continue
        if dataset.shape != (n_total,):
            raise ValueError(
                f"The /0/META/{axis}/{name} dataset of the GCTX file "
                f"{str(path)!r} has shape {dataset.shape}; expected ({n_total},), "
                "one value per id."
            )
        values = dataset[()]
        fields[name] = values if positions is None else values[positions]
    return metadata_frame(fields, ids, "rid" if axis == "ROW" else "cid")


def _read_genes(file, path: Path, landmark_ids, target_ids):
    """Header, row metadata and resolved landmarks/targets of an open file."""
    matrix, gene_ids, sample_ids = _gctx_header(file, path)
    row_metadata = _read_metadata(file, path, "ROW", gene_ids)
    if landmark_ids is None:
        landmark_ids = landmarks_from_metadata(row_metadata, path)
    genes = _resolve_genes(gene_ids, landmark_ids, target_ids)
    return matrix, gene_ids, sample_ids, row_metadata, genes


def _read_rows(matrix, rows, landmarks, targets, dtype, path, where):
    """``X`` and ``y``: the ``rows`` of ``matrix`` (in that order), read a
    chunk of ascending rows at a time; finite values beyond ``dtype`` raise."""
    out_dtype = matrix.dtype if dtype is None else np.dtype(dtype)
    try:
        X = np.empty((len(rows), len(landmarks)), dtype=out_dtype)
        y = np.empty((len(rows), len(targets)), dtype=out_dtype)
    except (MemoryError, ValueError) as exc:  # ValueError: "array is too big"
        raise ValueError(
            f"The GCTX file {str(path)!r} declares {matrix.shape[0]} samples x "
            f"{matrix.shape[1]} genes; reading {len(rows)} samples of "
            f"{len(landmarks) + len(targets)} genes as {out_dtype} needs "
            f"{len(rows) * (len(landmarks) + len(targets)) * out_dtype.itemsize:,} "
            "bytes, more than this machine can give. Read fewer samples "
            "(sample_ids=) or stream the file with open_gctx."
        ) from exc
    # h5py reads ascending rows; put them back in the requested order.
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    chunk = max(1, _GCTX_CHUNK_ELEMENTS // max(matrix.shape[1], 1))
    blocks = read_sorted(matrix, sorted_rows, max_rows=chunk, gather=True)
    for position, block in blocks:
        read = slice(position, position + len(block))
        block = cast_checked(
            block,
            out_dtype,
            f"The file {str(path)!r}",
            lambda row, column, first=position: where(sorted_rows[first + row], column),
        )
        X[order[read]] = block[:, landmarks]
        y[order[read]] = block[:, targets]
    return X, y


def load_gctx(
    path: PathLike,
    landmark_ids: ArrayLike | None = None,
    *,
    target_ids: ArrayLike | None = None,
    sample_ids: ArrayLike | None = None,
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Load a GCTX (HDF5) file, such as the LINCS L1000 data, as landmarks and targets.

    A GCTX file [1]_ stores a genes x samples matrix at ``/0/DATA/0/matrix``,
    the gene (row) ids at ``/0/META/ROW/id`` and the sample (column) ids at
    ``/0/META/COL/id``; h5py sees the matrix as samples x genes, the layout
    returned here. The row and column metadata (one dataset per field under
    ``/0/META/ROW`` and ``/0/META/COL``) are returned as DataFrames. Samples
    are read a chunk at a time, so a subset of a large file (``sample_ids``)
    needs memory for that subset only. Requires h5py and pandas (cmapPy is
    not needed; version 4.0.1 fails with NumPy 2 and pandas 3).

    Parameters
    ----------
    path : str or path-like
        The ``.gctx`` file.
    landmark_ids : array-like of shape (n_landmarks,), default=None
        Row ids of the landmark genes (e.g. the Entrez ids of the L1000
        landmarks, :func:`l1000_landmark_ids`), in the order wanted for ``X``.
        None takes the rows that the file's ``pr_is_lmark`` row metadata flags
        (1 or Y), in file order; an error if the file has no such field. A
        file whose every row is flagged 0, such as the inferred genes that
        ``sktaaf predict`` writes, has no landmarks: ``X`` has no columns and
        ``y`` holds every gene, so ``load_gctx(path)`` reads it as it is.
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
        ``X``, ``y``, ``landmark_ids``, ``target_ids``, ``sample_ids`` (see
        :func:`split_landmarks`), and

        row_metadata : DataFrame of shape (n_genes, n_row_fields)
            The row metadata of every gene of the file, in file order, indexed
            by gene id (index name ``"rid"``); e.g.
            ``data.row_metadata.loc[data.target_ids, "pr_gene_symbol"]``.
        col_metadata : DataFrame of shape (n_samples, n_col_fields)
            The column metadata of the samples read, indexed by sample id
            (index name ``"cid"``), in the order of the rows of ``X``.

        Metadata nulls (``-666``, ``na``, ...) become NaN and text fields
        whose values are all numbers become numeric, as cmapPy reads them.

    Raises
    ------
    ValueError
        When the file is not GCTX, its matrix holds no numbers, a finite
        value exceeds ``dtype`` (e.g. 1e39 in a float64 file, for float32),
        a sample id of ``sample_ids`` names several samples of the file, or
        the samples asked for cannot be held in memory.

    See Also
    --------
    write_gctx : Write profiles and metadata as GCTX.
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
    _import("pandas", "pandas", "load_gctx")
    file, path = _open_gctx_file(path, "load_gctx")
    with file, _read_errors(path, "GCTX", _GCTX_ERRORS):
        matrix, gene_ids, all_sample_ids, row_metadata, genes = _read_genes(
            file, path, landmark_ids, target_ids
        )
        landmarks, targets, landmark_ids, target_ids = genes
        if sample_ids is None:
            rows = np.arange(len(all_sample_ids))
            sample_ids = all_sample_ids
        else:
            sample_ids = _as_ids(sample_ids, "sample_ids")
            rows = _positions(all_sample_ids, sample_ids, "sample ids", "column ids")
        col_metadata = _read_metadata(file, path, "COL", sample_ids, rows)

        def where(row, column):
            return f"row id {gene_ids[column]!r}, column id {all_sample_ids[row]!r}"

        X, y = _read_rows(matrix, rows, landmarks, targets, dtype, path, where)
    data = _bunch(X, y, landmark_ids, target_ids, sample_ids)
    data.row_metadata = row_metadata
    data.col_metadata = col_metadata
    return data


def open_gctx(
    path: PathLike,
    landmark_ids: ArrayLike | None = None,
    *,
    target_ids: ArrayLike | None = None,
) -> Bunch:
    """Open a GCTX file for streaming: landmark and target views, not arrays.

    Unlike :func:`load_gctx`, nothing is read but the ids and the metadata:
    ``X`` and ``y`` are :class:`ColumnRows` views of the file's matrix, which
    the estimators read chunk by chunk, so files larger than memory can be
    trained on. The views read the file while it is open; once it is closed,
    using them raises a ValueError that says so.

    Parameters
    ----------
    path : str or path-like
        The GCTX file.
    landmark_ids : sequence of str, default=None
        Ids of the landmark genes (rows ids of the GCTX matrix). None takes
        the rows flagged by the file's ``pr_is_lmark`` row metadata.
    target_ids : sequence of str, default=None
        Ids of the target genes; by default every gene that is not a landmark.

    Returns
    -------
    data : sklearn.utils.Bunch
        ``X`` and ``y`` (:class:`ColumnRows`), ``landmark_ids``, ``target_ids``,
        ``sample_ids``, ``row_metadata`` and ``col_metadata`` (as
        :func:`load_gctx` gives them, for every sample of the file), and
        ``file``, the open ``h5py.File`` (close it, or use the bunch's file as
        a context manager, when done).

    Examples
    --------
    >>> import os, tempfile
    >>> import h5py, numpy as np
    >>> from sktaaf.datasets import open_gctx
    >>> path = os.path.join(tempfile.mkdtemp(), "data.gctx")
    >>> with h5py.File(path, "w") as file:
    ...     _ = file.create_dataset("0/DATA/0/matrix", data=np.eye(3, dtype="f4"))
    ...     _ = file.create_dataset("0/META/ROW/id", data=[b"g1", b"g2", b"g3"])
    ...     _ = file.create_dataset("0/META/COL/id", data=[b"s1", b"s2", b"s3"])
    >>> data = open_gctx(path, landmark_ids=["g3", "g1"])
    >>> data.X.shape, data.y.shape
    ((3, 2), (3, 1))
    >>> data.X[0:3]
    array([[0., 1.],
           [0., 0.],
           [1., 0.]], dtype=float32)
    >>> data.file.close()
    """
    _import("pandas", "pandas", "open_gctx")
    file, path = _open_gctx_file(path, "open_gctx")
    try:
        with _read_errors(path, "GCTX", _GCTX_ERRORS):
            matrix, _, sample_ids, row_metadata, genes = _read_genes(
                file, path, landmark_ids, target_ids
            )
            col_metadata = _read_metadata(file, path, "COL", sample_ids)
    except BaseException:
        file.close()
        raise
    landmarks, targets, landmark_ids, target_ids = genes
    return Bunch(
        X=ColumnRows(matrix, landmarks, source=str(path)),
        y=ColumnRows(matrix, targets, source=str(path)),
        landmark_ids=landmark_ids,
        target_ids=target_ids,
        sample_ids=sample_ids,
        row_metadata=row_metadata,
        col_metadata=col_metadata,
        file=file,
    )


# ------------------------------------------------------------------ writing
def _encode(strings) -> np.ndarray:
    """Fixed-length UTF-8 bytes, as cmapPy writes ids and text metadata."""
    return np.array([value.encode("utf-8") for value in strings], dtype="S")


def _metadata_values(column) -> np.ndarray:
    """A metadata column as the dataset cmapPy would write: numbers stay
    numbers (booleans as 0/1, missing numbers as -666), text becomes bytes
    (missing text as "-666")."""
    kind = column.dtype.kind
    if kind in "biu" and not column.isna().any():
        return column.to_numpy(dtype=np.int8 if kind == "b" else None)
    if kind in "biuf":
        values = np.array(column.to_numpy(dtype=np.float64, na_value=np.nan))
        values[np.isnan(values)] = -666.0
        return values
    return _encode(text_values(column))


@contextmanager
def gctx_writer(path: Path):
    """An h5py file writing the GCTX file ``path`` atomically (see
    :func:`~sktaaf._utils._atomic.atomic_binary_file`), with its version and
    source attributes, and the raw file beneath it.

    h5py writes through a :class:`~sktaaf._utils._atomic.DeferredErrorsFile`: HDF5
    never sees a failed write (after one, it crashes the process at exit), the
    writer may stop early when ``raw.failed``, and the first write error is
    raised once the HDF5 file is closed.
    """
    h5py = _import("h5py", "h5py", "writing GCTX")
    with atomic_binary_file(path, "write the GCTX file") as raw:
        with h5py.File(raw, "w") as file:
            file.attrs["version"] = np.bytes_(_GCTX_VERSION)
            file.attrs["src"] = np.bytes_(Path(path).name.encode("utf-8"))
            yield file, raw


def _write_metadata(file, axis: str, ids, metadata, level) -> None:
    options = (
        {} if level is None else {"compression": "gzip", "compression_opts": level}
    )
    group = file.require_group(f"0/META/{axis}")
    group.create_dataset("id", data=_encode(ids), **options)
    for field in metadata.columns:
        group.create_dataset(field, data=_metadata_values(metadata[field]), **options)


def _profile_block(data_frame, start: int, stop: int) -> np.ndarray:
    return profile_values(data_frame.iloc[start:stop].to_numpy())


def write_gctx(
    path: PathLike,
    data_frame,
    row_metadata=None,
    col_metadata=None,
    *,
    dtype: DTypeLike = np.float32,
    compression_level: int | None = 6,
) -> Path:
    """Write expression profiles and their metadata as a GCTX (HDF5) file.

    The file has the layout that cmapPy's ``write_gctx`` and the CMap tools
    write and read [1]_: the matrix at ``/0/DATA/0/matrix``, stored samples x
    genes (the HDF5 dataset has shape ``(n_samples, n_genes)``, i.e. columns x
    rows of the genes x samples GCT view), the gene (row) ids at
    ``/0/META/ROW/id``, the sample (column) ids at ``/0/META/COL/id``, one
    dataset per metadata field beside them, and the file attribute
    ``version = "GCTX1.0"``. Ids and text are fixed-length UTF-8 byte strings
    (cmapPy 4.0.1 reads ASCII only);
    numeric metadata stay numeric (booleans as 0/1); missing metadata are
    written as CMap's null, ``-666``. The matrix is chunked by whole samples
    (about 1 MiB a chunk) and the metadata are gzip-compressed, as cmapPy
    does. The file is written under a temporary name and moved into place,
    so an interrupted or failed write (a full disk) leaves ``path`` as it
    was; a file written over keeps its permissions, and a folder, device or
    FIFO at ``path`` is refused, never replaced. What is written reads back
    unchanged: values the readers would return otherwise are refused (NUL
    characters, complex numbers, dates) or written with a
    :class:`~sktaaf.exceptions.RoundTripWarning` (text equal to a CMap null
    such as ``"NA"``, numeric-looking text such as ``"001"``); bytes ids are
    decoded as UTF-8, as the loaders decode them.

    Parameters
    ----------
    path : str or path-like
        The file to write (``.gctx`` by convention; no suffix is added).
    data_frame : DataFrame of shape (n_samples, n_genes)
        The profiles, one sample per row, one gene per column: the index
        holds the sample ids (GCTX column ids, ``cid``), the columns the gene
        ids (GCTX row ids, ``rid``); e.g. inferred target genes.
    row_metadata : DataFrame of shape (n_genes, n_row_fields), default=None
        Gene metadata (``pr_gene_symbol``, ``pr_is_lmark``, ...) indexed by
        gene id; every gene of ``data_frame`` must have a row (extra rows are
        left out). A loader's ``row_metadata`` can be passed as it is.
    col_metadata : DataFrame of shape (n_samples, n_col_fields), default=None
        Sample metadata (``cell_id``, ``pert_iname``, ...) indexed by sample
        id, likewise.
    dtype : {np.float32, np.float64}, default=np.float32
        Storage type of the matrix (cmapPy's ``matrix_dtype``).
    compression_level : int or None, default=6
        gzip level of the metadata datasets; None writes them uncompressed.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        When ids repeat, metadata lack some ids, a field name holds ``/``
        (an HDF5 path separator) or is ``id``, ``""`` or ``"."``, an id or
        text holds a NUL character or is not valid Unicode, a metadata value
        would read back damaged, or a finite value exceeds ``dtype``.
    OSError
        When ``path`` is a folder or not a regular file, or the write fails
        (naming ``path``; "disk full or file size limit" for a full disk).

    See Also
    --------
    load_gctx, open_gctx : Read the file back.
    write_gct : The text form.

    References
    ----------
    .. [1] Broad Institute, "GCTX format",
       https://clue.io/connectopedia/gctx_format; and cmapPy,
       ``cmapPy/pandasGEXpress/write_gctx.py``, https://github.com/cmap/cmapPy

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from sktaaf.datasets import load_gctx, write_gctx
    >>> profiles = pd.DataFrame([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
    ...                         index=["s1", "s2"], columns=["5720", "466", "6009"])
    >>> genes = pd.DataFrame({"pr_gene_symbol": ["PSME1", "ATF1", "RHEB"],
    ...                       "pr_is_lmark": [1, 0, 0]}, index=profiles.columns)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_gctx(pathlib.Path(folder) / "out.gctx", profiles, genes)
    ...     data = load_gctx(path)  # landmarks from pr_is_lmark
    >>> data.X.ravel(), list(data.target_ids)
    (array([1., 4.], dtype=float32), ['466', '6009'])
    >>> data.row_metadata["pr_gene_symbol"].tolist()
    ['PSME1', 'ATF1', 'RHEB']
    """
    _import("h5py", "h5py", "write_gctx")
    sample_ids, gene_ids = profile_ids(data_frame, "write_gctx")
    rows = aligned_metadata(
        row_metadata, gene_ids, "row_metadata", "gene ids (the data_frame's columns)"
    )
    cols = aligned_metadata(
        col_metadata, sample_ids, "col_metadata", "sample ids (the data_frame's index)"
    )
    for metadata, name in ((rows, "row_metadata"), (cols, "col_metadata")):
        check_fields(metadata, name, hdf5=True)
        check_metadata(metadata, name)
        slashed = [field for field in metadata.columns if "/" in field]
        if slashed:
            raise ValueError(
                f"The fields of {name} may not hold '/', which separates HDF5 "
                f"groups; rename {slashed[:5]} (cmapPy writes '|' instead)."
            )
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be np.float32 or np.float64; got {dtype}.")
    path = as_path(path, "write the GCTX file")
    n_samples, n_genes = data_frame.shape
    per_chunk = max(1, _GCTX_WRITE_CHUNK_BYTES // (dtype.itemsize * max(n_genes, 1)))
    chunks = (min(n_samples, per_chunk), n_genes) if n_samples and n_genes else None
    step = max(1, _GCTX_CHUNK_ELEMENTS // max(n_genes, 1))
    with gctx_writer(path) as (file, raw):
        matrix = file.create_dataset(
            _GCTX_MATRIX, shape=(n_samples, n_genes), dtype=dtype, chunks=chunks
        )
        for start in range(0, n_samples, step):
            matrix[start : start + step] = cast_checked(
                _profile_block(data_frame, start, start + step),
                dtype,
                "data_frame",
                lambda row, column, start=start: (
                    f"sample {sample_ids[start + row]!r}, gene {gene_ids[column]!r}"
                ),
            )
            if raw.failed:  # the disk is full: stop, close, raise
                break
        _write_metadata(file, "ROW", gene_ids, rows, compression_level)
        _write_metadata(file, "COL", sample_ids, cols, compression_level)
    return path
