"""Row metadata of inferred genes: how well a model infers each of them."""

from __future__ import annotations

from numbers import Real

import numpy as np

__all__ = ["DEFAULT_R_THRESHOLD", "inference_row_metadata"]

#: The validation r from which :func:`inference_row_metadata` flags a gene as
#: well inferred by default.
DEFAULT_R_THRESHOLD = 0.7


def inference_row_metadata(model, *, r_threshold: float | None = None):
    """Row metadata saying how well ``model`` infers each target gene.

    For the rows of inferred genes in an output file (``sktaaf predict`` and
    :func:`predict_gctx` write it into the GCTX row metadata). The values
    come from the model's ``target_scores_``: each gene's Pearson correlation
    and mean absolute error between measured and inferred expression on the
    validation rows early stopping held out during ``fit``.

    CMap, which infers ~11,350 genes from the 978 L1000 landmarks, publishes
    which of them it infers well (its "best inferred genes", BING, are the
    landmarks and the genes it deemed well inferred from an evaluation on
    independent data). ``pr_is_well_inferred`` plays that part here, with a
    simpler criterion: the gene's validation r is at least ``r_threshold``.
    CMap's own criterion differs, and this flag is no substitute for it.
    Validation rows chose the epoch kept, so the scores are slightly
    optimistic; score independent data (``sktaaf score``) to be sure.

    Parameters
    ----------
    model : fitted estimator
        A fitted :class:`~sktaaf.TAAFRegressor`, :class:`~sktaaf.DGEXRegressor`
        or :class:`~sktaaf.TargetBlockRegressor` (anything with
        ``target_scores_``).
    r_threshold : float, default=None
        The validation r from which a gene counts as well inferred, in
        [-1, 1]; None takes ``DEFAULT_R_THRESHOLD`` (0.7, a common
        cut-off for a strong correlation). A gene whose r is undefined (NaN:
        constant on the validation rows) is never flagged.

    Returns
    -------
    metadata : pandas.DataFrame or None
        Indexed like ``model.target_scores_`` (the target ids), with columns
        ``pr_inference_r`` and ``pr_inference_mae`` (float64, NaN where r is
        undefined), ``pr_is_inferred`` (1 for every row) and
        ``pr_is_well_inferred`` (1 or 0, int64). None when the model has no
        scores (fitted with ``early_stopping=False``, or loaded from a file
        saved before they were kept).

    Raises
    ------
    ValueError
        If ``r_threshold`` is not a number in [-1, 1].

    Examples
    --------
    >>> from sktaaf import TAAFRegressor
    >>> from sktaaf.datasets import inference_row_metadata, make_expression
    >>> X, y = make_expression(200, n_landmarks=10, n_targets=3, random_state=0)
    >>> model = TAAFRegressor(hidden_layer_sizes=(16,), max_epochs=5,
    ...                       random_state=0).fit(X, y)
    >>> meta = inference_row_metadata(model, r_threshold=0.5)
    >>> list(meta.columns)
    ['pr_inference_r', 'pr_inference_mae', 'pr_is_inferred', 'pr_is_well_inferred']
    >>> len(meta)
    3
    """
    if r_threshold is None:
        r_threshold = DEFAULT_R_THRESHOLD
    if (
        isinstance(r_threshold, bool)
        or not isinstance(r_threshold, Real)
        or not -1 <= r_threshold <= 1
    ):
        raise ValueError(
            f"r_threshold must be a number in [-1, 1] (a Pearson r) or None; got "
            f"{r_threshold!r}."
        )
    scores = getattr(model, "target_scores_", None)
    if scores is None:
        return None
    import pandas as pd

    r = scores["r"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):  # NaN r: not well inferred
        well = np.nan_to_num(r, nan=-np.inf) >= r_threshold
    return pd.DataFrame(
        {
            "pr_inference_r": r,
            "pr_inference_mae": scores["mae"].to_numpy(dtype=np.float64),
            "pr_is_inferred": np.ones(len(r), dtype=np.int64),
            "pr_is_well_inferred": well.astype(np.int64),
        },
        index=scores.index.copy(),
    )
