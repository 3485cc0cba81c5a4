"""Training speed of ``TAAFRegressor`` against a hand-written PyTorch loop.

Run as ``python -m benchmarks.speed [--epochs 5] [--repeats 3] [--out DIR]``.

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

How
---
Each method trains ``--repeats`` times for ``--epochs`` epochs; the runs are
interleaved (raw, TAAF, skorch, MLP, raw, TAAF, ...) so that machine noise
affects all methods alike. The first epoch of every run is discarded as
warm-up, as is an untimed short run of every method before the measured
ones; the reported time is the median of the remaining per-epoch times
of all runs ("median"). Also reported: the minimum epoch time ("min", the
least disturbed by other processes on a shared machine), the "paired ratio"
(each run's median epoch over that of the raw run of the same repeat, then the
median over repeats) and the total wall time of a run divided by its number of
epochs ("wall": warm-up epoch, set-up and, for the estimator, input validation
included). torch's thread settings are left at their defaults. The torch
methods run on ``--device`` (default ``cpu``; the estimator is given it too,
rather than its default ``"auto"``).
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


def run_taaf(X, y, width, epochs, device):
    """``TAAFRegressor.fit``; epoch times from skorch's ``dur`` column."""
    start = time.perf_counter()
    estimator = TAAFRegressor(
        hidden_layer_sizes=(width, width),
        batch_size=BATCH_SIZE,
        early_stopping=False,
        max_epochs=epochs,
        random_state=SEED,
        device=device,
    ).fit(X, y)
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


def markdown_table(runs: dict) -> str:
    """The results as a Markdown table (times in seconds per epoch)."""
    columns = [
        ("median", "sec_per_epoch", ".4f"),
        ("ratio", "ratio", ".3f"),
        ("paired ratio", "paired_ratio", ".3f"),
        ("min", "min_sec_per_epoch", ".4f"),
        ("min ratio", "min_ratio", ".3f"),
        ("wall", "wall_per_epoch", ".4f"),
        ("wall ratio", "wall_ratio", ".3f"),
    ]
    lines = [
        "| method | " + " | ".join(title for title, _, _ in columns) + " | note |",
        "|---|" + "---:|" * len(columns) + "---|",
    ]
    for name, result in runs.items():
        cells = [
            format(result[key], spec) if key in result else ""
            for _, key, spec in columns
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {NOTES[name]} |")
    return "\n".join(lines)


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


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.speed",
        description="Seconds per epoch of TAAFRegressor against a raw torch loop.",
    )
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--width", type=int, default=300, help="hidden layer size")
    parser.add_argument(
        "--device", default="cpu", help="torch device of the torch methods (cpu)"
    )
    parser.add_argument(
        "--no-skorch", action="store_true", help="skip plain NeuralNetRegressor"
    )
    parser.add_argument("--no-mlp", action="store_true", help="skip MLPRegressor")
    parser.add_argument("--out", type=Path, help="write results.json and results.md")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is warm-up)")
    if args.repeats < 1 or args.n_samples < 1 or args.width < 1:
        parser.error("--repeats, --n-samples and --width must be positive")
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    methods = [RAW, TAAF]
    if not args.no_skorch:
        methods.append(SKORCH)
    if not args.no_mlp:
        methods.append(MLP)
    X, y = make_data(args.n_samples)
    config = {
        "n_samples": args.n_samples,
        "n_features": N_FEATURES,
        "n_targets": N_TARGETS,
        "hidden_layer_sizes": [args.width, args.width],
        "batch_size": BATCH_SIZE,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "device": args.device,
    }
    env = environment()
    print(f"config: {config}")
    print(f"load average: {env['load_average_start']}")
    print(
        f"torch {env['torch']} ({env['torch_threads']} threads), "
        f"skorch {env['skorch']}, sklearn {env['sklearn']}, {env['cpu_count']} CPUs"
    )
    runs = benchmark(methods, X, y, args.width, args.epochs, args.repeats, args.device)
    table = markdown_table(runs)
    print()
    print(table)
    env["load_average_end"] = os.getloadavg()
    results = {"config": config, "environment": env, "results": runs}
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / "results.md").write_text(
            f"Configuration: `{json.dumps(config)}`\n\n"
            f"Environment: `{json.dumps(env)}`\n\n{table}\n"
        )
        print(f"\nwrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    return results


if __name__ == "__main__":
    main()
