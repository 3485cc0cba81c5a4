"""GCT text files (versions 1.2 and 1.3), plain or gzipped."""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from sklearn.utils import Bunch

from .._utils._atomic import as_path, atomic_write
from ._common import PathLike, _check_file, _import, _read_errors, cast_checked
from ._ids import _as_ids, split_landmarks
from ._metadata import (
    aligned_metadata,
    check_fields,
    check_metadata,
    check_text,
    landmarks_from_metadata,
    metadata_frame,
    profile_ids,
    profile_values,
    text_values,
)

__all__ = ["load_gct", "write_gct"]


# Null values of GCT data cells: cmapPy's list (CMap writes "NaN" or "na").
_DATA_NULLS = ["", "#N/A", "N/A", "NA", "#NA", "NULL", "NaN", "-NaN", "nan", "-nan"]
_DATA_NULLS += ["NAN", "#N/A!", "na", "None", "#VALUE!"]
# Values parsed at once (a chunk of data lines): bounds the float64 buffer.
_CHUNK_VALUES = 2**22


_GZIP_MAGIC = b"\x1f\x8b"


def _is_gzipped(path: Path) -> bool:
    """Whether the file is gzip-compressed: by its first bytes, whatever its
    suffix (``.gct.gz``, ``.GCT.GZ``, or none)."""
    with open(path, "rb") as file:
        return file.read(2) == _GZIP_MAGIC


def _open_text(path: Path):
    opener = gzip.open if _is_gzipped(path) else open
    return opener(path, "rt", encoding="utf-8")


def _fields(line: str, expected: int, path: Path, line_number: int, what: str):
    """The tab-separated fields of ``line``, checked to be ``expected`` many."""
    fields = line.rstrip("\r\n").split("\t")
    if len(fields) != expected:
        raise ValueError(
            f"Line {line_number} of the GCT file {str(path)!r} has {len(fields)} "
            f"tab-separated fields but {expected} were expected ({what}). A short "
            "line or a stray tab would shift the values; GCT has no quoting."
        )
    return fields


def _read_dimensions(file, path: Path):
    """Version line and dimensions line: (n_rows, n_cols, n_row_meta, n_col_meta)."""
    version = file.readline().strip()
    dimensions = [field for field in file.readline().split() if field]
    try:
        dimensions = [int(field) for field in dimensions]
    except ValueError:
        dimensions = []
    if any(size < 0 for size in dimensions):
        dimensions = []
    if version == "#1.2" and len(dimensions) >= 2:
        return (*dimensions[:2], 1, 0)  # the Description column
    if version == "#1.3" and len(dimensions) >= 4:
        return tuple(dimensions[:4])
    raise ValueError(
        f"{str(path)!r} is not a GCT file: expected '#1.2' or '#1.3' on the "
        "first line and the dimensions on the second, got "
        f"{version[:20]!r} and {' '.join(map(str, dimensions))[:40]!r}."
    )


class _ValueText(io.TextIOBase):
    """The value fields of a GCT file's data lines, as text that pandas parses.

    Lines are read as pandas asks for text, each checked for its number of
    fields; their ids and row metadata are kept in :attr:`heads` and their
    line numbers in :attr:`line_numbers`. Blank lines end the data.
    """

    def __init__(self, file, path: Path, header: list, layout: tuple, first_line):
        self._file, self._path, self._header = file, path, header
        self._n_rows, self._n_cols, self._first_value = layout
        self._line_number = first_line - 1
        self._pending, self._blank = "", None
        self.heads: list[list[str]] = []
        self.line_numbers: list[int] = []
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def _check(self, line: str) -> None:
        n_fields = self._first_value + self._n_cols
        if self._blank is not None:  # a blank line inside the data
            _fields("", n_fields, self._path, self._blank, self.what)
        if line.count("\t") != n_fields - 1:  # counting is faster than split
            _fields(line, n_fields, self._path, self._line_number, self.what)
        if len(self.heads) == self._n_rows:
            raise ValueError(
                f"The GCT file {str(self._path)!r} holds more data rows than the "
                f"{self._n_rows} genes its dimensions line declares (line "
                f"{self._line_number})."
            )

    @property
    def what(self) -> str:
        return (
            f"1 id + {self._first_value - 1} row-metadata + {self._n_cols} sample "
            "columns, as the dimensions line declares"
        )

    def _next_values(self) -> str | None:
        """The value text of the next data line, or None at the end."""
        for line in self._file:
            self._line_number += 1
            if len(line) < 3 and not line.strip():  # blank: "\n" or "\r\n"
                self._blank = self._blank or self._line_number
                continue
            self._check(line)
            fields = line.split("\t", self._first_value)
            rest = fields.pop() if self._n_cols else "\n"
            if not self._n_cols:
                fields[-1] = fields[-1].rstrip("\r\n")
            self.heads.append(fields)
            self.line_numbers.append(self._line_number)
            return rest if rest.endswith("\n") else rest + "\n"
        return None

    def read(self, size: int | None = -1) -> str:
        parts, length = [self._pending], len(self._pending)
        try:
            while size is None or size < 0 or length < size:
                rest = self._next_values()
                if rest is None:
                    break
                parts.append(rest)
                length += len(rest)
        except ValueError as exc:
            self.error = exc
            raise
        text = "".join(parts)
        if size is None or size < 0:
            self._pending = ""
            return text
        self._pending = text[size:]
        return text[:size]


def _not_a_number(path: Path, stream: _ValueText) -> ValueError:
    """The error for a cell that pandas could not parse, naming it (slow: reads
    the data lines read so far again, on this error path only)."""
    nulls, data_lines = set(_DATA_NULLS), set(stream.line_numbers)
    first_value = stream._first_value
    with _open_text(path) as file:
        for line_number, line in enumerate(file, start=1):
            if line_number not in data_lines:
                continue
            cells = line.rstrip("\r\n").split("\t")[first_value:]
            for column, cell in enumerate(cells):
                problem = _cell_problem(cell, nulls)
                if problem:
                    sample = stream._header[first_value + column]
                    return ValueError(
                        f"Line {line_number} of the GCT file {str(path)!r} holds "
                        f"{cell!r} for sample {sample!r}, which {problem}."
                    )
    return ValueError(f"The GCT file {str(path)!r} has values that are not numbers.")


# A number as GCT files write it: ASCII digits, no "_" separators.
_NUMBER = re.compile(
    r"\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)\s*",
    re.ASCII | re.IGNORECASE,
)


def _cell_problem(cell: str, nulls) -> str | None:
    """Why pandas refused ``cell`` (None if it looks like a number)."""
    if cell in nulls:
        return None
    if not _NUMBER.fullmatch(cell):
        return "is not a number in GCT notation (ASCII digits, no '_')"
    if np.isinf(float(cell)) and "inf" not in cell.lower():
        largest = np.finfo(np.float64).max
        return f"is beyond the range of float64 (largest {largest:.6g})"
    return None


def _chunks(reader, stream: _ValueText, path: Path):
    """The chunks of ``reader``, with pandas' parse errors made clear."""
    pd = _import("pandas", "pandas", "load_gct")
    chunks = iter(reader)
    while True:
        try:
            yield next(chunks)
        except (StopIteration, pd.errors.EmptyDataError):  # the end; no data
            return
        except ValueError as exc:
            if exc is stream.error:  # a ragged line, or too many: ours
                raise
            raise _not_a_number(path, stream) from exc


def _reader(pd, stream, n_cols: int, exact: bool):
    """pandas' chunked reader of the value text. ``exact``: parse correctly
    rounded (``"round_trip"``, 2-3 times slower); pandas' default parser
    misreads about 45% of 17-digit values by up to thousands of float64 ulps,
    an error float32 results never showed (none in 2 million values)."""
    return pd.read_csv(
        stream,
        sep="\t",
        header=None,
        names=range(max(n_cols, 1)),
        index_col=False,
        dtype=np.float64,
        float_precision="round_trip" if exact else None,
        keep_default_na=False,
        na_values=_DATA_NULLS,
        quoting=csv.QUOTE_NONE,  # GCT has no quoting: '"' is a character
        skip_blank_lines=False,  # an empty value in the one sample column
        engine="c",
        chunksize=max(1, _CHUNK_VALUES // max(n_cols, 1)),
    )


def _read_values(file, path: Path, header, layout, first_line, dtype):
    """Values (genes x samples), ids and row-metadata text of the data lines."""
    pd = _import("pandas", "pandas", "load_gct")
    n_rows, n_cols, first_value = layout
    values = _allocate(path, n_rows, n_cols, dtype)
    stream = _ValueText(file, path, header, layout, first_line)
    try:
        reader = _reader(pd, stream, n_cols, exact=values.dtype.itemsize > 4)
    except pd.errors.EmptyDataError:  # no data line at all
        reader = []
    done = 0

    def where(row, column):
        return (
            f"line {stream.line_numbers[done + row]} (row id "
            f"{stream.heads[done + row][0]!r}, column id "
            f"{header[first_value + column]!r})"
        )

    for chunk in _chunks(reader, stream, path):
        numbers = chunk.to_numpy()[:, :n_cols]
        values[done : done + len(numbers)] = cast_checked(
            numbers, values.dtype, f"The file {str(path)!r}", where
        )
        done += len(numbers)
    if done != n_rows:
        raise ValueError(
            f"The GCT file {str(path)!r} declares {n_rows} genes x {n_cols} "
            f"samples but holds {done} data rows."
        )
    row_text = np.empty((n_rows, first_value), dtype=object)
    if n_rows:
        row_text[:] = stream.heads
    return values, row_text


def _read_gct(path: Path, dtype):
    """The data of a GCT 1.2 or 1.3 file.

    Returns the genes x samples values (of ``dtype``, float64 if None), the
    gene ids, the sample ids, the row metadata (name -> text values) and the
    column metadata (name -> text values).
    """
    with _open_text(path) as file:
        n_rows, n_cols, n_row_meta, n_col_meta = _read_dimensions(file, path)
        n_fields = 1 + n_row_meta + n_cols
        what = (
            f"1 id + {n_row_meta} row-metadata + {n_cols} sample columns, as the "
            "dimensions line declares"
        )
        header = _fields(file.readline(), n_fields, path, 3, what)
        first_value = 1 + n_row_meta
        col_meta = {}
        for line_number in range(4, 4 + n_col_meta):
            fields = _fields(file.readline(), n_fields, path, line_number, what)
            col_meta[fields[0]] = fields[first_value:]
        values, row_text = _read_values(
            file, path, header, (n_rows, n_cols, first_value), 4 + n_col_meta, dtype
        )
    row_meta = {
        name: row_text[:, 1 + i] for i, name in enumerate(header[1:first_value])
    }
    return values, row_text[:, 0], header[first_value:], row_meta, col_meta


def _allocate(path: Path, n_rows: int, n_cols: int, dtype) -> np.ndarray:
    dtype = np.float64 if dtype is None else np.dtype(dtype)
    if not _is_gzipped(path) and n_rows * (n_cols + 1) > path.stat().st_size:
        raise ValueError(
            f"The GCT file {str(path)!r} declares {n_rows} genes x {n_cols} "
            f"samples, more values than its {path.stat().st_size} bytes can hold."
        )
    try:
        return np.empty((n_rows, n_cols), dtype=dtype)
    except (MemoryError, ValueError) as exc:
        raise ValueError(
            f"The GCT file {str(path)!r} declares {n_rows} genes x {n_cols} "
            f"samples, too many to hold in memory: {exc}"
        ) from exc


def load_gct(
    path: PathLike,
    landmark_ids: ArrayLike | None = None,
    *,
    target_ids: ArrayLike | None = None,
    dtype: DTypeLike | None = np.float32,
) -> Bunch:
    """Load a GCT text file (genes x samples) as landmarks and targets.

    Reads GCT versions 1.2 and 1.3 [1]_, plain or gzipped (told by the
    file's first bytes, whatever its suffix: ``.gct.gz``, ``.GCT.GZ``). The
    row ids are the gene ids, the column ids the sample ids; the row and
    column metadata of GCT 1.3 (the ``Description`` column of GCT 1.2) are
    returned as DataFrames. GCT has no quoting: every field is read verbatim,
    a ``"`` included. The file is read once, a few megabytes of text at a
    time, into one array of ``dtype``. Requires pandas.

    Parameters
    ----------
    path : str or path-like
        The ``.gct`` or ``.gct.gz`` file.
    landmark_ids : array-like of shape (n_landmarks,), default=None
        Ids (row ids of the file) of the landmark genes, in the order wanted
        for ``X``. None takes the rows that the file's ``pr_is_lmark`` row
        metadata flags (1 or Y), in file order; an error if the file has no
        such field; none (``X`` without columns) if it flags no row, as in
        the files of inferred genes that ``sktaaf predict`` writes. For the
        L1000 landmarks under another id, see :func:`l1000_landmark_ids`.
    target_ids : array-like of shape (n_targets,), default=None
        Ids of the target genes; None takes every other gene, in file order.
    dtype : data-type or None, default=np.float32
        dtype of ``X`` and ``y``; None keeps float64, parsed correctly rounded
        (every 17-digit value written by :func:`write_gct` reads back exactly).

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
            The column metadata of the samples, indexed by sample id (index
            name ``"cid"``), in the order of the rows of ``X``.

        Metadata nulls (``-666``, ``na``, ``NaN``, ...) become NaN and fields
        whose values are all numbers become numeric, as cmapPy reads them.

    Raises
    ------
    ValueError
        When the file is not GCT, a line has another number of fields than the
        header (naming the line), a value is not a number, or a finite value
        exceeds ``dtype`` (e.g. 1e39 for float32).

    See Also
    --------
    load_gctx : The binary (HDF5) form of the same data.
    write_gct : Write profiles and metadata as GCT 1.3.
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
    >>> text = ("#1.3\\n2\\t3\\t2\\t1\\n"
    ...         "id\\tpr_gene_symbol\\tpr_is_lmark\\ts1\\ts2\\ts3\\n"
    ...         "cell_id\\tna\\tna\\tA375\\tA375\\tMCF7\\n"
    ...         "5720\\tPSME1\\t1\\t1\\t2\\t3\\n"
    ...         "2101\\tESRRA\\t0\\t4\\t5\\t6\\n")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder) / "tiny.gct"
    ...     _ = path.write_text(text)
    ...     data = load_gct(path)  # the landmarks flagged by pr_is_lmark
    >>> data.X.ravel(), data.y.ravel(), list(data.sample_ids)
    (array([1., 2., 3.], dtype=float32), array([4., 5., 6.], dtype=float32), \
['s1', 's2', 's3'])
    >>> data.row_metadata.loc[data.target_ids, "pr_gene_symbol"].tolist()
    ['ESRRA']
    >>> data.col_metadata["cell_id"].tolist()
    ['A375', 'A375', 'MCF7']
    """
    _import("pandas", "pandas", "load_gct")
    path = _check_file(path, "GCT")
    # Damaged gzip streams raise OSError, EOFError or zlib.error.
    with _read_errors(
        path, "GCT", (UnicodeDecodeError, EOFError, gzip.BadGzipFile, zlib.error)
    ):
        values, gene_ids, sample_ids, row_fields, col_fields = _read_gct(path, dtype)
    gene_ids = _as_ids(gene_ids, "the file's row ids")
    row_metadata = metadata_frame(row_fields, gene_ids, "rid")
    if landmark_ids is None:
        landmark_ids = landmarks_from_metadata(row_metadata, path)
    data = split_landmarks(
        values.T,
        gene_ids,
        landmark_ids,
        target_ids=target_ids,
        sample_ids=sample_ids,
        dtype=None,
    )
    data.row_metadata = row_metadata
    data.col_metadata = metadata_frame(col_fields, data.sample_ids, "cid")
    return data


# ------------------------------------------------------------------ writing
# Values formatted at once when writing: bounds the text buffer.
_WRITE_ELEMENTS = 2**22


def is_gzip_name(path: Path) -> bool:
    """Whether a file written to ``path`` is gzipped: a ``.gz`` suffix, in
    any case (``.gct.gz``, ``.GCT.GZ``)."""
    return path.suffix.lower() == ".gz"


@contextmanager
def _text_writer(partial: Path, path: Path):
    """A UTF-8 text file writing ``partial``, gzipped if ``path`` is a gzip
    name (the gzip header names ``path``, not the temporary file)."""
    with open(partial, "wb") as raw:
        if not is_gzip_name(path):
            with io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as file:
                yield file
            return
        name = path.name[: -len(path.suffix)]
        with gzip.GzipFile(name, "wb", fileobj=raw) as compressed:
            with io.TextIOWrapper(compressed, encoding="utf-8", newline="\n") as file:
                yield file


def _text_block(data_frame, start: int, stop: int) -> np.ndarray:
    """Genes ``start:stop`` of ``data_frame`` as text, genes x samples: the
    shortest repr that reads back to the same value of the column's dtype."""
    values = profile_values(data_frame.iloc[:, start:stop].to_numpy())
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    with np.errstate(invalid="ignore"):  # numpy 1.24 warns casting NaN to text
        text = values.astype(str)
    return np.where(np.isnan(values), "NaN", text).T


def write_gct(
    path: PathLike,
    data_frame,
    row_metadata=None,
    col_metadata=None,
) -> Path:
    """Write expression profiles and their metadata as a GCT 1.3 text file.

    The layout of the GCT 1.3 format [1]_, as cmapPy's ``write_gct`` writes
    it: the line ``#1.3``; the dimensions line (number of genes, of samples,
    of row-metadata fields, of column-metadata fields); the header ``id``,
    the row-metadata field names and the sample ids; one line per
    column-metadata field (its name, ``na`` under the row-metadata fields,
    its values); then one line per gene: its id, its row metadata and its
    values. Genes are the rows of the file, samples its columns. Missing
    values are written ``NaN``, missing metadata ``-666`` (CMap's null);
    values are written in the shortest form that reads back to the same
    number. A path ending in ``.gz`` (in any case) is gzipped. The file is
    written as :func:`write_gctx` writes its file (atomically, never over a
    non-regular file, keeping permissions; what is written reads back
    unchanged, or a :class:`~sktaaf.exceptions.RoundTripWarning` says what
    will not).

    Parameters
    ----------
    path : str or path-like
        The file to write (``.gct``, or ``.gct.gz`` to compress it).
    data_frame : DataFrame of shape (n_samples, n_genes)
        The profiles, one sample per row (the index holds the sample ids),
        one gene per column (the columns hold the gene ids).
    row_metadata : DataFrame of shape (n_genes, n_row_fields), default=None
        Gene metadata indexed by gene id; every gene must have a row.
    col_metadata : DataFrame of shape (n_samples, n_col_fields), default=None
        Sample metadata indexed by sample id; every sample must have a row.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        When ids repeat, metadata lack some ids, or an id, field name or
        metadata value holds a tab or a line break (GCT has no quoting).

    See Also
    --------
    load_gct : Read the file back.
    write_gctx : The binary (HDF5) form.

    References
    ----------
    .. [1] Broad Institute, "GCT: Gene Cluster Text file format",
       https://clue.io/connectopedia/gct_format; and cmapPy,
       ``cmapPy/pandasGEXpress/write_gct.py``, https://github.com/cmap/cmapPy

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from sktaaf.datasets import write_gct
    >>> profiles = pd.DataFrame([[1.5, 2.0], [4.0, None]],
    ...                         index=["s1", "s2"], columns=["5720", "466"])
    >>> samples = pd.DataFrame({"cell_id": ["A375", "PC3"]}, index=profiles.index)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_gct(pathlib.Path(folder) / "out.gct", profiles,
    ...                      col_metadata=samples)
    ...     print(path.read_text(), end="")
    #1.3
    2	2	0	1
    id	s1	s2
    cell_id	A375	PC3
    5720	1.5	4.0
    466	2.0	NaN
    """
    sample_ids, gene_ids = profile_ids(data_frame, "write_gct")
    rows = aligned_metadata(
        row_metadata, gene_ids, "row_metadata", "gene ids (the data_frame's columns)"
    )
    cols = aligned_metadata(
        col_metadata, sample_ids, "col_metadata", "sample ids (the data_frame's index)"
    )
    for metadata, name in ((rows, "row_metadata"), (cols, "col_metadata")):
        check_fields(metadata, name, hdf5=False)
        check_metadata(metadata, name)
    check_text(sample_ids, "The data_frame's index (sample ids)")
    check_text(gene_ids, "The data_frame's columns (gene ids)")
    row_text = [text_values(rows[field]) for field in rows.columns]
    col_text = [text_values(cols[field]) for field in cols.columns]
    for name, frame, texts in (("row", rows, row_text), ("col", cols, col_text)):
        check_text(frame.columns, f"The fields of {name}_metadata")
        for field, values in zip(frame.columns, texts, strict=True):
            check_text(values, f"Field {field!r} of {name}_metadata")
    path = as_path(path, "write the GCT file")
    n_samples, n_genes = data_frame.shape
    filler = ["na"] * len(rows.columns)
    step = max(1, _WRITE_ELEMENTS // max(n_samples, 1))
    with atomic_write(path, "write the GCT file") as partial:
        with _text_writer(partial, path) as file:
            file.write("#1.3\n")
            file.write(f"{n_genes}\t{n_samples}\t{len(rows.columns)}\t")
            file.write(f"{len(cols.columns)}\n")
            file.write("\t".join(["id", *rows.columns, *sample_ids]) + "\n")
            for field, values in zip(cols.columns, col_text, strict=True):
                file.write("\t".join([field, *filler, *values]) + "\n")
            for start in range(0, n_genes, step):
                block = _text_block(data_frame, start, start + step)
                for offset, values in enumerate(block):
                    gene = start + offset
                    meta = [texts[gene] for texts in row_text]
                    file.write("\t".join([gene_ids[gene], *meta, *values]) + "\n")
    return path
