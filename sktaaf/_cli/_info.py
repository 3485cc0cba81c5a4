"""``sktaaf info MODEL``: what a model file holds, as a model card.

The card is the library's (``_library.model_card``: parameters, genes,
training, validation scores, versions) with the file's own facts added
(path, size, SHA-256, the versions it was saved with, the row-metadata fields
kept for the targets). It is printed for a reader, or as JSON (``--json``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .._persistence._checks import GENE_SYMBOLS_FIELD, TARGET_METADATA_FIELD
from ._library import file_digest, model_card
from ._model import load_model

__all__ = ["card", "run"]

# Lists longer than this are shortened in the text form.
_SHOWN = 6


def card(path: str) -> dict:
    """The model card of the model file at ``path``, with the file's facts."""
    estimator, metadata = load_model(path, "cpu")
    symbols = metadata.get(GENE_SYMBOLS_FIELD) or {}
    fields = metadata.get(TARGET_METADATA_FIELD)
    file = {
        "path": str(path),
        "bytes": Path(path).stat().st_size,
        "sha256": file_digest(path),
        "format_version": metadata.get("format_version"),
        "saved_with": metadata.get("versions"),
        "target_symbols_known": sum(
            symbol is not None for symbol in symbols.get("targets") or []
        ),
        "target_row_metadata_fields": None if fields is None else list(fields),
    }
    return {"file": file, **model_card(estimator)}


def _plain(value):
    """``value`` with NaN and infinities as None: JSON without extensions."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _text(value) -> str:
    if isinstance(value, list | tuple):
        shown = ", ".join(str(item) for item in value[:_SHOWN])
        more = len(value) - _SHOWN
        return f"[{shown}{f', ... ({len(value)} in all)' if more > 0 else ''}]"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render(content: dict, indent: int = 0) -> list[str]:
    """The lines of ``content`` for a reader: nested dicts indented."""
    lines = []
    for key, value in content.items():
        if isinstance(value, dict):
            lines.append(f"{'  ' * indent}{key}:")
            lines.extend(render(value, indent + 1))
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(item, dict) for item in value)
        ):  # e.g. one entry per network
            for number, item in enumerate(value):
                lines.append(f"{'  ' * indent}{key} [{number}]:")
                lines.extend(render(item, indent + 1))
        else:
            lines.append(f"{'  ' * indent}{key}: {_text(value)}")
    return lines


def run(args) -> int:
    content = _plain(card(args.model))
    if args.json:
        print(json.dumps(content, indent=2, allow_nan=False))
    else:
        print("\n".join(render(content)))
    return 0
