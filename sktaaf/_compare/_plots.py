"""Figures of ``sktaaf compare``: matplotlib's object API, Agg canvas.

Figures are built from :class:`matplotlib.figure.Figure` directly (no pyplot),
so nothing depends on, or changes, the global backend or figure registry.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .._utils._atomic import atomic_file

DPI = 120
NETWORK_COLOR = "tab:blue"
TAAF_COLOR = "tab:purple"
BASELINE_COLOR = "tab:gray"
INITIAL_VALUES = {"alpha": 1.0, "beta": 1.0, "gamma": 0.0, "delta": 0.0}


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> str:
    with atomic_file(path, "wb") as file:  # an interrupted run leaves no part
        figure.savefig(file, dpi=DPI, format=path.suffix.lstrip(".") or "png")
    return path.name


def _grid(n_panels: int, max_columns: int = 3) -> tuple[int, int]:
    n_columns = min(max_columns, n_panels)
    return math.ceil(n_panels / n_columns), n_columns


def _color(summary: dict, taaf: bool) -> str:
    if taaf:
        return TAAF_COLOR
    return NETWORK_COLOR if summary.get("n_epochs_mean") is not None else BASELINE_COLOR


def plot_mae(results: dict, labels: dict, reference: str | None, title: str):
    """Bars of the test MAE of every model, with their spread."""
    models = results["models"]
    n_splits = len(results["splits"])
    names = list(models)
    means = [models[name]["summary"]["mae_mean"] for name in names]
    if n_splits > 1:
        errors = [models[name]["summary"]["mae_sd"] or 0 for name in names]
        error_text = f"error bars: sd over {n_splits} splits"
    else:
        errors = [models[name]["summary"]["mae_sem"] or 0 for name in names]
        error_text = "error bars: s.e. over test samples (one split)"
    colors = [
        _color(
            models[name]["summary"],
            "taaf_layers" in models[name]["splits"][0],
        )
        for name in names
    ]
    figure = _figure(max(5.0, 1.1 * len(names) + 1.5), 4.2)
    ax = figure.add_subplot()
    positions = np.arange(len(names))
    bars = ax.bar(positions, means, yerr=errors, capsize=4, color=colors)
    ax.bar_label(
        bars,
        labels=[f"{mean:.4f}" for mean in means],
        label_type="center",
        color="white",
        fontweight="bold",
    )
    handles = [
        Patch(color=color, label=kind)
        for color, kind in (
            (BASELINE_COLOR, "baseline"),
            (NETWORK_COLOR, "D-GEX network"),
            (TAAF_COLOR, "TAAF network"),
        )
        if color in colors
    ]
    if reference in models:
        handles.append(
            ax.axhline(
                models[reference]["summary"]["mae_mean"],
                color="black",
                linestyle="--",
                linewidth=0.8,
                label=f"{labels[reference]} (reference)",
            )
        )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small"
    )
    ax.set_xticks(positions, [labels[name] for name in names], rotation=20, ha="right")
    ax.set_ylabel("test MAE (original scale of y)")
    ax.set_ylim(
        0, max(mean + error for mean, error in zip(means, errors, strict=True)) * 1.15
    )
    ax.set_title(f"Test MAE per model; {error_text}\n{title}", fontsize="medium")
    return figure


def plot_per_gene_vs_reference(
    per_gene: dict, labels: dict, reference: str, title: str
):
    """D-GEX's scatter: every gene's MAE under a model against ``reference``."""
    names = [name for name in per_gene if name != reference]
    x = per_gene[reference]["mae"].mean(axis=0)
    ys = {name: per_gene[name]["mae"].mean(axis=0) for name in names}
    low = min(x.min(), *(y.min() for y in ys.values()))
    high = max(x.max(), *(y.max() for y in ys.values()))
    margin = 0.03 * (high - low)
    limits = (low - margin, high + margin)
    n_rows, n_columns = _grid(len(names))
    figure = _figure(3.6 * n_columns, 3.6 * n_rows + 0.4)
    axes = figure.subplots(n_rows, n_columns, squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        y = ys[name]
        wins = float(np.mean(y < x))
        ax.scatter(x, y, s=4, alpha=0.4, linewidths=0, rasterized=True)
        ax.plot(limits, limits, color="black", linewidth=0.8)
        ax.set_xlim(limits)
        ax.set_ylim(limits)
        ax.set_aspect("equal")
        ax.set_title(
            f"{labels[name]}\nbetter on {wins:.1%} of genes (below the line)",
            fontsize="medium",
        )
        ax.set_xlabel(f"{labels[reference]} per-gene MAE")
        ax.set_ylabel(f"{labels[name]} per-gene MAE")
    for ax in axes.flat[len(names) :]:
        ax.set_visible(False)
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
    n_rows, n_columns = _grid(len(networks))
    figure = _figure(4.2 * n_columns, 3.4 * n_rows + 0.4)
    axes = figure.subplots(n_rows, n_columns, squeeze=False, sharey=True)
    for ax, name in zip(axes.flat, networks, strict=False):
        for index, run in enumerate(results["models"][name]["splits"]):
            history = run["history"]
            epochs = np.arange(1, len(history["train_loss"]) + 1)
            first = index == 0
            ax.plot(
                epochs,
                history["train_loss"],
                color="tab:blue",
                alpha=0.8,
                linewidth=1,
                label="training" if first else None,
            )
            if "valid_loss" in history:
                ax.plot(
                    epochs,
                    history["valid_loss"],
                    color="tab:orange",
                    alpha=0.8,
                    linewidth=1,
                    label="validation" if first else None,
                )
                best = run["best_epoch"]
                ax.plot(
                    best,
                    history["valid_loss"][best - 1],
                    "o",
                    color="tab:red",
                    markersize=5,
                    label="best epoch (kept)" if first else None,
                )
        ax.set_title(labels[name], fontsize="medium")
        ax.set_xlabel("epoch")
        ax.set_ylabel("MAE loss (z-scored targets)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes.flat[len(networks) :]:
        ax.set_visible(False)
    n_splits = len(results["splits"])
    figure.suptitle(
        f"Learning curves ({n_splits} split{'s' if n_splits > 1 else ''}, one line "
        f"each)\n{title}",
        fontsize="medium",
    )
    return figure


def _layer_label(layer: str, n_units: int) -> str:
    match = re.fullmatch(r"hidden(\d+)\.taaf", layer)
    if match:
        return f"hidden {int(match[1]) + 1}\n({n_units})"
    return f"{layer.removesuffix('.taaf')}\n({n_units})"


def plot_taaf_parameters(taaf: dict, labels: dict, title: str):
    """Distributions of the learned alpha, beta, gamma, delta of every layer."""
    parameters = list(INITIAL_VALUES)
    figure = _figure(3.2 * len(parameters), 3.2 * len(taaf) + 0.5)
    axes = figure.subplots(len(taaf), len(parameters), squeeze=False)
    for row, (name, model_splits) in enumerate(taaf.items()):
        layers = list(model_splits[0])
        for column, parameter in enumerate(parameters):
            ax = axes[row, column]
            # Pooled over splits: one distribution per layer.
            values = [
                np.concatenate([split[layer][parameter] for split in model_splits])
                for layer in layers
            ]
            spread = [index for index, v in enumerate(values) if np.ptp(v) > 0]
            if spread:
                ax.violinplot(
                    [values[index] for index in spread],
                    positions=[index + 1 for index in spread],
                    showmedians=True,
                    widths=0.8,
                )
            for index, v in enumerate(values):
                if index not in spread:  # all equal: a violin cannot be drawn
                    ax.plot(index + 1, v[0], "_", markersize=20, color="tab:blue")
            ax.axhline(
                INITIAL_VALUES[parameter],
                color="black",
                linestyle="--",
                linewidth=0.8,
                label="initial value",
            )
            ax.set_xticks(
                range(1, len(layers) + 1),
                [
                    _layer_label(layer, len(model_splits[0][layer][parameter]))
                    for layer in layers
                ],
                fontsize="small",
            )
            ax.set_title(f"{labels[name]}: {parameter}", fontsize="medium")
            ax.grid(alpha=0.3, axis="y")
            if column == 0:
                ax.set_ylabel("learned value")
                ax.legend(fontsize="small", loc="best")
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
