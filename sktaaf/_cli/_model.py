"""A model file, as the commands that read one see it (``predict``,
``score``, ``info``): the estimator, its metadata and its genes."""

from __future__ import annotations

import sys
from pathlib import Path

from ._errors import UsageError
from ._genes import model_genes

__all__ = ["estimators", "load_model", "model_gene_ids"]


def estimators() -> dict:
    """The estimator classes by the name ``--model`` gives them."""
    from .. import DGEXRegressor, TAAFRegressor, TargetBlockRegressor

    return {
        "taaf": TAAFRegressor,
        "dgex": DGEXRegressor,
        "blocks": TargetBlockRegressor,
    }


def load_model(path: str, device: str = "cpu"):
    """The estimator of the model file at ``path`` (on ``device``) and the
    file's metadata, the file read once (as ``load`` reads it)."""
    from .._persistence._format import model_from_file, read_file

    if not Path(path).is_file():
        raise UsageError(f"No model file at {path!r}.")
    payload, metadata = read_file(path)
    classes = {cls.__name__: cls for cls in estimators().values()}
    cls = classes.get(metadata.get("class"))
    if cls is None:
        raise UsageError(f"{path!r} holds a {metadata.get('class')}, not a model.")
    model = model_from_file(path, payload, metadata)
    return cls._from_saved(model, path, device), metadata


def model_gene_ids(estimator, metadata: dict, path: str) -> dict:
    """The model's genes (see ``_genes``), target ids filled in if unknown."""
    genes = model_genes(estimator, metadata, path)
    if genes["landmark_ids"] is None:
        raise UsageError(
            f"The model {path!r} was fitted without gene ids (on arrays, not "
            "DataFrames), so its landmarks cannot be matched by id; refit it "
            "with `sktaaf fit`."
        )
    if genes["target_ids"] is None:
        genes["target_ids"] = [f"target_{i}" for i in range(estimator.n_outputs_)]
        print(
            f"Note: the model {path!r} names no target genes; the output rows "
            "are named target_0, target_1, ...",
            file=sys.stderr,
        )
    return genes
