"""What the commands take from the library's per-gene quality and model
cards, in one place.

The library gives, on a fitted estimator, ``target_scores_`` (a DataFrame
indexed by target id, columns ``mae`` and ``r``, from the early-stopping
validation rows; None without early stopping or for older models),
:func:`sktaaf.datasets.inference_row_metadata` (the row metadata of the
inferred genes: ``pr_inference_r``, ``pr_inference_mae``, ``pr_is_inferred``
and a well-inferred flag) and :func:`sktaaf._model_card.model_card` (a
JSON-serialisable dict describing a model). Until they exist, this module
falls back on minimal versions of its own (``_fallback_*``); the commands
call only the three functions below.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = [
    "FALLBACK_R_THRESHOLD",
    "file_digest",
    "inference_row_metadata",
    "model_card",
    "target_scores",
]

#: The fallback's threshold of ``pr_is_well_inferred``: a validation Pearson r
#: at least this high (the library's default; used only until it is merged).
FALLBACK_R_THRESHOLD = 0.7


def target_scores(model):
    """The model's per-target validation scores (``target_scores_``), or None."""
    return getattr(model, "target_scores_", None)


def inference_row_metadata(model, r_threshold=None):
    """Row metadata of the model's inferred genes, indexed by target id, or
    None when the model has no per-gene scores."""
    try:
        from ..datasets import inference_row_metadata as library
    except ImportError:
        library = _fallback_inference_row_metadata
    return library(model, r_threshold=r_threshold)


def model_card(estimator) -> dict:
    """A JSON-serialisable description of a fitted estimator."""
    try:
        from .._model_card import model_card as library
    except ImportError:
        library = _fallback_model_card
    return library(estimator)


def _fallback_inference_row_metadata(model, r_threshold=None):
    scores = target_scores(model)
    if scores is None:
        return None
    import pandas as pd

    threshold = FALLBACK_R_THRESHOLD if r_threshold is None else r_threshold
    if not -1 <= threshold <= 1:
        raise ValueError(f"r_threshold must be in [-1, 1]; got {threshold}.")
    r = scores["r"].astype("float64")
    return pd.DataFrame(
        {
            "pr_inference_r": r,
            "pr_inference_mae": scores["mae"].astype("float64"),
            "pr_is_inferred": 1,
            "pr_is_well_inferred": (r >= threshold).astype("int8"),
        },
        index=scores.index.astype(str),
    )


def _fallback_model_card(estimator) -> dict:
    from .._version import __version__

    names = getattr(estimator, "feature_names_in_", None)
    targets = getattr(estimator, "target_names_", None)
    params = estimator.get_params(deep=False)
    card = {
        "estimator": type(estimator).__name__,
        "sktaaf_version": __version__,
        "params": {
            name: value if _is_plain(value) else repr(value)
            for name, value in params.items()
        },
        "n_landmarks": int(estimator.n_features_in_),
        "n_targets": int(estimator.n_outputs_),
        "landmark_ids": None if names is None else [str(v) for v in names],
        "target_ids": None if targets is None else [str(v) for v in targets],
        "n_epochs": int(estimator.n_iter_),
        "best_epoch": int(estimator.best_epoch_),
    }
    scores = target_scores(estimator)
    if scores is not None:
        card["validation"] = {
            "mean_mae": float(scores["mae"].mean()),
            "mean_r": float(scores["r"].mean()),
        }
    return card


def _is_plain(value) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(item) for item in value)
    return False


def file_digest(path) -> str:
    """The SHA-256 of the file at ``path``, in hex."""
    sha = hashlib.sha256()
    with Path(path).open("rb") as file:
        for block in iter(lambda: file.read(2**20), b""):
            sha.update(block)
    return sha.hexdigest()
