"""Profile files, landmark lists and gene symbols for the command line.

Everything here is a plain function over the public loaders of
:mod:`sktaaf.datasets`; the command line (``_main``) only wires them to its
arguments. Errors a user can fix (a missing file, missing landmarks) are
:class:`UsageError`, which the command prints as one line.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from ..datasets import (
    l1000_landmark_ids,
    load_gct,
    load_gctx,
    load_hdf,
    load_l1000_landmarks,
    open_gctx,
    split_landmarks,
)
from ..datasets._common import _import
from ..datasets._metadata import landmarks_from_metadata, metadata_frame
from ._errors import UsageError

__all__ = [
    "MissingLandmarks",
    "UsageError",
    "file_format",
    "file_rows",
    "gctx_rows",
    "is_gctx",
    "landmark_symbols",
    "load_profiles",
    "open_profiles",
    "read_id_list",
]

#: Row metadata fields that hold gene symbols, in order of preference.
SYMBOL_FIELDS = ("pr_gene_symbol", "gene_symbol", "symbol", "pr_gene_title")
#: The suffixes of the profile files the command reads, by format.
FORMATS = {
    ".gctx": "gctx",
    ".gct": "gct",
    ".gz": "gct",  # .gct.gz
    ".h5": "hdf",
    ".hdf": "hdf",
    ".hdf5": "hdf",
    ".npz": "npz",
}
# Missing ids listed in full up to this many, then counted.
_MAX_LISTED = 50


def file_format(path) -> str | None:
    """The format of a profiles file by its suffix (a value of
    :data:`FORMATS`), or None for a file no command reads."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gz" and not path.name.lower().endswith(".gct.gz"):
        suffix = ""
    return FORMATS.get(suffix)


def _format(path: Path) -> str:
    kind = file_format(path)
    if kind is None:
        raise UsageError(
            f"{str(path)!r} is not a profiles file this command reads; expected "
            ".gctx, .gct, .gct.gz, .h5/.hdf5 (a pandas samples x genes frame) "
            "or .npz (arrays 'matrix', 'gene_ids' and optionally 'sample_ids')."
        )
    return kind


def _existing(path, what: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{str(path)!r} is a folder, not a {what}.")
    if not path.is_file():
        raise UsageError(f"No {what} at {str(path)!r}.")
    return path


def _listed(ids) -> str:
    ids = [str(value) for value in ids]
    shown = ", ".join(ids[:_MAX_LISTED])
    more = len(ids) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


class MissingLandmarks(UsageError):
    """A profiles file lacks some landmark genes (``path``, ``landmark_ids``,
    ``missing``); the commands add which id type or field would match."""

    def __init__(self, path, landmark_ids, missing) -> None:
        super().__init__(
            f"{str(path)!r} lacks {len(missing)} of the {len(landmark_ids)} "
            f"landmark genes (matched by row id): {_listed(missing)}."
        )
        self.path, self.landmark_ids, self.missing = path, landmark_ids, missing


def check_landmarks(gene_ids, landmark_ids, path) -> None:
    """A :class:`MissingLandmarks` listing the ``landmark_ids`` that
    ``gene_ids`` lack."""
    present = {str(value) for value in gene_ids}
    missing = [value for value in landmark_ids if str(value) not in present]
    if missing:
        raise MissingLandmarks(path, landmark_ids, missing)


def _h5py(path: Path):
    """h5py, or an ImportError naming the extra that installs it."""
    return _import("h5py", "h5py", f"Reading {Path(path).name!r}")


def _gctx_gene_ids(path: Path) -> np.ndarray:
    """The row ids of a GCTX file, read without its matrix."""
    h5py = _h5py(path)

    try:
        with h5py.File(path, "r") as file:
            return np.array(
                [
                    value.decode() if isinstance(value, bytes) else str(value)
                    for value in file["0/META/ROW/id"][()].tolist()
                ],
                dtype=object,
            )
    except (OSError, KeyError):  # the loader says what is wrong
        return None


def _hdf_hint(path: Path) -> str:
    """ " (it is a GCTX file: ...)" when the HDF5 file at ``path`` is one."""
    h5py = _h5py(path)

    try:
        with h5py.File(path, "r") as file:
            is_gctx = "0/DATA/0/matrix" in file
    except (OSError, ValueError):
        return ""
    return " (it is a GCTX file: name it .gctx)" if is_gctx else ""


def _load_hdf(path: Path, key: str = "table"):
    try:
        return load_hdf(path, [], key=key)
    except (KeyError, OSError, ValueError, TypeError) as exc:
        message = " ".join(str(exc).strip("'\"").split())
        raise UsageError(
            f"Cannot read {str(path)!r} as a pandas HDF5 file (a samples x genes "
            f"frame under the key {key!r}){_hdf_hint(path)}: {message}"
        ) from exc


def _load_npz(path: Path):
    try:
        with np.load(path, allow_pickle=False) as arrays:
            matrix = arrays["matrix"]
            gene_ids = arrays["gene_ids"]
            sample_ids = arrays["sample_ids"] if "sample_ids" in arrays else None
    except KeyError as exc:
        raise UsageError(
            f"The .npz file {str(path)!r} must hold the arrays 'matrix' "
            f"(samples x genes) and 'gene_ids'; it lacks {exc}."
        ) from exc
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        hint = " (save ids as strings: np.array(ids, dtype=str))" * (
            "allow_pickle" in str(exc)
        )
        raise UsageError(
            f"Cannot read {str(path)!r} as .npz (truncated, or not an .npz "
            f"file?): {exc}{hint}"
        ) from exc
    if matrix.dtype.kind not in "biuf" or matrix.ndim != 2:
        raise UsageError(
            f"The array 'matrix' of {str(path)!r} holds {matrix.ndim}-D "
            f"{matrix.dtype} values; expected a 2-D array of numbers (samples x "
            "genes)."
        )
    return split_landmarks(matrix, gene_ids, [], sample_ids=sample_ids)


def _load_all(path: Path, kind: str, hdf_key: str = "table"):
    """Every gene of a .gct, .h5 or .npz file, as ``y`` of a loader bunch."""
    if kind == "gct":
        return load_gct(path, [])
    data = _load_hdf(path, hdf_key) if kind == "hdf" else _load_npz(path)
    data.row_metadata = data.col_metadata = None
    return data


def load_profiles(path, landmark_ids=None, target_ids=None, *, hdf_key="table"):
    """Load a profiles file as landmarks ``X`` and targets ``y``: the one
    reader of profile files by their suffix, for every command (``sktaaf
    compare`` adds the arrays of its own ``.npz`` and ``.npy`` forms).

    Parameters
    ----------
    path : str or path-like
        A .gctx, .gct, .h5 or .npz file.
    landmark_ids : sequence of str, default=None
        The landmark genes, in the order wanted; None takes the rows the
        file's ``pr_is_lmark`` row metadata flags.
    target_ids : sequence of str, default=None
        The target genes; None takes every other gene, ``[]`` none.
    hdf_key : str, default="table"
        The key of the frame in a .h5 file.

    Returns
    -------
    data : Bunch
        As :func:`sktaaf.datasets.load_gctx` returns it; ``row_metadata``
        and ``col_metadata`` are None for .h5 and .npz files.
    """
    path = _existing(path, "profiles file")
    kind = _format(path)
    if kind == "gctx":
        if landmark_ids is not None:
            gene_ids = _gctx_gene_ids(path)
            if gene_ids is not None:
                check_landmarks(gene_ids, landmark_ids, path)
        return load_gctx(path, landmark_ids, target_ids=target_ids)
    if kind == "gct" and landmark_ids is None:
        return load_gct(path, None, target_ids=target_ids)
    full = _load_all(path, kind, hdf_key)
    if landmark_ids is None:
        if full.row_metadata is None:
            raise UsageError(
                f"{str(path)!r} holds no gene metadata to tell landmarks from "
                "targets; give --landmarks (a file of ids, or l1000)."
            )
        landmark_ids = landmarks_from_metadata(full.row_metadata, path)
    check_landmarks(full.target_ids, landmark_ids, path)
    data = split_landmarks(
        full.y,
        full.target_ids,
        landmark_ids,
        target_ids=target_ids,
        sample_ids=full.sample_ids,
    )
    data.row_metadata = full.row_metadata
    data.col_metadata = full.col_metadata
    return data


def is_gctx(path) -> bool:
    """Whether ``path`` names a GCTX file (by its suffix), which the command
    streams instead of loading."""
    return _format(_existing(path, "profiles file")) == "gctx"


def open_profiles(path, landmark_ids=None, target_ids=None):
    """Open a GCTX file for streaming: as :func:`load_profiles`, but ``X``
    and ``y`` are on-disk views (:func:`sktaaf.datasets.open_gctx`) and
    ``file`` is the open file, to close when done."""
    path = _existing(path, "profiles file")
    if landmark_ids is not None:
        gene_ids = _gctx_gene_ids(path)
        if gene_ids is not None:
            check_landmarks(gene_ids, landmark_ids, path)
    return open_gctx(path, landmark_ids, target_ids=target_ids)


def _gctx_row_table(path: Path):
    """The number of samples, the row ids and the row metadata of a GCTX
    file, read without its matrix nor its column metadata."""
    h5py = _h5py(path)

    try:
        with h5py.File(path, "r") as file:
            rows = file["0/META/ROW"]
            ids = [
                value.decode() if isinstance(value, bytes) else str(value)
                for value in rows["id"][()].tolist()
            ]
            fields = {
                name: dataset[()]
                for name, dataset in rows.items()
                if name != "id"
                and isinstance(dataset, h5py.Dataset)
                and dataset.shape == (len(ids),)
            }
            n_samples = file["0/DATA/0/matrix"].shape[0]
    except (OSError, KeyError) as exc:
        raise UsageError(
            f"{str(path)!r} is not a GCTX file h5py can read: {exc}"
        ) from exc
    return n_samples, ids, metadata_frame(fields, ids, "rid")


def gctx_rows(path, landmark_ids) -> tuple[int, object]:
    """The number of samples and the row metadata of a GCTX file, read
    without its matrix nor its column metadata; a :class:`MissingLandmarks`
    listing the ``landmark_ids`` it lacks."""
    path = _existing(path, "profiles file")
    n_samples, ids, row_metadata = _gctx_row_table(path)
    check_landmarks(ids, landmark_ids, path)
    return n_samples, row_metadata


def file_rows(path) -> tuple[list, object]:
    """The row (gene) ids of a profiles file and its row metadata (None for
    .h5 and .npz files, which have none)."""
    path = _existing(path, "profiles file")
    kind = _format(path)
    if kind == "gctx":
        _, ids, row_metadata = _gctx_row_table(path)
        return ids, row_metadata
    full = _load_all(path, kind)
    return [str(value) for value in full.target_ids], full.row_metadata


def read_id_list(spec: str, id_type: str, what: str = "landmarks") -> np.ndarray:
    """Gene ids: the shipped L1000 landmarks (``spec="l1000"``, ids of
    ``id_type``) or a UTF-8 text file with one id per line (``#`` comments, a
    byte-order mark allowed); ``what`` (``"landmarks"`` or ``"targets"``)
    names the file in errors."""
    if spec.lower() == "l1000":
        return l1000_landmark_ids(id_type)
    path = _existing(spec, f"{what} file")
    try:
        lines = path.read_text("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"Cannot read the {what} file {spec!r}: {exc}") from exc
    ids = [line.strip() for line in lines]
    ids = [value for value in ids if value and not value.startswith("#")]
    if not ids:
        raise UsageError(f"The {what} file {spec!r} lists no ids.")
    counts = Counter(ids)
    repeated = sorted(value for value, count in counts.items() if count > 1)
    if repeated:
        raise UsageError(
            f"The {what} file {spec!r} lists some ids more than once: "
            f"{_listed(repeated)}."
        )
    array = np.empty(len(ids), dtype=object)
    array[:] = ids
    return array


def _l1000_symbols() -> dict:
    """Symbol of every L1000 landmark, by probe id, Entrez id and symbol."""
    table = load_l1000_landmarks()
    lookup = {}
    for column in ("probe_id", "entrez_id", "symbol"):
        lookup.update(zip(table[column], table["symbol"], strict=True))
    return lookup


def landmark_symbols(ids, row_metadata=None) -> list:
    """Gene symbols of ``ids``: from ``row_metadata`` (a symbol field) where
    it has them, else from the shipped L1000 list where the ids are L1000
    landmark ids of any kind, else None."""
    symbols = [None] * len(ids)
    field = None
    if row_metadata is not None:
        field = next((name for name in SYMBOL_FIELDS if name in row_metadata), None)
    if field is not None:
        known = row_metadata[field]
        for position, gene in enumerate(ids):
            if gene in known.index and isinstance(known[gene], str):
                symbols[position] = known[gene]
    if any(symbol is None for symbol in symbols):
        lookup = _l1000_symbols()
        symbols = [
            lookup.get(str(gene)) if symbol is None else symbol
            for gene, symbol in zip(ids, symbols, strict=True)
        ]
    return symbols
