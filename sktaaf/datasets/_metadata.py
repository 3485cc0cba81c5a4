"""Row and column metadata of GCT/GCTX files, as pandas DataFrames.

GCT 1.3 and GCTX files carry, besides the expression values, metadata fields
for the rows (genes: ``pr_gene_symbol``, ``pr_is_lmark``, ...) and for the
columns (samples: ``cell_id``, ``pert_iname``, ...). They are read as text, as
cmapPy does: the null values of the CMap tools (``-666``, ``na``, ``NaN``, ...)
become NaN, and a field whose values are all numbers becomes a numeric column.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import RoundTripWarning
from ._common import _import

# Null values of metadata: cmapPy's list and CMap's "-666".
METADATA_NULLS = frozenset(
    ["", "#N/A", "N/A", "NA", "#NA", "NULL", "NaN", "-NaN", "nan", "-nan"]
    + ["#N/A!", "na", "None", "#VALUE!", "-666", "-666.0"]
)
# Row-metadata fields that flag the landmark genes, as the CMap tools name them.
LANDMARK_FIELDS = ("pr_is_lmark", "pr_is_lm")
_TRUE = frozenset(["1", "1.0", "y", "yes", "true", "t"])
_FALSE = frozenset(["0", "0.0", "n", "no", "false", "f"])


def typed_column(values):
    """A metadata field's values (text or numbers) as a pandas column.

    Nulls become NaN; text whose values are all numbers becomes numbers.
    """
    pd = _import("pandas", "pandas", "reading GCT/GCTX metadata")
    values = np.asarray(values)
    if values.dtype.kind in "biuf":
        column = pd.Series(values)
        if values.dtype.kind in "iuf" and (values == -666).any():
            column = column.astype(np.float64).mask(values == -666)
        return column
    text = [
        value.decode() if isinstance(value, bytes) else str(value)
        for value in values.tolist()
    ]
    column = pd.Series(text, dtype=object)
    column = column.mask(column.isin(METADATA_NULLS))
    try:
        numbers = pd.to_numeric(column)
    except (ValueError, TypeError):
        return column
    if numbers.dtype.kind == "f":  # pandas' parse is not correctly rounded
        try:
            exact = [np.nan if pd.isna(value) else float(value) for value in column]
        except ValueError:  # pandas accepted what Python does not
            return numbers
        numbers = pd.Series(exact, dtype=np.float64)
    return numbers


def metadata_frame(fields: dict, ids, index_name: str):
    """A DataFrame of the metadata ``fields`` (name -> values), indexed by ids."""
    pd = _import("pandas", "pandas", "reading GCT/GCTX metadata")
    index = pd.Index(np.asarray(ids, dtype=object), dtype=object, name=index_name)
    columns = {name: typed_column(values).to_numpy() for name, values in fields.items()}
    frame = pd.DataFrame(columns, index=index)
    frame.columns.name = "rhd" if index_name == "rid" else "chd"
    return frame


def landmarks_from_metadata(row_metadata, path) -> np.ndarray:
    """Ids of the rows that the file's ``pr_is_lmark`` field flags, in file
    order: none when it flags no row (a file of inferred genes, as ``sktaaf
    predict`` writes them, holds no landmarks)."""
    field = next((name for name in LANDMARK_FIELDS if name in row_metadata), None)
    if field is None:
        raise ValueError(
            f"landmark_ids was not given and the file {str(path)!r} has no "
            f"{' or '.join(LANDMARK_FIELDS)} row metadata to take them from; its "
            f"row metadata fields are {list(row_metadata.columns)[:10]}. Give "
            "landmark_ids, e.g. sktaaf.datasets.l1000_landmark_ids('entrez_id')."
        )
    flags = row_metadata[field]
    text = flags.map(lambda value: str(value).strip().lower())
    unknown = ~(text.isin(_TRUE) | text.isin(_FALSE))
    if unknown.any():
        raise ValueError(
            f"The {field} row metadata of {str(path)!r} must flag landmarks with "
            f"1/0 or Y/N; got {flags[unknown].unique()[:5].tolist()}."
        )
    ids = np.empty(int(text.isin(_TRUE).sum()), dtype=object)
    ids[:] = [str(value) for value in row_metadata.index[text.isin(_TRUE).to_numpy()]]
    return ids


# ------------------------------------------------------------------ writing
#: What the writers put for a missing metadata value (CMap's null, as cmapPy).
METADATA_NULL = "-666"


def profile_ids(data_frame, caller: str):
    """The sample ids (index) and gene ids (columns) of a samples x genes
    DataFrame, as str, checked to be unique."""
    pd = _import("pandas", "pandas", caller)
    if not isinstance(data_frame, pd.DataFrame):
        raise TypeError(
            f"{caller} writes a pandas DataFrame of samples x genes (index: sample "
            "ids, columns: gene ids), e.g. the predictions of an estimator with "
            f"their ids; got {type(data_frame).__name__}."
        )
    ids = []
    for axis, name in (
        (data_frame.index, "sample ids (index)"),
        (data_frame.columns, "gene ids (columns)"),
    ):
        values = [id_text(value) for value in axis]
        for value in values:
            check_storable(value, f"The data_frame's {name}")
        if len(set(values)) != len(values):
            repeated = pd.Index(values)[pd.Index(values).duplicated()].unique()
            raise ValueError(
                f"The data_frame's {name} must be unique; repeated: "
                f"{repeated[:5].tolist()}."
            )
        ids.append(values)
    return ids


def aligned_metadata(metadata, ids: list[str], name: str, what: str):
    """``metadata`` (a DataFrame indexed by ids, or None) with one row per id,
    in the order of ``ids``; a clear error for missing ids."""
    pd = _import("pandas", "pandas", "writing GCT/GCTX metadata")
    if metadata is None:
        return pd.DataFrame(index=pd.Index(ids, dtype=object))
    if not isinstance(metadata, pd.DataFrame):
        raise TypeError(
            f"{name} must be a DataFrame indexed by the {what}, or None; got "
            f"{type(metadata).__name__}."
        )
    metadata = metadata.set_axis([id_text(value) for value in metadata.index], axis=0)
    if metadata.index.has_duplicates:
        raise ValueError(f"The index of {name} (the {what}) has repeated ids.")
    missing = pd.Index(ids).difference(metadata.index)
    if len(missing):
        raise ValueError(
            f"{name} has no row for {len(missing)} of the {len(ids)} {what}, e.g. "
            f"{missing[:5].tolist()}; its index must hold every one."
        )
    fields = [str(field) for field in metadata.columns]
    if "id" in fields or len(set(fields)) != len(fields):
        raise ValueError(
            f"The fields (columns) of {name} must be unique and none may be "
            f"named 'id', which holds the ids; got {fields[:10]}."
        )
    return metadata.loc[ids].set_axis(fields, axis=1)


def text_values(column) -> list[str]:
    """A metadata column as text, its missing values as :data:`METADATA_NULL`
    and booleans as 1/0."""
    missing = column.isna().to_numpy()
    if column.dtype.kind == "b":
        column = column.astype(np.int8)
    return [
        METADATA_NULL if null else str(value)
        for value, null in zip(column.tolist(), missing, strict=True)
    ]


def check_text(values, where: str) -> None:
    """Refuse tabs and line breaks, which would break a GCT line."""
    for value in values:
        if "\t" in value or "\n" in value or "\r" in value:
            raise ValueError(
                f"{where} holds {value!r}, with a tab or line break, which GCT "
                "files cannot hold; replace them first."
            )


# ------------------------------------------------------- what reads back
# The rule of the writers: what they accept, the readers (these loaders and
# cmapPy) return unchanged; anything else is refused, or written with a
# RoundTripWarning where it follows CMap's conventions (nulls, numbers).
_PLAIN_KINDS = frozenset(
    ["string", "integer", "floating", "mixed-integer-float", "boolean", "empty"]
)


def id_text(value) -> str:
    """An id as the loaders return it: bytes decoded as UTF-8, else ``str``."""
    if isinstance(value, bytes | np.bytes_):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"The id {value!r} is bytes that are not UTF-8 text; GCT/GCTX "
                "ids are UTF-8 text. Decode it first."
            ) from exc
    return str(value)


def check_storable(value: str, where: str) -> None:
    """Refuse text that the files cannot hold: NUL characters (HDF5 ends a
    string at the first one) and lone surrogates (not UTF-8)."""
    if "\x00" in value:
        raise ValueError(
            f"{where} holds {value!r}, with a NUL character ('\\x00'), which "
            "GCT/GCTX files cannot hold (HDF5 ends text at it); remove it first."
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{where} holds {value!r}, which is not valid Unicode text (a lone "
            "surrogate, e.g. from a file name decoded with errors="
            "'surrogateescape'); GCT/GCTX files hold UTF-8 text."
        ) from exc


def check_fields(metadata, name: str, hdf5: bool) -> None:
    """Refuse metadata field names that the format cannot hold."""
    for field in metadata.columns:
        check_storable(field, f"A field name of {name}")
        if field == "" or (hdf5 and field in (".", "..")):
            raise ValueError(
                f"{name} has a field named {field!r}, which "
                f"{'a GCTX (HDF5) file' if hdf5 else 'a GCT file'} cannot hold "
                "as a name; rename it."
            )


def check_metadata(metadata, name: str) -> None:
    """Check every field of ``metadata`` (see :func:`check_column`)."""
    for field in metadata.columns:
        check_column(metadata[field], f"Field {field!r} of {name}")


def _refuse(value, where: str) -> ValueError:
    return ValueError(
        f"{where} holds {value!r} ({type(value).__name__}), which GCT/GCTX "
        "files cannot hold: their metadata are text or real numbers, and this "
        "would be read back as something else. Convert the field first (e.g. "
        "to text with .astype(str), or to numbers)."
    )


def check_column(column, where: str) -> None:
    """Refuse a metadata field whose values the readers would return damaged;
    warn (:class:`~sktaaf.exceptions.RoundTripWarning`) when they follow
    CMap's conventions: nulls read back as missing, numeric-looking text as
    numbers, numbers among text as text."""
    pd = _import("pandas", "pandas", "writing GCT/GCTX metadata")
    kind = column.dtype.kind
    if kind in "cmM":
        raise _refuse(column.dropna().iloc[0] if column.notna().any() else None, where)
    if kind in "biuf":
        if kind != "b" and (column == -666).any():
            _warn(where, -666, "missing (-666 is CMap's null)")
        return
    values = column.astype(object)
    present = values[values.notna()]
    inferred = pd.api.types.infer_dtype(present, skipna=True)
    if inferred not in _PLAIN_KINDS:
        for value in present:
            if isinstance(value, bytes | complex | np.complexfloating) or not (
                isinstance(value, str | int | float | np.integer | np.floating)
            ):
                raise _refuse(value, where)
    is_text = present.map(lambda value: isinstance(value, str))
    for value in present[is_text]:
        check_storable(value, where)
    back = typed_column(text_values(values))
    back.index = values.index
    back = back[present.index]
    if back.dtype.kind in "biuf":  # the whole field reads back as numbers
        changed = back.isna().to_numpy() | is_text.to_numpy()
        changed |= present.to_numpy() != back.to_numpy(dtype=object)
        if changed.any():
            value, number = present[changed].iloc[0], back[changed].iloc[0]
            becomes = (
                "missing (a CMap null value)"
                if np.isnan(number)
                else f"the number {number.item()!r}"
            )
            _warn(where, value, becomes)
        return
    is_null = back.isna()
    if is_null.any():
        _warn(where, present[is_null].iloc[0], "missing (a CMap null value)")
    numbers = ~is_text & ~is_null
    if numbers.any():
        first = present[numbers].iloc[0]
        _warn(where, first, f"the text {str(first)!r} (the field holds text)")


def _warn(where: str, value, becomes: str) -> None:
    warnings.warn(
        f"{where} holds {value!r}, which GCT/GCTX readers (sktaaf, cmapPy) "
        f"read back as {becomes}.",
        RoundTripWarning,
        stacklevel=4,
    )


def profile_values(values: np.ndarray) -> np.ndarray:
    """A block of the profiles as real numbers; complex numbers, dates,
    durations and text are refused, not cast (to real parts, nanoseconds)."""
    if values.dtype.kind in "biuf":
        return values
    pd = _import("pandas", "pandas", "writing GCT/GCTX")
    inferred = pd.api.types.infer_dtype(values.ravel(), skipna=True)
    if values.dtype.kind != "O" or inferred not in _PLAIN_KINDS - {"string"}:
        flat = values.ravel()
        numbers = (bool, int, float, np.integer, np.floating)
        example = next(
            (value for value in flat if not isinstance(value, numbers)),
            flat[0] if flat.size else None,
        )
        raise TypeError(
            f"data_frame must hold real numbers; some of its columns hold "
            f"{values.dtype} values ({inferred}), e.g. {example!r}, which GCT/GCTX "
            "files cannot hold. Convert them to numbers first."
        )
    return values.astype(np.float64)
