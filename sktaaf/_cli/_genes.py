"""The gene ids and symbols of a model, for ``sktaaf predict``.

``sktaaf fit`` keeps the landmark and target ids in the model file (the
estimator's ``feature_names_in_`` and ``target_names_``) and their symbols in
its optional ``gene_symbols`` field, written and checksummed with the weights:
one file, replaced atomically, so the genes can never be missing, stale or
torn apart from the model. Models written by earlier versions of the command
kept them in a file beside the model, ``MODEL.pt.genes.json``; it is still
read for them, and checked as strictly as the model file: types, lengths, and
ids equal to the model's. Whatever is wrong is a :class:`UsageError` of one
line naming the file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from .._persistence._checks import GENE_SYMBOLS_FIELD
from ._errors import UsageError

__all__ = ["genes_file", "model_genes", "read_genes_file"]

#: The suffix of the file of gene ids and symbols that earlier versions of
#: ``sktaaf fit`` wrote beside a model.
GENES_SUFFIX = ".genes.json"
_GENES_FORMAT = "sktaaf-genes"
# A genes file of 100,000 genes with long symbols is ~10 MB.
_MAX_GENES_FILE_BYTES = 256 * 2**20
_FIELDS = ("landmark_ids", "target_ids", "landmark_symbols", "target_symbols")


def genes_file(model_path) -> Path:
    """The file of gene ids and symbols beside ``model_path`` (older models)."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + GENES_SUFFIX)


def _invalid(path, message: str) -> UsageError:
    return UsageError(
        f"The genes file {str(path)!r} is not valid: {message}. Delete it, or "
        "fit the model again with this version of sktaaf (which keeps the "
        "genes inside the model file)."
    )


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_genes_file(model_path) -> dict:
    """The content of the genes file beside ``model_path``: ``{}`` if there is
    none; a UsageError naming it if it cannot be read or is not JSON of the
    expected shape (its fields are checked against the model by
    :func:`model_genes`)."""
    path = genes_file(model_path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UsageError(f"Cannot read the genes file {str(path)!r}: {exc}") from exc
    if not stat.S_ISREG(mode):
        raise _invalid(path, "it is not a regular file")
    try:
        with open(path, "rb") as file:
            text = file.read(_MAX_GENES_FILE_BYTES + 1)
        if len(text) > _MAX_GENES_FILE_BYTES:
            raise _invalid(path, f"it is larger than {_MAX_GENES_FILE_BYTES} bytes")
        content = json.loads(text.decode("utf-8-sig"))
    except RecursionError as exc:
        raise _invalid(path, "its JSON is nested too deeply") from exc
    except (OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise UsageError(f"Cannot read the genes file {str(path)!r}: {reason}") from exc
    if not isinstance(content, dict) or content.get("format") != _GENES_FORMAT:
        raise _invalid(path, "it is not an sktaaf genes file")
    return content


def _field(content: dict, name: str, count: int, path, allow_none: bool) -> list:
    """The list ``content[name]``: ``count`` str (or None where allowed);
    None if the field is absent or null."""
    values = content.get(name)
    if values is None:
        return None
    kinds = "str or null" if allow_none else "str"
    if not (
        isinstance(values, list)
        and len(values) == count
        and all(
            isinstance(value, str) or (allow_none and value is None) for value in values
        )
    ):
        raise _invalid(
            path,
            f"its {name} is {_shown(values)}; expected a list of {count} {kinds} "
            "(one per gene of the model)",
        )
    return values


def _ids(model_ids, saved, name: str, path) -> list:
    """The model's ids, which the genes file's must equal where it has any."""
    if model_ids is None:
        return saved
    model_ids = [str(value) for value in model_ids]
    if saved is not None and saved != model_ids:
        raise _invalid(
            path,
            f"its {name} differ from the model's (it belongs to another model)",
        )
    return model_ids


def model_genes(estimator, metadata: dict, model_path) -> dict:
    """The landmark and target ids and symbols of a model: its own (fitted
    attributes and ``gene_symbols`` field), else the checked genes file of an
    older model; ids or symbols nobody recorded are None.

    Returns
    -------
    genes : dict
        ``landmark_ids``, ``target_ids`` (lists of str or None) and
        ``landmark_symbols``, ``target_symbols`` (lists of str or None, or
        None).
    """
    n_features, n_outputs = estimator.n_features_in_, estimator.n_outputs_
    model_landmarks = getattr(estimator, "feature_names_in_", None)
    model_targets = getattr(estimator, "target_names_", None)
    symbols = metadata.get(GENE_SYMBOLS_FIELD)
    if symbols is not None:  # checked by load with the rest of the file
        content, path = {}, None
    else:
        content = read_genes_file(model_path)
        path = genes_file(model_path)
        symbols = {
            "landmarks": _field(content, "landmark_symbols", n_features, path, True),
            "targets": _field(content, "target_symbols", n_outputs, path, True),
        }
    return {
        "landmark_ids": _ids(
            model_landmarks,
            _field(content, "landmark_ids", n_features, path, False),
            "landmark ids",
            path,
        ),
        "target_ids": _ids(
            model_targets,
            _field(content, "target_ids", n_outputs, path, False),
            "target ids",
            path,
        ),
        "landmark_symbols": symbols["landmarks"],
        "target_symbols": symbols["targets"],
    }
