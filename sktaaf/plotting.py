"""Plots of training, per-gene errors and scores, TAAF parameters and inferred
genes.

Each function draws on a matplotlib :class:`~matplotlib.axes.Axes` (a new
figure when ``ax`` is None) and returns the Axes it drew on, to be styled or
saved by the caller (``ax.figure.savefig(...)``), as pandas' and seaborn's
plotting functions do. matplotlib is optional: it is imported when a function
is called, and an ``ImportError`` saying ``pip install matplotlib`` is raised
when it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .metrics import per_gene_mae, per_gene_pearson, win_rate
from .nn import TAAF_PARAMETERS, taaf_parameters

__all__ = [
    "plot_learning_curves",
    "plot_measured_vs_inferred",
    "plot_model_scores",
    "plot_per_gene_error",
    "plot_per_gene_mae",
    "plot_taaf_parameters",
    "plot_target_scores",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sktaaf.plotting needs matplotlib, which is not installed; install "
            "it with: pip install matplotlib"
        ) from exc
    return plt


def _new_axes(ax, **subplots):
    """``ax``, or the Axes of a new figure (``pyplot.subplots(**subplots)``)
    when None; matplotlib is checked either way."""
    plt = _pyplot()
    return plt.subplots(**subplots)[1] if ax is None else ax


def _final_step(estimator):
    """The last step of a pipeline (or the estimator itself)."""
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def plot_learning_curves(estimator_or_history, ax=None, *, best_epoch=None):
    """Plot the training and validation loss of every epoch.

    Parameters
    ----------
    estimator_or_history : estimator, Pipeline or skorch History
        A fitted :class:`~sktaaf.TAAFRegressor` or
        :class:`~sktaaf.DGEXRegressor` (or a pipeline ending in one), whose
        ``history_`` is drawn, or such a history itself (a list of one dict per
        epoch with ``"epoch"``, ``"train_loss"`` and, with early stopping,
        ``"valid_loss"``).
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    best_epoch : int, default=None
        The epoch to mark; None marks the estimator's ``best_epoch_`` (the
        epoch whose weights it kept), and nothing for a history.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on: one line for the training loss, a dashed one for
        the validation loss (when recorded), and a dotted vertical line at
        the best epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sktaaf import DGEXRegressor
    >>> from sktaaf.datasets import make_expression
    >>> from sktaaf.plotting import plot_learning_curves
    >>> X, y = make_expression(n_samples=100, n_landmarks=8, n_targets=4,
    ...                        random_state=0)
    >>> model = DGEXRegressor(hidden_layer_sizes=(8,), max_epochs=5,
    ...                       random_state=0).fit(X, y)
    >>> ax = plot_learning_curves(model)
    >>> [line.get_label() for line in ax.get_lines()]
    ['training loss', 'validation loss', 'best epoch']
    """
    source = _final_step(estimator_or_history)
    history = getattr(source, "history_", source)
    try:
        rows = list(history)
    except TypeError:  # not fitted, or not an estimator at all
        rows = []
    if not rows or not all(isinstance(row, dict) and "epoch" in row for row in rows):
        raise TypeError(
            "plot_learning_curves expects a fitted TAAFRegressor or DGEXRegressor "
            "(or a pipeline ending in one) or its history_ (one dict per epoch); "
            f"got {type(estimator_or_history).__name__}."
        )
    ax = _new_axes(ax)
    epochs = [row["epoch"] for row in rows]
    ax.plot(
        epochs, [row.get("train_loss", np.nan) for row in rows], label="training loss"
    )
    if any("valid_loss" in row for row in rows):
        ax.plot(
            epochs,
            [row.get("valid_loss", np.nan) for row in rows],
            "--",
            label="validation loss",
        )
    if best_epoch is None:
        best_epoch = getattr(source, "best_epoch_", None)
    if best_epoch is not None:
        ax.axvline(best_epoch, color="grey", ls=":", lw=1, label="best epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    return ax


def plot_per_gene_error(
    y_true,
    y_pred,
    y_pred_baseline,
    ax=None,
    *,
    model_name: str = "model",
    baseline_name: str = "baseline",
):
    """Scatter each gene's mean absolute error under a model against a baseline's.

    The plot of D-GEX [1]_: one point per target gene, the baseline's error
    horizontally and the model's vertically, with the diagonal; points below it
    are genes the model infers better. The title gives the share of such genes
    (:func:`~sktaaf.metrics.win_rate`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples, n_genes)
        Measured expression.
    y_pred : array-like of shape (n_samples, n_genes)
        The model's inferred expression.
    y_pred_baseline : array-like of shape (n_samples, n_genes)
        The baseline's inferred expression (e.g. linear regression's).
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    model_name, baseline_name : str, default="model", "baseline"
        Names for the axis labels and the title.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    See Also
    --------
    sktaaf.metrics.per_gene_mae : The errors plotted.

    References
    ----------
    .. [1] Chen, Y., Li, Y., Narayan, R., Subramanian, A. and Xie, X. (2016).
       Gene expression inference with deep learning. Bioinformatics, 32(12),
       1832-1839.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sktaaf.plotting import plot_per_gene_error
    >>> rng = np.random.RandomState(0)
    >>> y_true = rng.normal(size=(50, 20))
    >>> y_model = y_true + 0.1 * rng.normal(size=(50, 20))
    >>> y_baseline = y_true + 0.5 * rng.normal(size=(50, 20))
    >>> ax = plot_per_gene_error(y_true, y_model, y_baseline)
    >>> ax.get_title()
    'model beats baseline on 100.0% of genes'
    >>> len(ax.collections[0].get_offsets())  # one point per gene
    20
    """
    return plot_per_gene_mae(
        per_gene_mae(y_true, y_pred),
        per_gene_mae(y_true, y_pred_baseline),
        ax,
        model_name=model_name,
        baseline_name=baseline_name,
    )


def plot_per_gene_mae(
    mae,
    baseline_mae,
    ax=None,
    *,
    model_name: str = "model",
    baseline_name: str = "baseline",
):
    """:func:`plot_per_gene_error` from the per-gene errors themselves (e.g.
    means over cross-validation splits) instead of predictions.

    Parameters
    ----------
    mae : array-like of shape (n_genes,)
        The model's error on each gene (e.g.
        :func:`~sktaaf.metrics.per_gene_mae`).
    baseline_mae : array-like of shape (n_genes,)
        The baseline's, gene for gene.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    model_name, baseline_name : str, default="model", "baseline"
        Names for the axis labels and the title.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sktaaf.plotting import plot_per_gene_mae
    >>> ax = plot_per_gene_mae([0.1, 0.2, 0.5], [0.2, 0.3, 0.4],
    ...                        model_name="TAAF", baseline_name="linear")
    >>> ax.get_title()
    'TAAF beats linear on 66.7% of genes'
    """
    errors = np.asarray(mae, dtype=np.float64).ravel()
    baseline = np.asarray(baseline_mae, dtype=np.float64).ravel()
    if errors.shape != baseline.shape:
        raise ValueError(
            "mae and baseline_mae must hold one error per gene each; got "
            f"{errors.size} and {baseline.size} values."
        )
    ax = _new_axes(ax)
    ax.scatter(baseline, errors, s=6, alpha=0.6)
    low = min(errors.min(), baseline.min())
    high = max(errors.max(), baseline.max())
    ax.plot([low, high], [low, high], "k--", lw=1)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel(f"per-gene MAE, {baseline_name}")
    ax.set_ylabel(f"per-gene MAE, {model_name}")
    wins = win_rate(errors, baseline)
    ax.set_title(f"{model_name} beats {baseline_name} on {wins:.1%} of genes")
    return ax


def _taaf_layers(estimator_or_module) -> dict:
    """The TAAF parameters to draw, by layer label: from an estimator, a
    module, or a mapping as :func:`sktaaf.nn.taaf_parameters` returns."""
    layers, what = estimator_or_module, "the mapping"
    if not isinstance(layers, Mapping):
        source = _final_step(estimator_or_module)
        module = getattr(source, "module_", source)
        if not hasattr(module, "named_modules"):
            raise TypeError(
                "plot_taaf_parameters expects a fitted TAAFRegressor (or a "
                "pipeline ending in one), a torch module holding TAAF layers or "
                "their parameters by layer (sktaaf.nn.taaf_parameters); got "
                f"{type(estimator_or_module).__name__}."
            )
        layers, what = taaf_parameters(module), type(module).__name__
    if not layers:
        raise ValueError(
            f"{what} has no TAAF layers to plot (a D-GEX network has fixed "
            "activations); pass a TAAFRegressor or its module_."
        )
    return {
        name.removesuffix(".taaf") or "taaf": values for name, values in layers.items()
    }


def plot_taaf_parameters(estimator_or_module, ax=None):
    """Plot the distribution of the learned TAAF parameters, layer by layer.

    Every neuron of a TAAF-D-GEX network has its own activation
    ``f(x) = alpha * g(beta * x + gamma) + delta``. One panel per parameter;
    in each, one histogram (of the layer's neurons) per TAAF layer, and a
    dashed line at the parameter's initial value.

    Parameters
    ----------
    estimator_or_module : TAAFRegressor, Pipeline, torch.nn.Module or dict
        A fitted :class:`~sktaaf.TAAFRegressor` (or a pipeline ending in one),
        a module holding :class:`~sktaaf.nn.TAAF` layers, or their parameters
        by layer as :func:`sktaaf.nn.taaf_parameters` returns them (e.g.
        pooled over several fits).
    ax : array-like of 4 matplotlib.axes.Axes, default=None
        The panels of alpha, beta, gamma and delta; a new figure of four
        panels when None.

    Returns
    -------
    axes : ndarray of 4 matplotlib.axes.Axes
        The panels drawn on, in the order alpha, beta, gamma, delta.

    Raises
    ------
    ValueError
        If the network has no TAAF layer (e.g. a ``DGEXRegressor``'s).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sktaaf.nn import TAAFNetwork
    >>> from sktaaf.plotting import plot_taaf_parameters
    >>> network = TAAFNetwork(8, 4, hidden_layer_sizes=(16,))
    >>> axes = plot_taaf_parameters(network)
    >>> [ax.get_title() for ax in axes]
    ['alpha', 'beta', 'gamma', 'delta']
    >>> axes[0].get_legend_handles_labels()[1]
    ['hidden0', 'output']
    """
    layers = _taaf_layers(estimator_or_module)
    ax = _new_axes(ax, ncols=4, figsize=(12, 3), layout="constrained")
    axes = np.asarray(ax, dtype=object).ravel()
    if axes.shape != (4,):
        raise ValueError(
            "plot_taaf_parameters draws on 4 Axes (alpha, beta, gamma, delta); "
            f"got {axes.size}."
        )
    for axis, (parameter, initial) in zip(axes, TAAF_PARAMETERS.items(), strict=True):
        for name, layer in layers.items():
            values = np.asarray(layer[parameter], dtype=np.float64)
            axis.hist(values, bins=30, density=True, histtype="step", label=name)
        axis.axvline(initial, color="black", ls="--", lw=1)
        axis.set_title(parameter)
        axis.set_yticks([])
    axes[0].legend(fontsize="small")
    return axes


def _gene_columns(y_true, genes) -> tuple[list[int], list[str]]:
    columns = getattr(y_true, "columns", None)
    genes = [genes] if np.ndim(genes) == 0 else list(genes)
    if not genes:
        raise ValueError("genes must name at least one gene; got an empty list.")
    positions, labels = [], []
    n_genes = np.shape(y_true)[1] if np.ndim(y_true) == 2 else 1
    for gene in genes:
        if columns is not None and gene in list(columns):
            positions.append(list(columns).index(gene))
            labels.append(str(gene))
        elif (
            isinstance(gene, int | np.integer)
            and not isinstance(gene, bool)
            and -n_genes <= gene < n_genes
        ):
            positions.append(int(gene) % n_genes)
            labels.append(
                str(columns[int(gene)]) if columns is not None else f"gene {gene}"
            )
        else:
            known = "a column of y_true" if columns is not None else "a column index"
            raise ValueError(
                f"genes must be {known} (0 to {n_genes - 1}); got {gene!r}."
            )
    return positions, labels


def plot_measured_vs_inferred(y_true, y_pred, genes, ax=None, *, symbols=None):
    """Scatter measured against inferred expression for a few genes.

    One point per sample and one colour per gene, with the diagonal (perfect
    inference); the legend gives each gene's Pearson correlation across the
    samples (:func:`~sktaaf.metrics.per_gene_pearson`).

    Parameters
    ----------
    y_true : array-like or DataFrame of shape (n_samples, n_genes)
        Measured expression.
    y_pred : array-like of shape (n_samples, n_genes)
        Inferred expression, columns in the order of ``y_true``'s.
    genes : int, str or list of them
        The genes to draw: column positions, or column names of ``y_true``
        when it is a DataFrame.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    symbols : mapping or pandas.Series, default=None
        Gene symbols by gene id (e.g. a model file's ``pr_gene_symbol``
        column): the legend names a gene by its symbol when known, by its
        id otherwise.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sktaaf.plotting import plot_measured_vs_inferred
    >>> rng = np.random.RandomState(0)
    >>> y_true = rng.normal(size=(40, 5))
    >>> y_pred = y_true + 0.3 * rng.normal(size=(40, 5))
    >>> ax = plot_measured_vs_inferred(y_true, y_pred, genes=[0, 3])
    >>> [text.get_text().split(" (")[0] for text in ax.get_legend().get_texts()]
    ['gene 0', 'gene 3']
    """
    positions, labels = _gene_columns(y_true, genes)
    if symbols is not None:
        if not hasattr(symbols, "items"):
            raise TypeError(
                "symbols must be a mapping or a pandas Series of gene symbols by "
                f"gene id; got {type(symbols).__name__}."
            )
        known = {str(gene): symbol for gene, symbol in symbols.items()}
        labels = [str(known.get(label, label)) for label in labels]
    measured = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    inferred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    if measured.shape != inferred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape; got {measured.shape} "
            f"and {inferred.shape}."
        )
    measured, inferred = measured[:, positions], inferred[:, positions]
    correlations = per_gene_pearson(measured, inferred)
    ax = _new_axes(ax)
    for j, label in enumerate(labels):
        ax.scatter(
            measured[:, j],
            inferred[:, j],
            s=8,
            alpha=0.7,
            label=f"{label} (r = {correlations[j]:.2f})",
        )
    low = min(np.nanmin(measured), np.nanmin(inferred))
    high = max(np.nanmax(measured), np.nanmax(inferred))
    ax.plot([low, high], [low, high], "k--", lw=1)
    ax.set_xlabel("measured expression")
    ax.set_ylabel("inferred expression")
    ax.legend(fontsize="small")
    return ax


#: What :func:`plot_target_scores` can draw, and the axis label of each.
_SCORE_LABELS = {
    "r": "validation Pearson r (measured vs inferred)",
    "mae": "validation MAE",
}


def plot_target_scores(estimator_or_scores, ax=None, *, score="r", bins=40):
    """Histogram of how well each target gene is inferred.

    Inferred genes differ widely in quality; this draws the distribution of
    each gene's validation score from ``target_scores_`` (Pearson r between
    measured and inferred expression by default, or the MAE), with a dashed
    line at the median. The title gives the number of genes and the median;
    genes whose r is undefined (constant on the validation rows) are left
    out, and counted in the title.

    Parameters
    ----------
    estimator_or_scores : estimator, Pipeline or DataFrame
        A fitted :class:`~sktaaf.TAAFRegressor`, :class:`~sktaaf.DGEXRegressor`
        or :class:`~sktaaf.TargetBlockRegressor` (or a pipeline ending in
        one) fitted with early stopping, or its ``target_scores_``.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    score : {"r", "mae"}, default="r"
        Which score to draw.
    bins : int, default=40
        Number of histogram bins.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ValueError
        If the estimator has no scores (fitted with ``early_stopping=False``),
        or ``score`` is neither ``"r"`` nor ``"mae"``.

    See Also
    --------
    sktaaf.datasets.inference_row_metadata : The same scores as row metadata.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sktaaf import TAAFRegressor
    >>> from sktaaf.datasets import make_expression
    >>> from sktaaf.plotting import plot_target_scores
    >>> X, y = make_expression(n_samples=200, n_landmarks=8, n_targets=30,
    ...                        random_state=0)
    >>> model = TAAFRegressor(hidden_layer_sizes=(16,), max_epochs=5,
    ...                       random_state=0).fit(X, y)
    >>> ax = plot_target_scores(model)
    >>> ax.get_title().split(",")[0]
    '30 genes'
    """
    if score not in _SCORE_LABELS:
        raise ValueError(f"score must be 'r' or 'mae'; got {score!r}.")
    source = _final_step(estimator_or_scores)
    scores = getattr(source, "target_scores_", source)
    if scores is None or not hasattr(scores, "columns") or score not in scores:
        raise ValueError(
            "plot_target_scores expects an estimator fitted with early stopping "
            "(whose target_scores_ holds each gene's validation scores) or its "
            f"target_scores_; got {type(estimator_or_scores).__name__} without "
            "scores (early_stopping=False keeps none)."
        )
    values = scores[score].to_numpy(dtype=np.float64)
    defined = values[~np.isnan(values)]
    ax = _new_axes(ax)
    ax.hist(defined, bins=bins, range=(-1, 1) if score == "r" else None)
    title = f"{len(values)} genes"
    if defined.size:
        median = float(np.median(defined))
        ax.axvline(median, color="k", ls="--", lw=1, label=f"median {median:.3g}")
        ax.legend()
        title += f", median {score} {median:.3g}"
    if defined.size < values.size:
        title += f" ({values.size - defined.size} undefined)"
    ax.set_title(title)
    ax.set_xlabel(_SCORE_LABELS[score])
    ax.set_ylabel("genes")
    return ax


def plot_model_scores(
    scores, ax=None, *, errors=None, kinds=None, reference=None, ylabel="score"
):
    """Bars of one score per model, with error bars and a reference line.

    Parameters
    ----------
    scores : mapping of str to float
        Each model's score (e.g. its test MAE) by its label, in bar order.
    ax : matplotlib.axes.Axes, default=None
        Where to draw; a new figure when None.
    errors : mapping of str to float, default=None
        Each model's error bar half-height (e.g. the sd over splits).
    kinds : mapping of str to str, default=None
        Each model's kind (e.g. "baseline"): a colour and legend entry each.
    reference : str, default=None
        A model whose score is drawn across as a dashed line.
    ylabel : str, default="score"
        The vertical axis's label.

    Returns
    -------
    ax : matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sktaaf.plotting import plot_model_scores
    >>> ax = plot_model_scores(
    ...     {"linear": 0.56, "TAAF": 0.53}, errors={"linear": 0.01, "TAAF": 0.01},
    ...     kinds={"linear": "baseline", "TAAF": "network"}, reference="linear",
    ...     ylabel="test MAE")
    >>> [text.get_text() for text in ax.get_xticklabels()]
    ['linear', 'TAAF']
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['baseline', 'network', 'linear (reference)']
    """
    from matplotlib.patches import Patch

    names = list(scores)
    values = [float(scores[name]) for name in names]
    spread = [float((errors or {}).get(name) or 0) for name in names]
    kinds = kinds or {}
    kind_names = list(dict.fromkeys(kinds.get(name) for name in names))
    palette = {kind: f"C{index}" for index, kind in enumerate(kind_names)}
    colors = [palette[kinds.get(name)] for name in names]
    ax = _new_axes(ax)
    positions = np.arange(len(names))
    bars = ax.bar(positions, values, yerr=spread, capsize=4, color=colors)
    ax.bar_label(bars, fmt="%.4g", label_type="center", color="white")
    handles = [Patch(color=palette[kind], label=kind) for kind in kind_names if kind]
    if reference is not None:
        label = f"{reference} (reference)"
        handles.append(ax.axhline(scores[reference], c="k", ls="--", label=label))
    if handles:
        ax.legend(handles=handles, fontsize="small")
    ax.set_xticks(positions, names, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    return ax
