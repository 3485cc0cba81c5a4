"""Figures of ``sktaaf compare``, drawn by :mod:`sktaaf.plotting` on figures
of matplotlib's object API (Agg canvas).

Figures are built from :class:`matplotlib.figure.Figure` directly (no pyplot
figure), so nothing depends on, or changes, the global backend or figure
registry; this module lays the panels out, titles them and saves them.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import plotting
from .._utils._atomic import atomic_file
from ..nn import TAAF_PARAMETERS

DPI = 120


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> str:
    with atomic_file(path, "wb") as file:  # an interrupted run leaves no part
        figure.savefig(file, dpi=DPI, format=path.suffix.lstrip(".") or "png")
    return path.name


def _panels(n_panels: int, width: float, height: float, **options):
    """A figure of ``n_panels`` panels of ``width`` x ``height`` inches, at
    most 3 a row (room for a suptitle above), and their Axes; the spare
    panels of the grid hidden."""
    n_columns = min(3, n_panels)
    n_rows = math.ceil(n_panels / n_columns)
    figure = _figure(width * n_columns, height * n_rows + 0.4)
    axes = figure.subplots(n_rows, n_columns, squeeze=False, **options).flat
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return figure, axes[:n_panels]


def _kind(model: dict) -> str:
    if "taaf_layers" in model["splits"][0]:
        return "TAAF network"
    return "D-GEX network" if model["summary"].get("n_epochs_mean") else "baseline"


def plot_mae(results: dict, labels: dict, reference: str | None, title: str):
    """Bars of the test MAE of every model, with their spread."""
    models = results["models"]
    n_splits = len(results["splits"])
    spread, error_text = "mae_sem", "error bars: s.e. over test samples (one split)"
    if n_splits > 1:
        spread, error_text = "mae_sd", f"error bars: sd over {n_splits} splits"
    figure = _figure(max(5.0, 1.1 * len(models) + 1.5), 4.2)
    ax = plotting.plot_model_scores(
        {labels[name]: model["summary"]["mae_mean"] for name, model in models.items()},
        figure.add_subplot(),
        errors={
            labels[name]: model["summary"][spread] for name, model in models.items()
        },
        kinds={labels[name]: _kind(model) for name, model in models.items()},
        reference=labels[reference] if reference in models else None,
        ylabel="test MAE (original scale of y)",
    )
    ax.set_title(f"Test MAE per model; {error_text}\n{title}", fontsize="medium")
    return figure


def plot_per_gene_vs_reference(
    per_gene: dict, labels: dict, reference: str, title: str
):
    """D-GEX's scatter: every gene's MAE under a model against ``reference``."""
    names = [name for name in per_gene if name != reference]
    figure, panels = _panels(len(names), 3.6, 3.6)
    baseline = per_gene[reference]["mae"].mean(axis=0)
    for ax, name in zip(panels, names, strict=True):
        plotting.plot_per_gene_mae(
            per_gene[name]["mae"].mean(axis=0),
            baseline,
            ax,
            model_name=labels[name],
            baseline_name=labels[reference],
        )
        # "<model>\nbeats <reference> on x% of genes": two lines fit a panel.
        ax.set_title(
            ax.get_title().replace(" beats ", "\nbeats ", 1), fontsize="medium"
        )
    figure.suptitle(
        f"Per-gene test MAE against {labels[reference]} (mean over splits)\n{title}",
        fontsize="medium",
    )
    return figure


def plot_learning_curves(results: dict, labels: dict, title: str):
    """Training and validation loss per epoch of every network and split."""
    networks = [
        name
        for name, model in results["models"].items()
        if "history" in model["splits"][0]
    ]
    figure, panels = _panels(len(networks), 4.2, 3.4, sharey=True)
    for ax, name in zip(panels, networks, strict=True):
        for run in results["models"][name]["splits"]:
            history = run["history"]
            rows = [
                {
                    "epoch": epoch,
                    **{key: values[epoch - 1] for key, values in history.items()},
                }
                for epoch in range(1, len(history["train_loss"]) + 1)
            ]
            best = run["best_epoch"] if "valid_loss" in history else None
            plotting.plot_learning_curves(rows, ax, best_epoch=best)
        handles = dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
        ax.legend(handles.values(), handles.keys(), fontsize="small")  # once each
        ax.set_title(labels[name], fontsize="medium")
        ax.set_ylabel("MAE loss (z-scored targets)")
        ax.grid(alpha=0.3)
    n_splits = len(results["splits"])
    figure.suptitle(
        f"Learning curves ({n_splits} split{'s' if n_splits > 1 else ''}, one line "
        f"each)\n{title}",
        fontsize="medium",
    )
    return figure


def plot_taaf_parameters(taaf: dict, labels: dict, title: str):
    """Distributions of the learned alpha, beta, gamma, delta of every layer
    (the neurons of every split pooled), a row of panels per model."""
    figure = _figure(3.2 * len(TAAF_PARAMETERS), 3.2 * len(taaf) + 0.5)
    axes = figure.subplots(len(taaf), len(TAAF_PARAMETERS), squeeze=False)
    for row, (name, model_splits) in enumerate(taaf.items()):
        pooled = {
            layer: {
                parameter: np.concatenate(
                    [split[layer][parameter] for split in model_splits]
                )
                for parameter in TAAF_PARAMETERS
            }
            for layer in model_splits[0]
        }
        plotting.plot_taaf_parameters(pooled, axes[row])
        for ax, parameter in zip(axes[row], TAAF_PARAMETERS, strict=True):
            ax.set_title(f"{labels[name]}: {parameter}", fontsize="medium")
    n_splits = len(next(iter(taaf.values())))
    figure.suptitle(
        "Learned TAAF parameters, f(x) = alpha g(beta x + gamma) + delta, per layer "
        f"(neurons of {n_splits} split{'s' if n_splits > 1 else ''} pooled)\n{title}",
        fontsize="medium",
    )
    return figure


def plot_all(
    out: Path,
    results: dict,
    per_gene: dict,
    taaf: dict,
    labels: dict,
    reference: str,
    title: str,
) -> list[str]:
    """Draw every figure that the results allow; returns the file names."""
    written = [_save(plot_mae(results, labels, reference, title), out / "mae.png")]
    if reference in per_gene and len(per_gene) > 1:
        figure = plot_per_gene_vs_reference(per_gene, labels, reference, title)
        written.append(_save(figure, out / f"per_gene_mae_vs_{reference}.png"))
    if any("history" in model["splits"][0] for model in results["models"].values()):
        figure = plot_learning_curves(results, labels, title)
        written.append(_save(figure, out / "learning_curves.png"))
    if taaf:
        figure = plot_taaf_parameters(taaf, labels, title)
        written.append(_save(figure, out / "taaf_parameters.png"))
    return written
