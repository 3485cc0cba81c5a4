"""``sktaaf compare``: accuracy and cost of TAAF-D-GEX, D-GEX and the baselines
on one data set.

Run as ``sktaaf compare [--quick] [--out DIR]``; ``--help`` lists
every option. The default run (4,000 synthetic samples, 942 landmarks, 952
targets, one split, at most 200 epochs) took 4 to 7 minutes on 2 CPU cores
shared with other jobs (load average 1 to 12); ``--quick`` (the same problem
scaled down 4x in samples and in genes, so that linear regression stays as
well determined, and at most 100 epochs) 1.5 to 2 minutes. Quick runs are
smoke tests: their networks, TAAF above all, are under-trained.

What is compared
----------------
By default nine models (``--models`` picks others, ``--extra-model`` adds any
scikit-learn regressor):

``linear``
    :class:`~sklearn.linear_model.LinearRegression`, the LINCS method and the
    reference that win rates are measured against.
``knn_ge``
    :class:`~sktaaf.baselines.KNNGERegressor` (10 landmark genes per target).
``knn``
    :class:`~sklearn.neighbors.KNeighborsRegressor` (10 samples).
``dgex_tanh``
    :class:`~sktaaf.DGEXRegressor` with tanh: dense layers with
    bias, linear output layer (as in D-GEX).
``taaf``
    :class:`~sktaaf.TAAFRegressor` with sigmoid: TAAF on every layer, output
    included, no bias.

Also in the defaults: ``ridgecv`` (RidgeCV, the strongest linear baseline,
also a reference of the win rates), ``mean`` and ``median`` (each gene's
training mean or median) and ``mlp`` (MLPRegressor). Also available:
``ridge`` (alpha 1), ``mlp_raw`` (MLPRegressor on the data as given, without
the scalers below), ``dgex_sigmoid`` and ``taaf_tanh``.

Every network gets the same budget: ``--hidden`` layers (300,
300), dropout 0.25, MAE loss, Nadam at 5e-4, batches of 64, at most
``--epochs`` (200) epochs with early stopping (patience ``--patience``, 20;
the weights of the best validation epoch are kept), seeded.

Data and splits
---------------
``make_expression`` (942 landmarks, 952 targets, ``--n-samples`` 4000) unless
``--data FILE`` names a GCTX, GCT, pandas HDF5, ``.npz`` or ``.npy`` file (see
``sktaaf/_compare/_data.py``; ``--landmarks`` lists the landmark gene ids).
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
below that of ``linear`` (``win_rate``) and of ``ridgecv``, the strongest
linear baseline (``win_rate_ridgecv``; ties count for neither), fit and
predict wall seconds, fit CPU seconds (all threads of the process), the peak
memory of fit and of predict and, for networks, the epochs trained, the best
epoch (whose weights are kept) and whether the validation loss was still
falling when the epoch limit stopped training (a note in the log and in
``results.md``: the model is budget-limited). Summaries give the mean and the
standard deviation over splits; with one split the "±" of the MAE is the
standard error over test samples instead (the table header says which).

Time and memory: every fit runs in a fresh process, forked from a
``multiprocessing`` fork server that imported torch, scikit-learn, skorch,
sktaaf and the compared models' modules once (``--start-method spawn``: a new
interpreter per fit, which pays those imports, seconds, every time). The
process loads its data and warms the libraries up (one tiny torch
training step and a BLAS product, so that one-off start-up costs fall on no
model), then resets the kernel's peak-RSS counter (``/proc/self/clear_refs``),
fits and reads the peak back (``VmHWM``), likewise for predict. Fit and
predict seconds are wall time of ``fit`` and ``predict`` alone (standardisation
included); fit peak memory is the peak resident memory during fit minus the
resident memory just before it, minus the file-backed pages (library code)
that fit mapped in (``RssFile`` growth, reported as ``fit_file_pages_mib``: a
process forked from the server maps the libraries' pages lazily; they are
shared, not the model's): what fit itself needed, Python, libraries and
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
numbers, summaries), ``results.md`` (the Markdown table), ``summary.csv``
(per model, mean and sd over splits of MAE, r, win rates, times, memory),
``per_gene.csv``
(per-gene MAE and Pearson of every model, mean over splits, with the genes'
symbols when the data file's ``pr_gene_symbol`` names them), ``per_gene.npz``
(the same per split), ``taaf_parameters.npz`` (learned alpha, beta, gamma,
delta of every TAAF layer), and the figures ``mae.png``,
``per_gene_mae_vs_linear.png``, ``learning_curves.png`` and
``taaf_parameters.png``.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..measure import run_fresh
from ._args import check_paths, parse_args
from ._data import get_data, make_splits
from ._fit import process_context, run_fit
from ._models import REFERENCE, REFERENCES, model_specs
from ._report import (
    add_win_rates,
    environment,
    model_results,
    require_plotting,
    summary_table,
    write_outputs,
)


def start_processes(specs, args):
    """The multiprocessing context of the fits (None with ``--in-process``);
    a fork server starts importing the libraries at once."""
    if args.in_process:
        return None
    modules = [spec["target"].partition(":")[0] for spec in specs.values()]
    return process_context(getattr(args, "start_method", "forkserver"), modules)


def run_all(specs, splits, data, args, validation_fraction, say, context=None) -> dict:
    """Fit and score every model on every split; returns their results."""
    runs: dict[str, list[dict]] = {name: [] for name in specs}
    if context is None:
        context = start_processes(specs, args)
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
                    result = run_fresh(run_fit, task, context=context)
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
    for missing in add_win_rates(runs, REFERENCES):
        say(f"no {missing!r} model: the win rates over it are skipped")
    if REFERENCE not in runs:
        say(f"no {REFERENCE!r} model: the per-gene scatter is skipped")
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
    """Parse ``argv`` (default: ``sys.argv[1:]``) and :func:`run` the comparison."""
    return run(parse_args(argv), log=log)


def run(args, log=print) -> dict:
    """Fit and score every model on every split of the data described by the
    checked options ``args``; write the outputs to ``args.out``; return the
    results."""
    started = time.perf_counter()
    check_paths(args)  # before any work

    def say(message: str) -> None:
        log(f"[{time.perf_counter() - started:7.1f} s] {message}")

    if args.out is not None and not args.no_plots:
        require_plotting()
    specs = model_specs(args)
    # The fork server imports the libraries while the data are read (a data
    # set that a package loads, scanpy's or celltypist's, takes seconds).
    context = start_processes(specs, args)
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
        f"{torch.__version__}, sktaaf {__version__}"
    )
    if REFERENCE in specs:
        _warn_if_underdetermined(splits, description, say)

    runs = run_all(specs, splits, data, args, validation_fraction, say, context)

    env["load_average_end"] = os.getloadavg()
    models = model_results(runs, {name: spec["label"] for name, spec in specs.items()})
    table = summary_table(models, len(splits))
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
        "fit_predict_seconds": sum(
            run["fit_seconds"] + run["predict_seconds"]
            for model_runs in runs.values()
            for run in model_runs
        ),
    }
    log("")
    log(table)
    if args.out is not None:
        write_outputs(args.out, results, runs, data, table, args.no_plots, say)
    wall = time.perf_counter() - started
    say(
        f"done in {wall:.1f} s, of which fits and predicts "
        f"{results['fit_predict_seconds']:.1f} s (wall / fits "
        f"{wall / max(results['fit_predict_seconds'], 1e-9):.2f}); load average "
        f"{env['load_average_end'][0]:.2f}"
    )
    return results
