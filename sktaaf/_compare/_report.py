"""Summaries, tables and files written by ``sktaaf compare``."""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path

import numpy as np

from .. import measure
from .._utils._atomic import atomic_file
from ..metrics import win_rate


# ------------------------------------------------------------------ summary
def win_rate_key(reference: str) -> str:
    """The result key of the win rate over ``reference``: ``win_rate`` for
    LinearRegression (``linear``, the historical key), else
    ``win_rate_<reference>``."""
    return "win_rate" if reference == "linear" else f"win_rate_{reference}"


def add_win_rates(runs: dict[str, list[dict]], references) -> list[str]:
    """Add to every run the share of genes whose test MAE is below that of
    each reference model of the same split (ties count for neither); returns
    the references that were not compared."""
    missing = []
    for reference in references:
        if reference not in runs:
            missing.append(reference)
            continue
        key = win_rate_key(reference)
        for name, model_runs in runs.items():
            if name == reference:
                continue
            for run, ref_run in zip(model_runs, runs[reference], strict=True):
                run[key] = win_rate(run["per_gene_mae"], ref_run["per_gene_mae"])
    return missing


def _mean_sd(values) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return None, None
    sd = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return float(np.mean(values)), sd


def summarise(runs: list[dict]) -> dict:
    """Mean and standard deviation over splits of every measure; None where a
    measure does not apply (epochs of a baseline, the reference's win rate),
    is undefined (the correlation of constant predictions) or, for the
    standard deviation, where there is one split."""
    summary = {}
    for key in (
        "mae",
        "mean_pearson",
        "win_rate",
        "win_rate_ridgecv",
        "fit_seconds",
        "fit_cpu_seconds",
        "predict_seconds",
        "fit_peak_mib",
        "predict_peak_mib",
        "n_epochs",
        "best_epoch",
    ):
        mean, sd = _mean_sd(run.get(key) for run in runs)
        summary[f"{key}_mean"], summary[f"{key}_sd"] = mean, sd
    summary["mae_sem"] = runs[0]["mae_sem"] if len(runs) == 1 else None
    if "still_improving" in runs[0]:
        summary["still_improving_splits"] = sum(run["still_improving"] for run in runs)
    if "n_parameters" in runs[0]:
        summary["n_parameters"] = runs[0]["n_parameters"]
    return summary


def model_results(runs: dict[str, list[dict]], labels: dict[str, str]) -> dict:
    """Per model: its label, summary and per-split numbers (JSON-ready: the
    per-gene arrays left out, TAAF parameters as quantiles)."""
    models = {}
    for name, model_runs in runs.items():
        splits = []
        for run in model_runs:
            numbers = {
                key: value
                for key, value in run.items()
                if key not in ("per_gene_mae", "per_gene_pearson", "taaf_layers")
            }
            if run.get("taaf_layers"):
                numbers["taaf_layers"] = _taaf_summary(run["taaf_layers"])
            splits.append(numbers)
        models[name] = {
            "label": labels[name],
            "summary": summarise(model_runs),
            "splits": splits,
        }
    return models


def _nanmean_over_splits(values: np.ndarray) -> np.ndarray:
    """Mean over splits (axis 0), ignoring NaN; NaN where all are NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Mean of empty slice"
        return np.nanmean(values, axis=0)


def _format(mean, sd=None, spec=".4f", percent=False) -> str:
    if mean is None:
        return "–"
    scale, suffix = (100, " %") if percent else (1, "")
    text = format(mean * scale, spec)
    if sd is not None:
        text += " ± " + format(sd * scale, spec)
    return text + suffix


def summary_table(models: dict, n_splits: int) -> str:
    """The summaries as a Markdown table: mean ± sd over splits of the MAE,
    the mean per-gene r, the win rates and fit seconds (with one split, the
    MAE's ± is the standard error over test samples)."""
    spread = f"mean ± sd over {n_splits} splits" if n_splits > 1 else "± s.e."
    header = [
        "model",
        f"test MAE ({spread})",
        "mean per-gene r" + (" (mean ± sd)" if n_splits > 1 else ""),
        "genes better than LR",
        "genes better than RidgeCV",
        "fit (s)",
        "predict (s)",
        "fit peak (MiB)",
        "epochs (best)",
        "parameters",
    ]
    rows = []
    for model in models.values():
        s = model["summary"]
        mae_spread = s["mae_sd"] if n_splits > 1 else s["mae_sem"]
        epochs = "–"
        if s["n_epochs_mean"] is not None:
            epochs = f"{s['n_epochs_mean']:.0f} ({s['best_epoch_mean']:.0f})"
        cells = [
            model["label"],
            _format(s["mae_mean"], mae_spread),
            _format(s["mean_pearson_mean"], s["mean_pearson_sd"], ".3f"),
            _format(s["win_rate_mean"], s["win_rate_sd"], ".1f", True),
            _format(s["win_rate_ridgecv_mean"], s["win_rate_ridgecv_sd"], ".1f", True),
            _format(s["fit_seconds_mean"], s["fit_seconds_sd"], ".1f"),
            _format(s["predict_seconds_mean"], None, ".2f"),
            _format(s["fit_peak_mib_mean"], None, ".0f"),
            epochs,
            f"{s['n_parameters']:,}" if "n_parameters" in s else "–",
        ]
        rows.append(cells)
    return measure.markdown_table(header, rows)


def environment(threads: int) -> dict:
    """:func:`sktaaf.measure.environment` and the threads of every fit."""
    return {
        **measure.environment(),
        "threads_per_fit": threads if threads > 0 else "library defaults",
    }


def _json_safe(value):
    """Numbers, lists and dicts JSON can hold; NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _taaf_summary(layers: dict) -> dict:
    """Quantiles of every TAAF parameter of every layer (the arrays go to npz)."""
    return {
        layer: {
            name: {
                "mean": float(values.mean()),
                "sd": float(values.std()),
                "quantiles_0_25_50_75_100": np.quantile(
                    values, [0, 0.25, 0.5, 0.75, 1]
                ).tolist(),
            }
            for name, values in parameters.items()
        }
        for layer, parameters in layers.items()
    }


def require_plotting():
    """The figures module; an ``ImportError`` naming the fix when matplotlib
    is absent (checked before any fit, so that no run is lost)."""
    try:
        import matplotlib  # noqa: F401

        from . import _plots
    except ImportError as exc:
        raise ImportError(
            "sktaaf compare draws its figures with matplotlib, which is not "
            "installed: pip install matplotlib, or pass --no-plots."
        ) from exc
    return _plots


#: The columns of summary.csv: per model, mean and sd over splits.
SUMMARY_COLUMNS = (
    "mae",
    "mean_pearson",
    "win_rate",
    "win_rate_ridgecv",
    "fit_seconds",
    "predict_seconds",
    "fit_peak_mib",
    "n_epochs",
    "best_epoch",
)


def _write_summary_csv(path: Path, models: dict) -> None:
    """summary.csv: one row per model, mean and sd over splits of each measure
    (empty where a measure does not apply or there is one split)."""
    header = ["model", "label", "n_splits"]
    header += [f"{key}_{stat}" for key in SUMMARY_COLUMNS for stat in ("mean", "sd")]
    header.append("mae_sem")
    with atomic_file(path) as file:
        writer = csv.writer(file)
        writer.writerow(header)
        for name, model in models.items():
            s = model["summary"]
            values = [s[key] for key in header[3:]]
            writer.writerow(
                [name, model["label"], len(model["splits"])]
                + ["" if value is None else f"{value:.6g}" for value in values]
            )


def _write_markdown(out: Path, results: dict, table: str) -> None:
    """results.md: the table with the data, budget and machine it came from."""
    network = network_params_text(results["config"])
    improving = [
        f"{model['label']} ({model['summary']['still_improving_splits']} of "
        f"{len(model['splits'])} splits)"
        for model in results["models"].values()
        if model["summary"].get("still_improving_splits")
    ]
    if improving:
        network += (
            ". Still improving when the epoch limit stopped them (more epochs may "
            f"lower their error): {', '.join(improving)}"
        )
    with atomic_file(out / "results.md") as file:
        file.write(_markdown(results, table, network))


def _markdown(results: dict, table: str, network: str) -> str:
    config, env, data_info = results["config"], results["environment"], results["data"]
    return (
        f"# Model comparison\n\nData: {data_info['source']}: "
        f"{data_info['n_samples']} samples, {data_info['n_landmarks']} landmarks, "
        f"{data_info['n_targets']} targets. Split: {config['split']}, "
        f"test fraction {config['test_fraction'] if not config['folds'] else '1/K'}"
        f", {len(results['splits'])} split(s), seeds from {config['seed']}.\n\n"
        f"Networks: {network}.\n\n"
        f"{table}\n\n"
        "MAE on the original scale of y (genes z-scored for training, "
        "predictions transformed back); r: mean over genes of the Pearson "
        "correlation; genes better than LR (RidgeCV): share of genes whose "
        "test MAE is below LinearRegression's (RidgeCV's) on the same split, "
        "ties counting for neither; ± sd: standard deviation over splits; "
        "fit peak: peak resident memory during fit above that before it, "
        "less the library pages fit mapped in; "
        "fit, predict: wall seconds of fit and predict alone; epochs: trained "
        "(best, whose weights are kept).\n\n"
        f"Machine: {env['processor']}, {env['cpu_count']} CPUs, "
        f"{env['threads_per_fit']} thread(s) per fit, load average "
        f"{env['load_average_start'][0]:.2f} at start, "
        f"{env['load_average_end'][0]:.2f} at end; git {env['git_revision']}; "
        f"{results['wall_seconds']:.0f} s from start to the end of the last fit.\n"
    )


def _save_per_gene(file, gene_ids, per_gene: dict) -> None:
    np.savez_compressed(
        file,
        gene_ids=np.asarray(gene_ids, dtype=str),
        **{
            f"{measure}__{name}": values
            for name, measures in per_gene.items()
            for measure, values in measures.items()
        },
    )


def _symbols(data, gene_ids) -> list[str] | None:
    """The genes' symbols from the data file's ``pr_gene_symbol`` row
    metadata ("" where unknown), or None when the file has none."""
    rows = getattr(data, "row_metadata", None)
    if rows is None or "pr_gene_symbol" not in rows:
        return None
    known = rows["pr_gene_symbol"]
    known = known[~known.index.duplicated()]
    symbols = [known.get(str(gene)) for gene in gene_ids]
    symbols = [value if isinstance(value, str) else "" for value in symbols]
    return symbols if any(symbols) else None


def write_outputs(out: Path, results, runs, data, table, no_plots, say) -> None:
    """results.json, results.md, per-gene tables, TAAF parameters and figures."""
    out.mkdir(parents=True, exist_ok=True)
    labels = {name: model["label"] for name, model in results["models"].items()}
    n_targets = results["data"]["n_targets"]
    gene_ids = data.target_ids
    if gene_ids is None:
        gene_ids = [f"target_{index}" for index in range(n_targets)]
    per_gene = {
        name: {
            measure: np.stack([run[f"per_gene_{measure}"] for run in model_runs])
            for measure in ("mae", "pearson")
        }
        for name, model_runs in runs.items()
    }
    with atomic_file(out / "per_gene.npz", "wb") as file:
        _save_per_gene(file, gene_ids, per_gene)
    columns = [f"{measure}__{name}" for name in runs for measure in ("mae", "pearson")]
    means = {
        f"{measure}__{name}": _nanmean_over_splits(values)
        for name, measures in per_gene.items()
        for measure, values in measures.items()
    }
    symbols = _symbols(data, gene_ids)
    with atomic_file(out / "per_gene.csv") as file:
        writer = csv.writer(file)
        writer.writerow(["gene_id", *(["pr_gene_symbol"] * bool(symbols)), *columns])
        for index, gene in enumerate(gene_ids):
            named = [symbols[index]] if symbols else []
            writer.writerow(
                [gene, *named, *(f"{means[c][index]:.6g}" for c in columns)]
            )
    taaf = {
        name: [run["taaf_layers"] for run in model_runs]
        for name, model_runs in runs.items()
        if model_runs[0].get("taaf_layers")
    }
    if taaf:
        with atomic_file(out / "taaf_parameters.npz", "wb") as file:
            np.savez_compressed(
                file,
                **{
                    f"{name}__split{index}__{layer}__{parameter}": values
                    for name, model_splits in taaf.items()
                    for index, layers in enumerate(model_splits)
                    for layer, parameters in layers.items()
                    for parameter, values in parameters.items()
                },
            )
    with atomic_file(out / "results.json") as file:
        file.write(json.dumps(_json_safe(results), indent=2, allow_nan=False) + "\n")
    _write_markdown(out, results, table)
    _write_summary_csv(out / "summary.csv", results["models"])
    data_info = results["data"]
    written = ["results.json", "results.md", "summary.csv", "per_gene.csv"]
    written.append("per_gene.npz")
    if taaf:
        written.append("taaf_parameters.npz")
    if not no_plots:
        _plots = require_plotting()

        title = (
            f"{data_info['source']}, {data_info['n_samples']} samples, "
            f"{data_info['n_targets']} targets"
        )
        written += _plots.plot_all(
            out, results, per_gene, taaf, labels, results["reference"], title
        )
    say(f"wrote {', '.join(written)} to {out}")


def network_params_text(config: dict) -> str:
    given = [
        f"{label} {value if not isinstance(value, list) else tuple(value)}"
        for label, value in (
            ("hidden", config.get("hidden")),
            ("dropout", config.get("dropout")),
            ("lr", config.get("learning_rate")),
            ("batch", config.get("batch_size")),
        )
        if value is not None
    ]
    return (
        "each estimator's defaults"
        + (f" but {', '.join(given)}" if given else "")
        + f", at most {config['epochs']} epochs, early stopping (patience "
        f"{config['patience']}, validation {config['validation_fraction']:g} of "
        "all samples)"
    )
