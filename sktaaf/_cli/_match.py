"""Landmark genes found by any id: the rows whose row-metadata field
``--id-field`` holds the landmark ids, and, when landmarks are missing, which
id type or field would have matched them.

A file keyed by probe ids holds the Entrez ids in ``pr_gene_id`` and the
symbols in ``pr_gene_symbol``; ``--id-field pr_gene_symbol`` finds the
landmarks there and the model keeps the file's own row ids. When the
landmarks are not found, the shipped L1000 list (all three id types) and the
given ids are compared with the file's row ids and with each of its
row-metadata fields, and the error says which ``--id-type`` or ``--id-field``
would match the most.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..datasets import l1000_landmark_ids
from ._errors import UsageError
from ._profiles import MissingLandmarks, file_rows

__all__ = ["hinting", "match_landmarks", "match_targets"]

_ID_TYPES = ("entrez_id", "probe_id", "symbol")


def _text(value) -> str | None:
    """A row-metadata value as an id: whole numbers without ``.0``."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if value != value:
            return None
        if float(value).is_integer():
            return str(int(value))
    return str(value)


def _field_ids(row_metadata, field: str) -> list:
    return [_text(value) for value in row_metadata[field].tolist()]


def _rows_by_field(path, id_field: str) -> dict:
    """The row ids of ``path`` by the value of their ``id_field``."""
    row_ids, row_metadata = file_rows(path)
    if row_metadata is None or id_field not in row_metadata:
        fields = [] if row_metadata is None else list(row_metadata.columns)
        raise UsageError(
            f"--id-field {id_field}: {str(path)!r} has no such row-metadata field; "
            f"its fields are {fields[:20] or 'none'}."
        )
    rows: dict = {}
    for row_id, value in zip(row_ids, _field_ids(row_metadata, id_field), strict=True):
        rows.setdefault(value, []).append(row_id)
    return rows


def match_landmarks(path, landmark_ids, id_field: str | None):
    """The row ids of ``path`` whose ``id_field`` holds ``landmark_ids``, in
    their order; ``landmark_ids`` unchanged without ``id_field``."""
    if landmark_ids is None or id_field is None:
        return landmark_ids
    rows = _rows_by_field(path, id_field)
    missing = [value for value in landmark_ids if str(value) not in rows]
    if missing:
        error = MissingLandmarks(path, landmark_ids, missing)
        raise UsageError(
            str(error).replace("(matched by row id)", f"(matched by {id_field})")
        )
    repeated = [value for value in landmark_ids if len(rows[str(value)]) > 1]
    if repeated:
        raise UsageError(
            f"--id-field {id_field}: {len(repeated)} landmark ids name several "
            f"rows of {str(path)!r}, e.g. {repeated[0]!r}; they cannot be matched "
            "by this field."
        )
    matched = np.empty(len(landmark_ids), dtype=object)
    matched[:] = [rows[str(value)][0] for value in landmark_ids]
    return matched


def match_targets(path, target_ids, id_field: str | None) -> dict:
    """The row id of ``path`` of each of ``target_ids`` found once in its
    ``id_field`` (by row id without ``id_field``): ``{target id: row id}``."""
    if id_field is None:
        return {str(value): str(value) for value in target_ids}
    rows = _rows_by_field(path, id_field)
    return {
        str(value): rows[str(value)][0]
        for value in target_ids
        if len(rows.get(str(value), ())) == 1
    }


def _suggestion(path, landmark_ids, id_type: str | None) -> str:
    """`` --id-type T`` / `` --id-field F`` that would match the most
    landmarks in ``path``, or "": the shipped L1000 list's ids of every type
    when ``id_type`` names the one given (``--landmarks l1000``), else the
    ``landmark_ids`` themselves; the row ids, and the type given, first."""
    row_ids, row_metadata = file_rows(path)
    sources = {None: [str(value) for value in row_ids]}
    if row_metadata is not None:
        for field in row_metadata.columns:
            sources[str(field)] = _field_ids(row_metadata, field)
    candidates = (
        {
            kind: l1000_landmark_ids(kind)
            for kind in sorted(_ID_TYPES, key=lambda kind: kind != id_type)
        }
        if id_type is not None
        else {None: landmark_ids}
    )
    current = len(set(map(str, landmark_ids)) & set(sources[None]))
    best, best_count = None, current
    for field, values in sources.items():  # the row ids first: no field needed
        values = set(values)
        for kind, ids in candidates.items():
            count = len({str(value) for value in ids} & values)
            if count > best_count:
                best, best_count = (kind, field), count
    if best is None:
        return ""
    kind, field = best
    options = [f"--id-type {kind}"] if kind not in (None, id_type) else []
    if field is not None:
        options.append(f"--id-field {field}")
    where = "row ids" if field is None else f"row-metadata field {field}"
    of = f"{kind}s" if kind is not None else "ids"
    return (
        f" Its {where} hold{'s' if field else ''} {best_count} of the landmarks' "
        f"{of}: try {' '.join(options)}."
    )


@contextlib.contextmanager
def hinting(id_type: str | None = None):
    """Add to a :class:`MissingLandmarks` raised inside which id type or
    field of the file would match (``id_type``: the landmarks are the
    shipped list's ids of that type, so all its id types are tried)."""
    try:
        yield
    except MissingLandmarks as exc:
        try:
            hint = _suggestion(exc.path, exc.landmark_ids, id_type)
        except (UsageError, OSError, ValueError, KeyError):
            hint = ""
        if not hint:
            raise
        raise UsageError(f"{exc}{hint}") from exc
