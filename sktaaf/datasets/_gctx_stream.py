"""Predict from a GCTX file into a GCTX file, a chunk of samples at a time.

:func:`predict_gctx` reads the landmark rows of a GCTX file a block of samples
at a time (in file order), predicts each block with a fitted model and writes
the predictions into the output GCTX as it goes, so that memory does not grow
with the number of samples. A thread reads the next block and another writes
the last one while the model computes. The output has the layout of
:func:`~sktaaf.datasets.write_gctx` and appears only when complete.

The model is duck-typed (anything with ``predict``): this module knows no
estimator, as the rest of :mod:`sktaaf.datasets`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .._data._columns import ColumnRows
from .._utils._atomic import as_path, same_file
from ._common import PathLike, _import, _read_errors, cast_checked
from ._gctx import (
    _GCTX_COL_IDS,
    _GCTX_ERRORS,
    _GCTX_MATRIX,
    _GCTX_ROW_IDS,
    _GCTX_WRITE_CHUNK_BYTES,
    _decode,
    _open_gctx_file,
    _write_metadata,
    gctx_writer,
)
from ._ids import _as_ids, _resolve_genes
from ._metadata import aligned_metadata

__all__ = ["predict_gctx"]

# Values per block of samples read (the wider of the file's rows and the
# output's): 16 MiB of float32. A few blocks are in flight at once.
_BLOCK_ELEMENTS = 2**22
# Blocks of at least this many samples are cut to a multiple of it, the rows
# per forward pass of the estimators' predict on a CPU.
_BLOCK_MULTIPLE = 4096
# Metadata values copied at a time from the input to the output.
_METADATA_BLOCK = 2**16
# Plain progress lines: at most one per this many seconds (and one at the end).
_PLAIN_EVERY_SECONDS = 30.0


def _check_destination(source: Path, destination: Path) -> None:
    if not destination.parent.is_dir():
        raise FileNotFoundError(
            f"The folder of the destination {str(destination)!r} does not exist."
        )
    if not destination.exists():
        return
    if not destination.is_file():
        raise ValueError(
            f"The destination {str(destination)!r} exists and is not a regular "
            "file; give the path of a new or regular file."
        )
    if same_file(source, destination):
        raise ValueError(
            f"The destination {str(destination)!r} is the source file; an output "
            "never replaces its input. Give another path."
        )


def _header(file, path: Path):
    """The matrix dataset and the decoded gene (row) ids of an open GCTX file,
    checked without reading the sample ids."""
    h5py = _import("h5py", "h5py", "predict_gctx")
    for node in (_GCTX_MATRIX, _GCTX_ROW_IDS, _GCTX_COL_IDS):
        if not isinstance(file.get(node), h5py.Dataset):
            raise ValueError(
                f"{str(path)!r} is not a GCTX file: it has no /{node} dataset."
            )
    matrix = file[_GCTX_MATRIX]
    n_rows, n_cols = file[_GCTX_ROW_IDS].shape, file[_GCTX_COL_IDS].shape
    if matrix.dtype.kind not in "biuf" or matrix.shape != (*n_cols, *n_rows):
        raise ValueError(
            f"The GCTX file {str(path)!r} holds a {matrix.dtype} matrix of shape "
            f"{matrix.shape} with {n_cols} column ids and {n_rows} row ids; "
            "expected numbers, of shape (n_column_ids, n_row_ids)."
        )
    gene_ids = _as_ids(_decode(file[_GCTX_ROW_IDS][()]), "the file's row ids")
    return matrix, gene_ids


def _copy_columns(source, target, n_samples: int, level) -> None:
    """Copy the sample ids and the column metadata of ``source`` (an open
    GCTX file) to ``target``, a block of values at a time, as they are."""
    h5py = _import("h5py", "h5py", "predict_gctx")
    options = {}
    if level is not None and n_samples:
        options = {"compression": "gzip", "compression_opts": level}
    group = target.require_group("0/META/COL")
    for name, dataset in source["0/META/COL"].items():
        if not isinstance(dataset, h5py.Dataset):
            continue
        if dataset.shape != (n_samples,):
            raise ValueError(
                f"The /0/META/COL/{name} dataset of the source has shape "
                f"{dataset.shape}; expected ({n_samples},), one value per sample."
            )
        copy = group.create_dataset(
            name, shape=dataset.shape, dtype=dataset.dtype, **options
        )
        for start in range(0, n_samples, _METADATA_BLOCK):
            copy[start : start + _METADATA_BLOCK] = dataset[
                start : start + _METADATA_BLOCK
            ]


def _output_ids(model, landmark_ids, target_ids, row_metadata):
    """The landmark ids, the output's row ids and its row metadata."""
    if landmark_ids is None:
        landmark_ids = getattr(model, "feature_names_in_", None)
    if landmark_ids is None:
        raise ValueError(
            "predict_gctx matches the model's inputs to the file's rows by id: "
            "give landmark_ids, or a model fitted on a DataFrame (which has "
            "feature_names_in_)."
        )
    if target_ids is None:
        target_ids = getattr(model, "target_names_", None)
    if target_ids is None:
        n_outputs = getattr(model, "n_outputs_", None)
        if n_outputs is None:
            raise ValueError(
                "predict_gctx names the output rows by target_ids; give them "
                "(the model has neither target_names_ nor n_outputs_)."
            )
        target_ids = [f"target_{i}" for i in range(n_outputs)]
    target_ids = [str(value) for value in target_ids]
    rows = aligned_metadata(
        row_metadata, target_ids, "row_metadata", "target ids (the output rows)"
    )
    slashed = [field for field in rows.columns if "/" in field]
    if slashed:
        raise ValueError(
            "The fields of row_metadata may not hold '/', which separates HDF5 "
            f"groups; rename {slashed[:5]}."
        )
    return _as_ids(landmark_ids, "landmark_ids"), target_ids, rows


class _Progress:
    """Samples predicted so far: a tqdm bar (samples/s, time left) on a
    terminal, plain lines elsewhere (logs, pipes), nothing when disabled."""

    def __init__(self, total: int, enabled: bool, stream=None) -> None:
        self.total, self.done = total, 0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.start = self.last = time.monotonic()
        self.bar = None
        if enabled and _is_terminal(self.stream):
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total, unit="sample", unit_scale=True, file=self.stream
            )

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        if self.enabled and now - self.last >= _PLAIN_EVERY_SECONDS:
            self.last = now
            self._line(now)

    def _line(self, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        share = 100 * self.done / max(self.total, 1)
        left = ""
        if self.done < self.total and rate > 0:
            left = f", {(self.total - self.done) / rate:.0f} s left"
        print(
            f"predicted {self.done:,}/{self.total:,} samples ({share:.0f}%), "
            f"{rate:,.0f} samples/s, {elapsed:.1f} s{left}",
            file=self.stream,
            flush=True,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            self._line(time.monotonic())


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


@contextlib.contextmanager
def _batch_size(model, batch_size):
    """``model`` predicting with ``batch_size`` rows per forward pass for the
    duration of the block; its own setting afterwards."""
    if batch_size is None:
        yield
        return
    if not hasattr(model, "set_params") or "batch_size" not in model.get_params():
        raise ValueError(
            f"batch_size={batch_size!r} was given, but the model "
            f"({type(model).__name__}) has no batch_size parameter."
        )
    before = model.get_params()["batch_size"]
    model.set_params(batch_size=batch_size)
    try:
        yield
    finally:
        model.set_params(batch_size=before)


class _Reader:
    """Row blocks of a :class:`ColumnRows` view; errors of a damaged file
    become a ValueError that names it."""

    def __init__(self, view: ColumnRows, path: Path) -> None:
        self.view, self.path = view, path
        self.shape = view.shape

    def __getitem__(self, rows: slice) -> np.ndarray:
        with _read_errors(self.path, "GCTX", _GCTX_ERRORS):
            return self.view[rows]


def _predict_block(model, block, landmark_ids, n_targets, source):
    """The predictions of ``model`` for ``block``, as float32 rows."""
    block = cast_checked(
        block,
        np.float32,
        f"The file {source!r}",
        lambda row, column: f"a sample's landmark {landmark_ids[column]!r}",
    )
    if hasattr(model, "feature_names_in_"):  # as fitted: a DataFrame
        pd = _import("pandas", "pandas", "predict_gctx")
        block = pd.DataFrame(block, columns=pd.Index(landmark_ids), copy=False)
    predicted = np.asarray(model.predict(block))
    predicted = predicted.reshape(len(block), -1)
    if predicted.shape[1] != n_targets:
        raise ValueError(
            f"The model predicts {predicted.shape[1]} values per sample, but "
            f"{n_targets} target ids name the output rows."
        )
    return cast_checked(
        predicted, np.float32, "The predictions", lambda row, column: "a sample"
    )


def _stream(view, output, predict, progress, block_rows: int, raw) -> None:
    """Predict ``view`` into ``output`` a block of rows at a time: one thread
    reads the next block and another writes the last while ``predict`` runs;
    stops early once a write to ``raw`` (the file beneath) failed, whose error
    is raised when the file is closed."""
    n_samples = view.shape[0]
    starts = list(range(0, n_samples, block_rows))
    if not starts:
        return
    with (
        ThreadPoolExecutor(1, thread_name_prefix="gctx-read") as reader,
        ThreadPoolExecutor(1, thread_name_prefix="gctx-write") as writer,
    ):
        reading = reader.submit(view.__getitem__, slice(0, block_rows))
        writing = None
        for position, start in enumerate(starts):
            block = reading.result()
            if position + 1 < len(starts):
                following = slice(
                    starts[position + 1], starts[position + 1] + block_rows
                )
                reading = reader.submit(view.__getitem__, following)
            predicted = predict(block)
            del block
            if writing is not None:
                writing.result()
            writing = writer.submit(
                output.__setitem__, slice(start, start + len(predicted)), predicted
            )
            progress.update(len(predicted))
            if raw.failed:  # the disk is full: stop, close, raise
                break
        writing.result()


def predict_gctx(
    model,
    source: PathLike,
    destination: PathLike,
    *,
    landmark_ids: ArrayLike | None = None,
    target_ids: ArrayLike | None = None,
    row_metadata=None,
    chunk_size: int | None = None,
    batch_size: int | None = None,
    compression_level: int | None = 6,
    progress: bool = False,
) -> Path:
    """Infer target genes from a GCTX file into a GCTX file, in bounded memory.

    Reads the landmark rows of ``source`` a chunk of samples at a time (in
    file order), predicts each chunk with ``model`` and writes the predictions
    into ``destination`` as it goes: memory holds a few chunks, whatever the
    number of samples, so the whole of LINCS (1.3 million profiles) streams
    through one machine. One thread reads the next chunk and another writes
    the last one while the model computes; on a GPU, the estimators' own
    ``predict`` copies each batch through pinned memory, asynchronously.

    The output has the layout of :func:`write_gctx` (and cmapPy's): the
    predictions at ``/0/DATA/0/matrix`` as float32, samples x targets,
    chunked by whole samples (about 1 MiB a chunk, not compressed, as cmapPy
    writes it); the target ids and ``row_metadata`` under ``/0/META/ROW``;
    the sample ids and every column metadata field of ``source``, copied as
    they are, under ``/0/META/COL`` (gzip-compressed, as cmapPy does). It is
    written under a temporary name beside ``destination`` and moved into
    place when complete: an interrupted or failed run (Ctrl-C, an error)
    leaves no partial file at ``destination``, and an existing file there
    unchanged.

    Parameters
    ----------
    model : object with a ``predict`` method
        A fitted model, e.g. a :class:`~sktaaf.TAAFRegressor`; ``predict``
        gets a DataFrame of the landmark columns when the model has
        ``feature_names_in_``, else a float32 array, and returns one row of
        predictions per sample.
    source : str or path-like
        The GCTX file of the profiles, holding the landmark genes as rows.
    destination : str or path-like
        The GCTX file to write; never ``source``.
    landmark_ids : array-like of str, default=None
        Row ids of ``source`` to give the model, in its input order; by
        default the model's ``feature_names_in_``.
    target_ids : array-like of str, default=None
        Row ids of the output, one per predicted value; by default the
        model's ``target_names_``, else ``target_0``, ``target_1``, ...
    row_metadata : DataFrame, default=None
        Metadata of the output rows (``pr_gene_symbol``, ...), indexed by
        ``target_ids``, as for :func:`write_gctx`.
    chunk_size : int, default=None
        Samples read and predicted at a time; by default about 16 MiB of
        float32 values of the wider of the input's rows and the output's.
    batch_size : int, default=None
        Rows per forward pass: the model's ``batch_size`` parameter while
        this runs (the estimators use at least 4,096 on a CPU, 16,384 on
        CUDA); by default the model's.
    compression_level : int or None, default=6
        gzip level of the metadata; None leaves them uncompressed.
    progress : bool, default=False
        Report progress on ``sys.stderr``: a progress bar (samples/s, time
        left) on a terminal, a plain line every 30 seconds elsewhere.

    Returns
    -------
    path : pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        When ``source`` is not a GCTX file, lacks a landmark, ``destination``
        is ``source`` or not a regular file, or the model predicts another
        number of values than ``target_ids`` name.

    See Also
    --------
    write_gctx : Write profiles held in memory.
    open_gctx : Views of a GCTX file for training on it out of core.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LinearRegression
    >>> from sktaaf.datasets import load_gctx, predict_gctx, write_gctx
    >>> rng = np.random.RandomState(0)
    >>> X = pd.DataFrame(rng.normal(size=(30, 3)), columns=["g1", "g2", "g3"])
    >>> y = pd.DataFrame({"g4": X.sum(axis=1)})
    >>> model = LinearRegression().fit(X, y)
    >>> profiles = X.set_axis([f"s{i}" for i in range(30)])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     source = write_gctx(pathlib.Path(folder) / "in.gctx", profiles)
    ...     out = predict_gctx(model, source, pathlib.Path(folder) / "out.gctx",
    ...                        target_ids=["g4"], chunk_size=7)
    ...     inferred = load_gctx(out, landmark_ids=[])
    >>> inferred.y.shape, list(inferred.target_ids), inferred.sample_ids[:2]
    ((30, 1), ['g4'], array(['s0', 's1'], dtype=object))
    """
    _import("h5py", "h5py", "predict_gctx")
    _import("pandas", "pandas", "predict_gctx")
    if not callable(getattr(model, "predict", None)):
        raise TypeError(
            f"model must have a predict method; got {type(model).__name__}."
        )
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer; got {chunk_size!r}.")
    landmark_ids, target_ids, rows = _output_ids(
        model, landmark_ids, target_ids, row_metadata
    )
    file, source = _open_gctx_file(source, "predict_gctx")
    destination = as_path(destination, "write the GCTX file")
    with file:
        _check_destination(source, destination)
        with _read_errors(source, "GCTX", _GCTX_ERRORS):
            matrix, gene_ids = _header(file, source)
        landmarks = _resolve_genes(gene_ids, landmark_ids, [])[0]
        view = _Reader(ColumnRows(matrix, landmarks, source=str(source)), source)
        n_samples, n_targets = matrix.shape[0], len(target_ids)
        if chunk_size is None:
            chunk_size = max(1, _BLOCK_ELEMENTS // max(matrix.shape[1], n_targets, 1))
            if chunk_size >= _BLOCK_MULTIPLE:
                chunk_size -= chunk_size % _BLOCK_MULTIPLE
        per_chunk = max(1, _GCTX_WRITE_CHUNK_BYTES // (4 * max(n_targets, 1)))
        chunks = (min(n_samples, per_chunk), n_targets) if n_samples else None

        def predict(block):
            return _predict_block(model, block, landmark_ids, n_targets, str(source))

        meter = _Progress(n_samples, progress)
        with (
            _batch_size(model, batch_size),
            gctx_writer(destination) as (out, raw),
        ):
            _write_metadata(out, "ROW", target_ids, rows, compression_level)
            _copy_columns(file, out, n_samples, compression_level)
            output = out.create_dataset(
                _GCTX_MATRIX,
                shape=(n_samples, n_targets),
                dtype=np.float32,
                chunks=chunks,
            )
            try:
                _stream(view, output, predict, meter, chunk_size, raw)
            finally:
                meter.close()
    return destination
