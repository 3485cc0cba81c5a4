"""Speed of ``TAAFRegressor`` against hand-written PyTorch: training and prediction.

Run as ``python -m benchmarks.speed [--epochs 5] [--repeats 3] [--out DIR]``
for the comparison, ``python -m benchmarks.speed --sweep [--out DIR]`` for the
scaling sweep; ``--help`` lists every option.

What is measured
----------------
Seconds per training epoch, in one process, on the same synthetic float32 data
(``X ~ N(0, 1)`` of ``n_samples x 942``, ``y = tanh(X @ W) + noise`` of
``n_samples x 952``), the same network (``TAAFNetwork(942, 952, (w, w))``,
dropout 0.25), batch size (64), optimizer (NAdam, lr 5e-4) and loss (L1):

``raw``
    A hand-written loop: per epoch ``model.train()`` and one ``torch.randperm``;
    per batch an index gather ``X[idx]``, ``zero_grad``, forward, loss,
    ``backward``, ``step`` and ``loss.item()`` (the loss is recorded, as users
    do). This is the reference: every ratio is relative to it.
``TAAFRegressor``
    ``TAAFRegressor(early_stopping=False, ...).fit(X, y)``, i.e. skorch's
    training loop fed by sktaaf's tensor ``BatchIterator``. Per-epoch times come
    from skorch's ``history_[:, "dur"]``.
``skorch``
    A plain ``skorch.NeuralNetRegressor`` on the numpy arrays, with its default
    ``DataLoader`` (per-sample indexing and collation), shuffled, no validation.
``sklearn MLP``
    ``MLPRegressor(activation="logistic", solver="adam")`` trained one epoch
    per ``partial_fit`` call. Different maths (no TAAF, no dropout, squared
    loss): not comparable, shown for scale only.

Prediction
    Samples per second of ``TAAFRegressor.predict(X)`` (input validation, a
    finiteness check and row padding per batch included) against a raw loop
    over the same fitted network (``est.module_``, trained one epoch):
    ``eval()``, ``torch.inference_mode()``, batches of ``X`` of the size
    ``predict`` uses (``max(batch_size, 4096)`` rows) forwarded into one
    float32 array. One untimed call of each, then ``--predict-repeats`` calls
    each, interleaved; reported: the median time, samples per second and the
    ratio of the estimator's time to the raw loop's (= raw samples per second
    over the estimator's), and the largest difference between the two
    predictions.
Scaling sweep (``--sweep``, instead of the comparison)
    The raw loop and ``TAAFRegressor`` only, timed as below at every
    ``--sweep-samples`` (default 1000 to 64000, doubling) at ``--width``, then
    at every ``--sweep-widths`` (default 100, 300, 1000, 3000) at
    ``--n-samples``; the data are generated once, at the largest size, and
    sliced. Per point: seconds per epoch, samples per second and the ratios
    TAAFRegressor / raw. With 3 epochs per run (the sweep's default) and 3
    repeats it takes about 6 minutes on 2 idle cores (the 3000-wide and the
    64000-sample points dominate).

How
---
Each method trains ``--repeats`` times for ``--epochs`` epochs; the runs are
interleaved (raw, TAAF, skorch, MLP, raw, TAAF, ...) so that machine noise
affects all methods alike. The first epoch of every run is discarded as
warm-up, as is an untimed short run of every method before the measured
ones; the reported time is the median of the remaining per-epoch times
of all runs ("median"). Also reported: samples per second (``n_samples``
over the median), the minimum epoch time ("min", the
least disturbed by other processes on a shared machine), the "paired ratio"
(each run's median epoch over that of the raw run of the same repeat, then the
median over repeats) and the total wall time of a run divided by its number of
epochs ("wall": warm-up epoch, set-up and, for the estimator, input validation
included). torch's thread settings are left at their defaults. The torch
methods run on ``--device`` (default ``cpu``; the estimator is given it too,
rather than its default ``"auto"``).

Output
------
The tables are printed. With ``--out DIR``, the comparison writes
``results.json``, ``results.md`` and ``speed.png`` (bars of the epoch times
and prediction throughputs, with their ratios) there; the sweep writes
``sweep.json``, ``sweep.md`` and ``sweep.png`` (epoch time against n_samples
and against width on log-log axes, the ratios below).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import sklearn
import skorch
import torch
from sklearn.neural_network import MLPRegressor

from sktaaf import TAAFRegressor
from sktaaf._base import _MIN_PREDICT_BATCH_SIZE
from sktaaf.nn import TAAFNetwork

N_FEATURES = 942
N_TARGETS = 952
BATCH_SIZE = 64
LEARNING_RATE = 5e-4
SEED = 0
WARMUP_SAMPLES = 256

RAW = "raw PyTorch loop"
TAAF = "TAAFRegressor"
SKORCH = "skorch NeuralNetRegressor"
MLP = "sklearn MLPRegressor"
# Ratios to the raw loop: the statistic and the key its ratio is stored under.
RATIOS = {
    "sec_per_epoch": "ratio",
    "min_sec_per_epoch": "min_ratio",
    "wall_per_epoch": "wall_ratio",
}
NOTES = {
    RAW: "reference",
    TAAF: "",
    SKORCH: "default DataLoader",
    MLP: "not comparable, for scale",
}
SHORT_NAMES = {RAW: "raw", TAAF: "TAAF"}
COLORS = {RAW: "tab:gray", TAAF: "tab:purple", SKORCH: "tab:blue", MLP: "tab:olive"}
# Table columns: (title, key in a method's results, format).
SAMPLES_PER_SEC = ("samples/s", "samples_per_sec", ".0f")
RATIO_COLUMNS = [
    ("ratio", "ratio", ".3f"),
    ("paired ratio", "paired_ratio", ".3f"),
    ("min ratio", "min_ratio", ".3f"),
]
TRAIN_COLUMNS = [
    ("median", "sec_per_epoch", ".4f"),
    SAMPLES_PER_SEC,
    *RATIO_COLUMNS[:2],
    ("min", "min_sec_per_epoch", ".4f"),
    RATIO_COLUMNS[2],
    ("wall", "wall_per_epoch", ".4f"),
    ("wall ratio", "wall_ratio", ".3f"),
]
PREDICT_COLUMNS = [
    ("median", "sec_per_predict", ".4f"),
    SAMPLES_PER_SEC,
    RATIO_COLUMNS[0],
]
SWEEP_COLUMNS = [("s/epoch", "sec_per_epoch", ".4f"), SAMPLES_PER_SEC]

EPOCHS, SWEEP_EPOCHS, REPEATS, PREDICT_REPEATS = 5, 3, 3, 7
SWEEP_SAMPLES = [1000 * 2**k for k in range(7)]  # 1000 to 64000
SWEEP_WIDTHS = [100, 300, 1000, 3000]


def make_data(n_samples: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic float32 data: 942 features to 952 targets in about [-1, 1]."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, N_FEATURES), dtype=np.float32)
    W = rng.standard_normal((N_FEATURES, N_TARGETS), dtype=np.float32)
    W /= np.sqrt(N_FEATURES)
    noise = rng.standard_normal((n_samples, N_TARGETS), dtype=np.float32)
    y = np.tanh(X @ W) + 0.1 * noise
    return X, y.astype(np.float32)


# A run trains one method once, from (X, y, width, epochs, device), and returns
# (per-epoch seconds, total seconds).
Run = Callable[[np.ndarray, np.ndarray, int, int, str], tuple[list[float], float]]


def run_raw(X, y, width, epochs, device):
    """The hand-written PyTorch loop.

    ``loss.item()`` synchronises with the device at every batch, so the epoch
    times are complete on CUDA as well.
    """
    start = time.perf_counter()
    X_t, y_t = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    torch.manual_seed(SEED)
    model = TAAFNetwork(N_FEATURES, N_TARGETS, (width, width)).to(device)
    optimizer = torch.optim.NAdam(model.parameters(), lr=LEARNING_RATE)
    criterion = torch.nn.L1Loss()
    generator = torch.Generator().manual_seed(SEED)
    n_samples = len(X_t)
    losses = []
    epoch_times = []
    for _ in range(epochs):
        epoch_start = time.perf_counter()
        model.train()
        order = torch.randperm(n_samples, generator=generator).to(device)
        for begin in range(0, n_samples, BATCH_SIZE):
            idx = order[begin : begin + BATCH_SIZE]
            X_batch, y_batch = X_t[idx], y_t[idx]
            optimizer.zero_grad()
            loss = criterion(model(X_batch), y_batch)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        epoch_times.append(time.perf_counter() - epoch_start)
    return epoch_times, time.perf_counter() - start


def make_taaf(width: int, epochs: int, device: str) -> TAAFRegressor:
    """The benchmarked estimator: every epoch trains on all of X, no validation."""
    return TAAFRegressor(
        hidden_layer_sizes=(width, width),
        batch_size=BATCH_SIZE,
        early_stopping=False,
        max_epochs=epochs,
        random_state=SEED,
        device=device,
    )


def run_taaf(X, y, width, epochs, device):
    """``TAAFRegressor.fit``; epoch times from skorch's ``dur`` column."""
    start = time.perf_counter()
    estimator = make_taaf(width, epochs, device).fit(X, y)
    total = time.perf_counter() - start
    return [float(t) for t in estimator.history_[:, "dur"]], total


def run_skorch(X, y, width, epochs, device):
    """A plain ``NeuralNetRegressor`` with skorch's default data path."""
    start = time.perf_counter()
    torch.manual_seed(SEED)
    net = skorch.NeuralNetRegressor(
        TAAFNetwork,
        module__n_inputs=N_FEATURES,
        module__n_outputs=N_TARGETS,
        module__hidden_layer_sizes=(width, width),
        criterion=torch.nn.L1Loss,
        optimizer=torch.optim.NAdam,
        lr=LEARNING_RATE,
        max_epochs=epochs,
        batch_size=BATCH_SIZE,
        iterator_train__shuffle=True,
        train_split=None,
        device=device,
        verbose=0,
    ).fit(X, y)
    total = time.perf_counter() - start
    return [float(t) for t in net.history[:, "dur"]], total


def run_mlp(X, y, width, epochs, device):
    """sklearn's ``MLPRegressor`` (always on the CPU), one ``partial_fit`` (one
    epoch) per call."""
    start = time.perf_counter()
    mlp = MLPRegressor(
        hidden_layer_sizes=(width, width),
        activation="logistic",
        solver="adam",
        batch_size=BATCH_SIZE,
        learning_rate_init=LEARNING_RATE,
        random_state=SEED,
    )
    epoch_times = []
    for _ in range(epochs):
        epoch_start = time.perf_counter()
        mlp.partial_fit(X, y)
        epoch_times.append(time.perf_counter() - epoch_start)
    return epoch_times, time.perf_counter() - start


RUNS: dict[str, Run] = {RAW: run_raw, TAAF: run_taaf, SKORCH: run_skorch, MLP: run_mlp}


def benchmark(methods, X, y, width, epochs, repeats, device, log=print) -> dict:
    """Run every method ``repeats`` times, interleaved, and summarise.

    An untimed one-epoch run of every method on a few samples comes first, so
    that one-off costs of the process (lazy library initialisation, first
    allocations) fall on no measured run.
    """
    for name in methods:
        RUNS[name](X[:WARMUP_SAMPLES], y[:WARMUP_SAMPLES], width, 1, device)
    runs = {name: {"epoch_times": [], "wall_times": []} for name in methods}
    for repeat in range(repeats):
        for name in methods:
            epoch_times, wall = RUNS[name](X, y, width, epochs, device)
            runs[name]["epoch_times"].append(epoch_times)
            runs[name]["wall_times"].append(wall)
            steady = epoch_times[1:] or epoch_times
            log(
                f"repeat {repeat + 1}/{repeats}  {name:<26} "
                f"median epoch {statistics.median(steady):.4f} s  "
                f"wall/epoch {wall / epochs:.4f} s"
            )
    for result in runs.values():
        # The first epoch of each run is warm-up (allocations, lazy init).
        steady = [times[1:] or times for times in result["epoch_times"]]
        pooled = [t for times in steady for t in times]
        result["run_medians"] = [statistics.median(times) for times in steady]
        result["sec_per_epoch"] = statistics.median(pooled)
        result["min_sec_per_epoch"] = min(pooled)
        result["wall_per_epoch"] = statistics.median(
            wall / epochs for wall in result["wall_times"]
        )
        result["samples_per_sec"] = len(X) / result["sec_per_epoch"]
    if RAW in runs:
        reference = runs[RAW]
        for result in runs.values():
            for key, ratio_key in RATIOS.items():
                result[ratio_key] = result[key] / reference[key]
            # Each run against the raw run of the same repeat, then the median:
            # noise that lasts a repeat or longer cancels out.
            result["paired_ratio"] = statistics.median(
                run / raw
                for run, raw in zip(
                    result["run_medians"], reference["run_medians"], strict=True
                )
            )
    return runs


def predict_raw(
    module: torch.nn.Module, X: np.ndarray, batch_size: int, device: str
) -> np.ndarray:
    """A hand-written prediction loop: batches of ``X`` through ``module`` under
    ``torch.inference_mode()``, into one float32 array."""
    X_t = torch.from_numpy(X)
    y_pred = np.empty((len(X), N_TARGETS), dtype=np.float32)
    module.eval()
    with torch.inference_mode():
        for start in range(0, len(X), batch_size):
            batch = X_t[start : start + batch_size].to(device)
            y_pred[start : start + len(batch)] = module(batch).cpu().numpy()
    return y_pred


def benchmark_predict(
    X: np.ndarray, y: np.ndarray, width: int, repeats: int, device: str, log=print
) -> dict:
    """Seconds and samples per second of ``TAAFRegressor.predict(X)`` and of
    :func:`predict_raw` on the estimator's own network.

    The estimator is fitted for one epoch. Both methods predict all of ``X`` in
    batches of the estimator's prediction batch size: once untimed (warm-up,
    and a check that both compute the same), then ``repeats`` times each,
    interleaved.
    """
    estimator = make_taaf(width, 1, device).fit(X, y)
    batch_size = max(estimator.batch_size, _MIN_PREDICT_BATCH_SIZE)
    predictors = {
        RAW: lambda: predict_raw(estimator.module_, X, batch_size, device),
        TAAF: lambda: estimator.predict(X),
    }
    y_raw, y_taaf = (predict() for predict in predictors.values())
    seconds = {name: [] for name in predictors}
    for _ in range(repeats):
        for name, predict in predictors.items():
            start = time.perf_counter()
            predict()
            seconds[name].append(time.perf_counter() - start)
    reference = statistics.median(seconds[RAW])
    results = {}
    for name, times in seconds.items():
        median = statistics.median(times)
        results[name] = {
            "seconds": times,
            "sec_per_predict": median,
            "samples_per_sec": len(X) / median,
            "ratio": median / reference,  # = raw samples/s over this method's
        }
        log(
            f"predict  {name:<26} median {median:.4f} s  "
            f"{results[name]['samples_per_sec']:.0f} samples/s"
        )
    return {
        "n_samples": len(X),
        "batch_size": batch_size,
        "repeats": repeats,
        "max_abs_difference": float(np.abs(y_raw - y_taaf).max()),
        "results": results,
    }


def sweep_grid(args: argparse.Namespace) -> list[tuple[str, int, int]]:
    """The sweep's points as (axis, n_samples, width): every ``--sweep-samples``
    at ``--width``, then every ``--sweep-widths`` at ``--n-samples``."""
    return [("n_samples", n, args.width) for n in args.sweep_samples] + [
        ("width", args.n_samples, width) for width in args.sweep_widths
    ]


def sweep(
    X: np.ndarray,
    y: np.ndarray,
    grid: list[tuple[str, int, int]],
    epochs: int,
    repeats: int,
    device: str,
    log=print,
) -> dict:
    """:func:`benchmark` of the raw loop and ``TAAFRegressor`` at every point
    of ``grid``, on the first ``n_samples`` rows of ``X`` and ``y``."""
    points = {"n_samples": [], "width": []}
    for axis, n_samples, width in grid:
        log(f"\nsweep: n_samples={n_samples}, width={width}")
        runs = benchmark(
            [RAW, TAAF],
            X[:n_samples],
            y[:n_samples],
            width,
            epochs,
            repeats,
            device,
            log,
        )
        points[axis].append(
            {
                "n_samples": n_samples,
                "width": width,
                "ratio": runs[TAAF]["ratio"],
                "paired_ratio": runs[TAAF]["paired_ratio"],
                "results": runs,
            }
        )
    return points


def _markdown(titles: list[str], rows: list[list[str]], align: str) -> str:
    """A Markdown table; ``align`` has one letter per column, l(eft) or r(ight)."""
    rule = "|" + "".join("---:|" if side == "r" else "---|" for side in align)
    lines = ["| " + " | ".join(titles) + " |", rule]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cells(result: dict, columns: list[tuple[str, str, str]]) -> list[str]:
    return [
        format(result[key], spec) if key in result else "" for _, key, spec in columns
    ]


def _method_table(results: dict, columns: list[tuple[str, str, str]]) -> str:
    titles = ["method", *(title for title, _, _ in columns), "note"]
    rows = [
        [name, *_cells(result, columns), NOTES[name]]
        for name, result in results.items()
    ]
    return _markdown(titles, rows, "l" + "r" * len(columns) + "l")


def markdown_table(runs: dict) -> str:
    """The training results as a Markdown table (times in seconds per epoch)."""
    return _method_table(runs, TRAIN_COLUMNS)


def predict_table(predict: dict) -> str:
    """The prediction results as a Markdown table (times in seconds per call)."""
    return _method_table(predict["results"], PREDICT_COLUMNS)


def sweep_table(points: list[dict]) -> str:
    """One axis of the sweep as a Markdown table, a row per point."""
    methods = (RAW, TAAF)
    titles = [
        "n_samples",
        "width",
        *(
            f"{SHORT_NAMES[name]} {title}"
            for title, _, _ in SWEEP_COLUMNS
            for name in methods
        ),
        *(title for title, _, _ in RATIO_COLUMNS),
    ]
    rows = [
        [
            str(point["n_samples"]),
            str(point["width"]),
            *(
                format(point["results"][name][key], spec)
                for _, key, spec in SWEEP_COLUMNS
                for name in methods
            ),
            *_cells(point["results"][TAAF], RATIO_COLUMNS),
        ]
        for point in points
    ]
    return _markdown(titles, rows, "r" * len(titles))


def sweep_tables(points: dict, config: dict) -> str:
    """Both axes of the sweep, each under a heading."""
    headings = {
        "n_samples": f"Against n_samples (width {config['width']})",
        "width": f"Against width ({config['n_samples']} samples)",
    }
    return "\n\n".join(
        f"## {headings[axis]}\n\n{sweep_table(axis_points)}"
        for axis, axis_points in points.items()
        if axis_points
    )


def environment() -> dict:
    """Versions and thread settings the numbers were taken with."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "skorch": skorch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "load_average_start": os.getloadavg(),
    }


def figure_title(config: dict, env: dict) -> str:
    return (
        f"{N_FEATURES} -> {N_TARGETS} features, batch {BATCH_SIZE}, "
        f"{config['device']}, torch {env['torch']} ({env['torch_threads']} threads), "
        f"{env['cpu_count']} CPUs"
    )


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed",
        description=(
            "Seconds per training epoch of TAAFRegressor against a raw torch loop "
            "(and plain skorch and MLPRegressor), and samples per second of "
            "predict. With --sweep: instead, how the epoch time of the raw loop "
            "and of TAAFRegressor grows with n_samples and with the width."
        ),
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        metavar="N",
        default=2000,
        help="training samples; with --sweep, those of the width sweep (2000)",
    )
    parser.add_argument(
        "--width",
        type=int,
        metavar="N",
        default=300,
        help="hidden layer size; with --sweep, that of the n_samples sweep (300)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help=f"epochs per run, the first one warm-up ({EPOCHS}; {SWEEP_EPOCHS} "
        "with --sweep)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=REPEATS,
        metavar="N",
        help=f"runs per method, interleaved ({REPEATS})",
    )
    parser.add_argument(
        "--predict-repeats",
        type=int,
        metavar="N",
        default=PREDICT_REPEATS,
        help=f"timed predict calls per method ({PREDICT_REPEATS})",
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device of the torch methods (cpu)"
    )
    parser.add_argument(
        "--no-skorch", action="store_true", help="skip plain NeuralNetRegressor"
    )
    parser.add_argument("--no-mlp", action="store_true", help="skip MLPRegressor")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for results.json, results.md and speed.png (with --sweep: "
        "sweep.json, sweep.md and sweep.png)",
    )
    group = parser.add_argument_group("scaling sweep (raw loop and TAAFRegressor)")
    group.add_argument(
        "--sweep",
        action="store_true",
        help="run the sweep instead of the comparison",
    )
    group.add_argument(
        "--sweep-samples",
        type=int,
        nargs="*",
        metavar="N",
        help="n_samples of the sweep, at --width; none to skip "
        f"({' '.join(map(str, SWEEP_SAMPLES))})",
    )
    group.add_argument(
        "--sweep-widths",
        type=int,
        nargs="*",
        metavar="N",
        help="widths of the sweep, at --n-samples; none to skip "
        f"({' '.join(map(str, SWEEP_WIDTHS))})",
    )
    args = parser.parse_args(argv)
    _resolve_defaults(parser, args)
    return args


def _resolve_defaults(parser: argparse.ArgumentParser, args) -> None:
    """Fill in the defaults that depend on --sweep, and check the values."""
    given = args.sweep_samples is not None or args.sweep_widths is not None
    if given and not args.sweep:
        parser.error("--sweep-samples and --sweep-widths need --sweep")
    if args.sweep:
        if args.sweep_samples is None:
            args.sweep_samples = SWEEP_SAMPLES
        if args.sweep_widths is None:
            args.sweep_widths = SWEEP_WIDTHS
        if not args.sweep_samples and not args.sweep_widths:
            parser.error("--sweep-samples and --sweep-widths are both empty")
    if args.epochs is None:
        args.epochs = SWEEP_EPOCHS if args.sweep else EPOCHS
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is warm-up)")
    sizes = [args.repeats, args.predict_repeats, args.n_samples, args.width]
    if min(sizes + list(args.sweep_samples or []) + list(args.sweep_widths or [])) < 1:
        parser.error(
            "--repeats, --predict-repeats, --n-samples, --width, --sweep-samples "
            "and --sweep-widths must be positive"
        )


def _config(args: argparse.Namespace) -> dict:
    config = {
        "n_samples": args.n_samples,
        "n_features": N_FEATURES,
        "n_targets": N_TARGETS,
        "width": args.width,
        "batch_size": BATCH_SIZE,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "device": args.device,
    }
    if args.sweep:
        config["sweep_samples"] = args.sweep_samples
        config["sweep_widths"] = args.sweep_widths
    else:
        config["predict_repeats"] = args.predict_repeats
    return config


def _write(out: Path, stem: str, results: dict, text: str, figure, name: str) -> None:
    """Write ``stem``.json, ``stem``.md (configuration, environment and
    ``text``) and ``figure`` as ``name`` to ``out``."""
    from ._plots import _save

    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{stem}.md").write_text(
        f"Configuration: `{json.dumps(results['config'])}`\n\n"
        f"Environment: `{json.dumps(results['environment'])}`\n\n{text}\n"
    )
    written = [f"{stem}.json", f"{stem}.md", _save(figure, out / name)]
    print(f"\nwrote {', '.join(written)} to {out}")


def run_comparison(args: argparse.Namespace, config: dict, env: dict) -> dict:
    """Training epochs of every method, then prediction of the raw loop and
    ``TAAFRegressor``."""
    methods = [RAW, TAAF]
    if not args.no_skorch:
        methods.append(SKORCH)
    if not args.no_mlp:
        methods.append(MLP)
    X, y = make_data(args.n_samples)
    runs = benchmark(methods, X, y, args.width, args.epochs, args.repeats, args.device)
    predict = benchmark_predict(X, y, args.width, args.predict_repeats, args.device)
    text = (
        f"Training, seconds per epoch:\n\n{markdown_table(runs)}\n\n"
        f"Prediction of {len(X)} samples in batches of {predict['batch_size']}, "
        f"seconds per call:\n\n{predict_table(predict)}"
    )
    print(f"\n{text}")
    env["load_average_end"] = os.getloadavg()
    results = {
        "config": config,
        "environment": env,
        "results": runs,
        "predict": predict,
    }
    if args.out is not None:
        from ._speed_plots import plot_speed

        figure = plot_speed(runs, predict, RAW, COLORS, figure_title(config, env))
        _write(args.out, "results", results, text, figure, "speed.png")
    return results


def run_sweep(args: argparse.Namespace, config: dict, env: dict) -> dict:
    """The scaling sweep, on one data set sliced to every n_samples."""
    start = time.perf_counter()
    X, y = make_data(max([args.n_samples, *args.sweep_samples]))
    points = sweep(X, y, sweep_grid(args), args.epochs, args.repeats, args.device)
    text = sweep_tables(points, config)
    print(f"\nEpoch times and ratios TAAFRegressor / raw loop:\n\n{text}")
    env["load_average_end"] = os.getloadavg()
    results = {"config": config, "environment": env, "sweep": points}
    results["wall_seconds"] = time.perf_counter() - start
    if args.out is not None:
        from ._speed_plots import plot_sweep

        figure = plot_sweep(points, RAW, COLORS, figure_title(config, env))
        _write(args.out, "sweep", results, text, figure, "sweep.png")
    return results


def main(argv=None) -> dict:
    args = parse_args(argv)
    config = _config(args)
    env = environment()
    print(f"config: {config}")
    print(f"load average: {env['load_average_start']}")
    print(
        f"torch {env['torch']} ({env['torch_threads']} threads), "
        f"skorch {env['skorch']}, sklearn {env['sklearn']}, {env['cpu_count']} CPUs"
    )
    return (run_sweep if args.sweep else run_comparison)(args, config, env)


if __name__ == "__main__":
    main()
