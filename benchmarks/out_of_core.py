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
(weights, gradients and optimizer state) is reported beside it. The data
stay in the kernel's page cache, which is not part of a process's RSS.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

N_LANDMARKS, N_TARGETS = 942, 9520

CHILD = """
import json, sys, time
import numpy as np
from sktaaf import TAAFRegressor

def status_mib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024

X = np.load(sys.argv[1], mmap_mode="r")
y = np.load(sys.argv[2], mmap_mode="r")
model = TAAFRegressor(max_epochs=int(sys.argv[3]), random_state=0, device="cpu")
before = status_mib("VmRSS")
start = time.perf_counter()
model.fit(X, y)
seconds = time.perf_counter() - start
peak = status_mib("VmHWM")
n_params = sum(p.numel() for p in model.module_.parameters())
print(json.dumps({
    "fit_seconds": seconds,
    "rss_before_fit_mib": before,
    "peak_rss_mib": peak,
    "rss_growth_mib": peak - before,
    "model_mib": 4 * 4 * n_params / 2**20,  # weights, grads, Nadam's 2 states
    "epochs": model.n_iter_,
    "final_valid_loss": model.history_[-1, "valid_loss"],
}))
"""


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


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-gb", type=float, nargs="+", default=[0.5, 4.0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/sktaaf-out-of-core"))
    parser.add_argument("--out", type=Path, default=None, help="write results.json")
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    row_bytes = 4 * (N_LANDMARKS + N_TARGETS)
    results = []
    print(
        f"{'data GB':>8} {'samples':>9} {'fit s':>8} {'RSS before':>11} "
        f"{'RSS growth':>11} {'model':>7}"
    )
    for size in args.sizes_gb:
        n_samples = int(size * 1e9 // row_bytes)
        start = time.perf_counter()
        paths = write_data(args.dir, n_samples)
        written = time.perf_counter() - start
        child = subprocess.run(
            [sys.executable, "-c", CHILD, *map(str, paths), str(args.epochs)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = {
            "data_gb": n_samples * row_bytes / 1e9,
            "n_samples": n_samples,
            "write_seconds": written,
            **json.loads(child.stdout.strip().splitlines()[-1]),
        }
        results.append(result)
        print(
            f"{result['data_gb']:>8.2f} {n_samples:>9} {result['fit_seconds']:>8.1f} "
            f"{result['rss_before_fit_mib']:>8.0f} MiB {result['rss_growth_mib']:>7.0f}"
            f" MiB {result['model_mib']:>4.0f} MiB",
            flush=True,
        )
        for path in paths:
            path.unlink()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(results, indent=2))
    return {"results": results}


if __name__ == "__main__":
    main()
