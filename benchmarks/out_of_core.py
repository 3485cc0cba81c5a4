"""Memory and time of fitting from ``.npy`` files larger than memory allows.

Run as ``python -m benchmarks.out_of_core [--sizes-gb 0.5 4] [--dir DIR]``.

For each size, float32 ``X`` (n x 942 landmarks) and ``y`` (n x 9,520 targets,
D-GEX's number) are written to ``.npy`` files, in blocks, from a low-rank
non-linear model. A fresh Python process then opens them with
``np.load(mmap_mode="r")`` and fits ``TAAFRegressor`` (300 x 300, batch 64,
``--epochs`` epochs, early stopping on a 10% validation split) on them,
reporting the wall time of ``fit`` and the growth of the process's resident
memory during ``fit``: peak RSS (``VmHWM`` of ``/proc/self/status``) minus the
RSS just before ``fit``, after the imports and the opening of the files.
(``getrusage``'s ``ru_maxrss`` would be wrong here: on Linux it keeps, across
``exec``, the peak of the parent that spawned the child, here the writer of the
data.) The model's own size
(weights, gradients and optimizer state) is reported beside it, and the
system time and page faults of ``fit`` (``getrusage``; major faults are reads
of the files). The data stay in the kernel's page cache, which is not part of
a process's RSS. With ``--out DIR``, ``results.json`` and ``results.md`` are
written there.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from sktaaf.measure import environment, run_fresh, status_mib, usage, usage_since

from ._common import add_output_arguments, results_table, write_results

N_LANDMARKS, N_TARGETS = 942, 9520


def fit_from_files(X_path: str, y_path: str, epochs: int) -> dict:
    """Open the files as memory maps and fit (in a fresh process)."""
    from sktaaf import TAAFRegressor

    X = np.load(X_path, mmap_mode="r")
    y = np.load(y_path, mmap_mode="r")
    model = TAAFRegressor(max_epochs=epochs, random_state=0, device="cpu")
    before = status_mib("VmRSS")
    start = usage()
    model.fit(X, y)
    fit = usage_since(start)
    peak = status_mib("VmHWM")
    n_params = sum(p.numel() for p in model.module_.parameters())
    return {
        "fit_seconds": fit["wall"],
        "fit_sys_seconds": fit["sys"],
        "fit_page_faults": fit["minflt"],
        "fit_major_page_faults": fit["majflt"],
        "rss_before_fit_mib": before,
        "peak_rss_mib": peak,
        "rss_growth_mib": peak - before,
        "model_mib": 4 * 4 * n_params / 2**20,  # weights, grads, NAdam's 2 states
        "epochs": model.n_iter_,
        "final_valid_loss": model.history_[-1, "valid_loss"],
    }


def write_data(directory: Path, n_samples: int, seed: int = 0) -> tuple[Path, Path]:
    """Write X and y .npy files block by block (never whole in memory)."""
    rng = np.random.default_rng(seed)
    n_programs = 16
    landmark_loadings = rng.normal(size=(n_programs, N_LANDMARKS)) / 4
    target_loadings = rng.normal(size=(n_programs, N_TARGETS)) / 4
    paths = directory / f"X_{n_samples}.npy", directory / f"y_{n_samples}.npy"
    X = np.lib.format.open_memmap(
        paths[0], mode="w+", dtype=np.float32, shape=(n_samples, N_LANDMARKS)
    )
    y = np.lib.format.open_memmap(
        paths[1], mode="w+", dtype=np.float32, shape=(n_samples, N_TARGETS)
    )
    for start in range(0, n_samples, 10_000):
        stop = min(start + 10_000, n_samples)
        programs = rng.normal(size=(stop - start, n_programs)).astype(np.float32)
        X[start:stop] = programs @ landmark_loadings + 0.3 * rng.standard_normal(
            (stop - start, N_LANDMARKS), dtype=np.float32
        )
        y[start:stop] = np.tanh(programs @ target_loadings)
    X.flush()
    y.flush()
    del X, y
    return paths


COLUMNS = [
    ("data GB", "data_gb", ".2f"),
    ("samples", "n_samples", "d"),
    ("fit s", "fit_seconds", ".1f"),
    ("sys s", "fit_sys_seconds", ".1f"),
    ("page faults", "fit_page_faults", "d"),
    ("major", "fit_major_page_faults", "d"),
    ("RSS before MiB", "rss_before_fit_mib", ".0f"),
    ("RSS growth MiB", "rss_growth_mib", ".0f"),
    ("model MiB", "model_mib", ".0f"),
]


def main(argv=None, log=print) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-gb", type=float, nargs="+", default=[0.5, 4.0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sktaaf-out-of-core"))
    add_output_arguments(parser, "results.json and results.md")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    row_bytes = 4 * (N_LANDMARKS + N_TARGETS)
    results = []
    for size in args.sizes_gb:
        n_samples = int(size * 1e9 // row_bytes)
        start = time.perf_counter()
        paths = write_data(args.dir, n_samples)
        written = time.perf_counter() - start
        child = run_fresh(fit_from_files, *map(str, paths), args.epochs)
        result = {
            "data_gb": n_samples * row_bytes / 1e9,
            "n_samples": n_samples,
            "write_seconds": written,
            **child,
        }
        results.append(result)
        log(f"{result['data_gb']:.2f} GB: fit {result['fit_seconds']:.1f} s")
        for path in paths:
            path.unlink()
    text = results_table(results, COLUMNS)
    log(f"\n{text}")
    config = {"sizes_gb": args.sizes_gb, "epochs": args.epochs}
    output = {"config": config, "environment": env, "results": results}
    if args.out is not None:
        write_results(args.out, "results", output, text)
    return output


if __name__ == "__main__":
    main()
