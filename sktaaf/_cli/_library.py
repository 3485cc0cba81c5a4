"""What the commands take from the library's per-gene quality and model
cards, in one place: :func:`sktaaf.datasets.inference_row_metadata` (the row
metadata of the inferred genes: ``pr_inference_r``, ``pr_inference_mae``,
``pr_is_inferred`` and ``pr_is_well_inferred``, from ``target_scores_``),
:func:`sktaaf._persistence._card.model_card` (a JSON-serialisable description of a
fitted estimator) and the file digest ``sktaaf info`` prints."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .._persistence._card import model_card
from ..datasets import inference_row_metadata

__all__ = ["file_digest", "inference_row_metadata", "model_card"]


def file_digest(path) -> str:
    """The SHA-256 of the file at ``path``, in hex."""
    sha = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(2**20), b""):
            sha.update(block)
    return sha.hexdigest()
