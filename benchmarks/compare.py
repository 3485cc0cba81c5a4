"""Accuracy and cost of TAAF-D-GEX, D-GEX and the baselines on one data set.

Run as ``python -m benchmarks.compare [--quick] [--out DIR]``; ``--help`` lists
every option. The default run (4,000 synthetic samples, 942 landmarks, 952
targets, one split, at most 200 epochs) took 4 to 7 minutes on 2 CPU cores
shared with other jobs (load average 1 to 12); ``--quick`` (the same problem
scaled down 4x in samples and in genes, so that linear regression stays as
well determined, and at most 100 epochs) 1.5 to 2 minutes. Quick runs are
smoke tests: their networks, TAAF above all, are under-trained.

What is compared
----------------
By default six models (``--models`` picks others, ``--extra-model`` adds any
scikit-learn regressor):

``linear``
    :class:`~sklearn.linear_model.LinearRegression`, the LINCS method and the
    reference that win rates are measured against.
``knn_ge``
    :class:`~sktaaf.baselines.KNNGERegressor` (10 landmark genes per target).
``knn``
    :class:`~sklearn.neighbors.KNeighborsRegressor` (10 samples).
``dgex_tanh``, ``dgex_sigmoid``
    :class:`~sktaaf.DGEXRegressor` with tanh or sigmoid: dense layers with
    bias, linear output layer (as in D-GEX).
``taaf``
    :class:`~sktaaf.TAAFRegressor` with sigmoid: TAAF on every layer, output
    included, no bias.

Also available: ``ridge`` (alpha 1), ``mean`` (each gene's training mean) and
``taaf_tanh``. Every network gets the same budget: ``--hidden`` layers (300,
300), dropout 0.25, MAE loss, Nadam at 5e-4, batches of 64, at most
``--epochs`` (200) epochs with early stopping (patience ``--patience``, 20;
the weights of the best validation epoch are kept), seeded.

Data and splits
---------------
``make_expression`` (942 landmarks, 952 targets, ``--n-samples`` 4000) unless
``--data FILE`` names a GCTX, GCT, pandas HDF5, ``.npz`` or ``.npy`` file (see
``benchmarks/_compare_data.py``; ``--landmarks`` lists the landmark gene ids).
With the default fixed split, as in D-GEX, a seeded ``--test-fraction`` (0.2)
of the samples is the test set; every model is given all the other samples
(the development set); the networks hold out
``--validation-fraction`` (0.1, of all samples) of them for early stopping
(their own seeded split), the baselines, which need no validation set, train
on all of it. ``--folds K`` uses K-fold cross-validation instead (each fold
the test set once). ``--seeds N`` repeats everything with seeds ``--seed``,
``--seed`` + 1, ...: new splits and new network initialisations, the same
data.

Preprocessing
-------------
As in D-GEX, genes are standardised: every model is wrapped as
``TransformedTargetRegressor(make_pipeline(StandardScaler(), model),
transformer=StandardScaler())``, so landmarks and targets are z-scored with the
means and standard deviations of the training samples, and predictions are
transformed back. Errors are reported on the original scale of ``y``; the
networks' training and validation losses (learning curves) are MAE on the
standardised targets.

Measures
--------
Per model and split: test MAE (mean over genes of the per-gene MAE), the mean
per-gene Pearson correlation, the share of genes on which its per-gene MAE is
below that of ``linear`` (``win_rate``; ties count for neither), fit and
predict wall seconds, fit CPU seconds (all threads of the process), the peak
memory of fit and of predict and, for networks, the epochs trained, the best
epoch (whose weights are kept) and whether the validation loss was still
falling when the epoch limit stopped training (a note in the log and in
``results.md``: the model is budget-limited). Summaries give the mean and the
standard deviation over splits; with one split the "±" of the MAE is the
standard error over test samples instead (the table header says which).

Time and memory: every fit runs in a fresh process (``multiprocessing``
spawn), which loads its data and warms the libraries up (one tiny torch
training step and a BLAS product, so that one-off start-up costs fall on no
model), then resets the kernel's peak-RSS counter (``/proc/self/clear_refs``),
fits and reads the peak back (``VmHWM``), likewise for predict. Fit and
predict seconds are wall time of ``fit`` and ``predict`` alone (standardisation
included); fit peak memory is the peak resident memory during fit minus the
resident memory just before it: what fit itself needed, Python, libraries and
data excluded. Without ``clear_refs`` (not Linux) it is ``ru_maxrss`` after
fit minus the resident memory before: an upper bound. ``--in-process`` fits in
this process instead (faster to start, for tests): memory freed by earlier
models may then be reused, so peaks can come out lower.

Threads: ``--threads`` (default 1) limits torch and the BLAS/OpenMP pools of
every fit, so all models get the same CPU budget and timings are reproducible
on shared machines, where threads that wait on each other can slow a fit
down tenfold; ``--threads 0`` keeps the libraries' defaults.

Output (``--out DIR``)
----------------------
``results.json`` (configuration, machine, versions, per-model per-split
numbers, summaries), ``results.md`` (the Markdown table), ``per_gene.csv``
(per-gene MAE and Pearson of every model, mean over splits), ``per_gene.npz``
(the same per split), ``taaf_parameters.npz`` (learned alpha, beta, gamma,
delta of every TAAF layer), and the figures ``mae.png``,
``per_gene_mae_vs_linear.png``, ``learning_curves.png`` and
``taaf_parameters.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import sktaaf
from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf.metrics import win_rate

from ._compare_data import get_data, make_splits
from ._compare_fit import import_object, run_fit, run_in_subprocess
from ._compare_real import REAL_DATASETS
from ._compare_report import (
    environment,
    markdown_table,
    model_results,
    write_outputs,
)

REFERENCE = "linear"
DEFAULT_MODELS = [
    "linear",
    "ridgecv",
    "mean",
    "median",
    "knn_ge",
    "knn",
    "mlp",
    "dgex_tanh",
    "taaf",
]
#: name -> (label, "module:Class", parameters). Networks get the shared budget.
MODELS = {
    "linear": ("LinearRegression", "sklearn.linear_model:LinearRegression", {}),
    "ridge": ("Ridge (alpha=1)", "sklearn.linear_model:Ridge", {"alpha": 1.0}),
    "ridgecv": (
        "RidgeCV",
        "sklearn.linear_model:RidgeCV",
        {"alphas": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0]},
    ),
    "mean": ("Dummy (mean)", "sklearn.dummy:DummyRegressor", {"strategy": "mean"}),
    "median": (
        "Dummy (median)",
        "sklearn.dummy:DummyRegressor",
        {"strategy": "median"},
    ),
    "mlp": (
        "MLPRegressor",
        "sklearn.neural_network:MLPRegressor",
        {"hidden_layer_sizes": [300, 300], "early_stopping": True},
    ),
    "knn_ge": ("KNN-GE (k=10)", "sktaaf.baselines:KNNGERegressor", {"n_neighbors": 10}),
    "knn": (
        "KNeighbors (k=10)",
        "sklearn.neighbors:KNeighborsRegressor",
        {"n_neighbors": 10},
    ),
    "dgex_tanh": ("D-GEX tanh", "sktaaf:DGEXRegressor", {"activation": "tanh"}),
    "dgex_sigmoid": (
        "D-GEX sigmoid",
        "sktaaf:DGEXRegressor",
        {"activation": "sigmoid"},
    ),
    "taaf": ("TAAF sigmoid", "sktaaf:TAAFRegressor", {"activation": "sigmoid"}),
    "taaf_tanh": ("TAAF tanh", "sktaaf:TAAFRegressor", {"activation": "tanh"}),
}
NETWORK_CLASSES = (DGEXRegressor, TAAFRegressor)
# --quick scales the synthetic problem down 4x in samples and in genes alike, so
# that LinearRegression has as many samples per coefficient as in the full run
# (with 800 samples and 942 landmarks it would be underdetermined).
QUICK = {
    "n_samples": 1000,
    "n_landmarks": 236,
    "n_targets": 238,
    "epochs": 100,
    "patience": 10,
}
FULL = {
    "n_samples": 4000,
    "n_landmarks": 942,
    "n_targets": 952,
    "epochs": 200,
    "patience": 20,
}


# ------------------------------------------------------------------- models
def is_network(estimator_class: type) -> bool:
    return issubclass(estimator_class, NETWORK_CLASSES)


def network_params(args: argparse.Namespace) -> dict:
    """The training budget that every network gets: the estimators' defaults
    but for the options given on the command line."""
    params = {
        "max_epochs": args.epochs,
        "early_stopping": True,
        "n_iter_no_change": args.patience,
        "device": args.device,
    }
    for name, value in (
        ("hidden_layer_sizes", None if args.hidden is None else tuple(args.hidden)),
        ("dropout", args.dropout),
        ("learning_rate", args.learning_rate),
        ("batch_size", args.batch_size),
    ):
        if value is not None:
            params[name] = value
    return params


def model_specs(args: argparse.Namespace) -> dict[str, dict]:
    """Label, class and parameters of every model to compare (seed excluded).

    Each model is built once here, so that an unknown class or parameter fails
    before any fit.
    """
    available = dict(MODELS)
    for name, target in args.extra_model:
        available[name] = (name, target, {})
    names = list(args.models) + [name for name, _ in args.extra_model]
    specs = {}
    for name in dict.fromkeys(names):  # in order, without repeats
        label, target, params = available[name]
        estimator_class = import_object(target)
        params = dict(params)
        network = is_network(estimator_class)
        if network:
            params = {**network_params(args), **params}
        params.update(args.model_params.get(name, {}))
        estimator = estimator_class(**params)  # fails early on unknown parameters
        specs[name] = {
            "label": label,
            "target": target,
            "params": params,
            "network": network,
            "seeded": "random_state" in estimator.get_params(),
        }
    return specs


# --------------------------------------------------------------------- CLI
def _pair(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME={what}, got {text!r}")
    return name.strip(), value.strip()


def _extra_model(text: str) -> tuple[str, str]:
    return _pair(text, "module:Class")


def _model_params(text: str) -> tuple[str, dict]:
    name, value = _pair(text, "JSON")
    try:
        params = json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{name}: invalid JSON: {exc}") from exc
    if not isinstance(params, dict):
        raise argparse.ArgumentTypeError(f"{name}: expected a JSON object")
    return name, params


def _int_list(text: str) -> list[int]:
    try:
        values = [int(value) for value in text.split(",") if value.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected e.g. 300,300: {exc}") from exc
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return values


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description="Test error, win rate over linear regression, time and memory "
        "of TAAF-D-GEX, D-GEX and baselines on one data set.",
    )
    models = parser.add_argument_group("models")
    models.add_argument(
        "--models",
        metavar="NAMES",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=DEFAULT_MODELS,
        help=f"comma-separated, among {', '.join(MODELS)} (default: "
        f"{','.join(DEFAULT_MODELS)})",
    )
    models.add_argument(
        "--extra-model",
        type=_extra_model,
        action="append",
        default=[],
        metavar="NAME=module:Class",
        help="also compare this regressor (repeatable); subclasses of sktaaf's "
        "regressors get the network budget",
    )
    models.add_argument(
        "--model-params",
        type=_model_params,
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="override parameters, e.g. knn='{\"n_neighbors\": 20}' (repeatable)",
    )
    networks = parser.add_argument_group("network budget (every network)")
    networks.add_argument(
        "--hidden",
        metavar="SIZES",
        type=_int_list,
        help="hidden layer sizes, e.g. 300,300 (default: each estimator's)",
    )
    networks.add_argument(
        "--epochs",
        metavar="N",
        type=int,
        help=f"max epochs (default {FULL['epochs']}; --quick: {QUICK['epochs']})",
    )
    networks.add_argument(
        "--patience",
        metavar="N",
        type=int,
        help=f"early-stopping patience in epochs (default {FULL['patience']}; "
        f"--quick: "
        f"{QUICK['patience']})",
    )
    networks.add_argument("--dropout", type=float, help="(default: each estimator's)")
    networks.add_argument(
        "--learning-rate", type=float, help="(default: each estimator's)"
    )
    networks.add_argument("--batch-size", type=int, help="(default: each estimator's)")
    networks.add_argument(
        "--device",
        default="auto",
        help="torch device of the networks (default: auto, CUDA when available)",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        metavar="FILE",
        type=Path,
        help="a .gctx, .gct, .h5 (pandas), .npz or .npy file; default: make_expression",
    )
    data.add_argument(
        "--real",
        metavar="NAME",
        choices=REAL_DATASETS,
        help="a real data set shipped by a package (the 'real' extra): "
        f"{', '.join(REAL_DATASETS)}; see benchmarks/_compare_real.py",
    )
    data.add_argument(
        "--landmarks",
        metavar="FILE",
        type=Path,
        help="landmark gene ids, one per line (--data)",
    )
    data.add_argument(
        "--targets",
        metavar="FILE",
        type=Path,
        help="target gene ids, one per line (--data; default: all non-landmarks)",
    )
    data.add_argument(
        "--hdf-key",
        metavar="KEY",
        default="table",
        help="key of the HDF5 DataFrame (table)",
    )
    data.add_argument(
        "--n-samples",
        metavar="N",
        type=int,
        help=f"make_expression samples (default {FULL['n_samples']}; --quick: "
        f"{QUICK['n_samples']}); with --data, a seeded random subset",
    )
    data.add_argument(
        "--n-landmarks",
        metavar="N",
        type=int,
        help=f"make_expression landmarks (default {FULL['n_landmarks']}; --quick: "
        f"{QUICK['n_landmarks']}); with --data, keep the first N",
    )
    data.add_argument(
        "--n-targets",
        metavar="N",
        type=int,
        help=f"make_expression targets (default {FULL['n_targets']}; --quick: "
        f"{QUICK['n_targets']}); with --data, keep the first N",
    )
    split = parser.add_argument_group("splits")
    split.add_argument(
        "--test-fraction",
        metavar="F",
        type=float,
        default=0.2,
        help="share of all samples in the test set, fixed split (%(default)s)",
    )
    split.add_argument(
        "--validation-fraction",
        metavar="F",
        type=float,
        default=0.1,
        help="share of all samples that the networks hold out for early "
        "stopping (%(default)s)",
    )
    split.add_argument(
        "--folds",
        metavar="K",
        type=int,
        help="K-fold cross-validation instead of a fixed split",
    )
    split.add_argument(
        "--seed", type=int, default=0, help="data and first split seed (0)"
    )
    split.add_argument(
        "--seeds",
        metavar="N",
        type=int,
        default=1,
        help="repeats, with seeds seed, seed+1, ... (default 1)",
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--quick",
        action="store_true",
        help="a small, fast run: the synthetic problem scaled down 4x in "
        "samples and genes, fewer epochs (see the defaults above)",
    )
    run.add_argument(
        "--threads",
        metavar="N",
        type=int,
        default=1,
        help="torch and BLAS threads per fit (default 1; 0: the libraries' defaults)",
    )
    run.add_argument(
        "--in-process",
        action="store_true",
        help="fit in this process, not a fresh one per fit (faster start, "
        "less exact peak memory)",
    )
    run.add_argument("--no-plots", action="store_true", help="skip the figures")
    run.add_argument(
        "--out", metavar="DIR", type=Path, help="folder for results and figures"
    )
    args = parser.parse_args(argv)

    defaults = QUICK if args.quick else FULL
    for key in ("epochs", "patience"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    if args.data is not None and args.real is not None:
        parser.error("give --data or --real, not both")
    if args.data is None and args.real is None:
        for key in ("n_samples", "n_landmarks", "n_targets"):
            if getattr(args, key) is None:
                setattr(args, key, defaults[key])
    unknown = [name for name in args.models if name not in MODELS]
    if unknown:
        parser.error(f"unknown --models {unknown}; choose among {list(MODELS)}")
    clashes = [name for name, _ in args.extra_model if name in MODELS]
    if clashes:
        parser.error(f"--extra-model names {clashes} are built-in model names")
    compared = args.models + [name for name, _ in args.extra_model]
    if not compared:
        parser.error("no model to compare: give --models or --extra-model")
    args.model_params = dict(args.model_params)
    strangers = sorted(set(args.model_params) - set(compared))
    if strangers:
        parser.error(f"--model-params names models not compared: {strangers}")
    for name in (
        "epochs",
        "patience",
        "batch_size",
        "seeds",
        "n_samples",
        "n_landmarks",
        "n_targets",
    ):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    if args.folds is not None and args.folds < 2:
        parser.error(f"--folds must be at least 2, got {args.folds}")
    test_fraction = 1 / args.folds if args.folds else args.test_fraction
    if not 0 < test_fraction < 1:
        parser.error(f"--test-fraction must be in (0, 1), got {args.test_fraction}")
    if not 0 < args.validation_fraction < 1 - test_fraction:
        parser.error(
            f"--validation-fraction must be in (0, {1 - test_fraction:g}) (the "
            f"share left by the test set), got {args.validation_fraction}"
        )
    if args.data is None and (args.landmarks or args.targets):
        parser.error("--landmarks and --targets need --data")
    return args


def run_all(specs, splits, data, args, validation_fraction, say) -> dict:
    """Fit and score every model on every split; returns their results."""
    runs: dict[str, list[dict]] = {name: [] for name in specs}
    with tempfile.TemporaryDirectory(prefix="sktaaf-compare-") as data_dir:
        if not args.in_process:  # fresh processes read the data from here
            np.save(Path(data_dir) / "X.npy", data.X)
            np.save(Path(data_dir) / "y.npy", data.y)
        for index, split in enumerate(splits):
            where = f"split {index + 1}/{len(splits)} (seed {split['seed']}"
            where += f", fold {split['fold'] + 1})" if args.folds else ")"
            say(
                f"{where}: {len(split['train'])} development, "
                f"{len(split['test'])} test samples"
            )
            for name, spec in specs.items():
                task = {
                    "spec": spec,
                    "seed": split["seed"],
                    "validation_fraction": validation_fraction,
                    "threads": args.threads,
                    "data_dir": data_dir,
                    "train": split["train"],
                    "test": split["test"],
                }
                if args.in_process:
                    result = run_fit(task, data.X, data.y)
                else:
                    result = run_in_subprocess(task)
                runs[name].append(result)
                r = result["mean_pearson"]
                r = "undefined" if r is None else f"{r:.3f}"  # constant predictions
                epochs = ""
                if "n_epochs" in result:
                    epochs = (
                        f", {result['n_epochs']} epochs (best {result['best_epoch']})"
                    )
                say(
                    f"{where} {spec['label']:<18} fit {result['fit_seconds']:7.1f} s"
                    f", predict {result['predict_seconds']:5.2f} s, MAE "
                    f"{result['mae']:.4f}, r {r}, fit peak "
                    f"+{result['fit_peak_mib']:.0f} MiB{epochs}, load "
                    f"{result['load_average_1min']:.1f}"
                )
                if result.get("still_improving"):
                    say(
                        f"note: {spec['label']} was still improving at its last "
                        "epoch (the epoch limit): more --epochs may lower its error"
                    )
    if REFERENCE in runs:
        for name, model_runs in runs.items():
            if name == REFERENCE:
                continue
            for run, reference in zip(model_runs, runs[REFERENCE], strict=True):
                run["win_rate"] = win_rate(
                    run["per_gene_mae"], reference["per_gene_mae"]
                )
    else:
        say(f"no {REFERENCE!r} model: win rates and the per-gene scatter are skipped")
    return runs


def _warn_if_underdetermined(splits, description, say) -> None:
    n_development = min(len(split["train"]) for split in splits)
    n_landmarks = description["n_landmarks"]
    if n_development < 2 * n_landmarks:
        state = "underdetermined" if n_development <= n_landmarks else "ill-posed"
        say(
            f"note: {n_development} development samples for {n_landmarks} "
            f"landmarks: LinearRegression is {state} and its errors inflated "
            "(more samples or fewer landmarks help)"
        )


def main(argv=None, log=print) -> dict:
    """Run the comparison; returns what ``results.json`` holds."""
    args = parse_args(argv)
    started = time.perf_counter()

    def say(message: str) -> None:
        log(f"[{time.perf_counter() - started:7.1f} s] {message}")

    specs = model_specs(args)
    data, description = get_data(args)
    splits = make_splits(description["n_samples"], args)
    test_fraction = 1 / args.folds if args.folds else args.test_fraction
    # The networks get the development set (all but the test samples) and hold
    # out validation_fraction of *all* samples from it.
    validation_fraction = args.validation_fraction / (1 - test_fraction)
    env = environment(args.threads)
    config = {
        key: value
        for key, value in vars(args).items()
        if key not in ("out", "model_params", "extra_model")
    }
    config.update(
        models=list(specs),
        model_specs=specs,
        network_validation_fraction_of_development=validation_fraction,
        split=f"{args.folds}-fold" if args.folds else "fixed",
        preprocessing="TransformedTargetRegressor(make_pipeline(StandardScaler(), "
        "model), transformer=StandardScaler()), but networks with "
        "standardize=True as they are; MAE on the original scale of y",
    )
    say(
        f"data: {description['source']}: {description['n_samples']} samples, "
        f"{description['n_landmarks']} landmarks -> {description['n_targets']} "
        f"targets; {len(splits)} split(s); models: {', '.join(specs)}"
    )
    say(
        f"{env['cpu_count']} CPUs, {env['threads_per_fit']} thread(s) per fit, "
        f"load average {env['load_average_start'][0]:.2f}; torch "
        f"{torch.__version__}, sktaaf {sktaaf.__version__}"
    )
    if REFERENCE in specs:
        _warn_if_underdetermined(splits, description, say)

    runs = run_all(specs, splits, data, args, validation_fraction, say)

    env["load_average_end"] = os.getloadavg()
    models = model_results(runs, {name: spec["label"] for name, spec in specs.items()})
    table = markdown_table(models, len(splits))
    results = {
        "config": config,
        "data": description,
        "environment": env,
        "splits": [
            {
                "seed": split["seed"],
                "fold": split["fold"],
                "n_development": len(split["train"]),
                "n_network_validation": math.ceil(
                    validation_fraction * len(split["train"])
                ),
                "n_test": len(split["test"]),
            }
            for split in splits
        ],
        "reference": REFERENCE if REFERENCE in runs else None,
        "models": models,
        "wall_seconds": time.perf_counter() - started,
    }
    log("")
    log(table)
    if args.out is not None:
        write_outputs(args.out, results, runs, data, table, args.no_plots, say)
    say(
        f"done in {time.perf_counter() - started:.1f} s; load average "
        f"{env['load_average_end'][0]:.2f}"
    )
    return results


if __name__ == "__main__":
    main()
