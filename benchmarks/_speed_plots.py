"""Figures of ``benchmarks.speed``, drawn as those of ``_plots`` are (Agg canvas,
no pyplot).

Methods are the keys of the results; every result carries its ``ratio`` of
time to the reference method, which these functions print but do not compute.
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._plots import _figure

AXIS_LABELS = {"n_samples": "training samples", "width": "hidden layer width"}


def _bars(ax: Axes, results: dict, key: str, colors: dict) -> None:
    """A bar per method of ``results[method][key]``, labelled with its value
    and its time ratio."""
    names = list(results)
    values = [results[name][key] for name in names]
    bars = ax.bar(range(len(names)), values, color=[colors[name] for name in names])
    ax.bar_label(
        bars,
        labels=[
            f"{value:.3g}\ntime x{results[name]['ratio']:.2f}"
            for name, value in zip(names, values, strict=True)
        ],
        padding=2,
        fontsize="small",
    )
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_ylim(0, 1.3 * max(values))
    ax.grid(alpha=0.3, axis="y")


def plot_speed(
    runs: dict, predict: dict, reference: str, colors: dict, title: str
) -> Figure:
    """Training seconds per epoch of every method, and predict's samples per
    second, each bar with its time ratio to ``reference``."""
    figure = _figure(2.0 * (len(runs) + len(predict["results"])) + 1.5, 4.6)
    train_ax, predict_ax = figure.subplots(
        1, 2, width_ratios=(len(runs), len(predict["results"]))
    )
    _bars(train_ax, runs, "sec_per_epoch", colors)
    train_ax.set_ylabel("seconds per epoch (median; lower is faster)")
    train_ax.set_title("Training", fontsize="medium")
    _bars(predict_ax, predict["results"], "samples_per_sec", colors)
    predict_ax.set_ylabel("samples per second (median; higher is faster)")
    predict_ax.set_title(
        f"Prediction, batches of {predict['batch_size']}", fontsize="medium"
    )
    figure.suptitle(
        f"Speed against the {reference} (time xR: R times its time)\n{title}",
        fontsize="medium",
    )
    return figure


def _log_axis(ax: Axes, values: list[int]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(values, [str(value) for value in values])
    ax.minorticks_off()


def _sweep_column(
    axes: tuple[Axes, Axes], points: list[dict], axis: str, reference: str, colors
) -> None:
    """Epoch time (log-log) and time ratio to ``reference`` against ``axis``."""
    time_ax, ratio_ax = axes
    x = [point[axis] for point in points]
    fixed = "width" if axis == "n_samples" else "n_samples"
    for name in points[0]["results"]:
        color = colors[name]
        times = [point["results"][name]["sec_per_epoch"] for point in points]
        time_ax.plot(x, times, "o-", color=color, label=name)
        if name == reference:
            continue
        # Paired: each run against the raw run of its repeat, which cancels
        # the slow drifts of a shared machine that the pooled medians keep.
        ratios = [point["results"][name]["paired_ratio"] for point in points]
        ratio_ax.plot(x, ratios, "o-", color=color, label=f"{name} / {reference}")
        for x_value, ratio in zip(x, ratios, strict=True):
            ratio_ax.annotate(
                f"{ratio:.2f}",
                (x_value, ratio),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize="small",
            )
    time_ax.set_yscale("log")
    time_ax.set_ylabel("seconds per epoch (median)")
    time_ax.set_title(
        f"Against {AXIS_LABELS[axis]} ({AXIS_LABELS[fixed]} {points[0][fixed]})",
        fontsize="medium",
    )
    time_ax.legend(fontsize="small")
    ratio_ax.axhline(1, color="black", linestyle="--", linewidth=0.8)
    ratio_ax.margins(y=0.3)
    ratio_ax.set_ylabel("time ratio (paired)")
    ratio_ax.set_xlabel(AXIS_LABELS[axis])
    ratio_ax.legend(fontsize="small")
    for ax in (time_ax, ratio_ax):
        _log_axis(ax, x)
        ax.grid(alpha=0.3)


def plot_sweep(sweep: dict, reference: str, colors: dict, title: str) -> Figure:
    """A column per swept axis: seconds per epoch of every method on log-log
    axes above, the time ratios to ``reference`` below."""
    axes = [axis for axis, points in sweep.items() if points]
    figure = _figure(5.2 * len(axes), 6.4)
    grid = figure.subplots(
        2, len(axes), squeeze=False, sharex="col", height_ratios=(2, 1)
    )
    for column, axis in enumerate(axes):
        _sweep_column(grid[:, column], sweep[axis], axis, reference, colors)
    figure.suptitle(f"Training time as the problem grows\n{title}", fontsize="medium")
    return figure
