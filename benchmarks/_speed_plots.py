"""The figure of ``benchmarks.speed`` (matplotlib's object API, Agg canvas)."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _label(point: dict) -> str:
    return (
        f"n={point['n_samples']}\nw={point['width']}, {point['threads']} thr\n"
        f"{point['malloc']}"
    )


def _grouped_bars(
    ax: Axes, points: list[dict], methods: list[str], key: str, names, colors
) -> None:
    width = 0.8 / len(methods)
    positions = np.arange(len(points))
    for index, method in enumerate(methods):
        values = [point["methods"][method].get(key) or 0.0 for point in points]
        bars = ax.bar(
            positions + (index - (len(methods) - 1) / 2) * width,
            values,
            width,
            color=colors[method],
            label=names[method],
        )
        ax.bar_label(bars, fmt="%.3g", fontsize="x-small", padding=1)
    ax.set_xticks(positions, [_label(point) for point in points], fontsize="small")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")


def plot_speed(points: list[dict], names: dict, colors: dict, title: str) -> Figure:
    """Paired time ratios to the raw loop (above) and page faults per epoch
    (below), a group of bars per configuration."""
    figure = Figure(figsize=(2.2 * len(points) + 3.0, 7.0), layout="constrained")
    FigureCanvasAgg(figure)
    ratio_ax, faults_ax = figure.subplots(2, 1)
    methods = list(points[0]["methods"])
    others = [method for method in methods if method != "raw"] or methods
    _grouped_bars(ratio_ax, points, others, "paired_ratio", names, colors)
    ratio_ax.axhline(1, color="black", linestyle="--", linewidth=0.8)
    ratio_ax.set_ylabel("epoch time / raw loop's (paired)")
    _grouped_bars(faults_ax, points, methods, "minflt_per_epoch", names, colors)
    faults_ax.set_ylabel("page faults per epoch (mean)")
    figure.suptitle(title, fontsize="medium")
    return figure
