"""Inference and training at scale from GCTX files: throughput and peak memory.

Run as ``python -m benchmarks.predict_scale [--sizes 100000 400000]
[--fit-sizes 20000 80000] [--lincs-samples 50000] [--out DIR]``.

Predict: for each size, a GCTX file of ``n`` samples x the 978 L1000
landmarks (Entrez ids, two column metadata fields) is written, in blocks, to
a temporary folder; a ``TAAFRegressor`` of 978 -> 300 -> 300 -> 2,000 targets,
fitted for one epoch on 2,000 samples, infers the targets of every sample,
each way in a fresh Python process:

* ``sktaaf predict MODEL.pt IN.gctx -o OUT.gctx``, the whole command (start,
  imports, model loading, streaming), run as ``python -m sktaaf``;
* ``predict_gctx(model, IN.gctx, OUT.gctx)``, the function it streams with;
* ``model.predict(X)`` on the same rows held in memory (read beforehand with
  ``load_gctx``), the in-memory reference: prediction only, no file written.

Throughput is samples per second of the timed part; peak RSS is the process's
``VmHWM``. With ``--lincs-samples``, ``predict_gctx`` also runs once with a
model of 978 -> 300 -> 300 -> 11,000 targets (LINCS' number of inferred genes),
from which the README's estimate for the whole of LINCS is computed.

Fit: for each of ``--fit-sizes``, a GCTX file of 978 landmarks + 2,000
targets; a ``TAAFRegressor`` (300 x 300, batch 64, one epoch, no early
stopping) trains from ``open_gctx`` views (out of core) and from ``load_gctx``
arrays (in memory), each in a fresh process: seconds per epoch, the RSS before
``fit`` (after loading, for in memory) and the peak.

The files are removed at the end. With ``--out DIR``, ``results.json`` and
``results.md`` are written there.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sktaaf.measure import environment, run_fresh, status_mib

from ._common import add_output_arguments, positive_int, results_table, write_results

N_LANDMARKS, N_TARGETS, LINCS_TARGETS = 978, 2000, 11000
HIDDEN = (300, 300)
_BLOCK = 20_000  # samples written at a time


# ----------------------------------------------------------------------- data
def _landmark_ids() -> list[str]:
    from sktaaf.datasets import l1000_landmark_ids

    return [str(value) for value in l1000_landmark_ids("entrez_id")]


def _loadings(n_targets: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(16, N_LANDMARKS)).astype(np.float32) / 4,
        rng.normal(size=(16, n_targets)).astype(np.float32) / 4,
    )


def _block(rng, n: int, n_targets: int, with_targets: bool):
    landmarks, targets = _loadings(n_targets)
    programs = rng.normal(size=(n, 16)).astype(np.float32)
    X = programs @ landmarks + 0.3 * rng.standard_normal((n, N_LANDMARKS), np.float32)
    return np.hstack([X, np.tanh(programs @ targets)]) if with_targets else X


def write_profiles(path: Path, n_samples: int, n_targets: int = 0, seed: int = 1):
    """A GCTX file of ``n_samples`` x (978 landmarks + ``n_targets`` targets),
    written block by block with h5py in the layout of ``write_gctx``."""
    import h5py

    rng = np.random.default_rng(seed)
    genes = _landmark_ids() + [f"t{i}" for i in range(n_targets)]
    with h5py.File(path, "w") as file:
        file.attrs["version"] = np.bytes_("GCTX1.0")
        matrix = file.create_dataset(
            "0/DATA/0/matrix",
            shape=(n_samples, len(genes)),
            dtype=np.float32,
            chunks=(max(1, min(n_samples, 2**18 // len(genes))), len(genes)),
        )
        for start in range(0, n_samples, _BLOCK):
            n = min(_BLOCK, n_samples - start)
            matrix[start : start + n] = _block(rng, n, n_targets, n_targets > 0)
        gzip = {"compression": "gzip", "compression_opts": 6}
        file.create_dataset("0/META/ROW/id", data=np.array(genes, "S"), **gzip)
        lmark = np.array([1] * N_LANDMARKS + [0] * n_targets, np.int8)
        file.create_dataset("0/META/ROW/pr_is_lmark", data=lmark, **gzip)
        cids = np.char.add(b"sample_", np.arange(n_samples).astype("S"))
        file.create_dataset("0/META/COL/id", data=cids, **gzip)
        cells = np.array([b"A375", b"MCF7", b"PC3"])[np.arange(n_samples) % 3]
        file.create_dataset("0/META/COL/cell_id", data=cells, **gzip)
        doses = np.round(rng.uniform(0, 10, n_samples), 2)
        file.create_dataset("0/META/COL/pert_dose", data=doses, **gzip)
    return path


def fit_model(path: Path, n_targets: int) -> Path:
    """A model of 978 -> 300 -> 300 -> ``n_targets``, one epoch on 2,000
    samples, saved at ``path``."""
    import pandas as pd

    from sktaaf import TAAFRegressor

    rng = np.random.default_rng(0)
    data = _block(rng, 2000, n_targets, True)
    X = pd.DataFrame(data[:, :N_LANDMARKS], columns=_landmark_ids())
    y = pd.DataFrame(data[:, N_LANDMARKS:], columns=[f"t{i}" for i in range(n_targets)])
    model = TAAFRegressor(
        hidden_layer_sizes=HIDDEN, max_epochs=1, early_stopping=False, device="cpu"
    )
    model.fit(X, y).save(path)
    return path


# -------------------------------------------------------------------- workers
def _timed(n_samples: int, run) -> dict:
    before = status_mib("VmRSS")
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "samples_per_second": n_samples / seconds,
        "rss_before_mib": before,
        "peak_rss_mib": status_mib("VmHWM"),
    }


def _n_samples(path) -> int:
    import h5py

    with h5py.File(path, "r") as file:
        return file["0/DATA/0/matrix"].shape[0]


def worker(kind: str, *paths: str) -> dict:
    """One measurement, in this (fresh) process."""
    start = time.perf_counter()
    if kind == "cli":  # the whole command, as `python -m sktaaf` runs it
        import runpy

        model, source, out = paths
        sys.argv = ["sktaaf", "predict", model, source, "-o", out, "-q"]
        try:
            runpy.run_module("sktaaf", run_name="__main__", alter_sys=True)
        except SystemExit as exit_:
            if exit_.code:
                raise
        seconds = time.perf_counter() - start
        return {
            "seconds": seconds,
            "samples_per_second": _n_samples(source) / seconds,
            "peak_rss_mib": status_mib("VmHWM"),
        }
    import pandas as pd

    from sktaaf import TAAFRegressor
    from sktaaf.datasets import load_gctx, open_gctx, predict_gctx

    if kind in ("stream", "memory"):
        model = TAAFRegressor.load(paths[0], device="cpu")
        landmarks = list(model.feature_names_in_)
        if kind == "stream":
            return _timed(_n_samples(paths[1]), lambda: predict_gctx(model, *paths[1:]))
        X = pd.DataFrame(
            load_gctx(paths[1], landmarks, target_ids=[]).X, columns=landmarks
        )
        return _timed(len(X), lambda: model.predict(X))
    # fit-disk, fit-memory
    source, epochs = paths[0], int(paths[1])
    landmarks = _landmark_ids()
    data = (open_gctx if kind == "fit-disk" else load_gctx)(source, landmarks)
    model = TAAFRegressor(
        hidden_layer_sizes=HIDDEN,
        max_epochs=epochs,
        early_stopping=False,
        device="cpu",
        random_state=0,
    )
    result = _timed(len(data.X), lambda: model.fit(data.X, data.y))
    result["seconds_per_epoch"] = float(np.mean(model.history_[:, "dur"]))
    result["final_train_loss"] = float(model.history_[-1, "train_loss"])
    return result


# ----------------------------------------------------------------------- main
PREDICT_COLUMNS = [
    ("samples", "n_samples", ",d"),
    ("targets", "n_targets", ",d"),
    ("how", "how", "s"),
    ("seconds", "seconds", ".1f"),
    ("samples/s", "samples_per_second", ",.0f"),
    ("peak RSS MiB", "peak_rss_mib", ",.0f"),
]
FIT_COLUMNS = [
    ("samples", "n_samples", ",d"),
    ("how", "how", "s"),
    ("s/epoch", "seconds_per_epoch", ".1f"),
    ("RSS before fit MiB", "rss_before_mib", ",.0f"),
    ("peak RSS MiB", "peak_rss_mib", ",.0f"),
]
PREDICT_WAYS = {
    "cli": "sktaaf predict (whole command)",
    "stream": "predict_gctx",
    "memory": "model.predict in memory",
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=positive_int, nargs="+", default=[100_000, 400_000]
    )
    parser.add_argument("--ways", nargs="+", default=list(PREDICT_WAYS))
    parser.add_argument(
        "--fit-sizes", type=positive_int, nargs="*", default=[20_000, 80_000]
    )
    parser.add_argument("--fit-epochs", type=positive_int, default=1)
    parser.add_argument(
        "--lincs-samples", type=int, default=50_000, help="0: no 11,000-target run"
    )
    parser.add_argument("--dir", type=Path, default=None, help="for the files")
    add_output_arguments(parser, "results.json and results.md")
    return parser.parse_args(argv)


def _predict_points(args, folder: Path, log) -> list[dict]:
    model = fit_model(folder / "model.pt", N_TARGETS)
    points = []
    for n_samples in args.sizes:
        source = write_profiles(folder / f"in_{n_samples}.gctx", n_samples)
        for way in args.ways:
            out = folder / f"out_{n_samples}.gctx"
            paths = [model, source] + ([out] if way != "memory" else [])
            point = run_fresh(worker, way, *map(str, paths))
            point.update(
                n_samples=n_samples, n_targets=N_TARGETS, how=PREDICT_WAYS[way]
            )
            points.append(point)
            log(f"{n_samples:,} samples, {way}: {point['samples_per_second']:,.0f}/s")
            out.unlink(missing_ok=True)
        source.unlink()
    if args.lincs_samples:
        model = fit_model(folder / "lincs.pt", LINCS_TARGETS)
        source = write_profiles(folder / "lincs.gctx", args.lincs_samples)
        out = folder / "lincs_out.gctx"
        point = run_fresh(worker, "stream", str(model), str(source), str(out))
        point.update(n_samples=args.lincs_samples, n_targets=LINCS_TARGETS)
        point.update(how=PREDICT_WAYS["stream"], out_bytes=out.stat().st_size)
        points.append(point)
        log(f"11,000 targets: {point['samples_per_second']:,.0f}/s")
    return points


def _fit_points(args, folder: Path, log) -> list[dict]:
    points = []
    for n_samples in args.fit_sizes:
        source = write_profiles(folder / f"fit_{n_samples}.gctx", n_samples, N_TARGETS)
        for kind, how in (("fit-disk", "out of core"), ("fit-memory", "in memory")):
            point = run_fresh(worker, kind, str(source), str(args.fit_epochs))
            point.update(n_samples=n_samples, how=how)
            points.append(point)
            log(f"fit {n_samples:,}, {how}: {point['seconds_per_epoch']:.1f} s/epoch")
        source.unlink()
    return points


def main(argv=None, log=print) -> dict:
    args = parse_args(argv)
    env = environment()
    folder = Path(tempfile.mkdtemp(prefix="sktaaf-scale-", dir=args.dir))
    try:
        predict = _predict_points(args, folder, log)
        fit = _fit_points(args, folder, log)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    env["load_average_end"] = os.getloadavg()
    text = (
        results_table(predict, PREDICT_COLUMNS)
        + "\n\n"
        + (results_table(fit, FIT_COLUMNS) if fit else "")
    )
    log(f"\n{text}")
    config = {key: value for key, value in vars(args).items() if key != "out"}
    config["dir"] = None if args.dir is None else str(args.dir)
    output = {"config": config, "environment": env, "predict": predict, "fit": fit}
    if args.out is not None:
        write_results(args.out, "results", output, text)
    return output


if __name__ == "__main__":
    main()
