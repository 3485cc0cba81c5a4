"""Speed of ``TAAFRegressor`` against hand-written PyTorch, in fresh processes.

Run as ``python -m benchmarks.speed [--n-samples 2000 6000] [--threads 1 2]
[--methods raw taaf default raw-default bf16] [--out DIR]``; ``--help`` lists
every option. By default every method but ``skorch`` and ``mlp`` runs, and
``bf16`` only where the CPU computes bfloat16 natively (AVX512-BF16, AMX).

What is measured
----------------
Training on synthetic float32 data (``X ~ N(0, 1)`` of ``n_samples x 942``,
``y = tanh(X A B) + noise`` of ``n_samples x 952`` with ``A B`` of rank 16),
batch size 64, optimizer NAdam and loss L1; all but ``default`` and
``raw-default`` train the same network (``TAAFNetwork(942, 952, (w, w))``,
dropout 0.25, lr 5e-4):

``raw``
    A hand-written loop: per epoch ``model.train()`` and one ``torch.randperm``;
    per batch an index gather ``X[idx]``, ``zero_grad``, forward, loss,
    ``backward``, ``step`` and ``loss.item()``. The reference of every ratio.
``taaf``
    ``TAAFRegressor(early_stopping=False, standardize=False,
    linear_path=None, dropout=0.25, ...).fit(X, y)``: the raw loop's
    network and maths.
``default``
    ``TAAFRegressor(hidden_layer_sizes=(w, w), batch_size=64)``, every other
    parameter at its default, as users run it: standardised data, dropout
    0.5, the MSE loss, the blended linear model (fitted after the last
    epoch: in "fit", not in the epochs), early stopping on a 10% validation split
    (whose pass each epoch includes) and its own learning rate (5e-3).
``bf16``
    ``taaf`` with ``mixed_precision="bf16"`` (meaningful on CPUs with native
    bf16: AVX512-BF16 or AMX; elsewhere slower, and sktaaf warns).
``raw-default``
    The hand-written loop of the default model's training: ``TAAFNetwork(942,
    952, (w, w), dropout=0.5)`` trained in standard units (each batch of
    ``X`` and ``y`` standardised as it is gathered, outside autograd; the
    MSE loss on the standard-unit output), on 90% of the rows, with a
    validation pass over the other 10% per epoch; lr 5e-3. The default's
    linear model is fitted after the last epoch (``linear_path="blend"``),
    so it is in the estimator's "fit" time, not in its epochs. The
    reference of ``default``'s "own-raw ratio".
``skorch``
    A plain ``skorch.NeuralNetRegressor`` on the numpy arrays, with its default
    ``DataLoader``, shuffled, no validation.
``mlp``
    ``MLPRegressor(activation="logistic", solver="adam")``, one ``partial_fit``
    per epoch: different maths, for scale only.

For every epoch (epoch 1 included) the wall time, the process's system CPU
time and its page faults (``getrusage``: minor and major) are recorded; for
the estimators by a skorch callback from ``on_epoch_begin`` to
``on_epoch_end`` (after sktaaf's own end-of-epoch work). The whole run is
measured as well ("fit": building the network, moving the data, input
validation and every epoch).

How
---
Every configuration (``--n-samples`` x ``--widths`` x ``--threads`` x
``--malloc``) runs in ``--processes`` fresh Python processes. Each process
draws its data first, from a seeded torch generator, directly in float32 and
without freeing any large temporary (glibc raises its malloc thresholds when
a large block is freed: a benchmark that did so would measure a primed
allocator, not the one a user's process starts with). It then trains every
method ``--rounds`` times, interleaved, the order rotated from one round to
the next and from one process to the next, so that each method runs first in
a fresh process as often as the others. Reported per method: the median over
runs of the mean epoch time and of the fit time, system seconds and page
faults per epoch (means over every epoch of every run, and over the runs
that came first in their process: "first-run faults", the same allocator
state for every method), and the *paired ratios*: each run's total epoch time
(fit time) over that of the raw loop in the same round of the same process,
then the median over all rounds.

``--malloc`` chooses the allocator state of the processes: ``glibc`` (the
default: glibc's malloc as it starts, without ``GLIBC_TUNABLES``,
``LD_PRELOAD`` or ``MALLOC_*_`` variables), ``tunables`` (with
``GLIBC_TUNABLES=glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432``,
for the raw loop too), ``untuned`` (as ``glibc``, with
``SKTAAF_TUNE_MALLOC=0``: sktaaf leaves malloc alone) and ``inherit`` (this
process's environment unchanged).

Output
------
The tables are printed. With ``--out DIR``, ``results.json``, ``results.md``
(tables, and every run epoch by epoch) and ``speed.png`` are written there.
"""

from __future__ import annotations

import argparse
import os
import statistics

import torch

from sktaaf.measure import (
    ALLOCATOR_VARIABLES,
    environment,
    markdown_table,
    run_fresh,
    usage,
)

from ._common import (
    add_device_argument,
    add_output_arguments,
    cells,
    positive_int,
    write_results,
)
from ._speed_methods import BATCH_SIZE, N_FEATURES, N_TARGETS, TRAINERS, make_data

METHODS = {
    "raw": "raw PyTorch loop",
    "taaf": "TAAFRegressor",
    "default": "TAAFRegressor, defaults",
    "raw-default": "raw loop, default model",
    "bf16": "TAAFRegressor, bf16",
    "skorch": "skorch NeuralNetRegressor",
    "mlp": "sklearn MLPRegressor",
}
NOTES = {
    "raw": "reference",
    "taaf": "the raw loop's network and maths",
    "default": "standardize, dropout 0.5, linear path, early stopping",
    "bf16": 'as taaf, mixed_precision="bf16"',
    "raw-default": "reference of default's own-raw ratio",
    "skorch": "default DataLoader",
    "mlp": "not comparable, for scale",
}
COLORS = {"raw": "tab:gray", "taaf": "tab:purple", "skorch": "tab:blue"}
COLORS.update({"default": "tab:red", "bf16": "tab:green", "raw-default": "tab:brown"})
#: The hand-written loop each method is also paired with ("own-raw ratio").
OWN_RAW = {"default": "raw-default"}
COLORS["mlp"] = "tab:olive"
TUNABLES = "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432"
_GLIBC = {name: None for name in ALLOCATOR_VARIABLES}
MALLOC_MODES = {
    "glibc": _GLIBC,
    "tunables": {**_GLIBC, "GLIBC_TUNABLES": TUNABLES},
    "untuned": {**_GLIBC, "SKTAAF_TUNE_MALLOC": "0"},
    "inherit": {},
}
# Table columns: (title, key in a method's summary, format).
COLUMNS = [
    ("s/epoch", "sec_per_epoch", ".4f"),
    ("fit s", "fit_seconds", ".3f"),
    ("sys s/epoch", "sys_per_epoch", ".3f"),
    ("faults/epoch", "minflt_per_epoch", ".0f"),
    ("first-run faults/epoch", "fresh_minflt_per_epoch", ".0f"),
    ("major", "majflt_per_epoch", ".1f"),
    ("paired ratio", "paired_ratio", ".3f"),
    ("paired fit ratio", "paired_fit_ratio", ".3f"),
    ("own-raw ratio", "own_raw_ratio", ".3f"),
    ("faults ratio", "faults_ratio", ".2f"),
]
N_SAMPLES, WIDTHS, THREADS, EPOCHS, ROUNDS, PROCESSES = [2000], [300], [1], 3, 2, 2


# -------------------------------------------------- one process: the worker
def worker(config: dict) -> dict:
    """Train every method ``rounds`` times in this (fresh) process."""
    torch.set_num_threads(config["threads"])
    before_data = usage()
    X, y = make_data(config["n_samples"])
    methods = config["methods"]
    runs = []
    for round_ in range(config["rounds"]):
        shift = (round_ + config["offset"]) % len(methods)
        for position, method in enumerate(methods[shift:] + methods[:shift]):
            result = TRAINERS[method](
                X, y, config["width"], config["epochs"], config["device"]
            )
            runs.append(
                {"round": round_, "position": position, "method": method, **result}
            )
    return {
        "usage_at_start": before_data,  # since the process started: imports
        "torch_threads": torch.get_num_threads(),
        "runs": runs,
    }


# --------------------------------------------------------------- summarising
def summarize(processes: list[dict], methods: list[str]) -> dict:
    """Per method: medians, means per epoch and paired ratios to ``raw``."""
    runs = [
        {**run, "process": index}
        for index, process in enumerate(processes)
        for run in process["runs"]
    ]
    reference = {
        (run["process"], run["round"]): run for run in runs if run["method"] == "raw"
    }
    summary = {}
    for method in methods:
        own = [run for run in runs if run["method"] == method]
        epochs = [epoch for run in own for epoch in run["epochs"]]
        result = {
            "sec_per_epoch": statistics.median(
                statistics.fmean(e["wall"] for e in run["epochs"]) for run in own
            ),
            "fit_seconds": statistics.median(run["fit"]["wall"] for run in own),
            "sys_per_epoch": statistics.fmean(e["sys"] for e in epochs),
            "minflt_per_epoch": statistics.fmean(e["minflt"] for e in epochs),
            "majflt_per_epoch": statistics.fmean(e["majflt"] for e in epochs),
        }
        # Runs that came first in their (fresh) process: the same allocator
        # state for every method, whatever the others allocated before.
        first = [e for run in own if _first_in_process(run) for e in run["epochs"]]
        result["fresh_minflt_per_epoch"] = (
            statistics.fmean(e["minflt"] for e in first) if first else None
        )
        if reference:
            pairs = [(run, reference[run["process"], run["round"]]) for run in own]
            result["paired_ratio"] = statistics.median(
                _total(run) / _total(raw) for run, raw in pairs
            )
            result["paired_fit_ratio"] = statistics.median(
                run["fit"]["wall"] / raw["fit"]["wall"] for run, raw in pairs
            )
        own_raw = OWN_RAW.get(method)
        if own_raw in methods:
            result["own_raw_ratio"] = _paired_median(runs, method, own_raw)
        summary[method] = result
    if "raw" in summary:
        raw_faults = summary["raw"]["minflt_per_epoch"]
        for result in summary.values():
            result["faults_ratio"] = (
                result["minflt_per_epoch"] / raw_faults if raw_faults else None
            )
    return {"methods": summary, "runs": runs}


def _paired_median(runs: list[dict], method: str, reference: str) -> float:
    """The median over rounds of ``method``'s total epoch time over
    ``reference``'s in the same round of the same process."""
    totals = {(run["process"], run["round"], run["method"]): run for run in runs}
    return statistics.median(
        _total(run) / _total(totals[key[:2] + (reference,)])
        for key, run in totals.items()
        if key[2] == method
    )


def _first_in_process(run: dict) -> bool:
    return run["round"] == 0 and run.get("position") == 0


def _total(run: dict) -> float:
    return sum(epoch["wall"] for epoch in run["epochs"])


# ---------------------------------------------------------------- the tables
CONFIG_KEYS = ("n_samples", "width", "threads", "malloc")


def summary_table(points: list[dict]) -> str:
    """One row per configuration and method."""
    titles = [*CONFIG_KEYS, "method", *(title for title, _, _ in COLUMNS), "note"]
    rows = [
        [
            *(str(point[key]) for key in CONFIG_KEYS),
            METHODS[method],
            *cells(result, COLUMNS),
            NOTES[method],
        ]
        for point in points
        for method, result in point["methods"].items()
    ]
    return markdown_table(titles, rows, "rrrll" + "r" * len(COLUMNS) + "l")


def runs_table(points: list[dict]) -> str:
    """Every run, epoch by epoch: wall seconds, page faults, system seconds."""
    titles = [*CONFIG_KEYS, "process", "round", "order", "method", "fit s"]
    titles += ["epoch s", "faults", "sys s"]
    rows = []
    for point in points:
        for run in point["runs"]:
            epochs = run["epochs"]
            rows.append(
                [
                    *(str(point[key]) for key in CONFIG_KEYS),
                    str(run["process"]),
                    str(run["round"]),
                    str(run["position"] + 1),
                    run["method"],
                    f"{run['fit']['wall']:.3f}",
                    " ".join(f"{e['wall']:.3f}" for e in epochs),
                    " ".join(str(e["minflt"]) for e in epochs),
                    " ".join(f"{e['sys']:.2f}" for e in epochs),
                ]
            )
    return markdown_table(titles, rows, "rrrlrrrlrlll")


# ---------------------------------------------------------------- arguments
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16, AMX or Arm
    BF16), from ``/proc/cpuinfo`` (False where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as file:
            words = set(file.read().split())
    except OSError:
        return False
    return bool(words & {"avx512_bf16", "amx_bf16", "bf16"})


def default_methods() -> list[str]:
    """The methods run by default: the raw loops and the estimator like for
    like and with its defaults, and bf16 where the CPU computes it natively."""
    methods = ["raw", "taaf", "default", "raw-default"]
    return methods + (["bf16"] if cpu_has_native_bf16() else [])


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed",
        description=(
            "Training time, system time and page faults per epoch of "
            "TAAFRegressor against a raw torch loop, every configuration in "
            "fresh processes, with paired ratios."
        ),
    )
    grid = parser.add_argument_group("configurations (every combination)")
    grid.add_argument(
        "--n-samples",
        type=positive_int,
        nargs="+",
        metavar="N",
        default=N_SAMPLES,
        help=f"training samples ({' '.join(map(str, N_SAMPLES))})",
    )
    grid.add_argument(
        "--widths",
        "--width",
        type=positive_int,
        nargs="+",
        metavar="N",
        default=WIDTHS,
        help=f"hidden layer sizes ({' '.join(map(str, WIDTHS))})",
    )
    grid.add_argument(
        "--threads",
        type=positive_int,
        nargs="+",
        metavar="N",
        default=THREADS,
        help="torch threads, also OMP_NUM_THREADS and MKL_NUM_THREADS (1)",
    )
    grid.add_argument(
        "--malloc",
        nargs="+",
        choices=list(MALLOC_MODES),
        default=["glibc"],
        help="allocator state of the processes (glibc; see the module's docs)",
    )
    runs = parser.add_argument_group("runs")
    runs.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        default=default_methods(),
        help=(
            "methods to train; raw is the reference of the ratios ("
            + " ".join(default_methods())
            + "; bf16 only on CPUs with native bf16)"
        ),
    )
    runs.add_argument(
        "--epochs",
        type=positive_int,
        default=EPOCHS,
        metavar="N",
        help=f"epochs per run, all measured ({EPOCHS})",
    )
    runs.add_argument(
        "--rounds",
        type=positive_int,
        default=ROUNDS,
        metavar="N",
        help=f"runs of every method per process, interleaved ({ROUNDS})",
    )
    runs.add_argument(
        "--processes",
        type=positive_int,
        default=PROCESSES,
        metavar="N",
        help=f"fresh processes per configuration ({PROCESSES})",
    )
    add_device_argument(parser, "cpu")
    add_output_arguments(parser, "results.json, results.md and speed.png")
    return parser.parse_args(argv)


def grid(args: argparse.Namespace) -> list[dict]:
    """Every configuration, as the worker's settings."""
    return [
        {
            "n_samples": n_samples,
            "width": width,
            "threads": threads,
            "malloc": malloc,
            "epochs": args.epochs,
            "rounds": args.rounds,
            "methods": list(args.methods),
            "device": args.device,
        }
        for n_samples in args.n_samples
        for width in args.widths
        for threads in args.threads
        for malloc in args.malloc
    ]


def measure(config: dict, n_processes: int, log=print) -> dict:
    """One configuration in ``n_processes`` fresh processes, summarised."""
    environ = {
        **MALLOC_MODES[config["malloc"]],
        "OMP_NUM_THREADS": config["threads"],
        "MKL_NUM_THREADS": config["threads"],
    }
    processes = []
    for index in range(n_processes):
        worker_config = {**config, "offset": index}
        processes.append(run_fresh(worker, worker_config, environ=environ))
    point = {**config, **summarize(processes, config["methods"])}
    point["environ"] = {k: v for k, v in environ.items() if v is not None}
    point["torch_threads"] = processes[0]["torch_threads"]
    point["usage_at_start"] = [process["usage_at_start"] for process in processes]
    settings = ", ".join(f"{key}={config[key]}" for key in CONFIG_KEYS)
    for method, result in point["methods"].items():
        ratio = result.get("paired_ratio")
        log(
            f"{settings}  {method:<6} {result['sec_per_epoch']:.4f} s/epoch  "
            f"{result['minflt_per_epoch']:.0f} faults/epoch"
            + ("" if ratio is None else f"  paired ratio {ratio:.3f}")
        )
    return point


def main(argv=None, log=print) -> dict:
    args = parse_args(argv)
    config = {key: value for key, value in vars(args).items() if key != "out"}
    env = environment()
    log(f"config: {config}")
    log(f"load average: {env['load_average_start']}")
    points = [measure(point, args.processes, log) for point in grid(args)]
    env["load_average_end"] = os.getloadavg()
    text = (
        "Per epoch: means over every epoch (epoch 1 included) of every run; "
        "ratios: paired with the raw loop of the same round and process, "
        f"median over rounds.\n\n{summary_table(points)}\n\n"
        f"Every run (fresh processes; order: position in its round):\n\n"
        f"{runs_table(points)}"
    )
    log(f"\n{summary_table(points)}")
    results = {"config": config, "environment": env, "points": points}
    if args.out is not None:
        from ._speed_plots import plot_speed

        written = write_results(args.out, "results", results, text)
        figure = plot_speed(points, METHODS, COLORS, _title(config, env))
        figure.savefig(args.out / "speed.png", dpi=120)
        log(f"\nwrote {', '.join([*written, 'speed.png'])} to {args.out}")
    return results


def _title(config: dict, env: dict) -> str:
    return (
        f"{N_FEATURES} -> {N_TARGETS} features, batch {BATCH_SIZE}, "
        f"{config['epochs']} epochs, {config['device']}, "
        f"torch {env['versions']['torch']}, "
        f"{env['cpu_count']} CPUs, fresh processes"
    )


if __name__ == "__main__":
    main()
