"""Throughput of the D-GEX-size network on a GPU, against the GPU's matmul peak.

Run on a GPU machine as::

    python -m benchmarks.gpu_throughput --out results/gpu

By estimate it takes about 2 minutes on an H100, and about 6 with
``--compile`` (which adds a compiled run of every configuration, each paying
tens of seconds of compilation): a training step of batch 256 is about
``3 x 2 x 256 x 2.1e8 = 3.3e11`` FLOPs, 128 steps an epoch, so an epoch's
products take about 0.1 s in bf16 and about 1 s in float32, and setting up
each fit (initialising and moving 1.2 GB of weights) takes seconds more.
``--help`` lists every option; ``--device cpu --tiny`` is a smoke test that
runs in seconds on a CPU.

What is measured
----------------
``DGEXRegressor(hidden_layer_sizes=(9000, 9000, 9000), activation="tanh",
dropout=0.1)``, the largest network of D-GEX, from 943 landmarks to 4,760
targets (D-GEX's half of the 9,520 targets, as the paper trained it), and a
``TAAFRegressor`` of the same size, activation and dropout (``--model``):
about 2.1e8 weights. Data: random float32 ``X`` and ``y`` in host memory
(``--n-samples``, 32,768), batches of ``--batch-size`` (256; D-GEX used 200).
For every precision (``--precisions``: float32, and ``mixed_precision="bf16"``
and ``"fp16"``) and, with ``--compile``, uncompiled and compiled:

training
    ``fit`` with ``early_stopping=False`` for ``--epochs`` (3) epochs; the first
    is warm-up (cuBLAS and allocator start-up, compilation) and discarded.
    Training samples/s = ``n_samples`` over the median of the other epochs'
    times from ``history_[:, "dur"]``. These times are what the estimator
    achieves: the NAdam step on all weights and the per-batch ``loss.item()``
    (which waits for the GPU) are included. The NAdam step alone reads and
    writes about 8 GB of float32 weights, gradients and moments a batch
    (about 3 ms at an H100's 3.35 TB/s), more than the products of a bf16
    step take: in mixed precision at this batch size the optimizer, not the
    matmuls, bounds the share of the peak.
prediction
    ``predict(X)`` once untimed, then the median of ``--predict-repeats`` (5)
    timed calls: samples/s. ``predict`` forwards batches of
    ``max(batch_size, 16384)`` rows on CUDA (4,096 on the CPU), through pinned
    memory, and returns a float32 numpy array: the host transfers are included.
memory
    ``torch.cuda.max_memory_allocated()`` during ``fit`` and during the
    ``predict`` calls (the fitted model's weights and optimizer state, still
    allocated, included), the statistics reset before each.

Achieved FLOP/s
---------------
Only the matrix products are counted, analytically: a forward pass of ``n``
samples costs ``2 n sum(n_in * n_out)`` FLOPs over the linear layers (943 x
9000, 9000 x 9000 twice, 9000 x 4760); a training step counts 3 forward passes
(the forward, and in the backward the gradients of the inputs and of the
weights). This overstates the training work by the input gradient of the first
layer, which nobody needs (about 1% here), and ignores the biases,
activations, dropout, loss and optimizer, whose time counts all the same.
Prediction counts one forward pass per sample.

Peak
----
"Measured peak": the best FLOP/s of a large square ``torch.matmul`` (8192 x
8192 on CUDA, 1024 on the CPU; ``--peak-size``) on the same device, in every
dtype, timed with CUDA events over ``--peak-repeats`` repeats of 10 products:
float32 (``fp32``, TF32 off), float32 with TF32 allowed (``tf32``, CUDA only),
bfloat16 and float16. float32 training compares to the ``fp32`` peak: by
default PyTorch computes float32 products without TF32; ``--tf32`` sets
``torch.set_float32_matmul_precision("high")`` for the whole run, and then
float32 compares to the ``tf32`` peak. Mixed precision compares to the peak of
its dtype. Also measured and reported beside it (not used for the shares): the
product of one batch by a hidden layer (``batch_size x 9000 @ 9000 x 9000``),
what the network's own shapes allow. "Spec peak": the vendor's dense
(no sparsity) figure for the GPU, from :data:`SPEC_PEAKS`, when the device
name is one of the GPUs there (H100, H200, A100); the share of that is shown
too. Clocks below the boost clock keep the measured peak below the spec.

Output
------
The tables are printed; with ``--out DIR``, ``results.json`` and
``results.md`` are written there. A precision the device does not support, or
a configuration that runs out of memory, is skipped with a note in the table.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from sktaaf import DGEXRegressor, TAAFRegressor
from sktaaf.measure import environment as _environment
from sktaaf.measure import markdown_table

from ._common import add_output_arguments, write_results
from ._matmul_peaks import (
    PEAK_SIZES,
    SEED,
    measure_peaks,
    number_text,
    peak_kind,
    peaks_table,
    percent_text,
    shares,
    spec_peaks,
)

#: The smallest batch ``predict`` forwards on CUDA and on other devices (its
#: batches are ``max(batch_size, this)`` rows; see ``TAAFRegressor.predict``).
CUDA_PREDICT_BATCH_SIZE, PREDICT_BATCH_SIZE = 16384, 4096
MODELS = {"dgex": DGEXRegressor, "taaf": TAAFRegressor}
MODEL_NAMES = {"dgex": "DGEXRegressor", "taaf": "TAAFRegressor"}
#: ``--precisions`` choices: the estimators' ``mixed_precision``.
PRECISIONS = {"fp32": None, "bf16": "bf16", "fp16": "fp16"}
#: Sizes of a full run, and of ``--tiny`` (a smoke test of seconds on a CPU).
FULL = dict(
    n_features=943,
    n_targets=4760,
    hidden_layer_sizes=(9000, 9000, 9000),
    n_samples=32768,
    batch_size=256,
    epochs=3,
    predict_repeats=5,
    peak_repeats=10,
)
TINY = dict(
    n_features=943,
    n_targets=100,
    hidden_layer_sizes=(64, 64, 64),
    n_samples=512,
    batch_size=64,
    epochs=2,
    predict_repeats=3,
    peak_repeats=3,
    peak_size=256,
)
GIB = 2**30


def linear_layers(config: dict) -> list[tuple[int, int]]:
    """(n_in, n_out) of every linear layer of the network."""
    sizes = [config["n_features"], *config["hidden_layer_sizes"], config["n_targets"]]
    return list(zip(sizes[:-1], sizes[1:], strict=True))


def forward_flops(n_samples: int, layers: list[tuple[int, int]]) -> int:
    """Matmul FLOPs of a forward pass of ``n_samples`` (a multiply-add is 2)."""
    return 2 * n_samples * sum(n_in * n_out for n_in, n_out in layers)


def make_estimator(model: str, precision: str, compile_: bool, config: dict):
    return MODELS[model](
        hidden_layer_sizes=config["hidden_layer_sizes"],
        activation="tanh",
        dropout=0.1,
        batch_size=config["batch_size"],
        max_epochs=config["epochs"],
        early_stopping=False,
        device=config["device"],
        mixed_precision=PRECISIONS[precision],
        compile=compile_,
        random_state=SEED,
    )


def _reset_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def _peak_memory(device: str) -> int | None:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(device)
    return None


def run_configuration(
    model, precision, compile_, X, y, config, peaks, spec, log=print
) -> dict:
    """Train and predict once in one configuration; a row of the table."""
    device = config["device"]
    row = {
        "model": MODEL_NAMES[model],
        "precision": precision,
        "mixed_precision": PRECISIONS[precision],
        "compile": compile_,
        "note": "",
    }
    if compile_:
        torch._dynamo.reset()  # no recompilation limits carried over
    layers = linear_layers(config)
    n_samples = len(X)
    estimator = None
    try:
        _reset_memory(device)
        start = time.perf_counter()
        try:
            estimator = make_estimator(model, precision, compile_, config).fit(X, y)
        except ValueError as exc:  # this mixed_precision, unsupported here
            if "mixed_precision" not in str(exc):
                raise
            return {**row, "note": f"skipped: {exc}"}
        fit_seconds = time.perf_counter() - start
        epoch_times = [float(t) for t in estimator.history_[:, "dur"]]
        seconds = statistics.median(epoch_times[1:] or epoch_times)
        tflops = 3 * forward_flops(n_samples, layers) / seconds / 1e12
        row["train"] = {
            "epoch_times": epoch_times,
            "sec_per_epoch": seconds,
            "fit_seconds": fit_seconds,
            "samples_per_sec": n_samples / seconds,
            "flops_per_epoch": 3 * forward_flops(n_samples, layers),
            "tflops": tflops,
            **shares(tflops, peak_kind(precision, config["tf32"], device), peaks, spec),
            "peak_memory_bytes": _peak_memory(device),
        }
        log(
            f"{row['model']} {precision} compile={compile_}: fit {fit_seconds:.1f} s, "
            f"{seconds:.3f} s/epoch, {n_samples / seconds:.0f} samples/s, "
            f"{tflops:.4g} TFLOP/s"
        )
        _reset_memory(device)
        estimator.predict(X)  # warm-up (and, compiled, compilation)
        times = []
        for _ in range(config["predict_repeats"]):
            start = time.perf_counter()
            estimator.predict(X)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)
        tflops = forward_flops(n_samples, layers) / seconds / 1e12
        row["predict"] = {
            "seconds": times,
            "sec_per_predict": seconds,
            "samples_per_sec": n_samples / seconds,
            "tflops": tflops,
            **shares(tflops, peak_kind(precision, config["tf32"], device), peaks, spec),
            "peak_memory_bytes": _peak_memory(device),
        }
        log(f"  predict {seconds:.3f} s, {n_samples / seconds:.0f} samples/s")
    except torch.cuda.OutOfMemoryError as exc:
        row["note"] = f"out of memory: {str(exc).splitlines()[0]}"
        log(f"{row['model']} {precision} compile={compile_}: {row['note']}")
    finally:
        del estimator
        _reset_memory(device)
    return row


def results_table(rows: list[dict], tf32: bool) -> str:
    titles = [
        "model",
        "precision",
        "compile",
        "train samples/s",
        "train TFLOP/s",
        "share of measured peak",
        "share of spec peak",
        "predict samples/s",
        "predict TFLOP/s",
        "fit peak memory GiB",
        "predict peak memory GiB",
        "note",
    ]
    lines = []
    for row in rows:
        train, predict = row.get("train", {}), row.get("predict", {})
        precision = row["precision"]
        if precision == "fp32" and tf32:
            precision += " (TF32)"
        lines.append(
            [
                row["model"],
                precision,
                "yes" if row["compile"] else "no",
                number_text(train.get("samples_per_sec"), ".0f"),
                number_text(train.get("tflops"), ".4g"),
                percent_text(train.get("share_of_peak")),
                percent_text(train.get("share_of_spec_peak")),
                number_text(predict.get("samples_per_sec"), ".0f"),
                number_text(predict.get("tflops"), ".4g"),
                number_text(train.get("peak_memory_bytes"), ".2f", 1 / GIB),
                number_text(predict.get("peak_memory_bytes"), ".2f", 1 / GIB),
                row["note"],
            ]
        )
    return markdown_table(titles, lines, "lll" + "r" * 8 + "l")


def environment(device: str) -> dict:
    env = _environment()
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(device)
        env["device_name"] = torch.cuda.get_device_name(device)
        env["device_capability"] = list(torch.cuda.get_device_capability(device))
        env["device_memory_gib"] = props.total_memory / GIB
        env["multiprocessors"] = props.multi_processor_count
        env["cudnn"] = torch.backends.cudnn.version()
    else:
        env["device_name"] = f"CPU ({env['processor'] or env['platform']})"
    return env


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gpu_throughput",
        description=(
            "Training and prediction throughput of the D-GEX-size network (3 x "
            "9000 units, 943 -> 4760) in float32, bf16 and fp16, as FLOP/s and "
            "as a share of the device's measured matmul peak and spec peak."
        ),
    )
    parser.add_argument("--model", choices=["dgex", "taaf", "both"], default="both")
    parser.add_argument(
        "--precisions",
        nargs="+",
        choices=list(PRECISIONS),
        default=list(PRECISIONS),
        help="fp32 (mixed_precision=None), bf16, fp16 (all)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also run every configuration with compile=True",
    )
    parser.add_argument(
        "--tf32",
        action="store_true",
        help='torch.set_float32_matmul_precision("high"): float32 products in TF32',
    )
    parser.add_argument("--device", default="cuda", help="torch device (cuda)")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="a smoke test: widths 64, 100 targets, 512 samples, batch 64, 2 epochs",
    )
    for name, help_ in [
        ("n-samples", "training and prediction samples"),
        ("batch-size", "training batch size; D-GEX used 200"),
        ("epochs", "epochs per fit, the first one warm-up"),
        ("predict-repeats", "timed predict calls"),
        ("peak-size", "side of the square peak-measuring matmul"),
        ("peak-repeats", "timed repeats of every peak matmul"),
    ]:
        default = FULL.get(name.replace("-", "_"))
        shown = default or f"{PEAK_SIZES['cuda']} on CUDA, {PEAK_SIZES['cpu']} on CPU"
        parser.add_argument(
            f"--{name}", type=int, metavar="N", help=f"{help_} ({shown})"
        )
    add_output_arguments(parser, "results.json and results.md")
    args = parser.parse_args(argv)
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        parser.error(
            f"--device {args.device}: CUDA is not available; use --device cpu "
            "(with --tiny for a smoke test)"
        )
    if args.tf32 and not cuda:
        parser.error("--tf32 needs a CUDA device")
    sizes = TINY if args.tiny else FULL
    for name in ("n_samples", "batch_size", "epochs", "predict_repeats"):
        if getattr(args, name) is None:
            setattr(args, name, sizes[name])
    if args.peak_repeats is None:
        args.peak_repeats = sizes["peak_repeats"]
    if args.peak_size is None:
        args.peak_size = sizes.get("peak_size") or PEAK_SIZES["cuda" if cuda else "cpu"]
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch is warm-up)")
    numbers = [args.n_samples, args.batch_size, args.predict_repeats]
    if min(numbers + [args.peak_size, args.peak_repeats]) < 1:
        parser.error("sizes and repeats must be positive")
    return args


def make_config(args: argparse.Namespace) -> dict:
    sizes = TINY if args.tiny else FULL
    return {
        "models": ["dgex", "taaf"] if args.model == "both" else [args.model],
        "precisions": args.precisions,
        "compile": [False, True] if args.compile else [False],
        "tf32": args.tf32,
        "device": args.device,
        "tiny": args.tiny,
        "n_features": sizes["n_features"],
        "n_targets": sizes["n_targets"],
        "hidden_layer_sizes": sizes["hidden_layer_sizes"],
        "n_samples": args.n_samples,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "predict_repeats": args.predict_repeats,
        "predict_batch_size": max(
            args.batch_size,
            CUDA_PREDICT_BATCH_SIZE
            if args.device.startswith("cuda")
            else PREDICT_BATCH_SIZE,
        ),
        "peak_size": args.peak_size,
        "peak_repeats": args.peak_repeats,
    }


def main(argv=None, log=print) -> dict:
    args = parse_args(argv)
    previous = torch.get_float32_matmul_precision()
    if args.tf32:
        torch.set_float32_matmul_precision("high")
    try:
        return run(make_config(args), args.out, log)
    finally:
        torch.set_float32_matmul_precision(previous)


def run(config: dict, out: Path | None = None, log=print) -> dict:
    """Measure the peaks, then every configuration; write to ``out``."""
    start = time.perf_counter()
    env = environment(config["device"])
    cuda = config["device"].startswith("cuda")
    spec = spec_peaks(env["device_name"]) if cuda else None
    layers = linear_layers(config)
    n_weights = sum(n_in * n_out for n_in, n_out in layers)
    log(f"device: {config['device']}, {env['device_name']}")
    if spec:
        log(f"spec peaks of the {spec['part']} (dense TFLOP/s): {spec['tflops']}")
    log(
        f"network: {' -> '.join(map(str, [layers[0][0], *(o for _, o in layers)]))}, "
        f"{n_weights:.3g} matmul weights, {forward_flops(1, layers):.3g} FLOP "
        "per sample forward"
    )
    peaks = measure_peaks(config, log)
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((config["n_samples"], config["n_features"]), np.float32)
    y = rng.standard_normal((config["n_samples"], config["n_targets"]), np.float32)
    rows = [
        run_configuration(model, precision, compile_, X, y, config, peaks, spec, log)
        for model in config["models"]
        for compile_ in config["compile"]
        for precision in config["precisions"]
    ]
    text = (
        f"Device: {env['device_name']} ({config['device']}); spec peaks: "
        f"{spec['part'] + ', dense' if spec else 'none known'}.\n\n"
        f"Matmul peaks:\n\n{peaks_table(peaks, spec)}\n\n"
        f"Network {' -> '.join(map(str, [layers[0][0], *(o for _, o in layers)]))} "
        f"({n_weights:.3g} matmul weights), {config['n_samples']} samples, "
        f"training batch {config['batch_size']} (D-GEX used 200), prediction "
        f"batch {config['predict_batch_size']}; training FLOPs = 3 x forward "
        "matmul FLOPs:\n\n"
        f"{results_table(rows, config['tf32'])}"
    )
    log(f"\n{text}")
    results = {
        "config": config,
        "environment": env,
        "spec_peaks": spec,
        "n_matmul_weights": n_weights,
        "peaks": peaks,
        "results": rows,
        "wall_seconds": time.perf_counter() - start,
    }
    if out is not None:
        written = write_results(out, "results", results, text)
        log(f"\nwrote {', '.join(written)} to {out}")
    return results


if __name__ == "__main__":
    main()
